// Package main is esignd, the signing service.
//
//	esignd -dev   # development mode: SoftHSM2 token, dev PKI, built-in TSA/OCSP/CRL
//
// Configuration comes from the environment; see the README.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"esign/config"
	"esign/internal/runtimetune"
	"esign/internal/serve"
	"esign/service"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "esignd:", err)
		os.Exit(1)
	}
}

func run() error {
	dev := flag.Bool("dev", false, "run the embedded development stack (SoftHSM2 token, development PKI, TSA, OCSP, CRL)")
	flag.Parse()
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	cfg.Dev = cfg.Dev || *dev
	if err := service.RequirePublicVerifyURL(cfg); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	// GOMAXPROCS and GOGC for signing through PKCS#11; the environment
	// variables of those names override.
	runtimetune.Apply(os.Getenv)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cfg.Dev {
		// SoftHSM reads its configuration once per process, before the
		// module is first loaded; keep the development token in DataDir.
		conf, err := service.PrepareDev(cfg.DataDir)
		if err != nil {
			return err
		}
		os.Setenv("SOFTHSM2_CONF", conf)
	}
	svc, err := service.Open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer svc.Close()

	tc, err := tlsConfig(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	logger.Info("signing API ready", "addr", ln.Addr().String(), "dev", cfg.Dev, "data_dir", cfg.DataDir,
		"tls", tc != nil, "mtls", tc != nil && tc.ClientCAs != nil)
	if cfg.Dev {
		stopVerifier := startVerifier(ctx, logger)
		defer stopVerifier()
	}
	// The batch workers run on their own context: a shutdown lets the
	// documents in progress finish (Drain) before they stop.
	if err := svc.Batches.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svc.Batches.Stop(stopCtx)
	}()
	logger.Info("batch queue started", "replica", svc.Batches.ReplicaID(), "workers", svc.Batches.Workers())
	opts := serve.Limits(cfg)
	opts.Logger = logger
	opts.Drain = func(ctx context.Context) {
		logger.Info("shutting down: finishing requests and batch documents in flight; new requests get 503")
		svc.API.Drain(ctx)
		if err := svc.Batches.Stop(ctx); err != nil {
			logger.Warn("batch queue stop", "error", err)
		}
	}
	return serve.Run(ctx, ln, svc.API.Handler(), opts)
}
