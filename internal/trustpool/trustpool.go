// Package trustpool loads trust anchors from PEM files and directories, the
// same way for the signing service, the verifier and the CLI.
package trustpool

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Load returns a pool of the certificates in files and in the *.pem and
// *.crt files of dir (either may be empty), plus extra.
func Load(files []string, dir string, extra ...*x509.Certificate) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, c := range extra {
		pool.AddCert(c)
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("trust directory: %w", err)
		}
		for _, e := range entries {
			if !e.IsDir() && (strings.HasSuffix(e.Name(), ".pem") || strings.HasSuffix(e.Name(), ".crt")) {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("trust anchor: %w", err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("trust anchor %s: no PEM certificate", f)
		}
	}
	return pool, nil
}
