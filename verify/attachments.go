package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"

	"esign/pdf"
)

// Bounds of the embedded-file walk. A hostile name tree may loop, nest
// deep or fan out wide; the walk stops at these and says so.
const (
	maxAttachments     = 256   // files listed
	maxAttachmentDepth = 32    // name-tree levels
	maxAttachmentNodes = 20000 // objects visited over every revision's walk
)

// Attachment is one embedded file of the document: in the catalog's
// /Names /EmbeddedFiles tree or its /AF array.
type Attachment struct {
	// Name is the file specification's /UF, else /F, else the name
	// tree's key.
	Name string `json:"name"`
	// MIME is the embedded file stream's /Subtype, e.g. "application/xml".
	MIME string `json:"mime"`
	// Relationship is the file specification's /AFRelationship (Data,
	// Source, Alternative, Supplement, Unspecified), "" when absent.
	Relationship string `json:"relationship"`
	Description  string `json:"description,omitempty"`
	// Size is the decoded length; -1 when it could not be decoded.
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of the decoded content; "" when it could
	// not be decoded.
	SHA256 string `json:"sha256"`
	// CoveredBy names the fields of the signatures and document
	// timestamps whose signed revision holds this file under the same
	// name with the same content.
	CoveredBy []string `json:"covered_by"`
	// Error says why the content could not be read.
	Error string `json:"error,omitempty"`
	// Stream locates the embedded file stream in the file as uploaded, so
	// a client holding the file can take the content out itself: the
	// offset and length of its stored bytes and its filters.
	Stream *StreamLocation `json:"stream,omitempty"`
}

// StreamLocation is where a stream's stored (encoded) bytes lie in the
// file.
type StreamLocation struct {
	Offset  int64    `json:"offset"`
	Length  int64    `json:"length"`
	Filters []string `json:"filters"`
	// Plain is true when the stored bytes are the content as it is, or
	// one FlateDecode (zlib) away from it, without predictor or
	// encryption: what a browser's DecompressionStream("deflate") undoes.
	Plain bool `json:"plain"`
}

// embedded is one file found by a walk, before it is reported.
type embedded struct {
	key    string // the name tree's key
	spec   pdf.Dict
	stream *pdf.Stream
	ref    pdf.Ref // the stream's object
}

// fileWalk lists a revision's embedded files within a shared budget.
type fileWalk struct {
	r       *pdf.Reader
	budget  *int
	seen    map[pdf.Ref]bool
	files   []embedded
	byRef   map[pdf.Ref]bool // filespecs listed already
	partial bool
}

func (w *fileWalk) spend() bool {
	if *w.budget <= 0 {
		w.partial = true
		return false
	}
	*w.budget--
	return true
}

// resolve follows a reference once per walk, so loops end.
func (w *fileWalk) resolve(o pdf.Object) (pdf.Object, pdf.Ref, bool) {
	ref, isRef := o.(pdf.Ref)
	if isRef {
		if w.seen[ref] {
			return nil, ref, false
		}
		w.seen[ref] = true
	}
	if !w.spend() {
		return nil, ref, false
	}
	x, err := w.r.Resolve(o)
	if err != nil {
		w.partial = true
		return nil, ref, false
	}
	return x, ref, true
}

func (w *fileWalk) tree(node pdf.Object, depth int) {
	if depth > maxAttachmentDepth {
		w.partial = true
		return
	}
	x, _, ok := w.resolve(node)
	d, _ := x.(pdf.Dict)
	if !ok || d == nil {
		return
	}
	if names, err := w.r.Array(d["Names"]); err == nil {
		for i := 0; i+1 < len(names); i += 2 {
			key := ""
			if s, ok := names[i].(pdf.String); ok {
				key = pdf.DecodeText(s.Bytes)
			}
			w.spec(key, names[i+1])
		}
	}
	if kids, err := w.r.Array(d["Kids"]); err == nil {
		for _, k := range kids {
			w.tree(k, depth+1)
		}
	}
}

func (w *fileWalk) spec(key string, o pdf.Object) {
	if len(w.files) >= maxAttachments {
		w.partial = true
		return
	}
	if ref, ok := o.(pdf.Ref); ok {
		if w.byRef[ref] {
			return
		}
		w.byRef[ref] = true
	}
	x, _, ok := w.resolve(o)
	spec, _ := x.(pdf.Dict)
	if !ok || spec == nil {
		return
	}
	ef, err := w.r.Dict(spec["EF"])
	if err != nil || ef == nil {
		return // a reference to an external file: nothing embedded
	}
	var st *pdf.Stream
	var ref pdf.Ref
	for _, k := range []pdf.Name{"UF", "F"} {
		if s, err := w.r.Resolve(ef[k]); err == nil {
			if s, ok := s.(*pdf.Stream); ok {
				st = s
				ref, _ = ef[k].(pdf.Ref)
				break
			}
		}
	}
	if st == nil {
		return
	}
	w.files = append(w.files, embedded{key: key, spec: spec, stream: st, ref: ref})
}

