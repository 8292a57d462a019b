package serve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// start serves h on a loopback port with opts until the test ends.
func start(t *testing.T, h http.Handler, opts Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, ln, h, opts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return ln.Addr().String()
}

// readAll answers with the size of the body it read, 400 with the error,
// or 500 if the request's context ended while it worked on.
func readAll(work time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(work):
		case <-r.Context().Done():
			http.Error(w, "context ended during the work", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, n)
	})
}

// upload sends a body of size bytes in pieces of chunk bytes, every
// pause, on a raw connection, and returns the response's status line, or
// the error that ended the exchange, and how long it took.
func upload(t *testing.T, addr string, size, chunk int, pause time.Duration) (string, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	begin := time.Now()
	// No test may hang on a server that fails to cut a client off.
	conn.SetDeadline(begin.Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n", size)
	// Send in the background: the answer may come, or the connection
	// close, before the body is all sent.
	go func() {
		piece := []byte(strings.Repeat("x", chunk))
		for sent := 0; sent < size; sent += chunk {
			if _, err := conn.Write(piece[:min(chunk, size-sent)]); err != nil {
				return // cut off
			}
			time.Sleep(pause)
		}
	}()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "error: " + err.Error(), time.Since(begin)
	}
	return strings.TrimSpace(line), time.Since(begin)
}

func TestMinBodyRate(t *testing.T) {
	opts := Options{MinBodyRate: 1000, BodyRateWindow: 300 * time.Millisecond, MaxBody: 1 << 20}
	tests := []struct {
		name    string
		size    int
		chunk   int
		pause   time.Duration
		work    time.Duration
		wantOK  bool
		atLeast time.Duration
		atMost  time.Duration
	}{
		// 1 byte every 100 ms is 10 B/s against 1000 B/s.
		{name: "trickle is cut off", size: 1000, chunk: 1, pause: 100 * time.Millisecond, atMost: 2 * time.Second},
		{name: "stall is cut off", size: 1000, chunk: 100, pause: 5 * time.Second, atMost: 2 * time.Second},
		// 4000 B/s for about 1.2 s: slow, but well over the minimum.
		{name: "slow honest upload passes", size: 4800, chunk: 200, pause: 50 * time.Millisecond, wantOK: true,
			atLeast: time.Second},
		{name: "fast upload passes", size: 1 << 20, chunk: 64 << 10, wantOK: true},
		// The handler works on for several windows after the body ends:
		// the pace deadline must not cancel its request.
		{name: "work after the body is not cut off", size: 1000, chunk: 1000, work: time.Second, wantOK: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := start(t, readAll(tc.work), opts)
			got, took := upload(t, addr, tc.size, tc.chunk, tc.pause)
			if ok := got == "HTTP/1.1 200 OK"; ok != tc.wantOK {
				t.Fatalf("response %q after %s; want success %v", got, took, tc.wantOK)
			}
			if tc.atMost > 0 && took > tc.atMost {
				t.Errorf("cut off after %s, want within %s", took, tc.atMost)
			}
			if took < tc.atLeast {
				t.Errorf("took %s, expected at least %s: the test's pacing is off", took, tc.atLeast)
			}
		})
	}
}

// TestPaceErrorReachesHandler: the handler sees ErrBodyTooSlow.
func TestPaceErrorReachesHandler(t *testing.T) {
	seen := make(chan error, 1)
	addr := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		seen <- err
	}), Options{MinBodyRate: 1000, BodyRateWindow: 200 * time.Millisecond})
	upload(t, addr, 100, 1, 50*time.Millisecond)
	if err := <-seen; !errors.Is(err, ErrBodyTooSlow) {
		t.Fatalf("handler read %v, want ErrBodyTooSlow", err)
	}
}

// TestMaxConns: past the cap a connection waits, unserved, until another
// closes.
func TestMaxConns(t *testing.T) {
	addr := start(t, readAll(0), Options{MaxConns: 2})
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// Make sure both are accepted before the third comes.
	for _, c := range held {
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: test\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.Contains(line, "200") {
			t.Fatalf("held connection: %q %v", line, err)
		}
	}
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	fmt.Fprint(third, "GET / HTTP/1.1\r\nHost: test\r\n\r\n")
	r := bufio.NewReader(third)
	third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if line, err := r.ReadString('\n'); err == nil {
		t.Fatalf("third connection served past the cap: %q", line)
	}
	held[0].Close()
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := r.ReadString('\n'); err != nil || !strings.Contains(line, "200") {
		t.Fatalf("third connection after one closed: %q %v", line, err)
	}
}

func TestReadTimeoutDefault(t *testing.T) {
	tests := []struct {
		name string
		in   Options
		want time.Duration
	}{
		{"no rate: none", Options{MaxBody: 50 << 20}, 0},
		{"no size: none", Options{MinBodyRate: 16 << 10}, 0},
		{"50 MiB at 16 KiB/s", Options{MaxBody: 50 << 20, MinBodyRate: 16 << 10},
			10*time.Second + 20*time.Second + 3200*time.Second},
		{"set explicitly", Options{MaxBody: 50 << 20, MinBodyRate: 16 << 10, ReadTimeout: time.Minute}, time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.withDefaults().ReadTimeout; got != tc.want {
				t.Fatalf("ReadTimeout = %s, want %s", got, tc.want)
			}
		})
	}
}
