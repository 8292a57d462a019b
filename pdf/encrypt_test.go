package pdf_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"esign/pdf"
	"esign/pdf/crypt"
	"esign/pdf/pdftest"
)

func open(t *testing.T, b []byte, pw string) (*pdf.Reader, error) {
	t.Helper()
	return pdf.NewReader(bytes.NewReader(b), int64(len(b)), &pdf.ReaderOptions{Password: []byte(pw)})
}

// pageContents is the decoded content of every page, and the /Info
// strings: what decryption must give back exactly.
func pageContents(t *testing.T, r *pdf.Reader) [][]byte {
	t.Helper()
	n, err := r.PageCount()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for i := range n {
		_, pg, err := r.Page(i)
		if err != nil {
			t.Fatal(err)
		}
		c, err := r.Resolve(pg["Contents"])
		if err != nil {
			t.Fatal(err)
		}
		var sts []pdf.Object
		if a, ok := c.(pdf.Array); ok {
			sts = a
		} else {
			sts = []pdf.Object{c}
		}
		for _, s := range sts {
			o, err := r.Resolve(s)
			if err != nil {
				t.Fatal(err)
			}
			st, ok := o.(*pdf.Stream)
			if !ok {
				t.Fatalf("page %d contents %T", i, o)
			}
			d, err := r.StreamData(st)
			if err != nil {
				t.Fatalf("page %d: %v", i, err)
			}
			out = append(out, d)
		}
	}
	info, err := r.Dict(r.Trailer()["Info"])
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []pdf.Name{"Producer", "Creator", "Title"} {
		if s, ok := info[k].(pdf.String); ok {
			out = append(out, s.Bytes)
		}
	}
	return out
}

// TestDecryptQPDF reads files qpdf encrypted at every revision, from
// classic and object-stream sources, and finds the same page content and
// /Info strings as in qpdf's own decryption of them.
func TestDecryptQPDF(t *testing.T) {
	for _, src := range []string{"memo-libreoffice.pdf", "memo-xrefstream-objstm.pdf"} {
		plain, err := os.ReadFile("../testdata/corpus/" + src)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range pdftest.Encryptions {
			t.Run(src+"/"+e.Name, func(t *testing.T) {
				enc := pdftest.QPDF(t, plain, e)
				want := pageContents(t, mustOpen(t, pdftest.QPDFDecrypt(t, enc, e.Owner), ""))
				for _, pw := range []string{e.User, e.Owner} {
					r, err := open(t, enc, pw)
					if err != nil {
						t.Fatalf("password %q: %v", pw, err)
					}
					sec := r.Security()
					if sec == nil || !r.Encrypted() {
						t.Fatal("no Security for an encrypted file")
					}
					if sec.Owner != (pw == e.Owner) {
						t.Errorf("password %q: Owner = %v", pw, sec.Owner)
					}
					got := pageContents(t, r)
					if len(got) != len(want) {
						t.Fatalf("%d pieces, want %d", len(got), len(want))
					}
					for i := range got {
						if !bytes.Equal(got[i], want[i]) {
							t.Fatalf("piece %d differs from qpdf's decryption", i)
						}
					}
				}
			})
		}
	}
}

