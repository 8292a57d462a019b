package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"esign/registry"
	"esign/store"
)

// registryRetry is how often, at most, the verifier looks again for an
// issuer registry it has not found.
const registryRetry = 5 * time.Second

// lazyRegistry is the issuer registry of a database that may not hold it
// yet: the verifier may start before the signing service has made the
// table. Until registry.OpenReadOnly succeeds every lookup answers as for
// a document the registry does not hold, and a lookup tries to open it
// again, at most once every retry; once open it stays open. It is safe
// for concurrent use.
type lazyRegistry struct {
	st     *store.Store
	retry  time.Duration
	now    func() time.Time
	logger *slog.Logger

	reg   atomic.Pointer[registry.Registry]
	mu    sync.Mutex
	tried time.Time // the last attempt, zero before the first
}

func newLazyRegistry(st *store.Store, logger *slog.Logger) *lazyRegistry {
	return &lazyRegistry{st: st, retry: registryRetry, now: time.Now, logger: logger}
}

// open returns the registry, or nil while the database does not hold
// one. Only one caller at a time makes an attempt, and none within retry
// of the last; the others get nil at once rather than wait for it.
func (l *lazyRegistry) open(ctx context.Context) *registry.Registry {
	if r := l.reg.Load(); r != nil {
		return r
	}
	l.mu.Lock()
	now := l.now()
	if !l.tried.IsZero() && now.Sub(l.tried) < l.retry {
		l.mu.Unlock()
		return nil
	}
	l.tried = now
	l.mu.Unlock()
	r, err := registry.OpenReadOnly(ctx, l.st)
	if err != nil {
		l.logger.Debug("no issuer registry yet", "error", err)
		return nil
	}
	if l.reg.CompareAndSwap(nil, r) {
		l.logger.Info("issuer registry found")
	}
	return l.reg.Load()
}

// Get is registry.Registry's, or ErrNotFound while there is none.
func (l *lazyRegistry) Get(ctx context.Context, id string) (*registry.Document, error) {
	r := l.open(ctx)
	if r == nil {
		return nil, registry.ErrNotFound
	}
	return r.Get(ctx, id)
}

// ByRevision is registry.Registry's, or ErrNotFound while there is none.
func (l *lazyRegistry) ByRevision(ctx context.Context, sum []byte) (*registry.Document, error) {
	r := l.open(ctx)
	if r == nil {
		return nil, registry.ErrNotFound
	}
	return r.ByRevision(ctx, sum)
}
