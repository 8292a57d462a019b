package verify

import (
	"bytes"
	"fmt"
	"sort"

	"esign/pdf"
)

// Bounds of the change analysis, per Verify call: objects compared and
// nodes walked to learn the roles of objects in signed revisions; and
// modifications listed per signature.
const (
	maxCompare   = 200000
	maxListed    = 100
	maxRoleNodes = 500000
)

// Modification kinds. Those in allowedKinds may be allowed, depending on
// DocMDP; the others never are.
const (
	ModDSS               = "dss"
	ModDocumentTimestamp = "document-timestamp"
	ModSignature         = "signature"
	ModFormFill          = "form-fill"
	ModFormResources     = "form-resources"
	ModMetadata          = "metadata"
	ModStructure         = "structure"
	ModVersion           = "version"
	ModObjectReused      = "object-reused"
	ModAnnotationAdded   = "annotation-added"
	ModAnnotationChanged = "annotation-modified"
	ModAnnotationRemoved = "annotation-removed"

	ModPageContent       = "page-content"
	ModPageModified      = "page-modified"
	ModPageAdded         = "page-added"
	ModPageRemoved       = "page-removed"
	ModPagesModified     = "pages-modified"
	ModCatalogModified   = "catalog-modified"
	ModAcroFormModified  = "acroform-modified"
	ModFieldAdded        = "form-field-added"
	ModFieldRemoved      = "form-field-removed"
	ModFieldModified     = "form-field-modified"
	ModSignatureModified = "signature-modified"
	ModCertification     = "certification-added"
	ModPermissions       = "permissions-modified"
	ModObjectModified    = "object-modified"
	ModObjectDeleted     = "object-deleted"
	ModXref              = "xref-modified"
	ModTrailingBytes     = "trailing-bytes"
	ModUnreadable        = "revision-unreadable"
	// ModOverlay: a new widget or annotation whose appearance draws over a
	// page without being a signature that was actually made.
	ModOverlay = "overlay"
	// ModDefinedLater: the signed revision referred to an object it did
	// not hold (missing or free), and a later revision defined it: what
	// was signed now shows something else (a shadow attack).
	ModDefinedLater = "object-defined-later"
	// ModEncryption: the encryption the file is read with (the resolved
	// /Encrypt parameters, and /ID where it feeds the key) is not the
	// signed revision's, so bytes signed as they were read as something
	// else, whatever their cross-reference entries say.
	ModEncryption = "encryption-modified"
	// ModAttachmentChanged: an embedded file that a signed revision held
	// under the same name is no longer covered by it.
	ModAttachmentChanged = "attachment-modified"
)

// level at which a kind becomes allowed: 1 = always (also under DocMDP
// P=1), 2 = without certification or with P=2 or P=3, 3 = only with P=3.
var allowedKinds = map[string]int{
	ModDSS: 1, ModDocumentTimestamp: 1, ModVersion: 1,
	ModSignature: 2, ModFormFill: 2, ModFormResources: 2, ModMetadata: 2, ModStructure: 2, ModObjectReused: 2,
	ModAnnotationAdded: 3, ModAnnotationChanged: 3, ModAnnotationRemoved: 3,
}

// change is one difference found between a signed revision and the file.
type change struct {
	kind, desc string
	obj        pdf.Ref
	field      string
	// locked is set when the change alters an existing field's value,
	// which a FieldMDP lock on that field forbids.
	locked bool
	// section is the offset of the newest section listing obj.
	section int64
	shown
}

// shown is what a change does to the rendered document: Modification's
// Effect, Page (1-based) and Rect.
type shown struct {
	effect string
	page   int
	rect   []float64
}

// checkChanges compares the revision signature s covers with the whole
// file and judges every difference by DocMDP and FieldMDP.
func (v *verifier) checkChanges(s *sigCtx) {
	var changes []change
	incomplete := false
	old, err := v.reader(s.end)
	switch {
	case err != nil && s.end < v.size:
		changes = append(changes, change{kind: ModUnreadable, desc: fmt.Sprintf("the signed revision cannot be read on its own: %v", err)})
	case err == nil:
		d := &differ{v: v, sig: s, old: old, cur: v.r, seen: map[string]bool{}}
		if s.end < v.size {
			d.run(s.end)
		}
		d.warnDangling()
		changes = d.changes
		incomplete = d.incomplete
	}
	if v.revs.trailing > 0 {
		changes = append(changes, change{kind: ModTrailingBytes,
			desc: fmt.Sprintf("%d bytes after the last %%%%EOF belong to no revision", v.revs.trailing)})
	}
	p := v.permissionLevel(s)
	res := s.res
	for _, c := range changes {
		m := Modification{Kind: c.kind, Description: c.desc, Field: c.field, Revision: v.changeRevision(c),
			Effect: c.effect, Page: c.page, Rect: c.rect}
		if c.obj != (pdf.Ref{}) {
			m.Object = c.obj.String()
		}
		lvl, ok := allowedKinds[c.kind]
		switch {
		case !ok:
		case c.locked && s.lock.locks(c.field):
			m.Description += fmt.Sprintf(" (field %q is locked by this signature: FieldMDP)", c.field)
			m.Violation = "fieldmdp"
		case p == 1 && lvl > 1:
			m.Description += " (not permitted by DocMDP P=1)"
			m.Violation = "docmdp"
		case p == 2 && lvl > 2:
			m.Description += " (not permitted by DocMDP P=2)"
			m.Violation = "docmdp"
		case p == 0 && lvl > 2:
			// Annotations are only allowed where a certification says so.
		default:
			m.Allowed = true
		}
		if m.Allowed {
			// DocMDP P=3 allows annotations, but one that draws over a
			// page still changes what the reader sees (the Evil
			// Annotation Attack): the verdict stays, the reader is told.
			if m.Effect == EffectAnnotation || m.Effect == EffectOverlay {
				s.warn("allowed, but it changes what the reader sees: %s", m.Description)
			}
			if len(res.AllowedChanges) < maxListed {
				res.AllowedChanges = append(res.AllowedChanges, m)
			}
			continue
		}
		if len(res.Modifications) < maxListed {
			res.Modifications = append(res.Modifications, m)
		} else if len(res.Modifications) == maxListed {
			res.Modifications = append(res.Modifications, Modification{Kind: ModObjectModified, Description: "further changes are not listed"})
		}
	}
	if incomplete {
		s.indeterminate(Generic, "the document changed too much after this signature to analyse every change")
	}
	if len(res.Modifications) > 0 {
		first := res.Modifications[0]
		more := ""
		if n := len(res.Modifications); n > 1 {
			more = fmt.Sprintf(" and %d more", n-1)
		}
		s.fail(FormatFailure, "the document was changed after this %s in a way not allowed: %s%s", kindWord(s), first.Description, more)
	}
}

