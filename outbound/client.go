// Package outbound makes the HTTP requests that leave the process (TSA,
// OCSP, CRL, CA issuers) safely: every request goes to a destination an
// allow-list permits, the address a name resolves to is checked on every
// connection, redirects are checked again, and every response is bounded
// in size and time.
//
// URLs often come from certificates inside uploaded documents, so the
// client must not become a way into the machine's own network. Loopback,
// private, link-local and other non-public addresses are refused unless an
// entry names the IP address literally with its port (or, for the
// operator's own services, the entry is a trusted one; see
// Options.Trusted). A DNS name on the list that resolves to such an
// address is refused: the check runs after resolution, on the address
// actually dialled.
package outbound

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// Defaults of Options.
const (
	DefaultTimeout          = 15 * time.Second
	DefaultMaxResponseBytes = 10 << 20
	DefaultMaxRedirects     = 5
)

var (
	// ErrNotAllowed is wrapped by the error of a request (or a redirect,
	// or a connection) to a destination the policy refuses.
	ErrNotAllowed = errors.New("outbound: destination not allowed")
	// ErrTooLarge is wrapped by the error of a response larger than the
	// limit.
	ErrTooLarge = errors.New("outbound: response too large")
)

// Options configure a Client. The zero value allows nothing.
type Options struct {
	// Allow lists the destinations, in the form ParseEntry reads:
	// scheme://host[:port][/path-prefix], or a bare host for that host on
	// the default ports. A name's addresses must all be public; a
	// non-public address is reached only through an entry naming it
	// literally with its port (http://127.0.0.1:8080).
	Allow []string
	// Trusted lists destinations the operator configured for its own
	// services (the TSA URL, the development services), in the same form.
	// Unlike Allow's, their names may resolve to non-public addresses.
	// Never put a URL taken from a document here.
	Trusted []string
	// AnyPublicHost also allows every http and https URL whose host
	// resolves to public addresses only, on any port. For the signing
	// side, where URLs come from the operator's own certificate chains;
	// not for a public verifier.
	AnyPublicHost bool
	// Timeout bounds each request, from dialling to the end of the body,
	// redirects included. Default: DefaultTimeout.
	Timeout time.Duration
	// MaxResponseBytes bounds each response body. Default:
	// DefaultMaxResponseBytes (10 MiB, room for the CRLs of large CAs).
	MaxResponseBytes int64
	// MaxRedirects bounds the redirects of one request; negative allows
	// none. Default: DefaultMaxRedirects.
	MaxRedirects int
	// Resolver looks up names. Default: net.DefaultResolver.
	Resolver *net.Resolver
	// Control, when set, runs after the policy's own check, just before
	// each socket connects, with the address (IP and port) it connects
	// to; an error stops the connection. For extra rules, logging, and
	// tests that must prove no packet left. Default: none.
	Control func(network, address string, rc syscall.RawConn) error
	// TLSConfig is the TLS configuration of https requests (client
	// certificates, roots). Default: the system roots, TLS 1.2 or later.
	TLSConfig *tls.Config
}

// Client makes outbound requests under one policy. It is safe for
// concurrent use.
type Client struct {
	allow, trusted []Entry
	anyPublic      bool
	maxBytes       int64
	resolver       *net.Resolver
	hc             *http.Client
	control        func(network, address string, rc syscall.RawConn) error
}

// New returns a client with the policy of opts, or an error naming the
// first bad allow-list entry.
func New(opts Options) (*Client, error) {
	c := &Client{anyPublic: opts.AnyPublicHost, maxBytes: opts.MaxResponseBytes, resolver: opts.Resolver, control: opts.Control}
	for _, s := range opts.Allow {
		e, err := ParseEntry(s)
		if err != nil {
			return nil, err
		}
		c.allow = append(c.allow, e)
	}
	for _, s := range opts.Trusted {
		e, err := ParseEntry(s)
		if err != nil {
			return nil, err
		}
		c.trusted = append(c.trusted, e)
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxResponseBytes
	}
	if c.resolver == nil {
		c.resolver = net.DefaultResolver
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	maxRedirects := opts.MaxRedirects
	switch {
	case maxRedirects == 0:
		maxRedirects = DefaultMaxRedirects
	case maxRedirects < 0:
		maxRedirects = 0
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.TLSConfig != nil {
		tlsConf = opts.TLSConfig.Clone()
	}
	tr := &http.Transport{
		// No proxy: a proxy would dial for us, out of reach of the
		// address check.
		Proxy:                  nil,
		DialContext:            c.dial,
		TLSClientConfig:        tlsConf,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  timeout,
		MaxIdleConns:           32,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	c.hc = &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("%w: more than %d redirects", ErrNotAllowed, maxRedirects)
			}
			if err := c.CheckURL(r.URL); err != nil {
				return fmt.Errorf("redirect: %w", err)
			}
			return nil
		},
	}
	return c, nil
}

// Request is one outbound request.
type Request struct {
	// Method is the HTTP method. Default: GET, or POST when Body is set.
	Method string
	// URL is the absolute http or https URL.
	URL string
	// Body, ContentType and Accept are sent when set.
	Body        []byte
	ContentType string
	Accept      string
	// Username and Password, when either is set, are sent as HTTP basic
	// authentication.
	Username, Password string
	// BearerToken, when set, is sent as "Authorization: Bearer …" (a
	// remote signing service's API key). Like Password, it never appears
	// in an error.
	BearerToken string
	// MaxBytes, when positive and below the client's limit, bounds this
	// response instead.
	MaxBytes int64
}

