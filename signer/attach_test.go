package signer_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"esign/internal/extverify"
	"esign/internal/testenv"
	"esign/pdf"
	"esign/qrstamp"
	"esign/signer"
	"esign/verify"
)

// transcriptXML is an attachment in the shape of an ETDA academic
// transcript message, with Thai text, so that a wrong encoding shows.
var transcriptXML = []byte(`<?xml version="1.0" encoding="UTF-8"?>
<Transcript xmlns="urn:example:transcript">
  <Student><Name>นางสาวสมศรี ใจดี</Name><ID>6401234567</ID></Student>
  <Course><Title>ภาษาไทยเพื่อการสื่อสาร</Title><Grade>A</Grade></Course>
</Transcript>
`)

const verifyURL = "https://verify.example.go.th/d/Hq3v1yS0cWJm2x8ZpL4dKA"

// signResult signs in and returns the result and the signed file.
func signResult(t *testing.T, s *signer.Signer, in []byte, cred signer.Credential, opts signer.Options) (*signer.Result, []byte) {
	t.Helper()
	res, err := s.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), cred, opts)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	var out bytes.Buffer
	if _, err := res.Write(&out, bytes.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	return res, out.Bytes()
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func command(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%s %v: %v: %s", name, args, err, ee.Stderr)
		}
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return out
}

// qpdfAttachments lists the keys qpdf sees in /Names /EmbeddedFiles.
func qpdfAttachments(t *testing.T, path string) []string {
	t.Helper()
	var keys []string
	for _, line := range strings.Split(string(command(t, "qpdf", "--list-attachments", path)), "\n") {
		if line == "" || strings.HasPrefix(line, " ") {
			continue
		}
		// "KEY -> OBJ,GEN"
		if k, _, ok := strings.Cut(line, " -> "); ok {
			keys = append(keys, k)
		}
	}
	return keys
}

// decodeQR renders page (1-based) at 300 dpi with pdftoppm and returns
// what zbarimg reads from it, "" for nothing.
func decodeQR(t *testing.T, path string, page int) string {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "page")
	p := itoa(page)
	command(t, "pdftoppm", "-r", "300", "-png", "-f", p, "-l", p, "-singlefile", path, prefix)
	out, err := exec.Command("zbarimg", "--raw", "-q", prefix+".png").Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 4 { // zbarimg: no symbol found
		return ""
	}
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	return strings.TrimRight(string(out), "\n")
}

func itoa(i int) string { return string(pdf.AppendObject(nil, pdf.Integer(i))) }

