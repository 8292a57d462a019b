package blob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"esign/blob"
)

func openDir(t *testing.T) *blob.Dir {
	t.Helper()
	d, err := blob.OpenDir(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// files lists the regular files under root, slash-separated and sorted.
func files(t *testing.T, root string) []string {
	t.Helper()
	var list []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() {
			rel, _ := filepath.Rel(root, p)
			list = append(list, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(list)
	return list
}

// temps lists the temporary files under root.
func temps(t *testing.T, root string) []string {
	t.Helper()
	var list []string
	for _, f := range files(t, root) {
		if strings.HasPrefix(filepath.Base(f), "~") {
			list = append(list, f)
		}
	}
	return list
}

func TestDirOpenDirMode(t *testing.T) {
	d := openDir(t)
	fi, err := os.Stat(d.Root())
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("root %v, want a 0700 directory", fi.Mode())
	}
	if !filepath.IsAbs(d.Root()) {
		t.Fatalf("root %q is not absolute", d.Root())
	}
}

// TestDirFailedPut: whatever stops a Put, neither a blob nor a temporary
// file is left behind.
func TestDirFailedPut(t *testing.T) {
	tests := []struct {
		name string
		put  func(d *blob.Dir) error
		want error
	}{
		{"reader-fails", func(d *blob.Dir) error {
			_, err := d.Put(context.Background(), "b/doc", &failingReader{n: 300 << 10, err: errReader})
			return err
		}, errReader},
		{"cancelled", func(d *blob.Dir) error {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := d.Put(ctx, "b/doc", &failingReader{n: 300 << 10, err: io.EOF, midway: cancel})
			return err
		}, context.Canceled},
		{"too-large", func(d *blob.Dir) error {
			d.MaxSize = 1000
			_, err := d.Put(context.Background(), "b/doc", bytes.NewReader(make([]byte, 1001)))
			return err
		}, blob.ErrTooLarge},
		{"cancelled-before", func(d *blob.Dir) error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := d.Put(ctx, "b/doc", strings.NewReader("x"))
			return err
		}, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := openDir(t)
			put(t, d, "b/other", []byte("x"))
			if err := tc.put(d); !errors.Is(err, tc.want) {
				t.Fatalf("Put: %v, want %v", err, tc.want)
			}
			wantNotFound(t, d, "b/doc")
			if got := files(t, d.Root()); !slices.Equal(got, []string{"b/other"}) {
				t.Fatalf("files after a failed Put: %q", got)
			}
		})
	}
}

// TestDirConflict: on Dir a key cannot be both a blob and a directory.
func TestDirConflict(t *testing.T) {
	ctx := context.Background()
	d := openDir(t)
	put(t, d, "a", []byte("file a"))
	put(t, d, "c/d", []byte("file c/d"))
	for _, key := range []string{"a/b", "a/b/c", "c"} {
		if _, err := d.Put(ctx, key, strings.NewReader("x")); !errors.Is(err, blob.ErrConflict) {
			t.Errorf("Put(%q) = %v, want ErrConflict", key, err)
		}
	}
	if string(read(t, d, "a")) != "file a" || string(read(t, d, "c/d")) != "file c/d" {
		t.Fatal("a refused Put changed a blob")
	}
	if got := files(t, d.Root()); !slices.Equal(got, []string{"a", "c/d"}) {
		t.Fatalf("files: %q", got)
	}
	// Once "a" is gone, "a/b" may be made; once "c/d" is, "c" may.
	for _, key := range []string{"a", "c/d"} {
		if err := d.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	put(t, d, "a/b", []byte("file a/b"))
	put(t, d, "c", []byte("file c"))
	if got := files(t, d.Root()); !slices.Equal(got, []string{"a/b", "c"}) {
		t.Fatalf("files: %q", got)
	}
}

// TestDirOtherProcessDeletesPrefix: a directory this process made and
// remembers may be removed by another; Put makes it again.
func TestDirOtherProcessDeletesPrefix(t *testing.T) {
	d1 := openDir(t)
	d2, err := blob.OpenDir(d1.Root())
	if err != nil {
		t.Fatal(err)
	}
	put(t, d1, "p/q/x", []byte("1"))
	if err := d2.DeletePrefix(context.Background(), "p/"); err != nil {
		t.Fatal(err)
	}
	put(t, d1, "p/q/y", []byte("2"))
	wantNotFound(t, d1, "p/q/x")
	if string(read(t, d2, "p/q/y")) != "2" {
		t.Fatal("blob put after the other's DeletePrefix")
	}
}

func TestDirSweep(t *testing.T) {
	ctx := context.Background()
	d := openDir(t)
	put(t, d, "s/blob", []byte("b"))
	old := time.Now().Add(-2 * time.Hour)
	mk := func(rel string, mtime time.Time) {
		p := filepath.Join(d.Root(), filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	mk("~put-1.tmp", old)
	mk("s/~put-2.tmp", old)
	mk("s/t/~put-3.tmp", old)
	mk("s/~put-4.tmp", time.Now())     // a Put still writing
	mk("s/~other.tmp", old)            // not ours
	mk("s/old-blob", old)              // an old blob
	mk("s/~put-5.tmp/~put-6.tmp", old) // a directory named like a temp file
	n, err := d.Sweep(ctx, time.Hour)
	if err != nil || n != 4 {
		t.Fatalf("Sweep = %d, %v; want 4 removed", n, err)
	}
	want := []string{"s/blob", "s/old-blob", "s/~other.tmp", "s/~put-4.tmp"}
	if got := files(t, d.Root()); !slices.Equal(got, want) {
		t.Fatalf("after Sweep: %q, want %q", got, want)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Sweep(cancelled, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sweep with a cancelled context: %v", err)
	}
}

const envKillChild = "BLOB_TEST_KILL_CHILD"

// slowReader yields zeros forever, a chunk at a time with a pause between,
// like an upload on a slow link.
type slowReader struct{}

func (slowReader) Read(p []byte) (int, error) {
	time.Sleep(2 * time.Millisecond)
	n := min(len(p), 32<<10)
	clear(p[:n])
	return n, nil
}

// killChild runs in the child of TestDirKilledMidPut: it puts a whole
// blob, then replaces it and puts a second key from slow readers that
// never end, until it is killed.
func killChild(root string) {
	d, err := blob.OpenDir(root)
	if err == nil {
		d.MaxSize = 1 << 40
		_, err = d.Put(context.Background(), "batch/old.pdf", bytes.NewReader(content(9, 100<<10)))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kill child:", err)
		os.Exit(1)
	}
	go d.Put(context.Background(), "batch/old.pdf", slowReader{})
	_, err = d.Put(context.Background(), "batch/new.pdf", slowReader{})
	fmt.Fprintln(os.Stderr, "kill child: Put returned:", err)
	os.Exit(1)
}

// TestDirKilledMidPut kills a process (SIGKILL) while it writes two blobs,
// one new and one replacing a complete blob: afterwards the new key is not
// found, the old blob is whole, and Sweep removes the temporary files.
func TestDirKilledMidPut(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "blobs")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envKillChild+"="+root)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			<-exited
		}
	}()

	// Wait until both Puts have written a good part of their files.
	deadline := time.After(30 * time.Second)
	for {
		var big int
		if _, err := os.Stat(root); err == nil {
			for _, f := range temps(t, root) {
				if fi, err := os.Stat(filepath.Join(root, f)); err == nil && fi.Size() >= 1<<20 {
					big++
				}
			}
		}
		if big == 2 {
			break
		}
		select {
		case err := <-exited:
			killed = true
			t.Fatalf("child exited before it was killed: %v", err)
		case <-deadline:
			t.Fatal("child did not start writing within 30 s")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-exited
	killed = true
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL", err)
	}

	d, err := blob.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, d, "batch/new.pdf")
	if got := read(t, d, "batch/old.pdf"); !bytes.Equal(got, content(9, 100<<10)) {
		t.Fatalf("the blob being replaced at the kill reads %d bytes, want the old ones", len(got))
	}
	if n := len(temps(t, root)); n != 2 {
		t.Fatalf("%d temporary files after the kill, want 2", n)
	}
	// Fresh temporary files may belong to a live Put: Sweep keeps them.
	if n, err := d.Sweep(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("Sweep of fresh files = %d, %v; want 0", n, err)
	}
	old := time.Now().Add(-2 * time.Hour)
	for _, f := range temps(t, root) {
		if err := os.Chtimes(filepath.Join(root, f), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := d.Sweep(ctx, time.Hour); err != nil || n != 2 {
		t.Fatalf("Sweep = %d, %v; want 2 removed", n, err)
	}
	if got := files(t, root); !slices.Equal(got, []string{"batch/old.pdf"}) {
		t.Fatalf("files after Sweep: %q", got)
	}
}
