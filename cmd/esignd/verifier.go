package main

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// startVerifier runs the public verifier as a process of its own, as
// production deploys it, so that `make run` brings up both services. The
// child gets no HSM configuration and no keys: only the environment,
// which names the data directory for the development root.
func startVerifier(ctx context.Context, logger *slog.Logger) func() {
	self, err := os.Executable()
	if err != nil {
		logger.Warn("verifier not started", "error", err)
		return func() {}
	}
	bin := filepath.Join(filepath.Dir(self), "esign-verifyd")
	if _, err := os.Stat(bin); err != nil {
		logger.Warn("verifier not started: esign-verifyd is not beside esignd (make build puts it there)", "path", bin)
		return func() {}
	}
	cmd := exec.Command(bin, "-dev")
	cmd.Env = withoutPKCS11(os.Environ())
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		logger.Warn("verifier not started", "error", err)
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		close(done)
		if ctx.Err() == nil {
			logger.Error("verifier exited", "error", err)
		}
	}()
	return func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
}

// withoutPKCS11 drops the HSM settings from the verifier's environment.
func withoutPKCS11(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "ESIGN_PKCS11_") && !strings.HasPrefix(kv, "SOFTHSM2_CONF=") {
			out = append(out, kv)
		}
	}
	return out
}
