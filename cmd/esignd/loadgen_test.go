package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
)

// poster sends one prepared HTTP/1.1 request over and over on a kept-alive
// connection, and checks each response. It is the benchmark's load
// generator: on a two-CPU machine the clients share the daemon's CPUs, so
// they should cost as little as a C load generator such as wrk would.
// net/http's client passes each request and response between the caller
// and its connection's reading and writing goroutines, and builds header
// maps; this writes the prepared request in one system call and reads the
// response through one 64 KB buffer.
type poster struct {
	addr    string
	request []byte // the whole request: head and body
	conn    net.Conn
	r       *bufio.Reader
	body    []byte // the last response body, reused
}

// newPoster prepares a POST of body to path on addr.
func newPoster(addr, path string, header map[string]string, body []byte) *poster {
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", path, addr, len(body))
	for k, v := range header {
		fmt.Fprintf(&req, "%s: %s\r\n", k, v)
	}
	req.WriteString("\r\n")
	req.Write(body)
	return &poster{addr: addr, request: req.Bytes()}
}

// post sends the request and returns the response's status and body. The
// body is valid until the next call. The connection is opened on first
// use and kept while the server keeps it; a failed request is not
// retried (a POST to the sign endpoint is not idempotent).
func (p *poster) post() (int, []byte, error) {
	if p.conn == nil {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			return 0, nil, err
		}
		p.conn = c
		if p.r == nil {
			p.r = bufio.NewReaderSize(c, 64<<10)
		} else {
			p.r.Reset(c)
		}
	}
	status, body, keep, err := p.roundTrip()
	if err != nil || !keep {
		p.close()
	}
	return status, body, err
}

func (p *poster) roundTrip() (status int, body []byte, keepAlive bool, err error) {
	if _, err := p.conn.Write(p.request); err != nil {
		return 0, nil, false, err
	}
	tp := textproto.NewReader(p.r)
	line, err := tp.ReadLine()
	if err != nil {
		return 0, nil, false, err
	}
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	if status, err = strconv.Atoi(code); err != nil || proto != "HTTP/1.1" {
		return 0, nil, false, fmt.Errorf("bad status line %q", line)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return 0, nil, false, err
	}
	if h.Get("Transfer-Encoding") != "" {
		return 0, nil, false, fmt.Errorf("unexpected Transfer-Encoding %q", h.Get("Transfer-Encoding"))
	}
	n, err := strconv.Atoi(h.Get("Content-Length"))
	if err != nil || n < 0 {
		return 0, nil, false, fmt.Errorf("bad Content-Length %q", h.Get("Content-Length"))
	}
	if cap(p.body) < n {
		p.body = make([]byte, n)
	}
	p.body = p.body[:n]
	if _, err := io.ReadFull(p.r, p.body); err != nil {
		return 0, nil, false, err
	}
	return status, p.body, !strings.EqualFold(h.Get("Connection"), "close"), nil
}

func (p *poster) close() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}
