package verifypage

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"esign/verify"
)

// regText holds the fixed words of the registry, attachments and
// signed-version parts of the page, in one language.
type regText struct {
	DocTitle, DocIntro, DocIssuer, DocIssued     string
	DocStatus, StatusValid, StatusRevoked        string
	RevokedOn, RevokedReason, DocCheckHeading    string
	DocCheckIntro, NotFoundTitle, NotFoundDetail string
	UnavailableTitle, UnavailableDetail          string
	RevokedTitle, RevokedDetail                  string
	RegValidTitle, RegValidDetail, RegUnavail    string
	MatchYes, MatchNo, MatchNoDetail             string
	AttachmentsHeading, AttName, AttType         string
	AttRelationship, AttSize, AttSHA, AttCovered string
	AttCoveredBy, AttNotCovered, AttSave         string
	AttNoSave, NeedsScript                       string
	SignedVersion, SignedVersionHint             string
	SaveMismatch                                 string
	DocID, BackToCheck                           string
}

func regTexts(l Lang) *regText {
	if l == LangEnglish {
		return &regEnglish
	}
	return &regThai
}

var regThai = regText{
	DocTitle:           "สถานะเอกสารจากผู้ออกเอกสาร",
	DocIntro:           "หน้านี้แสดงสถานะของเอกสารตามทะเบียนของผู้ออกเอกสาร และให้ท่านตรวจสอบว่าไฟล์ที่ท่านมีอยู่เป็นฉบับเดียวกับที่ลงทะเบียนไว้หรือไม่",
	DocIssuer:          "ผู้ออกเอกสาร",
	DocIssued:          "วันที่ออกเอกสาร",
	DocStatus:          "สถานะ",
	StatusValid:        "เอกสารยังมีผลใช้ได้",
	StatusRevoked:      "ผู้ออกเอกสารได้เพิกถอนเอกสารนี้",
	RevokedOn:          "วันที่เพิกถอน",
	RevokedReason:      "เหตุผล",
	DocCheckHeading:    "ตรวจสอบไฟล์ที่ท่านมี",
	DocCheckIntro:      "เลือกไฟล์ PDF ที่ได้รับ ระบบจะตรวจลายมือชื่อและบอกว่าเป็นเอกสารฉบับที่ลงทะเบียนนี้หรือไม่",
	NotFoundTitle:      "ไม่พบเอกสารในทะเบียน",
	NotFoundDetail:     "ไม่มีเอกสารที่ลงทะเบียนด้วยรหัสนี้ โปรดตรวจสอบลิงก์หรือคิวอาร์โค้ดอีกครั้ง หรือสอบถามผู้ออกเอกสาร",
	UnavailableTitle:   "ยังอ่านทะเบียนเอกสารไม่ได้ในขณะนี้",
	UnavailableDetail:  "โปรดลองอีกครั้งในภายหลัง",
	RevokedTitle:       "ผู้ออกเอกสารได้เพิกถอนเอกสารนี้",
	RevokedDetail:      "ลายมือชื่อดิจิทัลอาจยังถูกต้องทางคณิตศาสตร์ แต่ผู้ออกเอกสารประกาศว่าเอกสารนี้ไม่มีผลแล้ว อย่าใช้เอกสารฉบับนี้",
	RegValidTitle:      "ลงทะเบียนไว้กับผู้ออกเอกสาร: ยังมีผลใช้ได้",
	RegValidDetail:     "ผู้ออกเอกสารบันทึกเอกสารฉบับนี้ไว้ในทะเบียน และยังไม่ได้เพิกถอน",
	RegUnavail:         "ยังตรวจสถานะในทะเบียนของผู้ออกเอกสารไม่ได้ในขณะนี้ ผลด้านล่างเป็นการตรวจลายมือชื่อเท่านั้น",
	MatchYes:           "ไฟล์นี้คือเอกสารฉบับที่ลงทะเบียนด้วยรหัสนี้",
	MatchNo:            "ไฟล์นี้ไม่ใช่เอกสารฉบับที่ลงทะเบียนด้วยรหัสนี้",
	MatchNoDetail:      "ส่วนที่ลงลายมือชื่อของไฟล์ไม่ตรงกับฉบับที่ผู้ออกเอกสารบันทึกไว้",
	AttachmentsHeading: "ไฟล์แนบในเอกสาร",
	AttName:            "ชื่อไฟล์",
	AttType:            "ชนิด",
	AttRelationship:    "ความสัมพันธ์",
	AttSize:            "ขนาด",
	AttSHA:             "SHA-256",
	AttCovered:         "ลายมือชื่อครอบคลุม",
	AttCoveredBy:       "ครอบคลุมโดย %s",
	AttNotCovered:      "ไม่มีลายมือชื่อครอบคลุมไฟล์นี้ (เพิ่มหรือเปลี่ยนหลังลงลายมือชื่อ)",
	AttSave:            "บันทึกไฟล์แนบ",
	AttNoSave:          "บันทึกจากหน้านี้ไม่ได้: ไฟล์ถูกเข้ารหัสในแบบที่เบราว์เซอร์ถอดเองไม่ได้",
	NeedsScript:        "การบันทึกทำในเบราว์เซอร์ของท่านจากไฟล์ที่เลือก ต้องเปิดใช้ JavaScript",
	SignedVersion:      "บันทึกฉบับที่ลงลายมือชื่อ",
	SignedVersionHint:  "ไฟล์ตามที่เป็นอยู่ขณะลงลายมือชื่อนี้ (%s)",
	SaveMismatch:       "บันทึกไม่ได้: ข้อมูลที่ได้ไม่ตรงกับผลการตรวจ",
	DocID:              "รหัสเอกสาร",
	BackToCheck:        "ตรวจเอกสารอื่น",
}

