package pdf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"

	"esign/pdf/crypt"
)

// errOtherObject: the cross-reference entry points at another object.
var errOtherObject = errors.New("pdf: another object at that offset")

var (
	// ErrNotPDF reports input without a PDF header or trailer.
	ErrNotPDF = errors.New("pdf: not a PDF file")
	// ErrXref reports a cross-reference section that cannot be read.
	ErrXref = errors.New("pdf: broken cross-reference section")
	// ErrEncrypted reports an encrypted document where the caller cannot
	// handle one.
	ErrEncrypted = errors.New("pdf: document is encrypted")
	// ErrNoPage reports a page number the page tree does not reach: the
	// caller asked past the last page, not a broken file.
	ErrNoPage = errors.New("pdf: no such page")
)

// XrefKind is the form of a cross-reference section.
type XrefKind int

const (
	// XrefTable is a classic "xref" table with a trailer dictionary.
	XrefTable XrefKind = iota
	// XrefStream is a cross-reference stream (PDF 1.5).
	XrefStream
)

func (k XrefKind) String() string {
	if k == XrefStream {
		return "xref stream"
	}
	return "xref table"
}

// ReaderOptions bounds what one Reader, and the revision readers made from
// it, may spend together. The zero value is fine.
type ReaderOptions struct {
	// MaxDecodedBytes caps the bytes all stream decoding may produce in
	// total. Default 32 MiB: reading a document's structure decodes
	// cross-reference and object streams, never page content.
	MaxDecodedBytes int64
	// MaxReadBytes caps the bytes read from the file to parse objects,
	// cross-reference sections and trailers, in total. Default 1 GiB.
	MaxReadBytes int64
	// Context, when set, stops the reading once it ends. Reads are lazy
	// and happen deep inside other calls, so every read and decode checks
	// it: a cancelled request stops parsing a hostile file instead of
	// running on. Default: never stopped.
	Context context.Context
	// MaxSections caps the length of the /Prev chain. Default 10000.
	MaxSections int
	// MaxObjectBytes caps the size of one object outside stream data.
	// Default 16 MiB.
	MaxObjectBytes int
	// Password opens an encrypted document: the user or the owner
	// password. Default: the empty user password most documents have.
	// Never logged.
	Password []byte
}

func (o *ReaderOptions) withDefaults() ReaderOptions {
	var out ReaderOptions
	if o != nil {
		out = *o
	}
	if out.MaxDecodedBytes <= 0 {
		out.MaxDecodedBytes = 32 << 20
	}
	if out.MaxReadBytes <= 0 {
		out.MaxReadBytes = 1 << 30
	}
	if out.MaxSections <= 0 {
		out.MaxSections = 10000
	}
	if out.MaxObjectBytes <= 0 {
		out.MaxObjectBytes = 16 << 20
	}
	return out
}

// Entry is one cross-reference entry.
type Entry struct {
	Ref Ref
	// Type is 0 (free), 1 (at Offset in the file) or 2 (compressed: the
	// Index-th object of object stream number Stream).
	Type   byte
	Offset int64
	Stream uint32
	Index  int
}

// RefGen is the generation a reference must name to reach the object of
// e: the entry's for an object in the file, 0 for one in an object stream.
func (e Entry) RefGen() uint16 {
	if e.Type == 2 {
		return 0
	}
	return e.Ref.Gen
}

// Section is one cross-reference section of the /Prev chain.
type Section struct {
	Offset  int64 // where the section starts; the startxref value naming it
	Kind    XrefKind
	Trailer Dict
	// table: subsections read lazily
	subs []subsection
	// stream: decoded rows
	streamRef Ref
	w         [3]int
	index     []int64 // pairs first,count
	rows      []byte
	hybrid    *Section // the /XRefStm of a hybrid-reference file
	spans     []span   // see makeSpans; nil until the first lookup
	// end is the offset just past the last byte parsing the section read:
	// a reader over a shorter prefix of the file may reuse the section
	// only when it ends within that prefix.
	end int64
}

type subsection struct {
	first, count uint32
	data         int64 // offset of the first entry
	width        int   // bytes per entry line, usually 20
}

// Reader gives access to the objects of one PDF file.
type Reader struct {
	ra       io.ReaderAt
	size     int64
	opts     ReaderOptions
	sections []*Section // newest first
	trailer  Dict       // merged: newest value of each key wins
	cache    map[Ref]Object
	objstms  map[uint32]*objStm
	// objstmErrs remembers object streams that cannot be read.
	objstmErrs map[uint32]error
	busy       map[Ref]bool // objects being read, to stop reference loops
	sh         *shared
	header     string
	scratch    []byte    // see readInto
	sec        *security // nil unless the document is encrypted
}

// shared is what a reader and the revision readers made from it spend and
// keep together: one budget, however many revisions a file claims, and
// the cross-reference sections parsed once.
type shared struct {
	ctx      context.Context
	decoded  int64 // bytes decoded, against MaxDecodedBytes
	read     int64 // bytes read for parsing, against MaxReadBytes
	sections map[int64]*Section
	links    map[linkKey]linkEntry // see Links
	names    map[string]Name       // dictionary keys Links has seen
	// handlers holds the opened security handlers by /Encrypt and /ID.
	handlers map[string]*crypt.Handler
}

