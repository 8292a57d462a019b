package api

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"esign/appearance"
	"esign/internal/extverify"
	"esign/pdf/pdftest"
	"esign/signer"
	"esign/store"
)

// objStmPDF builds a PDF whose page tree root (object 2) lies in object
// stream 4 with the given /N and /First, read through an xref stream
// (object 5). With self set, the xref puts object 4 in itself.
func objStmPDF(n, first int64, self bool) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := map[int]int{}
	obj := func(num int, body string) {
		offs[num] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", num, body)
	}
	obj(1, "<</Type/Catalog/Pages 2 0 R>>")
	obj(3, "<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>")
	data := "2 0 <</Type/Pages/Kids[3 0 R]/Count 1>>"
	obj(4, fmt.Sprintf("<</Type/ObjStm/N %d/First %d/Length %d>>\nstream\n%s\nendstream", n, first, len(data), data))
	offs[5] = b.Len()
	row := func(typ byte, a uint32, c uint16) []byte {
		r := []byte{typ, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(r[1:], a)
		binary.BigEndian.PutUint16(r[5:], c)
		return r
	}
	var rows []byte
	rows = append(rows, row(0, 0, 65535)...)
	rows = append(rows, row(1, uint32(offs[1]), 0)...)
	rows = append(rows, row(2, 4, 0)...)
	rows = append(rows, row(1, uint32(offs[3]), 0)...)
	if self {
		rows = append(rows, row(2, 4, 0)...)
	} else {
		rows = append(rows, row(1, uint32(offs[4]), 0)...)
	}
	rows = append(rows, row(1, uint32(offs[5]), 0)...)
	fmt.Fprintf(&b, "5 0 obj\n<</Type/XRef/Size 6/W[1 4 2]/Root 1 0 R/Length %d>>\nstream\n%s\nendstream\nendobj\n", len(rows), rows)
	fmt.Fprintf(&b, "startxref\n%d\n%%%%EOF\n", offs[5])
	return b.Bytes()
}

