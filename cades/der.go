package cades

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"math/big"
)

// Single-octet identifiers used when building.
const (
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagNull        = 0x05
	tagOID         = 0x06
	tagSequence    = 0x30
	tagSet         = 0x31
	tagCtx0        = 0xa0 // [0] constructed
	tagCtx1        = 0xa1 // [1] constructed
	tagCtx2        = 0xa2 // [2] constructed
	tagCtx4        = 0xa4 // [4] constructed
)

// lengthSize is how many octets DER needs for a length of n.
func lengthSize(n int) int {
	switch {
	case n < 0x80:
		return 1
	case n <= 0xff:
		return 2
	case n <= 0xffff:
		return 3
	case n <= 0xffffff:
		return 4
	default:
		return 5
	}
}

// tlvSize is the DER size of an element with a one-octet tag and n content octets.
func tlvSize(n int) int { return 1 + lengthSize(n) + n }

func appendHeader(b []byte, tag byte, n int) []byte {
	return appendLength(append(b, tag), n)
}

func appendLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n <= 0xff:
		return append(b, 0x81, byte(n))
	case n <= 0xffff:
		return append(b, 0x82, byte(n>>8), byte(n))
	case n <= 0xffffff:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// tlv encodes tag || length || parts in one exact-size allocation.
func tlv(tag byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, tlvSize(n))
	b = appendHeader(b, tag, n)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// mustMarshal is for package-level constants built from fixed Go values; it cannot fail for them.
func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic("cades: marshal constant: " + err.Error())
	}
	return b
}

// derSetLess orders encodings as X.690 §11.6 requires for DER SET OF: octet-wise, with the
// shorter one padded with trailing zero octets.
func derSetLess(a, b []byte) bool {
	n := min(len(a), len(b))
	if c := bytes.Compare(a[:n], b[:n]); c != 0 {
		return c < 0
	}
	rest, shorterIsA := b[n:], true
	if len(a) > len(b) {
		rest, shorterIsA = a[n:], false
	}
	for _, x := range rest {
		if x != 0 {
			return shorterIsA
		}
	}
	return false
}

// reader walks the elements of a DER-encoded content, strictly (encoding/asn1 rejects
// indefinite and non-minimal lengths).
type reader struct{ b []byte }

func (r *reader) empty() bool { return len(r.b) == 0 }

// peek reports the class, tag number and constructed bit of the next element without
// consuming it. Multi-octet tag numbers are reported as -1; CMS does not use them.
func (r *reader) peek() (class, tag int, compound, ok bool) {
	if len(r.b) == 0 {
		return 0, 0, false, false
	}
	c := r.b[0]
	tag = int(c & 0x1f)
	if tag == 0x1f {
		tag = -1
	}
	return int(c >> 6), tag, c&0x20 != 0, true
}

func (r *reader) next(what string) (asn1.RawValue, error) {
	var rv asn1.RawValue
	rest, err := asn1.Unmarshal(r.b, &rv)
	if err != nil {
		return rv, malformed("%s: %v", what, err)
	}
	r.b = rest
	return rv, nil
}

// expect reads the next element and checks its identifier.
func (r *reader) expect(what string, class, tag int, compound bool) (asn1.RawValue, error) {
	if r.empty() {
		return asn1.RawValue{}, malformed("%s: missing", what)
	}
	rv, err := r.next(what)
	if err != nil {
		return rv, err
	}
	if rv.Class != class || rv.Tag != tag || rv.IsCompound != compound {
		return rv, malformed("%s: unexpected element (class %d, tag %d)", what, rv.Class, rv.Tag)
	}
	return rv, nil
}

func (r *reader) expectOID(what string) (asn1.ObjectIdentifier, error) {
	rv, err := r.expect(what, asn1.ClassUniversal, asn1.TagOID, false)
	if err != nil {
		return nil, err
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(rv.FullBytes, &oid); err != nil {
		return nil, malformed("%s: %v", what, err)
	}
	return oid, nil
}

func (r *reader) expectSmallInt(what string) (int, error) {
	rv, err := r.expect(what, asn1.ClassUniversal, asn1.TagInteger, false)
	if err != nil {
		return 0, err
	}
	var v int
	if _, err := asn1.Unmarshal(rv.FullBytes, &v); err != nil {
		return 0, malformed("%s: %v", what, err)
	}
	return v, nil
}

// integerValue decodes INTEGER content octets leniently (two's complement, leading zero octets
// tolerated): certificate serial numbers in the wild are not always minimally encoded.
func integerValue(content []byte) (*big.Int, error) {
	if len(content) == 0 {
		return nil, errors.New("empty INTEGER")
	}
	v := new(big.Int).SetBytes(content)
	if content[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(len(content))*8))
	}
	return v, nil
}

