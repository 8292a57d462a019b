package outbound

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Entry is one allow-list entry: a scheme, a host and a port, and
// optionally a path prefix.
type Entry struct {
	// Scheme is "http" or "https"; empty for a bare host, which allows
	// both on their default ports.
	Scheme string
	// Host is a lower-case DNS name, or an IP literal without brackets.
	Host string
	// Port is the port, or empty for the scheme's default port.
	Port string
	// Path, when not empty, is a prefix the URL's path must have.
	Path string
}

// ParseEntry reads an allow-list entry: scheme://host[:port][/path-prefix]
// with scheme http or https, or a bare host (a name or an IP literal),
// which means that host on port 80 for http and 443 for https.
func ParseEntry(s string) (Entry, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Entry{}, errors.New("outbound: empty allow-list entry")
	}
	if !strings.Contains(s, "://") {
		host, err := parseHost(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
		if err != nil {
			return Entry{}, fmt.Errorf("outbound: allow-list entry %q: %w (write scheme://host:port for a port)", s, err)
		}
		return Entry{Host: host}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return Entry{}, fmt.Errorf("outbound: allow-list entry %q: %w", s, err)
	}
	e := Entry{Scheme: strings.ToLower(u.Scheme), Port: u.Port()}
	switch {
	case e.Scheme != "http" && e.Scheme != "https":
		return Entry{}, fmt.Errorf("outbound: allow-list entry %q: scheme must be http or https", s)
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "":
		return Entry{}, fmt.Errorf("outbound: allow-list entry %q: only scheme, host, port and path are allowed", s)
	}
	if e.Host, err = parseHost(u.Hostname()); err != nil {
		return Entry{}, fmt.Errorf("outbound: allow-list entry %q: %w", s, err)
	}
	if strings.HasSuffix(u.Host, ":") || e.Port != "" {
		n, err := strconv.Atoi(e.Port)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != e.Port {
			return Entry{}, fmt.Errorf("outbound: allow-list entry %q: bad port", s)
		}
	}
	if p := u.EscapedPath(); p != "" && p != "/" {
		if unsafePath(p) {
			return Entry{}, fmt.Errorf("outbound: allow-list entry %q: path has dot segments or escaped separators", s)
		}
		e.Path = p
	}
	return e, nil
}

// parseHost checks and normalises a host: IP literals are kept in their
// canonical form, names are lower-cased and limited to the characters of
// DNS host names.
func parseHost(h string) (string, error) {
	if h == "" {
		return "", errors.New("no host")
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if ip.Zone() != "" {
			return "", errors.New("IPv6 zones are not allowed")
		}
		return ip.String(), nil
	}
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "" || len(h) > 253 {
		return "", errors.New("bad host name")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("bad host name %q", h)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("bad host name %q", h)
			}
		}
	}
	// A name ending in a numeric label would be read by some resolvers as
	// an IPv4 address in another notation (0x7f.1, 127.1, 2130706433); no
	// top-level domain is numeric.
	labels := strings.Split(h, ".")
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x") && strings.Trim(last[2:], "0123456789abcdef") == "" {
		return "", fmt.Errorf("host %q looks like an IPv4 address in a non-standard form", h)
	}
	return h, nil
}

