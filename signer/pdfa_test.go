package signer_test

import (
	"bytes"
	"os"
	"reflect"
	"testing"

	"esign/internal/testenv"
	"esign/pdf"
	"esign/qrstamp"
	"esign/signer"
)

// TestPDFAPreserved checks what signing could break in a PDF/A file (ISO
// 19005-2/-3): the catalog's /Metadata and /OutputIntents stay as they
// were, the trailer keeps /ID, the update uses the file's xref kind, and
// every annotation the update adds is printable, visible and has a normal
// appearance. veraPDF is not packaged for Debian, so these are the rules
// that concern an incremental signature, asserted one by one.
//
// A PDF/A-3 transcript is also signed with its XML attached and a QR code
// drawn: then the embedded file must follow ISO 19005-3 §6.8 as well
// (checkPDFA3Attachments) and the mark must be vector, with embedded
// fonts and no transparency (checkOverlayPDFA).
func TestPDFAPreserved(t *testing.T) {
	env := testenv.New(t)
	stamp, err := qrstamp.New(verifyURL, qrstamp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	xml := signer.Attachment{Name: "transcript.xml", MIME: "application/xml", Description: "ใบประมวลผลการศึกษา", Data: transcriptXML}
	for _, c := range []struct {
		name     string
		attach   bool
		suffixes string
	}{
		{"memo-libreoffice-pdfa2b.pdf", false, ""},
		{"transcript-libreoffice-pdfa3b.pdf", false, ""},
		{"transcript-libreoffice-pdfa3b.pdf", true, "+xml+qr"},
	} {
		name := c.name
		for _, level := range []signer.Level{signer.LevelB, signer.LevelLTA} {
			t.Run(name+c.suffixes+"/"+string(level), func(t *testing.T) {
				in, err := os.ReadFile("../testdata/corpus/" + name)
				if err != nil {
					t.Fatal(err)
				}
				opts := signer.Options{Level: level, Certify: 2}
				if c.attach {
					opts.Attachments = []signer.Attachment{xml}
					opts.Overlays = []signer.Overlay{stamp}
				}
				out := signFile(t, env.Signer, in, env.Creds["dev-registrar"], opts)
				before := readPDF(t, in)
				after := readPDF(t, out)
				catBefore, _, _ := before.Catalog()
				catAfter, _, _ := after.Catalog()
				for _, k := range []pdf.Name{"Metadata", "OutputIntents", "Lang", "MarkInfo", "StructTreeRoot"} {
					if !reflect.DeepEqual(catBefore[k], catAfter[k]) {
						t.Errorf("catalog /%s changed: %v -> %v", k, catBefore[k], catAfter[k])
					}
				}
				if catAfter["OutputIntents"] == nil || catAfter["Metadata"] == nil {
					t.Fatal("the PDF/A input lost its OutputIntents or Metadata")
				}
				if !reflect.DeepEqual(before.Trailer()["ID"], after.Trailer()["ID"]) || after.Trailer()["ID"] == nil {
					t.Errorf("trailer /ID: %v -> %v", before.Trailer()["ID"], after.Trailer()["ID"])
				}
				if after.XrefKind() != before.XrefKind() {
					t.Errorf("xref kind %v -> %v", before.XrefKind(), after.XrefKind())
				}
				acro, _ := after.Dict(catAfter["AcroForm"])
				if acro["NeedAppearances"] == pdf.Bool(true) {
					t.Error("AcroForm sets NeedAppearances, which PDF/A forbids")
				}
				fields, _ := after.Array(acro["Fields"])
				if len(fields) == 0 {
					t.Fatal("no form fields after signing")
				}
				for _, f := range fields {
					w, _ := after.Dict(f)
					flags, _ := w["F"].(pdf.Integer)
					if flags&4 == 0 || flags&(1|2|32) != 0 {
						t.Errorf("widget %v: /F %d (need Print, not Hidden/Invisible/NoView)", f, flags)
					}
					ap, _ := after.Dict(w["AP"])
					if ap["N"] == nil {
						t.Errorf("widget %v has no normal appearance", f)
					}
				}
				if c.attach {
					checkPDFA3Attachments(t, after, map[string][]byte{"transcript.xml": transcriptXML})
					checkOverlayPDFA(t, after, 0)
					// Each content stream added to the page must be
					// intact for PDF/A: the old ones are kept as they are.
					_, pb, _ := before.Page(0)
					_, pa, _ := after.Page(0)
					old, _ := before.Array(pb["Contents"])
					if old == nil {
						old = pdf.Array{pb["Contents"]}
					}
					now, _ := after.Array(pa["Contents"])
					if len(now) != len(old)+2 || !reflect.DeepEqual(now[1:len(now)-1], old) {
						t.Errorf("page /Contents %v, want [q %v mark]", now, old)
					}
				}
			})
		}
	}
}

func readPDF(t *testing.T, data []byte) *pdf.Reader {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
