package keyscli_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"esign/hsm"
	"esign/hsm/hsmtest"
	"esign/hsm/keyscli"
)

// cli runs keyscli.Run with an environment given as a map, so the test never
// touches the process environment.
type cli struct {
	t   *testing.T
	env map[string]string
	pin string // to check it never appears in output
}

func (c *cli) run(args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	err = keyscli.Run(context.Background(), args, &out, &errOut, func(k string) string { return c.env[k] })
	if c.pin != "" && (strings.Contains(out.String(), c.pin) || strings.Contains(errOut.String(), c.pin) ||
		(err != nil && strings.Contains(err.Error(), c.pin))) {
		c.t.Fatalf("keys %v printed the PIN", args)
	}
	return out.String(), errOut.String(), err
}

func (c *cli) mustRun(args ...string) string {
	c.t.Helper()
	out, stderr, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("keys %v: %v\nstderr: %s", args, err, stderr)
	}
	return out
}

// newCLI makes a fresh token and an environment that selects it, with the
// PIN in a file.
func newCLI(t *testing.T, label string) (*cli, hsm.Config) {
	cfg := hsmtest.NewTokenConfig(t, label)
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(cfg.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cli{t: t, pin: cfg.PIN, env: map[string]string{
		keyscli.EnvModule:  hsmtest.ModulePath,
		keyscli.EnvToken:   cfg.TokenLabel,
		keyscli.EnvPINFile: pinFile,
	}}, cfg
}

func TestEndToEnd(t *testing.T) {
	c, cfg := newCLI(t, "cli-e2e")
	dir := t.TempDir()

	// generate: the default algorithm is RSA-3072.
	out := c.mustRun("generate", "--label", "official")
	if !strings.Contains(out, `Generated RSA-3072 key "official"`) || !strings.Contains(out, "BEGIN PUBLIC KEY") {
		t.Fatalf("generate output:\n%s", out)
	}
	block, _ := pem.Decode([]byte(out[strings.Index(out, "-----BEGIN"):]))
	if block == nil {
		t.Fatal("no PEM public key in output")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	c.mustRun("generate", "--label", "spare", "--alg", "ECDSA-P256")

	// csr: verified by openssl, Thai CN intact.
	const cn = "นางสาวสมศรี ใจดี"
	csrFile := filepath.Join(dir, "official.csr")
	c.mustRun("csr", "--label", "official", "--subject-cn", cn, "--subject-o", "กรมทดสอบ", "--subject-ou", "IT", "--subject-c", "TH", "--out", csrFile)
	cmd := exec.Command("openssl", "req", "-in", csrFile, "-verify", "-noout", "-text", "-nameopt", "utf8")
	text, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl req -verify: %v\n%s", err, text)
	}
	for _, want := range []string{"verify OK", cn, "กรมทดสอบ", "C=TH", "OU=IT"} {
		if !strings.Contains(strings.ReplaceAll(string(text), " = ", "="), want) {
			t.Errorf("openssl output lacks %q:\n%s", want, text)
		}
	}
	pemCSR, err := os.ReadFile(csrFile)
	if err != nil {
		t.Fatal(err)
	}
	csrBlock, _ := pem.Decode(pemCSR)
	csr, err := x509.ParseCertificateRequest(csrBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !csr.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
		t.Fatal("CSR is for another key than the one generated")
	}

	// import-cert: a throwaway CA certifies the CSR's key.
	notAfter := time.Now().Add(365 * 24 * time.Hour).UTC()
	certFile, caFile := issueFromCSR(t, dir, csr, notAfter)
	out = c.mustRun("import-cert", "--label", "official", "--cert", certFile)
	if !strings.Contains(out, "Stored certificate") {
		t.Fatalf("import-cert output: %s", out)
	}
	c.mustRun("import-cert", "--label", "test-ca", "--cert", caFile)
	if _, _, err := c.run("import-cert", "--label", "official", "--cert", certFile); !errors.Is(err, hsm.ErrAlreadyExists) {
		t.Fatalf("second import: %v, want ErrAlreadyExists", err)
	}

	// list: both keys, the certificate's subject and expiry.
	out = c.mustRun("list")
	t.Logf("keys list:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "LABEL") {
		t.Fatalf("list output:\n%s", out)
	}
	for _, want := range []string{"official", "RSA-3072", "CN=" + cn, notAfter.Format("2006-01-02")} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("list line %q lacks %q", lines[1], want)
		}
	}
	if !strings.Contains(lines[2], "spare") || !strings.Contains(lines[2], "ECDSA-P256") || !strings.HasSuffix(lines[2], "-") {
		t.Errorf("list line %q for the key without certificate", lines[2])
	}

	// The same through the library: the certificate sits beside the key.
	m, err := hsm.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got, err := m.Certificate(context.Background(), hsm.KeyRef{Label: "official"})
	if err != nil || got.Subject.CommonName != cn {
		t.Fatalf("Certificate: %v %v", got, err)
	}
}

