package signer_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"esign/cades"
	"esign/hsm/hsmtest"
	"esign/internal/extverify"
	"esign/internal/testenv"
	"esign/signer"
)

func TestMain(m *testing.M) { os.Exit(hsmtest.Main(m)) }

func corpusFiles(t testing.TB) []string {
	files, err := filepath.Glob("../testdata/corpus/*.pdf")
	if err != nil || len(files) == 0 {
		t.Fatalf("corpus: %v", err)
	}
	return files
}

// signFile signs in with opts and returns the signed bytes.
func signFile(t testing.TB, s *signer.Signer, in []byte, cred signer.Credential, opts signer.Options) []byte {
	t.Helper()
	res, err := s.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), cred, opts)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	var out bytes.Buffer
	if _, err := res.Write(&out, bytes.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes()[:len(in)], in) {
		t.Fatal("signing rewrote earlier bytes")
	}
	if sum := sha256.Sum256(in); !bytes.Equal(res.InputSHA256, sum[:]) {
		t.Error("InputSHA256 is not the input's SHA-256")
	}
	if sum := sha256.Sum256(out.Bytes()); !bytes.Equal(res.OutputSHA256, sum[:]) {
		t.Error("OutputSHA256 is not the output's SHA-256")
	}
	return out.Bytes()
}

// checkExternally asks pdfsig, qpdf and OpenSSL about a signed file.
func checkExternally(t *testing.T, env *testenv.Env, nss string, data []byte, wantSigs int, lastWhole bool) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := extverify.QPDFCheck(path); err != nil {
		t.Error(err)
	}
	var sigs []extverify.PDFSigSignature
	for _, s := range extverify.PDFSig(t, nss, path) {
		if s.Signed {
			sigs = append(sigs, s)
		}
	}
	if len(sigs) != wantSigs {
		t.Fatalf("pdfsig sees %d signatures, want %d: %+v", len(sigs), wantSigs, sigs)
	}
	var lastSig extverify.PDFSigSignature
	for i, s := range sigs {
		if strings.HasPrefix(s.Field, "DocumentTimestamp") {
			// Poppler 22.12 cannot validate ETSI.RFC3161 document
			// timestamps ("Unimplemented Feature"); openssl ts checks them
			// below. pdfsig must still see the field and its TSA, except in
			// an encrypted file: there it decrypts a /DocTimeStamp's
			// /Contents, which ISO 32000-2 §7.6.2 leaves in the clear as
			// for every signature dictionary, and finds no token.
			if s.CommonName != env.PKI.Credentials["dev-tsa"].Chain[0].Subject.CommonName && !bytes.Contains(data, []byte("/Encrypt")) {
				t.Errorf("pdfsig: document timestamp %s signed by %q", s.Field, s.CommonName)
			}
			continue
		}
		lastSig = s
		if !s.Valid || !s.Trusted {
			t.Errorf("pdfsig signature %d (%s): %q / %q", i+1, s.Field, s.Validation, s.CertStatus)
		}
	}
	if lastWhole && !lastSig.TotalDocument {
		t.Errorf("pdfsig: last signature %s does not cover the whole document", lastSig.Field)
	}
	for _, s := range extverify.Signatures(t, data) {
		if s.DocTS {
			h := crypto.SHA256.New()
			h.Write(s.Signed)
			if err := extverify.OpenSSLTSVerify(t, s.Contents, crypto.SHA256, h.Sum(nil), env.RootFile, ""); err != nil {
				t.Errorf("document timestamp: %v", err)
			}
			continue
		}
		if err := extverify.OpenSSLCMSVerify(t, s.Contents, s.Signed, env.RootFile); err != nil {
			t.Errorf("signature: %v", err)
		}
		p, err := cades.Parse(s.Contents)
		if err != nil {
			t.Fatalf("parse CMS: %v", err)
		}
		for _, tok := range p.Signer.SignatureTimestamps {
			h := p.DigestAlgorithm().New()
			h.Write(p.Signer.Signature)
			if err := extverify.OpenSSLTSVerify(t, tok, p.DigestAlgorithm(), h.Sum(nil), env.RootFile, ""); err != nil {
				t.Errorf("signature timestamp: %v", err)
			}
		}
	}
}

// TestSignCorpusAllLevels signs every corpus file at every level and has
// each result checked by verifiers we did not write.
func TestSignCorpusAllLevels(t *testing.T) {
	env := testenv.New(t)
	nss := extverify.NSSDB(t, env.PKI.Root)
	for _, f := range corpusFiles(t) {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, level := range []signer.Level{signer.LevelB, signer.LevelT, signer.LevelLT, signer.LevelLTA} {
			t.Run(filepath.Base(f)+"/"+string(level), func(t *testing.T) {
				out := signFile(t, env.Signer, in, env.Creds["dev-official"], signer.Options{Level: level, Reason: "อนุมัติ", Location: "กรุงเทพมหานคร"})
				want := 1
				if level == signer.LevelLTA {
					want = 2
				}
				checkExternally(t, env, nss, out, want, level != signer.LevelLTA)
				// The same verifiers must reject a copy with one byte of
				// the signed range changed, or their approval means nothing.
				bad := append([]byte(nil), out...)
				bad[len(in)/2] ^= 0x01
				path := filepath.Join(t.TempDir(), "tampered.pdf")
				os.WriteFile(path, bad, 0o644)
				for _, s := range extverify.PDFSig(t, nss, path) {
					if s.Valid {
						t.Errorf("pdfsig accepts tampered signature %s", s.Field)
					}
				}
				for _, s := range extverify.Signatures(t, bad) {
					if !s.DocTS {
						if err := extverify.OpenSSLCMSVerify(t, s.Contents, s.Signed, env.RootFile); err == nil {
							t.Error("openssl cms accepts a tampered file")
						}
					}
				}
			})
		}
	}
}

