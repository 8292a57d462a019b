// Package ratelimit keeps a token bucket (golang.org/x/time/rate) per key,
// such as a client address, and forgets buckets that have sat idle, so a
// flood of distinct keys cannot hold memory for long.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Options configures a Limiter. Zero values take the defaults.
type Options struct {
	// PerMinute is the sustained rate per key. Default 60.
	PerMinute int
	// Burst is how many requests a key may make at once. Default 10.
	Burst int
	// MaxKeys bounds the number of buckets kept. When it is reached and
	// sweeping idle buckets frees nothing, the table starts again empty:
	// that forgives every key once, which is better than refusing new
	// ones. Default 1<<20 (some 100 MB at most).
	MaxKeys int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Limiter is a set of token buckets by key. It is safe for concurrent use.
type Limiter struct {
	limit   rate.Limit
	burst   int
	maxKeys int
	now     func() time.Time
	// idle is how long a bucket takes to fill up again: past that a
	// forgotten bucket and a fresh one are the same, so forgetting it
	// changes nothing the client can see.
	idle time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

// New makes a Limiter.
func New(opts Options) *Limiter {
	if opts.PerMinute <= 0 {
		opts.PerMinute = 60
	}
	if opts.Burst <= 0 {
		opts.Burst = 10
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 1 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	perSec := float64(opts.PerMinute) / 60
	return &Limiter{
		limit:   rate.Limit(perSec),
		burst:   opts.Burst,
		maxKeys: opts.MaxKeys,
		now:     opts.Now,
		idle:    time.Duration(float64(opts.Burst)/perSec*float64(time.Second)) + time.Second,
		buckets: map[string]*bucket{},
	}
}

// Allow takes a token from key's bucket, reporting whether there was one.
func (l *Limiter) Allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.swept) > l.idle {
		l.sweep(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			if l.sweep(now); len(l.buckets) >= l.maxKeys {
				clear(l.buckets)
			}
		}
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.last = now
	return b.lim.AllowN(now, 1)
}

// Spent reports whether key's bucket holds less than one token, taking
// none: for a charge made only after the fact, such as a failed login.
func (l *Limiter) Spent(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	return ok && b.lim.TokensAt(l.now()) < 1
}

// sweep forgets the buckets idle long enough to be full again.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.last) > l.idle {
			delete(l.buckets, k)
		}
	}
	l.swept = now
}

// Len returns how many buckets are kept.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
