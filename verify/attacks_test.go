package verify_test

import (
	"bytes"
	"context"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"esign/appearance"
	"esign/pdf"
	"esign/signer"
	"esign/verify"
)

// Issue #16: the published attacks on PDF signatures, one case per
// variant that applies to PAdES, each with a twin: a legitimate update of
// the same shape that must still pass, so the rules are shown not to
// forbid everything.
//
//   - Mladenov et al., "1 Trillion Dollar Refund" (CCS 2019): incremental
//     saving (ISA), signature wrapping (SWA), universal signature forgery
//     (USF).
//   - Mainka, Mladenov, Rohlmann, "Shadow Attacks" (NDSS 2021): objects
//     prepared before signing and defined or changed after it.
//   - Rohlmann et al., "Breaking the Specification: PDF Certification"
//     (IEEE S&P 2021): Evil Annotation (EAA) and Sneaky Signature (SSA).

// rawObj is one entry of a hand-made update: an object written out with
// its own number and generation, an entry pointing at bytes already in the
// file, or a free entry.
type rawObj struct {
	ref  pdf.Ref
	obj  pdf.Object
	at   int64 // > 0: list ref at this existing offset, write nothing
	free bool
}

// appendRaw appends objs and a classic cross-reference table listing them
// to b, then trailer and "startxref"; startxref < 0 names the new table.
// pdf.Update cannot write generations other than 0, free entries, entries
// for bytes already in the file or a lying startxref, which the attacks
// need.
func appendRaw(b []byte, objs []rawObj, trailer pdf.Dict, startxref int64) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	offs := map[uint32]int64{}
	for _, o := range objs {
		switch {
		case o.free:
		case o.at > 0:
			offs[o.ref.Num] = o.at
		default:
			offs[o.ref.Num] = int64(len(b))
			b = fmt.Appendf(b, "%d %d obj\n", o.ref.Num, o.ref.Gen)
			b = pdf.AppendObject(b, o.obj)
			b = append(b, "\nendobj\n"...)
		}
	}
	sorted := append([]rawObj(nil), objs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ref.Num < sorted[j].ref.Num })
	xref := int64(len(b))
	b = append(b, "xref\n"...)
	for i := 0; i < len(sorted); {
		j := i + 1
		for j < len(sorted) && sorted[j].ref.Num == sorted[j-1].ref.Num+1 {
			j++
		}
		b = fmt.Appendf(b, "%d %d\n", sorted[i].ref.Num, j-i)
		for _, o := range sorted[i:j] {
			if o.free {
				b = fmt.Appendf(b, "%010d %05d f\r\n", 0, o.ref.Gen)
			} else {
				b = fmt.Appendf(b, "%010d %05d n\r\n", offs[o.ref.Num], o.ref.Gen)
			}
		}
		i = j
	}
	b = append(b, "trailer\n"...)
	b = pdf.AppendObject(b, trailer)
	if startxref < 0 {
		startxref = xref
	}
	return fmt.Appendf(b, "\nstartxref\n%d\n%%%%EOF\n", startxref)
}

// rawUpdate appends a hand-made update of objs to data with the trailer a
// well-behaved writer would give it; edit may change that trailer and
// startxref (-1: the update's own table).
func rawUpdate(t testing.TB, data []byte, objs func(r *pdf.Reader) []rawObj, edit func(r *pdf.Reader, trailer pdf.Dict) int64) []byte {
	t.Helper()
	r := reader(t, data)
	list := objs(r)
	size := r.NextObjectNumber()
	for _, o := range list {
		size = max(size, o.ref.Num+1)
	}
	trailer := pdf.Dict{"Size": pdf.Integer(size), "Prev": pdf.Integer(r.StartXref())}
	for _, k := range []pdf.Name{"Root", "Info", "ID"} {
		if v, ok := r.Trailer()[k]; ok {
			trailer[k] = v
		}
	}
	startxref := int64(-1)
	if edit != nil {
		startxref = edit(r, trailer)
	}
	return appendRaw(append([]byte(nil), data...), list, trailer, startxref)
}

func reader(t testing.TB, data []byte) *pdf.Reader {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// stream is a content stream or, with bbox, a form XObject drawing ops.
func stream(ops string, bbox ...float64) *pdf.Stream {
	d := pdf.Dict{}
	if len(bbox) == 4 {
		d = pdf.Dict{"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"), "BBox": nums(bbox...)}
	}
	return &pdf.Stream{Dict: d, Data: []byte(ops)}
}

func nums(v ...float64) pdf.Array {
	a := pdf.Array{}
	for _, x := range v {
		a = append(a, pdf.Real(x))
	}
	return a
}

// paintOver whites out a band of page 1 and writes over it, as the forged
// content of every attack does; what matters is that it draws.
const paintOver = "q 1 1 1 rg 60 560 480 120 re f 0 0 1 rg 80 600 300 40 re f Q"

// overlayAP is an appearance stream for a 300x60 widget that paints an
// opaque box: covering whatever the page shows below it.
func overlayAP() *pdf.Stream {
	return stream("q 1 1 1 rg 0 0 300 60 re f 0 0 1 rg 10 10 200 30 re f Q", 0, 0, 300, 60)
}

var overRect = nums(72, 600, 372, 660)

// contentsRef is the page's content stream object (memo-chromium has one).
func contentsRef(t testing.TB, r *pdf.Reader) pdf.Ref {
	t.Helper()
	_, pg := page0(t, r)
	switch c := pg["Contents"].(type) {
	case pdf.Ref:
		return c
	case pdf.Array:
		return c[0].(pdf.Ref)
	}
	t.Fatalf("page /Contents %v", pg["Contents"])
	return pdf.Ref{}
}

