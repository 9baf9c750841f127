package api

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// The vectors' children, looked up once: WithLabelValues hashes and checks every label on
	// each call, a cost the update check paid on every request.
	// known holds every route of the table (preload), written before the server starts and
	// only read after: a plain map, which hashes a pointer in a few ns, where sync.Map hashes it
	// as an interface (about 2% of the update check's user CPU as deployed).
	known     map[*fiber.Route]*routeSeries
	routes    sync.Map // *fiber.Route -> *routeSeries: routes missing from known, if any
	unmatched sync.Map // unmatchedKey -> *series
}

// preload gives every route of stack (Fiber's route table, complete) its entry in known. It
// must be called before the server serves.
func (m *metrics) preload(stack [][]*fiber.Route) {
	m.known = make(map[*fiber.Route]*routeSeries)
	for _, routes := range stack {
		for _, r := range routes {
			m.known[r] = &routeSeries{}
		}
	}
}

// routeSeries are one matched route's series by status. Fiber keeps a route for the app's life,
// and a route answers a handful of statuses: a slice, copied on write, read without a lock.
type routeSeries struct {
	mu       sync.Mutex // serializes additions
	byStatus atomic.Pointer[[]statusSeries]
}

type statusSeries struct {
	status int
	*series
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
		reg: reg,
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
// "unmatched". Routes and statuses are bounded, so are series.
func (m *metrics) observe(r *fiber.Route, method, route string, status int, d time.Duration) {
	sr := m.seriesOf(r, method, route, status)
	sr.requests.Inc()
	sr.latency.Observe(d.Seconds())
}

func (m *metrics) seriesOf(r *fiber.Route, method, route string, status int) *series {
	if r == nil {
		k := unmatchedKey{method: method, status: status}
		v, ok := m.unmatched.Load(k)
		if !ok {
			v, _ = m.unmatched.LoadOrStore(k, m.newSeries(method, route, status))
		}
		return v.(*series)
	}
	rs, ok := m.known[r]
	if !ok {
		v, loaded := m.routes.Load(r)
		if !loaded {
			v, _ = m.routes.LoadOrStore(r, &routeSeries{})
		}
		rs = v.(*routeSeries)
	}
	if sr := rs.find(status); sr != nil {
		return sr
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if sr := rs.find(status); sr != nil { // added meanwhile
		return sr
	}
	var list []statusSeries
	if p := rs.byStatus.Load(); p != nil {
		list = *p
	}
	sr := m.newSeries(method, route, status)
	next := append(list[:len(list):len(list)], statusSeries{status: status, series: sr})
	rs.byStatus.Store(&next)
	return sr
}

func (rs *routeSeries) find(status int) *series {
	if p := rs.byStatus.Load(); p != nil {
		for _, s := range *p {
			if s.status == status {
				return s.series
			}
		}
	}
	return nil
}

func (m *metrics) newSeries(method, route string, status int) *series {
	return &series{
		requests: m.requests.WithLabelValues(method, route, strconv.Itoa(status)),
		latency:  m.latency.WithLabelValues(method, route),
	}
}

// MetricsHandler serves the registry the server's HTTP metrics are on (Deps.Registry) in the
// Prometheus text format, with the requests still queued for the metrics counted first (see
// observer). cmd serves it at /metrics on the operators' own listener (MPORTAL_METRICS_ADDR),
// never on the API port: metrics reveal traffic by route and process internals that the public
// has no business reading.
func (s *Server) MetricsHandler() http.Handler {
	gather := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		if s.observer != nil {
			s.observer.Count()
		}
		return s.metrics.reg.Gather()
	})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gather, promhttp.HandlerOpts{}))
	return mux
}
