package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"esign/internal/extverify"
	"esign/pdf/pdftest"
)

// TestMain lets the tests run esign as a child process of its own: the
// test binary re-executed with ESIGN_CLI_CHILD=1 is esign. A child has
// its own SoftHSM configuration, and can be killed.
func TestMain(m *testing.M) {
	if os.Getenv("ESIGN_CLI_CHILD") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is a development stack in a data directory, driven through
// esign processes.
type child struct {
	t             *testing.T
	dataDir, addr string
}

func newChild(t *testing.T) *child {
	t.Helper()
	c := &child{t: t, dataDir: t.TempDir(), addr: freeAddr(t)}
	if out, err := c.run("dev", "init"); err != nil {
		t.Fatalf("dev init: %v\n%s", err, out)
	}
	return c
}

func (c *child) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "ESIGN_CLI_CHILD=1", "ESIGN_DATA_DIR="+c.dataDir, "ESIGN_ADDR="+c.addr)
	return cmd
}

func (c *child) run(args ...string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = c.cmd().Env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *child) sign(in, out, level string) {
	c.t.Helper()
	if o, err := c.run("sign", "-dev", "-signer", "dev-official", "-level", level, in, out); err != nil {
		c.t.Fatalf("sign: %v\n%s", err, o)
	}
}

// TestExtendCommand: esign extend writes a B-LTA (or B-LT) file that
// our verifier passes and qpdf accepts, refuses broken input with the
// verifier's reasons and a non-zero exit, and leaves no output then.
func TestExtendCommand(t *testing.T) {
	c := newChild(t)
	dir := t.TempDir()
	memo := "../../testdata/corpus/memo-chromium.pdf"
	bt := filepath.Join(dir, "bt.pdf")
	c.sign(memo, bt, "B-T")
	for _, level := range []string{"B-LT", "B-LTA"} {
		out := filepath.Join(dir, level+".pdf")
		if o, err := c.run("extend", "-dev", "-level", level, bt, out); err != nil {
			t.Fatalf("extend -level %s: %v\n%s", level, err, o)
		}
		if err := extverify.QPDFCheck(out); err != nil {
			t.Error(err)
		}
		o, err := c.run("verify", "-dev", out)
		want := "PAdES-BASELINE-" + strings.TrimPrefix(level, "B-")
		if err != nil || !strings.Contains(o, "TOTAL-PASSED") || !strings.Contains(o, "level:       "+want+"\n") {
			t.Errorf("verify %s: %v\n%s", level, err, o)
		}
	}
	tampered := filepath.Join(dir, "tampered.pdf")
	data, _ := os.ReadFile(bt)
	data[len(data)/4] ^= 1
	os.WriteFile(tampered, data, 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"tampered", []string{"extend", "-dev", tampered, filepath.Join(dir, "x1.pdf")}, "not extendable"},
		{"unsigned", []string{"extend", "-dev", memo, filepath.Join(dir, "x2.pdf")}, "no signature"},
		{"bad level", []string{"extend", "-dev", "-level", "B-T", bt, filepath.Join(dir, "x3.pdf")}, "want B-LT or B-LTA"},
		{"in place", []string{"extend", "-dev", bt, bt}, "must differ"},
		{"missing", []string{"extend", "-dev", filepath.Join(dir, "none.pdf"), filepath.Join(dir, "x4.pdf")}, "no such file"},
		{"no args", []string{"extend"}, "usage: esign extend"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := c.run(tc.args...)
			if err == nil || !strings.Contains(o, tc.want) {
				t.Errorf("err %v, output %q; want a failure naming %q", err, o, tc.want)
			}
			if m, _ := filepath.Glob(filepath.Join(dir, "x*.pdf")); len(m) > 0 {
				t.Errorf("a failed extension left %v", m)
			}
		})
	}
}

