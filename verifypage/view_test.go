package verifypage

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"esign/verify"
)

func TestFormatTime(t *testing.T) {
	cases := []struct {
		name      string
		at        string
		lang      Lang
		primary   string
		secondary string
	}{
		{"thai", "2026-11-22T10:00:00Z", LangThai, "22 พฤศจิกายน 2569 เวลา 17:00 น.", "ค.ศ. 22 พฤศจิกายน 2026 เวลา 17:00:00 น. (UTC+7) · 2026-11-22T10:00:00Z"},
		{"english", "2026-11-22T10:00:00Z", LangEnglish, "22 November 2026, 17:00 (UTC+7)", "Buddhist Era: 22 November 2569, 17:00:00 · 2026-11-22T10:00:00Z"},
		// 20:30 UTC on New Year's Eve is already the next year in Thailand.
		{"year change", "2026-12-31T20:30:05Z", LangThai, "1 มกราคม 2570 เวลา 03:30 น.", "ค.ศ. 1 มกราคม 2027 เวลา 03:30:05 น. (UTC+7) · 2026-12-31T20:30:05Z"},
		{"other zone in", "2026-03-01T08:15:00+09:00", LangThai, "1 มีนาคม 2569 เวลา 06:15 น.", "ค.ศ. 1 มีนาคม 2026 เวลา 06:15:00 น. (UTC+7) · 2026-02-28T23:15:00Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			at, err := time.Parse(time.RFC3339, c.at)
			if err != nil {
				t.Fatal(err)
			}
			got := formatTime(c.lang, at)
			if got.Primary != c.primary || got.Secondary != c.secondary {
				t.Errorf("formatTime(%s) = %q / %q, want %q / %q", c.at, got.Primary, got.Secondary, c.primary, c.secondary)
			}
		})
	}
}

// Every change the verifier can report gets its own plain sentence in both
// languages, not the verifier's English description.
func TestModificationTextCoversEveryKind(t *testing.T) {
	kinds := []string{
		verify.ModDSS, verify.ModDocumentTimestamp, verify.ModSignature, verify.ModFormFill,
		verify.ModFormResources, verify.ModMetadata, verify.ModStructure, verify.ModVersion,
		verify.ModObjectReused, verify.ModAnnotationAdded, verify.ModAnnotationChanged,
		verify.ModAnnotationRemoved, verify.ModPageContent, verify.ModPageModified, verify.ModPageAdded,
		verify.ModPageRemoved, verify.ModPagesModified, verify.ModCatalogModified, verify.ModAcroFormModified,
		verify.ModFieldAdded, verify.ModFieldRemoved, verify.ModFieldModified, verify.ModSignatureModified,
		verify.ModCertification, verify.ModPermissions, verify.ModObjectModified, verify.ModObjectDeleted,
		verify.ModXref, verify.ModTrailingBytes, verify.ModUnreadable, verify.ModOverlay, verify.ModDefinedLater,
	}
	seen := map[string]string{}
	for _, k := range kinds {
		for _, l := range []Lang{LangThai, LangEnglish} {
			m := verify.Modification{Kind: k, Description: "DESCRIPTION"}
			got := modificationText(l, m)
			if got == "" || strings.Contains(got, "DESCRIPTION") {
				t.Errorf("%s in %s: %q falls back to the description", k, l, got)
			}
			if other, dup := seen[string(l)+got]; dup {
				t.Errorf("%s and %s share the sentence %q", k, other, got)
			}
			seen[string(l)+got] = k
		}
	}
	// Unknown kinds fall back to the description, then to the code.
	if got := modificationText(LangThai, verify.Modification{Kind: "new-kind", Description: "something new"}); got != "something new" {
		t.Errorf("unknown kind: %q", got)
	}
	if got := modificationText(LangThai, verify.Modification{Kind: "new-kind"}); got != "new-kind" {
		t.Errorf("unknown kind without description: %q", got)
	}
	if got := modificationText(LangThai, verify.Modification{Kind: verify.ModFormFill, Violation: "docmdp"}); !strings.Contains(got, "การรับรองเอกสาร") {
		t.Errorf("DocMDP violation not said: %q", got)
	}
}