var regEnglish = regText{
	DocTitle:           "Document status from the issuer",
	DocIntro:           "This page shows the document's status in the issuer's registry, and lets you check whether the file you have is the registered one.",
	DocIssuer:          "Issuer",
	DocIssued:          "Issued",
	DocStatus:          "Status",
	StatusValid:        "The document is valid",
	StatusRevoked:      "The issuer has revoked this document",
	RevokedOn:          "Revoked on",
	RevokedReason:      "Reason",
	DocCheckHeading:    "Check the file you have",
	DocCheckIntro:      "Choose the PDF you received: its signatures are checked and you are told whether it is this registered document.",
	NotFoundTitle:      "No such document in the registry",
	NotFoundDetail:     "No document is registered under this ID. Check the link or QR code, or ask the issuer.",
	UnavailableTitle:   "The registry cannot be read just now",
	UnavailableDetail:  "Please try again later.",
	RevokedTitle:       "The issuer has revoked this document",
	RevokedDetail:      "The digital signature may still be mathematically valid, but the issuer has declared that this document no longer stands. Do not rely on it.",
	RegValidTitle:      "Registered with the issuer: valid",
	RegValidDetail:     "The issuer recorded this document in its registry and has not revoked it.",
	RegUnavail:         "The issuer's registry cannot be asked just now; the result below covers the signatures only.",
	MatchYes:           "This file is the document registered under this ID",
	MatchNo:            "This file is not the document registered under this ID",
	MatchNoDetail:      "The signed part of the file does not match what the issuer recorded.",
	AttachmentsHeading: "Files attached to the document",
	AttName:            "Name",
	AttType:            "Type",
	AttRelationship:    "Relationship",
	AttSize:            "Size",
	AttSHA:             "SHA-256",
	AttCovered:         "Covered by a signature",
	AttCoveredBy:       "covered by %s",
	AttNotCovered:      "no signature covers this file (added or changed after signing)",
	AttSave:            "Save attachment",
	AttNoSave:          "Cannot be saved from this page: the file is encoded in a way the browser cannot undo on its own",
	NeedsScript:        "Saving is done in your browser from the file you chose, and needs JavaScript.",
	SignedVersion:      "Save the signed version",
	SignedVersionHint:  "The file as it was when this signature was made (%s)",
	SaveMismatch:       "Not saved: the data does not match the check",
	DocID:              "Document ID",
	BackToCheck:        "Check another document",
}

// registryView is the registry's word in a verification result.
type registryView struct {
	Tone, Title string
	Details     []string
	Issuer      string
	Issued      *timeView
	RevokedAt   *timeView
	Reason      string
	ID          string
}

func newRegistryView(l Lang, m *verify.RegistryMatch) *registryView {
	if m == nil {
		return nil
	}
	rt := regTexts(l)
	if m.Status == verify.RegistryUnavailable {
		return &registryView{Tone: toneIndeterminate, Title: rt.RegUnavail}
	}
	v := &registryView{Tone: toneValid, Title: rt.RegValidTitle, Details: []string{rt.RegValidDetail},
		Issuer: m.Issuer, Reason: m.Reason, ID: m.ID}
	if m.Status != string(statusValid) {
		v.Tone, v.Title, v.Details = toneInvalid, rt.RevokedTitle, []string{rt.RevokedDetail}
	}
	if m.IssuedAt != nil {
		v.Issued = formatTime(l, *m.IssuedAt)
	}
	if m.RevokedAt != nil {
		v.RevokedAt = formatTime(l, *m.RevokedAt)
	}
	return v
}

// statusValid is the registry's word for a standing document; anything
// else it says is shown as revoked, never as valid.
const statusValid = "valid"

// matchView says whether the upload on a /d/{id} page is that document.
type matchView struct {
	Yes    bool
	Title  string
	Detail string
}

func newMatch(l Lang, rep *verify.Report, doc *verify.RegistryMatch) *matchView {
	if doc == nil {
		return nil
	}
	rt := regTexts(l)
	// Any of the file's registered revisions may be this document: a file
	// signed again after it was registered, or one whose first signature
	// belongs to another registered document.
	if rep.Registry != nil && rep.Registry.ID == doc.ID {
		return &matchView{Yes: true, Title: rt.MatchYes}
	}
	for _, m := range rep.RegistryMatches {
		if m.ID == doc.ID {
			return &matchView{Yes: true, Title: rt.MatchYes}
		}
	}
	if rep.Registry != nil && rep.Registry.Status == verify.RegistryUnavailable {
		// The registry could not be asked about the file: no answer
		// rather than a wrong "no".
		return nil
	}
	return &matchView{Title: rt.MatchNo, Detail: rt.MatchNoDetail}
}

