package signopts

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"esign/signer"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   map[string]string
		ok   bool
		want func(*Request) bool
	}{
		{"defaults", map[string]string{"signer": "s"}, true, func(r *Request) bool {
			return r.Options.Level == signer.LevelLT && r.Options.Certify == 0 && r.Placement == nil && !r.Visible
		}},
		{"no signer", map[string]string{"level": "B-B"}, false, nil},
		{"level", map[string]string{"signer": "s", "level": "B-LTA"}, true, func(r *Request) bool { return r.Options.Level == signer.LevelLTA }},
		{"bad level", map[string]string{"signer": "s", "level": "B-Z"}, false, nil},
		{"certify", map[string]string{"signer": "s", "certify": "2"}, true, func(r *Request) bool { return r.Options.Certify == 2 }},
		{"certify none", map[string]string{"signer": "s", "certify": "none"}, true, func(r *Request) bool { return r.Options.Certify == 0 }},
		{"bad certify", map[string]string{"signer": "s", "certify": "4"}, false, nil},
		{"lock", map[string]string{"signer": "s", "lock": "true"}, true, func(r *Request) bool { return r.Options.LockField }},
		{"bad lock", map[string]string{"signer": "s", "lock": "yes"}, false, nil},
		{"long reason", map[string]string{"signer": "s", "reason": strings.Repeat("ก", 400)}, false, nil},
		{"metadata", map[string]string{"signer": "s", "doc_number": "ศธ 0201/1234", "urgency": "ด่วนที่สุด"}, true, func(r *Request) bool {
			return r.Metadata.Number == "ศธ 0201/1234" && r.Metadata.Urgency == "ด่วนที่สุด"
		}},
		{"metadata not UTF-8", map[string]string{"signer": "s", "subject": "\xff"}, false, nil},
		{"placement", map[string]string{"signer": "s", "page": "2", "rect": "350,60,550,140"}, true, func(r *Request) bool {
			return r.Placement != nil && r.Placement.Page == 2 && r.Placement.Rect == [4]float64{350, 60, 550, 140} && r.NeedsAppearance()
		}},
		{"placement JSON", map[string]string{"signer": "s", "page": "1", "rect": "[10, 10, 200, 80]"}, true, func(r *Request) bool {
			return r.Placement.Rect == [4]float64{10, 10, 200, 80}
		}},
		{"rect without page", map[string]string{"signer": "s", "rect": "1,1,100,100"}, false, nil},
		{"page zero", map[string]string{"signer": "s", "page": "0", "rect": "1,1,100,100"}, false, nil},
		{"rect reversed", map[string]string{"signer": "s", "page": "1", "rect": "100,1,1,100"}, false, nil},
		{"rect too small", map[string]string{"signer": "s", "page": "1", "rect": "1,1,2,2"}, false, nil},
		{"visible without place", map[string]string{"signer": "s", "visible": "true"}, false, nil},
		{"visible in field", map[string]string{"signer": "s", "visible": "1", "field": "Registrar"}, true, func(r *Request) bool {
			return r.Visible && r.Options.Field == "Registrar"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(func(k string) string { return tc.in[k] }, Files{})
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, signer.ErrBadOptions) {
				t.Errorf("error %v is neither ErrInvalid nor signer.ErrBadOptions: the API would answer 500", err)
			}
			if tc.want != nil && !tc.want(r) {
				t.Errorf("parsed %+v", r)
			}
		})
	}
}

func TestImage(t *testing.T) {
	get := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if _, err := Parse(get(map[string]string{"signer": "s"}), Files{Image: []byte("png")}); err == nil {
		t.Error("an image with no field and no page was accepted")
	}
	r, err := Parse(get(map[string]string{"signer": "s", "field": "f"}), Files{Image: []byte("png")})
	if err != nil || r.Placement == nil || r.Placement.Page != 0 {
		t.Errorf("image into a field: %+v %v", r, err)
	}
	if _, err := Parse(get(map[string]string{"signer": "s", "field": "f"}), Files{Image: make([]byte, MaxImage+1)}); err == nil {
		t.Error("an image over MaxImage was accepted")
	}
}

