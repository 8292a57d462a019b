package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"esign/metrics"
	"esign/signer"
	"esign/tsa"
)

// serverMetrics are the signing service's Prometheus metrics.
type serverMetrics struct {
	reg        metrics.Registry
	signatures *metrics.CounterVec
	latency    *metrics.HistogramVec
	hsmErrors  *metrics.CounterVec
	tsaErrors  *metrics.CounterVec
	queue      *metrics.Gauge
}

func newServerMetrics() *serverMetrics {
	m := &serverMetrics{}
	m.signatures = m.reg.NewCounterVec("esign_signatures_total", "Signing requests by PAdES level and result.", "level", "result")
	m.latency = m.reg.NewHistogramVec("esign_sign_duration_seconds", "Time to sign, from HSM slot to signed bytes.",
		[]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}, "level")
	m.hsmErrors = m.reg.NewCounterVec("esign_hsm_errors_total", "Signing failures in the HSM.")
	m.tsaErrors = m.reg.NewCounterVec("esign_tsa_errors_total", "Failed or rejected timestamp requests.")
	m.queue = m.reg.NewGauge("esign_hsm_queue_length", "Requests waiting for an HSM slot.")
	return m
}

func (m *serverMetrics) observeSign(level signer.Level, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		_, result = statusOf(err)
	}
	m.signatures.Inc(string(level), result)
	if err == nil {
		m.latency.Observe(d.Seconds(), string(level))
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

func (s *Server) serveMetrics(c *gin.Context) {
	c.Header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	c.Status(http.StatusOK)
	s.metrics.reg.WriteText(c.Writer)
}