// listEmbedded walks r's /Names /EmbeddedFiles tree and /AF array.
func listEmbedded(r *pdf.Reader, budget *int) ([]embedded, bool) {
	w := &fileWalk{r: r, budget: budget, seen: map[pdf.Ref]bool{}, byRef: map[pdf.Ref]bool{}}
	cat, _, err := r.Catalog()
	if err != nil {
		return nil, true
	}
	if names, err := r.Dict(cat["Names"]); err == nil && names != nil {
		w.tree(names["EmbeddedFiles"], 0)
	}
	if af, err := r.Array(cat["AF"]); err == nil {
		for _, o := range af {
			w.spec("", o)
		}
	}
	return w.files, w.partial
}

func (e embedded) name(r *pdf.Reader) string {
	for _, k := range []pdf.Name{"UF", "F"} {
		if s, err := r.Resolve(e.spec[k]); err == nil {
			if s, ok := s.(pdf.String); ok && len(s.Bytes) > 0 {
				return pdf.DecodeText(s.Bytes)
			}
		}
	}
	return e.key
}

// content is a stream's decoded size and digest.
type content struct {
	size int64
	sum  string
	err  error
}

// contentKey identifies a stream's stored bytes and how they decode: the
// same key in two revisions is the same content, decoded once. The bytes
// are those of one object at one place in the file; how they decode is
// the reader's encryption (whose key depends on the object's number) and
// the filters with their parameters as the reader resolves them.
type contentKey struct {
	ref     pdf.Ref
	off, n  int64
	enc     string // pdf.Reader.EncryptionIdentity
	filters string
}

// streamKey is the key of stream ref of r, and false when its content
// must not be shared with another reader's: a direct stream, or filters
// whose parameters hold references, which each revision may resolve to
// another object.
func streamKey(r *pdf.Reader, ref pdf.Ref, st *pdf.Stream) (contentKey, bool) {
	if ref == (pdf.Ref{}) || st.Data != nil {
		return contentKey{}, false
	}
	f, err1 := r.Resolve(st.Dict["Filter"])
	p, err2 := r.Resolve(st.Dict["DecodeParms"])
	if err1 != nil || err2 != nil || holdsRef(f, 0) || holdsRef(p, 0) {
		return contentKey{}, false
	}
	b := pdf.AppendObject(nil, f)
	b = append(b, 0)
	b = pdf.AppendObject(b, p)
	return contentKey{ref: ref, off: st.Offset, n: st.Length, enc: r.EncryptionIdentity(), filters: string(b)}, true
}

// holdsRef reports whether o holds a reference at any depth (or is too
// deep to tell).
func holdsRef(o pdf.Object, depth int) bool {
	if depth > 16 {
		return true
	}
	switch x := o.(type) {
	case pdf.Ref:
		return true
	case pdf.Array:
		for _, e := range x {
			if holdsRef(e, depth+1) {
				return true
			}
		}
	case pdf.Dict:
		for _, e := range x {
			if holdsRef(e, depth+1) {
				return true
			}
		}
	}
	return false
}

// attachments lists the document's embedded files and which signatures
// cover each. It runs after the signatures are judged, so what decoding
// files spends of the budget cannot starve their checks.
func (v *verifier) attachments() {
	budget := maxAttachmentNodes
	files, partial := listEmbedded(v.r, &budget)
	if partial {
		v.warnDoc("the document's embedded files could not all be read; the list may be incomplete")
	}
	if len(files) == 0 {
		return
	}
	sums := map[contentKey]content{}
	digest := func(r *pdf.Reader, f embedded) content {
		st := f.stream
		k, share := streamKey(r, f.ref, st)
		if c, ok := sums[k]; ok && share {
			return c
		}
		var c content
		data, err := r.StreamData(st)
		if err != nil {
			c = content{size: -1, err: err}
		} else {
			s := sha256.Sum256(data)
			c = content{size: int64(len(data)), sum: hex.EncodeToString(s[:])}
		}
		if share {
			sums[k] = c
		}
		return c
	}
	out := make([]Attachment, 0, len(files))
	for _, f := range files {
		a := Attachment{Name: f.name(v.r), CoveredBy: []string{}}
		if m, err := v.r.Resolve(f.stream.Dict["Subtype"]); err == nil {
			if n, ok := m.(pdf.Name); ok {
				a.MIME = string(n)
			}
		}
		if rel, err := v.r.Resolve(f.spec["AFRelationship"]); err == nil {
			if n, ok := rel.(pdf.Name); ok {
				a.Relationship = string(n)
			}
		}
		if d, err := v.r.Resolve(f.spec["Desc"]); err == nil {
			if s, ok := d.(pdf.String); ok {
				a.Description = pdf.DecodeText(s.Bytes)
			}
		}
		c := digest(v.r, f)
		a.Size, a.SHA256 = c.size, c.sum
		if c.err != nil {
			a.Error = attachmentError(c.err)
		}
		if f.stream.Data == nil {
			a.Stream = v.locate(f.stream)
		}
		out = append(out, a)
	}
	// Which signed revisions hold each file, by name and content. A file
	// listed now under a name a signed revision held another file under
	// was replaced or added after that signature: the change analysis
	// must have said so, and if it did not, it is said here.
	type held struct{ name, sum string }
	for _, s := range v.sigs {
		if s.skipped || !s.parsed {
			continue
		}
		if err := v.ctx.Err(); err != nil {
			return
		}
		old, err := v.reader(s.end)
		// A revision read with another encryption than the file's (which
		// the change analysis reports) vouches for no content: the same
		// stored bytes decrypt otherwise.
		if err != nil || old.EncryptionIdentity() != v.r.EncryptionIdentity() {
			continue
		}
		then, part := listEmbedded(old, &budget)
		if part {
			partial = true
		}
		have, names := map[held]bool{}, map[string]bool{}
		for _, f := range then {
			if c := digest(old, f); c.err == nil {
				name := f.name(old)
				have[held{name, c.sum}] = true
				names[name] = true
			}
		}
		for i := range out {
			switch {
			case out[i].SHA256 == "":
			case have[held{out[i].Name, out[i].SHA256}]:
				out[i].CoveredBy = append(out[i].CoveredBy, s.res.Field)
			case names[out[i].Name]:
				v.attachmentChanged(s, out[i].Name)
			}
		}
	}
	if partial && budget <= 0 {
		v.warnDoc("the signed revisions' embedded files could not all be read; a file shown as not covered may be")
	}
	v.report.Attachments = out
}

