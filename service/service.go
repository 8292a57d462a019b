// Package service assembles the signing service from its configuration:
// the HSM, the signer credentials, the TSA and revocation clients, and the
// HTTP API. esignd and `esign sign` both start here, so local signing uses
// exactly the service's set-up.
package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"esign/access"
	"esign/api"
	"esign/config"
	"esign/devstack"
	"esign/hsm"
	"esign/internal/trustpool"
	"esign/revocation"
	"esign/signer"
	"esign/tsa"
)

// Service is the assembled signing service.
type Service struct {
	Config      config.Config
	Signer      *signer.Signer
	Credentials api.Credentials
	API         *api.Server
	Dev         *devstack.Stack // nil outside development mode
	keys        *hsm.KeyManager
}

// PrepareDev makes the development data directory and returns the SoftHSM2
// configuration path to export as SOFTHSM2_CONF.
func PrepareDev(dataDir string) (string, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("make data directory: %w", err)
	}
	return devstack.SoftHSMConfig(dataDir)
}

// Open assembles the service.
func Open(ctx context.Context, cfg config.Config, logger *slog.Logger) (*Service, error) {
	s := &Service{Config: cfg}
	baseURL := "http://" + cfg.Addr
	var clients *access.Store
	var devRoots []*x509.Certificate
	mounts := map[string]http.Handler{}
	if cfg.Dev {
		st, err := devstack.Open(ctx, cfg.DataDir, cfg.PKCS11Module, baseURL)
		if err != nil {
			return nil, err
		}
		s.Dev, s.keys = st, st.Keys
		s.Credentials = api.CredentialMap(st.Credentials)
		clients = st.Clients
		devRoots = append(devRoots, st.PKI.Root)
		h := st.PKI.Handler("")
		mounts["/pki"] = h
		mounts["/tsa"] = h
	} else {
		if err := s.openProduction(ctx, cfg); err != nil {
			return nil, err
		}
		path := cfg.Clients
		if path == "" {
			path = filepath.Join(cfg.DataDir, "clients.json")
		}
		var err error
		if clients, err = access.Load(path); err != nil {
			s.Close()
			return nil, err
		}
	}
	roots, err := trustpool.Load(cfg.Trust, cfg.TrustDir, devRoots...)
	if err != nil {
		s.Close()
		return nil, err
	}
	tsaClient, err := newTSAClient(cfg, baseURL, roots)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Signer = &signer.Signer{
		TSA:        tsaClient,
		Revocation: &revocation.Fetcher{HTTPClient: &http.Client{Timeout: cfg.OutboundTimeout}},
	}
	conc := cfg.HSMConcurrency
	if conc == 0 {
		conc = hsm.DefaultMaxSessions()
	}
	s.API = api.New(api.Config{
		Signer: s.Signer, Credentials: s.Credentials, Clients: clients, Logger: logger,
		MaxUpload: cfg.MaxUpload, HSMConcurrency: conc, Mount: mounts,
	})
	return s, nil
}

// Close releases the HSM.
func (s *Service) Close() error {
	if s.keys != nil {
		return s.keys.Close()
	}
	return nil
}

func newTSAClient(cfg config.Config, baseURL string, roots *x509.CertPool) (*tsa.Client, error) {
	c := &tsa.Client{URL: cfg.TSAURL, Username: cfg.TSAUser, HTTPClient: &http.Client{Timeout: cfg.OutboundTimeout}}
	if c.URL == "" {
		c.URL = baseURL + "/tsa"
		c.Roots = roots
	}
	if cfg.TSAPasswordFile != "" {
		b, err := os.ReadFile(cfg.TSAPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("TSA password: %w", err)
		}
		c.Password = strings.TrimRight(string(b), "\r\n")
	}
	if cfg.TSAClientCert != "" {
		pair, err := tls.LoadX509KeyPair(cfg.TSAClientCert, cfg.TSAClientKey)
		if err != nil {
			return nil, fmt.Errorf("TSA client certificate: %w", err)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		c.HTTPClient.Transport = tr
	}
	return c, nil
}

// errNoCredentials reports a production start without credentials.
var errNoCredentials = errors.New("service: no signer credentials configured (set ESIGN_CREDENTIALS)")
