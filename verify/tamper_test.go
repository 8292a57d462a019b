package verify_test

import (
	"bytes"
	"testing"

	"esign/cades"
	"esign/pdf"
	"esign/signer"
	"esign/verify"
)

// appendUpdate adds an incremental update made by edit to data.
func appendUpdate(t testing.TB, data []byte, edit func(r *pdf.Reader, u *pdf.Update)) []byte {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	u := r.NewUpdate()
	if edit != nil {
		edit(r, u)
	}
	b, _, err := u.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]byte(nil), data...), b...)
}

// newRoot adds an update whose trailer names a new catalog object, a copy
// of the old one that edit may change.
func newRoot(t testing.TB, data []byte, edit func(r *pdf.Reader, u *pdf.Update, cat pdf.Dict)) []byte {
	t.Helper()
	var oldRef, newRef pdf.Ref
	out := appendUpdate(t, data, func(r *pdf.Reader, u *pdf.Update) {
		cat, ref, _ := r.Catalog()
		cat = cat.Clone()
		edit(r, u, cat)
		oldRef, newRef = ref, u.Add(cat)
	})
	// pdf.Update copies /Root from the base trailer; the trailer follows
	// the xref table, so rewriting it moves no offset.
	tail := out[len(data):]
	i := bytes.LastIndex(tail, []byte("/Root "+oldRef.String()))
	if i < 0 {
		t.Fatal("no /Root in the update's trailer")
	}
	patched := append(append(append([]byte(nil), tail[:i]...), "/Root "+newRef.String()...), tail[i+len("/Root "+oldRef.String()):]...)
	return append(append([]byte(nil), data...), patched...)
}

func page0(t testing.TB, r *pdf.Reader) (pdf.Ref, pdf.Dict) {
	t.Helper()
	ref, d, err := r.Page(0)
	if err != nil {
		t.Fatal(err)
	}
	return ref, d
}

// signedRange returns the /ByteRange of the only (or first) signature.
func signedRange(t testing.TB, data []byte) (contents []byte, br [4]int64) {
	t.Helper()
	sigs := signatureDicts(t, data)
	d := sigs[0]
	arr := d["ByteRange"].(pdf.Array)
	for i := range br {
		br[i] = int64(arr[i].(pdf.Integer))
	}
	return d["Contents"].(pdf.String).Bytes, br
}

