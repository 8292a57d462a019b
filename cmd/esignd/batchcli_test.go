package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBatchCLIResume: `esign batch sign` against the real daemon is
// killed (SIGKILL) part-way, then run again with the same arguments. The
// second run finds the same batch, uploads nothing the server holds,
// fetches only what is not saved yet, and leaves every signed file
// complete. Its progress, on a pipe (not a terminal), is plain lines.
func TestBatchCLIResume(t *testing.T) {
	bin := buildDaemon(t)
	cli := filepath.Join(filepath.Dir(bin), "esign")
	// One worker at B-LTA: slow enough to stop the client mid-batch.
	d := startDaemon(t, bin, t.TempDir(), "ESIGN_BATCH_WORKERS=1")
	src, err := os.ReadFile("../../testdata/corpus/transcript-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}
	in, out := t.TempDir(), t.TempDir()
	const n = 40
	inputs := map[string][]byte{}
	for i := range n {
		ref := fmt.Sprintf("64%08d", i)
		b := append(bytes.Clone(src), fmt.Sprintf("\n%% student %d\n", i)...)
		inputs[ref] = b
		if err := os.WriteFile(filepath.Join(in, ref+".pdf"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte(d.key(t, "dev-api-key")+"\n"), 0o600)
	command := func() *exec.Cmd {
		cmd := exec.Command(cli, "batch", "sign", "-signer", "dev-registrar", "-level", "B-LTA", "-reason", "รับรองผลการศึกษา",
			"-out", out, in)
		cmd.Env = append(os.Environ(), "ESIGN_SERVER="+d.base, "ESIGN_API_KEY_FILE="+keyFile)
		return cmd
	}

	// First run: killed once some results are saved and others are not.
	first := command()
	stderr, _ := first.StderrPipe()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(2 * time.Minute) // only catches a hang
	var progress []string
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the client ended before it could be killed:\n%s", strings.Join(progress, "\n"))
			}
			progress = append(progress, l)
		case <-deadline:
			t.Fatal("no result saved in time")
		case <-time.After(20 * time.Millisecond):
		}
		if saved := pdfs(t, out); saved >= 3 {
			if saved == n {
				t.Fatal("every result was saved before the kill: the batch is too fast for this test")
			}
			break wait
		}
	}
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	savedBefore := pdfs(t, out)

	// Second run: the same arguments finish the job.
	second := command()
	var stdout, errOut bytes.Buffer
	second.Stdout, second.Stderr = &stdout, &errOut
	if err := second.Run(); err != nil {
		t.Fatalf("second run: %v\n%s\n%s", err, stdout.String(), errOut.String())
	}
	if !strings.Contains(errOut.String(), "0 to upload") {
		t.Errorf("the second run meant to upload again:\n%s", errOut.String())
	}

	// The non-terminal progress of both runs: plain lines in the
	// documented format, the last of them the final count.
	progress = append(progress, strings.Split(strings.TrimSpace(errOut.String()), "\n")...)
	status := regexp.MustCompile(`^batch [0-9a-f]+: signed \d+/\d+, failed \d+, pending \d+, downloaded \d+, \d+\.\d docs/s, eta (\S+)$`)
	uploaded := regexp.MustCompile(`^batch [0-9a-f]+: uploaded \d+/\d+$`)
	var statusLines int
	for _, l := range progress {
		switch {
		case status.MatchString(l):
			statusLines++
		case uploaded.MatchString(l), strings.HasPrefix(l, "esign batch: "):
		default:
			t.Errorf("unexpected progress line %q", l)
		}
		if strings.Contains(l, d.key(t, "dev-api-key")) {
			t.Fatal("the API key was printed")
		}
	}
	if last := progress[len(progress)-1]; statusLines == 0 || !strings.Contains(last, fmt.Sprintf("signed %d/%d, failed 0, pending 0, downloaded %d,", n, n, n)) {
		t.Errorf("no final status line:\n%s", strings.Join(progress, "\n"))
	}
	if got := pdfs(t, out); got != n {
		t.Fatalf("%d results saved, want %d", got, n)
	}
	for ref, b := range inputs {
		signed, err := os.ReadFile(filepath.Join(out, ref+".pdf"))
		if err != nil || !bytes.HasPrefix(signed, b) || len(signed) <= len(b) || !bytes.HasSuffix(bytes.TrimSpace(signed), []byte("%%EOF")) {
			t.Fatalf("%s: not the input with a complete signed update (%v)", ref, err)
		}
	}

	// On the server: every document uploaded once (201), none again
	// (200), and each result fetched once, but for those the kill cut
	// short (at most the client's concurrency, 4).
	d.stop(t)
	var puts, reputs, gets int
	sc := bufio.NewScanner(bytes.NewReader(d.log.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Msg, Method, Path string
			Status            int
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Msg != "request" {
			continue
		}
		switch {
		case l.Method == "PUT" && l.Status == 201:
			puts++
		case l.Method == "PUT":
			reputs++
		case l.Method == "GET" && l.Path == "/api/v1/batches/:id/documents/:ref" && l.Status == 200:
			gets++
		}
	}
	if puts != n || reputs != 0 {
		t.Errorf("%d documents created and %d put again, want %d and 0", puts, reputs, n)
	}
	if gets < n || gets > n+4 {
		t.Errorf("%d downloads for %d documents (%d saved before the kill)", gets, n, savedBefore)
	}
}

// pdfs counts the complete results in dir: ref.pdf names only.
func pdfs(t *testing.T, dir string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}
