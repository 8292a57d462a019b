package verifypage

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"esign/verify"
)

// changeTexts joins the sentences of a change list, for matching.
func changeTexts(list []changeView) string {
	var b strings.Builder
	for _, c := range list {
		b.WriteString(c.Text + "\n" + c.Seen + "\n")
	}
	return b.String()
}

func TestModificationTextNewKinds(t *testing.T) {
	cases := []struct {
		kind string
		lang Lang
		want string
	}{
		{verify.ModOverlay, LangThai, "มีการวางข้อความหรือภาพทับบนหน้าเอกสาร โดยไม่ใช่ลายมือชื่อที่ลงจริง"},
		{verify.ModOverlay, LangEnglish, "Text or an image was laid over a page; it is not a signature that was actually made."},
		{verify.ModDefinedLater, LangThai, "เอกสารที่ลงนามอ้างถึงส่วนประกอบที่ยังไม่มีอยู่ แล้วมีการเติมส่วนนั้นภายหลัง ทำให้สิ่งที่แสดงต่างจากที่ลงนาม"},
		{verify.ModDefinedLater, LangEnglish, "what is shown now differs from what was signed"},
	}
	for _, c := range cases {
		t.Run(c.kind+"/"+string(c.lang), func(t *testing.T) {
			if got := modificationText(c.lang, verify.Modification{Kind: c.kind, Description: "DESCRIPTION"}); !strings.Contains(got, c.want) {
				t.Errorf("modificationText = %q, want %q", got, c.want)
			}
		})
	}
}

func TestSeenText(t *testing.T) {
	// 72 pt is one inch: 2.54 cm.
	rect := []float64{72, 144, 216, 180}
	cases := []struct {
		name string
		lang Lang
		m    verify.Modification
		want []string
		not  []string
	}{
		{"annotation with area, Thai", LangThai, verify.Modification{Effect: verify.EffectAnnotation, Page: 1, Rect: rect},
			[]string{"สิ่งที่เห็นเปลี่ยน: หมายเหตุ", "หน้า 1 บริเวณที่ห่างจากขอบซ้าย 2.5 ซม. และจากขอบล่าง 5.1 ซม. กว้าง 5.1 ซม. สูง 1.3 ซม.", "x 72–216, y 144–180 พอยต์"}, nil},
		{"annotation with area, English", LangEnglish, verify.Modification{Effect: verify.EffectAnnotation, Page: 1, Rect: rect},
			[]string{"Visible change: a note (annotation), on page 1", "2.5 cm from the left edge and 5.1 cm from the bottom edge, 5.1 cm wide and 1.3 cm high", "x 72–216, y 144–180 points"}, nil},
		{"corners in any order", LangEnglish, verify.Modification{Effect: verify.EffectOverlay, Page: 3, Rect: []float64{216, 180, 72, 144}},
			[]string{"text or an image laid over the page, on page 3", "x 72–216, y 144–180"}, nil},
		{"fractions rounded", LangThai, verify.Modification{Effect: verify.EffectOverlay, Page: 2, Rect: []float64{10.123, 20, 30.5, 40}},
			[]string{"ข้อความหรือภาพทับ ที่หน้า 2", "x 10.12–30.5, y 20–40"}, nil},
		{"page without area", LangThai, verify.Modification{Effect: verify.EffectContent, Page: 4},
			[]string{"สิ่งที่เห็นเปลี่ยน: เนื้อหาบนหน้า ที่หน้า 4"}, []string{"บริเวณ"}},
		{"unusable area", LangEnglish, verify.Modification{Effect: verify.EffectFormField, Page: 2, Rect: []float64{1, math.NaN(), 3, 4}},
			[]string{"a form field, on page 2"}, []string{"cm", "NaN"}},
		{"short area", LangEnglish, verify.Modification{Effect: verify.EffectFormField, Page: 2, Rect: []float64{1, 2, 3}},
			[]string{"on page 2"}, []string{"cm"}},
		{"no page", LangThai, verify.Modification{Effect: verify.EffectAttachment},
			[]string{"สิ่งที่เห็นเปลี่ยน: ไฟล์แนบ"}, []string{"หน้า"}},
		{"area without page", LangEnglish, verify.Modification{Effect: verify.EffectAnnotation, Rect: rect},
			[]string{"Visible change: a note (annotation)"}, []string{"page", "cm"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := seenText(c.lang, c.m)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("seenText = %q, lacks %q", got, w)
				}
			}
			for _, n := range c.not {
				if strings.Contains(got, n) {
					t.Errorf("seenText = %q, has %q", got, n)
				}
			}
		})
	}
	if got := seenText(LangThai, verify.Modification{Kind: verify.ModDSS}); got != "" {
		t.Errorf("nothing drawn differently: seenText = %q, want none", got)
	}
}

