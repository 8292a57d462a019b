package verify

import (
	"errors"
	"fmt"

	"esign/pdf"
)

// roleMap says what the indirect objects of a signed revision are, so a
// later change to one can be judged: the catalog, the form and its fields,
// the pages with their contents and annotations, the DSS.
type roleMap struct {
	catalog, info, metadata uint32
	acro, fieldsArr         uint32
	fields                  map[uint32]*fieldRole
	sigDicts                map[uint32]bool
	pageNodes               map[uint32]bool
	pages                   map[uint32]int // page object -> 0-based index
	contents                map[uint32]int // content stream (or array) -> page index
	annotsArr               map[uint32]int // /Annots array -> page index
	annots                  map[uint32]string
	appearance              map[uint32]uint32 // appearance stream -> its annotation
	dss                     map[uint32]bool
	pageRefs                []pdf.Ref // by page index
	nodeRefs                []pdf.Ref // the page tree's inner nodes
	// reach says where the revision reaches each object it holds from,
	// and dangling each object it refers to without holding it.
	reach     *reachTable
	dangling  map[uint32]reach
	refs      *refSet // every reference an object of the revision makes
	budget    *int    // nodes the call may still walk
	exhausted bool
}

// size is roughly the memory the role map holds, for the Cache's bound.
func (rm *roleMap) size() int64 {
	const entry = 48 // a map entry with its share of buckets; a reach is 16
	n := int64(len(rm.fields)+len(rm.sigDicts)+len(rm.pageNodes)+len(rm.pages)+len(rm.contents)+
		len(rm.annotsArr)+len(rm.annots)+len(rm.appearance)+len(rm.dss)+len(rm.dangling)) * entry
	if rm.reach != nil {
		n += int64(len(rm.reach.dense))*16 + int64(len(rm.reach.sparse))*entry
	}
	if rm.refs != nil {
		n += int64(len(rm.refs.gen0.dense)) + int64(len(rm.refs.gen0.sparse)+len(rm.refs.other))*entry
	}
	return n
}

// fieldRole describes a form field or one of its widgets.
type fieldRole struct {
	name   string
	isSig  bool
	signed bool
}

func (rm *roleMap) hasPage(n uint32) bool       { _, ok := rm.pages[n]; return ok }
func (rm *roleMap) hasContents(n uint32) bool   { _, ok := rm.contents[n]; return ok }
func (rm *roleMap) hasAnnotsArr(n uint32) bool  { _, ok := rm.annotsArr[n]; return ok }
func (rm *roleMap) hasAppearance(n uint32) bool { _, ok := rm.appearance[n]; return ok }

func (rm *roleMap) spend() bool {
	if *rm.budget <= 0 {
		rm.exhausted = true
		return false
	}
	*rm.budget--
	return true
}

func refNum(o pdf.Object) uint32 {
	if r, ok := o.(pdf.Ref); ok {
		return r.Num
	}
	return 0
}

// roleMap builds the map of the old revision once per differ.
func (d *differ) roleMap() *roleMap {
	if d.roles != nil {
		return d.roles
	}
	cache, key := d.v.cfg.Cache, d.sig.revKey
	// The key fixes the revision's bytes only when the /ByteRange gap is
	// exactly the /Contents string.
	if cache != nil && key != ([32]byte{}) && d.sig.res.Integrity.ByteRange {
		if rm := cache.roleMap(key); rm != nil {
			d.roles = rm
			return rm
		}
		defer func() {
			if !d.roles.exhausted {
				d.roles.budget = nil
				cache.putRoleMap(key, d.roles)
			}
		}()
	}
	r := d.old
	rm := &roleMap{
		fields: map[uint32]*fieldRole{}, sigDicts: map[uint32]bool{}, pageNodes: map[uint32]bool{},
		pages: map[uint32]int{}, contents: map[uint32]int{}, annotsArr: map[uint32]int{},
		annots: map[uint32]string{}, appearance: map[uint32]uint32{}, dss: map[uint32]bool{},
		budget: &d.v.roleBudget,
	}
	d.roles = rm
	defer func() {
		if rm.exhausted {
			d.incomplete = true
		}
	}()
	rm.info = refNum(r.Trailer()["Info"])
	cat, catRef, err := r.Catalog()
	if err != nil {
		return rm
	}
	rm.catalog = catRef.Num
	rm.metadata = refNum(cat["Metadata"])
	rm.readDSS(r, cat["DSS"])
	rm.readForm(r, cat["AcroForm"])
	rm.readPages(r, cat["Pages"])
	rm.walkReach(d.v, r, cat, catRef)
	return rm
}

