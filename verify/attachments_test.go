package verify_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"esign/pdf"
	"esign/signer"
	"esign/verify"
)

// transcriptXML is the attachment the tests embed before signing.
var transcriptXML = []byte("<?xml version=\"1.0\"?><transcript><student>x</student><gpa>3.91</gpa></transcript>")

// withAttachment embeds data as name in in with qpdf, the way a
// transcript's XML rides in its PDF/A-3.
func withAttachment(t testing.TB, in []byte, name string, data []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("qpdf"); err != nil {
		t.Fatal("qpdf not installed (scripts/deps.sh test installs it)")
	}
	dir := t.TempDir()
	src, att, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, name), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(src, in, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(att, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("qpdf", src, "--add-attachment", att, "--mimetype=application/xml", "--", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		// qpdf exits 3 on warnings, with the file written.
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("qpdf --add-attachment: %v\n%s", err, b)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func findAttachment(t *testing.T, rep *verify.Report, name string) verify.Attachment {
	t.Helper()
	for _, a := range rep.Attachments {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no attachment %q; report:\n%s", name, dump(rep))
	return verify.Attachment{}
}

// TestAttachments: a file embedded before signing is listed with its
// type, size and digest and is covered; one added after signing is not
// covered and the change is reported; one whose stream is replaced
// after signing loses its cover; each signature gives its revision's
// length and digest.
func TestAttachments(t *testing.T) {
	f := newFixture(t)
	official := f.env.Creds["dev-official"]
	in := withAttachment(t, corpus(t, "transcript-libreoffice-pdfa3b.pdf"), "transcript.xml", transcriptXML)
	signed := sign(t, f.env.Signer, in, official, signer.Options{})

	t.Run("covered", func(t *testing.T) {
		rep := run(t, signed, f.offline())
		if len(rep.Attachments) != 1 {
			t.Fatalf("%d attachments, want 1:\n%s", len(rep.Attachments), dump(rep))
		}
		a := rep.Attachments[0]
		sig := rep.Signatures[0]
		if a.Name != "transcript.xml" || a.MIME != "application/xml" || a.Size != int64(len(transcriptXML)) ||
			a.SHA256 != hexSum(transcriptXML) || !slices.Equal(a.CoveredBy, []string{sig.Field}) {
			t.Errorf("attachment %+v", a)
		}
		if a.Stream == nil || a.Stream.Length <= 0 || a.Stream.Offset <= 0 {
			t.Errorf("no stream location: %+v", a.Stream)
		}
		if sig.RevisionLength != int64(len(signed)) || sig.RevisionSHA256 != hexSum(signed) {
			t.Errorf("revision %d %s, want %d %s", sig.RevisionLength, sig.RevisionSHA256, len(signed), hexSum(signed))
		}
		if sig.ModifiedAfter {
			t.Errorf("signed attachment counted as a change:\n%s", dump(rep))
		}
	})

	t.Run("added after signing", func(t *testing.T) {
		attached := appendUpdate(t, signed, func(r *pdf.Reader, u *pdf.Update) {
			cat, ref, _ := r.Catalog()
			file := u.Add(&pdf.Stream{Dict: pdf.Dict{"Type": pdf.Name("EmbeddedFile")}, Data: []byte("<forged/>")})
			spec := u.Add(pdf.Dict{"Type": pdf.Name("Filespec"), "UF": pdf.TextString("extra.xml"), "EF": pdf.Dict{"F": file}})
			c := cat.Clone()
			c["AF"] = pdf.Array{spec}
			u.Set(ref, c)
		})
		rep := run(t, attached, f.offline())
		if a := findAttachment(t, rep, "extra.xml"); len(a.CoveredBy) != 0 {
			t.Errorf("added file covered by %v", a.CoveredBy)
		}
		if a := findAttachment(t, rep, "transcript.xml"); len(a.CoveredBy) != 1 {
			t.Errorf("signed file covered by %v", a.CoveredBy)
		}
		sig := rep.Signatures[0]
		if !sig.ModifiedAfter || !hasEffect(sig, verify.EffectAttachment) {
			t.Errorf("the added file is not a change:\n%s", dump(rep))
		}
		if sig.RevisionLength != int64(len(signed)) || sig.RevisionSHA256 != hexSum(signed) {
			t.Errorf("revision %d, want %d", sig.RevisionLength, len(signed))
		}
	})

	t.Run("stream replaced after signing", func(t *testing.T) {
		forged := []byte("<?xml version=\"1.0\"?><transcript><student>x</student><gpa>4.00</gpa></transcript>")
		replaced := appendUpdate(t, signed, func(r *pdf.Reader, u *pdf.Update) {
			ref := embeddedStreamRef(t, r)
			u.Set(ref, &pdf.Stream{Dict: pdf.Dict{"Type": pdf.Name("EmbeddedFile"), "Subtype": pdf.Name("application/xml")}, Data: forged})
		})
		rep := run(t, replaced, f.offline())
		a := findAttachment(t, rep, "transcript.xml")
		if len(a.CoveredBy) != 0 || a.SHA256 != hexSum(forged) {
			t.Errorf("replaced file %+v", a)
		}
		sig := rep.Signatures[0]
		if rep.Document.Indication == verify.TotalPassed || !sig.ModifiedAfter || !hasEffect(sig, verify.EffectAttachment) {
			t.Errorf("the replaced file is not a change:\n%s", dump(rep))
		}
	})

	t.Run("qpdf adds a file after signing", func(t *testing.T) {
		again := withAttachment(t, signed, "other.xml", []byte("<other/>"))
		rep := run(t, again, f.offline())
		if rep.Document.Indication == verify.TotalPassed {
			t.Errorf("a rewritten file passed:\n%s", dump(rep))
		}
		if a := findAttachment(t, rep, "other.xml"); len(a.CoveredBy) != 0 {
			t.Errorf("added file covered by %v", a.CoveredBy)
		}
	})
}

// embeddedStreamRef finds the embedded file stream of the first entry
// of the /EmbeddedFiles name tree (qpdf writes a flat one).
func embeddedStreamRef(t *testing.T, r *pdf.Reader) pdf.Ref {
	t.Helper()
	cat, _, _ := r.Catalog()
	names, _ := r.Dict(cat["Names"])
	tree, _ := r.Dict(names["EmbeddedFiles"])
	arr, _ := r.Array(tree["Names"])
	if len(arr) < 2 {
		t.Fatalf("no embedded files: %v", tree)
	}
	spec, _ := r.Dict(arr[1])
	ef, _ := r.Dict(spec["EF"])
	ref, ok := ef["F"].(pdf.Ref)
	if !ok {
		t.Fatalf("/EF /F is %T", ef["F"])
	}
	return ref
}

func hasEffect(s verify.SignatureResult, effect string) bool {
	for _, m := range s.Modifications {
		if m.Effect == effect {
			return true
		}
	}
	return false
}
