package verifyapi

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"esign/metrics/metricstest"
)

// upload is a POST /api/v1/verify with data in the field "file", or with
// no file at all when data is nil.
func upload(t *testing.T, data []byte) *http.Request {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if data != nil {
		fw, _ := mw.CreateFormFile("file", "doc.pdf")
		fw.Write(data)
	} else {
		mw.WriteField("other", "x")
	}
	mw.Close()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/verify", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req
}

// TestMetricsCountOutcomes: every request is counted once, as a
// verification by indication or as a rejection by error code, and the
// duration histogram sees every file that reached the verifier.
func TestMetricsCountOutcomes(t *testing.T) {
	pdf, err := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		cfg      Config
		file     []byte
		requests int // all alike; the last one is checked
		status   int
		metric   string
		labels   map[string]string
		verified float64 // observations of the duration histogram
	}{
		{"unsigned PDF", Config{}, pdf, 1, http.StatusOK,
			"esign_verifications_total", map[string]string{"indication": "INDETERMINATE"}, 1},
		{"not a PDF", Config{}, []byte("plain text\n"), 1, http.StatusUnprocessableEntity,
			"esign_verify_rejected_total", map[string]string{"reason": "not_pdf"}, 1},
		{"no file", Config{}, nil, 1, http.StatusBadRequest,
			"esign_verify_rejected_total", map[string]string{"reason": "bad_request"}, 0},
		{"too large", Config{MaxUpload: 1 << 10}, pdf, 1, http.StatusRequestEntityTooLarge,
			"esign_verify_rejected_total", map[string]string{"reason": "too_large"}, 0},
		{"over the time budget", Config{Timeout: time.Nanosecond}, pdf, 1, http.StatusServiceUnavailable,
			"esign_verify_rejected_total", map[string]string{"reason": "timeout"}, 1},
		{"rate limited", Config{RatePerMinute: 1, Burst: 1}, pdf, 2, http.StatusTooManyRequests,
			"esign_verify_rejected_total", map[string]string{"reason": "rate_limited"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(tc.cfg)
			h := s.Handler()
			var rec *httptest.ResponseRecorder
			for range tc.requests {
				rec = httptest.NewRecorder()
				h.ServeHTTP(rec, upload(t, tc.file))
			}
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			mfs := metricstest.Scrape(t, h)
			if v, ok := metricstest.Value(mfs, tc.metric, tc.labels); v != 1 {
				t.Errorf("%s%v = %v, %v; want 1", tc.metric, tc.labels, v, ok)
			}
			var total float64
			for _, name := range []string{"esign_verifications_total", "esign_verify_rejected_total"} {
				for _, m := range mfs[name].GetMetric() {
					total += m.GetCounter().GetValue()
				}
			}
			if total != float64(tc.requests) {
				t.Errorf("%v requests counted, want %d", total, tc.requests)
			}
			if v, _ := metricstest.Value(mfs, "esign_verification_duration_seconds", nil); v != tc.verified {
				t.Errorf("esign_verification_duration_seconds_count = %v, want %v", v, tc.verified)
			}
		})
	}
}

// TestMetricsExposition: the verifier's metrics and the runtime metrics,
// with every series there from the start.
func TestMetricsExposition(t *testing.T) {
	mfs := metricstest.Scrape(t, New(Config{}).Handler())
	for _, tc := range []struct {
		name   string
		typ    dto.MetricType
		series int
	}{
		{"esign_verifications_total", dto.MetricType_COUNTER, 3},
		{"esign_verify_rejected_total", dto.MetricType_COUNTER, 12},
		{"esign_verification_duration_seconds", dto.MetricType_HISTOGRAM, 1},
		{"go_goroutines", dto.MetricType_GAUGE, 1},
		{"process_resident_memory_bytes", dto.MetricType_GAUGE, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mf, ok := mfs[tc.name]
			if !ok {
				t.Fatal("missing")
			}
			if mf.GetType() != tc.typ || len(mf.GetMetric()) != tc.series {
				t.Errorf("%s with %d series, want %s with %d", mf.GetType(), len(mf.GetMetric()), tc.typ, tc.series)
			}
		})
	}
}

// TestNoMetrics: with Config.NoMetrics the public handler has no
// /metrics, and MetricsHandler still serves them for a listener of their
// own.
func TestNoMetrics(t *testing.T) {
	s := New(Config{NoMetrics: true})
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("public /metrics: %d, want 404", rec.Code)
	}
	if _, ok := metricstest.Scrape(t, s.MetricsHandler())["esign_verifications_total"]; !ok {
		t.Error("MetricsHandler lacks esign_verifications_total")
	}
}
