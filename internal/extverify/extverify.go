// Package extverify runs verifiers this project did not write (poppler's
// pdfsig, qpdf, OpenSSL) over signed files, for tests. Agreement with them
// is the evidence that our signatures are right.
package extverify

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"crypto/x509"
)

// NSSDB makes an NSS database in a temporary directory that trusts roots,
// for pdfsig -nssdir. It returns the "sql:DIR" name.
func NSSDB(t testing.TB, roots ...*x509.Certificate) string {
	t.Helper()
	dir := t.TempDir()
	run(t, "certutil", "-N", "-d", "sql:"+dir, "--empty-password")
	for i, r := range roots {
		p := filepath.Join(dir, fmt.Sprintf("root%d.pem", i))
		WritePEM(t, p, r)
		run(t, "certutil", "-A", "-d", "sql:"+dir, "-n", fmt.Sprintf("root%d", i), "-t", "CT,C,C", "-i", p)
	}
	return "sql:" + dir
}

// WritePEM writes certificates to path as PEM.
func WritePEM(t testing.TB, path string, certs ...*x509.Certificate) {
	t.Helper()
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// PDFSigSignature is one signature as pdfsig reports it.
type PDFSigSignature struct {
	Field         string
	Signed        bool // false for an empty signature field pdfsig lists too
	CommonName    string
	SubjectDN     string // "Signer full Distinguished Name"
	SubFilter     string
	Valid         bool   // "Signature is Valid."
	Trusted       bool   // "Certificate is Trusted."
	TotalDocument bool   // "Total document signed"
	Validation    string // the raw validation line
	CertStatus    string // the raw certificate line
}

var sigHeader = regexp.MustCompile(`(?m)^Signature #\d+:`)

// PDFSig runs pdfsig and parses its report. It does not fail the test on
// an invalid signature: callers assert what they expect. pdfsig checks
// revocation online through the certificates' OCSP URLs, so the PKI's
// services must be running.
//
// (Poppler 22.12's -no-ocsp does not help offline: with it, every
// certificate comes out as "Unknown issue with Certificate".)
//
// args go before the path: "-upw", "secret" for an encrypted file.
func PDFSig(t testing.TB, nssdir, path string, args ...string) []PDFSigSignature {
	t.Helper()
	argv := append(append([]string{"-nssdir", nssdir}, args...), path)
	out, err := exec.Command("pdfsig", argv...).CombinedOutput()
	text := string(out)
	if err != nil && !strings.Contains(text, "Signature #") {
		// pdfsig exits non-zero for invalid signatures but still reports.
		t.Logf("pdfsig: %v\n%s", err, text)
	}
	var sigs []PDFSigSignature
	idx := sigHeader.FindAllStringIndex(text, -1)
	for i, loc := range idx {
		end := len(text)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		block := text[loc[0]:end]
		s := PDFSigSignature{
			Field:         field(block, "Signature Field Name"),
			CommonName:    field(block, "Signer Certificate Common Name"),
			SubjectDN:     field(block, "Signer full Distinguished Name"),
			SubFilter:     field(block, "Signature Type"),
			Validation:    field(block, "Signature Validation"),
			CertStatus:    field(block, "Certificate Validation"),
			TotalDocument: strings.Contains(block, "- Total document signed"),
		}
		s.Signed = s.SubFilter != "" || s.Validation != ""
		s.Valid = s.Validation == "Signature is Valid."
		s.Trusted = s.CertStatus == "Certificate is Trusted."
		sigs = append(sigs, s)
	}
	return sigs
}

func field(block, name string) string {
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "- "+name+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// QPDFCheck runs qpdf --check and returns its error with the output;
// args such as "--password=secret" go before the path.
func QPDFCheck(path string, args ...string) error {
	argv := append(append([]string{"--check"}, args...), path)
	out, err := exec.Command("qpdf", argv...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("qpdf --check: %v\n%s", err, out)
	}
	if bytes.Contains(out, []byte("WARNING")) {
		return fmt.Errorf("qpdf --check warns:\n%s", out)
	}
	return nil
}

// Signature is one signature dictionary's /ByteRange and /Contents, found
// by a plain scan of the file so the extraction does not depend on our
// PDF reader.
type Signature struct {
	ByteRange [4]int64
	Contents  []byte // DER, trailing zero padding removed
	Signed    []byte // the bytes the ByteRange covers
	DocTS     bool   // /SubFilter /ETSI.RFC3161
}

var byteRangeRE = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)

// Signatures finds every signature in a file by its /ByteRange.
func Signatures(t testing.TB, data []byte) []Signature {
	t.Helper()
	var out []Signature
	for _, m := range byteRangeRE.FindAllSubmatchIndex(data, -1) {
		var br [4]int64
		for i := range 4 {
			br[i], _ = strconv.ParseInt(string(data[m[2+2*i]:m[3+2*i]]), 10, 64)
		}
		if br[0] != 0 || br[1] <= 0 || br[2] <= br[1] || br[2]+br[3] > int64(len(data)) {
			t.Fatalf("implausible /ByteRange %v", br)
		}
		hexPart := data[br[1]+1 : br[2]-1]
		der := make([]byte, len(hexPart)/2)
		if _, err := hex.Decode(der, hexPart); err != nil {
			t.Fatalf("/Contents is not hex: %v", err)
		}
		der = trimDER(der)
		signed := append(append([]byte(nil), data[:br[1]]...), data[br[2]:br[2]+br[3]]...)
		// The dictionary around this ByteRange says which kind it is: look
		// before /ByteRange and after the /Contents string.
		ctx := append(append([]byte(nil), data[max(0, m[0]-300):m[1]]...), data[br[2]:min(len(data), int(br[2])+300)]...)
		if i := bytes.Index(ctx[m[1]-max(0, m[0]-300):], []byte("endobj")); i >= 0 {
			ctx = ctx[:m[1]-max(0, m[0]-300)+i]
		}
		docTS := bytes.Contains(ctx, []byte("/ETSI.RFC3161"))
		out = append(out, Signature{ByteRange: br, Contents: der, Signed: signed, DocTS: docTS})
	}
	return out
}

// trimDER cuts a DER value to its encoded length, dropping zero padding.
func trimDER(b []byte) []byte {
	if len(b) < 2 {
		return b
	}
	l := int(b[1])
	hdr := 2
	if l&0x80 != 0 {
		n := l & 0x7f
		if n == 0 || n > 4 || len(b) < 2+n {
			return b
		}
		l = 0
		for _, c := range b[2 : 2+n] {
			l = l<<8 | int(c)
		}
		hdr += n
	}
	if hdr+l > len(b) {
		return b
	}
	return b[:hdr+l]
}

// OpenSSLCMSVerify checks a detached CMS signature over content with
// openssl cms -verify against the CA file.
func OpenSSLCMSVerify(t testing.TB, der, content []byte, caFile string) error {
	t.Helper()
	dir := t.TempDir()
	sig, data := filepath.Join(dir, "sig.der"), filepath.Join(dir, "data.bin")
	os.WriteFile(sig, der, 0o644)
	os.WriteFile(data, content, 0o644)
	out, err := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", sig,
		"-content", data, "-CAfile", caFile, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
	if err != nil {
		return fmt.Errorf("openssl cms -verify: %v\n%s", err, out)
	}
	return nil
}

// OpenSSLTSVerify checks an RFC 3161 token against a digest with openssl
// ts -verify; untrusted holds the TSA's intermediates.
func OpenSSLTSVerify(t testing.TB, token []byte, h crypto.Hash, digest []byte, caFile, untrusted string) error {
	t.Helper()
	dir := t.TempDir()
	tok := filepath.Join(dir, "token.der")
	os.WriteFile(tok, token, 0o644)
	args := []string{"ts", "-verify", "-token_in", "-in", tok, "-digest", hex.EncodeToString(digest), "-CAfile", caFile}
	if untrusted != "" {
		args = append(args, "-untrusted", untrusted)
	}
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("Verification: OK")) {
		return fmt.Errorf("openssl ts -verify (%v): %v\n%s", h, err, out)
	}
	return nil
}

