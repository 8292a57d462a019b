package verify_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"esign/pdf"
	"esign/signer"
	"esign/verify"
)

// FuzzSignedUpdate appends one random incremental update to a signed
// file and checks the property a reader relies on: whenever the document
// verdict is TOTAL-PASSED, every page renders the same text as in the
// signed file. The fuzz input is a small program of edits (see
// updateProgram); the seeds cover each edit, harmless ones included, so
// TOTAL-PASSED occurs in the seed corpus.
//
// "Rendered text" is pageTexts below: the strings shown by the page's
// content, the Form XObjects it draws and the normal appearances of its
// annotations that are neither hidden nor of zero size.
//
// When the text of the updated file cannot be extracted, it is unknown.
// The signed file's text extracts (setup checks it), and extraction reads
// only what a viewer draws, so a failure means the update changed or
// added something drawn into something this test cannot read; a viewer
// may show anything for it, so the verdict must not be TOTAL-PASSED. The
// converse (signed text unknown) would let nothing be concluded, which is
// why setup insists on it.
func FuzzSignedUpdate(f *testing.F) {
	fx := newFixture(f)
	in := corpus(f, "memo-chromium.pdf")
	cred := fx.env.Creds["dev-official"]
	opts := signer.Options{Level: signer.LevelLT}
	cfg := fx.offline()

	// Base 1 has, before signing, page references to objects it does not
	// define: one listed nowhere below /Size, one past /Size. A later
	// update that defines them changes what was signed (a shadow attack).
	var dangling []uint32
	withDangling := appendUpdate(f, in, func(r *pdf.Reader, u *pdf.Update) {
		ref, pg := page0(f, r)
		pg = pg.Clone()
		hole := u.Reserve() // allocated, never written: missing from every xref section
		far := pdf.Ref{Num: 5000}
		pg["Contents"] = append(contentsArray(f, r, pg["Contents"]), hole)
		annots, _ := r.Array(pg["Annots"])
		pg["Annots"] = append(append(pdf.Array{}, annots...), far)
		u.Set(ref, pg)
		dangling = []uint32{hole.Num, far.Num}
	})
	bases := []*fuzzBase{
		newFuzzBase(f, "plain", sign(f, fx.env.Signer, in, cred, opts), nil, cfg),
		newFuzzBase(f, "dangling", sign(f, fx.env.Signer, withDangling, cred, opts), dangling, cfg),
	}
	cert := fx.env.PKI.Root.Raw

	for _, seed := range updateSeeds {
		f.Add(seed.prog)
	}
	// The page's own content stream, redefined: its number is the file's.
	if c, ok := pageContentRef(f, bases[0].data); ok {
		f.Add([]byte{0, opRedefine, byte((c.Num - 1) >> 8), byte(c.Num - 1), formText})
	}
	f.Fuzz(func(t *testing.T, prog []byte) {
		p := &updateProgram{in: prog}
		base, data := p.apply(t, bases, cert)
		rep, err := verify.Verify(context.Background(), bytes.NewReader(data), int64(len(data)), cfg)
		if err != nil {
			// Not read as a PDF: no verdict to hold to anything.
			return
		}
		t.Logf("%s: %s", strings.Join(p.log, "; "), rep.Document.Indication)
		if rep.Document.Indication != verify.TotalPassed {
			return
		}
		got, err := pageTexts(data)
		if err != nil {
			t.Fatalf("TOTAL-PASSED, but the updated file's text cannot be extracted: %v\nedits: %s\nreport:\n%s", err, p.log, dump(rep))
		}
		if d := diffTexts(base.text, got); d != "" {
			t.Fatalf("TOTAL-PASSED, but the rendered text changed: %s\nedits: %s\nreport:\n%s", d, p.log, dump(rep))
		}
		if popplerCheck {
			if want, got := base.poppler(t), popplerText(t, data); want != got {
				t.Fatalf("TOTAL-PASSED, but pdftotext reads other text: %q, signed file %q\nedits: %s", clip(got), clip(want), p.log)
			}
		}
	})
}

// popplerCheck is set outside fuzzing when pdftotext is installed: seed
// runs then also compare poppler's text of each TOTAL-PASSED file with
// the signed file's, a check on pageTexts too slow for the fuzz loop.
var popplerCheck = func() bool {
	fz := flag.Lookup("test.fuzz")
	_, err := exec.LookPath("pdftotext")
	return err == nil && (fz == nil || fz.Value.String() == "")
}()

