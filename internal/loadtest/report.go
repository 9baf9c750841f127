package loadtest

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// Report is the outcome of a run.
type Report struct {
	// Requests counts every request sent, answered or not.
	Requests int64
	// Errors counts requests that got no response: refused or reset connections, timeouts.
	Errors int64
	// Non2xx counts responses with a status outside 200-299.
	Non2xx int64
	// Statuses counts responses by status code.
	Statuses map[int]int64
	// FirstError is the first transport error seen, for diagnosis; empty when there was none.
	FirstError string
	// Elapsed is the wall time of the run, up to the last response.
	Elapsed time.Duration
	// RPS is responses (of any status) per second of Elapsed.
	RPS float64
	// P50, P90, P99 and Max are latencies of the responses (errors excluded), within 1 % of the
	// exact values.
	P50, P90, P99, Max time.Duration
}

// newReport merges the workers' results.
func newReport(results []workerResult, elapsed time.Duration) *Report {
	r := &Report{Statuses: map[int]int64{}, Elapsed: elapsed}
	var all histogram
	for _, w := range results {
		r.Requests += w.requests
		r.Errors += w.errors
		r.Non2xx += w.non2xx
		for status, n := range w.statuses {
			r.Statuses[status] += n
		}
		if w.firstError != nil && r.FirstError == "" {
			r.FirstError = w.firstError.Error()
		}
		all.merge(&w.latency)
	}
	if elapsed > 0 {
		r.RPS = float64(r.Requests-r.Errors) / elapsed.Seconds()
	}
	r.P50, r.P90, r.P99, r.Max = all.quantile(0.50), all.quantile(0.90), all.quantile(0.99), all.max
	return r
}

// Write prints the report for people, one figure per line.
func (r *Report) Write(w io.Writer) error {
	statuses := make([]int, 0, len(r.Statuses))
	for s := range r.Statuses {
		statuses = append(statuses, s)
	}
	slices.Sort(statuses)
	var counts string
	for _, s := range statuses {
		counts += fmt.Sprintf(" %d:%d", s, r.Statuses[s])
	}
	_, err := fmt.Fprintf(w, "requests   %d in %s (errors %d, non-2xx %d)\n"+
		"statuses  %s\n"+
		"req/s      %.0f\n"+
		"latency    p50 %s  p90 %s  p99 %s  max %s\n",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.Errors, r.Non2xx, counts, r.RPS,
		roundLatency(r.P50), roundLatency(r.P90), roundLatency(r.P99), roundLatency(r.Max))
	if err == nil && r.FirstError != "" {
		_, err = fmt.Fprintf(w, "first error %s\n", r.FirstError)
	}
	return err
}

// roundLatency keeps three significant digits or so, which is all the histogram has.
func roundLatency(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond / 10)
	}
}