// verifyReport runs our own verifier, online against the dev PKI.
func verifyReport(t *testing.T, env *testenv.Env, data []byte) *verify.Report {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(env.PKI.Root)
	rep, err := verify.Verify(context.Background(), bytes.NewReader(data), int64(len(data)), verify.Config{Roots: roots, Fetch: env.Outbound})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

// TestTranscriptAttachmentAndQR signs the PDF/A-3b transcript with its XML
// attached and a QR code drawn, at B-B and B-LTA, and has the result read
// by qpdf, pdfsig, pdftoppm with zbarimg, and our verifier.
func TestTranscriptAttachmentAndQR(t *testing.T) {
	env := testenv.New(t)
	nss := extverify.NSSDB(t, env.PKI.Root)
	in, err := os.ReadFile("../testdata/corpus/transcript-libreoffice-pdfa3b.pdf")
	if err != nil {
		t.Fatal(err)
	}
	stamp, err := qrstamp.New(verifyURL, qrstamp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mod := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	for _, level := range []signer.Level{signer.LevelB, signer.LevelLTA} {
		t.Run(string(level), func(t *testing.T) {
			res, out := signResult(t, env.Signer, in, env.Creds["dev-registrar"], signer.Options{
				Level: level, Reason: "รับรองผลการศึกษา",
				Attachments: []signer.Attachment{{
					Name: "transcript.xml", MIME: "application/xml", Description: "ใบประมวลผลการศึกษา (XML)",
					Data: transcriptXML, ModDate: mod,
				}},
				Overlays: []signer.Overlay{stamp},
			})
			want := 1
			if level == signer.LevelLTA {
				want = 2
			}
			checkExternally(t, env, nss, out, want, level != signer.LevelLTA)
			path := writeTemp(t, "signed.pdf", out)

			if keys := qpdfAttachments(t, path); len(keys) != 1 || keys[0] != "transcript.xml" {
				t.Fatalf("qpdf --list-attachments: %q", keys)
			}
			if got := command(t, "qpdf", "--show-attachment=transcript.xml", path); !bytes.Equal(got, transcriptXML) {
				t.Errorf("qpdf --show-attachment returns %d bytes that differ from the %d attached", len(got), len(transcriptXML))
			}
			if got := decodeQR(t, path, 1); got != verifyURL {
				t.Errorf("zbarimg reads %q, want %q", got, verifyURL)
			}

			// The registry's digest is the verifier's: the bytes up to the
			// end of the signature's /ByteRange.
			sigs := extverify.Signatures(t, out)
			br := sigs[0].ByteRange
			if sum := sha256.Sum256(out[:br[2]+br[3]]); !bytes.Equal(res.SignedRevisionSHA256, sum[:]) {
				t.Errorf("SignedRevisionSHA256 %x, want sha256(file[0:%d]) %x", res.SignedRevisionSHA256, br[2]+br[3], sum)
			}
			if level == signer.LevelLTA && br[2]+br[3] >= int64(len(out)) {
				t.Errorf("B-LTA: the signature covers the whole file (%d bytes); the DSS and timestamp revisions are missing", len(out))
			}

			rep := verifyReport(t, env, out)
			if rep.Document.Indication != verify.TotalPassed {
				t.Errorf("verify: %s %s: %s", rep.Document.Indication, rep.Document.SubIndication, rep.Document.Summary)
			}
			for _, s := range rep.Signatures {
				if s.ModifiedAfter {
					t.Errorf("verify: %s modified after signing: %+v", s.Field, s.Modifications)
				}
			}

			r := readPDF(t, out)
			checkPDFA3Attachments(t, r, map[string][]byte{"transcript.xml": transcriptXML})
			checkOverlayPDFA(t, r, 0)
		})
	}
}

// checkPDFA3Attachments asserts the rules of ISO 19005-3 §6.8 and ISO
// 32000-2 §7.11 for each embedded file, keyed by its /UF.
func checkPDFA3Attachments(t *testing.T, r *pdf.Reader, want map[string][]byte) {
	t.Helper()
	cat, _, err := r.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	af, _ := r.Array(cat["AF"])
	inAF := map[pdf.Ref]bool{}
	for _, o := range af {
		ref, ok := o.(pdf.Ref)
		if !ok {
			t.Errorf("catalog /AF holds a direct object %v; file specifications must be indirect", o)
		}
		inAF[ref] = true
	}
	names, _ := r.Dict(cat["Names"])
	var specs []pdf.Object
	var walk func(o pdf.Object)
	walk = func(o pdf.Object) {
		d, _ := r.Dict(o)
		kids, _ := r.Array(d["Kids"])
		for _, k := range kids {
			walk(k)
		}
		arr, _ := r.Array(d["Names"])
		for i := 1; i < len(arr); i += 2 {
			specs = append(specs, arr[i])
		}
	}
	walk(names["EmbeddedFiles"])
	found := map[string]bool{}
	for _, o := range specs {
		ref, _ := o.(pdf.Ref)
		spec, _ := r.Dict(o)
		uf, _ := spec["UF"].(pdf.String)
		name := pdf.DecodeText(uf.Bytes)
		data, ok := want[name]
		if !ok {
			continue
		}
		found[name] = true
		if !inAF[ref] {
			t.Errorf("%s: file specification %v is not in the catalog's /AF", name, o)
		}
		if spec["Type"] != pdf.Name("Filespec") {
			t.Errorf("%s: /Type %v", name, spec["Type"])
		}
		if _, ok := spec["F"].(pdf.String); !ok {
			t.Errorf("%s: no /F", name)
		}
		switch spec["AFRelationship"] {
		case pdf.Name("Data"), pdf.Name("Source"), pdf.Name("Alternative"), pdf.Name("Supplement"):
		default:
			t.Errorf("%s: /AFRelationship %v", name, spec["AFRelationship"])
		}
		if _, ok := spec["Desc"].(pdf.String); !ok {
			t.Errorf("%s: no /Desc", name)
		}
		ef, _ := r.Dict(spec["EF"])
		if ef["F"] == nil || ef["UF"] == nil {
			t.Errorf("%s: /EF lacks /F or /UF: %v", name, ef)
		}
		so, _ := r.Resolve(ef["F"])
		st, ok := so.(*pdf.Stream)
		if !ok {
			t.Fatalf("%s: /EF /F is not a stream", name)
		}
		if st.Dict["Type"] != pdf.Name("EmbeddedFile") {
			t.Errorf("%s: stream /Type %v", name, st.Dict["Type"])
		}
		if mt, ok := st.Dict["Subtype"].(pdf.Name); !ok || !strings.Contains(string(mt), "/") {
			t.Errorf("%s: /Subtype %v is not a MIME type", name, st.Dict["Subtype"])
		}
		got, err := r.StreamData(st)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: embedded data differs (%v)", name, err)
		}
		params, _ := r.Dict(st.Dict["Params"])
		md, _ := params["ModDate"].(pdf.String)
		if _, err := pdf.ParseDate(string(md.Bytes)); err != nil {
			t.Errorf("%s: /Params /ModDate %q: %v", name, md.Bytes, err)
		}
		if params["Size"] != pdf.Integer(len(data)) {
			t.Errorf("%s: /Params /Size %v, want %d", name, params["Size"], len(data))
		}
		sum := md5.Sum(data)
		if cs, _ := params["CheckSum"].(pdf.String); !bytes.Equal(cs.Bytes, sum[:]) {
			t.Errorf("%s: /Params /CheckSum %x, want MD5 %x", name, cs.Bytes, sum)
		}
	}
	for name := range want {
		if !found[name] {
			t.Errorf("no embedded file %q in /Names /EmbeddedFiles", name)
		}
	}
}

// checkOverlayPDFA asserts that the marks drawn on a page are what PDF/A
// allows and we promise: vector only (no image), every font embedded, no
// transparency (no soft masks, blend groups or constant alpha).
func checkOverlayPDFA(t *testing.T, r *pdf.Reader, page int) {
	t.Helper()
	_, pd, err := r.Page(page)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := r.Dict(pd["Resources"])
	xobjs, _ := r.Dict(res["XObject"])
	marks := 0
	for name, o := range xobjs {
		if !strings.HasPrefix(string(name), "EsignMark") {
			continue
		}
		marks++
		var check func(o pdf.Object, depth int)
		check = func(o pdf.Object, depth int) {
			if depth > 4 {
				t.Fatal("XObjects nested too deep")
			}
			so, _ := r.Resolve(o)
			st, ok := so.(*pdf.Stream)
			if !ok {
				t.Fatalf("%s: not a stream", name)
			}
			switch st.Dict["Subtype"] {
			case pdf.Name("Image"):
				t.Errorf("%s: draws an image; the QR code must be vector paths", name)
			case pdf.Name("Form"):
			default:
				t.Errorf("%s: XObject /Subtype %v", name, st.Dict["Subtype"])
			}
			if st.Dict["Group"] != nil || st.Dict["SMask"] != nil {
				t.Errorf("%s: transparency group or soft mask", name)
			}
			data, _ := r.StreamData(st)
			if bytes.Contains(data, []byte(" gs")) || bytes.Contains(data, []byte("BI")) {
				t.Errorf("%s: graphics state parameters or an inline image in %q", name, data)
			}
			xr, _ := r.Dict(st.Dict["Resources"])
			if xr["ExtGState"] != nil || xr["Shading"] != nil || xr["Pattern"] != nil {
				t.Errorf("%s: resources beyond fonts and forms: %v", name, xr)
			}
			fonts, _ := r.Dict(xr["Font"])
			for fn, fo := range fonts {
				fd, _ := r.Dict(fo)
				desc := fd
				if desc["Subtype"] == pdf.Name("Type0") {
					dfs, _ := r.Array(desc["DescendantFonts"])
					if len(dfs) != 1 {
						t.Fatalf("%s: font %s without a descendant", name, fn)
					}
					desc, _ = r.Dict(dfs[0])
					if desc["CIDToGIDMap"] == nil {
						t.Errorf("%s: font %s: CIDFontType2 without /CIDToGIDMap", name, fn)
					}
				}
				fdesc, _ := r.Dict(desc["FontDescriptor"])
				if fdesc["FontFile2"] == nil && fdesc["FontFile"] == nil && fdesc["FontFile3"] == nil {
					t.Errorf("%s: font %s is not embedded", name, fn)
				}
				if fd["ToUnicode"] == nil {
					t.Errorf("%s: font %s has no /ToUnicode", name, fn)
				}
			}
			sub, _ := r.Dict(xr["XObject"])
			for _, so := range sub {
				check(so, depth+1)
			}
		}
		check(o, 0)
	}
	if marks == 0 {
		t.Errorf("page %d has no mark", page+1)
	}
}

// TestAttachmentKeepsExistingFiles attaches to files that already carry
// embedded files, added by qpdf: the old ones stay, the new one joins
// them, and a taken name gets a key of its own.
func TestAttachmentKeepsExistingFiles(t *testing.T) {
	env := testenv.New(t)
	in, _ := os.ReadFile("../testdata/corpus/transcript-libreoffice-pdfa3b.pdf")
	dir := t.TempDir()
	plain := filepath.Join(dir, "in.pdf")
	os.WriteFile(plain, in, 0o644)
	old := []byte("grades,A,B\n")
	oldFile := filepath.Join(dir, "transcript.xml")
	os.WriteFile(oldFile, old, 0o644)
	withOld := filepath.Join(dir, "with-old.pdf")
	command(t, "qpdf", plain, "--add-attachment", oldFile, "--mimetype=text/csv", "--", withOld)
	prepared, _ := os.ReadFile(withOld)

	_, out := signResult(t, env.Signer, prepared, env.Creds["dev-registrar"], signer.Options{
		Attachments: []signer.Attachment{{Name: "transcript.xml", MIME: "application/xml", Data: transcriptXML, Relationship: "Source"}},
	})
	path := writeTemp(t, "signed.pdf", out)
	keys := qpdfAttachments(t, path)
	if strings.Join(keys, "|") != "transcript (2).xml|transcript.xml" {
		t.Fatalf("qpdf --list-attachments: %q", keys)
	}
	if got := command(t, "qpdf", "--show-attachment=transcript.xml", path); !bytes.Equal(got, old) {
		t.Errorf("the existing attachment changed: %q", got)
	}
	if got := command(t, "qpdf", "--show-attachment=transcript (2).xml", path); !bytes.Equal(got, transcriptXML) {
		t.Errorf("the new attachment reads back as %q", got)
	}
	if err := extverify.QPDFCheck(path); err != nil {
		t.Error(err)
	}
	r := readPDF(t, out)
	cat, _, _ := r.Catalog()
	spec, _ := r.Dict(mustArray(t, r, cat["AF"])[0])
	if spec["AFRelationship"] != pdf.Name("Source") {
		t.Errorf("/AFRelationship %v, want Source", spec["AFRelationship"])
	}
}

func mustArray(t *testing.T, r *pdf.Reader, o pdf.Object) pdf.Array {
	t.Helper()
	a, err := r.Array(o)
	if err != nil || len(a) == 0 {
		t.Fatalf("array %v: %v", o, err)
	}
	return a
}

// TestAttachmentRefusals covers what must be refused before anything is
// signed, and what must be allowed.
func TestAttachmentRefusals(t *testing.T) {
	env := testenv.New(t)
	cred := env.Creds["dev-official"]
	read := func(name string) []byte {
		b, err := os.ReadFile("../testdata/corpus/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	memo, pdfa2, pdfa3 := read("memo-chromium.pdf"), read("memo-libreoffice-pdfa2b.pdf"), read("transcript-libreoffice-pdfa3b.pdf")
	signed := signFile(t, env.Signer, memo, cred, signer.Options{})
	timestamped := signFile(t, env.Signer, memo, cred, signer.Options{Level: signer.LevelLTA})
	xml := signer.Attachment{Name: "t.xml", MIME: "application/xml", Data: transcriptXML}
	stamp, err := qrstamp.New(verifyURL, qrstamp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	farStamp, _ := qrstamp.New(verifyURL, qrstamp.Options{Page: 99})
	with := func(mod func(*signer.Attachment)) []signer.Attachment {
		a := xml
		mod(&a)
		return []signer.Attachment{a}
	}
	cases := []struct {
		name    string
		in      []byte
		opts    signer.Options
		want    error
		mention string
	}{
		{"PDF/A-2b with attachment", pdfa2, signer.Options{Attachments: []signer.Attachment{xml}}, signer.ErrAttachmentForbidden, "PDF/A-2"},
		{"PDF/A-2b with QR only", pdfa2, signer.Options{Overlays: []signer.Overlay{stamp}}, nil, ""},
		{"signed with attachment", signed, signer.Options{Attachments: []signer.Attachment{xml}}, signer.ErrAlreadySigned, ""},
		{"signed with QR", signed, signer.Options{Overlays: []signer.Overlay{stamp}}, signer.ErrAlreadySigned, ""},
		{"document timestamp with attachment", timestamped, signer.Options{Attachments: []signer.Attachment{xml}}, signer.ErrAlreadySigned, ""},
		{"signed without additions", signed, signer.Options{}, nil, ""},
		{"not PDF/A with attachment", memo, signer.Options{Attachments: []signer.Attachment{xml}}, nil, ""},
		{"PDF/A-3b with attachment", pdfa3, signer.Options{Attachments: []signer.Attachment{xml}}, nil, ""},
		{"no name", memo, signer.Options{Attachments: with(func(a *signer.Attachment) { a.Name = "" })}, signer.ErrBadOptions, "name"},
		{"NUL in name", memo, signer.Options{Attachments: with(func(a *signer.Attachment) { a.Name = "a\x00.xml" })}, signer.ErrBadOptions, "control"},
		{"path in name", memo, signer.Options{Attachments: with(func(a *signer.Attachment) { a.Name = "../a.xml" })}, signer.ErrBadOptions, "separator"},
		{"long name", memo, signer.Options{Attachments: with(func(a *signer.Attachment) { a.Name = strings.Repeat("ก", 100) })}, signer.ErrBadOptions, "bytes"},
		{"no data", memo, signer.Options{Attachments: with(func(a *signer.Attachment) { a.Data = nil })}, signer.ErrBadOptions, "content"},
		{"bad MIME", memo, signer.Options{Attachments: with(func(a *signer.Attachment) { a.MIME = "xml" })}, signer.ErrBadOptions, "media type"},
		{"MIME with parameters", memo, signer.Options{Attachments: with(func(a *signer.Attachment) { a.MIME = "text/xml; charset=utf-8" })}, signer.ErrBadOptions, "media type"},
		{"bad relationship", memo, signer.Options{Attachments: with(func(a *signer.Attachment) { a.Relationship = "Unspecified" })}, signer.ErrBadOptions, "relationship"},
		{"QR page out of range", memo, signer.Options{Overlays: []signer.Overlay{farStamp}}, signer.ErrBadOptions, "page 99"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := env.Signer.Sign(context.Background(), bytes.NewReader(c.in), int64(len(c.in)), cred, c.opts)
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if err != nil {
				if res != nil {
					t.Error("a result came back with the error")
				}
				if !strings.Contains(err.Error(), c.mention) {
					t.Errorf("error %q does not mention %q", err, c.mention)
				}
			}
		})
	}
}

// TestQRDecodes shows that the zbarimg check can fail: a page without
// the mark reads as nothing, another URL reads as itself, and a mark on
// page 2 lands there.
func TestQRDecodes(t *testing.T) {
	env := testenv.New(t)
	in, _ := os.ReadFile("../testdata/corpus/memo-libreoffice.pdf")
	path := writeTemp(t, "plain.pdf", in)
	if got := decodeQR(t, path, 1); got != "" {
		t.Fatalf("the unmarked page reads as %q", got)
	}
	other := "http://localhost:8081/d/AAAAAAAAAAAAAAAAAAAAAA"
	stamp, err := qrstamp.New(other, qrstamp.Options{Rect: [4]float64{400, 700, 500, 800}})
	if err != nil {
		t.Fatal(err)
	}
	_, out := signResult(t, env.Signer, in, env.Creds["dev-official"], signer.Options{Overlays: []signer.Overlay{stamp}})
	path = writeTemp(t, "marked.pdf", out)
	if got := decodeQR(t, path, 1); got != other {
		t.Errorf("zbarimg reads %q, want %q", got, other)
	}
	r := readPDF(t, out)
	if n, _ := r.PageCount(); n > 1 {
		if got := decodeQR(t, path, 2); got != "" {
			t.Errorf("page 2 reads %q; only page 1 was marked", got)
		}
	}
	checkOverlayPDFA(t, r, 0)
}