// charge counts n bytes read for parsing and stops the work when the
// budget is spent or the context has ended.
func (r *Reader) charge(n int) error {
	if r.sh.ctx != nil {
		if err := r.sh.ctx.Err(); err != nil {
			return fmt.Errorf("pdf: reading stopped: %w", err)
		}
	}
	r.sh.read += int64(n)
	if r.sh.read > r.opts.MaxReadBytes {
		return fmt.Errorf("%w: more than %d bytes read to parse the file", ErrTooLarge, r.opts.MaxReadBytes)
	}
	return nil
}

type objStm struct {
	data    []byte
	first   int
	offsets map[uint32]int // object number -> offset after /First
	order   []uint32
	sorted  []int // the offsets in order, made when first needed
	fileEnd int64 // where the stream's data ends in the file
}

// NewReader reads the cross-reference sections of the file and its
// trailer. Objects are read later, on demand.
func NewReader(ra io.ReaderAt, size int64, opts *ReaderOptions) (*Reader, error) {
	o := opts.withDefaults()
	return newReader(ra, size, o, &shared{ctx: o.Context, sections: map[int64]*Section{},
		links: map[linkKey]linkEntry{}, names: map[string]Name{}, handlers: map[string]*crypt.Handler{}})
}

// Revision returns a reader over the first end bytes of the file, which
// must end a revision: the document as it was when that revision was
// saved. It spends from r's budget and reuses the cross-reference sections
// r has parsed, so a file claiming many revisions costs little more than
// one.
func (r *Reader) Revision(end int64) (*Reader, error) {
	if end <= 0 || end > r.size {
		return nil, fmt.Errorf("%w: revision end %d outside the file of %d bytes", ErrXref, end, r.size)
	}
	return newReader(io.NewSectionReader(r.ra, 0, end), end, r.opts, r.sh)
}

func newReader(ra io.ReaderAt, size int64, opts ReaderOptions, sh *shared) (*Reader, error) {
	r := &Reader{
		ra:         ra,
		size:       size,
		opts:       opts,
		cache:      map[Ref]Object{},
		objstms:    map[uint32]*objStm{},
		busy:       map[Ref]bool{},
		sh:         sh,
		objstmErrs: map[uint32]error{},
	}
	if err := r.readHeader(); err != nil {
		return nil, err
	}
	start, err := r.findStartXref()
	if err != nil {
		return nil, err
	}
	if err := r.readSections(start); err != nil {
		return nil, err
	}
	if err := r.openSecurity(); err != nil {
		return nil, err
	}
	return r, nil
}

// Size is the length of the file in bytes.
func (r *Reader) Size() int64 { return r.size }

// Header is the version from the %PDF-x.y header line, such as "1.7".
func (r *Reader) Header() string { return r.header }

// Trailer is the merged trailer dictionary: each key from the newest
// section that has it. Linearized files keep /Root only in the first-page
// trailer, so merging is needed.
func (r *Reader) Trailer() Dict { return r.trailer }

// Sections returns the cross-reference sections, newest first.
func (r *Reader) Sections() []*Section { return r.sections }

// StartXref is the offset of the newest cross-reference section.
func (r *Reader) StartXref() int64 { return r.sections[0].Offset }

// XrefKind is the kind of the newest section, which an update must match.
func (r *Reader) XrefKind() XrefKind { return r.sections[0].Kind }

// Encrypted reports whether the trailer has /Encrypt.
func (r *Reader) Encrypted() bool { return r.trailer["Encrypt"] != nil }