func TestVerdict(t *testing.T) {
	passed := verify.SignatureResult{Kind: verify.KindSignature, Indication: verify.TotalPassed}
	cases := []struct {
		name     string
		rep      verify.Report
		lang     Lang
		tone     string
		title    string
		detail   string // a sentence Details must contain
		change   string // a sentence Changes must contain
		noChange bool
	}{
		{
			name: "passed",
			rep:  verify.Report{Document: verify.DocumentResult{Indication: verify.TotalPassed, SignatureCount: 1}, Signatures: []verify.SignatureResult{passed}},
			lang: LangThai, tone: toneValid, title: "เอกสารนี้ได้รับการลงลายมือชื่อและไม่ถูกแก้ไข", noChange: true,
		},
		{
			name: "page changed",
			rep: verify.Report{
				Document: verify.DocumentResult{Indication: verify.TotalFailed, SubIndication: verify.FormatFailure, SignatureCount: 1},
				Signatures: []verify.SignatureResult{{Kind: verify.KindSignature, Indication: verify.TotalFailed, SubIndication: verify.FormatFailure,
					ModifiedAfter: true, Modifications: []verify.Modification{{Kind: verify.ModPageContent}, {Kind: verify.ModAnnotationAdded}}}},
			},
			lang: LangThai, tone: toneInvalid, title: "เอกสารนี้ไม่ผ่านการตรวจสอบ",
			detail: "เอกสารถูกแก้ไขหลังลงลายมือชื่อในลักษณะที่ไม่ได้รับอนุญาต", change: "เนื้อหาบนหน้าเอกสารถูกแก้ไข",
		},
		{
			name: "bytes changed",
			rep: verify.Report{
				Document:   verify.DocumentResult{Indication: verify.TotalFailed, SubIndication: verify.HashFailure, SignatureCount: 1},
				Signatures: []verify.SignatureResult{{Kind: verify.KindSignature, Indication: verify.TotalFailed, SubIndication: verify.HashFailure}},
			},
			lang: LangEnglish, tone: toneInvalid, title: "This document failed the check",
			detail: "no longer match what was signed", noChange: true,
		},
		{
			name: "untrusted",
			rep: verify.Report{
				Document:   verify.DocumentResult{Indication: verify.Indeterminate, SubIndication: verify.NoCertificateChainFound, SignatureCount: 1},
				Signatures: []verify.SignatureResult{{Kind: verify.KindSignature, Indication: verify.Indeterminate, SubIndication: verify.NoCertificateChainFound}},
			},
			lang: LangThai, tone: toneIndeterminate, title: "ไม่สามารถยืนยันเอกสารนี้ได้ครบถ้วน",
			detail: "ไม่ได้ออกโดยหน่วยงานที่ระบบนี้เชื่อถือ", noChange: true,
		},
		{
			name: "unknown sub-indication falls back to the summary",
			rep: verify.Report{
				Document:   verify.DocumentResult{Indication: verify.Indeterminate, SubIndication: "SOMETHING_NEW", Summary: "the summary", SignatureCount: 1},
				Signatures: []verify.SignatureResult{{Kind: verify.KindSignature, Indication: verify.Indeterminate, SubIndication: "SOMETHING_NEW"}},
			},
			lang: LangThai, tone: toneIndeterminate, title: "ไม่สามารถยืนยันเอกสารนี้ได้ครบถ้วน", detail: "the summary", noChange: true,
		},
		{
			name: "no signature",
			rep:  verify.Report{Document: verify.DocumentResult{Indication: verify.Indeterminate, SubIndication: verify.SignedDataNotFound}},
			lang: LangThai, tone: toneIndeterminate, title: "ไม่พบลายมือชื่อดิจิทัลในเอกสารนี้", noChange: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := verdict(c.lang, &c.rep)
			if v.Tone != c.tone || v.Title != c.title {
				t.Errorf("verdict %s %q, want %s %q", v.Tone, v.Title, c.tone, c.title)
			}
			if c.detail != "" && !strings.Contains(strings.Join(v.Details, "\n"), c.detail) {
				t.Errorf("details %q lack %q", v.Details, c.detail)
			}
			if c.change != "" && !strings.Contains(changeTexts(v.Changes), c.change) {
				t.Errorf("changes %q lack %q", v.Changes, c.change)
			}
			if c.noChange && len(v.Changes) != 0 {
				t.Errorf("changes %q, want none", v.Changes)
			}
		})
	}
}

