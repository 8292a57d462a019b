package serve

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestSilentBodyOnRouteThatDoesNotRead: a handler that answers without
// reading the body (a 401, a 404) must not leave the connection to the
// whole ReadTimeout when the client sends headers and then nothing: the
// server's drain of the body gets one window.
func TestSilentBodyOnRouteThatDoesNotRead(t *testing.T) {
	deny := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusUnauthorized) })
	addr := start(t, deny, Options{MinBodyRate: 1000, BodyRateWindow: 200 * time.Millisecond, ReadTimeout: time.Hour})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "POST /x HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n")
	// The answer comes; then the connection must close, not idle on.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	if line, err := r.ReadString('\n'); err != nil || !strings.Contains(line, "401") {
		t.Fatalf("answer: %q %v", line, err)
	}
	for {
		if _, err := r.ReadByte(); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the connection stayed open with a silent body")
			}
			return // closed by the server
		}
	}
}

// TestMaxConnsPerPeer: one address gets its cap and no more; an exempt
// address (a trusted proxy) is not counted.
func TestMaxConnsPerPeer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		exempt bool
	}{{"counted", false}, {"exempt", true}} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{MaxConnsPerPeer: 2}
			if tc.exempt {
				opts.ExemptPeer = func(ip netip.Addr) bool { return ip.IsLoopback() }
			}
			addr := start(t, readAll(0), opts)
			served := 0
			for range 3 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: test\r\n\r\n")
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if line, err := bufio.NewReader(c).ReadString('\n'); err == nil && strings.Contains(line, "200") {
					served++
				}
			}
			want := 2
			if tc.exempt {
				want = 3
			}
			if served != want {
				t.Fatalf("%d of 3 connections served, want %d", served, want)
			}
		})
	}
}

// TestClientThatStopsReading: a handler writing to a client that reads
// nothing gets an error once the window and the bytes' time at the
// minimum rate have passed, instead of blocking for ever.
func TestClientThatStopsReading(t *testing.T) {
	done := make(chan error, 1)
	big := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1<<20)
		for {
			if _, err := w.Write(chunk); err != nil {
				done <- err
				return
			}
		}
	})
	addr := start(t, big, Options{MinBodyRate: 1 << 20, BodyRateWindow: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: test\r\n\r\n")
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("write to a client that reads nothing did not fail")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the handler is still writing to a client that reads nothing")
	}
}
