// Command esign-verifyd is the public verifier: POST /api/v1/verify and
// the verification page. It holds no keys and opens no HSM, so it can run
// on the internet apart from the signing service.
//
//	esign-verifyd        # ESIGN_VERIFY_ADDR, default 127.0.0.1:8081
//	esign-verifyd -dev   # also trust the development root in $ESIGN_DATA_DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"esign/config"
	"esign/internal/serve"
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
	srv := verifyapi.New(verifyapi.Config{Verify: vc, MaxUpload: cfg.MaxUpload, Logger: logger})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", cfg.VerifyAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.VerifyAddr, err)
	}
	logger.Info("verifier ready", "addr", ln.Addr().String(), "dev", cfg.Dev)
	return serve.Run(ctx, ln, srv.Handler(), serve.Options{Logger: logger, ShutdownTimeout: 30 * time.Second})
}