// issueFromCSR signs the CSR's key with a new CA and writes the leaf and
// the CA certificate as PEM files.
func issueFromCSR(t *testing.T, dir string, csr *x509.CertificateRequest, notAfter time.Time) (leafFile, caFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Throwaway CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: csr.Subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, csr.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leafFile = filepath.Join(dir, "leaf.pem")
	caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(leafFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return leafFile, caFile
}

func TestTokenSelection(t *testing.T) {
	c, cfg := newCLI(t, "cli-select")
	c.mustRun("generate", "--label", "k", "--alg", "ECDSA-P256")
	uri := "pkcs11:token=" + cfg.TokenLabel + "?module-path=" + hsmtest.ModulePath + "&pin-source=env:MY_PIN"
	tests := []struct {
		name string
		env  map[string]string // overrides of the base environment; "" deletes
		args []string
	}{
		{"PIN from ESIGN_PKCS11_PIN", map[string]string{keyscli.EnvPINFile: "", keyscli.EnvPIN: cfg.PIN}, nil},
		{"URI with env pin-source read through getenv", map[string]string{keyscli.EnvPINFile: "", keyscli.EnvToken: "", keyscli.EnvURI: uri, "MY_PIN": cfg.PIN}, nil},
		{"--uri flag", map[string]string{keyscli.EnvPINFile: "", keyscli.EnvToken: "", "MY_PIN": cfg.PIN}, []string{"--uri", uri}},
		{"--token flag wins over env", map[string]string{keyscli.EnvToken: "no-such-token"}, []string{"--token", cfg.TokenLabel}},
		{"module from default", map[string]string{keyscli.EnvModule: ""}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range c.env {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			cc := &cli{t: t, env: env, pin: cfg.PIN}
			out := cc.mustRun(append([]string{"list"}, tc.args...)...)
			if !strings.Contains(out, "ECDSA-P256") {
				t.Fatalf("list output:\n%s", out)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	c, cfg := newCLI(t, "cli-errors")
	c.mustRun("generate", "--label", "taken", "--alg", "ECDSA-P256")
	dir := t.TempDir()
	twoCerts := filepath.Join(dir, "two.pem")
	garbage := filepath.Join(dir, "garbage.pem")
	cert := selfSigned(t)
	both := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert})...)
	if err := os.WriteFile(twoCerts, both, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		env  map[string]string
		args []string
		msg  string
	}{
		{"no command", nil, nil, "missing command"},
		{"unknown command", nil, []string{"delete"}, "unknown command"},
		{"PIN flag does not exist", nil, []string{"list", "--pin", "1234"}, "never taken from the command line"},
		{"positional argument", nil, []string{"list", "extra"}, "unexpected argument"},
		{"generate without label", nil, []string{"generate"}, "--label is required"},
		{"generate bad algorithm", nil, []string{"generate", "--label", "x", "--alg", "RSA-1024"}, "unsupported algorithm"},
		{"generate taken label", nil, []string{"generate", "--label", "taken", "--alg", "ECDSA-P256"}, "already exists"},
		{"csr without CN", nil, []string{"csr", "--label", "taken"}, "--subject-cn is required"},
		{"csr bad country", nil, []string{"csr", "--label", "taken", "--subject-cn", "x", "--subject-c", "THA"}, "two-letter"},
		{"csr unknown key", nil, []string{"csr", "--label", "nope", "--subject-cn", "x"}, "not found"},
		{"import without --cert", nil, []string{"import-cert", "--label", "taken"}, "--cert is required"},
		{"import missing file", nil, []string{"import-cert", "--label", "taken", "--cert", filepath.Join(dir, "missing.pem")}, "no such file"},
		{"import two certificates", nil, []string{"import-cert", "--label", "taken", "--cert", twoCerts}, "holds 2 certificates"},
		{"import garbage", nil, []string{"import-cert", "--label", "taken", "--cert", garbage}, "neither PEM nor"},
		{"import certificate for another key", nil, []string{"import-cert", "--label", "taken", "--cert", writePEM(t, dir, cert)}, "does not certify"},
		{"no token", map[string]string{keyscli.EnvToken: ""}, []string{"list"}, "no token selected"},
		{"no PIN", map[string]string{keyscli.EnvPINFile: ""}, []string{"list"}, "no PIN"},
		{"two PINs", map[string]string{keyscli.EnvPIN: cfg.PIN}, []string{"list"}, "set only one"},
		{"wrong PIN", map[string]string{keyscli.EnvPINFile: "", keyscli.EnvPIN: "wrong"}, []string{"list"}, "CKR_PIN_INCORRECT"},
		{"unknown token", map[string]string{keyscli.EnvToken: "no-such-token"}, []string{"list"}, "not found"},
		{"URI and token", map[string]string{keyscli.EnvURI: "pkcs11:token=" + cfg.TokenLabel}, []string{"list"}, "given twice"},
		{"URI with pin-value", map[string]string{keyscli.EnvToken: "", keyscli.EnvURI: "pkcs11:token=x?pin-value=1234"}, []string{"list"}, "pin-value is not accepted"},
		{"URI without token", map[string]string{keyscli.EnvToken: "", keyscli.EnvURI: "pkcs11:object=x"}, []string{"list"}, "names no token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range c.env {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			cc := &cli{t: t, env: env, pin: cfg.PIN}
			_, _, err := cc.run(tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("keys %v: error %v, want one containing %q", tc.args, err, tc.msg)
			}
		})
	}
	// The wrong PIN was refused, but only once: the token is not locked.
	c.mustRun("list")
}

func TestHelp(t *testing.T) {
	c := &cli{t: t, env: map[string]string{}}
	for _, args := range [][]string{{"help"}, {"list", "-h"}, {"generate", "--help"}} {
		out, stderr, err := c.run(args...)
		if err != nil {
			t.Fatalf("keys %v: %v", args, err)
		}
		if !strings.Contains(out+stderr, "token") {
			t.Fatalf("keys %v printed no usage", args)
		}
		if strings.Contains(out+stderr, "-pin") {
			t.Fatalf("usage mentions a PIN flag:\n%s%s", out, stderr)
		}
	}
}

func selfSigned(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "other"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writePEM(t *testing.T, dir string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, "other.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
