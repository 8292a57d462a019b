package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"esign/devpki"
	"esign/internal/extverify"
)

// TestDaemonMutualTLS serves the signing API over TLS and requires a
// client certificate from the configured CA besides the API key.
func TestDaemonMutualTLS(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Now()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	ca, err := devpki.IssueCertificate(ctx, devpki.CertTemplate{
		Subject: pkix.Name{CommonName: "test TLS CA"}, IsCA: true, MaxPathLen: 0,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageCertSign,
	}, caKey.Public(), nil, caKey)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(name string, eku x509.ExtKeyUsage, ip bool) (string, string) {
		k := newKey()
		tmpl := devpki.CertTemplate{
			Subject: pkix.Name{CommonName: name}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku},
		}
		c, err := devpki.IssueCertificate(ctx, tmpl, k.Public(), ca, caKey)
		if err != nil {
			t.Fatal(err)
		}
		if ip {
			// The server certificate needs 127.0.0.1 as a SAN, which the
			// template has no field for: make it with crypto/x509.
			der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
				SerialNumber: c.SerialNumber, Subject: c.Subject, NotBefore: c.NotBefore, NotAfter: c.NotAfter,
				KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku},
				IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
			}, ca, k.Public(), caKey)
			if err != nil {
				t.Fatal(err)
			}
			c, _ = x509.ParseCertificate(der)
		}
		certFile, keyFile := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
		extverify.WritePEM(t, certFile, c)
		kb, _ := x509.MarshalPKCS8PrivateKey(k)
		os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
		return certFile, keyFile
	}
	serverCert, serverKey := issue("server", x509.ExtKeyUsageServerAuth, true)
	clientCert, clientKey := issue("esaraban", x509.ExtKeyUsageClientAuth, false)
	caFile := filepath.Join(dir, "ca.pem")
	extverify.WritePEM(t, caFile, ca)

	roots := x509.NewCertPool()
	roots.AddCert(ca)
	pair, err := tls.LoadX509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}}}
	without := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}

	d := startDaemonWith(t, buildDaemon(t), t.TempDir(), "https", withCert,
		"ESIGN_TLS_CERT="+serverCert, "ESIGN_TLS_KEY="+serverKey, "ESIGN_TLS_CLIENT_CA="+caFile)
	pdf, _ := os.ReadFile("../../testdata/corpus/memo-chromium.pdf")
	if status, _, out := d.sign(t, d.key(t, "dev-api-key"), pdf, map[string]string{"signer": "dev-official", "level": "B-B"}); status != http.StatusOK {
		t.Fatalf("with a client certificate: %d %s", status, out)
	}
	if _, err := without.Get(d.base + "/healthz"); err == nil {
		t.Fatal("a client without a certificate got through")
	}
	if resp, err := http.Get("http://" + d.addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP is served beside TLS")
		}
	}
}
