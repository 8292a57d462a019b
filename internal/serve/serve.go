// Package serve runs an HTTP server until its context ends, then shuts it
// down gracefully: the one serve-and-drain loop both daemons share.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
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
}

// Run serves h on ln until ctx ends or serving fails.
func Run(ctx context.Context, ln net.Listener, h http.Handler, opts Options) error {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 60 * time.Second
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
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
