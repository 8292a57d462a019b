package pdf

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
)

// AppendObject appends the PDF syntax for o to b.
func AppendObject(b []byte, o Object) []byte {
	switch v := o.(type) {
	case nil:
		return append(b, "null"...)
	case Bool:
		if v {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case Integer:
		return strconv.AppendInt(b, int64(v), 10)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case Real:
		return appendReal(b, float64(v))
	case Name:
		return appendName(b, v)
	case String:
		return appendString(b, v)
	case Ref:
		b = strconv.AppendUint(b, uint64(v.Num), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(v.Gen), 10)
		return append(b, " R"...)
	case Array:
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ' ')
			}
			b = AppendObject(b, x)
		}
		return append(b, ']')
	case Dict:
		b = append(b, "<<"...)
		for _, k := range v.SortedKeys() {
			b = appendName(b, k)
			b = append(b, ' ')
			b = AppendObject(b, v[k])
		}
		return append(b, ">>"...)
	case Raw:
		return append(b, v...)
	case placeholder:
		b = append(b, holeTag(v.name)...)
		for i := len(holeTag(v.name)); i < v.width; i++ {
			b = append(b, ' ')
		}
		return b
	case *Stream:
		return appendStream(b, v)
	default:
		panic(fmt.Sprintf("pdf: cannot write %T", o))
	}
}

func appendReal(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		f = 0
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(b, int64(f), 10)
	}
	s := strconv.FormatFloat(f, 'f', 4, 64)
	for len(s) > 0 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	s = trimSuffix(s, ".")
	return append(b, s...)
}

func trimSuffix(s, suf string) string {
	if len(s) >= len(suf) && s[len(s)-len(suf):] == suf {
		return s[:len(s)-len(suf)]
	}
	return s
}