func mustOpen(t *testing.T, b []byte, pw string) *pdf.Reader {
	t.Helper()
	r, err := open(t, b, pw)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPasswords: a user password is required when set, a wrong one is
// told apart from a missing one.
func TestPasswords(t *testing.T) {
	plain, err := os.ReadFile("../testdata/corpus/memo-libreoffice.pdf")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range pdftest.Encryptions {
		if e.User == "" {
			continue
		}
		t.Run(e.Name, func(t *testing.T) {
			enc := pdftest.QPDF(t, plain, e)
			if _, err := open(t, enc, ""); !errors.Is(err, pdf.ErrPasswordRequired) {
				t.Errorf("no password: %v, want ErrPasswordRequired", err)
			}
			if _, err := open(t, enc, "nope"); !errors.Is(err, pdf.ErrWrongPassword) {
				t.Errorf("wrong password: %v, want ErrWrongPassword", err)
			}
		})
	}
}

// TestCorpusEncrypted opens the shared corpus's AES-256 file with the
// empty user password.
func TestCorpusEncrypted(t *testing.T) {
	b, err := os.ReadFile("../testdata/corpus/memo-encrypted-aes256.pdf")
	if err != nil {
		t.Fatal(err)
	}
	r := mustOpen(t, b, "")
	if got := r.Security().Handler; got != "Standard R6 AES-256" {
		t.Errorf("Handler = %q", got)
	}
	if len(pageContents(t, r)) == 0 {
		t.Error("no content")
	}
}

// TestUpdateEncrypted: an update of an encrypted file encrypts its new
// strings and streams, keeps /Encrypt and /ID, and qpdf reads it back.
func TestUpdateEncrypted(t *testing.T) {
	for _, src := range []string{"memo-libreoffice.pdf", "memo-xrefstream-objstm.pdf"} {
		plain, err := os.ReadFile("../testdata/corpus/" + src)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range pdftest.Encryptions {
			t.Run(src+"/"+e.Name, func(t *testing.T) {
				enc := pdftest.QPDF(t, plain, e)
				r := mustOpen(t, enc, e.User)
				u := r.NewUpdate()
				secret := []byte("ลับมาก secret text")
				st := u.Add(&pdf.Stream{Dict: pdf.Dict{"Note": pdf.TextString("ในกระแส")}, Data: secret})
				_, cref, err := r.Catalog()
				if err != nil {
					t.Fatal(err)
				}
				cat, _ := u.Get(cref)
				c := cat.(pdf.Dict).Clone()
				c["Test"] = pdf.Dict{"S": pdf.TextString("ข้อความ"), "St": st}
				u.Set(cref, c)
				upd, _, err := u.Bytes()
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(upd, []byte("secret text")) {
					t.Fatal("the stream was written in the clear")
				}
				out := append(append([]byte{}, enc...), upd...)
				r2 := mustOpen(t, out, e.User)
				if r2.Trailer()["Encrypt"] != r.Trailer()["Encrypt"] {
					t.Errorf("/Encrypt %v, want %v", r2.Trailer()["Encrypt"], r.Trailer()["Encrypt"])
				}
				c2, _, err := r2.Catalog()
				if err != nil {
					t.Fatal(err)
				}
				td, _ := r2.Dict(c2["Test"])
				if s, _ := td["S"].(pdf.String); pdf.DecodeText(s.Bytes) != "ข้อความ" {
					t.Errorf("string read back as %q", s.Bytes)
				}
				so, _ := r2.Resolve(td["St"])
				data, err := r2.StreamData(so.(*pdf.Stream))
				if err != nil || !bytes.Equal(data, secret) {
					t.Errorf("stream read back as %q, %v", data, err)
				}
				// qpdf's decryption of our update agrees.
				dec := mustOpen(t, pdftest.QPDFDecrypt(t, out, e.Owner), "")
				dc, _, _ := dec.Catalog()
				dtd, _ := dec.Dict(dc["Test"])
				if s, _ := dtd["S"].(pdf.String); pdf.DecodeText(s.Bytes) != "ข้อความ" {
					t.Errorf("qpdf decrypts the string to %q", s.Bytes)
				}
				dso, _ := dec.Resolve(dtd["St"])
				if st, ok := dso.(*pdf.Stream); !ok {
					t.Errorf("qpdf: stream %T", dso)
				} else if data, err := dec.StreamData(st); err != nil || !bytes.Equal(data, secret) {
					t.Errorf("qpdf decrypts the stream to %q, %v", data, err)
				}
				pdftest.QPDFCheck(t, out, e.User)
			})
		}
	}
}

// FuzzEncrypted mutates small files qpdf encrypted with every method,
// their /Encrypt dictionaries and ciphertexts included, and reads every
// object and stream with the empty password and with the owner's: errors,
// never a panic, a loop or a long derivation.
func FuzzEncrypted(f *testing.F) {
	doc := pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>",
		"<</Type/Page/Parent 2 0 R/Contents 4 0 R/MediaBox[0 0 612 792]>>",
		"<</Length 24>>\nstream\nBT (secret text) Tj ET q\nendstream",
		"<</Title(ลับ)/Producer(test)>>")
	doc = bytes.Replace(doc, []byte("/Root 1 0 R>>"), []byte("/Root 1 0 R/Info 5 0 R>>"), 1)
	for _, e := range pdftest.Encryptions {
		if e.User == "" {
			f.Add(pdftest.QPDF(f, doc, e), e.Owner)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, pw string) {
		for _, p := range []string{"", pw} {
			r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)), &pdf.ReaderOptions{MaxDecodedBytes: 8 << 20, Password: []byte(p)})
			if err != nil {
				continue
			}
			r.Security()
			r.Catalog()
			for _, s := range r.Sections() {
				entries, err := r.Entries(s)
				if err != nil {
					continue
				}
				for i, e := range entries {
					if i > 200 {
						break
					}
					o, err := r.Object(e.Ref)
					if st, ok := o.(*pdf.Stream); ok && err == nil {
						r.StreamData(st)
					}
				}
			}
			// An update over whatever opened must serialise too.
			u := r.NewUpdate()
			u.Add(&pdf.Stream{Dict: pdf.Dict{"S": pdf.String{Bytes: []byte("x")}}, Data: []byte("data")})
			u.Bytes()
		}
	})
}

