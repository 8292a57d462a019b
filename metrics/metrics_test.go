package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"esign/metrics"
	"esign/metrics/metricstest"
)

// TestRegistry: a daemon's registry serves the runtime and process
// metrics beside its own, in the text format, and passes the linter.
func TestRegistry(t *testing.T) {
	reg := metrics.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "esign_test_total", Help: "A test counter."}, []string{"result"})
	reg.MustRegister(c)
	c.WithLabelValues("ok").Add(2)

	mfs := metricstest.Scrape(t, metrics.Handler(reg))
	for _, tc := range []struct {
		name string
		typ  dto.MetricType
	}{
		{"go_goroutines", dto.MetricType_GAUGE},
		{"go_gc_duration_seconds", dto.MetricType_SUMMARY},
		{"process_resident_memory_bytes", dto.MetricType_GAUGE},
		{"process_cpu_seconds_total", dto.MetricType_COUNTER},
		{"esign_test_total", dto.MetricType_COUNTER},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mf, ok := mfs[tc.name]
			if !ok {
				t.Fatal("missing")
			}
			if mf.GetType() != tc.typ {
				t.Errorf("type %s, want %s", mf.GetType(), tc.typ)
			}
		})
	}
	if v, ok := metricstest.Value(mfs, "esign_test_total", map[string]string{"result": "ok"}); v != 2 {
		t.Errorf("esign_test_total{result=ok} = %v, %v; want 2", v, ok)
	}
	if v, _ := metricstest.Value(mfs, "process_resident_memory_bytes", nil); v <= 0 {
		t.Errorf("process_resident_memory_bytes = %v", v)
	}
}

// TestRegistriesApart: two registries in one process share nothing, so
// servers in tests (or two daemons in one binary) never collide.
func TestRegistriesApart(t *testing.T) {
	for range 2 {
		reg := metrics.NewRegistry()
		if err := reg.Register(prometheus.NewCounter(prometheus.CounterOpts{Name: "esign_once_total", Help: "Once."})); err != nil {
			t.Fatal(err)
		}
	}
}