// TestRenewCommand: -dry-run lists the files due and only those; a real
// run renews them in place and leaves the rest; a failure makes the exit
// status non-zero; a run killed while writing leaves each file whole.
func TestRenewCommand(t *testing.T) {
	c := newChild(t)
	memo := "../../testdata/corpus/memo-chromium.pdf"
	archive := t.TempDir()
	// Development signer certificates last 3 years, TSA certificates 5:
	// within 4 years the B-T file (signer's) is due, the B-LTA one
	// (TSA's) is not.
	bt, lta := filepath.Join(archive, "a-bt.pdf"), filepath.Join(archive, "sub", "b-lta.pdf")
	os.Mkdir(filepath.Join(archive, "sub"), 0o755)
	c.sign(memo, bt, "B-T")
	c.sign(memo, lta, "B-LTA")
	btData, _ := os.ReadFile(bt)
	ltaData, _ := os.ReadFile(lta)
	const fourYears = "35040h"

	t.Run("dry run", func(t *testing.T) {
		o, err := c.run("renew", "-dry-run", "-within", fourYears, archive)
		if err != nil {
			t.Fatalf("%v\n%s", err, o)
		}
		if !strings.Contains(o, "would renew "+bt+": the signer certificate") || strings.Contains(o, "would renew "+lta) ||
			!strings.Contains(o, "would renew 1, not due 1, failed 0") {
			t.Errorf("dry run output:\n%s", o)
		}
		o, _ = c.run("renew", "-dry-run", "-within", "1h", archive)
		if !strings.Contains(o, "would renew 0, not due 2") {
			t.Errorf("dry run within an hour:\n%s", o)
		}
		o, _ = c.run("renew", "-dry-run", "-within", "876000h", archive)
		if !strings.Contains(o, "would renew 2, not due 0") || !strings.Contains(o, "TSA certificate") {
			t.Errorf("dry run within a century:\n%s", o)
		}
		if now, _ := os.ReadFile(bt); !bytes.Equal(now, btData) {
			t.Error("a dry run changed a file")
		}
	})

	t.Run("renew", func(t *testing.T) {
		o, err := c.run("renew", "-dev", "-within", fourYears, archive)
		if err != nil {
			t.Fatalf("%v\n%s", err, o)
		}
		if !strings.Contains(o, "renewed 1, not due 1, failed 0") {
			t.Errorf("renew output:\n%s", o)
		}
		now, _ := os.ReadFile(bt)
		if len(now) <= len(btData) || !bytes.Equal(now[:len(btData)], btData) {
			t.Error("the due file was not renewed by an incremental update")
		}
		if now, _ := os.ReadFile(lta); !bytes.Equal(now, ltaData) {
			t.Error("the file not due was changed")
		}
		if o, err := c.run("verify", "-dev", bt); err != nil || !strings.Contains(o, "PAdES-BASELINE-LTA") {
			t.Errorf("renewed file: %v\n%s", err, o)
		}
		// Now its proof rests on the TSA certificate: not due any more.
		if o, _ := c.run("renew", "-dry-run", "-within", fourYears, bt); !strings.Contains(o, "would renew 0, not due 1") {
			t.Errorf("after renewal:\n%s", o)
		}
	})

	t.Run("failure", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "broken.pdf")
		os.WriteFile(bad, []byte("%PDF-1.7\nnot really"), 0o644)
		o, err := c.run("renew", "-dev", "-within", fourYears, bad, lta)
		if err == nil || !strings.Contains(o, "renewed 0, not due 1, failed 1") || !strings.Contains(o, "failed "+bad) {
			t.Errorf("err %v:\n%s", err, o)
		}
	})

	t.Run("password", func(t *testing.T) {
		dir := t.TempDir()
		plain, _ := os.ReadFile(memo)
		locked := filepath.Join(dir, "locked.pdf")
		os.WriteFile(locked, pdftest.QPDF(t, plain, pdftest.Encryption{User: "usr", Owner: "own", Args: []string{"256"}}), 0o644)
		pwFile := filepath.Join(dir, "pw")
		os.WriteFile(pwFile, []byte("usr\n"), 0o600)
		signed := filepath.Join(dir, "signed.pdf")
		if o, err := c.run("sign", "-dev", "-signer", "dev-official", "-level", "B-T", "-password-file", pwFile, locked, signed); err != nil {
			t.Fatalf("sign: %v\n%s", err, o)
		}
		o, err := c.run("renew", "-dev", "-within", fourYears, signed)
		if err == nil || !strings.Contains(o, "failed 1") || !strings.Contains(o, "password_required") || strings.Contains(o, "invalid PDF") {
			t.Errorf("without the password: %v\n%s", err, o)
		}
		o, err = c.run("renew", "-dev", "-within", fourYears, "-password-file", pwFile, signed)
		if err != nil || !strings.Contains(o, "renewed 1, not due 0, failed 0") {
			t.Fatalf("with the password: %v\n%s", err, o)
		}
		if o, err := c.run("verify", "-dev", "-password-file", pwFile, signed); err != nil || !strings.Contains(o, "PAdES-BASELINE-LTA") {
			t.Errorf("renewed file: %v\n%s", err, o)
		}
	})

	t.Run("killed mid-write", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "k.pdf")
		hits := 0
		for attempt := 0; attempt < 4; attempt++ {
			orig, _ := os.ReadFile(lta)
			os.WriteFile(target, orig, 0o644)
			cmd := c.cmd("renew", "-dev", "-within", "876000h", target)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// SIGKILL as soon as the temporary file shows: the write, the
			// sync or the rename is under way.
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			killed := false
			deadline := time.Now().Add(90 * time.Second)
		poll:
			for time.Now().Before(deadline) {
				select {
				case <-done:
					break poll
				default:
				}
				if m, _ := filepath.Glob(filepath.Join(filepath.Dir(target), ".k.pdf.tmp*")); len(m) > 0 {
					cmd.Process.Signal(syscall.SIGKILL)
					killed = true
					<-done
					break
				}
			}
			if killed {
				hits++
			}
			now, err := os.ReadFile(target)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case bytes.Equal(now, orig):
			case len(now) > len(orig) && bytes.Equal(now[:len(orig)], orig):
				if err := extverify.QPDFCheck(target); err != nil {
					t.Errorf("attempt %d: renewed file broken: %v", attempt, err)
				}
				if o, err := c.run("verify", "-dev", target); err != nil {
					t.Errorf("attempt %d: renewed file does not pass: %v\n%s", attempt, err, o)
				}
			default:
				t.Fatalf("attempt %d: the file is neither the original nor a whole renewal (%d bytes, was %d)", attempt, len(now), len(orig))
			}
		}
		t.Logf("%d of 4 runs killed while the temporary file existed", hits)
		// Left alone, the same run replaces the file wholly.
		if o, err := c.run("renew", "-dev", "-within", "876000h", target); err != nil || !strings.Contains(o, "renewed 1") {
			t.Fatalf("uninterrupted renewal: %v\n%s", err, o)
		}
		if o, err := c.run("verify", "-dev", target); err != nil || strings.Count(o, "document-timestamp") != 2 {
			t.Errorf("renewed file: %v\n%s", err, o)
		}
		// A leftover temporary file is not taken for a PDF of the archive.
		if o, err := c.run("renew", "-dry-run", "-within", "1h", filepath.Dir(target)); err != nil || !strings.Contains(o, "not due 1") {
			t.Errorf("after kills: %v\n%s", err, o)
		}
	})
}