// Limits for untrusted input.
const (
	// MaxParseSize bounds the input Parse accepts. Signatures with embedded revocation data
	// rarely exceed a few MiB.
	MaxParseSize = 64 << 20
	maxBERDepth  = 64
	maxElements  = 4096 // certificates, CRLs, signers or attributes per list
)

// berNode is one element of a BER tree being rewritten into DER form.
type berNode struct {
	tag      []byte
	content  []byte // primitive content
	children []*berNode
	size     int // content size in the DER output
}

// berToDER rewrites the first BER element of in with definite minimal lengths, and with
// constructed OCTET STRINGs collapsed into primitive ones, which is what encoding/asn1 can
// read. It does not sort SETs. It returns the rewritten element and what followed it in in.
func berToDER(in []byte) (out, rest []byte, err error) {
	n, rest, err := berParse(in, 0)
	if err != nil {
		return nil, nil, err
	}
	out = make([]byte, 0, berTotal(n))
	return berWrite(out, n), rest, nil
}

func berTotal(n *berNode) int { return len(n.tag) + lengthSize(n.size) + n.size }

func berWrite(b []byte, n *berNode) []byte {
	b = appendLength(append(b, n.tag...), n.size)
	if n.children == nil {
		return append(b, n.content...)
	}
	for _, c := range n.children {
		b = berWrite(b, c)
	}
	return b
}

func berParse(in []byte, depth int) (*berNode, []byte, error) {
	if depth > maxBERDepth {
		return nil, nil, malformed("BER: nesting deeper than %d", maxBERDepth)
	}
	if len(in) < 2 {
		return nil, nil, malformed("BER: truncated element")
	}
	// Identifier octets.
	i := 1
	if in[0]&0x1f == 0x1f {
		for {
			if i >= len(in) || i > 4 {
				return nil, nil, malformed("BER: bad tag")
			}
			i++
			if in[i-1]&0x80 == 0 {
				break
			}
		}
	}
	tag := in[:i]
	constructed := in[0]&0x20 != 0
	if i >= len(in) {
		return nil, nil, malformed("BER: truncated length")
	}
	// Length octets.
	l := int(in[i])
	i++
	indefinite := false
	switch {
	case l == 0x80:
		if !constructed {
			return nil, nil, malformed("BER: indefinite length on primitive element")
		}
		indefinite = true
	case l > 0x80:
		k := l & 0x7f
		if k > 4 || i+k > len(in) {
			return nil, nil, malformed("BER: bad length")
		}
		l = 0
		for _, c := range in[i : i+k] {
			l = l<<8 | int(c)
		}
		i += k
	}
	body := in[i:]
	if !indefinite && l > len(body) {
		return nil, nil, malformed("BER: length %d exceeds data", l)
	}
	n := &berNode{tag: tag}
	if !constructed {
		n.content = body[:l]
		n.size = l
		return n, body[l:], nil
	}
	var rest []byte
	if indefinite {
		rest = body
		for {
			if len(rest) >= 2 && rest[0] == 0 && rest[1] == 0 {
				rest = rest[2:]
				break
			}
			c, r, err := berParse(rest, depth+1)
			if err != nil {
				return nil, nil, err
			}
			n.children = append(n.children, c)
			rest = r
		}
	} else {
		inner := body[:l]
		rest = body[l:]
		for len(inner) > 0 {
			c, r, err := berParse(inner, depth+1)
			if err != nil {
				return nil, nil, err
			}
			n.children = append(n.children, c)
			inner = r
		}
	}
	if n.children == nil {
		n.children = []*berNode{}
	}
	if len(tag) == 1 && tag[0] == 0x24 { // constructed OCTET STRING: concatenate the segments
		var buf []byte
		if err := berFlattenOctets(n, &buf); err != nil {
			return nil, nil, err
		}
		return &berNode{tag: []byte{tagOctetString}, content: buf, size: len(buf)}, rest, nil
	}
	for _, c := range n.children {
		n.size += berTotal(c)
	}
	return n, rest, nil
}

func berFlattenOctets(n *berNode, buf *[]byte) error {
	for _, c := range n.children {
		if len(c.tag) != 1 || c.tag[0] != tagOctetString {
			return malformed("BER: constructed OCTET STRING holds a non-OCTET STRING segment")
		}
		*buf = append(*buf, c.content...)
	}
	return nil
}
