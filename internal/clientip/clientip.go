// Package clientip finds the address of the client behind a request,
// believing X-Forwarded-For and Forwarded (RFC 7239) only when the
// connection comes from a trusted proxy.
package clientip

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ParsePrefixes reads comma-separated CIDRs; a bare address stands for
// itself alone (/32 or /128).
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR such as 10.0.0.0/8 nor an address", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Resolver finds client addresses. The zero value trusts no proxy: the
// address is always the connection's.
type Resolver struct {
	// Trusted are the proxies whose forwarding headers are believed.
	Trusted []netip.Prefix
}

// ClientIP returns the client's address: the peer's, unless the peer is
// a trusted proxy, in which case the right-most forwarded address that is
// not itself a trusted proxy. Only the right end of the chain can be
// believed: each trusted hop appends what it saw, while everything to the
// left of it came from the client. X-Forwarded-For wins over Forwarded
// when both are present: nginx, HAProxy and cloud load balancers append
// only X-Forwarded-For and pass a client's own Forwarded header through
// untouched, so preferring Forwarded would let the client name its
// address. It returns the zero Addr only when RemoteAddr is not an address
// (as in some handler tests).
func (r Resolver) ClientIP(req *http.Request) netip.Addr {
	peer := remoteAddr(req.RemoteAddr)
	if !peer.IsValid() || !r.trusted(peer) {
		return peer
	}
	chain := xForwardedFor(req.Header)
	if len(chain) == 0 {
		chain, _ = forwarded(req.Header)
	}
	client := peer
	for i := len(chain) - 1; i >= 0; i-- {
		a := chain[i]
		if !a.IsValid() {
			// "unknown", an obfuscated name or garbage: the hop that
			// wrote it is the last address we know.
			break
		}
		client = a
		if !r.trusted(a) {
			break
		}
	}
	return client
}

func (r Resolver) trusted(a netip.Addr) bool {
	for _, p := range r.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func remoteAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(s)
	return a.Unmap()
}

// xForwardedFor lists the addresses of every X-Forwarded-For header, in
// order; an entry that is not an address is the zero Addr.
func xForwardedFor(h http.Header) []netip.Addr {
	var out []netip.Addr
	for _, v := range h.Values("X-Forwarded-For") {
		for _, f := range strings.Split(v, ",") {
			out = append(out, parseNode(strings.TrimSpace(f)))
		}
	}
	return out
}

// forwarded lists the for= nodes of every Forwarded header (RFC 7239), in
// order, and whether there was any such header. An element without for=
// counts as an unknown node.
func forwarded(h http.Header) ([]netip.Addr, bool) {
	vals := h.Values("Forwarded")
	if len(vals) == 0 {
		return nil, false
	}
	var out []netip.Addr
	for _, v := range vals {
		for _, elem := range splitQuoted(v, ',') {
			node := netip.Addr{}
			for _, pair := range splitQuoted(elem, ';') {
				k, val, _ := strings.Cut(strings.TrimSpace(pair), "=")
				if strings.EqualFold(strings.TrimSpace(k), "for") {
					node = parseNode(strings.Trim(strings.TrimSpace(val), `"`))
				}
			}
			out = append(out, node)
		}
	}
	return out, true
}

// splitQuoted splits s at sep outside double quotes: a quoted IPv6 node
// such as "[2001:db8::1]:4711" holds no separator, but a careless proxy's
// value might.
func splitQuoted(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			quoted = !quoted
		case s[i] == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// parseNode reads 192.0.2.1, 192.0.2.1:80, 2001:db8::1 or
// [2001:db8::1]:80; anything else is the zero Addr.
func parseNode(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	// "[2001:db8::1]" without a port.
	if host, ok := strings.CutPrefix(s, "["); ok {
		if host, ok = strings.CutSuffix(host, "]"); ok {
			if a, err := netip.ParseAddr(host); err == nil {
				return a.Unmap()
			}
		}
	}
	return netip.Addr{}
}

// Key is the rate-limit key of an address: IPv4 addresses alone, IPv6
// addresses by their /64, since one host commonly holds a whole /64 and
// could otherwise take a fresh bucket for every request.
func Key(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
