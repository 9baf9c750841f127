// Command chaos is the fault rig (issue #14): it starts one database, one MinIO, the fake FCM,
// three mportal instances and HAProxy in front of them, all on loopback; runs a mixed load of
// syncing devices, device check-ins and announcements pushed to every device; kills and stops
// parts of the deployment meanwhile; and at the end prints a table of guarantees checked from
// the devices' records and the fake FCM's. It exits 1 when a guarantee fails that README.md does
// not list as needing MongoDB.
//
//	go run ./cmd/chaos                 # the bounded default run (make chaos)
//	go run ./cmd/chaos -scale 3        # three times longer phases
//	go run ./cmd/chaos -mongodb-uri mongodb://127.0.0.1:27017/?replicaSet=rs0   # a real replica set
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type options struct {
	mongoURI  string
	instances int
	users     int
	fanout    int
	scale     float64
	keep      bool
}

func main() {
	var o options
	flag.StringVar(&o.mongoURI, "mongodb-uri", "", "an external database to use instead of the rig's FerretDB (the database outage is then skipped)")
	flag.IntVar(&o.instances, "instances", 3, "mportal instances behind HAProxy")
	flag.IntVar(&o.users, "users", 12, "simulated users, each with two syncing devices")
	flag.IntVar(&o.fanout, "fanout", 10000, "simulated devices seeded for two fan-out announcements during the faults (0: none; see internal/chaos/README.md, fan-out on a shared FerretDB)")
	flag.Float64Var(&o.scale, "scale", 1, "multiplies every phase's length (1 = about 3 minutes of load and faults)")
	flag.BoolVar(&o.keep, "keep", false, "keep the run's directory (logs, data) instead of removing it")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, o options) (int, error) {
	dir, err := os.MkdirTemp("", "mportal-chaos-")
	if err != nil {
		return 2, err
	}
	say("starting the deployment under %s", dir)
	c, err := startCluster(ctx, dir, o.mongoURI, o.instances, o.fanout)
	defer func() {
		c.stop()
		if o.keep || err != nil {
			say("logs and data kept in %s", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	if err != nil {
		return 2, err
	}
	say("%d instances behind HAProxy at %s; database %s; MinIO %s; fake FCM %s", o.instances, c.base, c.mongoURI, c.minioAddr, c.fcm.URL)
	var r *rigResult
	r, err = rig(ctx, c, o)
	if err != nil {
		return 2, err
	}
	report := r.check()
	fmt.Println()
	r.printFigures(os.Stdout)
	fmt.Println()
	report.Print(os.Stdout)
	if failed := report.Failed(); len(failed) > 0 {
		err = fmt.Errorf("%d guarantees failed", len(failed))
		return 1, err
	}
	return 0, nil
}

func say(format string, args ...any) {
	fmt.Printf("==> %s %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}