// hostileReport carries markup in every string a file controls.
func hostileReport() *verify.Report {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	evil := `<script>window.pwned=1</script><img src=x onerror="window.pwned=2">`
	return &verify.Report{
		Document: verify.DocumentResult{Indication: verify.Indeterminate, SubIndication: verify.NoCertificateChainFound,
			SignatureCount: 1, Warnings: []string{"warn " + evil}, Summary: evil},
		Signatures: []verify.SignatureResult{{
			Field: "Sig" + evil, Kind: verify.KindSignature, Indication: verify.Indeterminate,
			SubIndication: verify.NoCertificateChainFound, Level: verify.LevelT,
			Signer: &verify.SignerInfo{CommonName: "name " + evil, Organization: "org " + evil, Subject: "CN=" + evil, Issuer: evil},
			Chain:  []string{"CN=" + evil, "CN=root " + evil}, SigningTime: &at, TimestampTime: &at, TSA: "tsa " + evil,
			Reason: "reason " + evil, Location: "loc " + evil, ContactInfo: "contact " + evil,
			Errors: []string{"error " + evil}, Warnings: []string{"warning " + evil}, Certification: "none",
			Modifications: []verify.Modification{{Kind: "new-kind", Description: "desc " + evil}},
		}},
	}
}

func TestResultEscapesFileStrings(t *testing.T) {
	p := New(Options{MaxUpload: 50 << 20})
	for _, target := range []string{"/?lang=th", "/?lang=en&partial=1"} {
		t.Run(target, func(t *testing.T) {
			rec := httptest.NewRecorder()
			p.ServeResult(rec, httptest.NewRequest(http.MethodPost, target, nil), Outcome{Report: hostileReport()})
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			for _, bad := range []string{"<script>window", "<img src=x", `onerror="`} {
				if strings.Contains(body, bad) {
					t.Errorf("body contains unescaped %q", bad)
				}
			}
			for _, want := range []string{"name &lt;script&gt;window.pwned=1&lt;/script&gt;", "reason &lt;script&gt;", "org &lt;script&gt;", "tsa &lt;script&gt;", "desc &lt;script&gt;"} {
				if !strings.Contains(body, want) {
					t.Errorf("body lacks escaped %q", want)
				}
			}
			// The download link holds the report itself, intact.
			const prefix = `href="data:application/json;charset=utf-8;base64,`
			i := strings.Index(body, prefix)
			if i < 0 {
				t.Fatal("no JSON download link")
			}
			enc := body[i+len(prefix):]
			enc = enc[:strings.IndexByte(enc, '"')]
			raw, err := base64.StdEncoding.DecodeString(enc)
			if err != nil {
				t.Fatalf("download link: %v", err)
			}
			var back verify.Report
			if err := json.Unmarshal(raw, &back); err != nil {
				t.Fatalf("download link JSON: %v", err)
			}
			if back.Signatures[0].Reason != hostileReport().Signatures[0].Reason {
				t.Errorf("report in the link has reason %q", back.Signatures[0].Reason)
			}
		})
	}
}