// popplerText is pdftotext's reading of data.
func popplerText(t testing.TB, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.pdf")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-q", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

func (b *fuzzBase) poppler(t testing.TB) string {
	b.popplerOnce.Do(func() { b.popplerOut = popplerText(t, b.data) })
	return b.popplerOut
}

// updateSeeds are the seed programs, named for the log. The first byte
// picks the base (0 plain, 1 dangling); bit 1 of it asks for a new
// catalog object. Then each edit is an opcode (see updateProgram.step)
// and its argument bytes.
var updateSeeds = []struct {
	name string
	prog []byte
}{
	// Harmless: these pass.
	{"nothing", []byte{0}},
	{"DSS replaced by a copy with one more certificate", []byte{0, opDSS, 0}},
	{"orphan DSS-like dictionary", []byte{0, opDSS, 1}},
	{"invisible empty signature field, empty appearance", []byte{0, opAnnot, 0, annotSigWidget, 0, flagNone, apEmpty}},
	{"hidden empty signature field drawing text", []byte{0, opAnnot, 0, annotSigWidget, 1, 10, 10, 100, 40, flagHidden, apText, 0, 0}},
	{"no-view empty signature field drawing text", []byte{0, opAnnot, 0, annotSigWidget, 1, 10, 10, 100, 40, flagNoView, apText, 1, 1}},
	{"Info title changed", []byte{0, opInfo, 2}},
	{"object rewritten unchanged", []byte{0, opRedefine, 0, 7, formSame}},
	{"catalog copied to a new object", []byte{2}},
	{"unused free object number defined", []byte{0, opFree, 0, formText, 0, 0}},
	// Changes a reader sees: these must not pass.
	{"signature field widget drawing text (overlay)", []byte{0, opAnnot, 0, annotSigWidget, 1, 20, 20, 150, 40, flagNone, apText, 0, 0}},
	{"signature field widget, appearance state drawing text", []byte{0, opAnnot, 0, annotSigWidget, 1, 20, 20, 150, 40, flagPrint, apStates, 1, 1}},
	{"text field widget drawing text", []byte{0, opAnnot, 0, annotTextWidget, 1, 20, 20, 150, 40, flagPrint, apText, 2, 2}},
	{"FreeText annotation", []byte{0, opAnnot, 0, annotFreeText, 1, 20, 60, 150, 40, flagPrint, apText, 3, 3}},
	{"Stamp annotation, zero rect", []byte{0, opAnnot, 0, annotStamp, 0, flagNone, apText, 0, 4}},
	{"text stream appended to the page (TJ)", []byte{0, opContent, 0, contentAppend, 0, 1}},
	{"text stream prepended to the page (inline image, ')", []byte{0, opContent, 0, contentPrepend, 1, 5}},
	{"text drawn through a new Form XObject (\")", []byte{0, opContent, 0, contentXObject, 2, 3}},
	{"some object redefined as a Form XObject", []byte{0, opRedefine, 0, 9, formXObject, 0, 6}},
	{"some object redefined as an annotation", []byte{0, opRedefine, 0, 12, formAnnot, 0, 0}},
	{"some object redefined as an empty dictionary", []byte{0, opRedefine, 0, 5, formEmpty}},
	{"page contents replaced", []byte{0, opPage, pageContents, 0, 3, 0}},
	{"page rotated", []byte{0, opPage, pageRotate, 0}},
	{"page media box changed", []byte{0, opPage, pageMediaBox, 0}},
	{"page resources changed", []byte{0, opPage, pageResources, 0}},
	{"optional content added to the catalog", []byte{0, opCatalog, 0}},
	{"JavaScript name tree added", []byte{0, opCatalog, 1}},
	{"open action added", []byte{0, opCatalog, 2}},
	{"new catalog object with optional content", []byte{2, opCatalog, 0}},
	// Shadow attacks on references the signed revision left undefined.
	{"page content defined later", []byte{1, opFree, 0, formText, 0, 0}},
	{"page content defined later as a Form XObject", []byte{1, opFree, 0, formXObject, 1, 0}},
	{"page annotation defined later", []byte{1, opFree, 1, formAnnot, 2, 0}},
	// Several edits in one update.
	{"DSS, Info and an overlay", []byte{0, opDSS, 0, opInfo, 1, opAnnot, 0, annotSigWidget, 1, 30, 30, 120, 30, flagNone, apText, 4, 0}},
}

// Edits and their argument values, as the seeds spell them.
const (
	opRedefine = iota // object number (2 bytes), form
	opContent         // page, mode, text
	opAnnot           // page, kind, rect (0 or 1 and 4 bytes), flags, appearance, text
	opFree            // which undefined number, form
	opCatalog         // what
	opDSS             // how
	opInfo            // text
	opPage            // what, page, text
	numOps
)

const (
	formText = iota
	formAnnot
	formEmpty
	formSame
	formXObject
	numForms
)

const (
	contentAppend = iota
	contentPrepend
	contentXObject
)

const (
	annotFreeText = iota
	annotSigWidget
	annotTextWidget
	annotStamp
)

const (
	flagNone = iota
	flagHidden
	flagNoView
	flagPrint
)

const (
	apText = iota
	apEmpty
	apNone
	apStates
)

const (
	pageRotate = iota
	pageMediaBox
	pageContents
	pageResources
)

// maxEdits bounds one program, to keep each fuzz run short.
const maxEdits = 8

// fuzzBase is a signed file an update is applied to.
type fuzzBase struct {
	name        string
	data        []byte
	text        []string // rendered text per page
	pages       []pdf.Ref
	popplerOnce sync.Once
	popplerOut  string
	// undefined are object numbers the signed file refers to or has
	// room for (below /Size) without defining them.
	undefined []uint32
}

func newFuzzBase(f *testing.F, name string, data []byte, dangling []uint32, cfg verify.Config) *fuzzBase {
	f.Helper()
	if rep := run(f, data, cfg); rep.Document.Indication != verify.TotalPassed {
		f.Fatalf("signed %s base does not pass:\n%s", name, dump(rep))
	}
	text, err := pageTexts(data)
	if err != nil {
		f.Fatalf("text of the signed %s base: %v", name, err)
	}
	if strings.Join(text, "") == "" {
		f.Fatalf("the signed %s base shows no text", name)
	}
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		f.Fatal(err)
	}
	b := &fuzzBase{name: name, data: data, text: text, undefined: dangling}
	n, err := r.PageCount()
	if err != nil {
		f.Fatal(err)
	}
	for i := range n {
		ref, _, err := r.Page(i)
		if err != nil {
			f.Fatal(err)
		}
		b.pages = append(b.pages, ref)
	}
	for num := uint32(1); num < r.NextObjectNumber(); num++ {
		if e, ok, err := r.Lookup(num); err == nil && (!ok || e.Type == 0) {
			b.undefined = append(b.undefined, num)
		}
	}
	if len(b.undefined) == 0 {
		// Below /Size every number is defined; the next free one is as
		// good for defining an object nobody refers to.
		b.undefined = []uint32{r.NextObjectNumber()}
	}
	return b
}

