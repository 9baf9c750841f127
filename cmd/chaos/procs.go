package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is one child process the rig starts, kills and restarts: the database, MinIO, an mportal
// instance or HAProxy. Each runs in its own process group, logging to a file under the run's
// directory.
type proc struct {
	name string
	args []string
	env  []string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) start() error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		cmd.Wait()
		f.Close()
		close(done)
	}(p.done)
	return nil
}

func (p *proc) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends sig to the process (SIGKILL for kill -9, SIGTERM for a graceful stop) and waits up
// to grace for it to exit, then kills it.
func (p *proc) kill(sig syscall.Signal, grace time.Duration) {
	if !p.running() {
		return
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers 200, p exits or within passes.
func waitHTTP(ctx context.Context, p *proc, url string, within time.Duration) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if p != nil && !p.running() {
			return fmt.Errorf("%s exited; see %s", p.name, p.log)
		}
		if resp, err := c.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready at %s within %s; see %s", p.name, url, within, p.log)
}

// waitTCP polls addr until it accepts connections.
func waitTCP(p *proc, addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if !p.running() {
			return fmt.Errorf("%s exited; see %s", p.name, p.log)
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s does not accept connections on %s; see %s", p.name, addr, p.log)
}

// findInLog returns the first match of the text after prefix in file, waiting up to within.
func findInLog(file, prefix string, within time.Duration) (string, error) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if f, err := os.Open(file); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if i := strings.Index(sc.Text(), prefix); i >= 0 {
					f.Close()
					return strings.Fields(sc.Text()[i+len(prefix):])[0], nil
				}
			}
			f.Close()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return "", fmt.Errorf("no %q in %s", prefix, filepath.Base(file))
}
