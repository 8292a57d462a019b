package verify_test

import (
	"slices"
	"strings"
	"testing"

	"esign/pdf"
	"esign/pdf/crypt"
	"esign/pdf/pdftest"
	"esign/signer"
	"esign/verify"
)

// forgedXML is what the forgeries make an embedded transcript read as
// after the signature.
var forgedXML = []byte("<?xml version=\"1.0\"?><transcript><student>x</student><gpa>4.00</gpa></transcript>")

// r4Values are the /O /U /P and /ID of a qpdf R4 AES-128 encryption with
// an empty user password: with them, anyone derives the file key.
type r4Values struct {
	o, u pdf.String
	p    pdf.Integer
	id   pdf.Array
}

func r4Encryption(t *testing.T, in []byte) r4Values {
	t.Helper()
	enc := pdftest.QPDF(t, in, pdftest.Encryption{Name: "R4", Owner: "own", Args: []string{"128", "--use-aes=y"}})
	r := reader(t, enc)
	d, err := r.Dict(r.Trailer()["Encrypt"])
	if err != nil || d == nil {
		t.Fatalf("qpdf's /Encrypt: %v", err)
	}
	id, _ := r.Trailer()["ID"].(pdf.Array)
	if len(id) == 0 {
		t.Fatal("qpdf wrote no /ID")
	}
	return r4Values{o: d["O"].(pdf.String), u: d["U"].(pdf.String), p: d["P"].(pdf.Integer), id: id}
}

// dict is an R4 /Encrypt dictionary with these values whose /StdCF
// crypt filter uses cfm and which encrypts only embedded files with it.
func (e r4Values) dict(cfm, eff string) pdf.Dict {
	return pdf.Dict{"Filter": pdf.Name("Standard"), "V": pdf.Integer(4), "R": pdf.Integer(4), "Length": pdf.Integer(128),
		"O": e.o, "U": e.u, "P": e.p,
		"CF":   pdf.Dict{"StdCF": pdf.Dict{"CFM": pdf.Name(cfm), "Length": pdf.Integer(16), "AuthEvent": pdf.Name("DocOpen")}},
		"StmF": pdf.Name("Identity"), "StrF": pdf.Name("Identity"), "EFF": pdf.Name(eff)}
}

