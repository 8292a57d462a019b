// Package metrics makes a daemon's Prometheus registry and serves it. The
// metrics themselves belong to the packages that count them (api,
// verifyapi); this package only gives every daemon the same runtime
// metrics and the same /metrics handler.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry holding the Go runtime and process
// collectors (go_goroutines, process_resident_memory_bytes, …). Each
// server owns one: nothing is registered globally, so tests can run many
// servers in one process.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves reg in the Prometheus text format, or in another format
// the scraper asks for.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A collector that fails (a /proc file that cannot be read) costs
		// its own series, not the whole scrape.
		ErrorHandling: promhttp.ContinueOnError,
	})
}