func TestServeHTTP(t *testing.T) {
	p := New(Options{MaxUpload: 50 << 20})
	cases := []struct {
		name, method, target string
		status               int
		ctype                string
		contains             []string
	}{
		{"thai page", "GET", "/", 200, "text/html; charset=utf-8",
			[]string{`<html lang="th">`, "ไฟล์ของท่านไม่ถูกจัดเก็บ", `href="/?lang=en"`, `enctype="multipart/form-data"`, `action="/?lang=th"`, `<label for="file">`, "50 MB"}},
		{"english page", "GET", "/?lang=en", 200, "text/html; charset=utf-8",
			[]string{`<html lang="en">`, "Your file is not stored", `href="/?lang=th"`, `action="/?lang=en"`}},
		{"unknown language is Thai", "GET", "/?lang=xx", 200, "text/html; charset=utf-8", []string{`<html lang="th">`}},
		{"stylesheet", "GET", "/static/style.css", 200, "text/css; charset=utf-8", []string{"@font-face"}},
		{"script", "GET", "/static/app.js", 200, "text/javascript; charset=utf-8", []string{"'use strict'"}},
		{"font", "GET", "/static/fonts/Laksaman.woff", 200, "font/woff", []string{"wOFF"}},
		{"font licence", "GET", "/static/fonts/LICENSE.txt", 200, "text/plain; charset=utf-8", []string{"Font exception"}},
		{"directory", "GET", "/static/fonts/", 404, "", nil},
		{"parent", "GET", "/static/../page.go", 404, "", nil},
		{"unknown asset", "GET", "/static/nothing.css", 404, "", nil},
		{"other path", "GET", "/admin", 404, "", nil},
		{"post is the verifier's", "POST", "/", 405, "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			p.ServeHTTP(rec, httptest.NewRequest(c.method, c.target, nil))
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d", res.StatusCode, c.status)
			}
			if c.ctype != "" && res.Header.Get("Content-Type") != c.ctype {
				t.Errorf("Content-Type %q, want %q", res.Header.Get("Content-Type"), c.ctype)
			}
			for _, w := range c.contains {
				if !strings.Contains(string(body), w) {
					t.Errorf("body lacks %q", w)
				}
			}
			checkSecurityHeaders(t, res.Header)
		})
	}
}

func checkSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", h.Get("X-Content-Type-Options"))
	}
	if h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy %q", h.Get("Referrer-Policy"))
	}
}

func TestServeResultErrors(t *testing.T) {
	p := New(Options{})
	cases := []struct {
		code   string
		status int
		lang   string
		want   string
	}{
		{"too_large", 413, "th", "ไฟล์มีขนาดใหญ่เกินกำหนด"},
		{"rate_limited", 429, "en", "Too many checks"},
		{"not_pdf", 422, "th", "ไฟล์นี้ไม่ใช่ไฟล์ PDF"},
		{"something", 0, "en", "Something went wrong"},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			rec := httptest.NewRecorder()
			p.ServeResult(rec, httptest.NewRequest(http.MethodPost, "/?lang="+c.lang, nil), Outcome{Status: c.status, Code: c.code})
			want := c.status
			if want == 0 {
				want = 500
			}
			if rec.Code != want {
				t.Errorf("status %d, want %d", rec.Code, want)
			}
			if !strings.Contains(rec.Body.String(), c.want) || !strings.Contains(rec.Body.String(), "tone-error") {
				t.Errorf("body lacks %q", c.want)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
			}
			checkSecurityHeaders(t, rec.Header())
		})
	}
}