// pngOf encodes a w×h image of noise, which does not compress.
func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i*7919>>3) ^ byte(i)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hugePNG is a valid 4×4 PNG whose header claims w×h pixels.
func hugePNG(t *testing.T, w, h uint32) []byte {
	b := pngOf(t, 4, 4)
	// The signature (8), IHDR's length and type (8), then width, height.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// newHostileServer is newTestServer with visible signatures, drawn as the
// daemon draws them.
func newHostileServer(t *testing.T, cfg Config) (*httptest.Server, string) {
	t.Helper()
	font, err := appearance.Laksaman()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Appearance = func(_ *store.Credential, p Placement) (signer.Appearance, error) {
		return &appearance.Thai{Page: max(p.Page-1, 0), Rect: p.Rect, Image: p.Image, Font: font, Name: "ทดสอบ"}, nil
	}
	s, key := newTestServer(t, cfg)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts, key
}

// hostileBody is a multipart body with the PDF, the image when not nil,
// and the fields in a fixed order.
func hostileBody(pdf, img []byte, fields ...string) ([]byte, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("file", "in.pdf")
	fw.Write(pdf)
	if img != nil {
		iw, _ := mw.CreateFormFile("image", "sig.png")
		iw.Write(img)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

// postRaw sends body to path and returns the status and the error code.
func postRaw(t *testing.T, base, path, key, ctype string, body []byte) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	var e struct{ Error apiError }
	json.Unmarshal(out, &e)
	return resp.StatusCode, e.Error.Code, out
}

// TestHostileInput sends each malformed request, placement and document
// to the real endpoints: each is the client's mistake and gets a 4xx with
// its stable code, never a 5xx, and the server signs the next request.
func TestHostileInput(t *testing.T) {
	ts, key := newHostileServer(t, Config{})
	memo, err := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}
	goodPNG := pngOf(t, 40, 20)
	big := pngOf(t, 300, 300)
	visible := func(page, rect string) []string {
		return []string{"signer", "signer", "level", "B-B", "visible", "true", "page", page, "rect", rect}
	}
	invisible := []string{"signer", "signer", "level", "B-B"}
	page := "<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>"
	cases := []struct {
		name   string
		path   string // default /api/v1/sign
		pdf    []byte
		image  []byte
		fields []string
		code   string
	}{
		// Placement.
		{name: "page past the last", pdf: memo, fields: visible("2", "72,72,272,132"), code: "bad_request"},
		{name: "page 2^31", pdf: memo, fields: visible("2147483648", "72,72,272,132"), code: "bad_request"},
		{name: "page 2^63", pdf: memo, fields: visible("9223372036854775807", "72,72,272,132"), code: "bad_request"},
		{name: "rect NaN", pdf: memo, fields: visible("1", "NaN,72,272,132"), code: "bad_request"},
		{name: "rect all NaN", pdf: memo, fields: visible("1", "NaN,NaN,NaN,NaN"), code: "bad_request"},
		{name: "rect +Inf", pdf: memo, fields: visible("1", "72,72,+Inf,132"), code: "bad_request"},
		{name: "rect -Inf", pdf: memo, fields: visible("1", "-Inf,72,272,132"), code: "bad_request"},
		{name: "rect 1e308", pdf: memo, fields: visible("1", "0,0,1e308,1e308"), code: "bad_request"},
		{name: "rect JSON 1e308", pdf: memo, fields: visible("1", "[-1e308,0,1e308,100]"), code: "bad_request"},
		{name: "rect 1x1 pt", pdf: memo, fields: visible("1", "72,72,73,73"), code: "bad_request"},
		{name: "rect 20000x20000 pt", pdf: memo, fields: visible("1", "0,0,20000,20000"), code: "bad_request"},
		{name: "visible in a field that does not exist", pdf: memo, fields: []string{"signer", "signer", "level", "B-B", "visible", "true", "field", "Nope"}, code: "bad_request"},
		{name: "image without a place", pdf: memo, image: goodPNG, fields: invisible, code: "bad_request"},
		{name: "image not a PNG", pdf: memo, image: []byte("GIF89a not a png at all"), fields: visible("1", "72,72,272,132"), code: "bad_request"},
		{name: "image truncated", pdf: memo, image: big[:len(big)/2], fields: visible("1", "72,72,272,132"), code: "bad_request"},
		{name: "image 30000x30000 px", pdf: memo, image: hugePNG(t, 30000, 30000), fields: visible("1", "72,72,272,132"), code: "bad_request"},
		{name: "image 2^31 px wide", pdf: memo, image: hugePNG(t, 1<<31-1, 1), fields: visible("1", "72,72,272,132"), code: "bad_request"},

		// Malformed documents, signed invisibly.
		{name: "kids point at themselves", pdf: pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[2 0 R]/Count 1>>"), fields: invisible, code: "invalid_pdf"},
		{name: "kids point at an ancestor", pdf: pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>", "<</Type/Pages/Parent 2 0 R/Kids[2 0 R]/Count 1>>"), fields: invisible, code: "invalid_pdf"},
		{name: "pages missing", pdf: pdftest.Build("<</Type/Catalog>>"), fields: invisible, code: "invalid_pdf"},
		{name: "pages direct", pdf: pdftest.Build("<</Type/Catalog/Pages<</Type/Pages/Kids[2 0 R]/Count 1>>>>", "<</Type/Page/MediaBox[0 0 595 842]>>"), fields: invisible, code: "invalid_pdf"},
		{name: "pages not a dictionary", pdf: pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "42"), fields: invisible, code: "invalid_pdf"},
		{name: "reference loop", pdf: pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "3 0 R", "2 0 R"), fields: invisible, code: "invalid_pdf"},
		{name: "kids reference loop", pdf: pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids 3 0 R/Count 1>>", "4 0 R", "3 0 R"), fields: invisible, code: "invalid_pdf"},
		{name: "count 1e400", pdf: pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1e400>>", page), fields: invisible, code: "invalid_pdf"},
		{name: "1e400 on the page", pdf: pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>", "<</Type/Page/Parent 2 0 R/MediaBox[0 0 1e400 842]/Rotate 1e400>>"), fields: invisible, code: "invalid_pdf"},
		{name: "400 digits on the page", pdf: pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>", "<</Type/Page/Parent 2 0 R/MediaBox[0 0 1"+strings.Repeat("0", 400)+" 842]>>"), fields: invisible, code: "invalid_pdf"},
		{name: "1e400 on the page, visible", pdf: pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>", "<</Type/Page/Parent 2 0 R/MediaBox[0 0 1e400 842]>>"), fields: visible("1", "72,72,272,132"), code: "invalid_pdf"},
		{name: "object stream /N 10^9", pdf: objStmPDF(1e9, 4, false), fields: invisible, code: "invalid_pdf"},
		{name: "object stream /N 2^20", pdf: objStmPDF(1<<20, 4, false), fields: invisible, code: "invalid_pdf"},
		{name: "object stream /First past its data", pdf: objStmPDF(1, 1<<30, false), fields: invisible, code: "invalid_pdf"},
		{name: "object stream /First negative", pdf: objStmPDF(1, -4, false), fields: invisible, code: "invalid_pdf"},
		{name: "object stream in itself", pdf: objStmPDF(1, 4, true), fields: invisible, code: "invalid_pdf"},

		// /api/v1/fields.
		{name: "fields rect 1e300", path: "/api/v1/fields", pdf: memo, fields: []string{"fields", `[{"name":"A","page":1,"rect":[-1e300,-1e300,1e300,1e300]}]`}, code: "bad_request"},
		{name: "fields rect 1x1 pt", path: "/api/v1/fields", pdf: memo, fields: []string{"fields", `[{"name":"A","page":1,"rect":[72,72,73,73]}]`}, code: "bad_request"},
		{name: "fields rect 20000 pt", path: "/api/v1/fields", pdf: memo, fields: []string{"fields", `[{"name":"A","page":1,"rect":[0,0,20000,100]}]`}, code: "bad_request"},
		{name: "fields page 2^31", path: "/api/v1/fields", pdf: memo, fields: []string{"fields", `[{"name":"A","page":2147483648,"rect":[72,72,272,132]}]`}, code: "bad_request"},
		{name: "fields kids loop", path: "/api/v1/fields", pdf: pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[2 0 R]/Count 1>>"), fields: []string{"fields", `[{"name":"A","page":1,"rect":[72,72,272,132]}]`}, code: "invalid_pdf"},
		{name: "fields object stream in itself", path: "/api/v1/fields", pdf: objStmPDF(1, 4, true), fields: []string{"fields", `[{"name":"A","page":1,"rect":[72,72,272,132]}]`}, code: "invalid_pdf"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.path
			if path == "" {
				path = "/api/v1/sign"
			}
			body, ctype := hostileBody(c.pdf, c.image, c.fields...)
			status, code, out := postRaw(t, ts.URL, path, key, ctype, body)
			switch {
			case status < 400 || status >= 500:
				t.Errorf("status %d, want 4xx: %.300s", status, out)
			case code != c.code:
				t.Errorf("code %q, want %q: %.300s", code, c.code, out)
			}
			t.Logf("%d %s", status, out[:min(len(out), 160)])
			assertSigns(t, ts.URL, key)
		})
	}
}

// assertSigns checks the server still signs an ordinary request.
func assertSigns(t *testing.T, base, key string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(newSignRequest(t, base, key))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the next ordinary request: %s", resp.Status)
	}
}

// TestBrokenUploads: a multipart body cut short, or a client that stops
// sending mid-upload, is the client's mistake: 400, in memory or spooled
// to disk alike.
func TestBrokenUploads(t *testing.T) {
	memo, err := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}
	for _, budget := range []struct {
		name   string
		memory int64
	}{{"in memory", 0}, {"spooled", 1}} {
		ts, key := newHostileServer(t, Config{UploadMemory: budget.memory})
		body, ctype := hostileBody(memo, nil, "signer", "signer", "level", "B-B")
		t.Run(budget.name+"/truncated body", func(t *testing.T) {
			cut := body[:bytes.Index(body, []byte("%%EOF"))]
			status, code, out := postRaw(t, ts.URL, "/api/v1/sign", key, ctype, cut)
			if status != http.StatusBadRequest || code != "bad_request" {
				t.Errorf("%d %q, want 400 bad_request: %s", status, code, out)
			}
			assertSigns(t, ts.URL, key)
		})
		t.Run(budget.name+"/client stops mid-upload", func(t *testing.T) {
			u, _ := url.Parse(ts.URL)
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /api/v1/sign HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
				u.Host, key, ctype, len(body))
			conn.Write(body[:len(body)/2])
			conn.(*net.TCPConn).CloseWrite() // the client is gone
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s, want 400: %s", resp.Status, out)
			}
			assertSigns(t, ts.URL, key)
		})
	}
}

// TestFieldsExtremeRects: the largest and smallest rectangles /fields
// accepts make a file qpdf accepts, and a visible signature goes into
// each field.
func TestFieldsExtremeRects(t *testing.T) {
	ts, key := newHostileServer(t, Config{})
	memo, err := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}
	specs := `[{"name":"Far","page":1,"rect":[-1000000,-1000000,-985600,-985600]},` +
		`{"name":"Wide","page":1,"rect":[985600,999995.5,1000000,1000000]},` +
		`{"name":"Small","page":1,"rect":[0.5,0.5,4.5,4.5]}]`
	body, ctype := hostileBody(memo, nil, "fields", specs)
	status, _, out := postRaw(t, ts.URL, "/api/v1/fields", key, ctype, body)
	if status != http.StatusOK {
		t.Fatalf("fields: %d %s", status, out)
	}
	path := filepath.Join(t.TempDir(), "fields.pdf")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := extverify.QPDFCheck(path); err != nil {
		t.Error(err)
	}
	for _, name := range []string{"Far", "Wide", "Small"} {
		body, ctype := hostileBody(out, nil, "signer", "signer", "level", "B-B", "visible", "true", "field", name)
		status, _, signed := postRaw(t, ts.URL, "/api/v1/sign", key, ctype, body)
		if status != http.StatusOK {
			t.Errorf("sign into %s: %d %s", name, status, signed)
			continue
		}
		path := filepath.Join(t.TempDir(), name+".pdf")
		os.WriteFile(path, signed, 0o600)
		if err := extverify.QPDFCheck(path); err != nil {
			t.Errorf("signed into %s: %v", name, err)
		}
	}
}
