package pdf

import (
	"fmt"
	"io"
	"sort"
)

// Link is one reference an object holds: To, found under Key, the key of
// the object's top-level dictionary entry it lies in ("" outside one).
type Link struct {
	Key Name
	To  Ref
}

// linkKey names a scanned object for the cache the readers of one file
// share: where it starts in the file (for an object inside an object
// stream, where the stream starts) and the object asked for, since a
// hostile cross-reference section can point another number at the same
// place.
type linkKey struct {
	off int64
	ref Ref
}

type linkEntry struct {
	links []Link
	end   int64 // the last byte read, for readers of shorter prefixes
}

// Links returns the references the object ref holds, without building the
// object: a walk over a whole document needs only where each object
// points, and parsing hundreds of fonts and images into maps to learn that
// would cost more than the rest of a verification. Stream data is not
// read; a stream's dictionary is. found is false when this reader does not
// hold the object as ref names it: missing, free, of another generation,
// or unreadable. err reports what stopped the reading (the budget, the
// context, the file), which leaves found unknown. Revision readers share
// what was scanned.
func (r *Reader) Links(ref Ref) (links []Link, found bool, err error) {
	e, ok, err := r.lookup(ref.Num)
	if err != nil || !ok {
		return nil, false, err
	}
	switch e.Type {
	case 1:
		if e.Ref.Gen != ref.Gen {
			return nil, false, nil
		}
		k := linkKey{off: e.Offset, ref: ref}
		if c, ok := r.sh.links[k]; ok && c.end <= r.size {
			return c.links, true, nil
		}
		links, end, found, err := r.linksAt(e.Offset, ref)
		if found {
			r.sh.links[k] = linkEntry{links: links, end: end}
		}
		return links, found, err
	case 2:
		if ref.Gen != 0 {
			return nil, false, nil
		}
		se, ok, err := r.lookup(e.Stream)
		if err != nil || !ok {
			return nil, false, err
		}
		k := linkKey{off: se.Offset, ref: ref}
		if c, ok := r.sh.links[k]; ok && se.Type == 1 && c.end <= r.size {
			return c.links, true, nil
		}
		os, err := r.objectStream(e.Stream)
		if err != nil {
			return nil, false, err
		}
		start, ok := os.offsets[ref.Num]
		if !ok {
			return nil, false, nil
		}
		end := os.end(start)
		start += os.first
		if start < 0 || start > end || end > len(os.data) {
			return nil, false, nil
		}
		s := linkScanner{buf: os.data[start:end], complete: true, names: r.sh.names}
		s.scan()
		if se.Type == 1 {
			r.sh.links[k] = linkEntry{links: s.links, end: os.fileEnd}
		}
		return s.links, true, nil
	}
	return nil, false, nil
}

// end is where the object that starts at offset off (after /First) ends:
// where the next one starts, or the end of the data.
func (os *objStm) end(off int) int {
	if os.sorted == nil {
		os.sorted = make([]int, 0, len(os.offsets))
		for _, o := range os.offsets {
			os.sorted = append(os.sorted, o)
		}
		sort.Ints(os.sorted)
	}
	i := sort.SearchInts(os.sorted, off+1)
	if i < len(os.sorted) {
		return os.first + os.sorted[i]
	}
	return len(os.data)
}

// linksAt scans the indirect object at off, which must be ref.
func (r *Reader) linksAt(off int64, ref Ref) (links []Link, end int64, found bool, err error) {
	for window := 512; ; window *= 4 {
		b, err := r.readInto(off, window)
		if err != nil {
			return nil, 0, false, err
		}
		p := &parser{buf: b}
		got, err := p.indirectHeader()
		if err == errShort && len(b) == window && window < r.opts.MaxObjectBytes {
			continue
		}
		// As Object does: the number must match, the generation is the
		// cross-reference entry's.
		if err != nil || got.Num != ref.Num {
			return nil, 0, false, nil
		}
		s := linkScanner{buf: b[p.pos:], complete: len(b) < window, names: r.sh.names}
		if s.scan() {
			return s.links, off + int64(p.pos+s.pos), true, nil
		}
		if len(b) < window || window >= r.opts.MaxObjectBytes {
			return nil, 0, false, fmt.Errorf("%w: object %v at %d has no end", ErrSyntax, ref, off)
		}
	}
}

