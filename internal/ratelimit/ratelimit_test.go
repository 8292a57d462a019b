package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestLimiter(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		requests  int
		wantAllow int
	}{
		{"defaults allow the burst", Options{}, 15, 10},
		{"burst of 1", Options{PerMinute: 60, Burst: 1}, 3, 1},
		{"large burst", Options{PerMinute: 6000, Burst: 100}, 150, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{time.Unix(1e9, 0)}
			tc.opts.Now = c.now
			l := New(tc.opts)
			got := 0
			for range tc.requests {
				if l.Allow("a") {
					got++
				}
			}
			if got != tc.wantAllow {
				t.Fatalf("allowed %d of %d, want %d", got, tc.requests, tc.wantAllow)
			}
			if !l.Allow("b") {
				t.Fatal("another key shares the bucket")
			}
		})
	}
}

func TestLimiterRefills(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	l := New(Options{PerMinute: 60, Burst: 1, Now: c.now})
	if !l.Allow("a") || l.Allow("a") {
		t.Fatal("burst of 1 not kept")
	}
	c.t = c.t.Add(time.Second)
	if !l.Allow("a") {
		t.Fatal("no token after a second at 60 a minute")
	}
}

// TestLimiterForgetsIdle: buckets idle long enough to be full again are
// dropped, and MaxKeys bounds the table whatever the flood.
func TestLimiterForgetsIdle(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	l := New(Options{PerMinute: 60, Burst: 10, MaxKeys: 100, Now: c.now})
	for i := range 50 {
		l.Allow(fmt.Sprint("old", i))
	}
	c.t = c.t.Add(time.Minute)
	l.Allow("new")
	if n := l.Len(); n != 1 {
		t.Fatalf("%d buckets after the idle ones expired, want 1", n)
	}
	for i := range 1000 {
		l.Allow(fmt.Sprint("flood", i))
		if n := l.Len(); n > 100 {
			t.Fatalf("%d buckets, MaxKeys 100", n)
		}
	}
}