func kindWord(s *sigCtx) string {
	if s.res.Kind == KindDocumentTimestamp {
		return "document timestamp"
	}
	return "signature"
}

// changeRevision is the revision whose cross-reference section last lists
// the changed object; the last revision for changes of no one object.
func (v *verifier) changeRevision(c change) int {
	switch {
	case c.kind == ModTrailingBytes:
		return 0
	case c.section > 0:
		return v.revs.number(c.section)
	}
	return v.revs.number(v.r.StartXref())
}

// permissionLevel is the DocMDP level governing changes after s: the
// certification's, if the document was certified at or before s, and a
// PDF 2.0 field lock's /P, the stricter of the two. 0 means none.
func (v *verifier) permissionLevel(s *sigCtx) int {
	p := 0
	if v.certP > 0 && v.certEnd <= s.end {
		p = v.certP
	}
	if s.lock != nil && s.lock.p > 0 && (p == 0 || s.lock.p < p) {
		p = s.lock.p
	}
	return p
}

// applyCertification finds the certification signature: one with a DocMDP
// reference that the catalog's /Perms /DocMDP names in its own revision.
func (v *verifier) applyCertification() {
	signedBefore := false
	for _, s := range v.sigs {
		if !s.parsed {
			continue
		}
		if s.docMDP == 0 {
			if s.res.Kind == KindSignature {
				signedBefore = true
			}
			continue
		}
		r, err := v.reader(s.end)
		named := false
		if err == nil {
			if cat, _, err := r.Catalog(); err == nil {
				if perms, _ := r.Dict(cat["Perms"]); perms != nil {
					ref, _ := perms["DocMDP"].(pdf.Ref)
					named = ref != (pdf.Ref{}) && ref == s.f.sigRef
				}
			}
		}
		switch {
		case !named:
			s.warn("the signature has a DocMDP transform but the catalog's /Perms does not name it; it does not certify the document")
		case v.certP != 0:
			s.warn("a second certification signature; only the first one counts")
		default:
			if signedBefore {
				s.warn("a certification signature must be the document's first signature")
			}
			v.certP, v.certEnd = s.docMDP, s.end
			s.res.Certification = fmt.Sprint(s.docMDP)
			v.report.Document.Certification = s.res.Certification
		}
		signedBefore = true
	}
}

// maxDanglingListed bounds the missing objects a warning names.
const maxDanglingListed = 5

