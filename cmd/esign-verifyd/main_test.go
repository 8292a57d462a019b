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

// binary is the daemon built once for the package's tests, by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "esign-verifyd-test-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "esign-verifyd")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	code := 1
	if err != nil {
		os.Stderr.Write(out)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// startVerifyd runs the daemon with env added to the test's environment,
// waits until addr answers /healthz, and stops it with SIGTERM when the
// test ends, failing it if the daemon exits badly.
func startVerifyd(t *testing.T, addr string, env ...string) *bytes.Buffer {
	t.Helper()
	var log bytes.Buffer
	cmd := exec.Command(binary)
	cmd.Env = append(append(os.Environ(), "ESIGN_VERIFY_ADDR="+addr), env...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("exit: %v\n%s", err, &log)
		}
	})
	waitHealthy(t, "http://"+addr+"/healthz", &log)
	return &log
}

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
			startVerifyd(t, addr, "ESIGN_DATA_DIR="+t.TempDir(), "ESIGN_VERIFY_METRICS_ADDR="+metricsAddr)

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