// addAnnot puts annot on page 1 and, for a field, into the form.
func addAnnot(t testing.TB, r *pdf.Reader, u *pdf.Update, annot pdf.Dict, field bool) pdf.Ref {
	t.Helper()
	pageRef, pg := page0(t, r)
	annot["P"] = pageRef
	ref := u.Add(annot)
	pg = pg.Clone()
	annots, _ := r.Array(pg["Annots"])
	pg["Annots"] = append(append(pdf.Array{}, annots...), ref)
	u.Set(pageRef, pg)
	if !field {
		return ref
	}
	cat, catRef, _ := r.Catalog()
	acro, _ := r.Dict(cat["AcroForm"])
	acro = acro.Clone()
	if acro == nil {
		acro = pdf.Dict{}
	}
	fields, _ := r.Array(acro["Fields"])
	acro["Fields"] = append(append(pdf.Array{}, fields...), ref)
	if ar, ok := cat["AcroForm"].(pdf.Ref); ok {
		u.Set(ar, acro)
	} else {
		cat = cat.Clone()
		cat["AcroForm"] = acro
		u.Set(catRef, cat)
	}
	return ref
}

// firstSigRef is the signature dictionary of the form's first signed field.
func firstSigRef(t testing.TB, r *pdf.Reader) pdf.Ref {
	t.Helper()
	cat, _, _ := r.Catalog()
	acro, _ := r.Dict(cat["AcroForm"])
	fields, _ := r.Array(acro["Fields"])
	for _, f := range fields {
		fd, _ := r.Dict(f)
		if v, ok := fd["V"].(pdf.Ref); ok {
			return v
		}
	}
	t.Fatal("no signed field")
	return pdf.Ref{}
}

// cmsDER trims the zero padding of a /Contents value to its DER.
func cmsDER(t testing.TB, contents []byte) []byte {
	t.Helper()
	var rv asn1.RawValue
	if _, err := asn1.Unmarshal(contents, &rv); err != nil {
		t.Fatal(err)
	}
	return rv.FullBytes
}

// wrapGap rewrites the /ByteRange gap of data (which must stay exactly as
// wide) as head, then a /Pad literal string holding an indirect object
// definition of obj as number num, padded; the signature dictionary still
// parses. It returns the file and the offset of the object in it.
func wrapGap(t testing.TB, data []byte, head string, num uint32, obj pdf.Object) ([]byte, int64) {
	t.Helper()
	_, br := signedRange(t, data)
	width := int(br[2] - br[1])
	def := pdf.AppendObject(fmt.Appendf(nil, "%d 0 obj\n", num), obj)
	def = append(def, "\nendobj\n"...)
	if bytes.ContainsAny(def, "()\\") {
		t.Fatal("the object would end the /Pad string")
	}
	gap := append([]byte(head+" /Pad ("), def...)
	at := br[1] + int64(len(head)+len(" /Pad ("))
	if len(gap)+1 > width {
		t.Fatalf("%d bytes do not fit a gap of %d", len(gap)+1, width)
	}
	gap = append(gap, bytes.Repeat([]byte(" "), width-len(gap)-1)...)
	gap = append(gap, ')')
	out := append([]byte(nil), data...)
	copy(out[br[1]:br[2]], gap)
	return out, at
}

// patch overwrites data at off with s padded with spaces to width.
func patch(t testing.TB, data []byte, off int64, width int, s string) []byte {
	t.Helper()
	if len(s) > width {
		t.Fatalf("%q does not fit %d bytes", s, width)
	}
	out := append([]byte(nil), data...)
	copy(out[off:], s+string(bytes.Repeat([]byte(" "), width-len(s))))
	return out
}

// forged is a prepared file (forms_test.go) whose signature dictionary a
// USF variant rewrites in place, keeping every offset.
type forged struct {
	prepared
	brOff   int64 // the /ByteRange value
	brWidth int
	mOff    int64 // the "/M (D:...)" entry
	mWidth  int
}

func forge(t *testing.T, in []byte, subFilter string) forged {
	t.Helper()
	p := prepare(t, in, subFilter, "Forged")
	key := p.contents.Offset - int64(len("/Contents "))
	if string(p.file[key:p.contents.Offset]) != "/Contents " {
		t.Fatal("/Contents key not where expected")
	}
	// The writer sorts keys: the /ByteRange value runs up to /Contents.
	upd := int64(len(in))
	br := upd + int64(bytes.Index(p.file[upd:], []byte("/ByteRange ")))
	m := upd + int64(bytes.Index(p.file[upd:], []byte("/M (")))
	mEnd := m + int64(bytes.IndexByte(p.file[m:], ')')) + 1
	return forged{prepared: p, brOff: br + int64(len("/ByteRange ")), brWidth: int(key - br - int64(len("/ByteRange "))), mOff: m, mWidth: int(mEnd - m)}
}

// setContents writes s as the /Contents value.
func (g forged) setContents(t *testing.T, s string) []byte {
	t.Helper()
	return patch(t, g.file, g.contents.Offset, g.contents.Width, s)
}

// dropKey renames the last /key of data, the signature dictionary's, so
// the dictionary lacks it.
func dropKey(t *testing.T, data []byte, key string) []byte {
	t.Helper()
	i := bytes.LastIndex(data, []byte("/"+key+" "))
	if i < 0 {
		t.Fatalf("no /%s", key)
	}
	return patch(t, data, int64(i)+1, 1, "X")
}

// signedAs fills /Contents with a CMS OpenSSL makes over the bytes the
// (possibly rewritten) /ByteRange names.
func (g forged) signedAs(t *testing.T, cred signer.Credential, data []byte, br [4]int64) []byte {
	t.Helper()
	content := append(append([]byte(nil), data[br[0]:br[0]+br[1]]...), data[br[2]:br[2]+br[3]]...)
	cms := opensslSign(t, cred, content, true)
	return prepared{file: data, contents: g.contents}.fill(t, cms)
}

