package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/gin-gonic/gin"
)

// FuzzReadForm feeds raw multipart bodies, under a boundary of the
// fuzzer's choosing, to the sign request's parser: readForm and the
// option checks that follow it, as POST /api/v1/sign runs them. Every
// failure must map to a 4xx (the client's mistake, never the service's),
// a success must hold the file, and nothing may panic. A small upload
// limit and no memory budget make the fuzzer reach the 413 and the
// spool-to-disk paths too. Seeds: testdata/fuzz/FuzzReadForm.
func FuzzReadForm(f *testing.F) {
	memo, err := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	if err != nil {
		f.Fatal(err)
	}
	for _, fields := range [][]string{
		{"signer", "signer", "level", "B-B"},
		{"signer", "s", "visible", "true", "page", "1", "rect", "72,72,272,132", "lock", "true", "certify", "2"},
		{"signer", "s", "field", "Sig", "visible", "1", "doc_number", "ศธ 0001/1", "urgency", "ด่วน"},
		{"signer", "s", "certfy", "1"},
	} {
		body, ctype := hostileBody(memo[:2048], nil, fields...)
		f.Add(ctype[len("multipart/form-data; boundary="):], body)
	}
	gin.SetMode(gin.ReleaseMode)
	// One server keeps uploads in memory, the other has no budget for
	// them and spools each to disk.
	servers := []*Server{
		New(Config{MaxUpload: 16 << 10, UploadMemory: 1 << 20}),
		New(Config{MaxUpload: 16 << 10, UploadMemory: 1}),
	}
	f.Fuzz(func(t *testing.T, boundary string, body []byte) {
		for _, s := range servers {
			parseOne(t, s, boundary, body)
			if free := s.memory.free.Load(); free != s.cfg.UploadMemory {
				t.Fatalf("%d bytes of the upload budget not given back", s.cfg.UploadMemory-free)
			}
		}
	})
}

func parseOne(t *testing.T, s *Server, boundary string, body []byte) {
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	c.Request = httptest.NewRequest(http.MethodPost, "/api/v1/sign", bytes.NewReader(body))
	c.Request.Header.Set("Content-Type", `multipart/form-data; boundary="`+boundary+`"`)
	req, err := s.parseSign(c)
	if req != nil {
		defer req.form.close()
	}
	if err != nil {
		if status, code := statusOf(err); status < 400 || status >= 500 {
			t.Fatalf("%d %s: %v", status, code, err)
		}
		return
	}
	if req.file == nil || req.size != req.file.size || req.Signer == "" {
		t.Fatalf("accepted without a file or signer: %+v", req)
	}
	if req.size > s.cfg.MaxUpload {
		t.Fatalf("accepted %d bytes past the %d limit", req.size, s.cfg.MaxUpload)
	}
}
