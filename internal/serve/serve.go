// Package serve runs an HTTP server until its context ends, then shuts it
// down gracefully: the one serve-and-drain loop both daemons share. It
// also holds the limits that keep slow or numerous clients from tying the
// server up: a cap on connections, a minimum pace for request bodies, and
// read and idle timeouts.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"golang.org/x/net/netutil"
)

// Options configures Run. The zero value serves with the defaults below.
type Options struct {
	// Logger receives the server's own errors. Default: discard.
	Logger *slog.Logger
	// Drain, when set, runs once ctx ends and before Shutdown closes the
	// listener: the signing API uses it to answer 503 while requests in
	// flight finish.
	Drain func(context.Context)
	// ShutdownTimeout bounds the drain and the shutdown. Default 60s.
	ShutdownTimeout time.Duration

	// MaxConns caps the connections open at once; more wait in the
	// listener's backlog until one closes. Default 0: no cap.
	MaxConns int
	// MaxConnsPerPeer caps the connections one address holds at once; more
	// are closed as they arrive, so one client cannot take MaxConns, busy
	// or idle. Default 0: no cap.
	MaxConnsPerPeer int
	// ExemptPeer reports addresses MaxConnsPerPeer does not count: the
	// reverse proxies every client comes through. Default: none.
	ExemptPeer func(netip.Addr) bool
	// MinBodyRate is the slowest a request body may arrive, in bytes per
	// second over each BodyRateWindow; a slower body is cut off, so a
	// client trickling bytes cannot hold a connection for long. Default 0:
	// not checked.
	MinBodyRate int64
	// BodyRateWindow is the span over which MinBodyRate is measured: the
	// longest a client may stall. Default 20s.
	BodyRateWindow time.Duration
	// MaxBody is the largest request body the handler takes; with
	// MinBodyRate it sizes ReadTimeout's default.
	MaxBody int64
	// ReadHeaderTimeout bounds reading a request's headers. Default 10s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, whatever its pace.
	// Default: ReadHeaderTimeout plus MaxBody at MinBodyRate, plus one
	// window; none when either of those is unset.
	ReadTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle this long. Default
	// 120s.
	IdleTimeout time.Duration
}

// withDefaults fills in the zero fields.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 60 * time.Second
	}
	if o.BodyRateWindow <= 0 {
		o.BodyRateWindow = 20 * time.Second
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.ReadTimeout <= 0 && o.MinBodyRate > 0 && o.MaxBody > 0 {
		o.ReadTimeout = o.ReadHeaderTimeout + o.BodyRateWindow +
			time.Duration(float64(o.MaxBody)/float64(o.MinBodyRate)*float64(time.Second))
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 120 * time.Second
	}
	return o
}

// Run serves h on ln until ctx ends or serving fails.
func Run(ctx context.Context, ln net.Listener, h http.Handler, opts Options) error {
	opts = opts.withDefaults()
	// Per address first, so connections closed for their address never
	// take one of MaxConns' places.
	if opts.MaxConnsPerPeer > 0 {
		ln = limitPerPeer(ln, opts.MaxConnsPerPeer, opts.ExemptPeer)
	}
	if opts.MaxConns > 0 {
		ln = netutil.LimitListener(ln, opts.MaxConns)
	}
	if opts.MinBodyRate > 0 {
		h = minBodyRate(h, opts)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		IdleTimeout:       opts.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// The parent context has ended; the shutdown gets a fresh deadline.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownTimeout)
	defer cancel()
	if opts.Drain != nil {
		opts.Drain(shutdownCtx)
	}
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