// readDSS marks the DSS's typed structure (ISO 32000-2 §12.8.4.3): the
// DSS dictionary, its /Certs /OCSPs /CRLs arrays and the streams they
// list, the /VRI dictionary, each VRI dictionary and its /Cert /OCSP /CRL
// arrays with their streams and its /TS stream. Nothing else it reaches
// is validation data: an object a hostile DSS names under another key
// (an embedded file, a page's content) keeps the role it has elsewhere.
func (rm *roleMap) readDSS(r *pdf.Reader, o pdf.Object) {
	mark := func(o pdf.Object) {
		if n := refNum(o); n != 0 && rm.spend() {
			rm.dss[n] = true
		}
	}
	list := func(o pdf.Object) {
		mark(o)
		arr, _ := r.Array(o)
		for _, x := range arr {
			mark(x)
		}
	}
	dss, _ := r.Dict(o)
	if dss == nil {
		return
	}
	mark(o)
	for _, k := range []pdf.Name{"Certs", "OCSPs", "CRLs"} {
		list(dss[k])
	}
	mark(dss["VRI"])
	vri, _ := r.Dict(dss["VRI"])
	for _, e := range vri {
		if !rm.spend() {
			return
		}
		mark(e)
		vd, _ := r.Dict(e)
		for _, k := range []pdf.Name{"Cert", "OCSP", "CRL"} {
			list(vd[k])
		}
		mark(vd["TS"])
	}
}

func (rm *roleMap) readForm(r *pdf.Reader, o pdf.Object) {
	rm.acro = refNum(o)
	acro, err := r.Dict(o)
	if err != nil || acro == nil {
		return
	}
	rm.fieldsArr = refNum(acro["Fields"])
	fields, err := r.Array(acro["Fields"])
	if err != nil {
		return
	}
	var walk func(o pdf.Object, parent string, ft pdf.Object, depth int)
	walk = func(o pdf.Object, parent string, ft pdf.Object, depth int) {
		if depth > maxFieldDepth || !rm.spend() {
			return
		}
		n := refNum(o)
		if n != 0 && rm.fields[n] != nil {
			return
		}
		fd, err := r.Dict(o)
		if err != nil || fd == nil {
			return
		}
		name := parent
		if t := text(r, fd["T"]); t != "" {
			if name != "" {
				name += "."
			}
			name += t
		}
		if f := fd["FT"]; f != nil {
			ft = f
		}
		fr := &fieldRole{name: name, isSig: ft == pdf.Name("Sig"), signed: fd["V"] != nil}
		if n != 0 {
			rm.fields[n] = fr
		}
		if fr.isSig {
			if sn := refNum(fd["V"]); sn != 0 {
				rm.sigDicts[sn] = true
			}
		}
		rm.readAppearance(r, fd, n)
		kids, _ := r.Array(fd["Kids"])
		for _, k := range kids {
			kd, _ := r.Dict(k)
			if kd == nil {
				continue
			}
			if kd["T"] != nil {
				walk(k, name, ft, depth+1)
				continue
			}
			// A widget of this field.
			if kn := refNum(k); kn != 0 && rm.fields[kn] == nil && rm.spend() {
				rm.fields[kn] = &fieldRole{name: name, isSig: fr.isSig, signed: fr.signed}
				rm.readAppearance(r, kd, kn)
			}
		}
	}
	for _, f := range fields {
		walk(f, "", nil, 0)
	}
}