// pageContentRef is the first content stream of page 1.
func pageContentRef(t testing.TB, data []byte) (pdf.Ref, bool) {
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, pg := page0(t, r)
	c := contentsArray(t, r, pg["Contents"])
	if len(c) == 0 {
		return pdf.Ref{}, false
	}
	ref, ok := c[0].(pdf.Ref)
	return ref, ok
}

// contentsArray returns a page's /Contents as a new array of references.
func contentsArray(t testing.TB, r *pdf.Reader, o pdf.Object) pdf.Array {
	t.Helper()
	if ref, ok := o.(pdf.Ref); ok {
		if a, _ := r.Array(ref); a != nil {
			return append(pdf.Array{}, a...)
		}
		return pdf.Array{ref}
	}
	a, _ := o.(pdf.Array)
	return append(pdf.Array{}, a...)
}

// updateProgram decodes fuzz bytes into edits; past the end every byte
// reads as 0.
type updateProgram struct {
	in  []byte
	pos int
	log []string
}

func (p *updateProgram) next() byte {
	if p.pos >= len(p.in) {
		p.pos++
		return 0
	}
	p.pos++
	return p.in[p.pos-1]
}

func (p *updateProgram) more() bool { return p.pos < len(p.in) }

func (p *updateProgram) logf(format string, args ...any) {
	p.log = append(p.log, fmt.Sprintf(format, args...))
}

// editor holds the state of one update while the edits build it.
type editor struct {
	t    testing.TB
	p    *updateProgram
	base *fuzzBase
	r    *pdf.Reader
	u    *pdf.Update
	cert []byte
	// cat is the working copy of the catalog; catRef its object, set at
	// the end unless the update writes a new catalog object.
	cat        pdf.Dict
	catRef     pdf.Ref
	catChanged bool
	n          int // names fields and XObjects uniquely
}

// apply builds the update the program describes on the base its first
// byte picks and returns the base and the whole updated file.
func (p *updateProgram) apply(t testing.TB, bases []*fuzzBase, cert []byte) (*fuzzBase, []byte) {
	flags := p.next()
	base := bases[int(flags&1)%len(bases)]
	p.logf("base %s", base.name)
	edit := func(r *pdf.Reader, u *pdf.Update, cat pdf.Dict, catRef pdf.Ref) bool {
		e := &editor{t: t, p: p, base: base, r: r, u: u, cert: cert, cat: cat, catRef: catRef}
		for i := 0; i < maxEdits && p.more(); i++ {
			e.step()
		}
		return e.catChanged
	}
	if flags&2 != 0 {
		p.logf("new catalog object")
		return base, newRoot(t, base.data, func(r *pdf.Reader, u *pdf.Update, cat pdf.Dict) {
			edit(r, u, cat, pdf.Ref{})
		})
	}
	return base, appendUpdate(t, base.data, func(r *pdf.Reader, u *pdf.Update) {
		cat, ref, err := r.Catalog()
		if err != nil {
			t.Fatal(err)
		}
		cat = cat.Clone()
		if edit(r, u, cat, ref) {
			u.Set(ref, cat)
		}
	})
}

var fuzzTexts = []string{"PAID", "APPROVED", "VOID (copy)", "paid\\in full", "\x00\x41\x00\x42"}

// literal writes s as a PDF literal string, escaping what must be.
func literal(s string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '(', ')', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case 0:
			b.WriteString(`\000`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(')')
	return b.String()
}

// textContent is a content stream showing a text by one of the text
// operators.
func (e *editor) textContent() []byte {
	s := fuzzTexts[int(e.p.next())%len(fuzzTexts)]
	half := len(s) / 2
	var ops string
	switch e.p.next() % 7 {
	case 0:
		ops = literal(s) + " Tj"
	case 1:
		ops = "[" + literal(s[:half]) + " -120 " + literal(s[half:]) + "] TJ"
	case 2:
		ops = "14 TL " + literal(s) + " '"
	case 3:
		ops = "1 2 " + literal(s) + ` "`
	case 4:
		ops = fmt.Sprintf("<%X> Tj", s)
	case 5:
		ops = "BI /W 2 /H 1 /BPC 8 /CS /G ID \x00E EI " + literal(s) + " Tj"
	default:
		ops = "(<" + literal(s) + ">) Tj" // balanced parentheses need no escape
	}
	e.p.logf("text %q via %s", s, ops[strings.LastIndexByte(ops, ' ')+1:])
	return []byte("q BT /F1 24 Tf 72 72 Td " + ops + " ET Q")
}

func (e *editor) textStream() *pdf.Stream {
	return &pdf.Stream{Dict: pdf.Dict{}, Data: e.textContent()}
}

func (e *editor) form(data []byte, w, h int64) *pdf.Stream {
	return &pdf.Stream{
		Dict: pdf.Dict{"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"),
			"BBox": pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Integer(w), pdf.Integer(h)}, "Resources": fontResources()},
		Data: data,
	}
}