// TestCryptFilters: a stream with its own /Crypt filter naming /Identity
// stays in the clear, as qpdf reads it too; with /EncryptMetadata false
// (qpdf --cleartext-metadata) the XMP stream is read in the clear.
func TestCryptFilters(t *testing.T) {
	plain, err := os.ReadFile("../testdata/corpus/memo-libreoffice-pdfa2b.pdf")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []pdftest.Encryption{
		{Name: "R4", Owner: "own", Args: []string{"128", "--use-aes=y", "--cleartext-metadata"}},
		{Name: "R6", Owner: "own", Args: []string{"256", "--cleartext-metadata"}},
	} {
		t.Run(e.Name, func(t *testing.T) {
			enc := pdftest.QPDF(t, plain, e)
			r := mustOpen(t, enc, "")
			cat, cref, err := r.Catalog()
			if err != nil {
				t.Fatal(err)
			}
			md, _ := r.Resolve(cat["Metadata"])
			st, ok := md.(*pdf.Stream)
			if !ok {
				t.Fatalf("metadata %T", md)
			}
			xmp, err := r.StreamData(st)
			if err != nil || !bytes.Contains(xmp, []byte("<x:xmpmeta")) && !bytes.Contains(xmp, []byte("xmpmeta")) {
				t.Fatalf("metadata read as %.60q, %v", xmp, err)
			}
			raw, _ := r.RawStream(st)
			if !bytes.Contains(enc, raw[:min(len(raw), 40)]) {
				t.Error("the cleartext metadata is not stored as it reads")
			}
			// A stream with its own /Crypt filter: /Identity leaves it plain.
			u := r.NewUpdate()
			clear := []byte("BT (not encrypted) Tj ET")
			ref := u.Add(&pdf.Stream{Dict: pdf.Dict{"Filter": pdf.Array{pdf.Name("Crypt")},
				"DecodeParms": pdf.Array{pdf.Dict{"Type": pdf.Name("CryptFilterDecodeParms"), "Name": pdf.Name("Identity")}}}, Data: clear})
			c := cat.Clone()
			c["Clear"] = ref
			u.Set(cref, c)
			upd, _, err := u.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(upd, clear) {
				t.Fatal("the /Identity stream was encrypted")
			}
			out := append(append([]byte{}, enc...), upd...)
			r2 := mustOpen(t, out, "")
			got, _ := r2.Resolve(ref)
			if d, err := r2.StreamData(got.(*pdf.Stream)); err != nil || !bytes.Equal(d, clear) {
				t.Errorf("read back %q, %v", d, err)
			}
			pdftest.QPDFCheck(t, out, "")
			dec := mustOpen(t, pdftest.QPDFDecrypt(t, out, ""), "")
			dc, _, _ := dec.Catalog()
			ds, _ := dec.Resolve(dc["Clear"])
			if d, err := dec.StreamData(ds.(*pdf.Stream)); err != nil || !bytes.Equal(d, clear) {
				t.Errorf("qpdf reads the /Identity stream as %q, %v", d, err)
			}
		})
	}
}

