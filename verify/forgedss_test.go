package verify_test

import (
	"testing"

	"esign/pdf"
	"esign/signer"
	"esign/verify"
)

// TestForgedAttachmentViaDSS: an embedded file that the signed revision
// also reaches from a DSS (or /Info, /Metadata) key is still an embedded
// file: replacing it after signing is a disallowed change.
func TestForgedAttachmentViaDSS(t *testing.T) {
	f := newFixture(t)
	cred := f.env.Creds["dev-official"]
	in := corpus(t, "memo-chromium.pdf")
	honest := []byte("<?xml version=\"1.0\"?><transcript><student>x</student><gpa>2.10</gpa></transcript>")
	places := []struct {
		name string
		edit func(cat pdf.Dict, file pdf.Ref)
	}{
		{"DSS attic", func(cat pdf.Dict, file pdf.Ref) {
			cat["DSS"] = pdf.Dict{"Type": pdf.Name("DSS"), "Attic": file}
		}},
		{"DSS certs", func(cat pdf.Dict, file pdf.Ref) {
			cat["DSS"] = pdf.Dict{"Type": pdf.Name("DSS"), "Certs": pdf.Array{file}}
		}},
		{"metadata", func(cat pdf.Dict, file pdf.Ref) { cat["Metadata"] = file }},
	}
	for _, p := range places {
		t.Run(p.name, func(t *testing.T) {
			b := embedAF(t, in, "transcript.xml", func(uint32) []byte { return honest }, p.edit)
			signed := sign(t, f.env.Signer, b, cred, signer.Options{Level: signer.LevelLT})
			if rep := run(t, signed, f.offline()); rep.Document.Indication != verify.TotalPassed {
				t.Fatalf("signed file does not pass:\n%s", dump(rep))
			}
			forged := appendUpdate(t, signed, func(r *pdf.Reader, u *pdf.Update) {
				cat, _, _ := r.Catalog()
				af, _ := r.Array(cat["AF"])
				spec, _ := r.Dict(af[0])
				ef, _ := r.Dict(spec["EF"])
				u.Set(ef["F"].(pdf.Ref), &pdf.Stream{Dict: pdf.Dict{"Type": pdf.Name("EmbeddedFile"), "Subtype": pdf.Name("application/xml")}, Data: forgedXML})
			})
			rep := run(t, forged, f.offline())
			a := findAttachment(t, rep, "transcript.xml")
			if a.SHA256 != hexSum(forgedXML) || len(a.CoveredBy) != 0 {
				t.Errorf("attachment %+v", a)
			}
			if rep.Document.Indication == verify.TotalPassed || !hasEffect(rep.Signatures[0], verify.EffectAttachment) {
				t.Fatalf("replaced attachment passed:\n%s", dump(rep))
			}
		})
	}
}

// TestForgedActionViaInfo: an object the catalog runs (here the
// /OpenAction JavaScript) that /Info or the structure tree also names is
// neither metadata nor tagging: rewriting it after signing is not allowed.
func TestForgedActionViaInfo(t *testing.T) {
	f := newFixture(t)
	cred := f.env.Creds["dev-official"]
	for _, via := range []string{"info", "structure"} {
		t.Run(via, func(t *testing.T) {
			var action pdf.Ref
			in := appendUpdate(t, corpus(t, "memo-chromium.pdf"), func(r *pdf.Reader, u *pdf.Update) {
				cat, ref, _ := r.Catalog()
				// /P makes it look like a structure element too.
				action = u.Add(pdf.Dict{"S": pdf.Name("JavaScript"), "P": ref, "JS": pdf.TextString("app.alert('signed');")})
				c := cat.Clone()
				c["OpenAction"] = action
				if via == "structure" {
					c["StructTreeRoot"] = u.Add(pdf.Dict{"Type": pdf.Name("StructTreeRoot"), "X": action})
				} else {
					info, ok := r.Trailer()["Info"].(pdf.Ref)
					if !ok {
						t.Fatal("memo-chromium.pdf has no /Info: the case needs one")
					}
					d, _ := r.Dict(info)
					d = d.Clone()
					d["X"] = action
					u.Set(info, d)
				}
				u.Set(ref, c)
			})
			signed := sign(t, f.env.Signer, in, cred, signer.Options{Level: signer.LevelLT})
			checkDoc(t, run(t, signed, f.offline()), verify.TotalPassed, 1)
			forged := appendUpdate(t, signed, func(r *pdf.Reader, u *pdf.Update) {
				_, ref, _ := r.Catalog()
				u.Set(action, pdf.Dict{"S": pdf.Name("JavaScript"), "P": ref, "JS": pdf.TextString("app.alert('forged');")})
			})
			if rep := run(t, forged, f.offline()); rep.Document.Indication == verify.TotalPassed {
				t.Fatalf("a rewritten action passed:\n%s", dump(rep))
			}
		})
	}
}
