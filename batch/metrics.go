package batch

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"esign/signer"
)

// engineMetrics are the batch queue's Prometheus metrics, registered with
// the signing API's (api.Config.Collectors).
type engineMetrics struct {
	accepted  prometheus.Counter
	documents *prometheus.CounterVec
	retries   prometheus.Counter
	latency   *prometheus.HistogramVec
	depth     prometheus.Gauge
	rate      prometheus.GaugeFunc

	mu    sync.Mutex
	slots [rateSlots]struct {
		sec int64
		n   int
	}
}

// rateSlots is the window, in seconds, of the signing-rate gauge.
const rateSlots = 10

func newEngineMetrics() *engineMetrics {
	m := &engineMetrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "esign_batch_documents_accepted_total",
			Help: "Documents put into batches through this replica.",
		}),
		documents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "esign_batch_documents_total",
			Help: "Batch documents this replica ended, by result (signed, failed).",
		}, []string{"result"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "esign_batch_retries_total",
			Help: "Tries of batch documents that failed for a reason that may pass (TSA, OCSP, HSM, database) and will be retried.",
		}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "esign_batch_sign_duration_seconds",
			Help:    "Time to sign one batch document, from HSM slot to signed bytes.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"level"}),
		depth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "esign_batch_queue_depth",
			Help: "Batch documents waiting to be signed, all replicas together (refreshed every few seconds).",
		}),
	}
	m.documents.WithLabelValues("signed")
	m.documents.WithLabelValues("failed")
	m.rate = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "esign_batch_sign_rate_per_second",
		Help: "Batch documents this replica signed per second over the last 10 seconds.",
	}, m.ratePerSecond)
	return m
}

func (m *engineMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.accepted, m.documents, m.retries, m.latency, m.depth, m.rate}
}

func (m *engineMetrics) observe(level signer.Level, d time.Duration) {
	m.latency.WithLabelValues(string(level)).Observe(d.Seconds())
}

func (m *engineMetrics) ended(result string) {
	m.documents.WithLabelValues(result).Inc()
	if result != "signed" {
		return
	}
	now := time.Now().Unix()
	m.mu.Lock()
	s := &m.slots[now%rateSlots]
	if s.sec != now {
		s.sec, s.n = now, 0
	}
	s.n++
	m.mu.Unlock()
}

func (m *engineMetrics) ratePerSecond() float64 {
	now := time.Now().Unix()
	n := 0
	m.mu.Lock()
	for _, s := range m.slots {
		if now-s.sec < rateSlots {
			n += s.n
		}
	}
	m.mu.Unlock()
	return float64(n) / rateSlots
}

// refreshDepth reads the queue depth; watch calls it with the heartbeat.
func (e *Engine) refreshDepth(ctx context.Context) {
	var n int64
	if err := e.queryRow(ctx, "SELECT COUNT(*) FROM batch_documents WHERE state = 'pending'").Scan(&n); err == nil {
		e.metrics.depth.Set(float64(n))
	}
}

// Collectors are the engine's metrics, for the API's /metrics.
func (e *Engine) Collectors() []prometheus.Collector { return e.metrics.collectors() }
