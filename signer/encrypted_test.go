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
	"esign/signer"
)

// TestEncryptedPermissions: a file whose /P forbids both form filling
// (bit 6) and filling signature fields (bit 9) is refused unless the
// owner password is given; either bit alone lets it be signed.
func TestEncryptedPermissions(t *testing.T) {
	env := testenv.New(t)
	plain, err := os.ReadFile("../testdata/corpus/memo-libreoffice.pdf")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		pw   string
		want error
	}{
		{"R6 modify=none", []string{"256", "--modify=none"}, "", signer.ErrPermissions},
		{"R6 modify=none owner", []string{"256", "--modify=none"}, "own", nil},
		{"R6 annotate=n", []string{"256", "--annotate=n"}, "", nil},
		{"R6 form=n", []string{"256", "--form=n"}, "", nil},
		{"R4 annotate=n form=n", []string{"128", "--use-aes=y", "--annotate=n", "--form=n"}, "", signer.ErrPermissions},
		{"R4 annotate=n form=n owner", []string{"128", "--use-aes=y", "--annotate=n", "--form=n"}, "own", nil},
		{"R3 modify=none", []string{"128", "--use-aes=n", "--modify=none"}, "", signer.ErrPermissions},
		{"R2 annotate=n", []string{"40", "--annotate=n"}, "", signer.ErrPermissions},
		{"R2 annotate=n owner", []string{"40", "--annotate=n"}, "own", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc := pdftest.QPDF(t, plain, pdftest.Encryption{Owner: "own", Args: c.args})
			res, err := env.Signer.Sign(context.Background(), bytes.NewReader(enc), int64(len(enc)), env.Creds["dev-official"],
				signer.Options{Password: signer.Secret(c.pw)})
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "owner password") || !strings.Contains(err.Error(), "Standard R") {
					t.Errorf("refusal does not say why or what to do: %v", err)
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