// TestMismatchedVersion: a file whose /Encrypt says /V 5 (AES-256) with a
// revision 4 key derivation is refused at open, naming /V and /R, rather
// than decrypting every string with the wrong cipher.
func TestMismatchedVersion(t *testing.T) {
	plain, err := os.ReadFile("../testdata/corpus/memo-libreoffice.pdf")
	if err != nil {
		t.Fatal(err)
	}
	enc := pdftest.QPDF(t, plain, pdftest.Encryption{Owner: "own", Args: []string{"128", "--use-aes=y"}})
	// Same lengths, so the offsets hold.
	bad := bytes.Replace(enc, []byte("/V 4"), []byte("/V 5"), 1)
	bad = bytes.ReplaceAll(bad, []byte("/AESV2"), []byte("/AESV3"))
	if bytes.Equal(bad, enc) {
		t.Fatal("no /V 4 in qpdf's output")
	}
	_, err = open(t, bad, "")
	if !errors.Is(err, pdf.ErrUnsupportedEncryption) || !bytes.Contains([]byte(err.Error()), []byte("/V 5 with /R 4")) {
		t.Errorf("error %v, want ErrUnsupportedEncryption naming /V 5 with /R 4", err)
	}
}

// TestUndecryptableString: a string that does not decrypt (its padding
// broken) is an error naming the object, never an empty string.
func TestUndecryptableString(t *testing.T) {
	plain, err := os.ReadFile("../testdata/corpus/memo-libreoffice.pdf")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []pdftest.Encryption{
		{Name: "R4", Owner: "own", Args: []string{"128", "--use-aes=y"}},
		{Name: "R6", Owner: "own", Args: []string{"256"}},
	} {
		t.Run(e.Name, func(t *testing.T) {
			enc := pdftest.QPDF(t, plain, e)
			r := mustOpen(t, enc, "")
			u := r.NewUpdate()
			note := u.Add(pdf.Dict{"S": pdf.TextString("a note"), "Empty": pdf.String{Bytes: []byte{}}})
			upd, _, err := u.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			good := append(append([]byte{}, enc...), upd...)
			d, err := mustOpen(t, good, "").Object(note)
			if s, _ := d.(pdf.Dict)["S"].(pdf.String); err != nil || string(s.Bytes) != "a note" {
				t.Fatalf("read back %v, %v", d, err)
			}
			// Blank the string's last byte (two hex digits, so the offsets
			// hold): AES data no longer a whole number of blocks.
			at := bytes.Index(upd, []byte("/S <"))
			if at < 0 {
				t.Fatalf("no hex string in %q", upd)
			}
			end := at + bytes.IndexByte(upd[at:], '>')
			broken := append([]byte{}, upd...)
			broken[end-1], broken[end-2] = ' ', ' '
			out := append(append([]byte{}, enc...), broken...)
			o, err := mustOpen(t, out, "").Object(note)
			if err == nil {
				t.Fatalf("read as %v, want an error", o)
			}
			if !errors.Is(err, crypt.ErrCiphertext) || !strings.Contains(err.Error(), fmt.Sprintf("object %d", note.Num)) {
				t.Errorf("error %v, want ErrCiphertext naming object %d", err, note.Num)
			}
		})
	}
}