// fontResources names a standard font /F1, which the text streams use,
// so that poppler shows their text too.
func fontResources() pdf.Dict {
	return pdf.Dict{"Font": pdf.Dict{"F1": pdf.Dict{"Type": pdf.Name("Font"), "Subtype": pdf.Name("Type1"), "BaseFont": pdf.Name("Helvetica")}}}
}

// current returns o as the update will have it: the update's own version
// of a referenced object, else the base's.
func (e *editor) current(o pdf.Object) pdf.Object {
	for range 8 {
		ref, ok := o.(pdf.Ref)
		if !ok {
			return o
		}
		o, _ = e.u.Get(ref)
	}
	return nil
}

func (e *editor) dict(o pdf.Object) pdf.Dict {
	switch v := e.current(o).(type) {
	case pdf.Dict:
		return v.Clone()
	case *pdf.Stream:
		return v.Dict.Clone()
	}
	return pdf.Dict{}
}

func (e *editor) array(o pdf.Object) pdf.Array {
	a, _ := e.current(o).(pdf.Array)
	return append(pdf.Array{}, a...)
}

func (e *editor) page() (pdf.Ref, pdf.Dict) {
	ref := e.base.pages[int(e.p.next())%len(e.base.pages)]
	return ref, e.dict(ref)
}

func (e *editor) step() {
	switch op := e.p.next() % numOps; op {
	case opRedefine:
		next := e.r.NextObjectNumber()
		num := (uint32(e.p.next())<<8|uint32(e.p.next()))%(next-1) + 1
		ref := pdf.Ref{Num: num}
		if ent, ok, _ := e.r.Lookup(num); ok && ent.Type == 1 {
			ref.Gen = ent.Ref.Gen
		}
		e.p.logf("redefine object %d", num)
		e.define(ref)
	case opFree:
		num := e.base.undefined[int(e.p.next())%len(e.base.undefined)]
		e.p.logf("define undefined object %d", num)
		e.define(pdf.Ref{Num: num})
	case opContent:
		ref, pg := e.page()
		mode := e.p.next() % 3
		var add pdf.Ref
		switch mode {
		case contentXObject:
			res := e.dict(pg["Resources"])
			xo := e.dict(res["XObject"])
			e.n++
			name := pdf.Name(fmt.Sprintf("FzX%d", e.n))
			xo[name] = e.u.Add(e.form(e.textContent(), 600, 800))
			res["XObject"] = xo
			pg["Resources"] = res
			add = e.u.Add(&pdf.Stream{Dict: pdf.Dict{}, Data: []byte("q /" + string(name) + " Do Q")})
			e.p.logf("draw Form XObject %s from a new content stream", name)
		default:
			add = e.u.Add(e.textStream())
		}
		arr := e.array(pg["Contents"])
		if _, isRef := pg["Contents"].(pdf.Ref); isRef {
			if _, isArr := e.current(pg["Contents"]).(pdf.Array); !isArr {
				arr = pdf.Array{pg["Contents"]}
			}
		}
		if mode == contentPrepend {
			arr = append(pdf.Array{add}, arr...)
		} else {
			arr = append(arr, add)
		}
		pg["Contents"] = arr
		e.u.Set(ref, pg)
		e.p.logf("content stream %v added to page %v (mode %d)", add, ref, mode)
	case opAnnot:
		e.annot()
	case opCatalog:
		switch e.p.next() % 3 {
		case 0:
			ocg := e.u.Add(pdf.Dict{"Type": pdf.Name("OCG"), "Name": pdf.TextString("layer")})
			e.cat["OCProperties"] = pdf.Dict{"OCGs": pdf.Array{ocg},
				"D": pdf.Dict{"Order": pdf.Array{ocg}, "OFF": pdf.Array{ocg}}}
			e.p.logf("catalog /OCProperties")
		case 1:
			js := e.u.Add(pdf.Dict{"S": pdf.Name("JavaScript"), "JS": pdf.TextString("app.alert('x')")})
			e.cat["Names"] = pdf.Dict{"JavaScript": pdf.Dict{"Names": pdf.Array{pdf.TextString("x"), js}}}
			e.p.logf("catalog /Names")
		default:
			e.cat["OpenAction"] = pdf.Array{e.base.pages[0], pdf.Name("Fit")}
			e.p.logf("catalog /OpenAction")
		}
		e.catChanged = true
	case opDSS:
		cs := e.u.Add(&pdf.Stream{Dict: pdf.Dict{}, Data: e.cert})
		if e.p.next()%2 == 0 {
			dss := e.dict(e.cat["DSS"])
			dss["Certs"] = append(e.array(dss["Certs"]), cs)
			e.cat["DSS"] = e.u.Add(dss)
			e.catChanged = true
			e.p.logf("DSS replaced")
		} else {
			e.u.Add(pdf.Dict{"Type": pdf.Name("DSS"), "Certs": pdf.Array{cs}})
			e.p.logf("orphan DSS-like dictionary")
		}
	case opInfo:
		info, ok := e.r.Trailer()["Info"].(pdf.Ref)
		s := fuzzTexts[int(e.p.next())%len(fuzzTexts)]
		if ok {
			d := e.dict(info)
			d["Title"] = pdf.TextString(s)
			e.u.Set(info, d)
			e.p.logf("Info title %q", s)
		}
	case opPage:
		what := e.p.next() % 4
		ref, pg := e.page()
		switch what {
		case pageRotate:
			pg["Rotate"] = pdf.Integer(90)
		case pageMediaBox:
			pg["MediaBox"] = pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Integer(100), pdf.Integer(100)}
		case pageContents:
			pg["Contents"] = e.u.Add(e.textStream())
		case pageResources:
			res := e.dict(pg["Resources"])
			res["ExtGState"] = pdf.Dict{"FzGS": pdf.Dict{"CA": pdf.Real(0.5)}}
			pg["Resources"] = res
		}
		e.u.Set(ref, pg)
		e.p.logf("page %v edit %d", ref, what)
	}
}