// Response is an answer, its body read in full.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Do sends r when the policy allows its URL and returns the response,
// whatever its status. Errors wrap ErrNotAllowed for a refused
// destination (first URL, redirect or resolved address) and ErrTooLarge
// for an oversized body.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, fmt.Errorf("outbound: parse URL: %w", err)
	}
	if err := c.CheckURL(u); err != nil {
		return nil, err
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
		if r.Body != nil {
			method = http.MethodPost
		}
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("outbound: build request: %w", err)
	}
	if r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	}
	if r.Accept != "" {
		req.Header.Set("Accept", r.Accept)
	}
	if r.Username != "" || r.Password != "" {
		req.SetBasicAuth(r.Username, r.Password)
	}
	if r.BearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+r.BearerToken)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("outbound: %w", err)
	}
	defer resp.Body.Close()
	limit := c.maxBytes
	if r.MaxBytes > 0 && r.MaxBytes < limit {
		limit = r.MaxBytes
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: %s announces %d bytes, limit %d", ErrTooLarge, u.Redacted(), resp.ContentLength, limit)
	}
	data, err := io.ReadAll(&limitReader{r: resp.Body, left: limit})
	if err != nil {
		return nil, fmt.Errorf("outbound: read response of %s: %w", u.Redacted(), err)
	}
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// Get fetches url and returns the body of a 200 answer.
func (c *Client) Get(ctx context.Context, url string) ([]byte, error) {
	resp, err := c.Do(ctx, Request{URL: url})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("outbound: %s: HTTP %d", url, resp.StatusCode)
	}
	return resp.Body, nil
}

// CheckURL reports (wrapping ErrNotAllowed) whether the policy refuses
// u before any address is looked up. The addresses are checked again
// when connecting.
func (c *Client) CheckURL(u *url.URL) error {
	scheme, host, port, path, err := urlParts(u)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrNotAllowed, u.Redacted(), err)
	}
	for _, list := range [][]Entry{c.allow, c.trusted} {
		for _, e := range list {
			if e.matchURL(scheme, host, port, path) {
				return nil
			}
		}
	}
	if c.anyPublic {
		return nil
	}
	return fmt.Errorf("%w: %s is not on the allow-list", ErrNotAllowed, u.Redacted())
}

// checkAddr decides whether a connection for host:port may go to ip.
func (c *Client) checkAddr(host, port string, ip netip.Addr) error {
	ip = ip.Unmap()
	for _, e := range c.trusted {
		if e.matchHostPort(host, port) && !ip.IsUnspecified() && !ip.IsMulticast() {
			return nil
		}
	}
	if internal(ip) {
		if c.literalAllowed(ip, port) {
			return nil
		}
		return fmt.Errorf("%w: %s resolves to %s, which is not a public address", ErrNotAllowed, net.JoinHostPort(host, port), ip)
	}
	if c.anyPublic {
		return nil
	}
	for _, e := range c.allow {
		if e.matchHostPort(host, port) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is not on the allow-list", ErrNotAllowed, net.JoinHostPort(host, port))
}

func (c *Client) literalAllowed(ip netip.Addr, port string) bool {
	for _, list := range [][]Entry{c.allow, c.trusted} {
		for _, e := range list {
			if ap, ok := e.literal(); ok && ap.Addr() == ip && strconv.Itoa(int(ap.Port())) == port {
				return true
			}
		}
	}
	return false
}

// dial resolves addr's host, checks every address and dials only the
// checked ones, by IP, so a second lookup cannot give another answer.
func (c *Client) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("outbound: dial %s: %w", addr, err)
	}
	if host, err = parseHost(host); err != nil {
		return nil, fmt.Errorf("%w: dial %s: %w", ErrNotAllowed, addr, err)
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("outbound: dial %s: bad port", addr)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = c.resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, fmt.Errorf("outbound: look up %s: %w", host, err)
	}
	// Every address must pass: a name with one internal address among
	// public ones is refused as a whole, so which one gets dialled does
	// not matter.
	for _, ip := range ips {
		if err := c.checkAddr(host, port, ip); err != nil {
			return nil, err
		}
	}
	d := &net.Dialer{
		Timeout: 10 * time.Second,
		// The last word before connect(2): whatever the path to here,
		// the socket only connects to an address the policy allows.
		Control: func(network, address string, rc syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: connect to %s: %w", ErrNotAllowed, address, err)
			}
			if err := c.checkAddr(host, port, ap.Addr()); err != nil {
				return err
			}
			if c.control != nil {
				return c.control(network, address, rc)
			}
			return nil
		},
	}
	var errs []error
	for _, ip := range ips {
		conn, err := d.DialContext(ctx, network, netip.AddrPortFrom(ip.Unmap(), uint16(pn)).String())
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("outbound: %s has no address", host)
	}
	return nil, errors.Join(errs...)
}

// limitReader fails, rather than stops quietly, past its limit, so a
// truncated CRL or certificate is never mistaken for a whole one.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, ErrTooLarge
	}
	return n, err
}