// TestAttacks runs every attack and its twin.
func TestAttacks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := corpus(t, "memo-chromium.pdf")
	official, director := f.env.Creds["dev-official"], f.env.Creds["dev-director"]
	signLT := func(data []byte, opts signer.Options) []byte {
		opts.Level = signer.LevelLT
		return sign(t, f.env.Signer, data, official, opts)
	}
	// A real second signature, visible.
	cosign := func(data []byte) []byte {
		return sign(t, f.env.Signer, data, director, signer.Options{Level: signer.LevelLT,
			Appearance: &appearance.Thai{Rect: [4]float64{320, 80, 540, 170}}})
	}
	// An empty signature field as signer.AddFields makes it.
	emptyField := func(data []byte) []byte {
		res, err := signer.AddFields(ctx, bytes.NewReader(data), int64(len(data)),
			[]signer.FieldSpec{{Name: "Later", Page: 1, Rect: [4]float64{72, 600, 372, 660}}})
		if err != nil {
			t.Fatal(err)
		}
		return append(append([]byte(nil), data...), res.Appended...)
	}
	dss := func(data []byte) []byte {
		return appendUpdate(t, data, func(r *pdf.Reader, u *pdf.Update) {
			cat, ref, _ := r.Catalog()
			d, _ := r.Dict(cat["DSS"])
			d = d.Clone()
			certs, _ := r.Array(d["Certs"])
			d["Certs"] = append(append(pdf.Array{}, certs...), u.Add(&pdf.Stream{Dict: pdf.Dict{}, Data: f.env.PKI.Root.Raw}))
			c := cat.Clone()
			c["DSS"] = u.Add(d)
			u.Set(ref, c)
		})
	}
	xmp := func(data []byte) []byte {
		return appendUpdate(t, data, func(r *pdf.Reader, u *pdf.Update) {
			cat, ref, _ := r.Catalog()
			cat = cat.Clone()
			cat["Metadata"] = u.Add(&pdf.Stream{Dict: pdf.Dict{"Type": pdf.Name("Metadata"), "Subtype": pdf.Name("XML")},
				Data: []byte(`<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta><?xpacket end="w"?>`)})
			u.Set(ref, cat)
		})
	}
	// redefine appends an update that writes obj as object ref.
	redefine := func(data []byte, ref func(r *pdf.Reader) pdf.Ref, obj pdf.Object) []byte {
		return rawUpdate(t, data, func(r *pdf.Reader) []rawObj { return []rawObj{{ref: ref(r), obj: obj}} }, nil)
	}
	pageContents := func(r *pdf.Reader) pdf.Ref { return contentsRef(t, r) }

	signed := signLT(in, signer.Options{})
	if rep := run(t, signed, f.offline()); rep.Document.Indication != verify.TotalPassed {
		t.Fatalf("the signed file does not pass:\n%s", dump(rep))
	}
	p2 := signLT(in, signer.Options{Certify: 2})
	p3 := signLT(in, signer.Options{Certify: 3})
	cosigned := cosign(signed)
	withDSS := dss(signed)

	// Shadow attacks: the page draws a second content stream the signed
	// revision does not hold (number 500, beyond /Size) ...
	missing := pdf.Ref{Num: 500}
	danglingSigned := signLT(appendUpdate(t, in, func(r *pdf.Reader, u *pdf.Update) {
		ref, pg := page0(t, r)
		pg = pg.Clone()
		pg["Contents"] = pdf.Array{contentsRef(t, r), missing}
		u.Set(ref, pg)
	}), signer.Options{})
	// ... or one whose number the signed revision lists as free.
	var freeNum uint32
	freeSigned := signLT(rawUpdate(t, in, func(r *pdf.Reader) []rawObj {
		freeNum = r.NextObjectNumber()
		ref, pg := page0(t, r)
		pg = pg.Clone()
		pg["Contents"] = pdf.Array{contentsRef(t, r), pdf.Ref{Num: freeNum}}
		return []rawObj{{ref: ref, obj: pg}, {ref: pdf.Ref{Num: freeNum}, free: true}}
	}, nil), signer.Options{})
	// Twin: a free number nothing signed refers to may be used again.
	var spareNum uint32
	spareSigned := signLT(rawUpdate(t, in, func(r *pdf.Reader) []rawObj {
		spareNum = r.NextObjectNumber()
		return []rawObj{{ref: pdf.Ref{Num: spareNum}, free: true}}
	}, nil), signer.Options{})
	// An older copy of the content stream, with other content, stays in
	// the signed bytes: an earlier revision defined it, the next one put
	// the original back.
	var oldCopyAt int64
	stale := appendUpdate(t, in, func(r *pdf.Reader, u *pdf.Update) { u.Set(contentsRef(t, r), stream(paintOver)) })
	{
		r := reader(t, stale)
		e, _, _ := r.Lookup(contentsRef(t, r).Num)
		oldCopyAt = e.Offset
	}
	staleSigned := signLT(appendUpdate(t, stale, func(r *pdf.Reader, u *pdf.Update) {
		orig := reader(t, in)
		o, _ := orig.Object(contentsRef(t, orig))
		st := o.(*pdf.Stream)
		raw, err := orig.RawStream(st)
		if err != nil {
			t.Fatal(err)
		}
		u.Set(contentsRef(t, r), &pdf.Stream{Dict: st.Dict.Clone(), Data: raw})
	}), signer.Options{})
	// Optional content: a box in an optional content group, hidden (off)
	// or shown when signed.
	ocSigned := func(off bool) []byte {
		return signLT(appendUpdate(t, in, func(r *pdf.Reader, u *pdf.Update) {
			ocg := u.Add(pdf.Dict{"Type": pdf.Name("OCG"), "Name": pdf.TextString("ชั้นซ่อน")})
			d := pdf.Dict{"Order": pdf.Array{ocg}, "OFF": pdf.Array{}}
			if off {
				d["OFF"] = pdf.Array{ocg}
			}
			cat, catRef, _ := r.Catalog()
			cat = cat.Clone()
			cat["OCProperties"] = u.Add(pdf.Dict{"OCGs": pdf.Array{ocg}, "D": d})
			u.Set(catRef, cat)
			ref, pg := page0(t, r)
			pg = pg.Clone()
			res := pg["Resources"].(pdf.Dict).Clone()
			res["Properties"] = pdf.Dict{"oc1": ocg}
			pg["Resources"] = res
			pg["Contents"] = pdf.Array{contentsRef(t, r), u.Add(stream("/OC /oc1 BDC " + paintOver + " EMC"))}
			u.Set(ref, pg)
		}), signer.Options{})
	}
	ocOff, ocOn := ocSigned(true), ocSigned(false)
	flipOC := func(data []byte, off bool) []byte {
		return appendUpdate(t, data, func(r *pdf.Reader, u *pdf.Update) {
			cat, _, _ := r.Catalog()
			ref := cat["OCProperties"].(pdf.Ref)
			ocp, _ := r.Dict(ref)
			ocp = ocp.Clone()
			d := ocp["D"].(pdf.Dict).Clone()
			d["OFF"] = pdf.Array{}
			if off {
				d["OFF"] = ocp["OCGs"]
			}
			ocp["D"] = d
			u.Set(ref, ocp)
		})
	}
	// A text field prepared before signing, for the form-fill twin.
	formSigned := signLT(appendUpdate(t, in, func(r *pdf.Reader, u *pdf.Update) {
		addAnnot(t, r, u, pdf.Dict{"FT": pdf.Name("Tx"), "T": pdf.TextString("Amount"), "V": pdf.TextString(""),
			"Type": pdf.Name("Annot"), "Subtype": pdf.Name("Widget"), "Rect": overRect, "F": pdf.Integer(4)}, true)
	}), signer.Options{})
	fill := appendUpdate(t, formSigned, func(r *pdf.Reader, u *pdf.Update) {
		cat, _, _ := r.Catalog()
		acro, _ := r.Dict(cat["AcroForm"])
		fields, _ := r.Array(acro["Fields"])
		for _, fo := range fields {
			fd, _ := r.Dict(fo)
			if s, _ := fd["T"].(pdf.String); string(s.Bytes) == "Amount" {
				fd = fd.Clone()
				fd["V"] = pdf.TextString("1,000 บาท")
				fd["AP"] = pdf.Dict{"N": u.Add(stream("/Tx BMC q 0 0 1 rg 10 10 100 20 re f Q EMC", 0, 0, 300, 60))}
				u.Set(fo.(pdf.Ref), fd)
			}
		}
	})
	// Annotations and fields that paint over page 1.
	eaa := func(data []byte) []byte {
		return appendUpdate(t, data, func(r *pdf.Reader, u *pdf.Update) {
			addAnnot(t, r, u, pdf.Dict{"Type": pdf.Name("Annot"), "Subtype": pdf.Name("FreeText"), "Rect": overRect,
				"Contents": pdf.TextString("จ่ายแล้ว 1,000,000 บาท"), "DA": pdf.TextString("0 g /Helv 12 Tf"), "F": pdf.Integer(4),
				"AP": pdf.Dict{"N": u.Add(overlayAP())}}, false)
		})
	}
	ssa := func(data []byte) []byte {
		return appendUpdate(t, data, func(r *pdf.Reader, u *pdf.Update) {
			addAnnot(t, r, u, pdf.Dict{"FT": pdf.Name("Sig"), "T": pdf.TextString("Sneaky"), "Type": pdf.Name("Annot"),
				"Subtype": pdf.Name("Widget"), "Rect": overRect, "F": pdf.Integer(4), "AP": pdf.Dict{"N": u.Add(overlayAP())}}, true)
		})
	}

	// ISA: a complete cross-reference table without /Prev, listing every
	// object where it is but the page content, which it redefines.
	fullXref := func(data []byte, prev bool, redefine bool) []byte {
		return rawUpdate(t, data, func(r *pdf.Reader) []rawObj {
			content := contentsRef(t, r)
			var list []rawObj
			for n := uint32(1); n < r.NextObjectNumber(); n++ {
				e, ok, err := r.Lookup(n)
				switch {
				case err != nil:
					t.Fatal(err)
				case !ok || e.Type == 0:
					list = append(list, rawObj{ref: pdf.Ref{Num: n, Gen: e.Ref.Gen}, free: true})
				case e.Type == 2:
					t.Fatal("object streams are not expected here")
				case redefine && n == content.Num:
					list = append(list, rawObj{ref: content, obj: stream(paintOver)})
				default:
					list = append(list, rawObj{ref: e.Ref, at: e.Offset})
				}
			}
			return list
		}, func(r *pdf.Reader, trailer pdf.Dict) int64 {
			if !prev {
				delete(trailer, "Prev")
			}
			return -1
		})
	}

	// SWA: what the signed LT file's gap holds.
	contents, _ := signedRange(t, signed)
	der := cmsDER(t, contents)
	cmsHex := "<" + hex.EncodeToString(der) + ">"

	// USF and a ByteRange short of the revision's end: a signature whose
	// dictionary we write ourselves, by OpenSSL, verified online like the
	// other OpenSSL-made signatures.
	now := time.Now()
	soft := f.issueLeaf(t, "นายทดสอบ การโจมตี", now.Add(-time.Minute), now.Add(time.Hour), nil)
	usf := forge(t, in, "adbe.pkcs7.detached")
	fullRange := func(g forged) [4]int64 {
		end := g.contents.Offset + int64(g.contents.Width)
		return [4]int64{0, g.contents.Offset, end, int64(len(g.file)) - end}
	}
	usfLegit := usf.signedAs(t, soft, usf.file, fullRange(usf))
	garbage := usf.fill(t, []byte("this is not a CMS SignedData, only bytes"))
	short := func() []byte {
		// The signed range stops before the signature revision's
		// cross-reference table; the attacker rewrites everything after it
		// and redefines the page content there.
		xrefAt := int64(bytes.LastIndex(usf.file, []byte("\nxref\n")) + 1)
		r := reader(t, usf.file)
		entries, err := r.Entries(r.Sections()[0])
		if err != nil {
			t.Fatal(err)
		}
		var list []rawObj
		for _, e := range entries {
			list = append(list, rawObj{ref: e.Ref, at: e.Offset})
		}
		list = append(list, rawObj{ref: contentsRef(t, r), obj: stream(paintOver)})
		trailer := r.Sections()[0].Trailer.Clone()
		data := appendRaw(append([]byte(nil), usf.file[:xrefAt]...), list, trailer, -1)
		end := usf.contents.Offset + int64(usf.contents.Width)
		br := [4]int64{0, usf.contents.Offset, end, xrefAt - end}
		data = patch(t, data, usf.brOff, usf.brWidth, fmt.Sprintf("[%d %d %d %d]", br[0], br[1], br[2], br[3]))
		return usf.signedAs(t, soft, data, br)
	}()
	rsaSHA1 := forge(t, in, "adbe.x509.rsa_sha1")
	// A PKCS#1 value is an OCTET STRING; without a certificate nothing can
	// check it.
	rsaValue := []byte{0x04, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	noCert := rsaSHA1.fill(t, rsaValue)
	oddCert := patch(t, noCert, rsaSHA1.mOff, rsaSHA1.mWidth, "/Cert 42")

	type tcase struct {
		name   string
		attack []byte
		check  func(*testing.T, *verify.Report)
		twin   []byte
		online bool // OpenSSL-made signatures have no revocation data
		// drawn: the attack changes what page 1 looks like, which poppler,
		// a renderer we did not write, must confirm: a forgery nobody
		// could see would prove nothing about the verdict.
		drawn bool
	}
	cases := []tcase{
		// Incremental saving attacks.
		{name: "ISA update redefines page content", drawn: true, attack: redefine(signed, pageContents, stream(paintOver)),
			check: all(notPassed, changedAs(verify.ModPageContent), shows(verify.EffectContent, false)), twin: withDSS},
		{name: "ISA objects appended without xref or trailer", attack: append(append([]byte(nil), signed...),
			fmt.Sprintf("%d 0 obj\n<</Length %d>>stream\n%s\nendstream\nendobj\n", contentsRef(t, reader(t, signed)).Num, len(paintOver), paintOver)...),
			check: all(notPassed, changedAs(verify.ModTrailingBytes)), twin: append(append([]byte(nil), signed...), "\r\n \n\t\n"...)},
		{name: "ISA complete xref without /Prev", attack: fullXref(signed, false, true),
			check: all(notPassed, modified), twin: fullXref(signed, true, false)},
		{name: "ISA update with startxref pointing at the signed xref", attack: rawUpdate(t, signed,
			func(r *pdf.Reader) []rawObj { return []rawObj{{ref: contentsRef(t, r), obj: stream(paintOver)}} },
			func(r *pdf.Reader, _ pdf.Dict) int64 { return r.StartXref() }),
			check: all(notPassed, modified), twin: withDSS},

		// Signature wrapping.
		{name: "SWA objects in the ByteRange gap", attack: func() []byte {
			num := contentsRef(t, reader(t, signed)).Num
			data, at := wrapGap(t, signed, cmsHex, num, stream(paintOver))
			return rawUpdate(t, data, func(r *pdf.Reader) []rawObj { return []rawObj{{ref: pdf.Ref{Num: num}, at: at}} }, nil)
		}(), check: notPassed, twin: withDSS},
		{name: "SWA /Contents moved out of the gap", attack: func() []byte {
			num := contentsRef(t, reader(t, signed)).Num
			data, at := wrapGap(t, signed, "<00>", num, stream(paintOver))
			return rawUpdate(t, data, func(r *pdf.Reader) []rawObj {
				ref := firstSigRef(t, r)
				sd, _ := r.Dict(ref)
				sd = sd.Clone()
				sd["Contents"] = pdf.String{Bytes: der, Hex: true}
				return []rawObj{{ref: ref, obj: sd}, {ref: pdf.Ref{Num: num}, at: at}}
			}, nil)
		}(), check: notPassed, twin: withDSS},
		{name: "SWA ByteRange short of the revision's end", attack: short, check: notPassed, twin: usfLegit, online: true},

		// Universal signature forgery.
		{name: "USF /Contents missing", attack: dropKey(t, usf.setContents(t, "<>"), "Contents"), check: notPassed, twin: usfLegit, online: true},
		{name: "USF /Contents empty", attack: usf.setContents(t, "<>"), check: notPassed, twin: usfLegit, online: true},
		{name: "USF /Contents null", attack: usf.setContents(t, "null"), check: notPassed, twin: usfLegit, online: true},
		{name: "USF /Contents not a string", attack: usf.setContents(t, "[(3082) 0]"), check: notPassed, twin: usfLegit, online: true},
		{name: "USF /ByteRange missing", attack: dropKey(t, usfLegit, "ByteRange"), check: notPassed, twin: usfLegit, online: true},
		{name: "USF /ByteRange null", attack: func() []byte {
			return usf.signedAs(t, soft, patch(t, usf.file, usf.brOff, usf.brWidth, "null"), fullRange(usf))
		}(), check: notPassed, twin: usfLegit, online: true},
		{name: "USF /ByteRange of three numbers", attack: func() []byte {
			br := fullRange(usf)
			return usf.signedAs(t, soft, patch(t, usf.file, usf.brOff, usf.brWidth, fmt.Sprintf("[0 %d %d]", br[1], br[2])), br)
		}(), check: notPassed, twin: usfLegit, online: true},
		{name: "USF /ByteRange overlapping the gap", attack: func() []byte {
			br := fullRange(usf)
			return usf.signedAs(t, soft, patch(t, usf.file, usf.brOff, usf.brWidth, fmt.Sprintf("[0 %d %d %d]", br[2], br[2], br[3])), br)
		}(), check: notPassed, twin: usfLegit, online: true},
		{name: "USF adbe.x509.rsa_sha1 without /Cert", attack: noCert, check: notPassed, twin: usfLegit, online: true},
		{name: "USF adbe.x509.rsa_sha1 with /Cert not a string", attack: oddCert, check: notPassed, twin: usfLegit, online: true},
		{name: "USF signature dictionary with garbage CMS", attack: garbage, check: notPassed, twin: usfLegit, online: true},

		// Shadow attacks.
		{name: "shadow page content refers to a missing object defined later", drawn: true,
			attack: redefine(danglingSigned, func(*pdf.Reader) pdf.Ref { return missing }, stream(paintOver)),
			check:  all(notPassed, changedAs(verify.ModDefinedLater, verify.ModPageContent), shows(verify.EffectContent, false)),
			twin:   cosign(danglingSigned)},
		{name: "shadow page content refers to a free object defined later", drawn: true,
			attack: redefine(freeSigned, func(*pdf.Reader) pdf.Ref { return pdf.Ref{Num: freeNum} }, stream(paintOver)),
			check:  all(notPassed, changedAs(verify.ModDefinedLater, verify.ModPageContent), shows(verify.EffectContent, false)),
			twin: rawUpdate(t, spareSigned, func(r *pdf.Reader) []rawObj {
				// DSS certificate stored under the free number nothing refers to.
				cat, catRef, _ := r.Catalog()
				d, _ := r.Dict(cat["DSS"])
				d = d.Clone()
				certs, _ := r.Array(d["Certs"])
				d["Certs"] = append(append(pdf.Array{}, certs...), pdf.Ref{Num: spareNum})
				cert := rawObj{ref: pdf.Ref{Num: spareNum}, obj: &pdf.Stream{Dict: pdf.Dict{}, Data: f.env.PKI.Root.Raw}}
				if ref, ok := cat["DSS"].(pdf.Ref); ok {
					return []rawObj{cert, {ref: ref, obj: d}}
				}
				cat = cat.Clone()
				cat["DSS"] = d
				return []rawObj{cert, {ref: catRef, obj: cat}}
			}, nil)},
		{name: "shadow xref gives the content stream another generation", drawn: true, attack: rawUpdate(t, signed, func(r *pdf.Reader) []rawObj {
			// An identical copy as generation 1: "6 0 R" of the signed page
			// now resolves to null and the page goes blank.
			ref := contentsRef(t, r)
			o, _ := r.Object(ref)
			st := o.(*pdf.Stream)
			raw, err := r.RawStream(st)
			if err != nil {
				t.Fatal(err)
			}
			return []rawObj{{ref: pdf.Ref{Num: ref.Num, Gen: 1}, obj: &pdf.Stream{Dict: st.Dict.Clone(), Data: raw}}}
		}, nil), check: all(notPassed, modified, shows(verify.EffectContent, false)), twin: withDSS},
		{name: "shadow xref points at an older copy in the signed bytes", drawn: true, attack: rawUpdate(t, staleSigned, func(r *pdf.Reader) []rawObj {
			return []rawObj{{ref: contentsRef(t, r), at: oldCopyAt}}
		}, nil), check: all(notPassed, modified, shows(verify.EffectContent, false)), twin: dss(staleSigned)},
		// Per ISO 32000 the freed object is null and the page blank;
		// poppler still draws the old stream, so drawn is not claimed.
		{name: "shadow xref frees the content stream", attack: rawUpdate(t, signed, func(r *pdf.Reader) []rawObj {
			ref := contentsRef(t, r)
			return []rawObj{{ref: pdf.Ref{Num: ref.Num, Gen: 1}, free: true}}
		}, nil), check: all(notPassed, changedAs(verify.ModObjectDeleted, verify.ModPageContent)), twin: withDSS},
		{name: "shadow new text field widget draws over the page", drawn: true, attack: appendUpdate(t, signed, func(r *pdf.Reader, u *pdf.Update) {
			addAnnot(t, r, u, pdf.Dict{"FT": pdf.Name("Tx"), "T": pdf.TextString("Cover"), "V": pdf.TextString("PAID"),
				"Type": pdf.Name("Annot"), "Subtype": pdf.Name("Widget"), "Rect": overRect, "F": pdf.Integer(4),
				"AP": pdf.Dict{"N": u.Add(overlayAP())}}, true)
		}), check: all(notPassed, changedAs(verify.ModOverlay, verify.ModFieldAdded), shows("", true)), twin: fill},
		{name: "shadow optional content shown after signing", drawn: true, attack: flipOC(ocOff, false),
			check: all(notPassed, modified, shows(verify.EffectContent, false)), twin: xmp(ocOff)},
		{name: "shadow optional content hidden after signing", drawn: true, attack: flipOC(ocOn, true),
			check: all(notPassed, modified, shows(verify.EffectContent, false)), twin: xmp(ocOn)},
		{name: "shadow page font entry replaced", drawn: true, attack: appendUpdate(t, signed, func(r *pdf.Reader, u *pdf.Update) {
			ref, pg := page0(t, r)
			pg = pg.Clone()
			res := pg["Resources"].(pdf.Dict).Clone()
			fonts := res["Font"].(pdf.Dict).Clone()
			fonts["F4"], fonts["F5"] = fonts["F5"], fonts["F4"]
			res["Font"] = fonts
			pg["Resources"] = res
			u.Set(ref, pg)
		}), check: all(notPassed, changedAs(verify.ModPageContent), shows(verify.EffectContent, false)), twin: cosigned},
		{name: "shadow font program replaced", drawn: true, attack: appendUpdate(t, signed, func(r *pdf.Reader, u *pdf.Update) {
			// F4's embedded font file becomes F5's.
			_, pg := page0(t, r)
			font := func(name pdf.Name) (pdf.Ref, *pdf.Stream) {
				fd, _ := r.Dict(pg["Resources"].(pdf.Dict)["Font"].(pdf.Dict)[name])
				desc, _ := r.Array(fd["DescendantFonts"])
				cid, _ := r.Dict(desc[0])
				fdesc, _ := r.Dict(cid["FontDescriptor"])
				ref := fdesc["FontFile2"].(pdf.Ref)
				o, _ := r.Object(ref)
				return ref, o.(*pdf.Stream)
			}
			target, _ := font("F4")
			_, other := font("F5")
			raw, err := r.RawStream(other)
			if err != nil {
				t.Fatal(err)
			}
			u.Set(target, &pdf.Stream{Dict: other.Dict.Clone(), Data: raw})
		}), check: all(notPassed, changedAs(verify.ModPageContent), shows(verify.EffectContent, false)), twin: cosigned},

		// Certification attacks, and the same updates without certification.
		{name: "EAA FreeText under DocMDP P=2", drawn: true, attack: eaa(p2),
			check: all(notPassed, changedAs(verify.ModAnnotationAdded), shows(verify.EffectAnnotation, true)), twin: cosign(p2)},
		{name: "EAA FreeText under DocMDP P=3", drawn: true, attack: eaa(p3), check: annotationAllowed, twin: emptyField(p3)},
		{name: "EAA FreeText without certification", drawn: true, attack: eaa(signed),
			check: all(notPassed, modified, shows("", true)), twin: cosigned},
		{name: "SSA empty signature field painting under DocMDP P=2", drawn: true, attack: ssa(p2),
			check: all(notPassed, changedAs(verify.ModOverlay), shows(verify.EffectOverlay, true)), twin: cosign(p2)},
		{name: "SSA empty signature field painting under DocMDP P=3", drawn: true, attack: ssa(p3),
			check: all(notPassed, changedAs(verify.ModOverlay), shows(verify.EffectOverlay, true)), twin: emptyField(p3)},
		{name: "SSA empty signature field painting without certification", drawn: true, attack: ssa(signed),
			check: all(notPassed, changedAs(verify.ModOverlay), shows(verify.EffectOverlay, true)), twin: emptyField(signed)},
	}
	// Hooks a walk from the catalog could miss; every reference the
	// signed revision makes counts, wherever it lies (found in review).
	withPage := func(edit func(r *pdf.Reader, u *pdf.Update, pg pdf.Dict)) []byte {
		return appendUpdate(t, in, func(r *pdf.Reader, u *pdf.Update) {
			ref, pg := page0(t, r)
			pg = pg.Clone()
			edit(r, u, pg)
			u.Set(ref, pg)
		})
	}
	// drawXObject makes page 1 draw XObject name, which is object num.
	drawXObject := func(name pdf.Name, num pdf.Ref) func(r *pdf.Reader, u *pdf.Update, pg pdf.Dict) {
		return func(r *pdf.Reader, u *pdf.Update, pg pdf.Dict) {
			res := pg["Resources"].(pdf.Dict).Clone()
			xo, _ := r.Dict(res["XObject"])
			if xo = xo.Clone(); xo == nil {
				xo = pdf.Dict{}
			}
			xo[name] = num
			res["XObject"] = xo
			pg["Resources"] = res
			pg["Contents"] = pdf.Array{contentsRef(t, r), u.Add(stream("q /" + string(name) + " Do Q"))}
		}
	}
	define := func(data []byte, ref pdf.Ref, obj pdf.Object) []byte {
		return rawUpdate(t, data, func(*pdf.Reader) []rawObj { return []rawObj{{ref: ref, obj: obj}} }, nil)
	}
	fullPage := stream(paintOver, 0, 0, 612, 792)
	cropSigned := signLT(withPage(func(_ *pdf.Reader, _ *pdf.Update, pg pdf.Dict) { pg["CropBox"] = pdf.Ref{Num: 600} }), signer.Options{})
	namedPSigned := signLT(withPage(drawXObject("P", pdf.Ref{Num: 601})), signer.Options{})
	info := reader(t, in).Trailer()["Info"].(pdf.Ref)
	genSigned := signLT(withPage(drawXObject("Xi", pdf.Ref{Num: info.Num, Gen: info.Gen + 1})), signer.Options{})
	// An XObject whose number the xref points at the content stream's
	// bytes: a reader that matched objects by offset alone would take it
	// for held.
	var alias pdf.Ref
	aliasSigned := signLT(rawUpdate(t, in, func(r *pdf.Reader) []rawObj {
		alias = pdf.Ref{Num: r.NextObjectNumber()}
		c := contentsRef(t, r)
		e, _, _ := r.Lookup(c.Num)
		ref, pg := page0(t, r)
		pg = pg.Clone()
		res := pg["Resources"].(pdf.Dict).Clone()
		xo, _ := r.Dict(res["XObject"])
		if xo = xo.Clone(); xo == nil {
			xo = pdf.Dict{}
		}
		xo["X9"] = alias
		res["XObject"] = xo
		pg["Resources"] = res
		draw := pdf.Ref{Num: alias.Num + 1}
		pg["Contents"] = pdf.Array{c, draw}
		return []rawObj{{ref: ref, obj: pg}, {ref: draw, obj: stream("q /X9 Do Q")}, {ref: alias, at: e.Offset}}
	}, nil), signer.Options{})
	// A page action shaped like a structure element, under P=2.
	var action pdf.Ref
	aaSigned := signLT(withPage(func(_ *pdf.Reader, u *pdf.Update, pg pdf.Dict) {
		action = u.Add(pdf.Dict{"S": pdf.Name("JavaScript"), "JS": pdf.TextString("1;"), "P": pdf.Ref{Num: 1}})
		pg["AA"] = pdf.Dict{"O": action}
	}), signer.Options{Certify: 2})
	// An embedded file added after signing: a transcript's XML replaced
	// by another would change what the recipient checks.
	attached := appendUpdate(t, signed, func(r *pdf.Reader, u *pdf.Update) {
		cat, ref, _ := r.Catalog()
		file := u.Add(&pdf.Stream{Dict: pdf.Dict{"Type": pdf.Name("EmbeddedFile")}, Data: []byte("<transcript>forged</transcript>")})
		spec := u.Add(pdf.Dict{"Type": pdf.Name("Filespec"), "F": pdf.TextString("transcript.xml"), "UF": pdf.TextString("transcript.xml"),
			"EF": pdf.Dict{"F": file}})
		c := cat.Clone()
		c["Names"] = pdf.Dict{"EmbeddedFiles": pdf.Dict{"Names": pdf.Array{pdf.TextString("transcript.xml"), spec}}}
		u.Set(ref, c)
	})
	cases = append(cases,
		tcase{name: "attachment added after signing", attack: attached,
			check: all(notPassed, changedAs(verify.ModCatalogModified), showsOffPage(verify.EffectAttachment)), twin: withDSS},
		tcase{name: "shadow page /CropBox refers to a missing object defined later", attack: define(cropSigned, pdf.Ref{Num: 600}, nums(0, 0, 200, 200)),
			check: all(notPassed, changedAs(verify.ModDefinedLater), shows(verify.EffectContent, false)), twin: dss(cropSigned)},
		tcase{name: "shadow resource named /P defined later", drawn: true, attack: define(namedPSigned, pdf.Ref{Num: 601}, fullPage),
			check: all(notPassed, changedAs(verify.ModDefinedLater), shows(verify.EffectContent, false)), twin: dss(namedPSigned)},
		tcase{name: "shadow reference to another generation of the Info dictionary", drawn: true,
			attack: define(genSigned, pdf.Ref{Num: info.Num, Gen: info.Gen + 1}, fullPage),
			check:  all(notPassed, changedAs(verify.ModDefinedLater)), twin: dss(genSigned)},
		tcase{name: "shadow number the xref points at another object's bytes", drawn: true, attack: define(aliasSigned, alias, fullPage),
			check: all(notPassed, changedAs(verify.ModDefinedLater)), twin: dss(aliasSigned)},
		tcase{name: "page action shaped like tagging changed under DocMDP P=2",
			attack: define(aaSigned, action, pdf.Dict{"S": pdf.Name("JavaScript"), "JS": pdf.TextString("app.alert('paid');"), "P": pdf.Ref{Num: 1}}),
			check:  all(notPassed, modified), twin: dss(aaSigned)},
	)

	// Twins with no attack of their own shape above.
	extraTwins := []struct {
		name string
		data []byte
	}{
		{"document timestamp (B-LTA)", sign(t, f.env.Signer, in, official, signer.Options{Level: signer.LevelLTA})},
		{"XMP metadata changed on an uncertified document", xmp(signed)},
		{"visible second signature", cosigned},
	}

	for _, tc := range cases {
		cfg := f.offline()
		if tc.online {
			cfg = f.online()
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Run("attack", func(t *testing.T) {
				tc.check(t, run(t, tc.attack, cfg))
				if tc.drawn {
					seenDifferently(t, tc.attack)
				}
			})
			t.Run("twin", func(t *testing.T) { passes(t, run(t, tc.twin, cfg)) })
		})
	}
	for _, tw := range extraTwins {
		t.Run("twin "+tw.name, func(t *testing.T) { passes(t, run(t, tw.data, f.offline())) })
	}
}

