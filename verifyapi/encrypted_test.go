package verifyapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"esign/pdf/pdftest"
)

// TestVerifyEncrypted: the "password" field opens an encrypted PDF; a
// missing or wrong one gets its own 422 code; the report names the
// handler; the log never holds the password.
func TestVerifyEncrypted(t *testing.T) {
	plain, err := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}
	const user, owner, wrong = "user-pw-wilai-3317", "owner-pw-anan-8842", "wrong-pw-chai-5530"
	enc := pdftest.QPDF(t, plain, pdftest.Encryption{User: user, Owner: owner, Args: []string{"128", "--use-aes=y"}})
	var logs bytes.Buffer
	h := New(Config{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}).Handler()
	for _, c := range []struct {
		name, password string
		twice          bool
		status         int
		code           string
	}{
		{"user", user, false, 200, ""},
		{"owner", owner, false, 200, ""},
		{"none", "", false, 422, codePasswordRequired},
		{"wrong", wrong, false, 422, codeWrongPassword},
		{"twice", user, true, 400, "unknown_field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			fw, _ := mw.CreateFormFile("file", "doc.pdf")
			fw.Write(enc)
			if c.password != "" {
				mw.WriteField("password", c.password)
			}
			if c.twice {
				mw.WriteField("password", c.password)
			}
			mw.Close()
			req := httptest.NewRequest(http.MethodPost, "/api/v1/verify", &body)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			var out struct {
				Document struct {
					Encrypted  bool   `json:"encrypted"`
					Encryption string `json:"encryption"`
				} `json:"document"`
				Error struct{ Code string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			if c.status == 200 && (!out.Document.Encrypted || out.Document.Encryption != "Standard R4 AES-128") {
				t.Errorf("document %+v", out.Document)
			}
			if c.status != 200 && out.Error.Code != c.code {
				t.Errorf("code %q, want %q", out.Error.Code, c.code)
			}
			if strings.Contains(rec.Body.String(), c.password) && c.password != "" {
				t.Error("the answer holds the password")
			}
		})
	}
	for _, pw := range []string{user, owner, wrong} {
		if strings.Contains(logs.String(), pw) {
			t.Error("the log holds a password")
		}
	}
}
