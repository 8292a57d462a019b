// Package service assembles the signing service from its configuration:
// the HSM, the database of clients and credentials, the audit log, the TSA
// and revocation clients, and the HTTP API. esignd and `esign sign` both
// start here, so local signing uses exactly the service's set-up.
package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/gin-gonic/gin"

	"esign/activation"
	"esign/api"
	"esign/audit"
	"esign/batch"
	"esign/batchapi"
	"esign/blob"
	"esign/config"
	"esign/csc"
	"esign/cscclient"
	"esign/devstack"
	"esign/documentapi"
	"esign/extend"
	"esign/extendapi"
	"esign/hsm"
	"esign/internal/trustpool"
	"esign/outbound"
	"esign/registry"
	"esign/renewjob"
	"esign/revocation"
	"esign/signer"
	"esign/store"
	"esign/tsa"
	"esign/verify"
)

// Service is the assembled signing service.
type Service struct {
	Config    config.Config
	Signer    *signer.Signer
	Store     *store.Store
	Audit     *audit.Log
	Activator *activation.Activator
	// Keys resolves credentials: remote CSC keys (cscclient), the
	// others in the HSM.
	Keys *cscclient.Keys
	API  *api.Server
	// Batches signs batches of documents on the job queue; esignd starts
	// its workers (Batches.Start).
	Batches *batch.Engine
	// Registry records the documents issued with qr or register.
	Registry *registry.Registry
	Dev      *devstack.Stack // nil outside development mode
	hsm      *hsm.KeyManager

	// Extender brings signed files to B-LT or B-LTA (POST /api/v1/extend,
	// esign extend and esign renew).
	Extender *extend.Extender
}

// PrepareDev makes the development data directory and returns the SoftHSM2
// configuration path to export as SOFTHSM2_CONF.
func PrepareDev(dataDir string) (string, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("make data directory: %w", err)
	}
	return devstack.SoftHSMConfig(dataDir)
}