// TestRewriteEncrypt: an update that rewrites the /Encrypt dictionary
// writes it in the clear, as §7.6.2 wants, so the file still opens with
// its passwords and the same key.
func TestRewriteEncrypt(t *testing.T) {
	plain, err := os.ReadFile("../testdata/corpus/memo-libreoffice.pdf")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []pdftest.Encryption{
		{Name: "R3", User: "usr", Owner: "own", Args: []string{"128", "--use-aes=n"}},
		{Name: "R4", Owner: "own", Args: []string{"128", "--use-aes=y"}},
		{Name: "R6", User: "usr", Owner: "own", Args: []string{"256"}},
	} {
		t.Run(e.Name, func(t *testing.T) {
			enc := pdftest.QPDF(t, plain, e)
			r := mustOpen(t, enc, e.User)
			encRef, ok := r.Trailer()["Encrypt"].(pdf.Ref)
			if !ok {
				t.Fatalf("/Encrypt %v is not a reference", r.Trailer()["Encrypt"])
			}
			ed, err := r.Dict(encRef)
			if err != nil {
				t.Fatal(err)
			}
			u := r.NewUpdate()
			d := ed.Clone()
			d["Note"] = pdf.Name("rewritten")
			u.Set(encRef, d)
			upd, _, err := u.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			out := append(append([]byte{}, enc...), upd...)
			for _, pw := range []string{e.User, e.Owner} {
				r2, err := open(t, out, pw)
				if err != nil {
					t.Fatalf("password %q after the rewrite: %v", pw, err)
				}
				ed2, _ := r2.Dict(encRef)
				if ed2["Note"] != pdf.Name("rewritten") {
					t.Errorf("rewrite not read back: %v", ed2)
				}
				for _, k := range []pdf.Name{"O", "U"} {
					a, _ := ed[k].(pdf.String)
					b, _ := ed2[k].(pdf.String)
					if !bytes.Equal(a.Bytes, b.Bytes) {
						t.Errorf("/%s changed in the rewrite", k)
					}
				}
			}
			pdftest.QPDFCheck(t, out, e.User)
		})
	}
}

// TestEncryptHandlerPerRevision: a revision reader gets the handler its
// own revision's parameters make, even when /Encrypt reads the same and
// only its indirect /CF was rewritten later.
func TestEncryptHandlerPerRevision(t *testing.T) {
	plain, err := os.ReadFile("../testdata/corpus/memo-libreoffice.pdf")
	if err != nil {
		t.Fatal(err)
	}
	enc := pdftest.QPDF(t, plain, pdftest.Encryption{Owner: "own", Args: []string{"128", "--use-aes=y"}})
	r := mustOpen(t, enc, "")
	encRef := r.Trailer()["Encrypt"].(pdf.Ref)
	ed, err := r.Dict(encRef)
	if err != nil {
		t.Fatal(err)
	}
	// Revision 2: /CF moves into its own object; a note is encrypted with
	// AESV2.
	u := r.NewUpdate()
	cfRef := u.Add(ed["CF"])
	d := ed.Clone()
	d["CF"] = cfRef
	u.Set(encRef, d)
	note := u.Add(pdf.Dict{"S": pdf.TextString("secret note")})
	upd, _, err := u.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	rev2 := append(append([]byte{}, enc...), upd...)
	// Revision 3: the /CF object now says no encryption; /Encrypt itself
	// is unchanged.
	u = mustOpen(t, rev2, "").NewUpdate()
	u.Set(cfRef, pdf.Dict{"StdCF": pdf.Dict{"CFM": pdf.Name("None")}})
	upd, _, err = u.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	rev3 := append(append([]byte{}, rev2...), upd...)

	r3 := mustOpen(t, rev3, "")
	if got := r3.Security().Handler; got != "Standard R4 identity" {
		t.Errorf("revision 3 handler %q", got)
	}
	r2, err := r3.Revision(int64(len(rev2)))
	if err != nil {
		t.Fatal(err)
	}
	if got := r2.Security().Handler; got != "Standard R4 AES-128" {
		t.Errorf("revision 2 handler %q, want AES-128", got)
	}
	o, err := r2.Object(note)
	if s, _ := o.(pdf.Dict)["S"].(pdf.String); err != nil || pdf.DecodeText(s.Bytes) != "secret note" {
		t.Errorf("revision 2 reads the note as %v, %v", o, err)
	}
}
