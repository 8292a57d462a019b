package verify_test

import (
	"bytes"
	"compress/zlib"
	"testing"

	"esign/pdf"
	"esign/signer"
	"esign/verify"
)

// TestAttachmentNotCovered: whatever the change analysis makes of the
// update that replaced it, an embedded file listed under a name a signed
// revision held another file under is reported as a change to the
// embedded files. Here an indirect /Names dictionary (judged as "the
// rest of the catalog") is rewritten to name a new tree.
func TestAttachmentNotCovered(t *testing.T) {
	f := newFixture(t)
	cred := f.env.Creds["dev-official"]
	in := appendUpdate(t, corpus(t, "memo-chromium.pdf"), func(r *pdf.Reader, u *pdf.Update) {
		cat, ref, _ := r.Catalog()
		file := u.Add(&pdf.Stream{Dict: pdf.Dict{"Type": pdf.Name("EmbeddedFile")}, Data: []byte("<honest/>")})
		spec := u.Add(pdf.Dict{"Type": pdf.Name("Filespec"), "UF": pdf.TextString("t.xml"), "EF": pdf.Dict{"F": file}})
		tree := u.Add(pdf.Dict{"Names": pdf.Array{pdf.TextString("t.xml"), spec}})
		c := cat.Clone()
		c["Names"] = u.Add(pdf.Dict{"EmbeddedFiles": tree})
		u.Set(ref, c)
	})
	signed := sign(t, f.env.Signer, in, cred, signer.Options{Level: signer.LevelLT})
	forged := appendUpdate(t, signed, func(r *pdf.Reader, u *pdf.Update) {
		cat, _, _ := r.Catalog()
		file := u.Add(&pdf.Stream{Dict: pdf.Dict{"Type": pdf.Name("EmbeddedFile")}, Data: []byte("<forged/>")})
		spec := u.Add(pdf.Dict{"Type": pdf.Name("Filespec"), "UF": pdf.TextString("t.xml"), "EF": pdf.Dict{"F": file}})
		tree := u.Add(pdf.Dict{"Names": pdf.Array{pdf.TextString("t.xml"), spec}})
		u.Set(cat["Names"].(pdf.Ref), pdf.Dict{"EmbeddedFiles": tree})
	})
	rep := run(t, forged, f.offline())
	s := rep.Signatures[0]
	if rep.Document.Indication != verify.TotalFailed || !hasKind(s, verify.ModAttachmentChanged) || !hasEffect(s, verify.EffectAttachment) {
		t.Fatalf("replaced attachment not reported as one:\n%s", dump(rep))
	}
}

// TestAttachmentParmsChanged: an embedded file whose stored bytes stay
// where they were but whose /DecodeParms [n 0 R] names an object a later
// update rewrote decodes to other content: it is not covered, whatever
// the digest of the signed revision's decoding was.
func TestAttachmentParmsChanged(t *testing.T) {
	f := newFixture(t)
	cred := f.env.Creds["dev-official"]
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte{1, 1, 1, 1, 1, 1, 1, 1})
	zw.Close()
	var parms pdf.Ref
	in := appendUpdate(t, corpus(t, "memo-chromium.pdf"), func(r *pdf.Reader, u *pdf.Update) {
		cat, ref, _ := r.Catalog()
		parms = u.Add(pdf.Dict{"Predictor": pdf.Integer(1)})
		file := u.Add(&pdf.Stream{Dict: pdf.Dict{"Type": pdf.Name("EmbeddedFile"), "Filter": pdf.Array{pdf.Name("FlateDecode")},
			"DecodeParms": pdf.Array{parms}}, Data: z.Bytes()})
		spec := u.Add(pdf.Dict{"Type": pdf.Name("Filespec"), "UF": pdf.TextString("t.bin"), "EF": pdf.Dict{"F": file}})
		c := cat.Clone()
		c["AF"] = pdf.Array{spec}
		u.Set(ref, c)
	})
	signed := sign(t, f.env.Signer, in, cred, signer.Options{Level: signer.LevelLT})
	if a := findAttachment(t, run(t, signed, f.offline()), "t.bin"); len(a.CoveredBy) != 1 || a.SHA256 != hexSum([]byte{1, 1, 1, 1, 1, 1, 1, 1}) {
		t.Fatalf("signed attachment %+v", a)
	}
	forged := appendUpdate(t, signed, func(r *pdf.Reader, u *pdf.Update) {
		u.Set(parms, pdf.Dict{"Predictor": pdf.Integer(2), "Colors": pdf.Integer(1), "BitsPerComponent": pdf.Integer(8), "Columns": pdf.Integer(4)})
	})
	rep := run(t, forged, f.offline())
	a := findAttachment(t, rep, "t.bin")
	if a.SHA256 != hexSum([]byte{1, 2, 3, 4, 1, 2, 3, 4}) || len(a.CoveredBy) != 0 {
		t.Errorf("attachment %+v", a)
	}
	if rep.Document.Indication != verify.TotalFailed || !hasEffect(rep.Signatures[0], verify.EffectAttachment) {
		t.Errorf("changed attachment passed:\n%s", dump(rep))
	}
}