func (r *Reader) readAt(off int64, n int) ([]byte, error) {
	if off < 0 || off >= r.size {
		return nil, fmt.Errorf("%w: offset %d outside file of %d bytes", ErrSyntax, off, r.size)
	}
	if rem := r.size - off; int64(n) > rem {
		n = int(rem)
	}
	if err := r.charge(n); err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	k, err := r.ra.ReadAt(buf, off)
	if k == n {
		return buf, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("read %d bytes at %d: %w", n, off, err)
}

func (r *Reader) readHeader() error {
	if r.size < 8 {
		return fmt.Errorf("%w: %d bytes", ErrNotPDF, r.size)
	}
	// The header may follow up to 1024 bytes of junk (implementation note
	// in Annex H); offsets then still count from the file's first byte.
	b, err := r.readAt(0, 1024)
	if err != nil {
		return err
	}
	i := bytes.Index(b, []byte("%PDF-"))
	if i < 0 {
		return fmt.Errorf("%w: no %%PDF- header", ErrNotPDF)
	}
	v := b[i+5:]
	j := 0
	for j < len(v) && j < 4 && (v[j] == '.' || (v[j] >= '0' && v[j] <= '9')) {
		j++
	}
	r.header = string(v[:j])
	return nil
}

// findStartXref finds the last "startxref" and the offset after it.
func (r *Reader) findStartXref() (int64, error) {
	for _, n := range []int{2048, 64 << 10, 1 << 20} {
		off := r.size - int64(n)
		if off < 0 {
			off = 0
		}
		b, err := r.readAt(off, int(r.size-off))
		if err != nil {
			return 0, err
		}
		i := bytes.LastIndex(b, []byte("startxref"))
		if i < 0 {
			if off == 0 {
				break
			}
			continue
		}
		p := &parser{buf: b, pos: i + len("startxref")}
		p.skipSpace()
		start := p.pos
		for p.pos < len(b) && b[p.pos] >= '0' && b[p.pos] <= '9' {
			p.pos++
		}
		v, err := strconv.ParseInt(string(b[start:p.pos]), 10, 64)
		if err != nil || v <= 0 || v >= r.size {
			return 0, fmt.Errorf("%w: startxref value %q is not an offset in the file", ErrXref, truncate(b[start:p.pos]))
		}
		return v, nil
	}
	return 0, fmt.Errorf("%w: no startxref (truncated file?)", ErrNotPDF)
}

func (r *Reader) readSections(start int64) error {
	seen := map[int64]bool{}
	off := start
	for {
		if seen[off] {
			return fmt.Errorf("%w: /Prev loop at offset %d", ErrXref, off)
		}
		if len(r.sections) >= r.opts.MaxSections {
			return fmt.Errorf("%w: more than %d sections", ErrXref, r.opts.MaxSections)
		}
		seen[off] = true
		s, err := r.readSection(off)
		if err != nil {
			return fmt.Errorf("read cross-reference section at %d: %w", off, err)
		}
		r.sections = append(r.sections, s)
		prev, ok := s.Trailer["Prev"].(Integer)
		if !ok {
			break
		}
		if prev <= 0 || int64(prev) >= r.size {
			return fmt.Errorf("%w: /Prev %d outside the file", ErrXref, prev)
		}
		off = int64(prev)
	}
	r.trailer = Dict{}
	for i := len(r.sections) - 1; i >= 0; i-- {
		for k, v := range r.sections[i].Trailer {
			r.trailer[k] = v
		}
	}
	delete(r.trailer, "Prev")
	delete(r.trailer, "XRefStm")
	if _, ok := r.trailer["Root"].(Ref); !ok {
		return fmt.Errorf("%w: trailer has no /Root reference", ErrXref)
	}
	return nil
}

func (r *Reader) readSection(off int64) (*Section, error) {
	if s, ok := r.sh.sections[off]; ok && s.end <= r.size {
		return s, nil
	}
	b, err := r.readAt(off, 16)
	if err != nil {
		return nil, err
	}
	p := &parser{buf: b}
	p.skipSpace()
	var s *Section
	if bytes.HasPrefix(b[p.pos:], []byte("xref")) {
		s, err = r.readTable(off)
	} else {
		s, err = r.readXrefStream(off)
	}
	if err != nil {
		return nil, err
	}
	if _, ok := r.sh.sections[off]; !ok {
		r.sh.sections[off] = s
	}
	return s, nil
}

// readTable reads a classic table's subsection headers and its trailer.
// Entries stay in the file and are read when an object is looked up.
func (r *Reader) readTable(off int64) (*Section, error) {
	s := &Section{Offset: off, Kind: XrefTable}
	pos := off
	// Read the "xref" keyword.
	b, err := r.readAt(pos, 64)
	if err != nil {
		return nil, err
	}
	p := &parser{buf: b}
	p.skipSpace()
	p.keyword() // "xref"
	pos += int64(p.pos)
	for {
		b, err := r.readAt(pos, 64)
		if err != nil {
			return nil, err
		}
		p := &parser{buf: b}
		p.skipSpace()
		if bytes.HasPrefix(b[p.pos:], []byte("trailer")) {
			pos += int64(p.pos + len("trailer"))
			break
		}
		first, err1 := p.number()
		p.skipSpace()
		count, err2 := p.number()
		f, ok1 := first.(Integer)
		c, ok2 := count.(Integer)
		if err1 != nil || err2 != nil || !ok1 || !ok2 || f < 0 || c < 0 || f+c > 1<<31 {
			return nil, fmt.Errorf("%w: bad subsection header at %d", ErrXref, pos)
		}
		// Skip to the end of the header line.
		for p.pos < len(b) && (b[p.pos] == ' ' || b[p.pos] == '\t') {
			p.pos++
		}
		for p.pos < len(b) && (b[p.pos] == '\r' || b[p.pos] == '\n') {
			p.pos++
		}
		data := pos + int64(p.pos)
		width := 20
		if c > 0 {
			width, err = r.entryWidth(data)
			if err != nil {
				return nil, err
			}
		}
		if data+int64(c)*int64(width) > r.size {
			return nil, fmt.Errorf("%w: subsection of %d entries runs past the end of the file", ErrXref, c)
		}
		s.subs = append(s.subs, subsection{first: uint32(f), count: uint32(c), data: data, width: width})
		pos = data + int64(c)*int64(width)
		if len(s.subs) > 1<<20 {
			return nil, fmt.Errorf("%w: too many subsections", ErrXref)
		}
	}
	obj, _, end, err := r.parseAt(pos, false, Ref{})
	if err != nil {
		return nil, fmt.Errorf("trailer: %w", err)
	}
	s.end = end
	d, ok := obj.(Dict)
	if !ok {
		return nil, fmt.Errorf("%w: trailer is not a dictionary", ErrXref)
	}
	s.Trailer = d
	if xs, ok := d["XRefStm"].(Integer); ok && xs > 0 && int64(xs) < r.size {
		h, err := r.readXrefStream(int64(xs))
		if err != nil {
			return nil, fmt.Errorf("hybrid /XRefStm: %w", err)
		}
		s.hybrid = h
		s.end = max(s.end, h.end)
	}
	return s, nil
}

// entryWidth measures the first entry line: 20 bytes by the specification,
// 19 or 21 in files from careless producers.
func (r *Reader) entryWidth(data int64) (int, error) {
	b, err := r.readAt(data, 24)
	if err != nil {
		return 0, err
	}
	if len(b) < 19 || b[10] != ' ' || b[16] != ' ' || (b[17] != 'n' && b[17] != 'f') {
		return 0, fmt.Errorf("%w: malformed entry at %d", ErrXref, data)
	}
	w := 18
	for w < len(b) && (b[w] == ' ' || b[w] == '\r' || b[w] == '\n') && w < 21 {
		w++
	}
	return w, nil
}

func (r *Reader) readXrefStream(off int64) (*Section, error) {
	obj, ref, end, err := r.parseAt(off, true, Ref{})
	if err != nil {
		return nil, err
	}
	st, ok := obj.(*Stream)
	if !ok || st.Dict["Type"] != Name("XRef") {
		return nil, fmt.Errorf("%w: no xref table or stream at %d", ErrXref, off)
	}
	s := &Section{Offset: off, Kind: XrefStream, Trailer: st.Dict, streamRef: ref, end: end}
	w, ok := st.Dict["W"].(Array)
	if !ok || len(w) != 3 {
		return nil, fmt.Errorf("%w: xref stream /W", ErrXref)
	}
	rowLen := 0
	for i := range 3 {
		v, ok := w[i].(Integer)
		if !ok || v < 0 || v > 8 {
			return nil, fmt.Errorf("%w: xref stream /W", ErrXref)
		}
		s.w[i] = int(v)
		rowLen += int(v)
	}
	size, ok := st.Dict["Size"].(Integer)
	if !ok || size < 0 || size > 1<<31 {
		return nil, fmt.Errorf("%w: xref stream /Size", ErrXref)
	}
	if idx, ok := st.Dict["Index"].(Array); ok {
		if len(idx)%2 != 0 {
			return nil, fmt.Errorf("%w: xref stream /Index", ErrXref)
		}
		for _, v := range idx {
			n, ok := v.(Integer)
			if !ok || n < 0 || n > 1<<31 {
				return nil, fmt.Errorf("%w: xref stream /Index", ErrXref)
			}
			s.index = append(s.index, int64(n))
		}
	} else {
		s.index = []int64{0, int64(size)}
	}
	data, err := r.streamData(st, true)
	if err != nil {
		return nil, fmt.Errorf("xref stream data: %w", err)
	}
	total := int64(0)
	for i := 1; i < len(s.index); i += 2 {
		total += s.index[i]
	}
	if rowLen == 0 || total*int64(rowLen) > int64(len(data)) {
		return nil, fmt.Errorf("%w: xref stream holds %d bytes, /Index needs %d", ErrXref, len(data), total*int64(rowLen))
	}
	s.rows = data
	return s, nil
}

// lookup finds the newest entry for object number num.
func (r *Reader) lookup(num uint32) (Entry, bool, error) {
	for _, s := range r.sections {
		e, ok, err := r.sectionLookup(s, num)
		if err != nil || ok {
			return e, ok, err
		}
		if s.hybrid != nil {
			e, ok, err := r.sectionLookup(s.hybrid, num)
			if err != nil || ok {
				return e, ok, err
			}
		}
	}
	return Entry{}, false, nil
}

func (r *Reader) sectionLookup(s *Section, num uint32) (Entry, bool, error) {
	if s.spans == nil {
		s.spans = s.makeSpans()
	}
	if len(s.spans) > 0 {
		i := sort.Search(len(s.spans), func(i int) bool { return s.spans[i].first+s.spans[i].count > int64(num) })
		if i == len(s.spans) || int64(num) < s.spans[i].first {
			return Entry{}, false, nil
		}
		sp := s.spans[i]
		if s.Kind == XrefTable {
			return r.tableEntry(s.subs[sp.at], num)
		}
		return s.streamEntry(sp.at+int64(num)-sp.first, num), true, nil
	}
	if s.Kind == XrefTable {
		for _, sub := range s.subs {
			if num < sub.first || num-sub.first >= sub.count {
				continue
			}
			return r.tableEntry(sub, num)
		}
		return Entry{}, false, nil
	}
	row := int64(0)
	for i := 0; i+1 < len(s.index); i += 2 {
		first, count := s.index[i], s.index[i+1]
		if int64(num) >= first && int64(num) < first+count {
			return s.streamEntry(row+int64(num)-first, num), true, nil
		}
		row += count
	}
	return Entry{}, false, nil
}

// span is a run of object numbers one section lists: from first, count
// of them; at is the subsection's index (table) or the first row (stream).
type span struct {
	first, count, at int64
}

// makeSpans sorts the runs of a section with many, for a binary search:
// a hostile section can hold a million runs, and every lookup would walk
// them. Runs that overlap keep the linear walk, where the first listed
// wins; so does a section with few runs. It returns an empty, non-nil
// slice when there is no index to use.
func (s *Section) makeSpans() []span {
	var out []span
	if s.Kind == XrefTable {
		if len(s.subs) <= 8 {
			return []span{}
		}
		for i, sub := range s.subs {
			out = append(out, span{first: int64(sub.first), count: int64(sub.count), at: int64(i)})
		}
	} else {
		if len(s.index) <= 16 {
			return []span{}
		}
		row := int64(0)
		for i := 0; i+1 < len(s.index); i += 2 {
			out = append(out, span{first: s.index[i], count: s.index[i+1], at: row})
			row += s.index[i+1]
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].first < out[j].first })
	kept := out[:0]
	for _, sp := range out {
		if sp.count == 0 {
			continue
		}
		if len(kept) > 0 && sp.first < kept[len(kept)-1].first+kept[len(kept)-1].count {
			return []span{}
		}
		kept = append(kept, sp)
	}
	return kept
}

