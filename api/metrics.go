package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"esign/metrics"
	"esign/signer"
	"esign/tsa"
)

// serverMetrics are the signing service's Prometheus metrics, in a
// registry of the server's own that also holds the Go runtime and process
// metrics.
type serverMetrics struct {
	reg        *prometheus.Registry
	handler    http.Handler
	signatures *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	hsmErrors  prometheus.Counter
	tsaErrors  prometheus.Counter
	queue      prometheus.Gauge
}

func newServerMetrics(extra ...prometheus.Collector) *serverMetrics {
	m := &serverMetrics{
		reg: metrics.NewRegistry(),
		signatures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "esign_signatures_total",
			Help: "Signing requests by PAdES level and result.",
		}, []string{"level", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "esign_sign_duration_seconds",
			Help:    "Time to sign, from HSM slot to signed bytes.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"level"}),
		hsmErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "esign_hsm_errors_total",
			Help: "Signing failures in the HSM.",
		}),
		tsaErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "esign_tsa_errors_total",
			Help: "Failed or rejected timestamp requests.",
		}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "esign_hsm_queue_length",
			Help: "Requests waiting for an HSM slot.",
		}),
	}
	// A fresh registry and fixed names: registration fails only on a
	// programming error, which every test that makes a Server would catch.
	m.reg.MustRegister(m.signatures, m.latency, m.hsmErrors, m.tsaErrors, m.queue)
	m.reg.MustRegister(extra...)
	m.handler = metrics.Handler(m.reg)
	return m
}

func (m *serverMetrics) observeSign(level signer.Level, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		_, result = statusOf(err)
	}
	m.signatures.WithLabelValues(string(level), result).Inc()
	if err == nil {
		m.latency.WithLabelValues(string(level)).Observe(d.Seconds())
		return
	}
	var hsmErr *signer.KeyError
	if errors.As(err, &hsmErr) {
		m.hsmErrors.Inc()
	}
	if errors.Is(err, tsa.ErrUnavailable) || errors.Is(err, tsa.ErrBadResponse) || errors.Is(err, tsa.ErrInvalidToken) {
		m.tsaErrors.Inc()
	}
}
