package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"esign/blob"
	"esign/store"
	"esign/store/storetest"
)

func TestMain(m *testing.M) {
	// The child of TestDirKilledMidPut: it writes until it is killed, and
	// needs no database.
	if root := os.Getenv(envKillChild); root != "" {
		killChild(root)
		return
	}
	os.Exit(storetest.Main(m))
}

// impl opens an empty store of one implementation, with MaxSize set.
type impl struct {
	name string
	open func(t *testing.T, maxSize int64) blob.Store
}

// impls are the implementations every conformance case runs against: Dir,
// and DB on SQLite and on PostgreSQL.
func impls() []impl {
	list := []impl{{"dir", func(t *testing.T, maxSize int64) blob.Store {
		d, err := blob.OpenDir(t.TempDir() + "/blobs")
		if err != nil {
			t.Fatal(err)
		}
		d.MaxSize = maxSize
		return d
	}}}
	for _, b := range storetest.Backends() {
		list = append(list, impl{"db-" + string(b), func(t *testing.T, maxSize int64) blob.Store {
			d, err := blob.OpenDB(context.Background(), storetest.Open(t, b, store.Options{}))
			if err != nil {
				t.Fatal(err)
			}
			d.MaxSize = maxSize
			return d
		}})
	}
	return list
}

// content is n bytes that differ with seed and position.
func content(seed byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed ^ byte(i*7+i>>8)
	}
	return b
}

func put(t *testing.T, s blob.Store, key string, data []byte) blob.Info {
	t.Helper()
	info, err := s.Put(context.Background(), key, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if want := (blob.Info{Size: int64(len(data)), SHA256: sha256.Sum256(data)}); info != want {
		t.Fatalf("Put(%q) = %+v, want %+v", key, info, want)
	}
	return info
}

// read returns the whole blob under key, checking Size and ReadAt at a
// few offsets against a full read.
func read(t *testing.T, s blob.Store, key string) []byte {
	t.Helper()
	o, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer o.Close()
	got, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	if int64(len(got)) != o.Size() {
		t.Fatalf("%q: read %d bytes, Size %d", key, len(got), o.Size())
	}
	for _, off := range []int64{0, 1, o.Size() / 2, o.Size() - 3} {
		if off < 0 || off > o.Size() {
			continue
		}
		p := make([]byte, 10)
		n, err := o.ReadAt(p, off)
		want := got[off:min(off+10, o.Size())]
		if n != len(want) || !bytes.Equal(p[:n], want) {
			t.Fatalf("%q: ReadAt(off %d) = %d bytes %x, want %x", key, off, n, p[:n], want)
		}
		if n < len(p) && err != io.EOF || n == len(p) && err != nil {
			t.Fatalf("%q: ReadAt(off %d) = %d, %v", key, off, n, err)
		}
	}
	return got
}

func wantNotFound(t *testing.T, s blob.Store, key string) {
	t.Helper()
	o, err := s.Open(context.Background(), key)
	if !errors.Is(err, blob.ErrNotFound) {
		if err == nil {
			o.Close()
		}
		t.Fatalf("Open(%q) = %v, want ErrNotFound", key, err)
	}
}

// failingReader yields n bytes, then fails; before failing it calls
// midway, if set.
type failingReader struct {
	n      int
	err    error
	midway func()
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		if r.midway != nil {
			r.midway()
			r.midway = nil
			return 0, nil
		}
		return 0, r.err
	}
	n := min(len(p), r.n, 1000)
	clear(p[:n])
	r.n -= n
	return n, nil
}

var errReader = errors.New("reader broke")

