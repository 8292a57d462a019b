package batch

import (
	"context"
	"strings"
	"testing"

	"esign/api"
	"esign/pdf/pdftest"
	"esign/signer"
	"esign/store"
)

// TestEncryptedDocuments: a batch signs an encrypted document that opens
// with the empty user password, keeping its encryption; one that needs a
// password fails alone with 422 password_required and says to use /sign,
// since a batch never stores a password.
func TestEncryptedDocuments(t *testing.T) {
	h := newHarness(t, store.SQLite)
	e := h.engine(t, 2)
	st := h.create(t, e, nil)
	open := pdftest.QPDF(t, h.pdf, pdftest.Encryption{Owner: "own", Args: []string{"256"}})
	locked := pdftest.QPDF(t, h.pdf, pdftest.Encryption{User: "usr", Owner: "own", Args: []string{"256"}})
	h.add(t, e, st.ID, "open", open, nil)
	h.add(t, e, st.ID, "locked", locked, nil)
	done := h.waitDone(t, e, st.ID)
	if done.Signed != 1 || done.Failed != 1 {
		t.Fatalf("status %+v, want 1 signed and 1 failed", done)
	}
	out := h.checkOutput(t, e, st.ID, "open", open)
	pdftest.QPDFCheck(t, out, "")
	bad, err := e.Document(context.Background(), h.client, st.ID, "locked")
	if err != nil {
		t.Fatal(err)
	}
	_, want := api.StatusOf(signer.ErrPasswordRequired)
	if bad.Error == nil || bad.Error.Status != 422 || bad.Error.Code != want || want != "password_required" ||
		!strings.Contains(bad.Error.Message, "/api/v1/sign") {
		t.Fatalf("locked document: %+v", bad.Error)
	}
}