// FuzzParse: any option values give a request or an error the API maps
// to 400, never a panic.
func FuzzParse(f *testing.F) {
	f.Add("B-LT", "none", "350,60,550,140", "1", "false", "false", "", "", "", "", "", "", "")
	f.Add("B-LTA", "3", "[1,2,300,400]", "2", "true", "1", "", "", "", "", "", "", "")
	f.Add("", "", "1e308,1,2,3", "-1", "", "true", "", "", "", "", "", "", "")
	f.Add("B-LTA", "none", "", "", "", "", "true", "1", "20,20,84,84", "a.xml", "", "Source", "s-1")
	f.Fuzz(func(t *testing.T, level, certify, rect, page, visible, lock, qr, qrPage, qrRect, name, mimeType, rel, label string) {
		m := map[string]string{"signer": "s", "level": level, "certify": certify, "rect": rect, "page": page, "visible": visible, "lock": lock,
			"qr": qr, "qr_page": qrPage, "qr_rect": qrRect, "attachment_name": name, "attachment_mime": mimeType,
			"attachment_relationship": rel, "label": label}
		files := Files{}
		if name != "" {
			files.Attachment = &File{Name: name, Data: []byte("<x/>")}
		}
		r, err := Parse(func(k string) string { return m[k] }, files)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, signer.ErrBadOptions) {
				t.Fatalf("error %v would be a 500", err)
			}
			return
		}
		if r.Placement != nil && (r.Placement.Page < 1 || signer.CheckRect(r.Placement.Rect) != nil) {
			t.Fatalf("accepted a placement that cannot be drawn: %+v", r.Placement)
		}
		if r.QR != nil && (r.QR.Page < 1 || r.QR.Rect != [4]float64{} && signer.CheckRect(r.QR.Rect) != nil) {
			t.Fatalf("accepted a QR code that cannot be drawn: %+v", r.QR)
		}
		if r.Label != "" && !r.Registered() {
			t.Fatal("a label on a document that is not registered")
		}
	})
}

