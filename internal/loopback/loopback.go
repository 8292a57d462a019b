// Package loopback tells whether a URL's host is this machine, where
// sending a secret over plain http is acceptable.
package loopback

import (
	"net/netip"
	"strings"
)

// Host reports whether host, a URL's host name without its port, is
// this machine: "localhost", a name under ".localhost" (RFC 6761
// section 6.3), or a loopback IP address, an IPv4-mapped one included.
func Host(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
