package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"esign/metrics/metricstest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestDaemonMetrics runs the real binary: /metrics is on the public
// address by default, and only on ESIGN_VERIFY_METRICS_ADDR when that is
// set.
func TestDaemonMetrics(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "esign-verifyd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name        string
		metricsAddr bool
	}{
		{"same address", false},
		{"own address", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, metricsAddr := freeAddr(t), ""
			if tc.metricsAddr {
				metricsAddr = freeAddr(t)
			}
			// Empty ESIGN_VERIFY_METRICS_ADDR is the default, whatever the
			// environment of the test says.
			env := append(os.Environ(), "ESIGN_VERIFY_ADDR="+addr, "ESIGN_DATA_DIR="+t.TempDir(),
				"ESIGN_VERIFY_METRICS_ADDR="+metricsAddr)
			var log bytes.Buffer
			cmd := exec.Command(bin)
			cmd.Env, cmd.Stdout, cmd.Stderr = env, &log, &log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cmd.Process.Signal(syscall.SIGTERM)
				if err := cmd.Wait(); err != nil {
					t.Errorf("exit: %v\n%s", err, &log)
				}
			}()
			waitHealthy(t, "http://"+addr+"/healthz", &log)

			public, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			public.Body.Close()
			url := "http://" + addr + "/metrics"
			if tc.metricsAddr {
				if public.StatusCode != http.StatusNotFound {
					t.Errorf("public /metrics: %s, want 404 when the metrics have their own address", public.Status)
				}
				url = "http://" + metricsAddr + "/metrics"
			}
			mfs := metricstest.ScrapeURL(t, http.DefaultClient, url)
			for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "esign_verifications_total", "esign_verify_rejected_total"} {
				if _, ok := mfs[name]; !ok {
					t.Errorf("%s lacks %s", url, name)
				}
			}
		})
	}
}

func waitHealthy(t *testing.T, url string, log *bytes.Buffer) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("esign-verifyd did not become healthy:\n%s", log)
}