// readAppearance records the appearance streams of annotation owner.
func (rm *roleMap) readAppearance(r *pdf.Reader, annot pdf.Dict, owner uint32) {
	if owner == 0 {
		return
	}
	if n := refNum(annot["AP"]); n != 0 {
		rm.appearance[n] = owner
	}
	ap, _ := r.Dict(annot["AP"])
	for _, key := range []pdf.Name{"N", "R", "D"} {
		v := ap[key]
		if n := refNum(v); n != 0 {
			rm.appearance[n] = owner
		}
		// A dictionary of appearance states.
		if st, _ := r.Resolve(v); st != nil {
			if sd, ok := st.(pdf.Dict); ok {
				for _, s := range sd {
					if n := refNum(s); n != 0 && rm.spend() {
						rm.appearance[n] = owner
					}
				}
			}
		}
	}
}

func (rm *roleMap) readPages(r *pdf.Reader, root pdf.Object) {
	idx := 0
	var walk func(o pdf.Object, depth int)
	walk = func(o pdf.Object, depth int) {
		n := refNum(o)
		if depth > 64 || n == 0 || rm.pageNodes[n] || rm.hasPage(n) || !rm.spend() {
			return
		}
		pd, err := r.Dict(o)
		if err != nil || pd == nil {
			return
		}
		if pd["Type"] == pdf.Name("Pages") || (pd["Kids"] != nil && pd["Type"] != pdf.Name("Page")) {
			rm.pageNodes[n] = true
			rm.nodeRefs = append(rm.nodeRefs, o.(pdf.Ref))
			kids, _ := r.Array(pd["Kids"])
			for _, k := range kids {
				walk(k, depth+1)
			}
			return
		}
		rm.pages[n] = idx
		rm.pageRefs = append(rm.pageRefs, o.(pdf.Ref))
		if c := refNum(pd["Contents"]); c != 0 {
			rm.contents[c] = idx
		}
		if arr, _ := r.Array(pd["Contents"]); arr != nil {
			for _, c := range arr {
				if cn := refNum(c); cn != 0 {
					rm.contents[cn] = idx
				}
			}
		}
		if a := refNum(pd["Annots"]); a != 0 {
			rm.annotsArr[a] = idx
		}
		annots, _ := r.Array(pd["Annots"])
		for _, a := range annots {
			an := refNum(a)
			if an == 0 || !rm.spend() {
				continue
			}
			if rm.fields[an] != nil {
				continue // a widget, known from the form
			}
			ad, _ := r.Dict(a)
			if ad == nil {
				continue
			}
			sub, _ := ad["Subtype"].(pdf.Name)
			if sub == "" {
				sub = "untyped"
			}
			rm.annots[an] = string(sub)
			rm.readAppearance(r, ad, an)
		}
		idx++
	}
	walk(root, 0)
}

// area is the part of the document an object of the signed revision
// belongs to, found by where the revision reaches it from. It decides what
// a later change to the object does to what a reader sees; an object
// reached from several places takes the most visible one.
type area uint8

const (
	areaOther      area = iota + 1 // reached from the catalog otherwise: outlines, names, viewer settings
	areaMeta                       // the document information dictionary, XMP
	areaStructure                  // the logical structure tree
	areaDSS                        // validation data
	areaForm                       // the interactive form and its fields
	areaAttachment                 // embedded files
	areaAnnot                      // annotations, widgets and their appearances
	areaContent                    // what pages draw: contents, resources, optional content
)

// reach says where the signed revision first reaches an object from: its
// area and, for content and annotations, the 0-based page (-1 for none).
type reach struct {
	area area
	page int
}

// maxWalkDepth bounds the nesting of direct objects the walk follows.
const maxWalkDepth = 64

