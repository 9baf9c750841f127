//go:build !linux

package testenv

import "os/exec"

// dieWithParent is Linux-only; elsewhere testenv.Main still stops components on a normal exit.
func dieWithParent(*exec.Cmd) {}
