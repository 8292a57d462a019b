package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Limits on what one object may hold. They bound memory and time on hostile
// input without refusing anything a real producer writes.
const (
	maxDepth       = 100     // nesting of arrays and dictionaries
	maxStringBytes = 8 << 20 // one string; /Contents of a signature is well under this
)

var (
	// ErrSyntax reports malformed PDF syntax.
	ErrSyntax = errors.New("pdf: syntax error")
	// errShort means the buffer ended inside an object; the reader retries
	// with a larger window when the file has more bytes.
	errShort = errors.New("pdf: object runs past buffer")
)

// parser reads objects from an in-memory buffer.
type parser struct {
	buf   []byte
	pos   int
	depth int
	// complete means buf holds all there is (an object stream), so its
	// end also ends a token instead of asking for more bytes.
	complete bool
}

// short reports whether a token ends at the end of the buffer and the
// buffer may be cut short.
func (p *parser) short() bool { return p.pos >= len(p.buf) && !p.complete }

// Character classes (ISO 32000-2 §7.2.3): a table, since the parser and
// the reference scanner ask for every byte of every object they read.
const (
	classRegular = iota
	classWhite
	classDelim
)

var charClass = func() (t [256]byte) {
	for _, c := range []byte{0, '\t', '\n', '\f', '\r', ' '} {
		t[c] = classWhite
	}
	for _, c := range []byte("()<>[]{}/%") {
		t[c] = classDelim
	}
	return t
}()

func isWhite(c byte) bool { return charClass[c] == classWhite }

func isDelim(c byte) bool { return charClass[c] == classDelim }

func isRegular(c byte) bool { return charClass[c] == classRegular }

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", ErrSyntax, p.pos, fmt.Sprintf(format, args...))
}

// skipSpace skips white space and comments.
func (p *parser) skipSpace() {
	for p.pos < len(p.buf) {
		c := p.buf[p.pos]
		if isWhite(c) {
			p.pos++
			continue
		}
		if c == '%' {
			for p.pos < len(p.buf) && p.buf[p.pos] != '\n' && p.buf[p.pos] != '\r' {
				p.pos++
			}
			continue
		}
		return
	}
}

// keyword reads a run of regular characters.
func (p *parser) keyword() []byte {
	start := p.pos
	for p.pos < len(p.buf) && isRegular(p.buf[p.pos]) {
		p.pos++
	}
	return p.buf[start:p.pos]
}

// peekKeyword reports whether the next token is kw, without consuming it.
func (p *parser) peekKeyword(kw string) bool {
	save := p.pos
	p.skipSpace()
	k := p.keyword()
	p.pos = save
	return string(k) == kw
}

// expectKeyword consumes kw or fails.
func (p *parser) expectKeyword(kw string) error {
	p.skipSpace()
	if p.pos >= len(p.buf) {
		return errShort
	}
	k := p.keyword()
	if string(k) != kw {
		if p.pos >= len(p.buf) && bytes.HasPrefix([]byte(kw), k) {
			return errShort
		}
		return p.errorf("want %q, got %q", kw, truncate(k))
	}
	return nil
}

func truncate(b []byte) string {
	if len(b) > 20 {
		return string(b[:20]) + "…"
	}
	return string(b)
}

// object parses one direct object; "N G R" becomes a Ref.
func (p *parser) object() (Object, error) {
	p.skipSpace()
	if p.pos >= len(p.buf) {
		return nil, errShort
	}
	c := p.buf[p.pos]
	switch {
	case c == '/':
		return p.name()
	case c == '(':
		return p.literalString()
	case c == '<':
		if p.pos+1 >= len(p.buf) {
			return nil, errShort
		}
		if p.buf[p.pos+1] == '<' {
			return p.dict()
		}
		return p.hexString()
	case c == '[':
		return p.array()
	case c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9'):
		return p.numberOrRef()
	case isRegular(c):
		k := p.keyword()
		if p.short() {
			return nil, errShort
		}
		switch string(k) {
		case "true":
			return Bool(true), nil
		case "false":
			return Bool(false), nil
		case "null":
			return nil, nil
		}
		return nil, p.errorf("unexpected keyword %q", truncate(k))
	default:
		return nil, p.errorf("unexpected %q", c)
	}
}

func (p *parser) name() (Object, error) {
	p.pos++ // '/'
	start := p.pos
	for p.pos < len(p.buf) && isRegular(p.buf[p.pos]) {
		p.pos++
	}
	if p.short() {
		return nil, errShort
	}
	raw := p.buf[start:p.pos]
	if bytes.IndexByte(raw, '#') < 0 {
		return Name(raw), nil
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] == '#' && i+2 < len(raw) {
			if v, err := strconv.ParseUint(string(raw[i+1:i+3]), 16, 8); err == nil {
				out = append(out, byte(v))
				i += 2
				continue
			}
		}
		out = append(out, raw[i])
	}
	return Name(out), nil
}