// walker marks every object the signed revision reaches, in order of how
// visible it is: what pages draw first, then annotations, then the rest.
// A reference to an object the revision does not hold (missing, free,
// another generation, unreadable) is recorded as dangling: a later
// revision that defines it changes what was signed without touching a
// signed byte (the shadow attacks' "hide-and-replace").
type walker struct {
	v        *verifier
	r        *pdf.Reader
	rm       *roleMap
	stack    []walkItem
	stopped  bool
	visited  *numberSet
	reached  *reachTable
	dangling map[uint32]reach
}

// maxDenseNumbers bounds the object numbers kept in slices rather than
// maps: /Size is the file's word, and a hostile one is huge.
const maxDenseNumbers = 1 << 20

// numberSet is a set of object numbers: a slice below the revision's
// /Size, which the walk visits nearly all of, a map above.
type numberSet struct {
	dense  []bool
	sparse map[uint32]bool
}

func newNumberSet(size uint32) *numberSet {
	return &numberSet{dense: make([]bool, min(size, maxDenseNumbers)), sparse: map[uint32]bool{}}
}

func (s *numberSet) has(n uint32) bool {
	if int64(n) < int64(len(s.dense)) {
		return s.dense[n]
	}
	return s.sparse[n]
}

// add puts n in the set and reports whether it was not there.
func (s *numberSet) add(n uint32) bool {
	if s.has(n) {
		return false
	}
	if int64(n) < int64(len(s.dense)) {
		s.dense[n] = true
	} else {
		s.sparse[n] = true
	}
	return true
}

// reachTable says where the walk reached each object from, laid out as
// numberSet is.
type reachTable struct {
	dense  []reach
	sparse map[uint32]reach
}

func newReachTable(size uint32) *reachTable {
	return &reachTable{dense: make([]reach, min(size, maxDenseNumbers)), sparse: map[uint32]reach{}}
}

// get returns where object n was reached from, and whether it was.
func (t *reachTable) get(n uint32) (reach, bool) {
	if t == nil {
		return reach{}, false
	}
	if int64(n) < int64(len(t.dense)) {
		return t.dense[n], t.dense[n].area != 0
	}
	at, ok := t.sparse[n]
	return at, ok
}

func (t *reachTable) set(n uint32, at reach) {
	if int64(n) < int64(len(t.dense)) {
		t.dense[n] = at
	} else {
		t.sparse[n] = at
	}
}

type walkItem struct {
	o     pdf.Object
	at    reach
	depth int
}

