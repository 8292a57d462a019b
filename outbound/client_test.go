package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"esign/outbound/outboundtest"
)

// counted is a loopback server that counts the requests it gets.
type counted struct {
	*httptest.Server
	hits atomic.Int64
	port string
}

func newCounted(t *testing.T, network string, h http.HandlerFunc) *counted {
	t.Helper()
	c := &counted{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		h(w, r)
	}))
	if network != "" {
		ln, err := net.Listen("tcp", network)
		if err != nil {
			t.Skipf("no %s listener: %v", network, err)
		}
		srv.Listener.Close()
		srv.Listener = ln
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c.Server = srv
	u, _ := url.Parse(srv.URL)
	c.port = u.Port()
	return c
}

// guarded returns a client with opts and a guard that keeps its sockets
// on loopback and records what they tried.
func guarded(t *testing.T, opts Options) (*Client, *outboundtest.Guard) {
	t.Helper()
	g := &outboundtest.Guard{}
	opts.Control = g.Control
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, g
}

func TestClientPolicy(t *testing.T) {
	ctx := context.Background()
	forbidden := newCounted(t, "", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) })
	allowed := newCounted(t, "", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-forbidden":
			http.Redirect(w, r, forbidden.URL+"/x", http.StatusFound)
		case "/to-self":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/big":
			w.Write(make([]byte, 2048))
		case "/big-chunked":
			for range 4 {
				w.Write(make([]byte, 512))
				w.(http.Flusher).Flush()
			}
		default:
			w.Write([]byte("ok"))
		}
	})
	resolver := outboundtest.Resolver(t, netip.MustParseAddr("127.0.0.1"))
	allowedEntry := "http://127.0.0.1:" + allowed.port

	tests := []struct {
		name    string
		opts    Options
		url     string
		wantErr error // nil: the request succeeds
		hits    *counted
	}{
		{name: "literal IP with port", opts: Options{Allow: []string{allowedEntry}}, url: allowed.URL + "/ok", hits: allowed},
		{name: "redirect on the list", opts: Options{Allow: []string{allowedEntry}}, url: allowed.URL + "/to-self", hits: allowed},
		{name: "another loopback port", opts: Options{Allow: []string{allowedEntry}}, url: forbidden.URL + "/x", wantErr: ErrNotAllowed, hits: forbidden},
		{name: "bare loopback host", opts: Options{Allow: []string{"127.0.0.1"}}, url: forbidden.URL + "/x", wantErr: ErrNotAllowed, hits: forbidden},
		{name: "loopback host on any public host", opts: Options{AnyPublicHost: true}, url: forbidden.URL + "/x", wantErr: ErrNotAllowed, hits: forbidden},
		{name: "IPv4-mapped loopback", opts: Options{Allow: []string{"http://[::ffff:127.0.0.1]"}}, url: "http://[::ffff:127.0.0.1]:" + forbidden.port + "/x", wantErr: ErrNotAllowed, hits: forbidden},
		{name: "other port named as IPv4-mapped", opts: Options{AnyPublicHost: true, Allow: []string{allowedEntry}}, url: "http://[::ffff:127.0.0.1]:" + forbidden.port + "/x", wantErr: ErrNotAllowed, hits: forbidden},
		{name: "redirect off the list", opts: Options{Allow: []string{allowedEntry}}, url: allowed.URL + "/to-forbidden", wantErr: ErrNotAllowed, hits: forbidden},
		{name: "redirect to loopback with any public host", opts: Options{AnyPublicHost: true, Allow: []string{allowedEntry}}, url: allowed.URL + "/to-forbidden", wantErr: ErrNotAllowed, hits: forbidden},
		{name: "redirect loop", opts: Options{Allow: []string{allowedEntry}, MaxRedirects: 3}, url: allowed.URL + "/loop", wantErr: ErrNotAllowed},
		{name: "no redirects", opts: Options{Allow: []string{allowedEntry}, MaxRedirects: -1}, url: allowed.URL + "/to-self", wantErr: ErrNotAllowed},
		{name: "name on the list resolving to loopback", opts: Options{Allow: []string{"http://crl.example.test:" + forbidden.port}, Resolver: resolver}, url: "http://crl.example.test:" + forbidden.port + "/x", wantErr: ErrNotAllowed, hits: forbidden},
		{name: "control: trusted name resolving to loopback", opts: Options{Trusted: []string{"http://crl.example.test:" + allowed.port}, Resolver: resolver}, url: "http://crl.example.test:" + allowed.port + "/ok", hits: allowed},
		{name: "trusted entry is no wildcard", opts: Options{Trusted: []string{"http://crl.example.test:" + allowed.port}, Resolver: resolver}, url: "http://crl.example.test:" + forbidden.port + "/x", wantErr: ErrNotAllowed, hits: forbidden},
		{name: "oversized body", opts: Options{Allow: []string{allowedEntry}, MaxResponseBytes: 1024}, url: allowed.URL + "/big", wantErr: ErrTooLarge},
		{name: "oversized chunked body", opts: Options{Allow: []string{allowedEntry}, MaxResponseBytes: 1024}, url: allowed.URL + "/big-chunked", wantErr: ErrTooLarge},
		{name: "body at the limit", opts: Options{Allow: []string{allowedEntry}, MaxResponseBytes: 2048}, url: allowed.URL + "/big", hits: allowed},
		{name: "not http", opts: Options{AnyPublicHost: true}, url: "file:///etc/passwd", wantErr: ErrNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, g := guarded(t, tc.opts)
			allowed.hits.Store(0)
			forbidden.hits.Store(0)
			_, err := c.Get(ctx, tc.url)
			if b := g.Blocked(); len(b) > 0 {
				t.Fatalf("the policy let sockets try %v", b)
			}
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.hits == nil {
				return
			}
			if got := tc.hits.hits.Load(); (got > 0) != (tc.wantErr == nil) {
				t.Fatalf("the server got %d requests", got)
			}
		})
	}
}