// define writes one of the forms as object ref.
func (e *editor) define(ref pdf.Ref) {
	switch form := e.p.next() % numForms; form {
	case formText:
		e.u.Set(ref, e.textStream())
	case formAnnot:
		e.u.Set(ref, pdf.Dict{"Type": pdf.Name("Annot"), "Subtype": pdf.Name("FreeText"),
			"Rect": pdf.Array{pdf.Integer(10), pdf.Integer(10), pdf.Integer(300), pdf.Integer(60)},
			"AP":   pdf.Dict{"N": e.u.Add(e.form(e.textContent(), 290, 50))}})
	case formEmpty:
		e.u.Set(ref, pdf.Dict{})
	case formSame:
		o, err := e.r.Object(ref)
		if err != nil {
			return
		}
		if st, ok := o.(*pdf.Stream); ok {
			raw, err := e.r.RawStream(st)
			if err != nil {
				return
			}
			o = &pdf.Stream{Dict: st.Dict, Data: append([]byte(nil), raw...)}
		}
		if o != nil {
			e.u.Set(ref, o)
		}
	case formXObject:
		e.u.Set(ref, e.form(e.textContent(), 600, 800))
	}
}

// annot adds an annotation to a page: free text, a stamp, or the widget
// of a new signature or text field.
func (e *editor) annot() {
	ref, pg := e.page()
	kind := e.p.next() % 4
	rect := pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Integer(0), pdf.Integer(0)}
	w, h := int64(0), int64(0)
	if e.p.next()%2 == 1 {
		x, y := int64(e.p.next()), int64(e.p.next())
		w, h = int64(e.p.next()), int64(e.p.next())
		rect = pdf.Array{pdf.Integer(x), pdf.Integer(y), pdf.Integer(x + w), pdf.Integer(y + h)}
	}
	a := pdf.Dict{"Type": pdf.Name("Annot"), "Rect": rect, "P": ref}
	switch e.p.next() % 4 {
	case flagHidden:
		a["F"] = pdf.Integer(2)
	case flagNoView:
		a["F"] = pdf.Integer(32)
	case flagPrint:
		a["F"] = pdf.Integer(4)
	}
	switch e.p.next() % 4 {
	case apText:
		a["AP"] = pdf.Dict{"N": e.u.Add(e.form(e.textContent(), max(w, 1), max(h, 1)))}
	case apEmpty:
		a["AP"] = pdf.Dict{"N": e.u.Add(e.form(nil, max(w, 1), max(h, 1)))}
	case apStates:
		on := e.u.Add(e.form(e.textContent(), max(w, 1), max(h, 1)))
		off := e.u.Add(e.form(nil, max(w, 1), max(h, 1)))
		a["AP"] = pdf.Dict{"N": pdf.Dict{"On": on, "Off": off}}
		a["AS"] = pdf.Name("On")
	}
	e.n++
	switch kind {
	case annotFreeText:
		a["Subtype"] = pdf.Name("FreeText")
		a["Contents"] = pdf.TextString("note")
		a["DA"] = pdf.String{Bytes: []byte("/Helv 12 Tf 0 g")}
	case annotStamp:
		a["Subtype"] = pdf.Name("Stamp")
	case annotSigWidget:
		a["Subtype"] = pdf.Name("Widget")
		a["FT"] = pdf.Name("Sig")
		a["T"] = pdf.TextString(fmt.Sprintf("FuzzSig%d", e.n))
	case annotTextWidget:
		a["Subtype"] = pdf.Name("Widget")
		a["FT"] = pdf.Name("Tx")
		a["T"] = pdf.TextString(fmt.Sprintf("FuzzText%d", e.n))
		a["V"] = pdf.TextString("PAID")
	}
	ar := e.u.Add(a)
	if kind == annotSigWidget || kind == annotTextWidget {
		e.addField(ar)
	}
	pg["Annots"] = append(e.array(pg["Annots"]), ar)
	e.u.Set(ref, pg)
	e.p.logf("annotation %v kind %d rect %v flags %v ap %v on page %v", ar, kind, rect, a["F"], a["AP"] != nil, ref)
}