// walkReach fills rm.reach and rm.dangling for the revision r.
func (rm *roleMap) walkReach(v *verifier, r *pdf.Reader, cat pdf.Dict, catRef pdf.Ref) {
	// /Size is the file's word: the tables are as large as the objects
	// the file can really hold, never what it claims.
	size := min(r.NextObjectNumber(), uint32(min(r.Size()/16+64, maxDenseNumbers)))
	w := &walker{v: v, r: r, rm: rm, visited: newNumberSet(size), reached: newReachTable(size), dangling: map[uint32]reach{}}
	rm.reach, rm.dangling = w.reached, w.dangling
	// The catalog and the page tree are judged by their own rules; the
	// walk starts below them and does not climb back through them.
	w.visited.add(catRef.Num)
	for n := range rm.pageNodes {
		w.visited.add(n)
	}
	for n := range rm.pages {
		w.visited.add(n)
	}
	pages := rm.pageList(r)
	// Content first: everything a page holds but its annotations (its
	// contents, resources, boxes, transparency group, actions), what the
	// nodes above it pass down, and the optional content configuration
	// that decides which of it shows.
	for i, pd := range pages {
		w.inherited(r, pd, i)
		for k, o := range pd {
			if k != "Annots" && k != "Parent" {
				w.follow(o, reach{areaContent, i})
			}
		}
	}
	for _, ref := range rm.nodeRefs {
		nd, _ := r.Dict(ref)
		for k, o := range nd {
			if k != "Kids" && k != "Parent" {
				w.follow(o, reach{areaContent, -1})
			}
		}
	}
	w.follow(cat["OCProperties"], reach{areaContent, -1})
	// Then the form: fields, their widgets and appearances.
	w.follow(cat["AcroForm"], reach{areaForm, -1})
	// Then the other annotations and their appearances.
	for i, pd := range pages {
		w.follow(pd["Annots"], reach{areaAnnot, i})
	}
	// Then the embedded files, before the DSS, the metadata and the
	// structure, which a hostile revision may make reach them too.
	if names, _ := r.Dict(cat["Names"]); names != nil {
		w.follow(names["EmbeddedFiles"], reach{areaAttachment, -1})
	}
	w.follow(cat["AF"], reach{areaAttachment, -1})
	// Then what the catalog runs and names (the open action, document
	// actions, the name trees: JavaScript, destinations, templates), so
	// that a DSS, metadata or structure key naming one of them does not
	// make it validation data, metadata or tagging.
	for _, k := range []pdf.Name{"OpenAction", "AA", "Names"} {
		w.follow(cat[k], reach{areaOther, -1})
	}
	// Then the rest of the catalog.
	w.follow(cat["DSS"], reach{areaDSS, -1})
	w.follow(cat["Metadata"], reach{areaMeta, -1})
	w.follow(r.Trailer()["Info"], reach{areaMeta, -1})
	w.follow(cat["StructTreeRoot"], reach{areaStructure, -1})
	for k, o := range cat {
		if k != "Pages" {
			w.follow(o, reach{areaOther, -1})
		}
	}
	if !w.stopped {
		w.stopped = !rm.collectRefs(v, r, size)
	}
	if w.stopped {
		rm.exhausted = true
	}
}

// collectRefs records every reference any object of the revision holds,
// reached by the walk or not, with the trailer's: a later revision that
// defines an object the signed revision refers to without holding it
// changes what was signed, however the reference is reached. It reports
// false when it had to stop.
func (rm *roleMap) collectRefs(v *verifier, r *pdf.Reader, size uint32) bool {
	rm.refs = &refSet{gen0: newNumberSet(size), other: map[pdf.Ref]bool{}}
	for _, o := range r.Trailer() {
		if ref, ok := o.(pdf.Ref); ok {
			rm.refs.add(ref)
		}
	}
	// Sections newest first, and in each the table before its hybrid
	// stream, as lookups go: the first entry seen for a number is the
	// one in force.
	seen := newNumberSet(size)
	for _, sec := range r.Sections() {
		entries, err := r.Entries(sec)
		if err != nil {
			return false
		}
		for _, e := range entries {
			if !seen.add(e.Ref.Num) || e.Type == 0 {
				continue
			}
			if !rm.spend() || v.ctx.Err() != nil {
				return false
			}
			links, _, err := r.Links(pdf.Ref{Num: e.Ref.Num, Gen: e.RefGen()})
			if err != nil && (errors.Is(err, pdf.ErrTooLarge) || v.ctx.Err() != nil) {
				return false
			}
			for _, l := range links {
				rm.refs.add(l.To)
			}
		}
	}
	return true
}

// refSet is a set of references: generation 0, nearly all of them, in a
// numberSet, the others in a map.
type refSet struct {
	gen0  *numberSet
	other map[pdf.Ref]bool
}

func (s *refSet) add(r pdf.Ref) {
	if r.Gen == 0 {
		s.gen0.add(r.Num)
	} else {
		s.other[r] = true
	}
}

func (s *refSet) has(r pdf.Ref) bool {
	if s == nil {
		return false
	}
	if r.Gen == 0 {
		return s.gen0.has(r.Num)
	}
	return s.other[r]
}

