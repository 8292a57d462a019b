package api

import (
	"bytes"
	"io"
	"testing"
)

// TestUploadMemoryBudget: a small upload stays in memory while the server
// is not loaded, as the sign endpoint's throughput needs; an upload the
// shared budget cannot hold goes to disk; and every byte taken from the
// budget comes back when the upload is closed.
func TestUploadMemoryBudget(t *testing.T) {
	small := bytes.Repeat([]byte("s"), 115<<10)
	large := bytes.Repeat([]byte("L"), 20<<20)
	cases := []struct {
		name     string
		budget   int64
		held     int64 // of the budget, taken by other uploads first
		data     []byte
		hint     int64
		inMemory bool
	}{
		{name: "small, idle", data: small, hint: int64(len(small)) + 300, inMemory: true},
		{name: "small, no Content-Length", data: small, hint: -1, inMemory: true},
		{name: "large, idle", data: large, hint: int64(len(large)) + 300, inMemory: true},
		{name: "large, no Content-Length", data: large, hint: -1, inMemory: true},
		{name: "large, budget low", budget: 8 << 20, data: large, hint: int64(len(large)) + 300},
		{name: "large, budget held by others", held: 60 << 20, data: large, hint: int64(len(large)) + 300},
		{name: "small, budget held by others", held: 64 << 20, data: small, hint: int64(len(small)) + 300},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("TMPDIR", t.TempDir())
			s := New(Config{UploadMemory: c.budget})
			if !s.memory.take(c.held) {
				t.Fatal("cannot hold the budget")
			}
			full := s.cfg.UploadMemory - c.held
			u, err := s.readUpload(bytes.NewReader(c.data), c.hint)
			if err != nil {
				t.Fatal(err)
			}
			if got := u.tmp == nil; got != c.inMemory {
				t.Errorf("in memory %v, want %v", got, c.inMemory)
			}
			if free := s.memory.free.Load(); u.held != full-free || free < 0 {
				t.Errorf("upload holds %d of the budget, %d taken", u.held, full-free)
			}
			got, _ := io.ReadAll(io.NewSectionReader(u, 0, u.size))
			if !bytes.Equal(got, c.data) {
				t.Errorf("read back %d bytes, want the %d sent", len(got), len(c.data))
			}
			u.Close()
			if free := s.memory.free.Load(); free != full {
				t.Errorf("after Close %d of the budget is free, want %d", free, full)
			}
		})
	}
}
