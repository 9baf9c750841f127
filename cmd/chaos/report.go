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
			MaySee: func(table, id string) bool { return userOf(table, id) == user }}
	}
	// Holds on the rig's FerretDB too: the sync sequence rests on unique-index inserts (sync/seq.go).
	rep.Add(chaos.CheckSync(r.writes.all, logs))
	rep.Add(chaos.CheckPushAtMostOnce(r.allDeliveries))
	rep.Add(chaos.CheckPushAtLeastOnce(r.expected, r.deliveries))
	rep.Add(chaos.CheckOncePerKey(r.creates, r.stored))
	rep.Add(chaos.CheckScheduledOnce(r.creates, r.stored))
	rep.Add(chaos.CheckUploads(r.uploads.completed, r.readBack))
	rep.Add(chaos.CheckOneDecision(r.oaTasks, r.decisions))
	rep.Add(chaos.CheckCallbacks(r.decisions, r.callbacks))
	rep.Add(chaos.CheckRemindersOnce(r.remindTasks, r.remindPolicy, r.reminders))
	if len(r.fanoutTokens) > 0 {
		ids := make([]string, len(r.fanouts))
		for i, f := range r.fanouts {
			ids[i] = f.id
		}
		rep.Add(chaos.CheckFanOut(ids, r.fanoutTokens, r.deliveries))
	}
	if r.dbOutage != nil {
		// The database's settle ends where MinIO's outage starts, so that a failure is blamed on
		// the outage it happened in.
		settle := min(30*time.Second, r.minio.Start.Sub(r.dbOutage.End))
		rep.Add(chaos.CheckOutage(*r.dbOutage, r.answers, settle, requestTimeout))
		rep.Add(chaos.CheckReadyzDown("database stopped", r.readyzDown["database"]))
	}
	rep.Add(chaos.CheckOutage(r.minio, r.answers, 30*time.Second, requestTimeout))
	rep.Add(chaos.CheckReadyzDown("MinIO stopped", r.readyzDown["minio"]))
	rep.Add(chaos.CheckNoFailure(r.rolling, r.answers))
	rep.Add(chaos.CheckEveryAnswer(r.answers, r.killedAt, requestTimeout))
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
	fmt.Fprintf(w, "faults: %d kill -9, database outage %v, MinIO outage, rolling restart; /readyz mid-outage: db %v, minio %v\n",
		len(r.killedAt), r.dbOutage != nil, r.readyzDown["database"], r.readyzDown["minio"])
	fmt.Fprintf(w, "sync: %d writes acknowledged by %d devices; push: %d expected, %d delivered; the check looked until %s after the load stopped (at most %s)\n",
		len(r.writes.all), len(r.devices), len(r.expected), len(r.deliveries), r.deliveriesSettled.Round(time.Second), deliveryWait)
	requests, scheduled := 0, 0
	for _, c := range r.creates {
		requests += len(c.IDs) + len(c.Rejected)
		if c.Scheduled {
			scheduled++
		}
	}
	fmt.Fprintf(w, "announcements: %d keys (%d scheduled 3 s ahead), %d keyed requests answered, %d stored\n",
		len(r.creates), scheduled, requests, len(r.stored))
	var uploaded int64
	for _, u := range r.uploads.completed {
		uploaded += u.Size
	}
	fmt.Fprintf(w, "tus: %d uploads completed (%.1f MiB in %d KiB PATCHes), %d resumed after a failed PATCH, %d abandoned (refused)\n",
		len(r.uploads.completed), float64(uploaded)/(1<<20), uploadChunk>>10, r.uploads.resumed, r.uploads.abandoned)
	if len(r.fanoutTokens) > 0 {
		took := make([]string, len(r.fanouts))
		for i, f := range r.fanouts {
			took[i] = "unfinished"
			if f.took > 0 {
				took[i] = f.took.Round(100 * time.Millisecond).String()
			}
		}
		fmt.Fprintf(w, "fan-out: %d seeded devices (seeding %s); %d fan-outs, 2xx to last message: %s\n",
			len(r.fanoutTokens), r.seeding.Round(100*time.Millisecond), len(r.fanouts), strings.Join(took, ", "))
	}
}
