package signer_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"esign/internal/testenv"
	"esign/pdf/pdftest"
	"esign/qrstamp"
	"esign/signer"
)

// TestEncryptedPermissions follows ISO 32000-1 Table 22 without the owner
// password: an existing empty signature field may be signed with bit 9 or
// bit 6; a new signature field (and a document timestamp's) needs bits 6
// and 4; overlays into page content and embedded files need bit 4. Each
// refusal names what is forbidden; the owner password lifts them all.
func TestEncryptedPermissions(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	plain, err := os.ReadFile("../testdata/corpus/memo-libreoffice.pdf")
	if err != nil {
		t.Fatal(err)
	}
	// The same memo with an empty signature field "slot", encrypted after.
	add, err := signer.AddFields(ctx, bytes.NewReader(plain), int64(len(plain)),
		[]signer.FieldSpec{{Name: "slot", Page: 1, Rect: [4]float64{50, 50, 200, 110}}})
	if err != nil {
		t.Fatal(err)
	}
	withField := append(append([]byte{}, plain...), add.Appended...)
	stamp, err := qrstamp.New("https://verify.example.go.th/d/Hq3v1yS0cWJm2x8ZpL4dKA", qrstamp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	xml := []signer.Attachment{{Name: "t.xml", MIME: "application/xml", Data: []byte("<t/>")}}

	const (
		r6None     = "256 --modify=none"
		r6NoAnnot  = "256 --annotate=n"
		r6NoForm   = "256 --form=n"
		r6NoOther  = "256 --modify-other=n"
		r4FormOnly = "128 --use-aes=y --modify=none --form=y --annotate=n"
		r4NoAnnot  = "128 --use-aes=y --annotate=n --form=n"
		r3None     = "128 --use-aes=n --modify=none"
		r2NoAnnot  = "40 --annotate=n"
	)
	cases := []struct {
		name    string
		enc     string
		field   bool // sign the existing empty field rather than a new one
		overlay bool
		attach  bool
		level   signer.Level
		pw      string
		want    error
		says    string
	}{
		// Nothing allowed: bits 4, 6 and 9 clear.
		{name: "R6 modify=none", enc: r6None, want: signer.ErrPermissions, says: `creating signature field "Signature1"`},
		{name: "R6 modify=none existing field", enc: r6None, field: true, want: signer.ErrPermissions, says: `filling in the signature field "slot"`},
		{name: "R6 modify=none owner", enc: r6None, pw: "own", overlay: true, attach: true},
		// Bit 6 clear: bit 9 fills the existing field, but no new field
		// may be made, since bit 6 governs creating fields. (Until this
		// split, a new field was allowed here.)
		{name: "R6 annotate=n", enc: r6NoAnnot, want: signer.ErrPermissions, says: "bits 6 and 4"},
		{name: "R6 annotate=n existing field", enc: r6NoAnnot, field: true},
		{name: "R6 annotate=n existing field overlay attachment", enc: r6NoAnnot, field: true, overlay: true, attach: true},
		{name: "R6 annotate=n existing field B-LTA", enc: r6NoAnnot, field: true, level: signer.LevelLTA, want: signer.ErrPermissions, says: "document timestamp"},
		{name: "R6 annotate=n owner", enc: r6NoAnnot, pw: "own"},
		// Bit 9 clear, bits 6 and 4 set: anything a signature does.
		{name: "R6 form=n", enc: r6NoForm},
		{name: "R6 form=n overlay attachment", enc: r6NoForm, overlay: true, attach: true},
		// Bit 4 clear: existing fields only, and no overlay or file.
		{name: "R6 modify-other=n", enc: r6NoOther, want: signer.ErrPermissions, says: "bits 6 and 4"},
		{name: "R6 modify-other=n existing field", enc: r6NoOther, field: true},
		{name: "R6 modify-other=n existing field overlay", enc: r6NoOther, field: true, overlay: true, want: signer.ErrPermissions, says: "drawing overlays into page content"},
		{name: "R6 modify-other=n existing field attachment", enc: r6NoOther, field: true, attach: true, want: signer.ErrPermissions, says: "embedding files"},
		// Only bit 9: the existing field, nothing else.
		{name: "R4 form only overlay attachment", enc: r4FormOnly, overlay: true, attach: true, want: signer.ErrPermissions, says: "overlays"},
		{name: "R4 form only existing field", enc: r4FormOnly, field: true},
		{name: "R4 form only existing field overlay", enc: r4FormOnly, field: true, overlay: true, want: signer.ErrPermissions, says: "bit 4"},
		{name: "R4 form only owner", enc: r4FormOnly, pw: "own", overlay: true, attach: true},
		{name: "R4 annotate=n form=n", enc: r4NoAnnot, field: true, want: signer.ErrPermissions, says: "bit 9"},
		{name: "R4 annotate=n form=n owner", enc: r4NoAnnot, pw: "own"},
		{name: "R3 modify=none", enc: r3None, field: true, want: signer.ErrPermissions, says: "filling in"},
		// R2 has no bit 9: bit 6 clear forbids even the existing field.
		{name: "R2 annotate=n existing field", enc: r2NoAnnot, field: true, want: signer.ErrPermissions, says: "filling in"},
		{name: "R2 annotate=n owner", enc: r2NoAnnot, pw: "own"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := plain
			opts := signer.Options{Password: signer.Secret(c.pw), Level: c.level}
			if c.field {
				in, opts.Field = withField, "slot"
			}
			if c.overlay {
				opts.Overlays = []signer.Overlay{stamp}
			}
			if c.attach {
				opts.Attachments = xml
			}
			enc := pdftest.QPDF(t, in, pdftest.Encryption{Owner: "own", Args: strings.Fields(c.enc)})
			res, err := env.Signer.Sign(ctx, bytes.NewReader(enc), int64(len(enc)), env.Creds["dev-official"], opts)
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "owner password") || !strings.Contains(err.Error(), "Standard R") || !strings.Contains(err.Error(), c.says) {
					t.Errorf("refusal does not say why (%q) or what to do: %v", c.says, err)
				}
				return
			}
			var out bytes.Buffer
			if _, err := res.Write(&out, bytes.NewReader(enc)); err != nil {
				t.Fatal(err)
			}
			pdftest.QPDFCheck(t, out.Bytes(), c.pw)
		})
	}
	// Extension adds validation data, which bit 9 allows as it allows the
	// signature, and for B-LTA a document timestamp: a new field.
	enc := pdftest.QPDF(t, withField, pdftest.Encryption{Owner: "own", Args: strings.Fields(r6NoAnnot)})
	signed := signFile(t, env.Signer, enc, env.Creds["dev-official"], signer.Options{Field: "slot", Level: signer.LevelT})
	for _, c := range []struct {
		level signer.Level
		pw    string
		want  error
	}{{signer.LevelLT, "", nil}, {signer.LevelLTA, "", signer.ErrPermissions}, {signer.LevelLTA, "own", nil}} {
		_, err := env.Signer.Extend(ctx, bytes.NewReader(signed), int64(len(signed)), signer.ExtendOptions{Level: c.level, Password: signer.Secret(c.pw)})
		if !errors.Is(err, c.want) || err != nil && !strings.Contains(err.Error(), "document timestamp") {
			t.Errorf("extend to %s, password %q: %v, want %v", c.level, c.pw, err, c.want)
		}
	}
	// Adding empty fields creates fields too.
	enc = pdftest.QPDF(t, plain, pdftest.Encryption{Owner: "own", Args: strings.Fields(r6NoAnnot)})
	_, err = signer.AddFields(ctx, bytes.NewReader(enc), int64(len(enc)), []signer.FieldSpec{{Name: "x", Page: 1, Rect: [4]float64{50, 50, 200, 110}}})
	if !errors.Is(err, signer.ErrPermissions) || !strings.Contains(err.Error(), `creating signature field "x"`) {
		t.Errorf("AddFields with /P bit 6 clear: %v", err)
	}
}

