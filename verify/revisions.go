package verify

import (
	"bytes"
	"io"
	"sort"
)

// maxRevisions bounds the %%EOF markers recorded; a file with more is
// hostile or broken, and later markers only lose their revision numbers.
const maxRevisions = 100000

// revisions are the ends of the file's revisions: each offset just past a
// "%%EOF" (and its end-of-line) that follows "startxref N" with N > 0. The
// first-page trailer of a linearized file ends "startxref 0 %%EOF" and is
// no revision of its own.
type revisions struct {
	ends []int64
	// trailing counts the bytes after the last revision when any of them
	// is not white space.
	trailing int64
}

// number is the 1-based revision that contains offset off: the first one
// ending after it. Offsets after the last revision get len(ends)+1.
func (rv revisions) number(off int64) int {
	return sort.Search(len(rv.ends), func(i int) bool { return rv.ends[i] > off }) + 1
}

// isEnd reports whether a signed range ending at off ends a revision:
// the bytes before it are "%%EOF" and optional white space.
func isRevisionEnd(ra io.ReaderAt, off int64) bool {
	const n = 64
	start := max(off-n, 0)
	buf := make([]byte, off-start)
	if k, _ := ra.ReadAt(buf, start); k != len(buf) {
		return false
	}
	return bytes.HasSuffix(bytes.TrimRight(buf, "\x00\t\n\f\r "), []byte("%%EOF"))
}

func scanRevisions(ra io.ReaderAt, size int64) revisions {
	const chunk = 256 << 10
	const back = 64 // context kept before a chunk, to see "startxref N"
	var rv revisions
	buf := make([]byte, 0, chunk+back+8)
	for off := int64(0); off < size && len(rv.ends) < maxRevisions; off += chunk {
		start := max(off-back, 0)
		end := min(off+chunk+8, size)
		buf = buf[:end-start]
		if k, _ := ra.ReadAt(buf, start); k != len(buf) {
			break
		}
		for i := 0; ; {
			j := bytes.Index(buf[i:], []byte("%%EOF"))
			if j < 0 {
				break
			}
			p := start + int64(i+j)
			i += j + 5
			if p < off || p >= off+chunk {
				continue
			}
			if !afterStartxref(buf[:i-5]) {
				continue
			}
			e := p + 5
			// The end-of-line after %%EOF belongs to the revision.
			if e < size {
				c := readByte(ra, e)
				if c == '\r' {
					e++
					if e < size && readByte(ra, e) == '\n' {
						e++
					}
				} else if c == '\n' {
					e++
				}
			}
			rv.ends = append(rv.ends, e)
		}
	}
	last := int64(0)
	if len(rv.ends) > 0 {
		last = rv.ends[len(rv.ends)-1]
	}
	if last < size {
		tail := io.NewSectionReader(ra, last, size-last)
		if !allWhite(tail) {
			rv.trailing = size - last
		}
	}
	return rv
}

// afterStartxref reports whether b ends with "startxref N" (N > 0) and
// white space, the end of a trailer.
func afterStartxref(b []byte) bool {
	b = bytes.TrimRight(b, "\x00\t\n\f\r ")
	i := len(b)
	for i > 0 && b[i-1] >= '0' && b[i-1] <= '9' {
		i--
	}
	digits := b[i:]
	if len(digits) == 0 || len(bytes.TrimLeft(digits, "0")) == 0 {
		return false
	}
	return bytes.HasSuffix(bytes.TrimRight(b[:i], "\x00\t\n\f\r "), []byte("startxref"))
}

func readByte(ra io.ReaderAt, off int64) byte {
	var b [1]byte
	if k, _ := ra.ReadAt(b[:], off); k != 1 {
		return 0
	}
	return b[0]
}

func allWhite(r io.Reader) bool {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		for _, c := range buf[:n] {
			switch c {
			case 0, '\t', '\n', '\f', '\r', ' ':
			default:
				return false
			}
		}
		if err != nil {
			return true
		}
	}
}
