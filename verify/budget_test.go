package verify_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"esign/signer"
	"esign/verify"
)

// cancellingReader cancels its context at the at-th read and counts the
// reads made after that.
type cancellingReader struct {
	ra     io.ReaderAt
	at     int
	cancel context.CancelFunc

	mu    sync.Mutex
	reads int
	after int
}

func (c *cancellingReader) ReadAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	c.reads++
	if c.reads == c.at {
		c.cancel()
	} else if c.reads > c.at {
		c.after++
	}
	c.mu.Unlock()
	return c.ra.ReadAt(p, off)
}

// TestContextStopsWork cancels a verification part-way, at every point
// where it reads the file, and checks that it stops there: a few reads
// at most after the cancel, and an error instead of a report built on a
// reading cut short. A daemon's time budget must end the work, not only
// the wait for it.
func TestContextStopsWork(t *testing.T) {
	f := newFixture(t)
	data := sign(t, f.env.Signer, corpus(t, "transcript-chromium.pdf"), f.env.Creds["dev-official"], signer.Options{Level: signer.LevelLTA})
	count := &cancellingReader{ra: bytes.NewReader(data), at: -1, cancel: func() {}}
	if _, err := verify.Verify(context.Background(), count, int64(len(data)), f.offline()); err != nil {
		t.Fatal(err)
	}
	total := count.reads
	if total < 50 {
		t.Fatalf("a verification read the file only %d times; the test needs more to cut into", total)
	}
	// The bound on reads after the cancel: the read under way finishes
	// and the checks between two reads come at most this far apart.
	const slack = 8
	for _, at := range []int{1, 2, 5, total / 4, total / 2, total * 3 / 4, total - 1} {
		ctx, cancel := context.WithCancel(context.Background())
		cr := &cancellingReader{ra: bytes.NewReader(data), at: at, cancel: cancel}
		rep, err := verify.Verify(ctx, cr, int64(len(data)), f.offline())
		cancel()
		if !errors.Is(err, context.Canceled) || rep != nil {
			t.Errorf("cancelled at read %d of %d: report %v, error %v; want context.Canceled", at, total, rep != nil, err)
		}
		if cr.after > slack {
			t.Errorf("cancelled at read %d of %d: %d more reads after the cancel, want at most %d", at, total, cr.after, slack)
		}
	}
}