// aesv2 encrypts data as object num's embedded file under e's file key.
func (e r4Values) aesv2(t *testing.T, num uint32, data []byte) []byte {
	t.Helper()
	h, err := crypt.Open(crypt.Params{Filter: "Standard", V: 4, R: 4, Length: 128, O: e.o.Bytes, U: e.u.Bytes, P: int32(e.p),
		EncryptMetadata: true, CF: map[string]crypt.Filter{"StdCF": {CFM: "AESV2", Length: 16}},
		StmF: "Identity", StrF: "Identity", EFF: "StdCF", ID0: e.id[0].(pdf.String).Bytes}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := h.Encrypt("StdCF", num, 0, data)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// embedAF adds an embedded file named name whose stored bytes are
// stored(num) to the catalog's /AF, with /ID id in the trailer when given.
func embedAF(t *testing.T, in []byte, name string, stored func(num uint32) []byte, catEdit func(cat pdf.Dict, file pdf.Ref)) []byte {
	t.Helper()
	return appendUpdate(t, in, func(r *pdf.Reader, u *pdf.Update) {
		cat, ref, _ := r.Catalog()
		file := u.Reserve()
		u.Set(file, &pdf.Stream{Dict: pdf.Dict{"Type": pdf.Name("EmbeddedFile"), "Subtype": pdf.Name("application/xml")}, Data: stored(file.Num)})
		spec := u.Add(pdf.Dict{"Type": pdf.Name("Filespec"), "F": pdf.TextString(name), "UF": pdf.TextString(name), "EF": pdf.Dict{"F": file}})
		c := cat.Clone()
		c["AF"] = pdf.Array{spec}
		if catEdit != nil {
			catEdit(c, file)
		}
		u.Set(ref, c)
	})
}

// dummyUpdate appends an update that adds one unused object, with edit
// changing its trailer.
func dummyUpdate(t *testing.T, data []byte, edit func(tr pdf.Dict)) []byte {
	t.Helper()
	return rawUpdate(t, data, func(r *pdf.Reader) []rawObj {
		return []rawObj{{ref: pdf.Ref{Num: r.NextObjectNumber()}, obj: pdf.Dict{"Dummy": pdf.Bool(true)}}}
	}, func(r *pdf.Reader, tr pdf.Dict) int64 {
		edit(tr)
		return -1
	})
}

func hasKind(s verify.SignatureResult, kind string) bool {
	return slices.ContainsFunc(s.Modifications, func(m verify.Modification) bool { return m.Kind == kind })
}

// TestForgedEncryption: an update that gives the file an /Encrypt (or
// changes its crypt filters or /ID) makes bytes signed as they were read
// as something else, without changing any object's cross-reference
// entry. It is a modification no DocMDP level allows.
func TestForgedEncryption(t *testing.T) {
	f := newFixture(t)
	cred := f.env.Creds["dev-official"]
	in := corpus(t, "memo-chromium.pdf")
	e := r4Encryption(t, in)
	lt := signer.Options{Level: signer.LevelLT}

	// The signed file is plain; its attachment holds the AESV2
	// encryption of forgedXML, which the signer signs as it is.
	plain := sign(t, f.env.Signer, embedAF(t, in, "transcript.xml", func(num uint32) []byte { return e.aesv2(t, num, forgedXML) }, nil), cred, lt)
	// The same file, encrypted from the start with a crypt filter that
	// does nothing, signed as such.
	noneCF := func(eff string) []byte {
		b := embedAF(t, in, "transcript.xml", func(num uint32) []byte { return e.aesv2(t, num, forgedXML) }, nil)
		b = dummyUpdate(t, b, func(tr pdf.Dict) { tr["ID"], tr["Encrypt"] = e.id, e.dict("None", eff) })
		return sign(t, f.env.Signer, b, cred, lt)
	}

	t.Run("honest", func(t *testing.T) {
		rep := run(t, plain, f.offline())
		checkDoc(t, rep, verify.TotalPassed, 1)
		if a := findAttachment(t, rep, "transcript.xml"); a.SHA256 == hexSum(forgedXML) || len(a.CoveredBy) != 1 {
			t.Errorf("attachment %+v", a)
		}
	})
	cases := []struct {
		name   string
		signed []byte
		edit   func(tr pdf.Dict)
	}{
		{"encrypt added", plain, func(tr pdf.Dict) { tr["ID"], tr["Encrypt"] = e.id, e.dict("AESV2", "StdCF") }},
		{"crypt filter method changed", noneCF("StdCF"), func(tr pdf.Dict) { tr["Encrypt"] = e.dict("AESV2", "StdCF") }},
		{"EFF changed", noneCF("Identity"), func(tr pdf.Dict) {
			d := e.dict("None", "StdCF")
			d["CF"] = pdf.Dict{"StdCF": pdf.Dict{"CFM": pdf.Name("AESV2"), "Length": pdf.Integer(16)}, "NoneCF": pdf.Dict{"CFM": pdf.Name("None")}}
			d["EFF"] = pdf.Name("StdCF")
			tr["Encrypt"] = d
		}},
	}
	// A newest trailer without /Encrypt: the merged trailer still has the
	// old one, but a viewer reading only the newest does not.
	cases = append(cases, struct {
		name   string
		signed []byte
		edit   func(tr pdf.Dict)
	}{"encrypt left out", noneCF("StdCF"), func(tr pdf.Dict) { delete(tr, "Encrypt") }})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name != "encrypt added" {
				rep := run(t, c.signed, f.offline())
				checkDoc(t, rep, verify.TotalPassed, 1)
			}
			forged := dummyUpdate(t, c.signed, c.edit)
			rep := run(t, forged, f.offline())
			if rep.Document.Indication != verify.TotalFailed || !hasKind(rep.Signatures[0], verify.ModEncryption) {
				t.Fatalf("forged encryption not failed:\n%s", dump(rep))
			}
			if !strings.Contains(rep.Signatures[0].Modifications[0].Description, "encrypt") {
				t.Errorf("message %q", rep.Signatures[0].Modifications[0].Description)
			}
			// The forged content is not what the signed revision held,
			// however the digests of their stored bytes are shared.
			if a := findAttachment(t, rep, "transcript.xml"); a.SHA256 == hexSum(forgedXML) && len(a.CoveredBy) != 0 {
				t.Errorf("forged attachment covered: %+v", a)
			}
		})
	}
	t.Run("indirect crypt filters rewritten", func(t *testing.T) {
		// /Encrypt and its /CF are objects of their own; the attacker
		// rewrites only the /CF object, whose key in the handler cache
		// (the serialised /Encrypt) stays the same.
		b := embedAF(t, in, "transcript.xml", func(num uint32) []byte { return e.aesv2(t, num, forgedXML) }, nil)
		var cf pdf.Ref
		b = rawUpdate(t, b, func(r *pdf.Reader) []rawObj {
			n := r.NextObjectNumber()
			cf = pdf.Ref{Num: n + 1}
			d := e.dict("None", "StdCF")
			d["CF"] = cf
			return []rawObj{{ref: pdf.Ref{Num: n}, obj: d}, {ref: cf, obj: e.dict("None", "StdCF")["CF"]}}
		}, func(r *pdf.Reader, tr pdf.Dict) int64 {
			tr["ID"], tr["Encrypt"] = e.id, pdf.Ref{Num: r.NextObjectNumber()}
			return -1
		})
		signed := sign(t, f.env.Signer, b, cred, lt)
		checkDoc(t, run(t, signed, f.offline()), verify.TotalPassed, 1)
		forged := rawUpdate(t, signed, func(r *pdf.Reader) []rawObj {
			return []rawObj{{ref: cf, obj: e.dict("AESV2", "StdCF")["CF"]}}
		}, nil)
		rep := run(t, forged, f.offline())
		if rep.Document.Indication != verify.TotalFailed || !hasKind(rep.Signatures[0], verify.ModEncryption) {
			t.Fatalf("rewritten crypt filters not failed:\n%s", dump(rep))
		}
		if a := findAttachment(t, rep, "transcript.xml"); a.SHA256 == hexSum(forgedXML) && len(a.CoveredBy) != 0 {
			t.Errorf("forged attachment covered: %+v", a)
		}
	})
	t.Run("same values again", func(t *testing.T) {
		signed := noneCF("StdCF")
		// An honest update that repeats the same /Encrypt, indirect now.
		again := rawUpdate(t, signed, func(r *pdf.Reader) []rawObj {
			return []rawObj{{ref: pdf.Ref{Num: r.NextObjectNumber()}, obj: e.dict("None", "StdCF")}}
		}, func(r *pdf.Reader, tr pdf.Dict) int64 {
			tr["Encrypt"] = pdf.Ref{Num: r.NextObjectNumber()}
			return -1
		})
		rep := run(t, again, f.offline())
		checkDoc(t, rep, verify.TotalPassed, 1)
	})
}