type check func(*testing.T, *verify.Report)

func all(checks ...check) check {
	return func(t *testing.T, rep *verify.Report) {
		t.Helper()
		for _, c := range checks {
			c(t, rep)
		}
	}
}

func passes(t *testing.T, rep *verify.Report) {
	t.Helper()
	if rep.Document.Indication != verify.TotalPassed {
		t.Errorf("the legitimate update does not pass: document %s/%s\nreport:\n%s",
			rep.Document.Indication, rep.Document.SubIndication, dump(rep))
	}
}

func notPassed(t *testing.T, rep *verify.Report) {
	t.Helper()
	if rep.Document.Indication == verify.TotalPassed {
		t.Errorf("the attack passes\nreport:\n%s", dump(rep))
	}
	if rep.Document.SignatureCount == 0 {
		t.Errorf("no signature found\nreport:\n%s", dump(rep))
	}
}

// first is the attacked signature: the oldest.
func first(t *testing.T, rep *verify.Report) *verify.SignatureResult {
	t.Helper()
	if len(rep.Signatures) == 0 {
		t.Fatalf("no signature\nreport:\n%s", dump(rep))
	}
	return &rep.Signatures[0]
}

func modified(t *testing.T, rep *verify.Report) {
	t.Helper()
	if s := first(t, rep); !s.ModifiedAfter || len(s.Modifications) == 0 {
		t.Errorf("the signature is not reported as modified after signing\nreport:\n%s", dump(rep))
	}
}