// attachmentChanged reports that the file listed now as name is not the
// one s's revision held under that name, unless the change analysis has
// already reported a disallowed change to the embedded files.
func (v *verifier) attachmentChanged(s *sigCtx, name string) {
	res := s.res
	for _, m := range res.Modifications {
		if m.Effect == EffectAttachment {
			return
		}
	}
	m := Modification{Kind: ModAttachmentChanged, Effect: EffectAttachment, Revision: v.revs.number(v.r.StartXref()),
		Description: fmt.Sprintf("the embedded file %q is not the one this %s's revision held under that name", name, kindWord(s))}
	if len(res.Modifications) < maxListed {
		res.Modifications = append(res.Modifications, m)
	}
	res.ModifiedAfter = true
	s.fail(FormatFailure, "the document was changed after this %s in a way not allowed: %s", kindWord(s), m.Description)
}

// locate says where st's stored bytes are, and whether a browser can
// decode them on its own.
func (v *verifier) locate(st *pdf.Stream) *StreamLocation {
	loc := &StreamLocation{Offset: st.Offset, Length: st.Length, Filters: []string{}}
	f, err := v.r.Resolve(st.Dict["Filter"])
	if err != nil {
		return nil
	}
	switch f := f.(type) {
	case pdf.Name:
		loc.Filters = append(loc.Filters, string(f))
	case pdf.Array:
		for _, x := range f {
			if n, ok := x.(pdf.Name); ok {
				loc.Filters = append(loc.Filters, string(n))
			}
		}
	}
	plain := len(loc.Filters) == 0 || (len(loc.Filters) == 1 && (loc.Filters[0] == "FlateDecode" || loc.Filters[0] == "Fl"))
	if p, _ := v.r.Resolve(st.Dict["DecodeParms"]); p != nil {
		if d, ok := p.(pdf.Dict); !ok || (d["Predictor"] != nil && d["Predictor"] != pdf.Integer(1)) {
			plain = false
		}
	}
	loc.Plain = plain && !v.report.Document.Encrypted
	return loc
}

func attachmentError(err error) string {
	switch {
	case errors.Is(err, pdf.ErrTooLarge):
		return "the content is over what the verifier decodes"
	case errors.Is(err, pdf.ErrUnsupportedFilter):
		return "the content is encoded with a filter the verifier does not decode"
	}
	return "the content cannot be decoded"
}

// revisionDigests sets each signature's covered revision's length and
// SHA-256 in one pass over the file: the digest of a prefix is read off
// the running hash at each end.
func (v *verifier) revisionDigests() {
	ends := map[int64][]*SignatureResult{}
	for _, s := range v.sigs {
		if !s.skipped && s.parsed && s.end > 0 && s.end <= v.size {
			ends[s.end] = append(ends[s.end], s.res)
		}
	}
	order := make([]int64, 0, len(ends))
	for e := range ends {
		order = append(order, e)
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	h := sha256.New()
	var at int64
	for _, end := range order {
		if err := v.ctx.Err(); err != nil {
			return
		}
		if _, err := io.Copy(h, io.NewSectionReader(v.ra, at, end-at)); err != nil {
			return
		}
		at = end
		sum := hex.EncodeToString(h.Sum(nil))
		for _, res := range ends[end] {
			res.RevisionLength, res.RevisionSHA256 = end, sum
		}
	}
}