// TestEncryptedRefusals: a missing or wrong password, and handlers that
// are not implemented, each get their own error naming the problem.
func TestEncryptedRefusals(t *testing.T) {
	env := testenv.New(t)
	plain, err := os.ReadFile("../testdata/corpus/memo-libreoffice.pdf")
	if err != nil {
		t.Fatal(err)
	}
	userPW := pdftest.QPDF(t, plain, pdftest.Encryption{User: "usr", Owner: "own", Args: []string{"256"}})
	handler := func(filter string) []byte {
		b := pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>",
			"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>",
			"<</Filter/"+filter+"/V 4/R 4/SubFilter/adbe.pkcs7.s5/Recipients[<3000>]>>")
		return bytes.Replace(b, []byte("/Root 1 0 R>>"), []byte("/Root 1 0 R/Encrypt 4 0 R/ID[<00><00>]>>"), 1)
	}
	cases := []struct {
		name string
		in   []byte
		pw   string
		want error
		says string
	}{
		{"no password", userPW, "", signer.ErrPasswordRequired, "password"},
		{"wrong password", userPW, "nope", signer.ErrWrongPassword, "wrong password"},
		{"user password", userPW, "usr", nil, ""},
		{"public key", handler("Adobe.PubSec"), "", signer.ErrEncrypted, "Adobe.PubSec"},
		{"unknown handler", handler("Acme.Secret"), "", signer.ErrEncrypted, "Acme.Secret"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := env.Signer.Sign(context.Background(), bytes.NewReader(c.in), int64(len(c.in)), env.Creds["dev-official"],
				signer.Options{Password: signer.Secret(c.pw)})
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if err != nil && !strings.Contains(err.Error(), c.says) {
				t.Errorf("error %q does not say %q", err, c.says)
			}
			if err != nil && c.pw != "" && strings.Contains(err.Error(), c.pw) {
				t.Errorf("error %q carries the password", err)
			}
		})
	}
}