// warnDangling warns of every object the signed revision refers to
// without holding it: a defect of the signed document, and the hook of a
// shadow attack, which a later revision can fill in without touching a
// signed byte. run fails the signature when one does.
func (d *differ) warnDangling() {
	rm := d.roleMap()
	if len(rm.dangling) == 0 {
		return
	}
	nums := make([]uint32, 0, len(rm.dangling))
	for n := range rm.dangling {
		nums = append(nums, n)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	for i, n := range nums {
		if i == maxDanglingListed {
			d.sig.warn("the signed revision refers to %d more objects it does not hold", len(nums)-i)
			break
		}
		d.sig.warn("the signed revision refers to object %d %s but does not hold it; a later revision could fill it in unseen", n, rm.dangling[n].where())
	}
}

// differ compares the revision old (a prefix of the file) with cur (the
// whole file).
type differ struct {
	v          *verifier
	sig        *sigCtx // the signature whose revision old is
	old, cur   *pdf.Reader
	roles      *roleMap
	changes    []change
	seen       map[string]bool // kind+desc, to list each change once
	incomplete bool
	// sectionOf maps the objects later sections list to the offset of the
	// newest such section.
	sectionOf map[uint32]int64
}

func (d *differ) add(kind string, obj pdf.Ref, field string, locked bool, format string, args ...any) {
	d.addShown(shown{}, kind, obj, field, locked, format, args...)
}

// addShown records a change that shows on the rendered document as sh.
func (d *differ) addShown(sh shown, kind string, obj pdf.Ref, field string, locked bool, format string, args ...any) {
	desc := fmt.Sprintf(format, args...)
	key := kind + "\x00" + desc
	if d.seen[key] {
		return
	}
	d.seen[key] = true
	d.changes = append(d.changes, change{kind: kind, desc: desc, obj: obj, field: field, locked: locked, section: d.sectionOf[obj.Num], shown: sh})
}

// definedLater records that a later revision defined an object the signed
// revision referred to without holding it.
func (d *differ) definedLater(ref pdf.Ref) {
	at, ok := d.roleMap().dangling[ref.Num]
	where := "by an object of the signed revision"
	if ok {
		where = at.where()
	}
	d.addShown(at.shown(), ModDefinedLater, ref, "", false,
		"object %d, referred to %s but absent from the signed revision, was defined by a later revision", ref.Num, where)
}

func (d *differ) run(end int64) {
	// The sections older than end must be exactly the signed revision's:
	// an update that links past them replaces what was signed.
	var prefix, later []*pdf.Section
	for _, s := range d.cur.Sections() {
		if s.Offset >= end {
			if len(prefix) > 0 {
				d.add(ModXref, pdf.Ref{}, "", false, "a cross-reference section after the signed revision is linked before it")
			}
			later = append(later, s)
		} else {
			prefix = append(prefix, s)
		}
	}
	oldSecs := d.old.Sections()
	same := len(prefix) == len(oldSecs)
	for i := 0; same && i < len(prefix); i++ {
		same = prefix[i].Offset == oldSecs[i].Offset
	}
	if !same {
		d.add(ModXref, pdf.Ref{}, "", false, "the later cross-reference sections do not build on the signed revision's")
	}
	d.encryption()
	if d.old.Trailer()["Root"] != d.cur.Trailer()["Root"] {
		// Another catalog object: judge it by its entries, as an edit.
		oc, _, err1 := d.old.Catalog()
		nc, ref, err2 := d.cur.Catalog()
		if err1 != nil || err2 != nil {
			d.add(ModCatalogModified, ref, "", false, "the document catalog was replaced by an unreadable one")
		} else {
			d.catalog(ref, oc, nc)
		}
	}
	d.sectionOf = map[uint32]int64{}
	// Oldest first, so the newest section's offset wins.
	for i := len(later) - 1; i >= 0; i-- {
		entries, err := d.cur.Entries(later[i])
		if err != nil {
			d.add(ModUnreadable, pdf.Ref{}, "", false, "a later cross-reference section cannot be read: %v", err)
			continue
		}
		for _, e := range entries {
			d.sectionOf[e.Ref.Num] = later[i].Offset
		}
	}
	sorted := make([]uint32, 0, len(d.sectionOf))
	for n := range d.sectionOf {
		sorted = append(sorted, n)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	if len(sorted) == 0 {
		return
	}
	// Where the signed revision reaches each object from, and what it
	// refers to without holding, are needed to judge even new objects.
	d.roleMap()
	oldSize := d.old.NextObjectNumber()
	for _, n := range sorted {
		if d.v.work++; d.v.work > maxCompare || d.v.ctx.Err() != nil {
			d.incomplete = true
			return
		}
		d.compare(n, oldSize)
	}
}

// encryption compares the encryption the signed revision is read with
// with the file's. Each reader decrypts every object with what its newest
// trailer names, so an update that adds, removes or changes /Encrypt (its
// crypt filters, their methods, the filter for embedded files) or the
// /ID[0] the key is made from changes how bytes signed long ago read,
// while their cross-reference entries, all the rest of the analysis
// compares, stay the same. No DocMDP level allows it; an update that
// repeats the same encryption, resolved to the same parameters, is no
// change.
func (d *differ) encryption() {
	was, now := d.old.EncryptionIdentity(), d.cur.EncryptionIdentity()
	if was == now {
		// The trailer read is merged across sections, but a viewer may
		// take /Encrypt from the newest alone, and an update's trailer
		// must repeat it (ISO 32000-1 §7.5.6): one that leaves it out
		// reads, there, as not encrypted.
		if secs := d.cur.Sections(); was != "" && len(secs) > 0 && secs[0].Trailer["Encrypt"] == nil {
			d.addShown(shown{effect: EffectContent}, ModEncryption, pdf.Ref{}, "", false, "the newest trailer leaves out the /Encrypt the signed revision had: a viewer that reads only that trailer reads the file as not encrypted")
		}
		return
	}
	switch {
	case was == "":
		d.addShown(shown{effect: EffectContent}, ModEncryption, pdf.Ref{}, "", false, "an update encrypted the file after it was signed (%s): objects signed in the clear are now decrypted before they are read", d.cur.Security().Handler)
	case now == "":
		d.addShown(shown{effect: EffectContent}, ModEncryption, pdf.Ref{}, "", false, "an update removed the file's encryption after it was signed: objects signed encrypted are now read as stored")
	default:
		d.addShown(shown{effect: EffectContent}, ModEncryption, pdf.Ref{}, "", false, "an update changed the file's encryption (/Encrypt, its crypt filters or the /ID its key is made from) after it was signed (%s, was %s): objects signed are now decrypted otherwise", d.cur.Security().Handler, d.old.Security().Handler)
	}
}

func sameEntry(a, b pdf.Entry) bool {
	if a.Type != b.Type {
		return false
	}
	switch a.Type {
	case 1:
		return a.Offset == b.Offset && a.Ref.Gen == b.Ref.Gen
	case 2:
		return a.Stream == b.Stream && a.Index == b.Index
	}
	return true
}

// objectAt reads object num as entry e of r describes it.
func objectAt(r *pdf.Reader, e pdf.Entry, found bool) (pdf.Object, error) {
	if !found || e.Type == 0 {
		return nil, nil
	}
	return r.Object(pdf.Ref{Num: e.Ref.Num, Gen: e.Ref.Gen})
}

func (d *differ) compare(n uint32, oldSize uint32) {
	ne, nok, nerr := d.cur.Lookup(n)
	oe, ook, oerr := d.old.Lookup(n)
	ref := pdf.Ref{Num: n}
	if nerr != nil || oerr != nil {
		d.add(ModObjectModified, ref, "", false, "object %d has a broken cross-reference entry", n)
		return
	}
	if ook && nok && sameEntry(oe, ne) {
		return
	}
	oldObj, oerr := objectAt(d.old, oe, ook)
	if oerr != nil {
		oldObj = nil
	}
	rm := d.roleMap()
	var newObj pdf.Object
	if nok && ne.Type != 0 {
		ref.Gen = ne.RefGen()
		// What the signed revision referred to without holding, a later
		// revision must not supply.
		if (oldObj == nil || ne.RefGen() != oe.RefGen()) && rm.refs.has(ref) {
			d.definedLater(ref)
			return
		}
		// The signed revision's references name the generation it gave
		// the object: when a later entry gives it another, they reach
		// nothing, whatever the object was.
		if oldObj != nil && ne.RefGen() != oe.RefGen() {
			at, _ := rm.reach.get(n)
			d.addShown(at.shown(), ModObjectDeleted, ref, "", false,
				"object %d was given generation %d: the signed revision's references to %d %d R now reach nothing", n, ref.Gen, n, oe.RefGen())
			return
		}
		newObj, nerr = objectAt(d.cur, ne, nok)
	}
	if nerr != nil {
		if oldObj != nil {
			d.add(ModObjectModified, ref, "", false, "object %d was replaced by an unreadable object", n)
		}
		return
	}
	switch {
	case oldObj == nil && newObj == nil:
		return
	case oldObj == nil:
		if ook && n < oldSize {
			d.add(ModObjectReused, ref, "", false, "object number %d, free in the signed revision, was used again", n)
		}
		return
	}
	if d.equal(oldObj, newObj, 0) {
		return
	}
	d.classify(ref, oldObj, newObj)
}

// equal compares two objects by value: references by identity (the
// objects they point to are compared on their own when they changed),
// streams by dictionary and decoded data.
func (d *differ) equal(a, b pdf.Object, depth int) bool {
	if depth > 64 {
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case pdf.Bool, pdf.Name, pdf.Ref:
		return a == b
	case pdf.Integer:
		switch y := b.(type) {
		case pdf.Integer:
			return x == y
		case pdf.Real:
			return pdf.Real(x) == y
		}
		return false
	case pdf.Real:
		switch y := b.(type) {
		case pdf.Integer:
			return x == pdf.Real(y)
		case pdf.Real:
			return x == y
		}
		return false
	case pdf.String:
		y, ok := b.(pdf.String)
		return ok && bytes.Equal(x.Bytes, y.Bytes)
	case pdf.Array:
		y, ok := b.(pdf.Array)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !d.equal(x[i], y[i], depth+1) {
				return false
			}
		}
		return true
	case pdf.Dict:
		y, ok := b.(pdf.Dict)
		return ok && d.equalDict(x, y, depth, nil)
	case *pdf.Stream:
		y, ok := b.(*pdf.Stream)
		if !ok || !d.equalDict(x.Dict, y.Dict, depth, map[pdf.Name]bool{"Length": true, "Filter": true, "DecodeParms": true}) {
			return false
		}
		if d.equal(x.Dict["Filter"], y.Dict["Filter"], depth+1) && d.equal(x.Dict["DecodeParms"], y.Dict["DecodeParms"], depth+1) {
			ra, err1 := d.old.RawStream(x)
			rb, err2 := d.cur.RawStream(y)
			if err1 == nil && err2 == nil && bytes.Equal(ra, rb) {
				return true
			}
		}
		da, err1 := d.old.StreamData(x)
		db, err2 := d.cur.StreamData(y)
		return err1 == nil && err2 == nil && bytes.Equal(da, db)
	}
	return false
}

func (d *differ) equalDict(x, y pdf.Dict, depth int, skip map[pdf.Name]bool) bool {
	for k, xv := range x {
		if skip[k] {
			continue
		}
		if !d.equal(xv, y[k], depth+1) {
			return false
		}
	}
	for k := range y {
		if _, ok := x[k]; !ok && !skip[k] {
			return false
		}
	}
	return true
}

// changedKeys lists the keys whose values differ, sorted.
func (d *differ) changedKeys(o, n pdf.Dict) []pdf.Name {
	var keys []pdf.Name
	for k, ov := range o {
		if !d.equal(ov, n[k], 0) {
			keys = append(keys, k)
		}
	}
	for k := range n {
		if _, ok := o[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// classify describes the change of one object that existed when the
// signature was made. The page tree, the form and the catalog have rules
// of their own; any other object is judged by where the signed revision
// reaches it from, the most visible place first, and never by its type
// alone: a stream that claims to be tagging or validation data but is
// drawn on a page is page content.
func (d *differ) classify(ref pdf.Ref, o, n pdf.Object) {
	rm := d.roleMap()
	num := ref.Num
	od, _ := o.(pdf.Dict)
	nd, _ := n.(pdf.Dict)
	if st, ok := o.(*pdf.Stream); ok {
		od = st.Dict
	}
	if st, ok := n.(*pdf.Stream); ok {
		nd = st.Dict
	}
	at, reached := rm.reach.get(num)
	deleted := n == nil
	switch {
	case num == rm.catalog:
		if od == nil || nd == nil {
			d.add(ModCatalogModified, ref, "", false, "the document catalog was replaced by a non-dictionary")
			return
		}
		d.catalog(ref, od, nd)
	case rm.pageNodes[num]:
		d.pageTree(ref, od, nd)
	case rm.hasPage(num):
		d.page(ref, rm.pages[num], od, nd)
	case rm.hasAnnotsArr(num):
		oa, _ := o.(pdf.Array)
		na, _ := n.(pdf.Array)
		d.annots(ref, rm.annotsArr[num], oa, na)
	case rm.hasContents(num):
		d.addShown(shown{effect: EffectContent, page: rm.contents[num] + 1}, ModPageContent, ref, "", false, "the content of page %d changed", rm.contents[num]+1)
	case reached && at.area == areaContent:
		if at.page < 0 {
			at.page = d.firstPageLinked(ref)
		}
		d.addShown(at.shown(), ModPageContent, ref, "", false, "object %d, which %s draws, %s", num, drawer(at.page), changedOrDeleted(deleted))
	case rm.fields[num] != nil:
		d.field(ref, rm.fields[num], od, nd)
	case rm.sigDicts[num]:
		d.add(ModSignatureModified, ref, "", false, "signature dictionary %v was changed", ref)
	case rm.hasAppearance(num):
		d.appearance(ref, rm.appearance[num])
	case rm.annots[num] != "":
		d.addShown(at.shown(), ModAnnotationChanged, ref, "", false, "a %s annotation was changed", rm.annots[num])
	case reached && at.area == areaAnnot:
		d.addShown(at.shown(), ModAnnotationChanged, ref, "", false, "object %d, part of an annotation%s, %s", num, pageSuffix(at.page), changedOrDeleted(deleted))
	case reached && at.area == areaAttachment:
		// Before the DSS, /Info and /Metadata: an embedded file they also
		// name is still an embedded file.
		d.addShown(at.shown(), ModObjectModified, ref, "", false, "an embedded file changed (object %d)", num)
	case reached && at.area == areaForm && (rm.dss[num] || num == rm.info || num == rm.metadata):
		// Likewise a part of the form that the DSS, /Info or /Metadata
		// also names.
		d.addShown(at.shown(), ModAcroFormModified, ref, "", false, "object %d of the form was overwritten%s", num, describeObject(od))
	case rm.dss[num]:
		d.add(ModDSS, ref, "", false, "the DSS was updated")
	case num == rm.info:
		d.add(ModMetadata, ref, "", false, "the document information dictionary changed")
	case num == rm.metadata:
		d.add(ModMetadata, ref, "", false, "the XMP metadata changed")
	case deleted:
		d.addShown(at.shown(), ModObjectDeleted, ref, "", false, "object %d was deleted", num)
	case num == rm.acro:
		d.acroForm(ref, od, nd)
	case num == rm.fieldsArr:
		oa, _ := o.(pdf.Array)
		na, _ := n.(pdf.Array)
		d.fieldList(ref, oa, na)
	case reached && at.area == areaStructure && isStructure(od) && isStructure(nd):
		d.add(ModStructure, ref, "", false, "the logical structure (tagging) was updated")
	case reached && at.area == areaMeta && isMetaValue(o) && isMetaValue(n):
		// What /Info or /Metadata reach is metadata only when it is a
		// value (an indirect /Title string) or an XMP stream: anything
		// else they name (an action, a destination) is what it is.
		d.add(ModMetadata, ref, "", false, "the document metadata changed")
	case reached && at.area == areaForm:
		d.addShown(at.shown(), ModAcroFormModified, ref, "", false, "object %d of the form was overwritten%s", num, describeObject(od))
	default:
		d.add(ModObjectModified, ref, "", false, "object %d was overwritten%s", num, describeObject(od))
	}
}

// firstPageLinked is the first page drawing an object that ref links to
// in the signed revision, or -1: an optional content configuration is
// document-wide, but what it switches shows on the pages that use the
// groups it names.
func (d *differ) firstPageLinked(ref pdf.Ref) int {
	links, _, _ := d.old.Links(ref)
	for _, l := range links {
		if at, ok := d.roleMap().reach.get(l.To.Num); ok && at.area == areaContent && at.page >= 0 {
			return at.page
		}
	}
	return -1
}

func drawer(page int) string {
	if page < 0 {
		return "the optional content configuration of every page"
	}
	return fmt.Sprintf("page %d", page+1)
}

func changedOrDeleted(deleted bool) string {
	if deleted {
		return "was deleted"
	}
	return "changed"
}

func pageSuffix(page int) string {
	if page < 0 {
		return ""
	}
	return fmt.Sprintf(" on page %d", page+1)
}

func describeObject(d pdf.Dict) string {
	if d == nil {
		return ""
	}
	if t, ok := d["Type"].(pdf.Name); ok {
		if st, ok := d["Subtype"].(pdf.Name); ok {
			return fmt.Sprintf(" (a /%s /%s)", t, st)
		}
		return fmt.Sprintf(" (a /%s)", t)
	}
	return ""
}

// isMetaValue reports a plain value or an XMP metadata stream.
func isMetaValue(o pdf.Object) bool {
	switch x := o.(type) {
	case pdf.String, pdf.Name, pdf.Integer, pdf.Real, pdf.Bool:
		return true
	case *pdf.Stream:
		return x.Dict["Type"] == pdf.Name("Metadata")
	}
	return false
}

// isStructure recognises objects of the logical structure tree, which
// tools update when they add a widget to a tagged document.
func isStructure(d pdf.Dict) bool {
	if d == nil {
		return false
	}
	switch d["Type"] {
	case pdf.Name("StructTreeRoot"), pdf.Name("StructElem"), pdf.Name("OBJR"), pdf.Name("MCR"):
		return true
	}
	if _, ok := d["Nums"]; ok && d["Type"] == nil {
		return true // a node of the /ParentTree number tree
	}
	_, hasS := d["S"].(pdf.Name)
	_, hasP := d["P"].(pdf.Ref)
	return hasS && hasP && d["Type"] == nil && d["Subtype"] == nil
}

func (d *differ) catalog(ref pdf.Ref, o, n pdf.Dict) {
	for _, k := range d.changedKeys(o, n) {
		switch k {
		case "DSS":
			d.add(ModDSS, ref, "", false, "a DSS was added or replaced")
		case "AcroForm":
			d.acroFormValue(ref, o[k], n[k])
		case "Metadata":
			d.add(ModMetadata, ref, "", false, "the XMP metadata changed")
		case "Extensions":
			d.add(ModDSS, ref, "", false, "developer extensions were declared in the catalog")
		case "Version":
			d.add(ModVersion, ref, "", false, "the PDF version in the catalog changed")
		case "Perms":
			if hasDocMDP(d.old, o[k]) || !hasDocMDP(d.cur, n[k]) {
				d.add(ModPermissions, ref, "", false, "the document permissions (/Perms) changed")
			} else {
				d.add(ModCertification, ref, "", false, "a certification (DocMDP) was added after the document was signed")
			}
		case "StructTreeRoot", "MarkInfo":
			d.add(ModStructure, ref, "", false, "the logical structure (tagging) was updated")
		case "AF":
			d.addShown(shown{effect: EffectAttachment}, ModCatalogModified, ref, "", false, "the document's associated files (/AF) changed")
		case "Names":
			on, _ := d.old.Dict(o[k])
			nn, _ := d.cur.Dict(n[k])
			if !d.equal(on["EmbeddedFiles"], nn["EmbeddedFiles"], 0) {
				d.addShown(shown{effect: EffectAttachment}, ModCatalogModified, ref, "", false, "the document's embedded files changed")
			} else {
				d.add(ModCatalogModified, ref, "", false, "catalog entry /%s changed", k)
			}
		default:
			d.add(ModCatalogModified, ref, "", false, "catalog entry /%s changed", k)
		}
	}
}

func hasDocMDP(r *pdf.Reader, o pdf.Object) bool {
	p, err := r.Dict(o)
	return err == nil && p != nil && p["DocMDP"] != nil
}

func (d *differ) acroFormValue(ref pdf.Ref, o, n pdf.Object) {
	od, err1 := d.old.Dict(o)
	nd, err2 := d.cur.Dict(n)
	if err1 != nil || err2 != nil {
		d.add(ModAcroFormModified, ref, "", false, "the interactive form cannot be read")
		return
	}
	if nd == nil {
		d.add(ModFieldRemoved, ref, "", false, "the interactive form was removed")
		return
	}
	if od == nil {
		od = pdf.Dict{}
	}
	d.acroForm(ref, od, nd)
}

func (d *differ) acroForm(ref pdf.Ref, o, n pdf.Dict) {
	if o == nil || n == nil {
		d.add(ModAcroFormModified, ref, "", false, "the interactive form was replaced by a non-dictionary")
		return
	}
	for _, k := range d.changedKeys(o, n) {
		switch k {
		case "Fields":
			oa, err1 := d.old.Array(o[k])
			na, err2 := d.cur.Array(n[k])
			if err1 != nil || err2 != nil {
				d.add(ModAcroFormModified, ref, "", false, "the form's field list cannot be read")
				continue
			}
			d.fieldList(ref, oa, na)
		case "SigFlags":
			d.add(ModSignature, ref, "", false, "the form's signature flags were set")
		case "DR", "DA":
			d.add(ModFormResources, ref, "", false, "the form's default resources or appearance changed")
		case "NeedAppearances":
			d.add(ModFormFill, ref, "", false, "the form asks for appearances to be regenerated")
		default:
			d.add(ModAcroFormModified, ref, "", false, "form entry /%s changed", k)
		}
	}
}

// fieldList compares two /Fields arrays.
func (d *differ) fieldList(ref pdf.Ref, o, n pdf.Array) {
	inOld := map[pdf.Ref]bool{}
	for _, x := range o {
		if r, ok := x.(pdf.Ref); ok {
			inOld[r] = true
		}
	}
	inNew := map[pdf.Ref]bool{}
	for _, x := range n {
		r, ok := x.(pdf.Ref)
		if !ok {
			d.add(ModFieldModified, ref, "", false, "a form field that is not an indirect object was added")
			continue
		}
		inNew[r] = true
		if !inOld[r] {
			d.newField(r)
		}
	}
	for r := range inOld {
		if !inNew[r] {
			name := ""
			if fr := d.roleMap().fields[r.Num]; fr != nil {
				name = fr.name
			}
			d.add(ModFieldRemoved, r, name, false, "form field %q was removed", name)
		}
	}
}

// newField classifies a field added to the form: signature fields (signed
// or empty) and document timestamps are allowed, other fields are not.
func (d *differ) newField(r pdf.Ref) {
	walked := 0
	var walk func(o pdf.Object, name string, ft pdf.Object, depth int)
	walk = func(o pdf.Object, name string, ft pdf.Object, depth int) {
		if walked++; walked > 1000 || depth > maxFieldDepth {
			return
		}
		fd, err := d.cur.Dict(o)
		if err != nil || fd == nil {
			return
		}
		if t := text(d.cur, fd["T"]); t != "" {
			if name != "" {
				name += "."
			}
			name += t
		}
		if f := fd["FT"]; f != nil {
			ft = f
		}
		kids, _ := d.cur.Array(fd["Kids"])
		child := false
		for _, k := range kids {
			kd, _ := d.cur.Dict(k)
			if kd != nil && kd["T"] != nil {
				child = true
				walk(k, name, ft, depth+1)
			}
		}
		if child {
			return
		}
		ref, _ := o.(pdf.Ref)
		if ft != pdf.Name("Sig") {
			sh := shown{}
			for _, w := range d.widgets(fd) {
				if paints(d.cur, w) {
					sh = shown{effect: EffectFormField, page: d.pageOf(w), rect: annotRect(d.cur, w)}
					break
				}
			}
			d.addShown(sh, ModFieldAdded, ref, name, false, "form field %q was added%s", name, onPage(sh))
			return
		}
		later := d.laterSignature(o, fd)
		switch {
		case later == nil:
			d.emptySigField(ref, name, fd)
		case later.res.Kind == KindDocumentTimestamp:
			d.add(ModDocumentTimestamp, ref, name, false, "document timestamp %q was added", name)
		default:
			d.add(ModSignature, ref, name, false, "signature %q was added", name)
		}
	}
	walk(r, "", nil, 0)
}

func (d *differ) pageTree(ref pdf.Ref, o, n pdf.Dict) {
	oc, err1 := d.old.PageCount()
	nc, err2 := d.cur.PageCount()
	switch {
	case err1 == nil && err2 == nil && nc > oc:
		d.add(ModPageAdded, ref, "", false, "%d page(s) were added", nc-oc)
	case err1 == nil && err2 == nil && nc < oc:
		d.add(ModPageRemoved, ref, "", false, "%d page(s) were removed", oc-nc)
	case o != nil && n != nil && !d.equal(o["Kids"], n["Kids"], 0):
		d.add(ModPagesModified, ref, "", false, "the page tree was rearranged")
	default:
		d.add(ModPagesModified, ref, "", false, "attributes inherited by pages changed")
	}
}

func (d *differ) page(ref pdf.Ref, idx int, o, n pdf.Dict) {
	if o == nil || n == nil {
		d.add(ModPageModified, ref, "", false, "page %d was replaced by a non-dictionary", idx+1)
		return
	}
	for _, k := range d.changedKeys(o, n) {
		switch k {
		case "Annots":
			oa, err1 := d.old.Array(o[k])
			na, err2 := d.cur.Array(n[k])
			if err1 != nil || err2 != nil {
				d.add(ModPageModified, ref, "", false, "the annotations of page %d cannot be read", idx+1)
				continue
			}
			d.annots(ref, idx, oa, na)
		case "StructParents", "Tabs":
			d.add(ModStructure, ref, "", false, "the logical structure (tagging) was updated")
		case "Contents":
			d.addShown(shown{effect: EffectContent, page: idx + 1}, ModPageContent, ref, "", false, "the content of page %d was replaced", idx+1)
		case "Resources":
			d.addShown(shown{effect: EffectContent, page: idx + 1}, ModPageContent, ref, "", false, "the resources (fonts, images, forms) page %d draws with were replaced", idx+1)
		case "MediaBox", "CropBox", "BleedBox", "TrimBox", "ArtBox", "Rotate", "UserUnit", "Group", "VP":
			d.addShown(shown{effect: EffectContent, page: idx + 1}, ModPageModified, ref, "", false, "/%s of page %d changed", k, idx+1)
		default:
			d.addShown(shown{page: idx + 1}, ModPageModified, ref, "", false, "/%s of page %d changed", k, idx+1)
		}
	}
}

// annots compares the annotation lists of one page.
func (d *differ) annots(ref pdf.Ref, idx int, o, n pdf.Array) {
	inOld := map[pdf.Ref]bool{}
	for _, x := range o {
		if r, ok := x.(pdf.Ref); ok {
			inOld[r] = true
		}
	}
	inNew := map[pdf.Ref]bool{}
	for _, x := range n {
		r, ok := x.(pdf.Ref)
		if !ok {
			found := false
			for _, y := range o {
				if d.equal(x, y, 0) {
					found = true
					break
				}
			}
			if !found {
				d.newAnnot(ref, idx, x)
			}
			continue
		}
		inNew[r] = true
		if !inOld[r] {
			d.newAnnot(r, idx, r)
		}
	}
	for _, x := range o {
		r, ok := x.(pdf.Ref)
		if !ok || inNew[r] {
			continue
		}
		sh := shown{page: idx + 1}
		if od, _ := d.old.Dict(r); od != nil && paints(d.old, od) {
			sh.rect = annotRect(d.old, od)
			sh.effect = EffectFormField
		}
		if fr := d.roleMap().fields[r.Num]; fr != nil {
			d.addShown(sh, ModFieldRemoved, r, fr.name, false, "the widget of field %q was removed from page %d", fr.name, idx+1)
		} else {
			// Taking away what an annotation drew over a page shows
			// what was under it: a change the reader sees.
			if sh.effect != "" {
				sh.effect = EffectAnnotation
			}
			d.addShown(sh, ModAnnotationRemoved, r, "", false, "an annotation was removed from page %d%s", idx+1, onPage(shown{rect: sh.rect}))
		}
	}
}

func (d *differ) newAnnot(ref pdf.Ref, idx int, o pdf.Object) {
	ad, err := d.cur.Dict(o)
	sh := shown{page: idx + 1}
	if err != nil || ad == nil {
		d.addShown(sh, ModAnnotationAdded, ref, "", false, "an unreadable annotation was added to page %d", idx+1)
		return
	}
	sh.rect = annotRect(d.cur, ad)
	visible := paints(d.cur, ad)
	sub, _ := ad["Subtype"].(pdf.Name)
	if sub != "Widget" {
		switch {
		case sub == "FileAttachment":
			sh.effect = EffectAttachment
		case visible:
			sh.effect = EffectAnnotation
		}
		d.addShown(sh, ModAnnotationAdded, ref, "", false, "a %s annotation was added to page %d%s", sub, idx+1, drawsOver(visible, sh.rect))
		return
	}
	if isSig, _ := isSignatureField(d.cur, o); isSig {
		switch {
		case d.laterSignature(o, ad) != nil:
			d.addShown(sh, ModSignature, ref, "", false, "the widget of a signature made later was added to page %d", idx+1)
		case !visible:
			d.addShown(sh, ModSignature, ref, "", false, "an empty signature field that draws nothing was added to page %d", idx+1)
		default:
			sh.effect = EffectOverlay
			d.addShown(sh, ModOverlay, ref, "", false, "a signature field that holds no signature was added to page %d%s", idx+1, drawsOver(true, sh.rect))
		}
		return
	}
	if visible {
		sh.effect = EffectFormField
	}
	d.addShown(sh, ModFieldAdded, ref, "", false, "a form field widget was added to page %d%s", idx+1, drawsOver(visible, sh.rect))
}

// drawsOver says where a new annotation draws, for its description.
func drawsOver(visible bool, rect []float64) string {
	switch {
	case !visible:
		return ", drawing nothing"
	case rect == nil:
		return ", drawing over it"
	}
	return fmt.Sprintf(", drawing over [%s]", formatRect(rect))
}

func formatRect(r []float64) string {
	return fmt.Sprintf("%.0f %.0f %.0f %.0f", r[0], r[1], r[2], r[3])
}

// laterSignature returns the signature made after this one that the
// signature field or widget o (dictionary fd) holds, when its signed bytes
// are intact: a field is "a signature added" only when a signature was
// really made in it, not because it says /FT /Sig.
func (d *differ) laterSignature(o pdf.Object, fd pdf.Dict) *sigCtx {
	ref, _ := o.(pdf.Ref)
	cur := fd
	for i := 0; i < maxFieldDepth && cur != nil; i++ {
		if v := cur["V"]; v != nil {
			vref, _ := v.(pdf.Ref)
			for _, s := range d.v.sigs {
				if s == d.sig || !s.parsed || s.end <= d.sig.end {
					continue
				}
				if (vref != (pdf.Ref{}) && s.f.sigRef == vref) || (vref == (pdf.Ref{}) && ref != (pdf.Ref{}) && s.f.fieldRef == ref) {
					if s.res.Integrity.ByteRange && s.res.Integrity.Digest && s.res.Integrity.Signature {
						return s
					}
					return nil
				}
			}
			return nil
		}
		ref, _ = cur["Parent"].(pdf.Ref)
		cur, _ = d.cur.Dict(cur["Parent"])
	}
	return nil
}

// emptySigField judges a new signature field without a signature: allowed
// when none of its widgets draws anything, an overlay otherwise.
func (d *differ) emptySigField(ref pdf.Ref, name string, fd pdf.Dict) {
	for _, w := range d.widgets(fd) {
		if paints(d.cur, w) {
			sh := shown{effect: EffectOverlay, page: d.pageOf(w), rect: annotRect(d.cur, w)}
			d.addShown(sh, ModOverlay, ref, name, false, "signature field %q holds no signature but its widget draws%s", name, onPage(sh))
			return
		}
	}
	d.add(ModSignature, ref, name, false, "empty signature field %q, which draws nothing, was added", name)
}

func onPage(sh shown) string {
	out := ""
	if sh.page > 0 {
		out = fmt.Sprintf(" on page %d", sh.page)
	}
	if sh.rect != nil {
		out += fmt.Sprintf(" over [%s]", formatRect(sh.rect))
	}
	return out
}

// widgets lists the widget annotations of field fd: the field itself when
// it is merged with its widget, and its kids without a name.
func (d *differ) widgets(fd pdf.Dict) []pdf.Dict {
	var out []pdf.Dict
	if fd["Subtype"] == pdf.Name("Widget") || fd["Rect"] != nil {
		out = append(out, fd)
	}
	kids, _ := d.cur.Array(fd["Kids"])
	for i, k := range kids {
		if i >= maxFieldNodes {
			break
		}
		if kd, _ := d.cur.Dict(k); kd != nil && kd["T"] == nil {
			out = append(out, kd)
		}
	}
	return out
}

// pageOf is the 1-based page of the signed revision a widget names in /P,
// or 0.
func (d *differ) pageOf(w pdf.Dict) int {
	if i, ok := d.roleMap().pages[refNum(w["P"])]; ok {
		return i + 1
	}
	return 0
}

// field judges a change to a form field or widget that existed when the
// signature was made.
func (d *differ) field(ref pdf.Ref, fr *fieldRole, o, n pdf.Dict) {
	if o == nil || n == nil {
		d.add(ModFieldModified, ref, fr.name, false, "form field %q was replaced by a non-dictionary", fr.name)
		return
	}
	for _, k := range d.changedKeys(o, n) {
		switch {
		case fr.isSig && !fr.signed && k == "V":
			sig, _ := d.cur.Dict(n["V"])
			if sig != nil && sig["Type"] == pdf.Name("DocTimeStamp") {
				d.add(ModDocumentTimestamp, ref, fr.name, true, "document timestamp in field %q", fr.name)
			} else {
				d.add(ModSignature, ref, fr.name, true, "signature field %q was signed", fr.name)
			}
		case fr.isSig && !fr.signed && (k == "AP" || k == "AS" || k == "MK" || k == "DA" || k == "F"):
			d.sigAppearance(ref, fr, n)
		case fr.isSig:
			d.add(ModSignatureModified, ref, fr.name, false, "/%s of signature field %q changed", k, fr.name)
		case k == "V" || k == "AS" || k == "AP" || k == "RV":
			sh := shown{}
			if rect := annotRect(d.cur, n); rect != nil && paints(d.cur, n) {
				sh = shown{effect: EffectFormField, page: d.pageOf(n), rect: rect}
			}
			d.addShown(sh, ModFormFill, ref, fr.name, true, "form field %q was filled in%s", fr.name, onPage(sh))
		default:
			d.add(ModFieldModified, ref, fr.name, false, "/%s of form field %q changed", k, fr.name)
		}
	}
}

// appearance judges a change to an appearance stream of an existing
// widget or annotation.
func (d *differ) appearance(ref pdf.Ref, owner uint32) {
	rm := d.roleMap()
	if fr := rm.fields[owner]; fr != nil {
		switch {
		case fr.isSig && fr.signed:
			d.add(ModSignatureModified, ref, fr.name, false, "the appearance of signed field %q changed", fr.name)
		case fr.isSig:
			wref := pdf.Ref{Num: owner, Gen: d.genOf(owner)}
			w, _ := d.cur.Dict(wref)
			d.sigAppearance(wref, fr, w)
		default:
			d.add(ModFormFill, ref, fr.name, true, "the appearance of form field %q changed", fr.name)
		}
		return
	}
	at, _ := rm.reach.get(owner)
	d.addShown(at.shown(), ModAnnotationChanged, ref, "", false, "the appearance of a %s annotation changed", rm.annots[owner])
}

// genOf is the generation of object num in the whole file.
func (d *differ) genOf(num uint32) uint16 {
	e, _, _ := d.cur.Lookup(num)
	return e.RefGen()
}

// sigAppearance judges a new appearance of an empty signature field w: it
// comes with the signature made in the field, or it draws nothing;
// otherwise it is an overlay that only looks like a signature.
func (d *differ) sigAppearance(wref pdf.Ref, fr *fieldRole, w pdf.Dict) {
	if w != nil && d.laterSignature(wref, w) == nil && paints(d.cur, w) {
		sh := shown{effect: EffectOverlay, page: d.pageOf(w), rect: annotRect(d.cur, w)}
		d.addShown(sh, ModOverlay, wref, fr.name, false, "empty signature field %q got an appearance that draws%s, but no signature", fr.name, onPage(sh))
		return
	}
	d.add(ModSignature, wref, fr.name, true, "signature field %q got its appearance", fr.name)
}
