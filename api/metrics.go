package api

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	series   sync.Map // seriesKey or unmatchedKey -> *series: the vectors' children, looked up once
}

// seriesKey names one request counter of a matched route: the route (its method and template)
// by its pointer, which Fiber keeps for the app's life and which hashes faster than the strings
// (a struct of strings in a sync.Map cost about 1% of the update check). Routes and statuses are
// bounded, so are keys.
type seriesKey struct {
	route  *fiber.Route
	status int
}

// unmatchedKey names one request counter of the requests that matched no route.
type unmatchedKey struct {
	method string
	status int
}

type series struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// newMetrics registers the HTTP metrics on reg. Labels are route templates, never raw paths, so
// their number is bounded.
func newMetrics(reg *prometheus.Registry) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mportal_http_requests_total",
			Help: "HTTP requests by method, route template and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mportal_http_request_duration_seconds",
			Help:    "HTTP request latency by method and route template.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// observe counts one request: r is the route it matched, route its template, or nil and
// "unmatched". The vectors' children are cached: WithLabelValues hashes and checks every label on
// each call, a cost the update check paid on every request.
func (m *metrics) observe(r *fiber.Route, method, route string, status int, d time.Duration) {
	var k any = seriesKey{route: r, status: status}
	if r == nil {
		k = unmatchedKey{method: method, status: status}
	}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, &series{
			requests: m.requests.WithLabelValues(method, route, strconv.Itoa(status)),
			latency:  m.latency.WithLabelValues(method, route),
		})
	}
	sr := v.(*series)
	sr.requests.Inc()
	sr.latency.Observe(d.Seconds())
}

// MetricsHandler serves reg in the Prometheus text format. cmd serves it at /metrics on the
// operators' own listener (MPORTAL_METRICS_ADDR), never on the API port: metrics reveal traffic
// by route and process internals that the public has no business reading.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}
