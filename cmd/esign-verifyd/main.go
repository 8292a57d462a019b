// Package main is esign-verifyd, the public verifier: POST /api/v1/verify and
// the verification page. It holds no keys and opens no HSM, so it can run
// on the internet apart from the signing service.
//
//	esign-verifyd        # ESIGN_VERIFY_ADDR, default 127.0.0.1:8081
//	esign-verifyd -dev   # also trust the development root in $ESIGN_DATA_DIR
//
// With ESIGN_VERIFY_CLIENT_RATE_PER_MINUTE set, API clients may send their
// key and be limited per client rather than per address; the verifier
// then opens the signing service's database (ESIGN_DATABASE_URL, or the
// SQLite file in ESIGN_DATA_DIR) read-only, to check keys and nothing else.
//
// The issuer registry (GET /d/{id}, GET /api/v1/documents/{id} and the
// "registry" of a report) is read from the same database, opened
// read-only: ESIGN_DATABASE_URL, which should name a PostgreSQL role with
// SELECT only, or, without it, the SQLite file in ESIGN_DATA_DIR when it
// exists. With neither, the verifier runs without a registry. A database
// without the registry's table yet is looked at again on use, at most
// every few seconds, until the signing service has made it.
//
// Prometheus metrics are at /metrics on the same address, or, with
// ESIGN_VERIFY_METRICS_ADDR set, only on that address, which need not
// face the internet.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"esign/config"
	"esign/internal/serve"
	"esign/store"
	"esign/verifyapi"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "esign-verifyd:", err)
		os.Exit(1)
	}
}

func run() error {
	dev := flag.Bool("dev", false, "trust the development root in $ESIGN_DATA_DIR/pki and allow fetching from the development services")
	flag.Parse()
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	cfg.Dev = cfg.Dev || *dev
	vc, err := verifyapi.VerifyConfig(cfg)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("service", "verifier")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	vcfg := verifyapi.Config{Verify: vc, MaxUpload: cfg.MaxUpload, Logger: logger,
		NoMetrics:      cfg.VerifyMetricsAddr != "",
		RatePerMinute:  cfg.VerifyRatePerMinute,
		MaxConcurrent:  cfg.VerifyConcurrency,
		Burst:          cfg.VerifyBurst,
		TrustedProxies: cfg.TrustedProxies,
	}
	var st *store.Store
	if cfg.VerifyClientRatePerMinute > 0 || hasDatabase(cfg) {
		st, err = store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, ReadOnly: true})
		if err != nil && cfg.VerifyClientRatePerMinute > 0 {
			return fmt.Errorf("ESIGN_VERIFY_CLIENT_RATE_PER_MINUTE needs the signing service's database to check API keys: %w", err)
		}
		if err != nil {
			return fmt.Errorf("open the signing service's database read-only for the issuer registry: %w", err)
		}
		defer st.Close()
	}
	if cfg.VerifyClientRatePerMinute > 0 {
		vcfg.Keys, vcfg.ClientRatePerMinute = storeKeys{st}, cfg.VerifyClientRatePerMinute
	}
	if st != nil {
		// The signing service may not have made the registry's table yet
		// (it starts after the verifier, or the database is older than the
		// registry): the verifier then answers as for unknown documents
		// and looks for the table again on use, rather than not at all.
		reg := newLazyRegistry(st, logger)
		if reg.open(ctx) == nil {
			logger.Warn("no issuer registry yet: looked for again on use", "every", registryRetry.String())
		}
		vcfg.Registry = reg
	}
	srv := verifyapi.New(vcfg)

	ln, err := net.Listen("tcp", cfg.VerifyAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.VerifyAddr, err)
	}
	opts := serve.Limits(cfg)
	opts.Logger, opts.ShutdownTimeout = logger, 30*time.Second
	if cfg.VerifyMetricsAddr == "" {
		logger.Info("verifier ready", "addr", ln.Addr().String(), "metrics", ln.Addr().String(), "dev", cfg.Dev)
		return serve.Run(ctx, ln, srv.Handler(), opts)
	}
	mln, err := net.Listen("tcp", cfg.VerifyMetricsAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listen on %s: %w", cfg.VerifyMetricsAddr, err)
	}
	logger.Info("verifier ready", "addr", ln.Addr().String(), "metrics", mln.Addr().String(), "dev", cfg.Dev)
	// Either server failing stops both: a verifier nobody can watch, or
	// one that answers only scrapes, is not running as configured.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	merr := make(chan error, 1)
	go func() {
		defer cancel()
		merr <- serve.Run(ctx, mln, srv.MetricsHandler(), serve.Options{Logger: logger, ShutdownTimeout: 5 * time.Second})
	}()
	err = serve.Run(ctx, ln, srv.Handler(), opts)
	cancel()
	if mErr := <-merr; mErr != nil {
		err = errors.Join(err, fmt.Errorf("metrics: %w", mErr))
	}
	return err
}

// hasDatabase tells whether there is a database to read the registry
// from: a configured URL, or the SQLite file of the data directory.
func hasDatabase(cfg config.Config) bool {
	if cfg.DatabaseURL != "" {
		return true
	}
	dir := cfg.DataDir
	if dir == "" {
		dir = ".esign-dev" // store.Open's default
	}
	_, err := os.Stat(filepath.Join(dir, "esign.db"))
	return err == nil
}

// storeKeys checks API keys against the signing service's clients.
type storeKeys struct{ st *store.Store }

func (k storeKeys) Client(ctx context.Context, key string) (string, error) {
	c, err := k.st.Authenticate(ctx, key)
	if errors.Is(err, store.ErrUnauthenticated) {
		return "", verifyapi.ErrBadKey
	}
	if err != nil {
		return "", err
	}
	return c.Name, nil
}
