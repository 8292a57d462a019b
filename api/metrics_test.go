package api

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"esign/metrics/metricstest"
)

// TestMetricsExposition: /metrics serves every esign_ metric with the
// name, type, help and labels that dashboards and alerts rely on, beside
// the Go runtime and process metrics, and passes the linter.
func TestMetricsExposition(t *testing.T) {
	s, key := newTestServer(t, Config{})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	// One signature, so the labelled series exist.
	resp, err := http.DefaultClient.Do(newSignRequest(t, srv.URL, key))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("sign: %v %v", err, resp.Status)
	}
	resp.Body.Close()

	mfs := metricstest.Scrape(t, s.Handler())
	for _, tc := range []struct {
		name, help string
		typ        dto.MetricType
		labels     []string
	}{
		{"esign_signatures_total", "Signing requests by PAdES level and result.", dto.MetricType_COUNTER, []string{"level", "result"}},
		{"esign_sign_duration_seconds", "Time to sign, from HSM slot to signed bytes.", dto.MetricType_HISTOGRAM, []string{"level"}},
		{"esign_hsm_errors_total", "Signing failures in the HSM.", dto.MetricType_COUNTER, nil},
		{"esign_tsa_errors_total", "Failed or rejected timestamp requests.", dto.MetricType_COUNTER, nil},
		{"esign_hsm_queue_length", "Requests waiting for an HSM slot.", dto.MetricType_GAUGE, nil},
		{"go_goroutines", "", dto.MetricType_GAUGE, nil},
		{"process_resident_memory_bytes", "", dto.MetricType_GAUGE, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mf, ok := mfs[tc.name]
			if !ok || len(mf.GetMetric()) == 0 {
				t.Fatal("missing")
			}
			if mf.GetType() != tc.typ {
				t.Errorf("type %s, want %s", mf.GetType(), tc.typ)
			}
			if tc.help != "" && mf.GetHelp() != tc.help {
				t.Errorf("help %q, want %q", mf.GetHelp(), tc.help)
			}
			var labels []string
			for _, lp := range mf.GetMetric()[0].GetLabel() {
				labels = append(labels, lp.GetName())
			}
			if !slices.Equal(labels, tc.labels) {
				t.Errorf("labels %q, want %q", labels, tc.labels)
			}
		})
	}
	if v, _ := metricstest.Value(mfs, "esign_sign_duration_seconds", map[string]string{"level": "B-B"}); v != 1 {
		t.Errorf(`esign_sign_duration_seconds_count{level="B-B"} = %v, want 1`, v)
	}
}
