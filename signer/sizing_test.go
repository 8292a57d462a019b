package signer_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"esign/devpki"
	"esign/internal/extverify"
	"esign/internal/testenv"
	"esign/signer"
	"esign/tsa"
)

// TestContentsSizing: /Contents is sized from real sizes. A long chain
// of large certificates fits, and a TSA whose tokens grow after the first
// one (the signer learnt the small size) still yields a valid signature,
// through a fresh attempt rather than a patched one.
func TestContentsSizing(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	in, _ := os.ReadFile("../testdata/corpus/memo-ghostscript.pdf")

	t.Run("long chain", func(t *testing.T) {
		// root -> 5 intermediates (RSA-4096, long subjects) -> leaf
		key := func() *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, 4096)
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
		now := time.Now()
		long := strings.Repeat("หน่วยงานทดสอบสายใบรับรองยาว ", 6)
		issuerKey := key()
		issuer, err := devpki.IssueCertificate(ctx, devpki.CertTemplate{
			Subject: pkix.Name{CommonName: "Long Chain Root", Organization: []string{long}}, IsCA: true, MaxPathLen: -1,
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour * 24), KeyUsage: x509.KeyUsageCertSign,
		}, issuerKey.Public(), nil, issuerKey)
		if err != nil {
			t.Fatal(err)
		}
		root := issuer
		var chain []*x509.Certificate
		for i := range 5 {
			k := key()
			c, err := devpki.IssueCertificate(ctx, devpki.CertTemplate{
				Subject: pkix.Name{CommonName: fmt.Sprintf("Intermediate %d", i), Organization: []string{long}}, IsCA: true, MaxPathLen: -1,
				NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour * 24), KeyUsage: x509.KeyUsageCertSign,
			}, k.Public(), issuer, issuerKey)
			if err != nil {
				t.Fatal(err)
			}
			chain = append([]*x509.Certificate{c}, chain...)
			issuer, issuerKey = c, k
		}
		leafKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		leaf, err := devpki.IssueCertificate(ctx, devpki.CertTemplate{
			Subject:   pkix.Name{CommonName: "ผู้ลงนาม สายยาว", Organization: []string{long}},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour * 24), KeyUsage: x509.KeyUsageDigitalSignature,
		}, leafKey.Public(), issuer, issuerKey)
		if err != nil {
			t.Fatal(err)
		}
		cred := signer.Credential{Signer: leafKey, Chain: append(append([]*x509.Certificate{leaf}, chain...), root)}
		out := signFile(t, env.Signer, in, cred, signer.Options{Level: signer.LevelT})
		rootFile := filepath.Join(t.TempDir(), "root.pem")
		extverify.WritePEM(t, rootFile, root, env.PKI.Root)
		sigs := extverify.Signatures(t, out)
		if len(sigs) != 1 {
			t.Fatalf("%d signatures", len(sigs))
		}
		if err := extverify.OpenSSLCMSVerify(t, sigs[0].Contents, sigs[0].Signed, rootFile); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("tokens grow after the first", func(t *testing.T) {
		tsaCred := env.PKI.Credentials[devpki.TSA]
		small := &tsa.Server{Signer: tsaCred.Signer, Certificate: tsaCred.Chain[0]}
		// Later tokens carry the chain and a padding certificate: several
		// kilobytes more than the token the signer sized /Contents from.
		pad, err := devpki.IssueCertificate(ctx, devpki.CertTemplate{
			Subject:   pkix.Name{CommonName: "padding", Organization: []string{strings.Repeat("padding ", 400)}},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		}, tsaCred.Signer.Public(), nil, tsaCred.Signer)
		if err != nil {
			t.Fatal(err)
		}
		big := &tsa.Server{Signer: tsaCred.Signer, Certificate: tsaCred.Chain[0], Chain: append(append([]*x509.Certificate{}, tsaCred.Chain[1:]...), pad)}
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				small.ServeHTTP(w, r)
				return
			}
			big.ServeHTTP(w, r)
		}))
		defer srv.Close()
		s := &signer.Signer{TSA: &tsa.Client{URL: srv.URL}, Revocation: env.Signer.Revocation}
		res, err := s.Sign(ctx, bytes.NewReader(in), int64(len(in)), env.Creds["dev-official"], signer.Options{Level: signer.LevelT})
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		var out bytes.Buffer
		res.Write(&out, bytes.NewReader(in))
		nss := extverify.NSSDB(t, env.PKI.Root)
		checkExternally(t, env, nss, out.Bytes(), 1, true)
		if calls.Load() < 3 {
			t.Errorf("TSA called %d times; a larger token needs a fresh attempt", calls.Load())
		}
	})
}