// TestKeysAndDigests covers RSA PKCS#1 v1.5 and PSS, ECDSA P-256 and
// P-384, and SHA-256/384/512.
func TestKeysAndDigests(t *testing.T) {
	env := testenv.New(t)
	nss := extverify.NSSDB(t, env.PKI.Root)
	in, err := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cred string
		opts signer.Options
	}{
		{"rsa-pkcs1-sha256", "dev-official", signer.Options{}},
		{"rsa-pkcs1-sha384", "dev-official", signer.Options{Hash: crypto.SHA384}},
		{"rsa-pkcs1-sha512", "dev-official", signer.Options{Hash: crypto.SHA512}},
		{"rsa-pss-sha256", "dev-director", signer.Options{PSS: true}},
		{"rsa-pss-sha512", "dev-director", signer.Options{PSS: true, Hash: crypto.SHA512}},
		{"ecdsa-p256-sha256", "dev-registrar", signer.Options{}},
		{"ecdsa-p256-sha384-bt", "dev-registrar", signer.Options{Hash: crypto.SHA384, Level: signer.LevelT}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := signFile(t, env.Signer, in, env.Creds[c.cred], c.opts)
			checkExternally(t, env, nss, out, 1, true)
		})
	}
}

// TestSequentialSignatures certifies a memo and adds two approvals by
// other officials; all three must stay valid.
func TestSequentialSignatures(t *testing.T) {
	env := testenv.New(t)
	nss := extverify.NSSDB(t, env.PKI.Root)
	doc, err := os.ReadFile("../testdata/corpus/memo-libreoffice.pdf")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		cred string
		opts signer.Options
	}{
		{"dev-official", signer.Options{Level: signer.LevelLT, Certify: 2, Reason: "ผู้ร่าง"}},
		{"dev-director", signer.Options{Level: signer.LevelLT, Reason: "ผู้อำนวยการ"}},
		{"dev-registrar", signer.Options{Level: signer.LevelLTA, Reason: "ปลัดกระทรวง"}},
	}
	for i, st := range steps {
		doc = signFile(t, env.Signer, doc, env.Creds[st.cred], st.opts)
		want := i + 1
		if st.opts.Level == signer.LevelLTA {
			want++
		}
		checkExternally(t, env, nss, doc, want, st.opts.Level != signer.LevelLTA)
	}
	// A certification is only allowed first.
	_, err = env.Signer.Sign(context.Background(), bytes.NewReader(doc), int64(len(doc)), env.Creds["dev-official"], signer.Options{Certify: 2})
	if !errors.Is(err, signer.ErrCertifyNotFirst) {
		t.Errorf("second certification: %v, want ErrCertifyNotFirst", err)
	}
}

func TestDocMDPNoChanges(t *testing.T) {
	env := testenv.New(t)
	in, _ := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	out := signFile(t, env.Signer, in, env.Creds["dev-official"], signer.Options{Certify: 1})
	_, err := env.Signer.Sign(context.Background(), bytes.NewReader(out), int64(len(out)), env.Creds["dev-director"], signer.Options{})
	if !errors.Is(err, signer.ErrDocMDPForbids) {
		t.Fatalf("signing a P=1 document: %v, want ErrDocMDPForbids", err)
	}
}

func TestRefusals(t *testing.T) {
	env := testenv.New(t)
	good, _ := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, signer.ErrInvalidPDF},
		{"garbage", bytes.Repeat([]byte("not a pdf "), 300), signer.ErrInvalidPDF},
		{"truncated", good[:len(good)/2], signer.ErrInvalidPDF},
		{"header only", []byte("%PDF-1.7\n"), signer.ErrInvalidPDF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := env.Signer.Sign(context.Background(), bytes.NewReader(c.in), int64(len(c.in)), env.Creds["dev-official"], signer.Options{})
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
		})
	}
}

// TestUnavailableServices points the TSA and the revocation fetcher at a
// closed port: the error says what failed, and nothing is produced.
func TestUnavailableServices(t *testing.T) {
	in, _ := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	cases := []struct {
		name  string
		level signer.Level
		what  string // the failing service the error must name
		setup func(env *testenv.Env) *signer.Signer
	}{
		{"tsa down", signer.LevelT, "timestamp", func(env *testenv.Env) *signer.Signer {
			tc := env.TSAClient()
			tc.URL = "http://127.0.0.1:1/tsa"
			return &signer.Signer{TSA: tc, Revocation: env.Signer.Revocation}
		}},
		{"ocsp and crl down", signer.LevelLT, "revocation", func(env *testenv.Env) *signer.Signer {
			// The TSA answers from a server of its own; the OCSP and CRL
			// URLs in the certificates point at a server that is gone.
			tsaOnly := httptest.NewServer(env.PKI.Handler(""))
			t.Cleanup(tsaOnly.Close)
			tc := env.TSAClient()
			tc.URL = tsaOnly.URL + "/tsa"
			env.Server.Close()
			return &signer.Signer{TSA: tc, Revocation: env.Signer.Revocation}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := testenv.New(t)
			res, err := c.setup(env).Sign(context.Background(), bytes.NewReader(in), int64(len(in)), env.Creds["dev-official"], signer.Options{Level: c.level})
			if !errors.Is(err, signer.ErrUnavailable) {
				t.Fatalf("error %v, want ErrUnavailable", err)
			}
			if !strings.Contains(err.Error(), c.what) {
				t.Errorf("error %q does not name the %s service", err, c.what)
			}
			if res != nil {
				t.Fatal("a result came back with the error")
			}
		})
	}
}