// between returns the part of s from the first from up to the next to after
// it, "" when from is missing.
func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i:]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}

func TestSeenChangesRender(t *testing.T) {
	rect := []float64{300, 700, 520, 760}
	// An annotation DocMDP P=3 allows, drawn over page 1: the "evil
	// annotation". The signature stays valid.
	evil := func() *verify.Report {
		return &verify.Report{
			Document: verify.DocumentResult{Indication: verify.TotalPassed, SignatureCount: 1, Certification: "3"},
			Signatures: []verify.SignatureResult{{
				Kind: verify.KindSignature, Indication: verify.TotalPassed, Certification: "3",
				AllowedChanges: []verify.Modification{
					{Kind: verify.ModDSS, Allowed: true, Revision: 2},
					{Kind: verify.ModAnnotationAdded, Allowed: true, Revision: 3, Effect: verify.EffectAnnotation, Page: 1, Rect: rect},
				},
			}},
		}
	}
	// A new widget drawn over page 2, not a signature made: never allowed.
	overlay := func() *verify.Report {
		return &verify.Report{
			Document: verify.DocumentResult{Indication: verify.TotalFailed, SubIndication: verify.FormatFailure, SignatureCount: 1},
			Signatures: []verify.SignatureResult{{
				Kind: verify.KindSignature, Indication: verify.TotalFailed, SubIndication: verify.FormatFailure, ModifiedAfter: true,
				Modifications: []verify.Modification{{Kind: verify.ModOverlay, Revision: 2, Effect: verify.EffectOverlay, Page: 2, Rect: rect}},
			}},
		}
	}
	// Filling a form under P=2 shows in the field: allowed, no warning, but
	// not "untouched" either.
	formFill := func() *verify.Report {
		return &verify.Report{
			Document: verify.DocumentResult{Indication: verify.TotalPassed, SignatureCount: 1, Certification: "2"},
			Signatures: []verify.SignatureResult{{
				Kind: verify.KindSignature, Indication: verify.TotalPassed, Certification: "2",
				AllowedChanges: []verify.Modification{{Kind: verify.ModFormFill, Allowed: true, Effect: verify.EffectFormField, Page: 1, Rect: rect}},
			}},
		}
	}
	cases := []struct {
		name     string
		lang     Lang
		rep      *verify.Report
		tone     string
		verdict  []string // in the verdict box
		card     []string // in the signature cards
		absent   []string // nowhere on the page
		quiet    string   // heading of the permitted additions said to leave the content alone
		notQuiet string   // a sentence that must not be listed under quiet
	}{
		{
			name: "allowed annotation, Thai", lang: LangThai, rep: evil(), tone: toneValid,
			verdict:  []string{"ลายมือชื่อถูกต้อง แต่มีสิ่งที่เพิ่มภายหลังแสดงอยู่บนหน้าเอกสาร", `class="seen-warning"`, "คำเตือน: มีสิ่งที่เพิ่มภายหลังแสดงอยู่บนหน้าเอกสาร", "หน้า 1 บริเวณ"},
			card:     []string{`class="seen-warning"`, "มีการเพิ่มหมายเหตุหรือข้อความทับบนหน้าเอกสาร", "หน้า 1 บริเวณ", "ไม่มีการแก้ไขที่ไม่ได้รับอนุญาต"},
			absent:   []string{"เอกสารนี้ได้รับการลงลายมือชื่อและไม่ถูกแก้ไข", "ไม่มีการแก้ไขเนื้อหาหลังลงลายมือชื่อนี้"},
			quiet:    "(ไม่กระทบเนื้อหา)",
			notQuiet: "มีการเพิ่มหมายเหตุ",
		},
		{
			name: "allowed annotation, English", lang: LangEnglish, rep: evil(), tone: toneValid,
			verdict:  []string{"The signatures are valid, but something added later shows on a page", `class="seen-warning"`, "on page 1, in an area"},
			card:     []string{`class="seen-warning"`, "A note or text was added on top of a page.", "on page 1, in an area"},
			absent:   []string{"has not been changed", "The content has not changed since this signature"},
			quiet:    "(the content is untouched)",
			notQuiet: "A note or text was added",
		},
		{
			name: "overlay, Thai", lang: LangThai, rep: overlay(), tone: toneInvalid,
			verdict: []string{"มีการวางข้อความหรือภาพทับบนหน้าเอกสาร โดยไม่ใช่ลายมือชื่อที่ลงจริง", "ข้อความหรือภาพทับ ที่หน้า 2 บริเวณ"},
			card:    []string{"มีการวางข้อความหรือภาพทับบนหน้าเอกสาร", "หน้า 2 บริเวณ"},
			absent:  []string{`class="seen-warning"`},
		},
		{
			name: "overlay, English", lang: LangEnglish, rep: overlay(), tone: toneInvalid,
			verdict: []string{"Text or an image was laid over a page", "on page 2, in an area"},
			card:    []string{"on page 2, in an area"},
			absent:  []string{`class="seen-warning"`},
		},
		{
			name: "form filled in, Thai", lang: LangThai, rep: formFill(), tone: toneValid,
			verdict: []string{"เอกสารนี้ได้รับการลงลายมือชื่อและไม่ถูกแก้ไข"},
			card:    []string{"ส่วนที่เพิ่มภายหลังซึ่งได้รับอนุญาต:", "กรอกข้อมูลในแบบฟอร์ม", "ช่องแบบฟอร์ม ที่หน้า 1"},
			absent:  []string{`class="seen-warning"`, "(ไม่กระทบเนื้อหา)"},
		},
	}
	p := New(Options{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			p.ServeResult(rec, httptest.NewRequest(http.MethodPost, "/?partial=1&lang="+string(c.lang), nil), Outcome{Report: c.rep})
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			body := rec.Body.String()
			if !strings.Contains(body, `data-tone="`+c.tone+`"`) {
				t.Errorf("verdict tone is not %s", c.tone)
			}
			verdict := between(body, `id="verdict"`, "</section>")
			for _, w := range c.verdict {
				if !strings.Contains(verdict, w) {
					t.Errorf("verdict lacks %q:\n%s", w, verdict)
				}
			}
			cards := between(body, `<ol class="cards">`, `<div class="report">`)
			for _, w := range c.card {
				if !strings.Contains(cards, w) {
					t.Errorf("cards lack %q:\n%s", w, cards)
				}
			}
			for _, a := range c.absent {
				if strings.Contains(body, a) {
					t.Errorf("page has %q", a)
				}
			}
			if c.quiet != "" {
				quiet := between(body, c.quiet, "</ul>")
				if quiet == "" {
					t.Errorf("no %q list for the other permitted additions", c.quiet)
				}
				if strings.Contains(quiet, c.notQuiet) {
					t.Errorf("%q listed under %q:\n%s", c.notQuiet, c.quiet, quiet)
				}
			}
		})
	}
}