// unsafePath reports a path that a server might read as another path than
// the prefix check saw.
func unsafePath(p string) bool {
	lp := strings.ToLower(p)
	if strings.Contains(lp, "%2f") || strings.Contains(lp, "%5c") || strings.Contains(lp, "%2e") || strings.Contains(p, `\`) {
		return true
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// String returns the entry in the form ParseEntry reads.
func (e Entry) String() string {
	host := e.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if e.Scheme == "" {
		return host
	}
	if e.Port != "" {
		host += ":" + e.Port
	}
	return e.Scheme + "://" + host + e.Path
}

// literal reports an entry naming an IP address with an explicit port,
// the only kind that may reach a loopback or private address.
func (e Entry) literal() (netip.AddrPort, bool) {
	ip, err := netip.ParseAddr(e.Host)
	if err != nil || e.Port == "" {
		return netip.AddrPort{}, false
	}
	port, _ := strconv.ParseUint(e.Port, 10, 16)
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), true
}

// ports returns the scheme and port pairs the entry allows.
func (e Entry) allowsSchemePort(scheme, port string) bool {
	if e.Scheme == "" {
		return scheme == "http" && port == "80" || scheme == "https" && port == "443"
	}
	if e.Scheme != scheme {
		return false
	}
	if e.Port == "" {
		return port == defaultPort(scheme)
	}
	return port == e.Port
}

// matchURL reports whether u is covered by the entry. u's host must be
// normalised (see urlParts).
func (e Entry) matchURL(scheme, host, port, path string) bool {
	if !sameHost(e.Host, host) || !e.allowsSchemePort(scheme, port) {
		return false
	}
	if e.Path == "" {
		return true
	}
	if unsafePath(path) {
		return false
	}
	return path == e.Path || strings.HasPrefix(path, strings.TrimSuffix(e.Path, "/")+"/")
}

// matchHostPort reports whether the entry allows connections to host:port
// under some scheme.
func (e Entry) matchHostPort(host, port string) bool {
	if !sameHost(e.Host, host) {
		return false
	}
	return e.allowsSchemePort("http", port) || e.allowsSchemePort("https", port)
}

func sameHost(a, b string) bool {
	ia, errA := netip.ParseAddr(a)
	ib, errB := netip.ParseAddr(b)
	if errA == nil || errB == nil {
		return errA == nil && errB == nil && ia.Unmap() == ib.Unmap()
	}
	return a == b
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// urlParts checks a request URL and returns its normalised scheme, host,
// port and escaped path.
func urlParts(u *url.URL) (scheme, host, port, path string, err error) {
	scheme = strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", "", "", "", fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.User != nil {
		return "", "", "", "", errors.New("URL carries user information")
	}
	if host, err = parseHost(u.Hostname()); err != nil {
		return "", "", "", "", err
	}
	port = u.Port()
	if port == "" {
		port = defaultPort(scheme)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", "", "", fmt.Errorf("bad port %q", port)
	}
	path = u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme, host, port, path, nil
}

// internal reports an address that is not a public unicast address:
// loopback, private (RFC 1918, fc00::/7), link-local (169.254.0.0/16,
// with the cloud metadata address, and fe80::/10), unspecified,
// multicast, broadcast, shared (100.64.0.0/10), reserved and
// documentation ranges, and IPv6 forms that embed an IPv4 address
// (mapped, compatible, NAT64, 6to4, Teredo), whose IPv4 part could be any
// of these.
func internal(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.Zone() != "" {
		return true
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range reserved {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

var reserved = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",          // "this network"
		"100.64.0.0/10",      // shared address space (carrier-grade NAT)
		"192.0.0.0/24",       // IETF protocol assignments
		"192.0.2.0/24",       // documentation
		"198.18.0.0/15",      // benchmarking
		"198.51.100.0/24",    // documentation
		"203.0.113.0/24",     // documentation
		"240.0.0.0/4",        // reserved, and the broadcast address
		"::/96",              // IPv4-compatible (deprecated)
		"::ffff:0:0:0/96",    // IPv4-translated (SIIT)
		"64:ff9b::/96",       // NAT64
		"64:ff9b:1::/48",     // local NAT64
		"100::/64",           // discard
		"2001::/32",          // Teredo
		"2001:db8::/32",      // documentation
		"2002::/16",          // 6to4
		"fec0::/10",          // site-local (deprecated)
		"2001:10::/28",       // ORCHID
		"2001:20::/28",       // ORCHIDv2
		"3fff::/20",          // documentation
		"5f00::/16",          // segment routing SIDs
		"ff00::/8",           // multicast (also IsMulticast)
		"fc00::/7",           // unique local (also IsPrivate)
		"169.254.0.0/16",     // link-local (also IsLinkLocalUnicast)
		"255.255.255.255/32", // broadcast (also in 240.0.0.0/4)
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()
