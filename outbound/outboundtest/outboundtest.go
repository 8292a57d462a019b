// Package outboundtest helps tests of code that makes outbound requests:
// a resolver under the test's control, and a guard that keeps every
// connection on the loopback interface.
package outboundtest

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
)

// Resolver runs a DNS server on 127.0.0.1 UDP that answers every A query
// with ip and every other query with no records, and returns a resolver
// that asks only that server: any name, however public it looks, resolves
// to ip. The server stops when the test ends.
func Resolver(t testing.TB, ip netip.Addr) *net.Resolver {
	t.Helper()
	if !ip.Is4() {
		t.Fatalf("outboundtest: %s is not an IPv4 address", ip)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply := dnsReply(buf[:n], ip.As4()); reply != nil {
				pc.WriteTo(reply, from)
			}
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// dnsReply answers one query (RFC 1035 section 4.1), or returns nil for
// what is not a one-question query.
func dnsReply(q []byte, a [4]byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		if q[i]&0xc0 != 0 {
			return nil
		}
		i += int(q[i]) + 1
	}
	if i+5 > len(q) {
		return nil
	}
	question := q[12 : i+5]
	qtype := binary.BigEndian.Uint16(q[i+1:])
	out := make([]byte, 12, 12+len(question)+16)
	copy(out, q[:2])                                              // ID
	binary.BigEndian.PutUint16(out[2:], 0x8180|uint16(q[2]&1)<<8) // response, recursion desired and available
	binary.BigEndian.PutUint16(out[4:], 1)
	out = append(out, question...)
	if qtype == 1 { // A
		binary.BigEndian.PutUint16(out[6:], 1)
		out = append(out, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
		out = append(out, a[:]...)
	}
	return out
}

// Guard is an outbound.Options.Control that lets sockets connect to
// loopback addresses only and records every address one tried, so a test
// can prove a refused destination never got as far as a socket, and a
// policy bug can never send a packet off the machine.
type Guard struct {
	mu      sync.Mutex
	tried   []string
	blocked []string
}

// Control is the hook for outbound.Options.Control.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tried = append(g.tried, address)
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		g.blocked = append(g.blocked, address)
		return fmt.Errorf("outboundtest: guard refuses to connect to %s", address)
	}
	return nil
}

// Tried returns the addresses sockets were about to connect to.
func (g *Guard) Tried() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.tried...)
}

// Blocked returns the non-loopback addresses the guard stopped: a
// non-empty answer means the policy under test let them through.
func (g *Guard) Blocked() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.blocked...)
}
