package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"esign/config"
	"esign/internal/extverify"
	"esign/pdf/pdftest"
)

// The CLI tests run the command in-process through run(), with the
// development stack in a temporary data directory. SoftHSM reads its
// configuration once per process, so one data directory serves them all.
func TestCLI(t *testing.T) {
	dataDir := t.TempDir()
	addr := freeAddr(t)
	env := map[string]string{"ESIGN_DATA_DIR": dataDir, "ESIGN_ADDR": addr}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	var stdout, stderr bytes.Buffer

	if err := run(ctx, []string{"dev", "init"}, &stdout, &stderr, getenv); err != nil {
		t.Fatalf("dev init: %v\n%s", err, stderr.String())
	}
	for _, f := range []string{"pki/root.pem", "dev-api-key", "dev-api-key-2", "secrets/user-pin"} {
		if _, err := os.Stat(filepath.Join(dataDir, f)); err != nil {
			t.Errorf("dev init did not make %s: %v", f, err)
		}
	}
	if !strings.Contains(stdout.String(), "dev-official") {
		t.Errorf("dev init output lists no credentials:\n%s", stdout.String())
	}

	in := "../../testdata/corpus/memo-xrefstream-objstm.pdf"
	out := filepath.Join(t.TempDir(), "signed.pdf")
	t.Run("sign", func(t *testing.T) {
		stdout.Reset()
		stderr.Reset()
		err := run(ctx, []string{"sign", "-dev", "-signer", "dev-registrar", "-level", "B-B", "-reason", "รับรองผลการศึกษา", in, out}, &stdout, &stderr, getenv)
		if err != nil {
			t.Fatalf("sign: %v\n%s", err, stderr.String())
		}
		if err := extverify.QPDFCheck(out); err != nil {
			t.Fatal(err)
		}
		// pdfsig asks the OCSP responder the certificate names; the
		// development services ran only while the command did, so serve
		// them again for the check.
		cfg, _ := config.FromEnv(getenv)
		cfg.Dev = true
		svc, err := openService(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		stop, err := serveDevServices(addr, svc.API.Handler())
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		sigs := extverify.PDFSig(t, extverify.NSSDBFromPEM(t, filepath.Join(dataDir, "pki", "root.pem")), out)
		if len(sigs) != 1 || !sigs[0].Valid || !sigs[0].Trusted {
			t.Fatalf("pdfsig: %+v", sigs)
		}

		// esign verify: a summary for people, the report for machines,
		// and an exit status that says whether the document passed.
		stdout.Reset()
		if err := run(ctx, []string{"verify", "-dev", out}, &stdout, &stderr, getenv); err != nil {
			t.Fatalf("verify: %v\n%s", err, stdout.String())
		}
		if !strings.Contains(stdout.String(), "TOTAL-PASSED") || !strings.Contains(stdout.String(), "นายทะเบียน มหาวิทยาลัยตัวอย่าง") {
			t.Errorf("verify summary:\n%s", stdout.String())
		}
		stdout.Reset()
		if err := run(ctx, []string{"verify", "-dev", "-json", out}, &stdout, &stderr, getenv); err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Document struct{ Indication string } `json:"document"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || rep.Document.Indication != "TOTAL-PASSED" {
			t.Errorf("verify -json: %v %s", err, stdout.String())
		}
		data, _ := os.ReadFile(out)
		data[len(data)/3] ^= 1
		tampered := filepath.Join(t.TempDir(), "tampered.pdf")
		os.WriteFile(tampered, data, 0o644)
		if err := run(ctx, []string{"verify", "-dev", tampered}, &stdout, &stderr, getenv); !errors.Is(err, errNotPassed) {
			t.Errorf("verify of a tampered file: %v", err)
		}
	})

	// An encrypted input: the password comes from a file, for sign and
	// verify alike, and the output keeps the encryption.
	plain, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	encIn := filepath.Join(t.TempDir(), "encrypted.pdf")
	os.WriteFile(encIn, pdftest.QPDF(t, plain, pdftest.Encryption{User: "usr-ลับ", Owner: "own", Args: []string{"256"}}), 0o600)
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("usr-ลับ\n"), 0o600)
	encOut := filepath.Join(t.TempDir(), "encrypted-signed.pdf")
	t.Run("encrypted", func(t *testing.T) {
		stdout.Reset()
		stderr.Reset()
		if err := run(ctx, []string{"sign", "-dev", "-signer", "dev-registrar", "-level", "B-B", "-password-file", pwFile, encIn, encOut}, &stdout, &stderr, getenv); err != nil {
			t.Fatalf("sign: %v\n%s", err, stderr.String())
		}
		if err := extverify.QPDFCheck(encOut, "--password=usr-ลับ"); err != nil {
			t.Fatal(err)
		}
		stdout.Reset()
		if err := run(ctx, []string{"verify", "-dev", "-password-file", pwFile, encOut}, &stdout, &stderr, getenv); err != nil && !errors.Is(err, errNotPassed) {
			t.Fatalf("verify: %v\n%s", err, stdout.String())
		}
		if !strings.Contains(stdout.String(), "encrypted: Standard R6 AES-256") {
			t.Errorf("verify summary:\n%s", stdout.String())
		}
		if err := run(ctx, []string{"verify", "-dev", encOut}, &stdout, &stderr, getenv); err == nil || !strings.Contains(err.Error(), "password") {
			t.Errorf("verify without the password: %v", err)
		}
	})

	bad := filepath.Join(t.TempDir(), "bad.pdf")
	os.WriteFile(bad, []byte("%PDF-1.7\ngarbage"), 0o644)
	cases := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"no args", []string{}, ""},
		{"unknown command", []string{"frobnicate"}, ""},
		{"sign without signer", []string{"sign", "-dev", in, out + ".x"}, ""},
		{"sign bad level", []string{"sign", "-dev", "-signer", "dev-official", "-level", "B-Z", in, out + ".x"}, "level"},
		{"sign garbage", []string{"sign", "-dev", "-signer", "dev-official", "-level", "B-B", bad, out + ".x"}, "invalid PDF"},
		{"sign missing file", []string{"sign", "-dev", "-signer", "dev-official", "-level", "B-B", "/nonexistent.pdf", out + ".x"}, "no such file"},
		{"sign in place", []string{"sign", "-dev", "-signer", "dev-official", in, in}, "must differ"},
		{"sign encrypted without its password", []string{"sign", "-dev", "-signer", "dev-official", "-level", "B-B", encIn, out + ".x"}, "needs a password"},
		{"sign encrypted with a missing password file", []string{"sign", "-dev", "-signer", "dev-official", "-level", "B-B", "-password-file", "/nonexistent", encIn, out + ".x"}, "password file"},
		{"sign unknown credential", []string{"sign", "-dev", "-signer", "nobody", "-level", "B-B", in, out + ".x"}, "not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stderr.Reset()
			err := run(ctx, c.args, &stdout, &stderr, getenv)
			if err == nil {
				t.Fatal("no error")
			}
			if c.want != "" && !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
			if _, statErr := os.Stat(out + ".x"); statErr == nil {
				t.Error("a failed command left an output file")
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
