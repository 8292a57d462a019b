package verifyapi

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"esign/metrics"
	"esign/verify"
)

// Error codes of requests that get no report; each is a value of the
// reason label, so every request is counted once, as a verification or as
// a rejection.
const (
	codeBadRequest  = "bad_request"
	codeTooLarge    = "too_large"
	codeRateLimited = "rate_limited"
	codeTimeout     = "timeout"
	codeNotPDF      = "not_pdf"
	codeUnreadable  = "unreadable"
	// An encrypted PDF: no password given where one is needed, a wrong
	// one, or a security handler not implemented.
	codePasswordRequired = "password_required"
	codeWrongPassword    = "wrong_password"
	codeEncryption       = "encryption_unsupported"
	// A key sent to the verifier that names no enabled client, and a store
	// that could not be asked.
	codeUnauthenticated = "unauthenticated"
	codeUnavailable     = "unavailable"
	// Every verification slot busy past Config.QueueWait.
	codeBusy = "busy"
)

// verifierMetrics are the public verifier's Prometheus metrics, in a
// registry of the server's own that also holds the Go runtime and process
// metrics.
type verifierMetrics struct {
	reg           *prometheus.Registry
	handler       http.Handler
	verifications *prometheus.CounterVec
	duration      prometheus.Histogram
	rejected      *prometheus.CounterVec
}

func newVerifierMetrics() *verifierMetrics {
	m := &verifierMetrics{
		reg: metrics.NewRegistry(),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "esign_verifications_total",
			Help: "Verifications that produced a report, by the document's main indication.",
		}, []string{"indication"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "esign_verification_duration_seconds",
			Help: "Time to verify an uploaded file, whatever the outcome.",
			// Up to the default time budget of 20s.
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20},
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "esign_verify_rejected_total",
			Help: "Verification requests answered with an error instead of a report, by error code.",
		}, []string{"reason"}),
	}
	// A fresh registry and fixed names: registration fails only on a
	// programming error, which every test that makes a Server would catch.
	m.reg.MustRegister(m.verifications, m.duration, m.rejected)
	// Every series from the start, so rates and alerts see zeros rather
	// than nothing.
	for _, ind := range []verify.Indication{verify.TotalPassed, verify.TotalFailed, verify.Indeterminate} {
		m.verifications.WithLabelValues(string(ind))
	}
	for _, code := range []string{codeBadRequest, codeTooLarge, codeRateLimited, codeTimeout, codeNotPDF, codeUnreadable, codePasswordRequired, codeWrongPassword, codeEncryption, codeUnauthenticated, codeUnavailable, codeBusy} {
		m.rejected.WithLabelValues(code)
	}
	m.handler = metrics.Handler(m.reg)
	return m
}

// observe counts the outcome of one upload: its report, or the error code.
func (m *verifierMetrics) observe(rep *verify.Report, code string) {
	if rep != nil {
		m.verifications.WithLabelValues(string(rep.Document.Indication)).Inc()
		return
	}
	m.rejected.WithLabelValues(code).Inc()
}

func (m *verifierMetrics) verified(d time.Duration) {
	m.duration.Observe(d.Seconds())
}