func (r *Reader) tableEntry(sub subsection, num uint32) (Entry, bool, error) {
	off := sub.data + int64(num-sub.first)*int64(sub.width)
	b, err := r.readAt(off, 18)
	if err != nil {
		return Entry{}, false, err
	}
	if len(b) < 18 || b[10] != ' ' || b[16] != ' ' {
		return Entry{}, false, fmt.Errorf("%w: malformed entry for object %d at %d", ErrXref, num, off)
	}
	o, err1 := strconv.ParseInt(string(b[:10]), 10, 64)
	g, err2 := strconv.ParseUint(string(b[11:16]), 10, 16)
	if err1 != nil || err2 != nil {
		return Entry{}, false, fmt.Errorf("%w: malformed entry for object %d at %d", ErrXref, num, off)
	}
	e := Entry{Ref: Ref{Num: num, Gen: uint16(g)}}
	switch b[17] {
	case 'n':
		e.Type, e.Offset = 1, o
	case 'f':
		e.Type = 0
	default:
		return Entry{}, false, fmt.Errorf("%w: entry type %q for object %d", ErrXref, b[17], num)
	}
	return e, true, nil
}

func (s *Section) streamEntry(row int64, num uint32) Entry {
	rowLen := s.w[0] + s.w[1] + s.w[2]
	b := s.rows[row*int64(rowLen) : (row+1)*int64(rowLen)]
	field := func(i int) uint64 {
		start := 0
		for k := 0; k < i; k++ {
			start += s.w[k]
		}
		var v uint64
		for _, c := range b[start : start+s.w[i]] {
			v = v<<8 | uint64(c)
		}
		return v
	}
	typ := uint64(1) // a zero-width type field means type 1
	if s.w[0] > 0 {
		typ = field(0)
	}
	e := Entry{Ref: Ref{Num: num}}
	switch typ {
	case 0:
		e.Type = 0
	case 1:
		e.Type = 1
		e.Offset = int64(field(1))
		e.Ref.Gen = uint16(field(2))
	case 2:
		e.Type = 2
		e.Stream = uint32(field(1))
		e.Index = int(field(2))
	default:
		// Unknown types are to be treated as null references (§7.5.8.3).
		e.Type = 0
	}
	return e
}