// addField lists a new field in the form, wherever the form keeps its
// field array.
func (e *editor) addField(field pdf.Ref) {
	acroRef, acroIndirect := e.cat["AcroForm"].(pdf.Ref)
	acro := e.dict(e.cat["AcroForm"])
	if fr, ok := acro["Fields"].(pdf.Ref); ok {
		e.u.Set(fr, append(e.array(fr), field))
	} else {
		acro["Fields"] = append(e.array(acro["Fields"]), field)
	}
	if acroIndirect {
		e.u.Set(acroRef, acro)
	} else {
		e.cat["AcroForm"] = acro
		e.catChanged = true
	}
}

func diffTexts(want, got []string) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d pages, signed file has %d", len(got), len(want))
	}
	for i := range want {
		if want[i] != got[i] {
			return fmt.Sprintf("page %d shows %q, signed file %q", i+1, clip(got[i]), clip(want[i]))
		}
	}
	return ""
}

// clip keeps the end of a page's text, where updates add theirs.
func clip(s string) string {
	if len(s) > 120 {
		return "…" + s[len(s)-120:]
	}
	return s
}

// Bounds of text extraction, so a hostile update cannot stall a run.
const (
	maxTextDepth = 8        // Form XObjects within Form XObjects
	maxTextPages = 1000     // pages walked
	maxTextBytes = 16 << 20 // content bytes tokenized per file
)

// errTextUnknown wraps every extraction failure.
var errTextUnknown = errors.New("text unknown")

// textExtractor collects the shown strings of a document's pages.
type textExtractor struct {
	r       *pdf.Reader
	scanned int
}

// pageTexts returns the rendered text of each page of data, in page tree
// order: the strings shown by Tj, TJ, ' and " in the page's content and
// in the Form XObjects it draws with Do, then the same from the normal
// appearance of each annotation that is not hidden (flags bits 2 Hidden,
// 6 NoView) and has an area.
func pageTexts(data []byte) ([]string, error) {
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errTextUnknown, err)
	}
	cat, _, err := r.Catalog()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errTextUnknown, err)
	}
	x := &textExtractor{r: r}
	var out []string
	if err := x.node(cat["Pages"], nil, 0, map[pdf.Ref]bool{}, &out); err != nil {
		return nil, fmt.Errorf("%w: %v", errTextUnknown, err)
	}
	return out, nil
}

// node walks the page tree below o; res is the inherited /Resources.
func (x *textExtractor) node(o pdf.Object, res pdf.Object, depth int, seen map[pdf.Ref]bool, out *[]string) error {
	if depth > 32 || len(*out) > maxTextPages {
		return errors.New("page tree too deep or too large")
	}
	if ref, ok := o.(pdf.Ref); ok {
		if seen[ref] {
			return fmt.Errorf("page tree loop at %v", ref)
		}
		seen[ref] = true
	}
	d, err := x.r.Dict(o)
	if err != nil {
		return err
	}
	if d == nil {
		return fmt.Errorf("page tree node %v is not a dictionary", o)
	}
	if r, ok := d["Resources"]; ok {
		res = r
	}
	if d["Type"] == pdf.Name("Pages") || (d["Type"] != pdf.Name("Page") && d["Kids"] != nil) {
		kids, err := x.r.Array(d["Kids"])
		if err != nil {
			return err
		}
		for _, k := range kids {
			if err := x.node(k, res, depth+1, seen, out); err != nil {
				return err
			}
		}
		return nil
	}
	var b bytes.Buffer
	if err := x.contents(&b, d["Contents"], res); err != nil {
		return fmt.Errorf("page %d: %w", len(*out)+1, err)
	}
	if err := x.annots(&b, d["Annots"]); err != nil {
		return fmt.Errorf("page %d: %w", len(*out)+1, err)
	}
	*out = append(*out, b.String())
	return nil
}

// contents shows a page's /Contents: a stream or an array of streams,
// concatenated. Null entries (missing objects) show nothing.
func (x *textExtractor) contents(b *bytes.Buffer, o pdf.Object, res pdf.Object) error {
	o, err := x.r.Resolve(o)
	if err != nil {
		return err
	}
	var streams []pdf.Object
	switch v := o.(type) {
	case nil:
	case *pdf.Stream:
		streams = []pdf.Object{v}
	case pdf.Array:
		streams = v
	default:
		return fmt.Errorf("/Contents is a %T", o)
	}
	var all []byte
	for _, s := range streams {
		so, err := x.r.Resolve(s)
		if err != nil {
			return err
		}
		if so == nil {
			continue
		}
		st, ok := so.(*pdf.Stream)
		if !ok {
			return fmt.Errorf("/Contents entry is a %T", so)
		}
		data, err := x.r.StreamData(st)
		if err != nil {
			return err
		}
		// Streams split only at token boundaries (ISO 32000-1 §7.8.2).
		all = append(append(all, data...), '\n')
	}
	return x.show(b, all, res, 0)
}