// conformance are the cases every Store must pass.
var conformance = []struct {
	name string
	run  func(t *testing.T, s blob.Store)
}{
	{"put-open", func(t *testing.T, s blob.Store) {
		for _, n := range []int{0, 1, 150 << 10, 1<<20 + 3} {
			key := fmt.Sprintf("batch-1/doc-%d.pdf", n)
			data := content(byte(n), n)
			put(t, s, key, data)
			if got := read(t, s, key); !bytes.Equal(got, data) {
				t.Fatalf("%q: content differs", key)
			}
		}
	}},
	{"deep-and-odd-keys", func(t *testing.T, s blob.Store) {
		for _, key := range []string{"a", "x/y/z/w.pdf", "..._-/.hidden", "A.B-c_d", strings.Repeat("k", 255)} {
			put(t, s, key, []byte(key))
			if got := read(t, s, key); string(got) != key {
				t.Fatalf("%q: read %q", key, got)
			}
		}
	}},
	{"replace", func(t *testing.T, s blob.Store) {
		put(t, s, "b/k", content(1, 5000))
		o, err := s.Open(context.Background(), "b/k")
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		short := content(2, 100)
		put(t, s, "b/k", short)
		if got := read(t, s, "b/k"); !bytes.Equal(got, short) {
			t.Fatalf("after replace: %d bytes, want the 100 new ones", len(got))
		}
		// What was opened before stays as it was.
		old := make([]byte, 5000)
		if _, err := o.ReadAt(old, 0); err != nil || !bytes.Equal(old, content(1, 5000)) || o.Size() != 5000 {
			t.Fatalf("object opened before the replace changed: size %d, %v", o.Size(), err)
		}
	}},
	{"delete", func(t *testing.T, s blob.Store) {
		ctx := context.Background()
		put(t, s, "b/gone", []byte("x"))
		put(t, s, "b/kept", []byte("y"))
		if err := s.Delete(ctx, "b/gone"); err != nil {
			t.Fatal(err)
		}
		wantNotFound(t, s, "b/gone")
		if string(read(t, s, "b/kept")) != "y" {
			t.Fatal("sibling changed")
		}
		for _, key := range []string{"b/gone", "never/was", "b"} {
			if err := s.Delete(ctx, key); err != nil {
				t.Fatalf("Delete(%q) of a missing key: %v", key, err)
			}
		}
		if string(read(t, s, "b/kept")) != "y" {
			t.Fatal("Delete of the prefix \"b\" removed what is under it")
		}
	}},
	{"not-found", func(t *testing.T, s blob.Store) {
		put(t, s, "b-1/x/y", []byte("z"))
		for _, key := range []string{"missing", "b-1", "b-1/x", "b-1/x/y/z", "b-1/x/yy", "b-1/x/y.tmp"} {
			wantNotFound(t, s, key)
		}
	}},
	{"delete-prefix", func(t *testing.T, s blob.Store) {
		ctx := context.Background()
		gone := []string{"b-1/x", "b-1/sub/y", "a_b/k"}
		for i := range 450 { // more than DB deletes in one transaction
			gone = append(gone, fmt.Sprintf("b-1/many/%04d", i))
		}
		// "axb/k" would match LIKE 'a_b/%'.
		kept := []string{"b-10/x", "b-1.pdf", "b-0/x", "b-2/x", "b-1-/x", "b-1_/x", "b-1./x", "b/1/x", "axb/k"}
		for _, key := range append(append([]string{}, gone...), kept...) {
			put(t, s, key, []byte(key))
		}
		for _, prefix := range []string{"b-1/", "a_b/"} {
			if err := s.DeletePrefix(ctx, prefix); err != nil {
				t.Fatalf("DeletePrefix(%q): %v", prefix, err)
			}
		}
		for _, key := range gone {
			wantNotFound(t, s, key)
		}
		for _, key := range kept {
			if got := read(t, s, key); string(got) != key {
				t.Fatalf("%q: %q", key, got)
			}
		}
		if err := s.DeletePrefix(ctx, "none/"); err != nil {
			t.Fatalf("DeletePrefix of nothing: %v", err)
		}
		// The prefix can be used again.
		put(t, s, "b-1/x", []byte("again"))
		if string(read(t, s, "b-1/x")) != "again" {
			t.Fatal("put after DeletePrefix")
		}
	}},
	{"invalid-keys", func(t *testing.T, s blob.Store) {
		ctx := context.Background()
		for _, key := range invalidKeys {
			if _, err := s.Put(ctx, key, strings.NewReader("x")); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
			}
			if _, err := s.Open(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Open(%q) = %v, want ErrInvalidKey", key, err)
			}
			if err := s.Delete(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
			}
		}
		for _, prefix := range []string{"", "/", "b-1", "b-1//", "../", "./", "a/../", "/b/", "b /"} {
			if err := s.DeletePrefix(ctx, prefix); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("DeletePrefix(%q) = %v, want ErrInvalidKey", prefix, err)
			}
		}
	}},
	{"too-large", func(t *testing.T, s blob.Store) {
		// MaxSize is 2 MiB here.
		put(t, s, "big/ok", content(3, 2<<20))
		put(t, s, "big/old", []byte("old"))
		_, err := s.Put(context.Background(), "big/old", bytes.NewReader(content(4, 2<<20+1)))
		if !errors.Is(err, blob.ErrTooLarge) {
			t.Fatalf("Put of MaxSize+1 bytes: %v, want ErrTooLarge", err)
		}
		if string(read(t, s, "big/old")) != "old" {
			t.Fatal("a refused Put changed the blob")
		}
	}},
	{"reader-fails", func(t *testing.T, s blob.Store) {
		put(t, s, "f/old", []byte("old"))
		for _, key := range []string{"f/new", "f/old"} {
			_, err := s.Put(context.Background(), key, &failingReader{n: 300 << 10, err: errReader})
			if !errors.Is(err, errReader) {
				t.Fatalf("Put(%q) from a failing reader: %v", key, err)
			}
		}
		wantNotFound(t, s, "f/new")
		if string(read(t, s, "f/old")) != "old" {
			t.Fatal("a failed Put changed the blob")
		}
	}},
	{"cancelled", func(t *testing.T, s blob.Store) {
		put(t, s, "c/old", []byte("old"))
		for _, key := range []string{"c/new", "c/old"} {
			ctx, cancel := context.WithCancel(context.Background())
			_, err := s.Put(ctx, key, &failingReader{n: 300 << 10, err: io.EOF, midway: cancel})
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Put(%q) cancelled midway: %v", key, err)
			}
		}
		wantNotFound(t, s, "c/new")
		if string(read(t, s, "c/old")) != "old" {
			t.Fatal("a cancelled Put changed the blob")
		}
	}},
	{"concurrent-same-key", func(t *testing.T, s blob.Store) {
		const n = 16
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				_, err := s.Put(context.Background(), "race/doc.pdf", bytes.NewReader(bytes.Repeat([]byte{byte(i)}, 256<<10)))
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got := read(t, s, "race/doc.pdf")
		if len(got) != 256<<10 || !bytes.Equal(got, bytes.Repeat(got[:1], len(got))) || got[0] >= n {
			t.Fatalf("after concurrent Puts: %d bytes, not one writer's whole blob", len(got))
		}
	}},
}

// invalidKeys are refused by ValidKey and by every method.
var invalidKeys = []string{
	"", "/", "/a", "a/", "a//b", ".", "..", "../a", "a/..", "a/../b", "./a", "a/./b",
	"a b", "a\\b", "a\x00b", "ä", "a:b", "a~b", "~put-1.tmp", "a/~put-1.tmp", "a*", "%",
	strings.Repeat("a", 257), strings.Repeat("a", 256), strings.Repeat("a/", 129)[:257],
}

func TestConformance(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			for _, tc := range conformance {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, im.open(t, 2<<20))
				})
			}
		})
	}
}

func TestValidKey(t *testing.T) {
	for _, key := range invalidKeys {
		if err := blob.ValidKey(key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("ValidKey(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, key := range []string{"a", "batch-123/doc-00001.pdf", "...", "a/.../b", ".a", "a.", "-", "_",
		strings.Repeat("a", 255), strings.Repeat("a/", 128)[:255], strings.Repeat("ab/", 85) + "c"} {
		if err := blob.ValidKey(key); err != nil {
			t.Errorf("ValidKey(%q) = %v, want nil", key, err)
		}
	}
}
