package verify

import (
	"bytes"
	"io"
	"sort"

	"esign/pdf"
)

// maxRevisions bounds the revisions looked for; the pdf package bounds
// the sections of a file too.
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

// scanRevisions finds the end of each revision of r: for every
// cross-reference section, the first "startxref N %%EOF" after it.
func scanRevisions(r *pdf.Reader, ra io.ReaderAt, size int64) revisions {
	var rv revisions
	seen := map[int64]bool{}
	for i, sec := range r.Sections() {
		if i >= maxRevisions {
			break
		}
		if e, ok := eofAfter(ra, size, sec.Offset); ok && !seen[e] {
			seen[e] = true
			rv.ends = append(rv.ends, e)
		}
	}
	sort.Slice(rv.ends, func(i, j int) bool { return rv.ends[i] < rv.ends[j] })
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

// eofAfter finds the first end of a trailer ("startxref N", "%%EOF", its
// end-of-line) after off.
func eofAfter(ra io.ReaderAt, size, off int64) (int64, bool) {
	const back = 64 // bytes kept before each window, to see "startxref N"
	n := int64(4 << 10)
	for pos := off; pos < size; {
		start := max(pos-back, off)
		end := min(pos+n, size)
		buf := make([]byte, end-start)
		if k, _ := ra.ReadAt(buf, start); int64(k) != end-start {
			return 0, false
		}
		for i := 0; ; {
			j := bytes.Index(buf[i:], []byte("%%EOF"))
			if j < 0 {
				break
			}
			p := i + j
			i = p + 5
			if !afterStartxref(buf[:p]) {
				continue
			}
			e := start + int64(p) + 5
			// The end-of-line after %%EOF belongs to the revision.
			if c := readByte(ra, e); c == '\r' {
				e++
				if readByte(ra, e) == '\n' {
					e++
				}
			} else if c == '\n' {
				e++
			}
			return min(e, size), true
		}
		if end == size {
			break
		}
		// "%%EOF" may straddle windows: step back a little.
		pos = end - 4
		n = min(n*2, 1<<20)
	}
	return 0, false
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
