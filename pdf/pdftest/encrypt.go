package pdftest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Encryption is one way qpdf encrypts a file for the tests: a tool we did
// not write makes the encrypted inputs.
type Encryption struct {
	Name        string
	User, Owner string
	Args        []string // qpdf's key length and restrictions
}

// Encryptions covers every standard handler revision qpdf writes, with
// and without a user password.
var Encryptions = []Encryption{
	{Name: "R2-RC4-40", Owner: "own", Args: []string{"40"}},
	{Name: "R3-RC4-128", Owner: "own", Args: []string{"128", "--use-aes=n"}},
	{Name: "R3-RC4-128-user", User: "usr", Owner: "own", Args: []string{"128", "--use-aes=n"}},
	{Name: "R4-AES-128", Owner: "own", Args: []string{"128", "--use-aes=y"}},
	{Name: "R4-AES-128-user", User: "usr", Owner: "own", Args: []string{"128", "--use-aes=y"}},
	{Name: "R5-AES-256", Owner: "own", Args: []string{"256", "--force-R5"}},
	{Name: "R6-AES-256", Owner: "own", Args: []string{"256"}},
	{Name: "R6-AES-256-user", User: "usr", Owner: "own", Args: []string{"256"}},
}

// QPDF encrypts in with qpdf, skipping the test when qpdf is missing.
func QPDF(tb testing.TB, in []byte, e Encryption) []byte {
	tb.Helper()
	if _, err := exec.LookPath("qpdf"); err != nil {
		tb.Skip("qpdf not installed")
	}
	dir := tb.TempDir()
	src, dst := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(src, in, 0o600); err != nil {
		tb.Fatal(err)
	}
	args := []string{"--allow-weak-crypto", "--encrypt", e.User, e.Owner}
	args = append(args, e.Args...)
	args = append(args, "--", src, dst)
	if out, err := exec.Command("qpdf", args...).CombinedOutput(); err != nil {
		tb.Fatalf("qpdf %v: %v\n%s", args, err, out)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// QPDFDecrypt decrypts in with qpdf and password.
func QPDFDecrypt(tb testing.TB, in []byte, password string) []byte {
	tb.Helper()
	dir := tb.TempDir()
	src, dst := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(src, in, 0o600); err != nil {
		tb.Fatal(err)
	}
	if out, err := exec.Command("qpdf", "--password="+password, "--decrypt", src, dst).CombinedOutput(); err != nil {
		tb.Fatalf("qpdf --decrypt: %v\n%s", err, out)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// QPDFCheck runs qpdf --check on b with password, failing the test on any
// error or warning.
func QPDFCheck(tb testing.TB, b []byte, password string) {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "check.pdf")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command("qpdf", "--check", "--password="+password, p).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("WARNING")) {
		tb.Fatalf("qpdf --check: %v\n%s", err, out)
	}
}
