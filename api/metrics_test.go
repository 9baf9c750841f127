package api

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	dto "github.com/prometheus/client_model/go"
)

// Requests counted at once, on two routes and several statuses each, are all counted, each
// under its own labels (run with -race: the series are added while others are read). One route
// is in the table the metrics were preloaded with, the other is not.
func TestMetricsCountConcurrentRequests(t *testing.T) {
	m := newMetrics(nil)
	routes := []*fiber.Route{{Method: "GET", Path: "/v1/a/:id"}, {Method: "POST", Path: "/v1/b"}}
	m.preload([][]*fiber.Route{routes[:1]})
	statuses := []int{200, 404, 500, 503}
	const workers, each = 8, 400
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := routes[(w+i)%len(routes)]
				m.observe(r, r.Method, r.Path, statuses[i%len(statuses)], time.Millisecond)
				m.observe(nil, "PUT", "unmatched", 404, time.Millisecond)
			}
		}()
	}
	wg.Wait()
	var total float64
	for _, r := range routes {
		for _, st := range statuses {
			n := count(t, m, r.Method, r.Path, strconv.Itoa(st))
			if n == 0 {
				t.Errorf("%s %s %d: not counted", r.Method, r.Path, st)
			}
			total += n
		}
	}
	if total != workers*each {
		t.Errorf("%v requests counted on the routes, want %d", total, workers*each)
	}
	if n := count(t, m, "PUT", "unmatched", "404"); n != workers*each {
		t.Errorf("%v unmatched requests counted, want %d", n, workers*each)
	}
}

// count is the request counter's value for the labels.
func count(t *testing.T, m *metrics, labels ...string) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.requests.WithLabelValues(labels...).Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetCounter().GetValue()
}