// Entries lists every entry of section s, oldest subsection first. The
// verifier uses it to see which objects a revision added or replaced.
func (r *Reader) Entries(s *Section) ([]Entry, error) {
	var out []Entry
	add := func(s *Section) error {
		if s.Kind == XrefTable {
			for _, sub := range s.subs {
				for i := uint32(0); i < sub.count; i++ {
					e, _, err := r.tableEntry(sub, sub.first+i)
					if err != nil {
						return err
					}
					out = append(out, e)
				}
			}
			return nil
		}
		row := int64(0)
		for i := 0; i+1 < len(s.index); i += 2 {
			for k := int64(0); k < s.index[i+1]; k++ {
				out = append(out, s.streamEntry(row, uint32(s.index[i]+k)))
				row++
			}
		}
		return nil
	}
	if err := add(s); err != nil {
		return nil, err
	}
	if s.hybrid != nil {
		if err := add(s.hybrid); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// NextObjectNumber is the first object number an update may allocate.
func (r *Reader) NextObjectNumber() uint32 {
	next := uint32(1)
	for _, s := range r.sections {
		if n, ok := s.Trailer["Size"].(Integer); ok && n > 0 && n < 1<<31 && uint32(n) > next {
			next = uint32(n)
		}
		if s.hybrid != nil {
			if n, ok := s.hybrid.Trailer["Size"].(Integer); ok && n > 0 && n < 1<<31 && uint32(n) > next {
				next = uint32(n)
			}
		}
	}
	return next
}

// parseAt parses the object at off, an indirect one ("N G obj") when
// indirect is set, with a following stream's extent. It returns the
// object, its number and the offset just past what it read. With want
// other than object 0, an indirect object of another number fails with
// errOtherObject before its body is parsed: a hostile cross-reference
// section can point thousands of numbers at one large object.
func (r *Reader) parseAt(off int64, indirect bool, want Ref) (Object, Ref, int64, error) {
	// Most objects an update touches are a few hundred bytes; start small
	// and grow.
	window := 1024
	for {
		b, err := r.readAt(off, window)
		if err != nil {
			return nil, Ref{}, 0, err
		}
		p := &parser{buf: b}
		if indirect && want.Num != 0 {
			got, err := p.indirectHeader()
			if err == nil && got.Num != want.Num {
				return nil, got, 0, errOtherObject
			}
			p.pos = 0
		}
		obj, ref, err := r.parseBuf(p, off, indirect)
		if err == errShort && len(b) == window && window < r.opts.MaxObjectBytes {
			window *= 4
			continue
		}
		if err == errShort {
			return nil, Ref{}, 0, fmt.Errorf("%w: object at %d is truncated or larger than %d bytes", ErrSyntax, off, r.opts.MaxObjectBytes)
		}
		end := off + int64(p.pos)
		if st, ok := obj.(*Stream); ok {
			end = max(end, st.Offset+st.Length+int64(len("endstream")))
		}
		return obj, ref, end, err
	}
}

func (r *Reader) parseBuf(p *parser, base int64, indirect bool) (Object, Ref, error) {
	var ref Ref
	if indirect {
		var err error
		ref, err = p.indirectHeader()
		if err != nil {
			return nil, Ref{}, err
		}
	}
	obj, err := p.object()
	if err != nil {
		return nil, Ref{}, err
	}
	if !indirect {
		return obj, ref, nil
	}
	d, isDict := obj.(Dict)
	if !isDict || !p.peekKeyword("stream") {
		return obj, ref, nil
	}
	p.skipSpace()
	p.keyword()
	// The keyword is followed by CRLF or LF; tolerate a lone CR too.
	if p.pos < len(p.buf) && p.buf[p.pos] == '\r' {
		p.pos++
	}
	if p.pos < len(p.buf) && p.buf[p.pos] == '\n' {
		p.pos++
	}
	if p.pos >= len(p.buf) {
		return nil, Ref{}, errShort
	}
	st := &Stream{Dict: d, Offset: base + int64(p.pos)}
	length, err := r.streamLength(d, ref)
	if err != nil {
		return nil, Ref{}, err
	}
	st.Length = length
	if err := r.checkStreamEnd(st); err != nil {
		return nil, Ref{}, fmt.Errorf("object %v: %w", ref, err)
	}
	return st, ref, nil
}

func (r *Reader) streamLength(d Dict, self Ref) (int64, error) {
	lo := d["Length"]
	if lr, ok := lo.(Ref); ok {
		if lr == self {
			return -1, nil
		}
		v, err := r.Object(lr)
		if err != nil {
			return -1, nil // fall back to finding "endstream"
		}
		lo = v
	}
	if n, ok := lo.(Integer); ok && n >= 0 {
		return int64(n), nil
	}
	return -1, nil
}

// checkStreamEnd confirms "endstream" follows the data, or finds it when
// /Length is missing or wrong, as readers commonly do.
func (r *Reader) checkStreamEnd(st *Stream) error {
	if st.Length >= 0 && st.Offset+st.Length <= r.size {
		b, err := r.readAt(st.Offset+st.Length, 32)
		if err == nil {
			p := &parser{buf: b}
			p.skipSpace()
			if bytes.HasPrefix(b[p.pos:], []byte("endstream")) {
				return nil
			}
		}
	}
	// Search forward for "endstream", bounded by the file.
	const chunk = 64 << 10
	pos := st.Offset
	for pos < r.size {
		n := chunk + 16
		b, err := r.readAt(pos, n)
		if err != nil {
			return err
		}
		if i := bytes.Index(b, []byte("endstream")); i >= 0 {
			end := pos + int64(i)
			// Drop the end-of-line that precedes the keyword.
			if end > st.Offset {
				tail, err := r.readAt(end-2, 2)
				if err == nil {
					if tail[1] == '\n' {
						end--
						if tail[0] == '\r' && end > st.Offset {
							end--
						}
					} else if tail[1] == '\r' {
						end--
					}
				}
			}
			st.Length = end - st.Offset
			return nil
		}
		if len(b) < n {
			break
		}
		pos += chunk
	}
	return fmt.Errorf("%w: stream without endstream", ErrSyntax)
}

// Object returns the object ref points to; a free or missing object is
// null (nil, nil), as §7.3.10 says.
func (r *Reader) Object(ref Ref) (Object, error) {
	if o, ok := r.cache[ref]; ok {
		return o, nil
	}
	if r.busy[ref] {
		return nil, fmt.Errorf("%w: reference loop through object %v", ErrSyntax, ref)
	}
	r.busy[ref] = true
	defer delete(r.busy, ref)
	e, ok, err := r.lookup(ref.Num)
	if err != nil {
		return nil, err
	}
	if !ok || e.Type == 0 {
		return nil, nil
	}
	var obj Object
	switch e.Type {
	case 1:
		if e.Ref.Gen != ref.Gen {
			return nil, nil
		}
		var got Ref
		obj, got, _, err = r.parseAt(e.Offset, true, ref)
		if err != nil && err != errOtherObject {
			return nil, fmt.Errorf("object %v at %d: %w", ref, e.Offset, err)
		}
		if got.Num != ref.Num {
			return nil, fmt.Errorf("%w: xref points object %v at %d, which holds %v", ErrXref, ref, e.Offset, got)
		}
		// Objects of an object stream were decrypted with their stream.
		if obj, err = r.decryptObject(ref, obj); err != nil {
			return nil, fmt.Errorf("object %v: %w", ref, err)
		}
	case 2:
		if ref.Gen != 0 {
			return nil, nil
		}
		obj, err = r.compressedObject(e)
		if err != nil {
			return nil, fmt.Errorf("object %v in object stream %d: %w", ref, e.Stream, err)
		}
	}
	r.cache[ref] = obj
	return obj, nil
}

func (r *Reader) compressedObject(e Entry) (Object, error) {
	os, err := r.objectStream(e.Stream)
	if err != nil {
		return nil, err
	}
	off, ok := os.offsets[e.Ref.Num]
	if !ok {
		return nil, fmt.Errorf("%w: object %d is not in its object stream", ErrXref, e.Ref.Num)
	}
	start := os.first + off
	if start < 0 || start >= len(os.data) {
		return nil, fmt.Errorf("%w: offset outside object stream", ErrSyntax)
	}
	// An object ends where the next begins: parsed past that, it would
	// hold what Links, which scans up to there, does not see.
	p := &parser{buf: os.data[start:os.end(off)], complete: true}
	obj, err := p.object()
	if err == errShort {
		return nil, fmt.Errorf("%w: object runs past the next object of its object stream", ErrSyntax)
	}
	return obj, err
}

func (r *Reader) objectStream(num uint32) (*objStm, error) {
	if os, ok := r.objstms[num]; ok {
		return os, nil
	}
	if err, ok := r.objstmErrs[num]; ok {
		return nil, err
	}
	os, err := r.readObjectStream(num)
	if err != nil {
		// Every object of a broken stream would decode it again.
		r.objstmErrs[num] = err
		return nil, err
	}
	r.objstms[num] = os
	return os, nil
}

func (r *Reader) readObjectStream(num uint32) (*objStm, error) {
	obj, err := r.Object(Ref{Num: num})
	if err != nil {
		return nil, err
	}
	st, ok := obj.(*Stream)
	if !ok || st.Dict["Type"] != Name("ObjStm") {
		return nil, fmt.Errorf("%w: object %d is not an object stream", ErrXref, num)
	}
	n, ok1 := st.Dict["N"].(Integer)
	first, ok2 := st.Dict["First"].(Integer)
	if !ok1 || !ok2 || n < 0 || first < 0 || n > 1<<20 {
		return nil, fmt.Errorf("%w: object stream /N or /First", ErrSyntax)
	}
	// Each header entry takes at least "1 0 ": an /N the header cannot
	// hold must not size the offsets map.
	if int64(n) > int64(first)/2+1 {
		return nil, fmt.Errorf("%w: object stream /N %d, more than its %d-byte header holds", ErrSyntax, n, first)
	}
	data, err := r.streamData(st, true)
	if err != nil {
		return nil, err
	}
	if int(first) > len(data) {
		return nil, fmt.Errorf("%w: object stream /First past its data", ErrSyntax)
	}
	os := &objStm{data: data, first: int(first), offsets: make(map[uint32]int, n), fileEnd: st.Offset + st.Length}
	p := &parser{buf: data[:first], complete: true}
	last := Integer(-1)
	for i := 0; i < int(n); i++ {
		a, err1 := p.object()
		b, err2 := p.object()
		on, ok1 := a.(Integer)
		oo, ok2 := b.(Integer)
		if err1 != nil || err2 != nil || !ok1 || !ok2 || on < 0 || on > 1<<32-1 || oo < 0 || int64(oo) > int64(len(data)) {
			return nil, fmt.Errorf("%w: object stream header entry %d", ErrSyntax, i)
		}
		// "The offsets shall be in increasing order" (ISO 32000-2
		// §7.5.7): two objects at one offset would make every one of
		// them parse the same data, a cost a hostile file multiplies.
		if oo <= last {
			return nil, fmt.Errorf("%w: object stream offsets not increasing at entry %d", ErrSyntax, i)
		}
		last = oo
		os.offsets[uint32(on)] = int(oo)
		os.order = append(os.order, uint32(on))
	}
	return os, nil
}

// Resolve follows references until o is a direct object.
func (r *Reader) Resolve(o Object) (Object, error) {
	for i := 0; i < 32; i++ {
		ref, ok := o.(Ref)
		if !ok {
			return o, nil
		}
		var err error
		o, err = r.Object(ref)
		if err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w: chain of references too long", ErrSyntax)
}

// Dict resolves o and returns it as a dictionary; nil when o is null or
// not a dictionary. A stream yields its dictionary.
func (r *Reader) Dict(o Object) (Dict, error) {
	o, err := r.Resolve(o)
	if err != nil {
		return nil, err
	}
	switch v := o.(type) {
	case Dict:
		return v, nil
	case *Stream:
		return v.Dict, nil
	}
	return nil, nil
}

// Array resolves o and returns it as an array, or nil.
func (r *Reader) Array(o Object) (Array, error) {
	o, err := r.Resolve(o)
	if err != nil {
		return nil, err
	}
	a, _ := o.(Array)
	return a, nil
}

// RawStream returns the stream's bytes as stored, still encoded by its
// filters, but decrypted when the document is encrypted.
func (r *Reader) RawStream(st *Stream) ([]byte, error) {
	if st.Data != nil {
		return st.Data, nil
	}
	if st.Length < 0 || st.Offset+st.Length > r.size {
		return nil, fmt.Errorf("%w: stream extent outside file", ErrSyntax)
	}
	if st.Length > r.opts.MaxDecodedBytes-r.sh.decoded {
		return nil, ErrTooLarge
	}
	if st.Length == 0 {
		return []byte{}, nil
	}
	raw, err := r.readAt(st.Offset, int(st.Length))
	if err != nil {
		return nil, err
	}
	return r.decryptStream(st, raw)
}

// StreamData returns the decoded bytes of st, charged against the
// reader's decoding budget.
func (r *Reader) StreamData(st *Stream) ([]byte, error) { return r.streamData(st, false) }

func (r *Reader) streamData(st *Stream, direct bool) ([]byte, error) {
	raw, err := r.RawStream(st)
	if err != nil {
		return nil, err
	}
	resolve := r.Resolve
	if direct {
		// Xref streams must not use indirect references (§7.5.8.2), and
		// resolving them would need the xref being read.
		resolve = func(o Object) (Object, error) {
			if _, ok := o.(Ref); ok {
				return nil, fmt.Errorf("%w: indirect reference in xref stream dictionary", ErrSyntax)
			}
			return o, nil
		}
	}
	if r.sh.ctx != nil {
		if err := r.sh.ctx.Err(); err != nil {
			return nil, fmt.Errorf("pdf: reading stopped: %w", err)
		}
	}
	data, err := decode(st.Dict, raw, r.opts.MaxDecodedBytes-r.sh.decoded, resolve)
	if err != nil {
		return nil, err
	}
	r.sh.decoded += int64(len(data))
	return data, nil
}

// Catalog returns the document catalog and its reference.
func (r *Reader) Catalog() (Dict, Ref, error) {
	ref := r.trailer["Root"].(Ref)
	d, err := r.Dict(ref)
	if err != nil {
		return nil, ref, fmt.Errorf("catalog %v: %w", ref, err)
	}
	if d == nil {
		return nil, ref, fmt.Errorf("%w: catalog %v is not a dictionary", ErrSyntax, ref)
	}
	return d, ref, nil
}

// Page returns the reference and dictionary of page i (0-based), walking
// only the branch of the page tree that leads to it.
func (r *Reader) Page(i int) (Ref, Dict, error) {
	if i < 0 {
		return Ref{}, nil, fmt.Errorf("%w: page index %d", ErrNoPage, i)
	}
	want := i
	cat, _, err := r.Catalog()
	if err != nil {
		return Ref{}, nil, err
	}
	node, ok := cat["Pages"].(Ref)
	if !ok {
		return Ref{}, nil, fmt.Errorf("%w: catalog has no /Pages reference", ErrSyntax)
	}
	seen := map[Ref]bool{}
	for depth := 0; depth < 64; depth++ {
		if seen[node] {
			return Ref{}, nil, fmt.Errorf("%w: page tree loop at %v", ErrSyntax, node)
		}
		seen[node] = true
		d, err := r.Dict(node)
		if err != nil {
			return Ref{}, nil, err
		}
		if d == nil {
			return Ref{}, nil, fmt.Errorf("%w: page tree node %v is not a dictionary", ErrSyntax, node)
		}
		if d["Type"] == Name("Page") || d["Kids"] == nil {
			if i == 0 {
				return node, d, nil
			}
			return Ref{}, nil, fmt.Errorf("%w: page index %d is not in the page tree", ErrNoPage, want)
		}
		kids, err := r.Array(d["Kids"])
		if err != nil {
			return Ref{}, nil, err
		}
		found := false
		for _, k := range kids {
			kr, ok := k.(Ref)
			if !ok {
				continue
			}
			kd, err := r.Dict(kr)
			if err != nil {
				return Ref{}, nil, err
			}
			if kd == nil {
				continue
			}
			n := 1
			if kd["Type"] == Name("Pages") || kd["Kids"] != nil {
				c, ok := kd["Count"].(Integer)
				if !ok || c < 0 {
					return Ref{}, nil, fmt.Errorf("%w: page tree node %v without /Count", ErrSyntax, kr)
				}
				n = int(c)
			}
			if i < n {
				node, found = kr, true
				break
			}
			i -= n
		}
		if !found {
			return Ref{}, nil, fmt.Errorf("%w: page index %d is not in the page tree", ErrNoPage, want)
		}
	}
	return Ref{}, nil, fmt.Errorf("%w: page tree deeper than 64", ErrSyntax)
}

// PageCount returns /Count of the page tree root.
func (r *Reader) PageCount() (int, error) {
	cat, _, err := r.Catalog()
	if err != nil {
		return 0, err
	}
	d, err := r.Dict(cat["Pages"])
	if err != nil {
		return 0, err
	}
	c, ok := d["Count"].(Integer)
	if !ok || c < 0 {
		return 0, fmt.Errorf("%w: page tree root has no /Count", ErrSyntax)
	}
	return int(c), nil
}