// PDFSigUnknownIssue is the certificate line pdfsig prints for any NSS
// error it has no name for.
const PDFSigUnknownIssue = "Unknown issue with Certificate or corrupted data."

// PDFSigSharedCertBug reports whether pdfsig's certificate verdict on
// sigs[i] may be poppler's, not the certificate's: "Unknown issue" on a
// signature whose signer also made an earlier signature in the same file.
//
// Poppler (22.12, Debian 12's) imports each signature's certificates into
// NSS with CERT_NewTempCertificate(..., copyDER=false), so NSS's
// certificate points into the CMS message that poppler frees once that
// signature is checked, while NSS still holds the certificate (it was used
// for path building and OCSP).
// When a later signature carries the same certificate, NSS finds the stale
// entry by issuer and serial, compares the encodings against freed memory,
// and, unless the allocator happened to put identical bytes back at the
// same address, fails with SEC_ERROR_REUSED_ISSUER_AND_SERIAL (-8054).
// Poppler 22.12 maps that to "Unknown issue". Whether it happens depends
// on the heap layout, hence on the exact sizes of the signatures: one file
// fails every time, the next one with a few bytes more passes.
func PDFSigSharedCertBug(sigs []PDFSigSignature, i int) bool {
	if sigs[i].CertStatus != PDFSigUnknownIssue || sigs[i].SubjectDN == "" {
		return false
	}
	for _, s := range sigs[:i] {
		if s.SubjectDN == sigs[i].SubjectDN {
			return true
		}
	}
	return false
}