// changedAs: the signature was modified after signing, by a change of one
// of kinds.
func changedAs(kinds ...string) check {
	return func(t *testing.T, rep *verify.Report) {
		t.Helper()
		s := first(t, rep)
		if !s.ModifiedAfter {
			t.Errorf("modified_after is false\nreport:\n%s", dump(rep))
			return
		}
		for _, m := range s.Modifications {
			for _, k := range kinds {
				if m.Kind == k {
					return
				}
			}
		}
		t.Errorf("no modification of kind %v\nreport:\n%s", kinds, dump(rep))
	}
}

// shows: a modification says the change shows on page 1 with effect
// (any effect when ""), and with an area when rect.
func shows(effect string, rect bool) check {
	return func(t *testing.T, rep *verify.Report) {
		t.Helper()
		for _, m := range first(t, rep).Modifications {
			if m.Page == 1 && m.Effect != "" && (effect == "" || m.Effect == effect) && (!rect || hasArea(m.Rect)) {
				return
			}
		}
		t.Errorf("no modification with effect %q on page 1 (rect required: %v)\nreport:\n%s", effect, rect, dump(rep))
	}
}

// showsOffPage checks for a change with effect that belongs to no page.
func showsOffPage(effect string) check {
	return func(t *testing.T, rep *verify.Report) {
		t.Helper()
		for _, m := range first(t, rep).Modifications {
			if m.Effect == effect && m.Page == 0 {
				return
			}
		}
		t.Errorf("no modification with effect %q off the pages\nreport:\n%s", effect, dump(rep))
	}
}

