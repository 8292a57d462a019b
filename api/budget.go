package api

import "sync/atomic"

// memBudget is the memory that uploads in flight may hold, shared by all
// requests. An upload takes what its buffer holds and gives it back when
// the request is done; one the budget cannot hold goes to disk. Without
// it, each upload waiting for a signing slot held up to memoryUpload,
// and 64 uploads of 20 MB took the daemon past 3 GB.
type memBudget struct{ free atomic.Int64 }

func newMemBudget(n int64) *memBudget {
	b := &memBudget{}
	b.free.Store(n)
	return b
}

// take reserves n bytes, or reports that they are not free.
func (b *memBudget) take(n int64) bool {
	for {
		f := b.free.Load()
		if f < n {
			return false
		}
		if b.free.CompareAndSwap(f, f-n) {
			return true
		}
	}
}

// give returns n bytes taken before.
func (b *memBudget) give(n int64) { b.free.Add(n) }