// FuzzRenderReport renders reports whose file-controlled strings are
// arbitrary: rendering never fails, and no string adds an element or an
// attribute to the page.
func FuzzRenderReport(f *testing.F) {
	f.Add("นางสาวสมศรี ใจดี", "รับรองใบแสดงผลการศึกษา", "page-content")
	f.Add(`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, `</li><li>`)
	f.Add("\x00\xff\xfe", "javascript:alert(1)", "")
	p := New(Options{MaxUpload: 1 << 20})
	render := func(t *testing.T, name, reason, kind string) string {
		rep := hostileReport()
		s := &rep.Signatures[0]
		s.Signer.CommonName, s.Signer.Organization, s.Reason, s.Location = name, name, reason, reason
		s.Chain = []string{name, reason}
		s.Modifications = []verify.Modification{{Kind: kind, Description: reason}}
		rep.Document.Warnings = []string{reason}
		rec := httptest.NewRecorder()
		p.ServeResult(rec, httptest.NewRequest(http.MethodPost, "/", nil), Outcome{Report: rep})
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		return strings.ToLower(rec.Body.String())
	}
	markup := func(body string) []int {
		return []int{strings.Count(body, "<"), strings.Count(body, "<script")}
	}
	f.Fuzz(func(t *testing.T, name, reason, kind string) {
		base := markup(render(t, "a", "b", "c"))
		got := markup(render(t, name, reason, kind))
		// Escaped text has no '<': any it had became "&lt;", so the
		// count of tags stays put.
		if got[0] != base[0] || got[1] != base[1] {
			t.Errorf("markup counts %v, want %v: a string became markup", got, base)
		}
	})
}

// A signature whose proof of existence is a later document timestamp
// shows that time, Thai first, with the timestamp that proves it.
func TestProvenTimeShown(t *testing.T) {
	signed := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	proven := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	rep := &verify.Report{
		Document: verify.DocumentResult{Indication: verify.TotalPassed, SignatureCount: 2},
		Signatures: []verify.SignatureResult{
			{Field: "Signature1", Kind: verify.KindSignature, Indication: verify.TotalPassed, Level: verify.LevelLTA,
				SigningTime: &signed, ProvenTime: &proven, ProvenBy: verify.ProvenByDocumentTimestamp, ProvenByField: "DocTS1"},
			{Field: "DocTS1", Kind: verify.KindDocumentTimestamp, Indication: verify.TotalPassed, TimestampTime: &proven,
				ProofOfExistence: &verify.ProofOfExistence{Time: proven, Revisions: 2, Fields: []string{"Signature1"}}},
		},
	}
	p := New(Options{MaxUpload: 50 << 20})
	for _, c := range []struct{ target, label, when, note string }{
		{"/?lang=th", "พิสูจน์ได้ว่ามีอยู่แล้วเมื่อ", "23 พฤศจิกายน 2569 เวลา 10:00 น.", "พิสูจน์โดยการประทับเวลาของเอกสาร DocTS1"},
		{"/?lang=en", "Proven to exist by", "23 November 2026, 10:00", "Proven by the document timestamp DocTS1"},
	} {
		rec := httptest.NewRecorder()
		p.ServeResult(rec, httptest.NewRequest(http.MethodPost, c.target, nil), Outcome{Report: rep})
		body := rec.Body.String()
		for _, want := range []string{c.label, c.when, c.note} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: page lacks %q", c.target, want)
			}
		}
		if n := strings.Count(body, c.label); n != 1 {
			t.Errorf("%s: %q shown %d times, want once (not for the timestamp nobody proves)", c.target, c.label, n)
		}
	}
}

// TestMatchAnyRegisteredRevision: on /d/{id} the upload is that document
// when any of its registered revisions has the ID, not only the one the
// report's registry names; a registry that could not be asked gives no
// answer rather than "no".
func TestMatchAnyRegisteredRevision(t *testing.T) {
	p := New(Options{})
	at := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	first := verify.RegistryMatch{ID: "AAAAAAAAAAAAAAAAAAAAAAAA", Status: "valid", Issuer: "มหาวิทยาลัย", IssuedAt: &at, Field: "Sig1"}
	second := verify.RegistryMatch{ID: "BBBBBBBBBBBBBBBBBBBBBBBB", Status: "valid", Issuer: "มหาวิทยาลัย", IssuedAt: &at, Field: "Sig2"}
	report := func(reg *verify.RegistryMatch, matches ...verify.RegistryMatch) *verify.Report {
		return &verify.Report{
			Document:        verify.DocumentResult{Indication: verify.TotalPassed, SignatureCount: 2},
			Signatures:      []verify.SignatureResult{{Field: "Sig1", Indication: verify.TotalPassed}, {Field: "Sig2", Indication: verify.TotalPassed}},
			Registry:        reg,
			RegistryMatches: matches,
		}
	}
	for _, c := range []struct {
		name string
		rep  *verify.Report
		doc  verify.RegistryMatch
		want string
	}{
		{"the second signature's document", report(&first, first, second), second, `data-match="yes"`},
		{"the first signature's document", report(&first, first, second), first, `data-match="yes"`},
		{"another document", report(&first, first), second, `data-match="no"`},
		{"registry not asked", report(&verify.RegistryMatch{Status: verify.RegistryUnavailable}), second, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			doc := c.doc
			p.ServeResult(rec, httptest.NewRequest(http.MethodPost, "/d/"+doc.ID+"?partial=1", nil), Outcome{Report: c.rep, Document: &doc})
			body := rec.Body.String()
			switch {
			case rec.Code != http.StatusOK:
				t.Errorf("status %d", rec.Code)
			case c.want == "" && strings.Contains(body, `id="match"`):
				t.Errorf("a match answer without the registry:\n%s", body)
			case c.want != "" && !strings.Contains(body, c.want):
				t.Errorf("body lacks %s:\n%s", c.want, body)
			}
		})
	}
}
