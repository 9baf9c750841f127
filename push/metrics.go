package push

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	notifications *prometheus.CounterVec
	queuedDevices *prometheus.CounterVec
	sentMessages  *prometheus.CounterVec
	failures      *prometheus.CounterVec
	removedTokens prometheus.Counter
	latency       prometheus.Histogram
}

// NewMetrics creates the engine's metrics and registers them on reg. Labels are categories and
// provider error codes, both small fixed sets.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mportal_push_notifications_enqueued_total",
			Help: "Notifications enqueued (not counting repeated keys), by category.",
		}, []string{"category"}),
		queuedDevices: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mportal_push_queued_total",
			Help: "Device messages put into send batches by fan-outs, by category.",
		}, []string{"category"}),
		sentMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mportal_push_sent_total",
			Help: "Messages the push provider accepted, by category.",
		}, []string{"category"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mportal_push_failed_total",
			Help: "Failed message sends by reason (provider error code); retried ones included.",
		}, []string{"reason"}),
		removedTokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mportal_push_tokens_removed_total",
			Help: "Push tokens removed from the directory because the provider rejected them.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mportal_push_send_duration_seconds",
			Help:    "Duration of one provider call sending a batch of up to 500 messages.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	reg.MustRegister(m.notifications, m.queuedDevices, m.sentMessages, m.failures, m.removedTokens, m.latency)
	return m
}

func (m *Metrics) enqueued(c Category) {
	if m != nil {
		m.notifications.WithLabelValues(string(c)).Inc()
	}
}

func (m *Metrics) queued(c Category, n int) {
	if m != nil {
		m.queuedDevices.WithLabelValues(string(c)).Add(float64(n))
	}
}

func (m *Metrics) sent(c Category) {
	if m != nil {
		m.sentMessages.WithLabelValues(string(c)).Inc()
	}
}

func (m *Metrics) failed(reason string) {
	if m != nil {
		m.failures.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) tokenRemoved() {
	if m != nil {
		m.removedTokens.Inc()
	}
}

func (m *Metrics) sendLatency(d time.Duration) {
	if m != nil {
		m.latency.Observe(d.Seconds())
	}
}
