package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/mportal/mportal/internal/chaos"
)

// check runs every guarantee over the run's records.
func (r *rigResult) check() *chaos.Report {
	var rep chaos.Report
	logs := make([]chaos.DeviceLog, len(r.devices))
	for i, d := range r.devices {
		user := d.user
		logs[i] = chaos.DeviceLog{Device: d.id, Pulls: d.pulls,
			MaySee: func(_, id string) bool { return userOf(id) == user }}
	}
	syncWrites := chaos.CheckSync(r.writes.all, logs)
	if r.ferretDB {
		// The sync engine orders writes with one sequence document, updated by compare-and-swap
		// (allocate, release, reap: sync/seq.go). FerretDB loses concurrent updates across
		// processes (16 x 50 $inc -> 64), so with three instances on it a pending number can
		// vanish from the document and the low-water mark pass a write not yet committed, which
		// a device then never pulls. On MongoDB those updates are atomic; on one instance the
		// engine's mutex orders them.
		syncWrites.NeedsMongoDB = true
		syncWrites.Detail += "; several instances on FerretDB: the sequence document's compare-and-swap needs MongoDB"
	}
	rep.Add(syncWrites)
	rep.Add(chaos.CheckPushAtMostOnce(r.deliveries))
	rep.Add(chaos.CheckPushAtLeastOnce(r.expected, r.deliveries))
	if r.dbOutage != nil {
		rep.Add(chaos.CheckOutage(*r.dbOutage, r.answers, 30*time.Second, requestTimeout))
		down := r.readyzDown["database"]
		rep.Add(chaos.Guarantee{Name: "database stopped: every instance's /readyz fails",
			Pass: !strings.Contains(down, "200"), Detail: "mid-outage /readyz:" + down})
	}
	rep.Add(chaos.CheckOutage(r.minio, r.answers, 30*time.Second, requestTimeout))
	rep.Add(chaos.CheckNoFailure(r.rolling, r.answers))
	return &rep
}

// printFigures prints the run's request counts by class and the faults injected.
func (r *rigResult) printFigures(w io.Writer) {
	classes := map[string]int{}
	var took []time.Duration
	for _, a := range r.answers {
		switch {
		case a.Status == 0:
			classes["no answer"]++
		case a.Status == 503:
			classes["503"]++
		default:
			classes[fmt.Sprintf("%dxx", a.Status/100)]++
		}
		took = append(took, a.Took)
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	p99 := time.Duration(0)
	if len(took) > 0 {
		p99 = took[len(took)*99/100]
	}
	keys := make([]string, 0, len(classes))
	for k := range classes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, classes[k])
	}
	fmt.Fprintf(w, "requests: %d (%s); p99 %s\n", len(r.answers), strings.Join(parts, ", "), p99.Round(time.Millisecond))
	fmt.Fprintf(w, "faults: %d kill -9, database outage %v, MinIO outage, rolling restart; /readyz mid-outage: db%s, minio%s\n",
		r.kills, r.dbOutage != nil, r.readyzDown["database"], r.readyzDown["minio"])
	fmt.Fprintf(w, "sync: %d writes acknowledged by %d devices; push: %d expected, %d delivered\n",
		len(r.writes.all), len(r.devices), len(r.expected), len(r.deliveries))
}