func appendName(b []byte, n Name) []byte {
	b = append(b, '/')
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < '!' || c > '~' || c == '#' || isDelim(c) {
			b = append(b, '#', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

func appendString(b []byte, s String) []byte {
	if s.Hex {
		b = append(b, '<')
		for _, c := range s.Bytes {
			b = append(b, "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
		}
		return append(b, '>')
	}
	b = append(b, '(')
	for _, c := range s.Bytes {
		switch c {
		case '(', ')', '\\':
			b = append(b, '\\', c)
		case '\r':
			b = append(b, '\\', 'r')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return append(b, ')')
}

func appendStream(b []byte, s *Stream) []byte {
	d := s.Dict.Clone()
	d["Length"] = Integer(len(s.Data))
	b = AppendObject(b, d)
	b = append(b, "\nstream\n"...)
	b = append(b, s.Data...)
	return append(b, "\nendstream"...)
}

// Update builds one incremental update (§7.5.6): new and replaced objects,
// a cross-reference section of the same kind as the file's newest one, and
// a trailer linked to it by /Prev. Earlier bytes are never touched.
type Update struct {
	base     *Reader
	next     uint32
	objects  map[Ref]Object
	order    []Ref
	holes    map[string]Hole
	xrefKind XrefKind
}

// Hole is a fixed-width placeholder in an update, patched after the bytes
// around it are known: a signature's /Contents and /ByteRange.
type Hole struct {
	Name   string
	Width  int   // bytes reserved
	Offset int64 // file offset, set by Bytes
}

// NewUpdate starts an update on top of r.
func (r *Reader) NewUpdate() *Update {
	return &Update{
		base:     r,
		next:     r.NextObjectNumber(),
		objects:  map[Ref]Object{},
		holes:    map[string]Hole{},
		xrefKind: r.XrefKind(),
	}
}

// Reader returns the reader the update builds on.
func (u *Update) Reader() *Reader { return u.base }

// Add allocates a new object number for o.
func (u *Update) Add(o Object) Ref {
	ref := Ref{Num: u.next}
	u.next++
	u.Set(ref, o)
	return ref
}

// Reserve allocates an object number to fill later with Set, for objects
// that refer to each other.
func (u *Update) Reserve() Ref {
	ref := Ref{Num: u.next}
	u.next++
	return ref
}

// Set writes o as object ref, replacing an earlier revision of it.
func (u *Update) Set(ref Ref, o Object) {
	if _, ok := u.objects[ref]; !ok {
		u.order = append(u.order, ref)
	}
	u.objects[ref] = o
}

// Get returns the object as the update will write it: the updated value
// when the update sets it, otherwise the base file's.
func (u *Update) Get(ref Ref) (Object, error) {
	if o, ok := u.objects[ref]; ok {
		return o, nil
	}
	return u.base.Object(ref)
}

// placeholder is written as width bytes starting with a tag no PDF
// syntax produces; Bytes finds it by that tag.
type placeholder struct {
	name  string
	width int
}

// HoleObject returns a placeholder object of width bytes; Bytes records
// where it lands. The caller must fill it before the update is used.
func (u *Update) HoleObject(name string, width int) Object {
	u.holes[name] = Hole{Name: name, Width: width}
	return placeholder{name: name, width: width}
}

func holeTag(name string) string { return "\x00hole:" + name + "\x00" }

// Bytes serialises the update. The result is appended to the base file as
// it is; offsets inside it count from the start of the base file.
func (u *Update) Bytes() ([]byte, map[string]Hole, error) {
	base := u.base.size
	// Size the buffer once: placeholders dominate, objects are small.
	capacity := 1024 + 512*len(u.objects)
	for _, h := range u.holes {
		capacity += h.Width
	}
	b := make([]byte, 0, capacity)
	// The update starts on a fresh line even if the file lacks a final EOL.
	last, err := u.base.readAt(base-1, 1)
	if err != nil {
		return nil, nil, err
	}
	if last[0] != '\n' && last[0] != '\r' {
		b = append(b, '\n')
	}
	offsets := map[uint32]int64{}
	refs := append([]Ref(nil), u.order...)
	sort.Slice(refs, func(i, j int) bool { return refs[i].Num < refs[j].Num })
	for _, ref := range refs {
		offsets[ref.Num] = base + int64(len(b))
		b = strconv.AppendUint(b, uint64(ref.Num), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(ref.Gen), 10)
		b = append(b, " obj\n"...)
		o := u.objects[ref]
		if u.base.sec != nil {
			// An update of an encrypted file is encrypted alike; the
			// cross-reference stream and trailer below are not (§7.6.2).
			if o, err = u.base.encryptObject(ref, o, 0); err != nil {
				return nil, nil, fmt.Errorf("pdf: encrypt object %v: %w", ref, err)
			}
		}
		b = AppendObject(b, o)
		b = append(b, "\nendobj\n"...)
	}
	trailer := Dict{}
	for _, k := range []Name{"Root", "Info", "ID", "Encrypt"} {
		if v, ok := u.base.trailer[k]; ok {
			trailer[k] = v
		}
	}
	trailer["Prev"] = Integer(u.base.StartXref())
	xrefOff := base + int64(len(b))
	if u.xrefKind == XrefStream {
		xref := u.next
		u.next++
		offsets[xref] = xrefOff
		refs = append(refs, Ref{Num: xref})
		trailer["Size"] = Integer(u.next)
		b = appendXrefStream(b, xref, refs, offsets, trailer)
	} else {
		trailer["Size"] = Integer(u.next)
		b = appendXrefTable(b, refs, offsets)
		b = append(b, "trailer\n"...)
		b = AppendObject(b, trailer)
		b = append(b, '\n')
	}
	b = append(b, "startxref\n"...)
	b = strconv.AppendInt(b, xrefOff, 10)
	b = append(b, "\n%%EOF\n"...)

	holes := map[string]Hole{}
	for name, h := range u.holes {
		i := bytes.Index(b, []byte(holeTag(name)))
		if i < 0 {
			return nil, nil, fmt.Errorf("pdf: placeholder %q was not written", name)
		}
		h.Offset = base + int64(i)
		holes[name] = h
	}
	return b, holes, nil
}

// subsections groups sorted object numbers into runs.
func subsections(refs []Ref) [][]Ref {
	var out [][]Ref
	for i, r := range refs {
		if i == 0 || r.Num != refs[i-1].Num+1 {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], r)
	}
	return out
}

func appendXrefTable(b []byte, refs []Ref, offsets map[uint32]int64) []byte {
	b = append(b, "xref\n"...)
	for _, run := range subsections(refs) {
		b = strconv.AppendUint(b, uint64(run[0].Num), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(len(run)), 10)
		b = append(b, '\n')
		for _, r := range run {
			b = appendPadded(b, uint64(offsets[r.Num]), 10)
			b = append(b, ' ')
			b = appendPadded(b, uint64(r.Gen), 5)
			b = append(b, " n\r\n"...)
		}
	}
	return b
}

func appendXrefStream(b []byte, self uint32, refs []Ref, offsets map[uint32]int64, trailer Dict) []byte {
	sort.Slice(refs, func(i, j int) bool { return refs[i].Num < refs[j].Num })
	maxOff := int64(0)
	for _, o := range offsets {
		maxOff = max(maxOff, o)
	}
	w1 := 1
	for maxOff >= 1<<(8*w1) {
		w1++
	}
	var index Array
	var rows []byte
	for _, run := range subsections(refs) {
		index = append(index, Integer(run[0].Num), Integer(len(run)))
		for _, r := range run {
			rows = append(rows, 1)
			off := offsets[r.Num]
			for k := w1 - 1; k >= 0; k-- {
				rows = append(rows, byte(off>>(8*k)))
			}
			rows = append(rows, byte(r.Gen>>8), byte(r.Gen))
		}
	}
	d := trailer.Clone()
	d["Type"] = Name("XRef")
	d["W"] = Array{Integer(1), Integer(w1), Integer(2)}
	d["Index"] = index
	b = fmt.Appendf(b, "%d 0 obj\n", self)
	b = appendStream(b, &Stream{Dict: d, Data: rows})
	return append(b, "\nendobj\n"...)
}

// PatchHole writes data into the hole h of an update produced by Bytes,
// where upd starts at file offset baseSize.
func PatchHole(upd []byte, baseSize int64, h Hole, data []byte) error {
	if len(data) != h.Width {
		return fmt.Errorf("pdf: %d bytes for placeholder %q of width %d", len(data), h.Name, h.Width)
	}
	i := h.Offset - baseSize
	if i < 0 || i+int64(h.Width) > int64(len(upd)) {
		return fmt.Errorf("pdf: placeholder %q outside the update", h.Name)
	}
	copy(upd[i:], data)
	return nil
}

// Concat presents base followed by tail as one file, so the next update
// can be built on an update not yet written anywhere.
func Concat(base io.ReaderAt, baseSize int64, tail []byte) io.ReaderAt {
	return &concat{base: base, size: baseSize, tail: tail}
}

type concat struct {
	base io.ReaderAt
	size int64
	tail []byte
}

func (c *concat) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	if off < c.size {
		k := len(p)
		if int64(k) > c.size-off {
			k = int(c.size - off)
		}
		m, err := c.base.ReadAt(p[:k], off)
		n += m
		if m < k {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		off += int64(m)
	}
	if n < len(p) {
		t := off - c.size
		if t >= int64(len(c.tail)) {
			return n, io.EOF
		}
		m := copy(p[n:], c.tail[t:])
		n += m
		if n < len(p) {
			return n, io.EOF
		}
	}
	return n, nil
}

// appendPadded appends v in decimal, zero-padded to width digits, as xref
// table entries need.
func appendPadded(b []byte, v uint64, width int) []byte {
	var digits [20]byte
	d := strconv.AppendUint(digits[:0], v, 10)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

// FlateStream makes a stream of data compressed with FlateDecode
// (ISO 32000-2 §7.4.4), with d as its dictionary.
func FlateStream(d Dict, data []byte) (*Stream, error) {
	var b bytes.Buffer
	zw := zlib.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		return nil, fmt.Errorf("pdf: compress stream: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("pdf: compress stream: %w", err)
	}
	d["Filter"] = Name("FlateDecode")
	return &Stream{Dict: d, Data: b.Bytes()}, nil
}