func hasArea(r []float64) bool {
	return len(r) == 4 && r[2] != r[0] && r[3] != r[1]
}

// annotationAllowed: under P=3 an annotation is a permitted change, but
// the report must say where it draws and warn about it.
func annotationAllowed(t *testing.T, rep *verify.Report) {
	t.Helper()
	s := first(t, rep)
	if s.Indication != verify.TotalPassed || s.ModifiedAfter {
		t.Errorf("signature %s, modified_after %v; want TOTAL-PASSED: DocMDP P=3 permits annotations\nreport:\n%s",
			s.Indication, s.ModifiedAfter, dump(rep))
	}
	found := false
	for _, m := range s.AllowedChanges {
		found = found || (m.Effect == verify.EffectAnnotation && m.Page == 1 && hasArea(m.Rect))
	}
	if !found {
		t.Errorf("no allowed change with effect %q, page 1 and a rectangle\nreport:\n%s", verify.EffectAnnotation, dump(rep))
	}
	if !hasWarning(s.Warnings, "page 1") {
		t.Errorf("no warning naming page 1\nreport:\n%s", dump(rep))
	}
}

// seenDifferently checks with poppler that page 1 of data does not look
// as it did in the revision its first signature covers.
func seenDifferently(t *testing.T, data []byte) {
	t.Helper()
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		t.Fatalf("pdftoppm (poppler-utils) is needed: %v", err)
	}
	_, br := signedRange(t, data)
	signed := popplerPage1(t, data[:br[2]+br[3]])
	now := popplerPage1(t, data)
	if bytes.Equal(signed, now) {
		t.Errorf("poppler draws page 1 as it was signed: the attack changes nothing a reader sees")
	}
}

// popplerPage1 is page 1 of data as pdftoppm draws it, in grey at low
// resolution.
func popplerPage1(t *testing.T, data []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "page")
	if msg, err := exec.Command("pdftoppm", "-q", "-r", "30", "-gray", "-f", "1", "-l", "1", "-singlefile", in, out).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, msg)
	}
	img, err := os.ReadFile(out + ".pgm")
	if err != nil {
		t.Fatal(err)
	}
	return img
}
