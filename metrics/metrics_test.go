package metrics

import (
	"strings"
	"testing"
)

func TestTextFormat(t *testing.T) {
	var r Registry
	c := r.NewCounterVec("esign_signatures_total", "Signatures.", "level", "result")
	g := r.NewGauge("esign_hsm_queue", "Waiting.")
	h := r.NewHistogramVec("esign_sign_seconds", "Latency.", []float64{0.1, 1}, "level")
	c.Inc("B-B", "ok")
	c.Inc("B-B", "ok")
	c.Inc("B-LT", "error")
	g.Add(3)
	g.Add(-1)
	h.Observe(0.05, "B-B")
	h.Observe(0.5, "B-B")
	h.Observe(5, "B-B")
	var b strings.Builder
	r.WriteText(&b)
	for _, want := range []string{
		`esign_signatures_total{level="B-B",result="ok"} 2`,
		`esign_signatures_total{level="B-LT",result="error"} 1`,
		"esign_hsm_queue 2",
		`esign_sign_seconds_bucket{level="B-B",le="0.1"} 1`,
		`esign_sign_seconds_bucket{level="B-B",le="1"} 2`,
		`esign_sign_seconds_bucket{level="B-B",le="+Inf"} 3`,
		`esign_sign_seconds_count{level="B-B"} 3`,
		"# TYPE esign_sign_seconds histogram",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in\n%s", want, b.String())
		}
	}
}