func (x *textExtractor) annots(b *bytes.Buffer, o pdf.Object) error {
	arr, err := x.r.Array(o)
	if err != nil {
		return err
	}
	for _, a := range arr {
		ad, err := x.r.Dict(a)
		if err != nil {
			return err
		}
		if ad == nil {
			continue
		}
		fo, err := x.r.Resolve(ad["F"])
		if err != nil {
			return err
		}
		if f, _ := fo.(pdf.Integer); f&(2|32) != 0 || !x.hasArea(ad["Rect"]) {
			continue
		}
		ap, err := x.r.Dict(ad["AP"])
		if err != nil {
			return err
		}
		n, err := x.r.Resolve(ap["N"])
		if err != nil {
			return err
		}
		if states, ok := n.(pdf.Dict); ok {
			as, _ := ad["AS"].(pdf.Name)
			if as == "" {
				continue // no state chosen: nothing is drawn
			}
			if n, err = x.r.Resolve(states[as]); err != nil {
				return err
			}
		}
		st, ok := n.(*pdf.Stream)
		if !ok {
			continue
		}
		if err := x.form(b, st, nil, 0); err != nil {
			return err
		}
	}
	return nil
}

// hasArea reports whether a /Rect is four numbers enclosing some area.
func (x *textExtractor) hasArea(o pdf.Object) bool {
	r, err := x.r.Array(o)
	if err != nil || len(r) != 4 {
		return false
	}
	var v [4]float64
	for i, n := range r {
		n, _ := x.r.Resolve(n)
		switch n := n.(type) {
		case pdf.Integer:
			v[i] = float64(n)
		case pdf.Real:
			v[i] = float64(n)
		default:
			return false
		}
	}
	return v[0] != v[2] && v[1] != v[3]
}

// form shows a Form XObject; without /Resources of its own it uses res.
func (x *textExtractor) form(b *bytes.Buffer, st *pdf.Stream, res pdf.Object, depth int) error {
	if depth > maxTextDepth {
		return errors.New("Form XObjects nested too deep")
	}
	data, err := x.r.StreamData(st)
	if err != nil {
		return err
	}
	if r, ok := st.Dict["Resources"]; ok {
		res = r
	}
	return x.show(b, data, res, depth)
}

// show tokenizes content and appends the strings it shows to b.
func (x *textExtractor) show(b *bytes.Buffer, content []byte, res pdf.Object, depth int) error {
	if x.scanned += len(content); x.scanned > maxTextBytes {
		return errors.New("too much content")
	}
	lx := &contentLexer{buf: content}
	var operands []contentToken
	for {
		tok, err := lx.next()
		if err != nil {
			return err
		}
		if tok.kind == tokEOF {
			return nil
		}
		if tok.kind != tokOperator {
			operands = append(operands, tok)
			continue
		}
		last := func(back int) contentToken {
			if len(operands) < back {
				return contentToken{}
			}
			return operands[len(operands)-back]
		}
		switch tok.text {
		case "Tj", "'":
			b.Write(last(1).str)
		case `"`:
			b.Write(last(1).str)
		case "TJ":
			for _, e := range last(1).arr {
				b.Write(e.str)
			}
		case "Do":
			if err := x.do(b, last(1), res, depth); err != nil {
				return err
			}
		case "BI":
			if err := lx.skipInlineImage(); err != nil {
				return err
			}
		}
		operands = operands[:0]
	}
}

// do draws the XObject named by name if it is a Form XObject.
func (x *textExtractor) do(b *bytes.Buffer, name contentToken, res pdf.Object, depth int) error {
	if name.kind != tokName {
		return nil
	}
	rd, err := x.r.Dict(res)
	if err != nil {
		return err
	}
	xo, err := x.r.Dict(rd["XObject"])
	if err != nil {
		return err
	}
	o, err := x.r.Resolve(xo[pdf.Name(name.text)])
	if err != nil {
		return err
	}
	st, ok := o.(*pdf.Stream)
	if !ok || st.Dict["Subtype"] != pdf.Name("Form") {
		return nil // images draw no text; a missing XObject draws nothing
	}
	return x.form(b, st, res, depth+1)
}

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokOperator
	tokOperand // numbers, booleans, dictionaries' delimiters
	tokName
	tokString
	tokArray
)

type contentToken struct {
	kind tokenKind
	text string         // operator or name
	str  []byte         // string value
	arr  []contentToken // array elements
}

// contentLexer reads content stream tokens: enough for strings, names,
// arrays and operators.
type contentLexer struct {
	buf []byte
	pos int
}

func isContentWhite(c byte) bool {
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '
}

func isContentDelim(c byte) bool {
	return strings.IndexByte("()<>[]{}/%", c) >= 0
}

func (lx *contentLexer) skipSpace() {
	for lx.pos < len(lx.buf) {
		c := lx.buf[lx.pos]
		if c == '%' {
			for lx.pos < len(lx.buf) && lx.buf[lx.pos] != '\n' && lx.buf[lx.pos] != '\r' {
				lx.pos++
			}
			continue
		}
		if !isContentWhite(c) {
			return
		}
		lx.pos++
	}
}

func (lx *contentLexer) regular() string {
	start := lx.pos
	for lx.pos < len(lx.buf) && !isContentWhite(lx.buf[lx.pos]) && !isContentDelim(lx.buf[lx.pos]) {
		lx.pos++
	}
	return string(lx.buf[start:lx.pos])
}

func (lx *contentLexer) next() (contentToken, error) {
	return lx.token(0)
}