// Open assembles the service. On error everything opened is closed.
func Open(ctx context.Context, cfg config.Config, logger *slog.Logger) (s *Service, err error) {
	s = &Service{Config: cfg}
	defer func() {
		if err != nil {
			s.Close()
			s = nil
		}
	}()
	baseURL := "http://" + config.Dialable(cfg.Addr)
	// Without it (local signing outside development mode), documents
	// cannot be registered and such requests are refused; esignd requires
	// it at start (RequirePublicVerifyURL).
	publicVerify, _ := cfg.SigningPublicVerifyURL()
	if s.Store, err = store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir}); err != nil {
		return s, fmt.Errorf("open database: %w", err)
	}
	var devRoots []*x509.Certificate
	mounts := map[string]http.Handler{}
	if cfg.Dev {
		if s.Dev, err = devstack.Open(ctx, cfg.DataDir, cfg.PKCS11Module, baseURL); err != nil {
			return s, err
		}
		s.hsm = s.Dev.Keys
		if err = seedDev(ctx, s.Store, s.Dev, cfg.DataDir); err != nil {
			return s, err
		}
		devRoots = append(devRoots, s.Dev.PKI.Root)
		h := s.Dev.PKI.Handler("")
		mounts["/pki"] = h
		mounts["/tsa"] = h
	} else {
		s.hsm, err = hsm.Open(ctx, hsm.Config{
			ModulePath: cfg.PKCS11Module, TokenLabel: cfg.PKCS11Token, TokenSerial: cfg.PKCS11TokenSerial,
			PINSource: cfg.PKCS11PINSource,
		})
		if err != nil {
			return s, fmt.Errorf("open HSM: %w", err)
		}
	}
	if s.Audit, err = audit.Open(ctx, s.Store, audit.Options{}); err != nil {
		return s, fmt.Errorf("open audit log: %w", err)
	}
	if s.Registry, err = registry.Open(ctx, s.Store, registry.Options{}); err != nil {
		return s, fmt.Errorf("open document registry: %w", err)
	}
	s.Activator = activation.New(s.Store, activation.Options{MaxFailures: cfg.LockoutThreshold, LockFor: cfg.LockoutDuration})
	roots, err := trustpool.Load(cfg.Trust, cfg.TrustDir, devRoots...)
	if err != nil {
		return s, err
	}
	tsaClient, err := newTSAClient(cfg, baseURL, roots)
	if err != nil {
		return s, err
	}
	// The signer's chains come from the operator's CAs, so their OCSP and
	// CRL URLs may be on any public host; never on the local network, but
	// for the development services.
	ro := outbound.Options{AnyPublicHost: true, Timeout: cfg.OutboundTimeout, MaxResponseBytes: cfg.OutboundMaxBytes,
		Trusted: cfg.SignerFetchTrusted}
	if cfg.Dev {
		ro.Trusted = append(ro.Trusted, baseURL)
	}
	revClient, err := outbound.New(ro)
	if err != nil {
		return s, fmt.Errorf("outbound client: %w", err)
	}
	s.Signer = &signer.Signer{
		TSA:        tsaClient,
		Revocation: &revocation.Fetcher{Client: revClient},
	}
	if s.Extender, err = newExtender(cfg, baseURL, tsaClient, roots); err != nil {
		return s, err
	}
	// A remote CSC service's URL is the operator's configuration,
	// trusted as it stands (cscclient adds it to Trusted).
	s.Keys, err = cscclient.New(ctx, s.Store, NewKeys(s.hsm), cscclient.Options{
		Outbound: outbound.Options{Timeout: cfg.OutboundTimeout, MaxResponseBytes: cfg.OutboundMaxBytes},
	})
	if err != nil {
		return s, fmt.Errorf("remote keys: %w", err)
	}
	appearances, err := thaiAppearances()
	if err != nil {
		return s, err
	}
	conc := cfg.HSMConcurrency
	if conc == 0 {
		conc = hsm.DefaultMaxSessions()
	}
	blobs, err := openBlobs(ctx, cfg, s.Store)
	if err != nil {
		return s, err
	}
	var periodic []batch.Periodic
	if cfg.RenewInterval > 0 {
		r, err := renewjob.New(renewjob.Config{
			Extender: s.Extender, Within: cfg.RenewWithin, Interval: cfg.RenewInterval,
			Logger: logger.With("component", "renewal"),
		})
		if err != nil {
			return s, err
		}
		periodic = append(periodic, r.Periodic())
	}
	s.Batches, err = batch.Open(ctx, batch.Config{
		Store: s.Store, Blobs: blobs, Audit: s.Audit, Signer: s.Signer, Keys: s.Keys, Activator: s.Activator,
		Appearance: appearances, Classify: api.StatusOf, Workers: cfg.BatchWorkers, ActivationTTL: cfg.BatchActivationTTL,
		MaxUpload: cfg.MaxUpload, Logger: logger, Registry: s.Registry, PublicVerifyURL: publicVerify,
		Periodic: periodic,
	})
	if err != nil {
		return s, fmt.Errorf("batch queue: %w", err)
	}
	batches := batchapi.New(batchapi.Config{Engine: s.Batches, MaxUpload: cfg.MaxUpload})
	documents := documentapi.New(documentapi.Config{Registry: s.Registry, Audit: s.Audit})
	cscAPI, err := csc.Open(ctx, csc.Config{
		Store: s.Store, Keys: s.Keys, Activator: s.Activator, Audit: s.Audit, Signer: s.Signer, TSA: tsaClient,
		Concurrency: conc, MaxBody: cfg.MaxUpload*4/3 + 1<<20,
	})
	if err != nil {
		return s, fmt.Errorf("CSC API: %w", err)
	}
	s.API = api.New(api.Config{
		Signer: s.Signer, Store: s.Store, Keys: s.Keys, Activator: s.Activator, Audit: s.Audit,
		Registry: s.Registry, PublicVerifyURL: publicVerify,
		Appearance: appearances, Logger: logger,
		MaxUpload: cfg.MaxUpload, MaxUploads: cfg.MaxUploads, HSMConcurrency: conc, Mount: mounts, TrustedProxies: cfg.TrustedProxies,
		Routes:     []func(*gin.RouterGroup){batches.Routes, documents.Routes, extendapi.New(extendapi.Config{Extender: s.Extender, Audit: s.Audit}).Routes},
		Collectors: s.Batches.Collectors(),
		RootRoutes: []func(*gin.RouterGroup){cscAPI.Routes},
	})
	return s, nil
}

