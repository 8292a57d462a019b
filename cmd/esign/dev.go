package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"esign/config"
	"esign/service"
)

func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) != 1 || args[0] != "init" {
		fmt.Fprintln(stderr, "usage: esign dev init")
		return errUsage
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	cfg.Dev = true
	svc, err := openService(ctx, cfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	abs, _ := filepath.Abs(cfg.DataDir)
	fmt.Fprintf(stdout, "development stack ready in %s\n", abs)
	fmt.Fprintf(stdout, "  token:        %s (SoftHSM2), PIN in %s\n", "esign-dev", filepath.Join(abs, "secrets", "user-pin"))
	fmt.Fprintf(stdout, "  root CA:      %s\n", filepath.Join(abs, "pki", "root.pem"))
	fmt.Fprintf(stdout, "  API keys:     %s, %s\n", filepath.Join(abs, "dev-api-key"), filepath.Join(abs, "dev-api-key-2"))
	creds, err := svc.Store.ListCredentials(ctx)
	if err != nil {
		return err
	}
	for _, c := range creds {
		fmt.Fprintf(stdout, "  credential:   %-14s %s, activation %s\n", c.Name, c.DisplayName, c.Activation)
	}
	return nil
}

// openService assembles the service as esignd does. In development mode
// the SoftHSM configuration must be exported before the module loads.
func openService(ctx context.Context, cfg config.Config) (*service.Service, error) {
	if cfg.Dev {
		conf, err := service.PrepareDev(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		os.Setenv("SOFTHSM2_CONF", conf)
	}
	return service.Open(ctx, cfg, slog.New(slog.DiscardHandler))
}