// NSSVerifyChain checks a certificate chain with NSS's vfychain as
// pdfsig's NSS backend does (libpkix, usage email signer, the roots that
// nssdir trusts), and requires an OCSP answer for the leaf: the PKI's OCSP
// responder must be running. pemFiles hold the leaf first, then the
// intermediates. It answers for one certificate in a fresh process, where
// PDFSigSharedCertBug cannot happen.
func NSSVerifyChain(nssdir string, pemFiles ...string) error {
	args := []string{"-d", nssdir, "-pp", "-u", "4", "-g", "leaf", "-m", "ocsp", "-s", "failIfNoInfo"}
	for _, f := range pemFiles {
		args = append(args, "-a", f)
	}
	out, err := exec.Command("vfychain", args...).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("Chain is good!")) {
		return fmt.Errorf("vfychain %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// NSSDBFromPEM is NSSDB with the roots read from a PEM file.
func NSSDBFromPEM(t testing.TB, path string) string {
	t.Helper()
	return NSSDB(t, readPEM(t, path)...)
}

// readPEM reads the certificates of a PEM file.
func readPEM(t testing.TB, path string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no certificates", path)
	}
	return out
}

// PDFSigSigner is an NSS database holding one software key, its
// certificate and issuing chain, for poppler's pdfsig -add-signature: an
// adbe.pkcs7.detached signature made by a tool we did not write.
type PDFSigSigner struct {
	NSSDir string // "sql:DIR"
	Cert   *x509.Certificate
}

// NewPDFSigSigner puts key and cert, with chain (issuers, root optional),
// into a fresh NSS database under the nickname "signer".
func NewPDFSigSigner(t testing.TB, key crypto.PrivateKey, cert *x509.Certificate, chain ...*x509.Certificate) *PDFSigSigner {
	t.Helper()
	dir := t.TempDir()
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600); err != nil {
		t.Fatal(err)
	}
	certPath, chainPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "chain.pem")
	WritePEM(t, certPath, cert)
	WritePEM(t, chainPath, chain...)
	p12, db := filepath.Join(dir, "signer.p12"), filepath.Join(dir, "nss")
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	// Throwaway passwords of a throwaway test key.
	args := []string{"pkcs12", "-export", "-inkey", keyPath, "-in", certPath, "-name", "signer", "-passout", "pass:test", "-out", p12}
	if len(chain) > 0 {
		args = append(args, "-certfile", chainPath)
	}
	run(t, "openssl", args...)
	run(t, "certutil", "-N", "-d", "sql:"+db, "--empty-password")
	run(t, "pk12util", "-i", p12, "-d", "sql:"+db, "-W", "test")
	return &PDFSigSigner{NSSDir: "sql:" + db, Cert: cert}
}

// Sign adds a signature in a new field named field with pdfsig, passing
// extra arguments on (such as -upw for an encrypted input), and returns
// the signed file.
func (p *PDFSigSigner) Sign(t testing.TB, in []byte, field string, extra ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(src, in, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-add-signature", "-nssdir", p.NSSDir, "-nick", "signer", "-new-signature-field-name", field,
		"-reason", "ทดสอบ"}, extra...)
	run(t, "pdfsig", append(args, src, dst)...)
	out, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
