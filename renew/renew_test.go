package renew_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"esign/internal/testenv"
	"esign/pdf/pdftest"
	"esign/renew"
	"esign/signer"
)

// TestPasswordProtected: a signed file encrypted with a user password is
// reported as needing its password (password_required), not as an
// invalid PDF, and is decided as any other file once the password is
// given; a wrong password is reported alike.
func TestPasswordProtected(t *testing.T) {
	env := testenv.New(t)
	plain, err := os.ReadFile("../testdata/corpus/memo-libreoffice.pdf")
	if err != nil {
		t.Fatal(err)
	}
	enc := pdftest.QPDF(t, plain, pdftest.Encryption{User: "usr", Owner: "own", Args: []string{"256"}})
	res, err := env.Signer.Sign(context.Background(), bytes.NewReader(enc), int64(len(enc)), env.Creds["dev-official"],
		signer.Options{Password: signer.Secret("usr")})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := res.Write(&out, bytes.NewReader(enc)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "locked.pdf")
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, pw string
		want     renew.Outcome
		err      error
	}{
		{"no password", "", renew.Failed, renew.ErrPasswordRequired},
		{"wrong password", "nope", renew.Failed, renew.ErrPasswordRequired},
		{"user password", "usr", renew.Due, nil},
		{"owner password", "own", renew.Due, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Within a century: the signer certificate is due.
			r := renew.File(context.Background(), path, renew.Options{DryRun: true, Within: 100 * 365 * 24 * time.Hour, Password: signer.Secret(c.pw)})
			if r.Outcome != c.want || !errors.Is(r.Err, c.err) {
				t.Fatalf("outcome %s, error %v; want %s, %v", r.Outcome, r.Err, c.want, c.err)
			}
			if c.err != nil {
				if errors.Is(r.Err, signer.ErrInvalidPDF) || !strings.Contains(r.Why, "password_required") {
					t.Errorf("reported as %q", r.Why)
				}
				if c.pw != "" && strings.Contains(r.Why, c.pw) {
					t.Errorf("the report carries the password: %q", r.Why)
				}
			}
		})
	}
}
