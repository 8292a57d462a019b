package serve

import (
	"net"
	"net/netip"
	"sync"
)

// perPeerListener closes, as soon as they are accepted, connections from
// an address that already holds max of them: one client cannot take the
// whole connection cap, busy or idle. Exempt addresses (the operator's
// reverse proxies, which carry everyone) are not counted.
type perPeerListener struct {
	net.Listener
	max    int
	exempt func(netip.Addr) bool

	mu    sync.Mutex
	count map[netip.Addr]int
}

func limitPerPeer(ln net.Listener, max int, exempt func(netip.Addr) bool) net.Listener {
	return &perPeerListener{Listener: ln, max: max, exempt: exempt, count: map[netip.Addr]int{}}
}

func (l *perPeerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap, perr := netip.ParseAddrPort(c.RemoteAddr().String())
		if perr != nil {
			return c, nil
		}
		ip := ap.Addr().Unmap()
		if l.exempt != nil && l.exempt(ip) {
			return c, nil
		}
		l.mu.Lock()
		if l.count[ip] >= l.max {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.count[ip]++
		l.mu.Unlock()
		return &peerConn{Conn: c, release: func() { l.release(ip) }}, nil
	}
}

func (l *perPeerListener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count[ip]--; l.count[ip] <= 0 {
		delete(l.count, ip)
	}
}

// peerConn gives its address's place back once, when closed.
type peerConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *peerConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