func (lx *contentLexer) token(depth int) (contentToken, error) {
	lx.skipSpace()
	if lx.pos >= len(lx.buf) {
		return contentToken{kind: tokEOF}, nil
	}
	switch c := lx.buf[lx.pos]; c {
	case '(':
		s, err := lx.literal()
		return contentToken{kind: tokString, str: s}, err
	case '<':
		if lx.pos+1 < len(lx.buf) && lx.buf[lx.pos+1] == '<' {
			lx.pos += 2
			return contentToken{kind: tokOperand, text: "<<"}, nil
		}
		s, err := lx.hex()
		return contentToken{kind: tokString, str: s}, err
	case '>':
		if lx.pos+1 < len(lx.buf) && lx.buf[lx.pos+1] == '>' {
			lx.pos += 2
			return contentToken{kind: tokOperand, text: ">>"}, nil
		}
		return contentToken{}, fmt.Errorf("stray '>' at %d", lx.pos)
	case '[':
		if depth > 32 {
			return contentToken{}, errors.New("arrays nested too deep")
		}
		lx.pos++
		arr := contentToken{kind: tokArray}
		for {
			lx.skipSpace()
			if lx.pos >= len(lx.buf) {
				return contentToken{}, errors.New("unterminated array")
			}
			if lx.buf[lx.pos] == ']' {
				lx.pos++
				return arr, nil
			}
			e, err := lx.token(depth + 1)
			if err != nil {
				return contentToken{}, err
			}
			if e.kind == tokOperator {
				return contentToken{}, fmt.Errorf("operator %q inside an array", e.text)
			}
			arr.arr = append(arr.arr, e)
		}
	case ']', ')':
		return contentToken{}, fmt.Errorf("stray %q at %d", c, lx.pos)
	case '{', '}':
		lx.pos++
		return contentToken{kind: tokOperand, text: string(c)}, nil
	case '/':
		lx.pos++
		return contentToken{kind: tokName, text: lx.regular()}, nil
	}
	w := lx.regular()
	if w == "" {
		return contentToken{}, fmt.Errorf("unexpected byte %q at %d", lx.buf[lx.pos], lx.pos)
	}
	if c := w[0]; c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9') || w == "true" || w == "false" || w == "null" {
		return contentToken{kind: tokOperand, text: w}, nil
	}
	return contentToken{kind: tokOperator, text: w}, nil
}

// literal reads a literal string: balanced parentheses, escapes.
func (lx *contentLexer) literal() ([]byte, error) {
	lx.pos++ // (
	var out []byte
	nest := 0
	for lx.pos < len(lx.buf) {
		c := lx.buf[lx.pos]
		lx.pos++
		switch c {
		case '(':
			nest++
			out = append(out, c)
		case ')':
			if nest == 0 {
				return out, nil
			}
			nest--
			out = append(out, c)
		case '\\':
			if lx.pos >= len(lx.buf) {
				return nil, errors.New("unterminated string")
			}
			e := lx.buf[lx.pos]
			lx.pos++
			switch e {
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case '\r':
				// A line continuation: backslash and end-of-line vanish.
				if lx.pos < len(lx.buf) && lx.buf[lx.pos] == '\n' {
					lx.pos++
				}
			case '\n':
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2 && lx.pos < len(lx.buf) && lx.buf[lx.pos] >= '0' && lx.buf[lx.pos] <= '7'; k++ {
						v = v*8 + int(lx.buf[lx.pos]-'0')
						lx.pos++
					}
					out = append(out, byte(v))
				} else {
					out = append(out, e) // \( \) \\ and unknown escapes: the character
				}
			}
		case '\r':
			// An end-of-line in a string reads as \n.
			if lx.pos < len(lx.buf) && lx.buf[lx.pos] == '\n' {
				lx.pos++
			}
			out = append(out, '\n')
		default:
			out = append(out, c)
		}
	}
	return nil, errors.New("unterminated string")
}

func (lx *contentLexer) hex() ([]byte, error) {
	lx.pos++ // <
	var out []byte
	var hi byte
	half := false
	for lx.pos < len(lx.buf) {
		c := lx.buf[lx.pos]
		lx.pos++
		var v byte
		switch {
		case c == '>':
			if half {
				out = append(out, hi<<4) // an odd digit count ends in 0
			}
			return out, nil
		case isContentWhite(c):
			continue
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return nil, fmt.Errorf("bad hex digit %q", c)
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	return nil, errors.New("unterminated hex string")
}

// skipInlineImage skips an inline image's parameters and data, after BI,
// up to and including EI.
func (lx *contentLexer) skipInlineImage() error {
	for {
		tok, err := lx.next()
		if err != nil {
			return err
		}
		if tok.kind == tokEOF {
			return errors.New("inline image without ID")
		}
		if tok.kind == tokOperator && tok.text == "ID" {
			break
		}
	}
	lx.pos++ // the single white-space byte after ID
	// The data ends at EI between white space and white space or a
	// delimiter; the image's length is not known without decoding it.
	for i := lx.pos; i+2 <= len(lx.buf); i++ {
		if lx.buf[i] == 'E' && lx.buf[i+1] == 'I' && i > 0 && isContentWhite(lx.buf[i-1]) &&
			(i+2 == len(lx.buf) || isContentWhite(lx.buf[i+2]) || isContentDelim(lx.buf[i+2])) {
			lx.pos = i + 2
			return nil
		}
	}
	return errors.New("inline image without EI")
}