func signatureDicts(t testing.TB, data []byte) []pdf.Dict {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, _, _ := r.Catalog()
	acro, _ := r.Dict(cat["AcroForm"])
	fields, _ := r.Array(acro["Fields"])
	var out []pdf.Dict
	for _, f := range fields {
		fd, _ := r.Dict(f)
		if v, _ := r.Dict(fd["V"]); v != nil {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		t.Fatal("no signature in file")
	}
	return out
}

func setByte(data []byte, off int64, c byte) []byte {
	out := append([]byte(nil), data...)
	out[off] = c
	return out
}

func flip(data []byte, off int64, mask byte) []byte {
	out := append([]byte(nil), data...)
	out[off] ^= mask
	return out
}

// TestTampering changes signed files in the ways the issue lists and
// checks each verdict.
func TestTampering(t *testing.T) {
	f := newFixture(t)
	in := corpus(t, "memo-chromium.pdf")
	cred := f.env.Creds["dev-official"]
	lt := sign(t, f.env.Signer, in, cred, signer.Options{Level: signer.LevelLT})
	lta := sign(t, f.env.Signer, in, cred, signer.Options{Level: signer.LevelLTA})
	if rep := run(t, lt, f.offline()); rep.Document.Indication != verify.TotalPassed {
		t.Fatalf("untampered B-LT file does not pass:\n%s", dump(rep))
	}
	_, br := signedRange(t, lt)

	// A byte inside a content stream of the original file.
	streamByte := int64(bytes.Index(in, []byte("stream\n")) + len("stream\n") + 20)

	// The signature value inside the /Contents hex string.
	contents, _ := signedRange(t, lt)
	p, err := cades.Parse(contents)
	if err != nil {
		t.Fatal(err)
	}
	sigAt := int64(bytes.Index(contents, p.Signer.Signature))
	sigHex := br[1] + 1 + 2*(sigAt+10)

	cases := []struct {
		name  string
		data  []byte
		sigs  []want
		doc   verify.Indication
		count int
	}{
		{
			name: "untouched B-LTA",
			data: lta,
			sigs: []want{
				{indication: verify.TotalPassed, level: verify.LevelLTA, covers: boolp(false)},
				{kind: verify.KindDocumentTimestamp, indication: verify.TotalPassed, level: "", covers: boolp(false)},
			},
			doc: verify.TotalPassed, count: 2,
		},
		{
			name: "byte flipped in signed range",
			data: flip(lt, streamByte, 0x01),
			sigs: []want{{indication: verify.TotalFailed, sub: verify.HashFailure, level: verify.LevelLT}},
			doc:  verify.TotalFailed, count: 1,
		},
		{
			name: "byte flipped in second range",
			data: flip(lt, br[2]+int64(bytes.Index(lt[br[2]:], []byte("(D:")))+6, 0x01), // a digit of /M
			sigs: []want{{indication: verify.TotalFailed, sub: verify.HashFailure, level: "-"}},
			doc:  verify.TotalFailed, count: 1,
		},
		{
			name: "signature value altered",
			data: setByte(lt, sigHex, map[bool]byte{true: '1', false: '0'}[lt[sigHex] == '0']),
			sigs: []want{{indication: verify.TotalFailed, sub: verify.SigCryptoFailure, level: verify.LevelLT}},
			doc:  verify.TotalFailed, count: 1,
		},
		{
			name: "signature dictionary unreadable",
			data: setByte(lt, sigHex, 'G'),
			sigs: []want{{indication: verify.TotalFailed, sub: verify.FormatFailure, level: ""}},
			doc:  verify.TotalFailed, count: 1,
		},
		{
			name: "page content overwritten after signing",
			data: appendUpdate(t, lt, func(r *pdf.Reader, u *pdf.Update) {
				_, pg := page0(t, r)
				u.Set(pg["Contents"].(pdf.Ref), &pdf.Stream{Dict: pdf.Dict{}, Data: []byte("BT /F1 24 Tf 72 72 Td (PAID) Tj ET")})
			}),
			sigs: []want{{indication: verify.TotalFailed, sub: verify.FormatFailure, level: verify.LevelLT, modified: true, modKind: "page-content", covers: boolp(false)}},
			doc:  verify.TotalFailed, count: 1,
		},
		{
			name: "page contents replaced after signing",
			data: appendUpdate(t, lt, func(r *pdf.Reader, u *pdf.Update) {
				ref, pg := page0(t, r)
				pg = pg.Clone()
				pg["Contents"] = u.Add(&pdf.Stream{Dict: pdf.Dict{}, Data: []byte("BT /F1 24 Tf 72 72 Td (PAID) Tj ET")})
				u.Set(ref, pg)
			}),
			sigs: []want{{indication: verify.TotalFailed, sub: verify.FormatFailure, level: verify.LevelLT, modified: true, modKind: "page-content"}},
			doc:  verify.TotalFailed, count: 1,
		},
		{
			name: "annotation added after signing",
			data: appendUpdate(t, lt, func(r *pdf.Reader, u *pdf.Update) {
				ref, pg := page0(t, r)
				pg = pg.Clone()
				annots, _ := r.Array(pg["Annots"])
				note := u.Add(pdf.Dict{"Type": pdf.Name("Annot"), "Subtype": pdf.Name("FreeText"),
					"Rect":     pdf.Array{pdf.Integer(10), pdf.Integer(10), pdf.Integer(200), pdf.Integer(40)},
					"Contents": pdf.TextString("APPROVED")})
				pg["Annots"] = append(append(pdf.Array{}, annots...), note)
				u.Set(ref, pg)
			}),
			sigs: []want{{indication: verify.TotalFailed, sub: verify.FormatFailure, level: verify.LevelLT, modified: true, modKind: "annotation-added"}},
			doc:  verify.TotalFailed, count: 1,
		},
		{
			name: "page added after signing",
			data: appendUpdate(t, lt, func(r *pdf.Reader, u *pdf.Update) {
				cat, _, _ := r.Catalog()
				pagesRef := cat["Pages"].(pdf.Ref)
				pages, _ := r.Dict(pagesRef)
				_, pg := page0(t, r)
				np := pg.Clone()
				np["Contents"] = u.Add(&pdf.Stream{Dict: pdf.Dict{}, Data: []byte("BT /F1 24 Tf 72 72 Td (extra) Tj ET")})
				pages = pages.Clone()
				kids, _ := r.Array(pages["Kids"])
				pages["Kids"] = append(append(pdf.Array{}, kids...), u.Add(np))
				pages["Count"] = pages["Count"].(pdf.Integer) + 1
				u.Set(pagesRef, pages)
			}),
			sigs: []want{{indication: verify.TotalFailed, sub: verify.FormatFailure, level: verify.LevelLT, modified: true, modKind: "page-added"}},
			doc:  verify.TotalFailed, count: 1,
		},
		{
			name: "signature dictionary edited after signing",
			data: appendUpdate(t, lt, func(r *pdf.Reader, u *pdf.Update) {
				cat, _, _ := r.Catalog()
				acro, _ := r.Dict(cat["AcroForm"])
				fields, _ := r.Array(acro["Fields"])
				fd, _ := r.Dict(fields[0])
				ref := fd["V"].(pdf.Ref)
				sd, _ := r.Dict(ref)
				sd = sd.Clone()
				sd["Reason"] = pdf.TextString("I agree to pay")
				u.Set(ref, sd)
			}),
			sigs: []want{{indication: verify.TotalFailed, sub: verify.FormatFailure, level: "-", modified: true, modKind: "signature-modified"}},
			doc:  verify.TotalFailed, count: 1,
		},
		{
			name: "DSS update only",
			data: appendUpdate(t, lt, func(r *pdf.Reader, u *pdf.Update) {
				cat, ref, _ := r.Catalog()
				dss, _ := r.Dict(cat["DSS"])
				dss = dss.Clone()
				dss["Certs"] = append(append(pdf.Array{}, dss["Certs"].(pdf.Array)...), u.Add(&pdf.Stream{Dict: pdf.Dict{}, Data: f.env.PKI.Root.Raw}))
				c := cat.Clone()
				c["DSS"] = u.Add(dss)
				u.Set(ref, c)
			}),
			sigs: []want{{indication: verify.TotalPassed, level: verify.LevelLT, covers: boolp(false)}},
			doc:  verify.TotalPassed, count: 1,
		},
		{
			name: "catalog copied to a new object",
			data: newRoot(t, lt, func(r *pdf.Reader, u *pdf.Update, cat pdf.Dict) {}),
			sigs: []want{{indication: verify.TotalPassed, level: verify.LevelLT}},
			doc:  verify.TotalPassed, count: 1,
		},
		{
			name: "new catalog with other pages",
			data: newRoot(t, lt, func(r *pdf.Reader, u *pdf.Update, cat pdf.Dict) {
				pages, _ := r.Dict(cat["Pages"])
				cat["Pages"] = u.Add(pages.Clone())
			}),
			sigs: []want{{indication: verify.TotalFailed, sub: verify.FormatFailure, level: verify.LevelLT, modified: true, modKind: "catalog-modified"}},
			doc:  verify.TotalFailed, count: 1,
		},
		{
			name: "garbage after %%EOF",
			data: append(append([]byte(nil), lt...), "garbage appended after the end\n"...),
			sigs: []want{{indication: verify.TotalFailed, sub: verify.FormatFailure, level: verify.LevelLT, modified: true, modKind: "trailing-bytes", covers: boolp(false)}},
			doc:  verify.TotalFailed, count: 1,
		},
		{
			name: "white space after %%EOF",
			data: append(append([]byte(nil), lt...), "\r\n\n  \n"...),
			sigs: []want{{indication: verify.TotalPassed, level: verify.LevelLT, covers: boolp(true)}},
			doc:  verify.TotalPassed, count: 1,
		},
	}
	t.Run("truncated inside the document timestamp", func(t *testing.T) {
		_, br := signedRange(t, lta)
		cut := lta[:br[2]+br[3]+200] // the signature's revision and a bit of the next
		rep := run(t, cut, f.offline())
		checkDoc(t, rep, verify.TotalFailed, 1)
		checkSig(t, rep, 0, want{indication: verify.TotalFailed, sub: verify.FormatFailure, level: verify.LevelLT, modified: true, modKind: "trailing-bytes"})
		if !hasWarning(rep.Document.Warnings, "cut short") || rep.Document.TrailingBytes != 200 {
			t.Errorf("document %+v", rep.Document)
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := run(t, tc.data, f.offline())
			checkDoc(t, rep, tc.doc, tc.count)
			for i, w := range tc.sigs {
				checkSig(t, rep, i, w)
			}
		})
	}
}