// readInto is readAt into the reader's scratch buffer, which the next call
// overwrites: the walk reads every object once and keeps only its links.
func (r *Reader) readInto(off int64, n int) ([]byte, error) {
	if off < 0 || off >= r.size {
		return nil, fmt.Errorf("%w: offset %d outside file of %d bytes", ErrSyntax, off, r.size)
	}
	n = int(min(int64(n), r.size-off))
	if err := r.charge(n); err != nil {
		return nil, err
	}
	if cap(r.scratch) < n {
		r.scratch = make([]byte, n)
	}
	buf := r.scratch[:n]
	if k, err := r.ra.ReadAt(buf, off); k != n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read %d bytes at %d: %w", n, off, err)
	}
	return buf, nil
}

// linkScanner finds "N G R" references in object syntax. It knows
// strings, names, comments and nesting, so a reference-like run inside a
// string is not taken for one, and the top-level dictionary key each
// reference lies under.
type linkScanner struct {
	buf      []byte
	complete bool            // buf holds the whole object
	names    map[string]Name // keys seen before, so each is allocated once
	links    []Link
	pos      int // where scanning stopped
}

// scan collects the references and reports whether the object ended
// ("endobj", "stream", or the end of a complete buffer).
func (s *linkScanner) scan() bool {
	b := s.buf
	var (
		depth   int
		topDict bool // the outermost container is a dictionary
		wantKey bool // in it, the next name is a key
		key     Name
		n1, n2  int64 = -1, -1 // the two integers before the current token
	)
	// valueDone notes that a value of the top-level dictionary ended.
	valueDone := func() {
		if depth == 1 && topDict {
			wantKey = true
		}
	}
	for i := 0; i < len(b); {
		c := b[i]
		number := false
		switch {
		case isWhite(c):
			i++
			continue
		case c == '%':
			for i < len(b) && b[i] != '\n' && b[i] != '\r' {
				i++
			}
			continue
		case c == '(':
			i = skipLiteralString(b, i)
			valueDone()
		case c == '<' && i+1 < len(b) && b[i+1] == '<':
			if depth++; depth == 1 {
				topDict, wantKey = true, true
			}
			i += 2
		case c == '>' && i+1 < len(b) && b[i+1] == '>':
			depth = max(depth-1, 0)
			i += 2
			valueDone()
		case c == '<':
			for i < len(b) && b[i] != '>' {
				i++
			}
			i++
			valueDone()
		case c == '[':
			if depth++; depth == 1 {
				topDict = false
			}
			i++
		case c == ']':
			depth = max(depth-1, 0)
			i++
			valueDone()
		case c == '/':
			j := i + 1
			for j < len(b) && isRegular(b[j]) {
				j++
			}
			if depth == 1 && topDict {
				if wantKey {
					key = s.intern(b[i+1 : j])
				}
				wantKey = !wantKey
			}
			i = j
		case c == ')' || c == '>' || c == '{' || c == '}':
			i++
		default:
			j := i
			for j < len(b) && isRegular(b[j]) {
				j++
			}
			tok := b[i:j]
			i = j
			if v, ok := objectNumber(tok); ok {
				number = true
				n1, n2 = n2, v
				valueDone()
				break
			}
			switch string(tok) {
			case "R":
				if n1 >= 0 && n2 >= 0 && n1 <= 1<<32-1 && n2 <= 65535 {
					k := Name("")
					if depth >= 1 && topDict {
						k = key
					}
					s.links = append(s.links, Link{Key: k, To: Ref{Num: uint32(n1), Gen: uint16(n2)}})
				}
			case "endobj", "stream":
				if depth == 0 {
					s.pos = i
					return true
				}
			}
			valueDone()
		}
		if !number {
			n1, n2 = -1, -1
		}
	}
	s.pos = len(b)
	return s.complete
}

func (s *linkScanner) intern(b []byte) Name {
	if n, ok := s.names[string(b)]; ok {
		return n
	}
	n := Name(b)
	if s.names != nil && len(s.names) < 4096 {
		s.names[string(n)] = n
	}
	return n
}

// skipLiteralString returns the offset just past the literal string that
// starts at b[i] == '('.
func skipLiteralString(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return i
}

// objectNumber reads a token as the parser reads an integer that may be
// part of a reference: an optional '+', then digits, leading zeros and
// all. Anything the parser would take for a reference must be one here
// too, or the walk would miss it. Values past 2^32 are -1, no reference.
func objectNumber(tok []byte) (int64, bool) {
	if len(tok) > 0 && tok[0] == '+' {
		tok = tok[1:]
	}
	if len(tok) == 0 {
		return 0, false
	}
	var v int64
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v >= 0 {
			v = v*10 + int64(c-'0')
			if v > 1<<32 {
				v = -1
			}
		}
	}
	return v, true
}
