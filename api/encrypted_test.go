package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"esign/pdf/pdftest"
)

// TestSignEncrypted: /sign opens an encrypted PDF with the "password"
// field, answers a missing or wrong one and a forbidding /P with their
// own codes, and neither the log nor the audit holds the password.
func TestSignEncrypted(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, key := newTestServer(t, Config{Logger: logger})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	plain, err := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}
	const (
		user  = "user-pw-mali-5821"
		owner = "owner-pw-somchai-7730"
		wrong = "wrong-pw-prasert-1194"
	)
	withUser := pdftest.QPDF(t, plain, pdftest.Encryption{User: user, Owner: owner, Args: []string{"256"}})
	locked := pdftest.QPDF(t, plain, pdftest.Encryption{Owner: owner, Args: []string{"128", "--use-aes=y", "--modify=none"}})
	cases := []struct {
		name     string
		in       []byte
		password string
		status   int
		code     string
	}{
		{"user password", withUser, user, 200, ""},
		{"owner password", withUser, owner, 200, ""},
		{"no password", withUser, "", 422, "password_required"},
		{"wrong password", withUser, wrong, 422, "wrong_password"},
		{"restricted", locked, "", 409, "signing_not_permitted"},
		{"restricted with the owner password", locked, owner, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			fw, _ := mw.CreateFormFile("file", "memo.pdf")
			fw.Write(c.in)
			mw.WriteField("signer", "signer")
			mw.WriteField("level", "B-B")
			if c.password != "" {
				mw.WriteField("password", c.password)
			}
			mw.Close()
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/v1/sign", &body)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			out, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, out)
			}
			if c.status == 200 {
				pdftest.QPDFCheck(t, append(append([]byte{}, c.in...), out[len(c.in):]...), c.password)
				if !bytes.Equal(out[:len(c.in)], c.in) || !bytes.Contains(out[len(c.in):], []byte("/Encrypt")) {
					t.Error("the signed file does not keep the input and its encryption")
				}
				return
			}
			var e struct{ Error apiError }
			if err := json.Unmarshal(out, &e); err != nil || e.Error.Code != c.code || e.Error.Message == "" {
				t.Errorf("error %s, want code %s", out, c.code)
			}
		})
	}
	entries, err := s.cfg.Audit.Entries(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	audited, _ := json.Marshal(entries)
	for name, where := range map[string]string{"log": logs.String(), "audit": string(audited)} {
		for _, pw := range []string{user, owner, wrong} {
			if strings.Contains(where, pw) {
				t.Errorf("the %s holds a password", name)
			}
		}
	}
}
