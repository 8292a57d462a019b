package api

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// TestUnknownFields: a field the endpoint does not know is refused with
// 400 unknown_field naming it, and no PDF comes back; the same request
// without it signs. A misspelt "certfy" must not sign uncertified.
func TestUnknownFields(t *testing.T) {
	srv, key := newTestServer(t, Config{})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	pdf, err := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}
	post := func(path string, fields map[string]string) (int, string, string) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "memo.pdf")
		fw.Write(pdf)
		for k, v := range fields {
			mw.WriteField(k, v)
		}
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct {
			Error apiError `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e.Error.Code, e.Error.Message
	}
	field := `[{"name":"Approval","page":1,"rect":[72,72,272,132]}]`
	for _, tc := range []struct {
		name, path string
		fields     map[string]string
		status     int
		code       string
	}{
		{"sign", "/api/v1/sign", map[string]string{"signer": "signer", "level": "B-B"}, http.StatusOK, ""},
		{"sign with certfy", "/api/v1/sign", map[string]string{"signer": "signer", "level": "B-B", "certfy": "1"}, http.StatusBadRequest, "unknown_field"},
		{"sign with a field of another version", "/api/v1/sign", map[string]string{"signer": "signer", "level": "B-B", "x_future": "y"}, http.StatusBadRequest, "unknown_field"},
		{"fields", "/api/v1/fields", map[string]string{"fields": field}, http.StatusOK, ""},
		{"fields with a sign field", "/api/v1/fields", map[string]string{"fields": field, "signer": "signer"}, http.StatusBadRequest, "unknown_field"},
		{"fields with an unknown JSON member", "/api/v1/fields", map[string]string{"fields": `[{"name":"A","page":1,"rect":[72,72,272,132],"lock":true}]`}, http.StatusBadRequest, "unknown_field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, code, msg := post(tc.path, tc.fields)
			if status != tc.status || code != tc.code {
				t.Fatalf("%d %q (%s), want %d %q", status, code, msg, tc.status, tc.code)
			}
		})
	}
}