// RequirePublicVerifyURL reports a configuration in which the signing
// service could not print QR codes: a QR code on a transcript must lead
// where recipients can go, so esignd refuses to start without it.
func RequirePublicVerifyURL(cfg config.Config) error {
	_, err := cfg.SigningPublicVerifyURL()
	return err
}

// newExtender assembles extension: the service's TSA, and revocation
// fetched under the policy for URLs taken from uploaded files.
func newExtender(cfg config.Config, baseURL string, tsaClient *tsa.Client, roots *x509.CertPool) (*extend.Extender, error) {
	client, err := outbound.New(extend.FetchOptions(cfg, baseURL))
	if err != nil {
		return nil, fmt.Errorf("extension's outbound client: %w", err)
	}
	return extend.New(extend.Config{
		Signer: &signer.Signer{TSA: tsaClient, Revocation: &revocation.Fetcher{Client: client}},
		Verify: verify.Config{Roots: roots, Cache: verify.NewCache(0)},
	}), nil
}

// openBlobs opens the store of batch documents that cfg names.
func openBlobs(ctx context.Context, cfg config.Config, st *store.Store) (blob.Store, error) {
	if cfg.BlobStore == "database" {
		b, err := blob.OpenDB(ctx, st)
		if err != nil {
			return nil, fmt.Errorf("blob store in the database: %w", err)
		}
		return b, nil
	}
	d, err := blob.OpenDir(cfg.BlobDir)
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	return d, nil
}

// Credential resolves a credential by name, for local signing.
func (s *Service) Credential(ctx context.Context, name string) (*store.Credential, signer.Credential, error) {
	c, err := s.Store.Credential(ctx, name)
	if err != nil {
		return nil, signer.Credential{}, fmt.Errorf("credential %q: %w", name, err)
	}
	key, err := s.Keys.Resolve(ctx, c)
	return c, key, err
}

// Close releases the HSM and the database. Stop the batch workers first.
func (s *Service) Close() error {
	var first error
	if s.Batches != nil {
		first = s.Batches.Close()
	}
	if s.hsm != nil {
		if err := s.hsm.Close(); err != nil && first == nil {
			first = err
		}
	}
	if s.Store != nil {
		if err := s.Store.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// seedDev registers the development credentials, with their chains from
// the development PKI, and the two development API clients.
func seedDev(ctx context.Context, st *store.Store, dev *devstack.Stack, dataDir string) error {
	creds := store.DefaultDevCredentials()
	for i := range creds {
		c, ok := dev.PKI.Credentials[creds[i].Name]
		if !ok {
			return fmt.Errorf("development PKI has no credential %q", creds[i].Name)
		}
		var b strings.Builder
		for _, cert := range c.Chain {
			pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
		}
		creds[i].ChainPEM = []byte(b.String())
	}
	if err := store.SeedDev(ctx, st, dataDir, creds); err != nil {
		return fmt.Errorf("seed development clients and credentials: %w", err)
	}
	return nil
}

func newTSAClient(cfg config.Config, baseURL string, roots *x509.CertPool) (*tsa.Client, error) {
	c := &tsa.Client{URL: cfg.TSAURL, Username: cfg.TSAUser}
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
	opts := outbound.Options{Timeout: cfg.OutboundTimeout, MaxResponseBytes: cfg.OutboundMaxBytes}
	if cfg.TSAClientCert != "" {
		pair, err := tls.LoadX509KeyPair(cfg.TSAClientCert, cfg.TSAClientKey)
		if err != nil {
			return nil, fmt.Errorf("TSA client certificate: %w", err)
		}
		opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	// The operator configured this URL: it is trusted as it stands, with
	// redirects kept to it.
	var err error
	if c.Outbound, err = tsa.OutboundFor(c.URL, opts); err != nil {
		return nil, fmt.Errorf("TSA client: %w", err)
	}
	return c, nil
}
