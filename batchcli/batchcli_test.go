package batchcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is an io.Writer the command's goroutines may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// harness runs the command against a fake server and checks, at the
// end of the test, that no secret ever reached its output.
type harness struct {
	t        *testing.T
	fake     *fakeServer
	env      map[string]string
	terminal bool
	interval time.Duration
	all      lockedBuffer // everything printed, for the secrets check
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, fake: newFakeServer(t), interval: time.Hour}
	keyFile := filepath.Join(t.TempDir(), "api-key")
	if err := os.WriteFile(keyFile, []byte(testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.env = map[string]string{"ESIGN_SERVER": h.fake.URL, "ESIGN_API_KEY_FILE": keyFile}
	t.Cleanup(func() {
		out := h.all.String()
		for _, secret := range []string{testKey, otherKey, directPIN} {
			if strings.Contains(out, secret) {
				t.Errorf("a secret was printed: %q in\n%s", secret, out)
			}
		}
	})
	return h
}

func (h *harness) run(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	var out, errb lockedBuffer
	cmd := Command{
		Stdout:           &out,
		Stderr:           &errb,
		Getenv:           func(k string) string { return h.env[k] },
		IsTerminal:       func(io.Writer) bool { return h.terminal },
		Retry:            Retry{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond},
		PollInterval:     2 * time.Millisecond,
		ProgressInterval: h.interval,
	}
	err = cmd.Batch(ctx, args)
	h.all.Write([]byte(out.String() + errb.String()))
	if err != nil {
		h.all.Write([]byte(err.Error()))
	}
	return out.String(), errb.String(), err
}

// docContent is the bytes of test document i; failing ones carry the
// fake server's FAIL marker.
func docContent(i int, failing bool) []byte {
	s := fmt.Sprintf("%%PDF-1.7\n%% test document %d\n%%%%EOF\n", i)
	if failing {
		s += "FAIL\n"
	}
	return []byte(s)
}

// makeDocs writes doc-01.pdf … doc-NN.pdf into a new directory.
func makeDocs(t *testing.T, n int, failing ...int) string {
	t.Helper()
	dir := t.TempDir()
	for i := 1; i <= n; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("doc-%02d.pdf", i)), docContent(i, slices.Contains(failing, i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkOut asserts that out holds exactly the signed refs, each the fake
// server's signature of its input, and no temporary files.
func checkOut(t *testing.T, out string, in string, refs []string) {
	t.Helper()
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	var want []string
	for _, ref := range refs {
		want = append(want, ref+".pdf")
		got, err := os.ReadFile(filepath.Join(out, ref+".pdf"))
		if err != nil {
			t.Error(err)
			continue
		}
		src, _ := os.ReadFile(filepath.Join(in, ref+".pdf"))
		if !bytes.HasPrefix(got, src) || !bytes.Contains(got[len(src):], []byte("%signed by the fake")) {
			t.Errorf("%s.pdf is not the signed document: %q", ref, got)
		}
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("out holds %v, want %v", names, want)
	}
}

func refsN(n int, except ...int) []string {
	var refs []string
	for i := 1; i <= n; i++ {
		if !slices.Contains(except, i) {
			refs = append(refs, fmt.Sprintf("doc-%02d", i))
		}
	}
	return refs
}

func TestCollect(t *testing.T) {
	write := func(t *testing.T, dir string, names ...string) {
		for _, n := range names {
			p := filepath.Join(dir, n)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte("%PDF-1.7\n"+n), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name  string
		files []string                      // made under a temp dir
		args  func(dir string) []string     // the command line's FILE_OR_DIRs
		want  []string                      // refs, sorted
		err   string                        // in the error instead
		check func(t *testing.T, err error) // more about the error
	}{
		{"files and a directory", []string{"a/one.pdf", "a/Two.PDF", "a/notes.txt", "a/sub/three.pdf", "b/four.pdf"},
			func(d string) []string { return []string{d + "/a", d + "/b/four.pdf"} }, []string{"Two", "four", "one"}, "", nil},
		{"the same file twice", []string{"a/one.pdf"},
			func(d string) []string { return []string{d + "/a", d + "/a/one.pdf", d + "/a/../a/one.pdf"} }, []string{"one"}, "", nil},
		{"a symbolic link counts", []string{"a/one.pdf"},
			func(d string) []string {
				os.Mkdir(d+"/l", 0o755)
				os.Symlink(d+"/a/one.pdf", d+"/l/linked.pdf")
				return []string{d + "/l"}
			}, []string{"linked"}, "", nil},
		{"bad ref in a directory", []string{"a/good.pdf", "a/has space.pdf"},
			func(d string) []string { return []string{d + "/a"} }, nil, `ref "has space"`, nil},
		{"bad ref given", []string{"ไฟล์.pdf"},
			func(d string) []string { return []string{d + "/ไฟล์.pdf"} }, nil, "is not 1 to 128", nil},
		{"ref too long", []string{strings.Repeat("x", 129) + ".pdf"},
			func(d string) []string { return []string{d + "/" + strings.Repeat("x", 129) + ".pdf"} }, nil, "is not 1 to 128", nil},
		{"longest ref", []string{strings.Repeat("x", 128) + ".pdf"},
			func(d string) []string { return []string{d + "/" + strings.Repeat("x", 128) + ".pdf"} }, []string{strings.Repeat("x", 128)}, "", nil},
		{"dot ref", []string{"..pdf"}, func(d string) []string { return []string{d + "/..pdf"} }, nil, `ref "."`, nil},
		{"empty ref", []string{".pdf"}, func(d string) []string { return []string{d + "/.pdf"} }, nil, `ref ""`, nil},
		{"same ref in two directories", []string{"a/x.pdf", "b/x.pdf"},
			func(d string) []string { return []string{d + "/a", d + "/b"} }, nil, `same ref "x"`, nil},
		{"same ref, other case of extension", []string{"a/x.pdf", "b/x.PDF"},
			func(d string) []string { return []string{d + "/a/x.pdf", d + "/b/x.PDF"} }, nil, `same ref "x"`, nil},
		{"not a pdf", []string{"a/x.txt"}, func(d string) []string { return []string{d + "/a/x.txt"} }, nil, "not a .pdf file", nil},
		{"no pdf in a directory", []string{"a/x.txt"}, func(d string) []string { return []string{d + "/a"} }, nil, "no .pdf files", nil},
		{"missing", nil, func(d string) []string { return []string{d + "/nothing.pdf"} }, nil, "",
			func(t *testing.T, err error) {
				if !errors.Is(err, os.ErrNotExist) {
					t.Errorf("error %v is not ErrNotExist", err)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, c.files...)
			docs, err := Collect(c.args(dir))
			if c.err != "" || c.check != nil {
				if err == nil {
					t.Fatalf("no error; docs %v", docs)
				}
				if !strings.Contains(err.Error(), c.err) {
					t.Errorf("error %q does not mention %q", err, c.err)
				}
				if c.check != nil {
					c.check(t, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var refs []string
			for _, d := range docs {
				refs = append(refs, d.Ref)
			}
			if !slices.Equal(refs, c.want) {
				t.Errorf("refs %v, want %v", refs, c.want)
			}
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	base := func() KeyInput {
		return KeyInput{
			Server: "http://127.0.0.1:8080", Signer: "dev-registrar", Level: "B-LTA",
			Options: map[string]string{"reason": "รับรองผลการศึกษา", "location": "Bangkok"},
			Docs:    []Doc{{Ref: "a", Path: "/x/a.pdf", SHA256: "aa"}, {Ref: "b", Path: "/x/b.pdf", SHA256: "bb"}},
		}
	}
	baseKey, err := IdempotencyKey(base())
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^esigncli-v1-[0-9a-f]{64}$`).MatchString(baseKey) {
		t.Errorf("key %q", baseKey)
	}
	cases := []struct {
		name   string
		change func(*KeyInput)
		same   bool
	}{
		{"same arguments", func(*KeyInput) {}, true},
		{"documents in another order", func(k *KeyInput) { slices.Reverse(k.Docs) }, true},
		{"files elsewhere", func(k *KeyInput) { k.Docs[0].Path = "/elsewhere/a.pdf" }, true},
		{"server with a slash", func(k *KeyInput) { k.Server += "/" }, true},
		{"activation data", func(k *KeyInput) { k.Options["activation"] = "123456" }, true},
		{"another server", func(k *KeyInput) { k.Server = "https://esign.example" }, false},
		{"another signer", func(k *KeyInput) { k.Signer = "dev-official" }, false},
		{"another level", func(k *KeyInput) { k.Level = "B-LT" }, false},
		{"another reason", func(k *KeyInput) { k.Options["reason"] = "อนุมัติ" }, false},
		{"one more option", func(k *KeyInput) { k.Options["lock"] = "true" }, false},
		{"other bytes", func(k *KeyInput) { k.Docs[1].SHA256 = "cc" }, false},
		{"one more document", func(k *KeyInput) { k.Docs = append(k.Docs, Doc{Ref: "c", SHA256: "cc"}) }, false},
		{"one document less", func(k *KeyInput) { k.Docs = k.Docs[:1] }, false},
		{"renamed", func(k *KeyInput) { k.Docs[1].Ref = "b2" }, false},
		{"refs swapped", func(k *KeyInput) { k.Docs[0].SHA256, k.Docs[1].SHA256 = "bb", "aa" }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base()
			c.change(&in)
			key, err := IdempotencyKey(in)
			if err != nil {
				t.Fatal(err)
			}
			if (key == baseKey) != c.same {
				t.Errorf("same key: %v, want %v", key == baseKey, c.same)
			}
		})
	}
	t.Run("unhashed", func(t *testing.T) {
		in := base()
		in.Docs[0].SHA256 = ""
		if _, err := IdempotencyKey(in); err == nil {
			t.Error("no error")
		}
	})
}

// A full run saves every signed document and exits 0; a 503 with
// Retry-After is waited out; the activation data goes to the server and
// nowhere else. The same command again is the same batch and sends and
// fetches nothing; one more document is another batch.
func TestSignFullRun(t *testing.T) {
	h := newHarness(t)
	h.fake.unavailableOnce["doc-03"] = true
	in := makeDocs(t, 10)
	out := filepath.Join(t.TempDir(), "signed")
	act := filepath.Join(t.TempDir(), "pin")
	os.WriteFile(act, []byte(directPIN+"\n"), 0o600)
	args := []string{"sign", "-signer", "dev-director", "-level", "B-LTA", "-reason", "อนุมัติ", "-doc-number", "ศธ 0514/123",
		"-lock", "-activation-file", act, "-out", out, "-concurrency", "3", in}
	stdout, stderr, err := h.run(context.Background(), args...)
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	checkOut(t, out, in, refsN(10))
	accepted, downloads := h.fake.snapshot(h.fake.accepted), h.fake.snapshot(h.fake.downloads)
	for _, ref := range refsN(10) {
		if accepted[ref] != 1 || downloads[ref] != 1 {
			t.Errorf("%s: accepted %d times, downloaded %d times", ref, accepted[ref], downloads[ref])
		}
	}
	if times := h.fake.putTimes["doc-03"]; len(times) != 2 || times[1].Sub(times[0]) < 900*time.Millisecond {
		t.Errorf("doc-03 after a 503 with Retry-After: 1: PUTs at %v", times)
	}
	if len(h.fake.creates) != 1 {
		t.Fatalf("%d creates", len(h.fake.creates))
	}
	c := h.fake.creates[0]
	want := map[string]string{"signer": "dev-director", "level": "B-LTA", "reason": "อนุมัติ", "doc_number": "ศธ 0514/123", "lock": "true", "activation": directPIN}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("create %s = %q, want %q", k, c[k], v)
		}
	}
	if !strings.HasPrefix(c["idempotency_key"], "esigncli-v1-") {
		t.Errorf("idempotency_key %q", c["idempotency_key"])
	}
	if !strings.Contains(stdout, "done: 10 of 10 signed, 0 failed, 0 cancelled; 10 saved in "+out) {
		t.Errorf("stdout:\n%s", stdout)
	}

	if _, _, err := h.run(context.Background(), args...); err != nil {
		t.Fatal(err)
	}
	if len(h.fake.batches) != 1 || h.fake.creates[1]["idempotency_key"] != c["idempotency_key"] {
		t.Errorf("a second run made another batch")
	}
	if !maps2Equal(accepted, h.fake.snapshot(h.fake.accepted)) || !maps2Equal(downloads, h.fake.snapshot(h.fake.downloads)) {
		t.Errorf("a second run uploaded or downloaded again")
	}

	os.WriteFile(filepath.Join(in, "doc-11.pdf"), docContent(11, false), 0o644)
	if _, _, err := h.run(context.Background(), args...); err != nil {
		t.Fatal(err)
	}
	if len(h.fake.batches) != 2 {
		t.Errorf("one more document: %d batches, want 2", len(h.fake.batches))
	}
	checkOut(t, out, in, refsN(11))
}

func maps2Equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A run interrupted part-way, then run again: nothing the server
// accepted is uploaded again, and nothing saved is downloaded again.
func TestResume(t *testing.T) {
	cases := []struct {
		name string
		hook func(f *fakeServer, cancel func())
	}{
		{"interrupted while uploading", func(f *fakeServer, cancel func()) {
			f.afterUpload = func(n int) {
				if n == 4 {
					cancel()
				}
			}
		}},
		{"interrupted while downloading", func(f *fakeServer, cancel func()) {
			f.afterServe = func(n int) {
				if n == 3 {
					cancel()
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			in := makeDocs(t, 12)
			out := filepath.Join(t.TempDir(), "out")
			args := []string{"sign", "-signer", "dev-registrar", "-level", "B-LTA", "-out", out, "-concurrency", "2", in}
			ctx, cancel := context.WithCancel(context.Background())
			c.hook(h.fake, cancel)
			_, stderr, err := h.run(ctx, args...)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run: %v\n%s", err, stderr)
			}
			if !strings.Contains(err.Error(), "run the same command again") {
				t.Errorf("the error does not say how to resume: %v", err)
			}
			h.fake.quiesce(t)
			h.fake.mu.Lock()
			h.fake.afterUpload, h.fake.afterServe = nil, nil
			h.fake.mu.Unlock()

			// What the first run finished: accepted uploads, and files
			// saved (complete, as checkOut asserts of what is there).
			accepted1, served1 := h.fake.snapshot(h.fake.accepted), h.fake.snapshot(h.fake.downloads)
			var saved1 []string
			entries, _ := os.ReadDir(out)
			for _, e := range entries {
				if ref, ok := strings.CutSuffix(e.Name(), ".pdf"); ok && !strings.HasPrefix(ref, ".") {
					saved1 = append(saved1, ref)
				}
			}
			checkOut(t, out, in, saved1)
			if len(accepted1) == 0 || len(accepted1) == 12 && len(saved1) == 12 {
				t.Fatalf("the interruption came too early or too late: %d accepted, %d saved", len(accepted1), len(saved1))
			}

			stdout, stderr, err := h.run(context.Background(), args...)
			if err != nil {
				t.Fatalf("resumed run: %v\n%s\n%s", err, stdout, stderr)
			}
			checkOut(t, out, in, refsN(12))
			accepted, served := h.fake.snapshot(h.fake.accepted), h.fake.snapshot(h.fake.downloads)
			for _, ref := range refsN(12) {
				if accepted[ref] != 1 {
					t.Errorf("%s accepted %d times", ref, accepted[ref])
				}
			}
			for _, ref := range saved1 {
				if served[ref] != served1[ref] {
					t.Errorf("%s was saved by the first run and downloaded again", ref)
				}
			}
			if len(h.fake.batches) != 1 {
				t.Errorf("%d batches", len(h.fake.batches))
			}
		})
	}
}

var (
	uploadLine = regexp.MustCompile(`^batch (\S+): uploaded (\d+)/(\d+)$`)
	statusLine = regexp.MustCompile(`^batch (\S+): signed (\d+)/(\d+), failed (\d+), pending (\d+), downloaded (\d+), (\d+\.\d) docs/s, eta (\S+)$`)
)

// Without a terminal, progress is plain lines in the documented format.
func TestProgressPlain(t *testing.T) {
	h := newHarness(t)
	h.interval = 5 * time.Millisecond
	h.fake.signPerPoll = 1
	in := makeDocs(t, 20)
	_, stderr, err := h.run(context.Background(), "sign", "-signer", "dev-registrar", "-level", "B-B", "-out", t.TempDir(), in)
	if err != nil {
		t.Fatal(err)
	}
	var uploads, statuses [][]string
	for _, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "esign batch: "):
		case uploadLine.MatchString(line):
			uploads = append(uploads, uploadLine.FindStringSubmatch(line))
		case statusLine.MatchString(line):
			statuses = append(statuses, statusLine.FindStringSubmatch(line))
		default:
			t.Errorf("unexpected line %q", line)
		}
	}
	if len(uploads) == 0 || uploads[len(uploads)-1][2] != "20" || uploads[len(uploads)-1][3] != "20" {
		t.Errorf("upload lines %v", uploads)
	}
	if len(statuses) < 2 {
		t.Fatalf("%d status lines:\n%s", len(statuses), stderr)
	}
	prev := -1
	for _, m := range statuses {
		if m[1] != uploads[0][1] {
			t.Errorf("batch id %s, then %s", uploads[0][1], m[1])
		}
		signed, _ := strconv.Atoi(m[2])
		if signed < prev {
			t.Errorf("signed went back: %v", m[0])
		}
		prev = signed
		if m[8] != "-" {
			if _, err := time.ParseDuration(m[8]); err != nil {
				t.Errorf("eta %q: %v", m[8], err)
			}
		}
	}
	last := statuses[len(statuses)-1]
	if want := []string{"20", "20", "0", "0", "20"}; !slices.Equal(last[2:7], want) || last[8] != "0s" {
		t.Errorf("last line %q", last[0])
	}
}

// The plain lines come at most once an interval, a line that says
// nothing new is skipped, and the last one always comes.
func TestPlainProgressThrottle(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	p := newPlainProgress(&buf, "B1", time.Second, func() time.Time { return now })
	rate := 10.0
	st := Status{State: "running", Total: 10, Pending: 10, RatePerS: &rate}
	steps := []struct {
		at     time.Duration
		signed int
	}{{0, 0}, {400 * time.Millisecond, 1}, {800 * time.Millisecond, 2}, {1200 * time.Millisecond, 3}, {2500 * time.Millisecond, 3}, {2600 * time.Millisecond, 4}}
	for _, s := range steps {
		now = time.Unix(0, 0).Add(s.at)
		st.Signed, st.Pending = s.signed, 10-s.signed
		p.signing(st, s.signed)
	}
	now = now.Add(100 * time.Millisecond)
	st.State, st.Signed, st.Pending, st.RatePerS = "done", 10, 0, nil
	p.finish(st, 10)
	want := "batch B1: signed 0/10, failed 0, pending 10, downloaded 0, 10.0 docs/s, eta 1s\n" +
		"batch B1: signed 3/10, failed 0, pending 7, downloaded 3, 10.0 docs/s, eta 1s\n" +
		"batch B1: signed 4/10, failed 0, pending 6, downloaded 4, 10.0 docs/s, eta 1s\n" +
		"batch B1: signed 10/10, failed 0, pending 0, downloaded 10, 3.7 docs/s, eta 0s\n"
	if buf.String() != want {
		t.Errorf("got\n%swant\n%s", buf.String(), want)
	}
}

// On a terminal, progress is a bar.
func TestProgressTerminal(t *testing.T) {
	h := newHarness(t)
	h.terminal = true
	in := makeDocs(t, 5)
	_, stderr, err := h.run(context.Background(), "sign", "-signer", "dev-registrar", "-level", "B-B", "-out", t.TempDir(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "signing") || !strings.Contains(stderr, "100%") || !strings.Contains(stderr, "docs") {
		t.Errorf("no bar:\n%q", stderr)
	}
	if strings.Contains(stderr, ": signed 5/5,") {
		t.Errorf("plain lines on a terminal:\n%s", stderr)
	}
}

// Failed documents are listed with their codes, and the exit status says
// the batch is incomplete.
func TestFailedDocuments(t *testing.T) {
	h := newHarness(t)
	in := makeDocs(t, 6, 2, 5)
	out := t.TempDir()
	stdout, _, err := h.run(context.Background(), "sign", "-signer", "dev-registrar", "-level", "B-T", "-out", out, in)
	if !errors.Is(err, ErrIncomplete) {
		t.Fatalf("error %v, want ErrIncomplete", err)
	}
	if !strings.Contains(err.Error(), "2 of 6 documents not signed") {
		t.Errorf("error %q", err)
	}
	for _, ref := range []string{"doc-02", "doc-05"} {
		if want := "failed\t" + ref + "\tinvalid_pdf\tthe file is not a PDF: " + ref + "\n"; !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stdout, ": 4 of 6 signed, 2 failed, 0 cancelled; 4 saved") {
		t.Errorf("stdout:\n%s", stdout)
	}
	checkOut(t, out, in, refsN(6, 2, 5))
}

func TestConflicts(t *testing.T) {
	cases := []struct {
		name    string
		race    bool   // the other bytes come just before the upload: only the PUT finds out
		want    string // in the error
		uploads int    // accepted PUTs
	}{
		{"found in the listing, before any upload", false, "conflict with documents already in it", 0},
		{"answered 409 to the upload", true, "1 files were not accepted", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			other := map[string][]byte{"doc-01": []byte("%PDF-1.7 other bytes")}
			id := h.fake.seed(other)
			if c.race {
				id = h.fake.seed(nil)
				h.fake.raceRefs = other
			}
			in := makeDocs(t, 2)
			_, stderr, err := h.run(context.Background(), "sign", "-batch", id, "-out", t.TempDir(), in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q\n%s", err, c.want, stderr)
			}
			if !strings.Contains(stderr, "doc-01") || !strings.Contains(stderr, "conflict") && !strings.Contains(stderr, "other bytes") {
				t.Errorf("stderr does not name the conflict:\n%s", stderr)
			}
			if n := len(h.fake.snapshot(h.fake.accepted)); n != c.uploads {
				t.Errorf("%d uploads accepted, want %d", n, c.uploads)
			}
			if st := h.fake.batches[id].state; st != "open" {
				t.Errorf("batch %s after a conflict, want open", st)
			}
		})
	}
}

func TestStatusAndCancel(t *testing.T) {
	h := newHarness(t)
	id := h.fake.seed(map[string][]byte{"a": []byte("%PDF a"), "b": []byte("%PDF b")})

	stdout, _, err := h.run(context.Background(), "status", id)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"batch      " + id, "state      open", "signer     dev-registrar, level B-LTA", "documents  2: 0 signed, 0 failed, 2 pending, 0 cancelled", "finished   -"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _, err = h.run(context.Background(), "status", "-json", id)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || st["id"] != id || st["pending"] != 2.0 {
		t.Errorf("status -json: %v %s", err, stdout)
	}

	_, stderr, err := h.run(context.Background(), "cancel", id)
	if err != nil || !strings.Contains(stderr, "batch "+id+" cancelled: 0 of 2 signed, 2 cancelled") {
		t.Errorf("cancel: %v %s", err, stderr)
	}
	stdout, _, _ = h.run(context.Background(), "status", id)
	if !strings.Contains(stdout, "state      cancelled") {
		t.Errorf("status after cancel:\n%s", stdout)
	}
	_, _, err = h.run(context.Background(), "sign", "-batch", id, "-out", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("sign into a cancelled batch: %v", err)
	}
}

// Every error is a message with the server's code, or the usage text,
// and never a panic; local errors come before any upload.
func TestErrors(t *testing.T) {
	in := makeDocs(t, 2)
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "bad name.pdf"), []byte("%PDF"), 0o644)
	dup := t.TempDir()
	os.WriteFile(filepath.Join(dup, "doc-01.pdf"), []byte("%PDF other"), 0o644)
	otherKeyFile := filepath.Join(t.TempDir(), "other-key")
	os.WriteFile(otherKeyFile, []byte(otherKey), 0o600)
	wrongKeyFile := filepath.Join(t.TempDir(), "wrong-key")
	os.WriteFile(wrongKeyFile, []byte("esk_wrong_SECRET_0000"), 0o600)
	// -out in a temporary directory: the default, "signed", would be made
	// in the package's directory by the cases that get past the flags.
	out := filepath.Join(t.TempDir(), "signed")
	sign := []string{"sign", "-signer", "dev-registrar", "-level", "B-B", "-out", out}
	cases := []struct {
		name string
		args []string
		env  map[string]string // changes to the environment
		want string            // in the error; "" means the usage error
	}{
		{"no command", nil, nil, ""},
		{"unknown command", []string{"frobnicate"}, nil, ""},
		{"sign without signer", []string{"sign", "-level", "B-B", in}, nil, ""},
		{"sign without level", []string{"sign", "-signer", "dev-registrar", in}, nil, ""},
		{"sign without files", sign, nil, ""},
		{"unknown flag", append(slices.Clone(sign), "-key", testKey, in), nil, ""},
		{"bad concurrency", append(slices.Clone(sign), "-concurrency", "0", in), nil, ""},
		{"options with -batch", []string{"sign", "-batch", "01JX", "-reason", "x", in}, nil, ""},
		{"status without id", []string{"status"}, nil, ""},
		{"status with two ids", []string{"status", "a", "b"}, nil, ""},
		{"bad ref", append(slices.Clone(sign), bad), nil, `ref "bad name"`},
		{"two files with one ref", append(slices.Clone(sign), in, dup), nil, `same ref "doc-01"`},
		{"no key file", append(slices.Clone(sign), in), map[string]string{"ESIGN_API_KEY_FILE": ""}, "-key-file"},
		{"missing key file", append(slices.Clone(sign), in), map[string]string{"ESIGN_API_KEY_FILE": "/nonexistent/key"}, "read API key file"},
		{"user info in the server URL", append(slices.Clone(sign), in), map[string]string{"ESIGN_SERVER": "http://u:" + testKey + "@127.0.0.1:1"}, "no user or password"},
		{"not http", append(slices.Clone(sign), in), map[string]string{"ESIGN_SERVER": "ftp://127.0.0.1"}, "http:// or https://"},
		{"out holds the inputs", append(slices.Clone(sign), "-out", in, in), nil, "holds input PDFs"},
		{"wrong key", append(slices.Clone(sign), in), map[string]string{"ESIGN_API_KEY_FILE": wrongKeyFile}, "unauthenticated: missing or unknown API key (HTTP 401)"},
		{"activation refused", []string{"sign", "-signer", "dev-director", "-level", "B-B", "-out", out, in}, nil, "activation_failed"},
		{"another client's batch", []string{"status", "BATCH"}, map[string]string{"ESIGN_API_KEY_FILE": otherKeyFile}, "not_found: no such batch (HTTP 404)"},
		{"unknown batch", []string{"cancel", "01JNOPE"}, nil, "not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			id := h.fake.seed(map[string][]byte{"x": []byte("%PDF x")})
			for k, v := range c.env {
				h.env[k] = v
			}
			args := slices.Clone(c.args)
			for i, a := range args {
				if a == "BATCH" {
					args[i] = id
				}
			}
			_, stderr, err := h.run(context.Background(), args...)
			switch {
			case err == nil:
				t.Fatal("no error")
			case c.want == "":
				if !errors.Is(err, ErrUsage) || !strings.Contains(stderr, "usage: esign batch") {
					t.Errorf("error %v, stderr %q; want the usage", err, stderr)
				}
			case !strings.Contains(err.Error(), c.want):
				t.Errorf("error %q does not mention %q", err, c.want)
			}
			if n := len(h.fake.snapshot(h.fake.accepted)); n != 0 {
				t.Errorf("%d documents were uploaded", n)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{" 0 ", 0},
		{"-1", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if got := parseRetryAfter(c.in, now); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// A connection that breaks is tried again; so is a 507, and an answer
// that is not 2xx otherwise comes back as an APIError.
func TestClientRetries(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		switch n {
		case 1: // a dropped connection
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		case 2:
			w.Header().Set("Retry-After", "0")
			fail(w, 507, "storage_full", "no room")
		case 3:
			answer(w, 200, map[string]any{"id": "B", "state": "running", "total": 3})
		default:
			w.Header().Set("Location", "http://elsewhere/")
			w.WriteHeader(302)
		}
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, Key: testKey, HTTP: newHTTPClient(1), Retry: Retry{MinBackoff: time.Millisecond}}
	st, err := c.Status(context.Background(), "B")
	if err != nil || st.ID != "B" || st.Total != 3 || calls != 3 {
		t.Fatalf("status %+v, %v after %d calls", st, err, calls)
	}
	_, err = c.Status(context.Background(), "B")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 302 || !strings.Contains(err.Error(), "not followed") {
		t.Errorf("redirect: %v", err)
	}

	c = &Client{BaseURL: "http://127.0.0.1:1", Key: testKey, HTTP: newHTTPClient(1), Retry: Retry{Attempts: 2, MinBackoff: time.Millisecond}}
	if _, err := c.Status(context.Background(), "B"); err == nil || strings.Contains(err.Error(), testKey) {
		t.Errorf("no server: %v", err)
	}
}

// A ref from the server becomes a file name only if it is a valid ref:
// a listing that names "../x" writes nothing outside -out. A batch id
// with control characters is refused before it is printed.
func TestHostileListing(t *testing.T) {
	for _, c := range []struct {
		name, id string
		want     error  // errors.Is
		text     string // in the error or stdout
	}{
		{"batch id", "B\x1b[2J", nil, "not usable"},
		{"ref", "B", ErrIncomplete, "unsaved\t../escape\tlocal\tthe server listed a ref"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case strings.HasSuffix(r.URL.Path, "/documents") && r.URL.Query().Get("state") == "signed":
					answer(w, 200, map[string]any{"documents": []map[string]string{{"ref": "../escape", "state": "signed"}}, "next": ""})
				case strings.HasSuffix(r.URL.Path, "/documents"):
					answer(w, 200, map[string]any{"documents": []any{}, "next": ""})
				case strings.Contains(r.URL.Path, "/documents/"):
					w.Write([]byte("%PDF hostile"))
				default:
					answer(w, 200, map[string]any{"id": c.id, "state": "done", "total": 1, "signed": 1})
				}
			}))
			defer srv.Close()
			h := newHarness(t)
			h.env["ESIGN_SERVER"] = srv.URL
			parent := t.TempDir()
			stdout, _, err := h.run(context.Background(), "sign", "-batch", "B", "-out", filepath.Join(parent, "out"))
			if err == nil || c.want != nil && !errors.Is(err, c.want) || !strings.Contains(err.Error()+stdout, c.text) {
				t.Errorf("error %v, stdout %q; want %q", err, stdout, c.text)
			}
			if _, err := os.Stat(filepath.Join(parent, "escape.pdf")); err == nil {
				t.Error("a file was written outside -out")
			}
		})
	}
}
