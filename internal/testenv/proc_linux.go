package testenv

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill the component when the test binary dies, even by SIGKILL
// or a test timeout, so a crashed run never leaves servers behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