// inherited follows the resources a page inherits from its ancestors.
func (w *walker) inherited(r *pdf.Reader, pd pdf.Dict, page int) {
	cur := pd
	for i := 0; i < maxWalkDepth && cur != nil; i++ {
		if _, own := cur["Resources"]; own && i > 0 {
			w.follow(cur["Resources"], reach{areaContent, page})
			return
		}
		next, err := r.Dict(cur["Parent"])
		if err != nil {
			return
		}
		cur = next
	}
}

// follow marks o and everything it reaches that is not yet marked.
func (w *walker) follow(o pdf.Object, at reach) {
	if o == nil || w.stopped {
		return
	}
	w.stack = append(w.stack[:0], walkItem{o: o, at: at})
	for len(w.stack) > 0 && !w.stopped {
		it := w.stack[len(w.stack)-1]
		w.stack = w.stack[:len(w.stack)-1]
		w.visit(it)
	}
}

func (w *walker) visit(it walkItem) {
	if it.depth > maxWalkDepth {
		return
	}
	if ref, ok := it.o.(pdf.Ref); ok {
		w.visitRef(ref, it.at)
		return
	}
	push := func(x pdf.Object) {
		switch x.(type) {
		case pdf.Ref, pdf.Dict, pdf.Array:
			w.stack = append(w.stack, walkItem{o: x, at: it.at, depth: it.depth + 1})
		}
	}
	// Every key is followed: links back up the tree (an annotation's /P,
	// a field's /Parent) end at pages and fields already marked, and a
	// key skipped by its name could hide a resource named /P.
	switch x := it.o.(type) {
	case pdf.Dict:
		for _, e := range x {
			push(e)
		}
	case pdf.Array:
		for _, e := range x {
			push(e)
		}
	}
}

// visitRef marks the object ref names and queues what it refers to. It
// reads only the references in the object, not the object itself.
func (w *walker) visitRef(ref pdf.Ref, at reach) {
	if !w.visited.add(ref.Num) {
		return
	}
	// Links read from the cache touch no file and ask no context.
	if !w.rm.spend() || w.v.ctx.Err() != nil {
		w.stopped = true
		return
	}
	links, found, err := w.r.Links(ref)
	for _, l := range links {
		if !w.visited.has(l.To.Num) {
			w.stack = append(w.stack, walkItem{o: l.To, at: at})
		}
	}
	switch {
	case err != nil && (errors.Is(err, pdf.ErrTooLarge) || w.v.ctx.Err() != nil):
		// Out of budget or time: what is left unknown must not read as
		// missing.
		w.stopped = true
	case err != nil || !found:
		w.dangling[ref.Num] = at
	default:
		w.reached.set(ref.Num, at)
	}
}

// pageList is the pages of r in order, as far as the page tree can be
// read; the role map's page numbers index it.
func (rm *roleMap) pageList(r *pdf.Reader) []pdf.Dict {
	out := make([]pdf.Dict, len(rm.pageRefs))
	for i, ref := range rm.pageRefs {
		out[i], _ = r.Dict(ref)
	}
	return out
}

// shown is what a change to an object reached this way does to the
// rendered document.
func (at reach) shown() shown {
	sh := shown{page: at.page + 1}
	switch at.area {
	case areaContent:
		sh.effect = EffectContent
	case areaAnnot:
		sh.effect = EffectAnnotation
	case areaForm:
		sh.effect = EffectFormField
	case areaAttachment:
		sh.effect = EffectAttachment
	}
	if at.page < 0 {
		sh.page = 0
	}
	return sh
}

// where says in words where the signed revision reaches an object from.
func (at reach) where() string {
	page := ""
	if at.page >= 0 {
		page = fmt.Sprintf(" of page %d", at.page+1)
	}
	switch at.area {
	case areaContent:
		return "from the content" + page
	case areaAnnot:
		return "from an annotation" + page
	case areaForm:
		return "from the form"
	case areaAttachment:
		return "from the embedded files"
	case areaDSS:
		return "from the DSS"
	case areaMeta:
		return "from the metadata"
	case areaStructure:
		return "from the logical structure"
	}
	return "from the catalog"
}
