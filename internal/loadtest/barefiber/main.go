// Command barefiber serves loadtest's bare Fiber JSON handler on the address given as its only
// argument until it is interrupted: the baseline of BenchmarkUpdateCheckDeployed, in a process
// of its own like the server it is compared with, so that the CPU each one spends per request
// can be read from /proc.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mportal/mportal/internal/loadtest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: barefiber 127.0.0.1:PORT")
		os.Exit(2)
	}
	b, err := loadtest.StartBaselineAt(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	if err := b.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