// TestIPv6Loopback runs where [::1] can listen.
func TestIPv6Loopback(t *testing.T) {
	srv := newCounted(t, "[::1]:0", func(w http.ResponseWriter, r *http.Request) {})
	other := newCounted(t, "", func(w http.ResponseWriter, r *http.Request) {})
	for _, allow := range [][]string{{"::1"}, {"http://[::1]"}, {"http://127.0.0.1:" + srv.port}, {"http://127.0.0.1:" + other.port}} {
		c, _ := guarded(t, Options{Allow: allow, AnyPublicHost: true})
		if _, err := c.Get(context.Background(), srv.URL); !errors.Is(err, ErrNotAllowed) {
			t.Fatalf("allow %v: err = %v, want ErrNotAllowed", allow, err)
		}
	}
	if n := srv.hits.Load(); n != 0 {
		t.Fatalf("[::1] got %d requests", n)
	}
	c, _ := New(Options{Allow: []string{"http://[::1]:" + srv.port}})
	if _, err := c.Get(context.Background(), srv.URL); err != nil || srv.hits.Load() != 1 {
		t.Fatalf("literal [::1] with port: err = %v, hits %d", err, srv.hits.Load())
	}
}

// TestMetadataAddress checks that the cloud metadata address is refused
// before any socket connects, whatever the list says short of naming it
// with a port. The guard would stop a connection anyway; the test asserts
// the policy refused first, so the guard saw nothing.
func TestMetadataAddress(t *testing.T) {
	for _, opts := range []Options{
		{Allow: []string{"169.254.169.254"}},
		{Allow: []string{"http://169.254.169.254"}},
		{Allow: []string{"http://[::ffff:169.254.169.254]"}},
		{AnyPublicHost: true},
	} {
		for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/latest/meta-data/", "http://[fd00:ec2::254]/latest/meta-data/"} {
			c, g := guarded(t, opts)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := c.Get(ctx, u)
			cancel()
			if !errors.Is(err, ErrNotAllowed) {
				t.Fatalf("%v %s: err = %v, want ErrNotAllowed", opts.Allow, u, err)
			}
			if tried := g.Tried(); len(tried) != 0 {
				t.Fatalf("%v %s: sockets tried to connect to %v", opts.Allow, u, tried)
			}
		}
	}
	// The dialer refuses it too, should a request get past the URL check.
	c, g := guarded(t, Options{Allow: []string{"http://169.254.169.254"}})
	if _, err := c.dial(context.Background(), "tcp", "169.254.169.254:80"); !errors.Is(err, ErrNotAllowed) || len(g.Tried()) != 0 {
		t.Fatalf("dial: err = %v, attempted %v", err, g.Tried())
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := newCounted(t, "", func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	c, err := New(Options{Allow: []string{"http://127.0.0.1:" + slow.port}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Get(context.Background(), slow.URL); err == nil || !strings.Contains(err.Error(), "Timeout") && !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestLimitReader(t *testing.T) {
	tests := []struct {
		size, limit int
		wantErr     bool
	}{{0, 0, false}, {10, 10, false}, {11, 10, true}, {1 << 16, 100, true}, {5, 0, true}}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d of %d", tc.size, tc.limit), func(t *testing.T) {
			lr := &limitReader{r: strings.NewReader(strings.Repeat("x", tc.size)), left: int64(tc.limit)}
			var total int
			buf := make([]byte, 7)
			var err error
			for {
				var n int
				n, err = lr.Read(buf)
				total += n
				if err != nil {
					break
				}
			}
			if tc.wantErr != errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v", err)
			}
			if total > tc.limit {
				t.Fatalf("read %d bytes past a limit of %d", total, tc.limit)
			}
		})
	}
}