func TestAttachmentAndRegistry(t *testing.T) {
	xml := &File{Name: "transcript.xml", Data: []byte("<transcript/>")}
	for _, tc := range []struct {
		name  string
		in    map[string]string
		file  *File
		ok    bool
		check func(*testing.T, *Request)
	}{
		{"attachment defaults", nil, xml, true, func(t *testing.T, r *Request) {
			a := r.Options.Attachments
			if len(a) != 1 || a[0].Name != "transcript.xml" || a[0].MIME != "application/xml" || a[0].Relationship != "Data" ||
				string(a[0].Data) != "<transcript/>" || a[0].Description != "" {
				t.Errorf("attachment %+v", a)
			}
			if r.Registered() || r.QR != nil {
				t.Error("an attachment alone registered the document")
			}
		}},
		{"attachment fields", map[string]string{"attachment_name": "ใบแสดงผล.xml", "attachment_mime": "text/xml",
			"attachment_relationship": "Source", "attachment_description": "ใบแสดงผลการเรียน"}, xml, true, func(t *testing.T, r *Request) {
			a := r.Options.Attachments[0]
			if a.Name != "ใบแสดงผล.xml" || a.MIME != "text/xml" || a.Relationship != "Source" || a.Description != "ใบแสดงผลการเรียน" {
				t.Errorf("attachment %+v", a)
			}
		}},
		{"mime from extension", map[string]string{"attachment_name": "data.json"}, xml, true, func(t *testing.T, r *Request) {
			if m := r.Options.Attachments[0].MIME; m != "application/json" {
				t.Errorf("MIME %q", m)
			}
		}},
		{"mime unknown extension", map[string]string{"attachment_name": "data.qqq"}, xml, true, func(t *testing.T, r *Request) {
			if m := r.Options.Attachments[0].MIME; m != "application/octet-stream" {
				t.Errorf("MIME %q", m)
			}
		}},
		{"mime without extension", map[string]string{"attachment_name": "README"}, xml, true, func(t *testing.T, r *Request) {
			if m := r.Options.Attachments[0].MIME; m != "application/octet-stream" {
				t.Errorf("MIME %q", m)
			}
		}},
		{"every relationship", map[string]string{"attachment_relationship": "Supplement"}, xml, true, nil},
		{"bad relationship", map[string]string{"attachment_relationship": "data"}, xml, false, nil},
		{"bad mime", map[string]string{"attachment_mime": "xml"}, xml, false, nil},
		{"mime with parameters", map[string]string{"attachment_mime": "text/xml; charset=utf-8"}, xml, false, nil},
		{"no name", nil, &File{Data: []byte("x")}, false, nil},
		{"name with a path", map[string]string{"attachment_name": "../etc/passwd"}, xml, false, nil},
		{"name with a control character", map[string]string{"attachment_name": "a\nb.xml"}, xml, false, nil},
		{"name not UTF-8", map[string]string{"attachment_name": "\xff.xml"}, xml, false, nil},
		{"long description", map[string]string{"attachment_description": strings.Repeat("d", 2000)}, xml, false, nil},
		{"empty attachment", nil, &File{Name: "a.xml"}, false, nil},
		{"attachment too large", nil, &File{Name: "a.xml", Data: make([]byte, MaxAttachment+1)}, false, nil},
		{"name without attachment", map[string]string{"attachment_name": "a.xml"}, nil, false, nil},
		{"relationship without attachment", map[string]string{"attachment_relationship": "Data"}, nil, false, nil},
		{"qr defaults", map[string]string{"qr": "true"}, nil, true, func(t *testing.T, r *Request) {
			if r.QR == nil || r.QR.Page != 1 || r.QR.Rect != [4]float64{} || !r.Registered() || r.Register {
				t.Errorf("QR %+v, registered %v", r.QR, r.Registered())
			}
		}},
		{"qr placed", map[string]string{"qr": "1", "qr_page": "2", "qr_rect": "[500,20,564,84]"}, nil, true, func(t *testing.T, r *Request) {
			if r.QR.Page != 2 || r.QR.Rect != [4]float64{500, 20, 564, 84} {
				t.Errorf("QR %+v", r.QR)
			}
		}},
		{"qr page zero", map[string]string{"qr": "true", "qr_page": "0"}, nil, false, nil},
		{"qr bad rect", map[string]string{"qr": "true", "qr_rect": "1,1,2"}, nil, false, nil},
		{"qr_page without qr", map[string]string{"qr_page": "1"}, nil, false, nil},
		{"qr_rect with qr false", map[string]string{"qr": "false", "qr_rect": "1,1,100,100"}, nil, false, nil},
		{"bad qr", map[string]string{"qr": "yes"}, nil, false, nil},
		{"register with label", map[string]string{"register": "true", "label": "6401234567"}, nil, true, func(t *testing.T, r *Request) {
			if !r.Registered() || r.Label != "6401234567" || r.QR != nil {
				t.Errorf("request %+v", r)
			}
		}},
		{"bad register", map[string]string{"register": "on"}, nil, false, nil},
		{"label without registry", map[string]string{"label": "x"}, nil, false, nil},
		{"label too long", map[string]string{"qr": "true", "label": strings.Repeat("l", 300)}, nil, false, nil},
		{"label with NUL", map[string]string{"register": "true", "label": "a\x00"}, nil, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := map[string]string{"signer": "s"}
			for k, v := range tc.in {
				in[k] = v
			}
			r, err := Parse(func(k string) string { return in[k] }, Files{Attachment: tc.file})
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid: the API would not answer 400", err)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestIssue(t *testing.T) {
	r, err := Parse(func(k string) string { return map[string]string{"signer": "s", "qr": "true"}[k] }, Files{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Issue(VerifyURL("https://verify.example.ac.th", "AAAAAAAAAAAAAAAAAAAAAAAA")); err != nil {
		t.Fatal(err)
	}
	if len(r.Options.Overlays) != 1 {
		t.Fatalf("overlays %v, want the QR code", r.Options.Overlays)
	}
	plain, _ := Parse(func(k string) string { return map[string]string{"signer": "s", "register": "true"}[k] }, Files{})
	if err := plain.Issue("https://verify.example.ac.th/d/x"); err != nil || len(plain.Options.Overlays) != 0 {
		t.Fatalf("register alone drew %v, %v", plain.Options.Overlays, err)
	}
	if got := VerifyURL("https://v.example", "ID"); got != "https://v.example/d/ID" {
		t.Fatalf("VerifyURL = %q", got)
	}
}

// TestNames keeps the per-document options a subset of the names /sign
// takes.
func TestNames(t *testing.T) {
	for _, k := range PerDocument {
		if !slices.Contains(Names, k) {
			t.Errorf("per-document option %q is not a /sign option", k)
		}
	}
}