func (p *parser) literalString() (Object, error) {
	p.pos++ // '('
	var out []byte
	level := 1
	for {
		if p.pos >= len(p.buf) {
			return nil, errShort
		}
		if len(out) > maxStringBytes {
			return nil, p.errorf("string longer than %d bytes", maxStringBytes)
		}
		c := p.buf[p.pos]
		p.pos++
		switch c {
		case '(':
			level++
		case ')':
			level--
			if level == 0 {
				return String{Bytes: out}, nil
			}
		case '\\':
			if p.pos >= len(p.buf) {
				return nil, errShort
			}
			e := p.buf[p.pos]
			p.pos++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if p.pos < len(p.buf) && p.buf[p.pos] == '\n' {
					p.pos++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2 && p.pos < len(p.buf) && p.buf[p.pos] >= '0' && p.buf[p.pos] <= '7'; k++ {
						v = v*8 + int(p.buf[p.pos]-'0')
						p.pos++
					}
					c = byte(v)
				} else {
					c = e
				}
			}
		}
		out = append(out, c)
	}
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func (p *parser) hexString() (Object, error) {
	p.pos++ // '<'
	end := bytes.IndexByte(p.buf[p.pos:], '>')
	if end < 0 {
		if len(p.buf)-p.pos > 2*maxStringBytes {
			return nil, p.errorf("hex string longer than %d bytes", maxStringBytes)
		}
		return nil, errShort
	}
	raw := p.buf[p.pos : p.pos+end]
	out, bad, ok := decodeHex(raw)
	if !ok {
		return nil, p.errorf("bad hex digit %q", bad)
	}
	p.pos += end + 1
	return String{Bytes: out, Hex: true}, nil
}

// decodeHex decodes hex digits, skipping white space; an odd final digit
// counts as followed by 0 (§7.3.4.3). On a bad digit it returns it and
// false.
func decodeHex(raw []byte) ([]byte, byte, bool) {
	out := make([]byte, 0, len(raw)/2+1)
	var hi byte
	half := false
	for _, c := range raw {
		if isWhite(c) {
			continue
		}
		v, ok := unhex(c)
		if !ok {
			return nil, c, false
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	if half {
		out = append(out, hi<<4)
	}
	return out, 0, true
}

func (p *parser) array() (Object, error) {
	p.pos++ // '['
	if p.depth++; p.depth > maxDepth {
		return nil, p.errorf("nesting deeper than %d", maxDepth)
	}
	defer func() { p.depth-- }()
	arr := Array{}
	for {
		p.skipSpace()
		if p.pos >= len(p.buf) {
			return nil, errShort
		}
		if p.buf[p.pos] == ']' {
			p.pos++
			return arr, nil
		}
		o, err := p.object()
		if err != nil {
			return nil, err
		}
		arr = append(arr, o)
	}
}

func (p *parser) dict() (Object, error) {
	p.pos += 2 // "<<"
	if p.depth++; p.depth > maxDepth {
		return nil, p.errorf("nesting deeper than %d", maxDepth)
	}
	defer func() { p.depth-- }()
	d := Dict{}
	for {
		p.skipSpace()
		if p.pos+1 >= len(p.buf) {
			return nil, errShort
		}
		if p.buf[p.pos] == '>' {
			if p.buf[p.pos+1] != '>' {
				return nil, p.errorf("lone '>' in dictionary")
			}
			p.pos += 2
			return d, nil
		}
		if p.buf[p.pos] != '/' {
			return nil, p.errorf("dictionary key is not a name")
		}
		k, err := p.name()
		if err != nil {
			return nil, err
		}
		v, err := p.object()
		if err != nil {
			return nil, err
		}
		// A null value is the same as an absent key (§7.3.7).
		if v != nil {
			d[k.(Name)] = v
		}
	}
}

// number reads an integer or real.
func (p *parser) number() (Object, error) {
	start := p.pos
	for p.pos < len(p.buf) && (isRegular(p.buf[p.pos])) {
		p.pos++
	}
	if p.short() {
		return nil, errShort
	}
	tok := string(p.buf[start:p.pos])
	if i, err := strconv.ParseInt(tok, 10, 64); err == nil {
		return Integer(i), nil
	}
	// Some producers write "--5" or "5-"; the spec has only simple reals.
	if f, err := strconv.ParseFloat(tok, 64); err == nil {
		return Real(f), nil
	}
	return nil, p.errorf("bad number %q", truncate([]byte(tok)))
}

// numberOrRef reads a number, or "N G R".
func (p *parser) numberOrRef() (Object, error) {
	n, err := p.number()
	if err != nil {
		return nil, err
	}
	num, ok := n.(Integer)
	if !ok || num < 0 {
		return n, nil
	}
	save := p.pos
	p.skipSpace()
	if p.pos < len(p.buf) && p.buf[p.pos] >= '0' && p.buf[p.pos] <= '9' {
		g, err := p.number()
		if err == errShort {
			return nil, errShort
		}
		if gen, ok := g.(Integer); ok && err == nil && gen >= 0 && gen <= 65535 {
			p.skipSpace()
			if p.short() {
				return nil, errShort
			}
			if p.pos < len(p.buf) && p.buf[p.pos] == 'R' && (p.pos+1 >= len(p.buf) || !isRegular(p.buf[p.pos+1])) {
				if p.pos+1 >= len(p.buf) && !p.complete {
					return nil, errShort
				}
				p.pos++
				if num > 1<<32-1 {
					return nil, p.errorf("object number %d out of range", num)
				}
				return Ref{Num: uint32(num), Gen: uint16(gen)}, nil
			}
		}
	}
	p.pos = save
	return n, nil
}

// indirectHeader reads "N G obj" and returns N and G.
func (p *parser) indirectHeader() (Ref, error) {
	p.skipSpace()
	n, err := p.number()
	if err != nil {
		return Ref{}, err
	}
	p.skipSpace()
	g, err := p.number()
	if err != nil {
		return Ref{}, err
	}
	num, ok1 := n.(Integer)
	gen, ok2 := g.(Integer)
	if !ok1 || !ok2 || num < 0 || num > 1<<32-1 || gen < 0 || gen > 65535 {
		return Ref{}, p.errorf("bad object header")
	}
	if err := p.expectKeyword("obj"); err != nil {
		return Ref{}, err
	}
	return Ref{Num: uint32(num), Gen: uint16(gen)}, nil
}