// attView is one embedded file on the page. Offset, Length and Flate let
// the page's script take a covered file out of the upload in the browser.
type attView struct {
	Name, MIME, Relationship, Size, SHA256, Covered string
	IsCovered, Saveable, Flate                      bool
	Offset, Length                                  int64
	Note                                            string
}

func newAttachments(l Lang, rep *verify.Report) []attView {
	rt := regTexts(l)
	out := make([]attView, 0, len(rep.Attachments))
	for _, a := range rep.Attachments {
		v := attView{Name: a.Name, MIME: a.MIME, Relationship: a.Relationship, SHA256: a.SHA256,
			IsCovered: len(a.CoveredBy) > 0, Note: a.Error}
		if a.Size >= 0 {
			v.Size = formatSize(a.Size)
		}
		if v.IsCovered {
			v.Covered = fmt.Sprintf(rt.AttCoveredBy, strings.Join(a.CoveredBy, ", "))
			if st := a.Stream; st != nil && st.Plain && a.SHA256 != "" {
				v.Saveable, v.Offset, v.Length, v.Flate = true, st.Offset, st.Length, len(st.Filters) > 0
			} else {
				v.Note = rt.AttNoSave
			}
		} else {
			v.Covered = rt.AttNotCovered
		}
		out = append(out, v)
	}
	return out
}

// safeName keeps a download's suggested name to plain characters; the
// browser sanitises it too, but a name from the file is not trusted.
var unsafeName = regexp.MustCompile(`[^\p{L}\p{N}._-]+`)

func safeName(s string) string {
	s = unsafeName.ReplaceAllString(s, "_")
	if len(s) > 100 {
		s = s[:100]
	}
	if s == "" || s == "." || s == ".." {
		return "attachment"
	}
	return s
}

// docView is the registered document on its /d/{id} page.
type docView struct {
	ID, Tone, Status string
	Issuer, Reason   string
	Issued, Revoked  *timeView
}

func newDocView(l Lang, m *verify.RegistryMatch) *docView {
	rt := regTexts(l)
	v := &docView{ID: m.ID, Tone: toneValid, Status: rt.StatusValid, Issuer: m.Issuer}
	if m.Status != statusValid {
		v.Tone, v.Status, v.Reason = toneInvalid, rt.StatusRevoked, m.Reason
	}
	if m.IssuedAt != nil {
		v.Issued = formatTime(l, *m.IssuedAt)
	}
	if m.RevokedAt != nil {
		v.Revoked = formatTime(l, *m.RevokedAt)
	}
	return v
}

// DocOutcome is a /d/{id} page's lookup: the registered document, or the
// status and error code of a failure ("not_found", "unavailable",
// "rate_limited").
type DocOutcome struct {
	Document *verify.RegistryMatch
	Status   int
	Code     string
}

// ServeDocument answers GET /d/{id}: the document's status with an
// upload box, or a not-found page (404) unlike any status page.
func (p *Page) ServeDocument(w http.ResponseWriter, r *http.Request, o DocOutcome) {
	setHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-store")
	status := http.StatusOK
	if o.Document == nil {
		status = o.Status
		if status < 400 {
			status = http.StatusNotFound
		}
	}
	p.renderDoc(w, r, status, o.Document, o.Code, nil, "", false)
}

// renderDoc writes a /d/{id} page: doc, or docCode saying why there is
// none, and when posted the upload's report or its failure code.
func (p *Page) renderDoc(w http.ResponseWriter, r *http.Request, status int, doc *verify.RegistryMatch, docCode string,
	rep *verify.Report, code string, posted bool) {
	l := parseLang(r.URL.Query().Get("lang"))
	tx := texts(l)
	self := r.URL.Path
	d := pageData{
		Lang: l, T: tx, R: regTexts(l),
		Action:    self + "?" + url.Values{"lang": {string(l)}}.Encode(),
		SwitchURL: self + "?" + url.Values{"lang": {tx.OtherLang}}.Encode(),
		MaxUpload: p.opts.MaxUpload,
		Posted:    posted,
	}
	if p.opts.MaxUpload > 0 {
		d.MaxSize = fmt.Sprintf(tx.MaxSize, formatSize(p.opts.MaxUpload))
	}
	switch {
	case doc != nil:
		d.Doc = newDocView(l, doc)
	case docCode == "not_found":
		d.DocMissing = true
	default:
		d.DocError = errorMessage(l, docCode)
		if docCode == "unavailable" {
			d.DocError = d.R.UnavailableTitle + " " + d.R.UnavailableDetail
		}
	}
	if posted {
		p.fillResult(&d, l, rep, code, doc)
	}
	p.write(w, r, "docpage", posted, status, l, d)
}
