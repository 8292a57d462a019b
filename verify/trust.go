package verify

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Limits of LoadTrust: trust stores are a few certificates, so anything
// much larger is a mistake.
const (
	maxTrustFileSize = 4 << 20
	maxTrustFiles    = 1000
)

// ErrNoTrustAnchors reports a trust source that holds no certificate.
var ErrNoTrustAnchors = errors.New("verify: no trust anchors found")

// LoadTrust reads trust anchors from files and directories: PEM files
// (any number of CERTIFICATE blocks) or single DER certificates; a
// directory contributes its *.pem, *.crt, *.cer and *.der files, not
// recursively. It returns the pool and the certificates in it.
func LoadTrust(paths ...string) (*x509.CertPool, []*x509.Certificate, error) {
	pool := x509.NewCertPool()
	var certs []*x509.Certificate
	files := 0
	add := func(path string) error {
		if files++; files > maxTrustFiles {
			return fmt.Errorf("verify: more than %d trust files", maxTrustFiles)
		}
		cs, err := readCertificates(path)
		if err != nil {
			return err
		}
		for _, c := range cs {
			pool.AddCert(c)
		}
		certs = append(certs, cs...)
		return nil
	}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("verify: trust anchors: %w", err)
		}
		if !info.IsDir() {
			if err := add(p); err != nil {
				return nil, nil, err
			}
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, nil, fmt.Errorf("verify: trust directory: %w", err)
		}
		for _, e := range entries {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".pem", ".crt", ".cer", ".der":
			default:
				continue
			}
			if e.IsDir() {
				continue
			}
			if err := add(filepath.Join(p, e.Name())); err != nil {
				return nil, nil, err
			}
		}
	}
	if len(certs) == 0 {
		return nil, nil, fmt.Errorf("%w in %s", ErrNoTrustAnchors, strings.Join(paths, ", "))
	}
	return pool, certs, nil
}

func readCertificates(path string) ([]*x509.Certificate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("verify: trust anchors: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTrustFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("verify: read %s: %w", path, err)
	}
	if len(data) > maxTrustFileSize {
		return nil, fmt.Errorf("verify: %s is larger than %d bytes", path, maxTrustFileSize)
	}
	if !strings.Contains(string(data), "-----BEGIN") {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("verify: %s: %w", path, err)
		}
		return []*x509.Certificate{c}, nil
	}
	var out []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("verify: %s: %w", path, err)
		}
		out = append(out, c)
	}
	return out, nil
}
