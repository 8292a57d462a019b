package verifypage

import (
	"math"
	"strconv"

	"esign/verify"
)

// Lang is a language of the page: LangThai (the default) or LangEnglish.
type Lang string

// The page's languages.
const (
	LangThai    Lang = "th"
	LangEnglish Lang = "en"
)

// parseLang reads the ?lang= parameter; anything but "en" is Thai, the
// language the page is for.
func parseLang(s string) Lang {
	if s == string(LangEnglish) {
		return LangEnglish
	}
	return LangThai
}

// text holds every fixed string of the page in one language. Strings from
// the uploaded file never go here: they reach the templates as data and
// html/template escapes them.
type text struct {
	Title, Intro                                  string
	OtherLang, OtherLangName, LangNav             string
	ChooseLabel, DropHint, Submit, MaxSize        string
	PasswordLabel, PasswordHint                   string
	Privacy, Busy, NetworkError, TooLarge         string
	VerdictPrefix                                 string
	ValidTitle, ValidDetail                       string
	InvalidTitle, InvalidAdvice, ChangedHeading   string
	IndeterminateTitle, NoSignatureTitle          string
	NoSignatureDetail                             string
	SignaturesHeading, SignatureN, DocTimestamp   string
	StatusPassed, StatusFailed, StatusIndet       string
	SignedBy, Organisation, TSAName, SignedAt     string
	TimeFromTSA, TimeClaimed, TimeUnknown         string
	TimestampedAt                                 string
	Level, LongTerm, LongTermYes, LongTermNo      string
	Yes, No                                       string
	Chain, ChainAnchor, ChainNoAnchor, ChainEmpty string
	Changes, NoChanges, AllowedChanges            string
	CoversWhole                                   string
	Certification, Reason, Location, Contact      string
	Technical, Indication, Field, SubFilter       string
	Digest, Algorithm, RevocationLabel, Serial    string
	Issuer, Subject, SubjectSerial, Errors        string
	Warnings, DocumentWarnings, Download          string
	DownloadHint, ErrorTitle, CheckAnother        string
	RevisionsLabel, TrailingLabel                 string
	EncryptionLabel                               string
	ClaimedTime                                   string
	ProvenAt, ProvenByDocTS                       string
	AllowedSeen, ValidSeenTitle, ValidSeenDetail  string
	SeenHeading, SeenDetail, SeenNoChanges        string
	Months                                        [12]string
	Errs                                          map[string]string // by error code of the JSON API
	Footer                                        string
}

func texts(l Lang) *text {
	if l == LangEnglish {
		return &english
	}
	return &thai
}

// thai is the page in Thai, the language it is written for.
var thai = text{
	Title:         "ตรวจสอบลายมือชื่อดิจิทัลบนเอกสาร PDF",
	Intro:         "ตรวจสอบว่าเอกสาร เช่น ใบแสดงผลการศึกษาหรือหนังสือราชการ ลงลายมือชื่อโดยใคร เมื่อใด และถูกแก้ไขหลังลงลายมือชื่อหรือไม่ โดยไม่ต้องติดตั้งโปรแกรมใด ๆ",
	OtherLang:     "en",
	OtherLangName: "English",
	LangNav:       "ภาษา",
	ChooseLabel:   "เลือกไฟล์ PDF ที่ต้องการตรวจสอบ",
	PasswordLabel: "รหัสผ่านของไฟล์ (ถ้ามี)",
	PasswordHint:  "ใช้เฉพาะไฟล์ที่เข้ารหัสไว้ ระบบไม่จัดเก็บรหัสผ่าน",
	DropHint:      "หรือลากไฟล์มาวางในกรอบนี้",
	Submit:        "ตรวจสอบเอกสาร",
	MaxSize:       "ขนาดไฟล์ไม่เกิน %s",
	Privacy:       "ไฟล์ของท่านไม่ถูกจัดเก็บ: ระบบอ่านไฟล์เพื่อตรวจสอบเท่านั้น และทิ้งทันทีเมื่อตรวจเสร็จ ไม่มีการบันทึกไฟล์หรือข้อมูลใด ๆ ในไฟล์ไว้",
	Busy:          "กำลังตรวจสอบเอกสาร…",
	NetworkError:  "ส่งไฟล์ไม่สำเร็จ โปรดตรวจสอบการเชื่อมต่อแล้วลองอีกครั้ง",
	TooLarge:      "ไฟล์มีขนาดใหญ่เกินกำหนด",
	VerdictPrefix: "ผลการตรวจสอบ:",

	ValidTitle:         "เอกสารนี้ได้รับการลงลายมือชื่อและไม่ถูกแก้ไข",
	ValidDetail:        "ลายมือชื่อทุกรายการถูกต้อง ผู้ลงนามมีใบรับรองจากหน่วยงานที่เชื่อถือได้ และเนื้อหาไม่ถูกเปลี่ยนแปลงหลังลงลายมือชื่อ",
	InvalidTitle:       "เอกสารนี้ไม่ผ่านการตรวจสอบ",
	InvalidAdvice:      "อย่าเชื่อถือเนื้อหาของเอกสารฉบับนี้ โปรดขอเอกสารฉบับใหม่จากหน่วยงานที่ออกเอกสาร",
	ChangedHeading:     "สิ่งที่ถูกแก้ไขหลังลงลายมือชื่อ:",
	IndeterminateTitle: "ไม่สามารถยืนยันเอกสารนี้ได้ครบถ้วน",
	NoSignatureTitle:   "ไม่พบลายมือชื่อดิจิทัลในเอกสารนี้",
	NoSignatureDetail:  "จึงยืนยันไม่ได้ว่าใครเป็นผู้ออกเอกสาร หรือเอกสารถูกแก้ไขหรือไม่",

	SignaturesHeading: "รายละเอียดลายมือชื่อ",
	SignatureN:        "ลายมือชื่อที่ %d",
	DocTimestamp:      "การประทับเวลาของเอกสาร",
	StatusPassed:      "ถูกต้อง",
	StatusFailed:      "ไม่ถูกต้อง",
	StatusIndet:       "ยืนยันไม่ได้ครบถ้วน",
	SignedBy:          "ผู้ลงนาม",
	Organisation:      "หน่วยงาน",
	TSAName:           "ผู้ให้บริการประทับเวลา",
	SignedAt:          "เวลาที่ลงนาม",
	TimestampedAt:     "เวลาที่ประทับ",
	TimeFromTSA:       "เวลานี้รับรองโดยการประทับเวลาที่เชื่อถือได้จาก %s",
	TimeClaimed:       "เวลานี้มาจากเครื่องคอมพิวเตอร์ของผู้ลงนาม ไม่มีการประทับเวลาที่เชื่อถือได้รับรอง",
	TimeUnknown:       "ไม่ระบุเวลา",
	Level:             "รูปแบบลายมือชื่อ",
	LongTerm:          "ตรวจสอบได้ในระยะยาว",
	LongTermYes:       "ได้",
	LongTermNo:        "ไม่ได้",
	Yes:               "ใช่",
	No:                "ไม่ใช่",
	Chain:             "สายใบรับรอง (จากผู้ลงนามถึงหน่วยงานต้นทางที่เชื่อถือ)",
	ChainAnchor:       "หน่วยงานต้นทางที่เชื่อถือ",
	ChainNoAnchor:     "ไม่ใช่หน่วยงานที่ระบบนี้เชื่อถือ",
	ChainEmpty:        "ไม่พบใบรับรอง",
	Changes:           "การแก้ไขหลังลงลายมือชื่อนี้",
	NoChanges:         "ไม่มีการแก้ไขเนื้อหาหลังลงลายมือชื่อนี้",
	AllowedChanges:    "ส่วนที่เพิ่มภายหลังซึ่งได้รับอนุญาต (ไม่กระทบเนื้อหา):",
	AllowedSeen:       "ส่วนที่เพิ่มภายหลังซึ่งได้รับอนุญาต:",
	ValidSeenTitle:    "ลายมือชื่อถูกต้อง แต่มีสิ่งที่เพิ่มภายหลังแสดงอยู่บนหน้าเอกสาร",
	ValidSeenDetail:   "ลายมือชื่อทุกรายการถูกต้อง และผู้ลงนามมีใบรับรองจากหน่วยงานที่เชื่อถือได้",
	SeenHeading:       "คำเตือน: มีสิ่งที่เพิ่มภายหลังแสดงอยู่บนหน้าเอกสาร",
	SeenNoChanges:     "ไม่มีการแก้ไขที่ไม่ได้รับอนุญาต แต่มีสิ่งที่เพิ่มภายหลังแสดงอยู่บนหน้าเอกสาร ตามคำเตือนข้างต้น",
	SeenDetail:        "การรับรองเอกสารอนุญาตให้เพิ่มสิ่งนี้ได้ แต่สิ่งที่แสดงในบริเวณต่อไปนี้ต่างจากตอนที่ลงนาม และอาจบังหรือเปลี่ยนความหมายของเนื้อหา โปรดเทียบกับต้นฉบับ หรือสอบถามหน่วยงานที่ออกเอกสาร",
	CoversWhole:       "ครอบคลุมจนถึงท้ายไฟล์",
	Certification:     "การรับรองเอกสาร",
	Reason:            "เหตุผล",
	Location:          "สถานที่",
	Contact:           "ติดต่อ",
	Technical:         "รายละเอียดทางเทคนิค",
	Indication:        "ผลตามมาตรฐาน ETSI EN 319 102-1",
	Field:             "ชื่อช่องลายมือชื่อ",
	SubFilter:         "SubFilter",
	Digest:            "อัลกอริทึมย่อยข้อมูล",
	Algorithm:         "อัลกอริทึมลายมือชื่อ",
	RevocationLabel:   "สถานะการเพิกถอนใบรับรอง",
	Serial:            "หมายเลขใบรับรอง",
	Issuer:            "ผู้ออกใบรับรอง",
	Subject:           "ชื่อในใบรับรอง",
	SubjectSerial:     "เลขประจำตัวในใบรับรอง",
	Errors:            "ข้อผิดพลาด",
	Warnings:          "คำเตือน",
	DocumentWarnings:  "คำเตือนเกี่ยวกับไฟล์",
	Download:          "ดาวน์โหลดรายงานผลการตรวจสอบ (JSON)",
	DownloadHint:      "สำหรับเจ้าหน้าที่ไอทีหรือระบบอื่นที่ต้องการอ่านผลโดยอัตโนมัติ",
	ErrorTitle:        "ตรวจสอบไฟล์นี้ไม่ได้",
	CheckAnother:      "ตรวจสอบเอกสารอื่น",
	RevisionsLabel:    "จำนวนครั้งที่บันทึกไฟล์",
	TrailingLabel:     "ข้อมูลต่อท้ายไฟล์ (ไบต์)",
	EncryptionLabel:   "การเข้ารหัสไฟล์",
	ClaimedTime:       "เวลาที่ผู้ลงนามระบุเอง (/M)",
	ProvenAt:          "พิสูจน์ได้ว่ามีอยู่แล้วเมื่อ",
	ProvenByDocTS:     "พิสูจน์โดยการประทับเวลาของเอกสาร %s ซึ่งยังคงใช้ยืนยันได้แม้ใบรับรองจะหมดอายุไปแล้ว",
	Months: [12]string{"มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
		"กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม"},
	Errs: map[string]string{
		"too_large":              "ไฟล์มีขนาดใหญ่เกินกำหนด",
		"rate_limited":           "มีการตรวจสอบจากเครื่องของท่านถี่เกินไป โปรดรอสักครู่แล้วลองใหม่",
		"busy":                   "ขณะนี้มีการตรวจสอบเอกสารจำนวนมาก โปรดลองใหม่ในอีกสักครู่",
		"not_pdf":                "ไฟล์นี้ไม่ใช่ไฟล์ PDF",
		"unknown_field":          "คำขอมีช่องข้อมูลที่ระบบไม่รู้จัก โปรดส่งเฉพาะไฟล์ PDF",
		"unreadable":             "อ่านไฟล์ PDF นี้ไม่ได้ ไฟล์อาจเสียหายหรือไม่สมบูรณ์",
		"password_required":      "ไฟล์นี้เข้ารหัสไว้ โปรดใส่รหัสผ่านของไฟล์แล้วตรวจสอบอีกครั้ง",
		"wrong_password":         "รหัสผ่านไม่ถูกต้อง โปรดตรวจสอบแล้วลองใหม่",
		"encryption_unsupported": "ไฟล์นี้เข้ารหัสด้วยวิธีที่ระบบยังไม่รองรับ",
		"timeout":                "การตรวจสอบใช้เวลานานเกินกำหนด โปรดลองใหม่ภายหลัง",
		"bad_request":            "ไม่ได้รับไฟล์ โปรดเลือกไฟล์ PDF แล้วกดตรวจสอบ",
		"":                       "เกิดข้อผิดพลาดในการตรวจสอบ โปรดลองใหม่ภายหลัง",
	},
	Footer: "ผลการตรวจสอบเป็นไปตามมาตรฐาน ETSI EN 319 102-1 (PAdES)",
}

// english is the page in English.
var english = text{
	Title:         "Check the digital signatures of a PDF document",
	Intro:         "Find out who signed a document such as a transcript or an official letter, when, and whether it has been changed since it was signed. There is nothing to install.",
	OtherLang:     "th",
	OtherLangName: "ภาษาไทย",
	LangNav:       "Language",
	ChooseLabel:   "Choose the PDF file to check",
	PasswordLabel: "The file's password (if any)",
	PasswordHint:  "Only for encrypted files. The password is not kept.",
	DropHint:      "or drop the file in this box",
	Submit:        "Check the document",
	MaxSize:       "Files up to %s",
	Privacy:       "Your file is not stored: it is read only to check it and discarded as soon as the check ends. Neither the file nor anything in it is kept.",
	Busy:          "Checking the document…",
	NetworkError:  "The file could not be sent. Check your connection and try again.",
	TooLarge:      "The file is larger than allowed",
	VerdictPrefix: "Result:",

	ValidTitle:         "This document is signed and has not been changed",
	ValidDetail:        "Every signature is valid, the signers hold certificates from a trusted authority, and the content has not changed since it was signed.",
	InvalidTitle:       "This document failed the check",
	InvalidAdvice:      "Do not rely on the content of this copy; ask the issuing office for a new one.",
	ChangedHeading:     "Changed after signing:",
	IndeterminateTitle: "This document cannot be fully verified",
	NoSignatureTitle:   "This document has no digital signature",
	NoSignatureDetail:  "So nothing shows who issued it or whether it was changed.",

	SignaturesHeading: "Signatures",
	SignatureN:        "Signature %d",
	DocTimestamp:      "Document timestamp",
	StatusPassed:      "Valid",
	StatusFailed:      "Invalid",
	StatusIndet:       "Not fully verified",
	SignedBy:          "Signed by",
	Organisation:      "Organisation",
	TSAName:           "Time-stamping authority",
	SignedAt:          "Signed at",
	TimestampedAt:     "Time-stamped at",
	TimeFromTSA:       "This time is certified by a trusted timestamp from %s",
	TimeClaimed:       "This time comes from the signer's computer; no trusted timestamp certifies it",
	TimeUnknown:       "No time given",
	Level:             "Signature format",
	LongTerm:          "Verifiable in the long term",
	LongTermYes:       "Yes",
	LongTermNo:        "No",
	Yes:               "Yes",
	No:                "No",
	Chain:             "Certificate chain (from the signer up to the trusted authority)",
	ChainAnchor:       "trusted authority",
	ChainNoAnchor:     "not an authority this service trusts",
	ChainEmpty:        "No certificate found",
	Changes:           "Changes after this signature",
	NoChanges:         "The content has not changed since this signature",
	AllowedChanges:    "Permitted additions made later (the content is untouched):",
	AllowedSeen:       "Permitted additions made later:",
	ValidSeenTitle:    "The signatures are valid, but something added later shows on a page",
	ValidSeenDetail:   "Every signature is valid and the signers hold certificates from a trusted authority.",
	SeenHeading:       "Warning: something added later shows on a page",
	SeenNoChanges:     "No change that is not allowed, but something added later shows on a page: see the warning above.",
	SeenDetail:        "The certification allows such additions, but what shows in the places below differs from what was signed and may hide or change the meaning of the content. Compare it with the original, or ask the issuing office.",
	CoversWhole:       "Covers the file to its end",
	Certification:     "Certification",
	Reason:            "Reason",
	Location:          "Location",
	Contact:           "Contact",
	Technical:         "Technical details",
	Indication:        "ETSI EN 319 102-1 indication",
	Field:             "Signature field",
	SubFilter:         "SubFilter",
	Digest:            "Digest algorithm",
	Algorithm:         "Signature algorithm",
	RevocationLabel:   "Certificate revocation status",
	Serial:            "Certificate serial number",
	Issuer:            "Certificate issuer",
	Subject:           "Certificate subject",
	SubjectSerial:     "Subject serial number",
	Errors:            "Errors",
	Warnings:          "Warnings",
	DocumentWarnings:  "Warnings about the file",
	Download:          "Download the validation report (JSON)",
	DownloadHint:      "For IT staff, or systems that read the result automatically",
	ErrorTitle:        "This file could not be checked",
	CheckAnother:      "Check another document",
	RevisionsLabel:    "Times the file was saved",
	TrailingLabel:     "Data after the end of the file (bytes)",
	EncryptionLabel:   "File encryption",
	ClaimedTime:       "Time claimed by the signer (/M)",
	ProvenAt:          "Proven to exist by",
	ProvenByDocTS:     "Proven by the document timestamp %s, which still holds after certificates expire",
	Months: [12]string{"January", "February", "March", "April", "May", "June",
		"July", "August", "September", "October", "November", "December"},
	Errs: map[string]string{
		"too_large":              "The file is larger than allowed.",
		"rate_limited":           "Too many checks from your address. Wait a minute and try again.",
		"busy":                   "Many documents are being checked right now. Try again in a moment.",
		"not_pdf":                "This file is not a PDF.",
		"unknown_field":          "The request holds a field this service does not take. Send only the PDF file.",
		"unreadable":             "This PDF cannot be read; it may be damaged or incomplete.",
		"password_required":      "This PDF is encrypted. Enter its password and check again.",
		"wrong_password":         "The password is not right. Check it and try again.",
		"encryption_unsupported": "This PDF is encrypted in a way this service does not support.",
		"timeout":                "The check took too long. Please try again later.",
		"bad_request":            "No file arrived. Choose a PDF file and press Check.",
		"":                       "Something went wrong during the check. Please try again later.",
	},
	Footer: "Results follow ETSI EN 319 102-1 (PAdES).",
}

// pick returns thai on the Thai page and english otherwise.
func (l Lang) pick(thai, english string) string {
	if l == LangThai {
		return thai
	}
	return english
}

// reason explains a sub-indication in plain words; "" when there is
// nothing more to say than the verdict.
func reason(l Lang, sub verify.SubIndication, changed bool) string {
	switch sub {
	case verify.HashFailure:
		return l.pick("ข้อมูลในเอกสารไม่ตรงกับข้อมูลที่ลงลายมือชื่อไว้ แสดงว่าเอกสารถูกแก้ไขหลังลงลายมือชื่อ",
			"The document's bytes no longer match what was signed: it was altered after signing.")
	case verify.SigCryptoFailure:
		return l.pick("ค่าลายมือชื่อดิจิทัลไม่ถูกต้อง ลายมือชื่อถูกปลอมแปลงหรือเสียหาย",
			"The signature value does not verify: the signature is forged or damaged.")
	case verify.FormatFailure:
		if changed {
			return l.pick("เอกสารถูกแก้ไขหลังลงลายมือชื่อในลักษณะที่ไม่ได้รับอนุญาต",
				"The document was changed after signing in a way that is not allowed.")
		}
		return l.pick("โครงสร้างลายมือชื่อในไฟล์ไม่ถูกต้อง", "The signature's structure in the file is broken.")
	case verify.Revoked:
		return l.pick("ใบรับรองของผู้ลงนามถูกเพิกถอนก่อนเวลาที่ลงลายมือชื่อ",
			"The signer's certificate was revoked before the signature was made.")
	case verify.Expired:
		return l.pick("ใบรับรองของผู้ลงนามหมดอายุแล้วในเวลาที่ลงลายมือชื่อ",
			"The signer's certificate had expired when the document was signed.")
	case verify.NotYetValid:
		return l.pick("ใบรับรองของผู้ลงนามยังไม่มีผลในเวลาที่ลงลายมือชื่อ",
			"The signer's certificate was not yet valid when the document was signed.")
	case verify.CryptoConstraintsFailure:
		return l.pick("ลายมือชื่อใช้อัลกอริทึมที่ไม่ปลอดภัยแล้ว",
			"The signature uses an algorithm that is no longer considered secure.")
	case verify.NoCertificateChainFound:
		return l.pick("ใบรับรองของผู้ลงนามไม่ได้ออกโดยหน่วยงานที่ระบบนี้เชื่อถือ จึงยืนยันตัวตนของผู้ลงนามไม่ได้",
			"The signer's certificate was not issued by an authority this service trusts, so the signer's identity cannot be confirmed.")
	case verify.CertificateChainGeneralFailure:
		return l.pick("ตรวจสอบสายใบรับรองของผู้ลงนามไม่ได้", "The signer's certificate chain could not be checked.")
	case verify.ChainConstraintsFailure:
		return l.pick("ใบรับรองของผู้ลงนามไม่ได้ออกมาเพื่อใช้ลงลายมือชื่อเอกสาร",
			"The signer's certificate is not meant for signing documents.")
	case verify.NoSigningCertificateFound:
		return l.pick("ไม่พบใบรับรองของผู้ลงนามในลายมือชื่อ หรือลายมือชื่อไม่ได้ระบุใบรับรองนั้น",
			"The signer's certificate is missing from the signature, or the signature does not name it.")
	case verify.RevokedNoPOE:
		return l.pick("ใบรับรองของผู้ลงนามถูกเพิกถอนแล้ว และไม่มีการประทับเวลาที่พิสูจน์ว่าลงลายมือชื่อก่อนการเพิกถอน",
			"The signer's certificate has been revoked, and no timestamp proves the signature came before that.")
	case verify.RevokedCANoPOE:
		return l.pick("ใบรับรองของหน่วยงานผู้ออกใบรับรองถูกเพิกถอน และไม่มีการประทับเวลาที่พิสูจน์ว่าลงลายมือชื่อก่อนหน้านั้น",
			"A certificate of the issuing authority was revoked, and no timestamp proves the signature came before that.")
	case verify.OutOfBoundsNoPOE:
		return l.pick("ใบรับรองของผู้ลงนามหมดอายุหรือยังไม่มีผล และไม่มีการประทับเวลาที่พิสูจน์ว่าลงลายมือชื่อขณะใบรับรองยังใช้ได้",
			"The signer's certificate is outside its validity period, and no timestamp proves the signature was made while it was valid.")
	case verify.TryLater:
		return l.pick("ยังตรวจสอบไม่ได้ว่าใบรับรองของผู้ลงนามถูกเพิกถอนหรือไม่ เพราะไม่มีข้อมูลสถานะใบรับรอง โปรดลองใหม่ภายหลัง",
			"Whether the signer's certificate was revoked cannot be told yet: no status information is available. Try again later.")
	case verify.SignedDataNotFound:
		return l.pick("ไม่พบข้อมูลที่ลงลายมือชื่อไว้", "The signed data was not found.")
	}
	return ""
}

// modificationText says in plain words what one change after a signature
// did; kinds it does not know fall back to the verifier's description.
func modificationText(l Lang, m verify.Modification) string {
	var s string
	switch m.Kind {
	case verify.ModDSS:
		s = l.pick("เพิ่มข้อมูลสำหรับตรวจสอบใบรับรองในระยะยาว (DSS)", "Validation data for long-term checking was added (DSS).")
	case verify.ModDocumentTimestamp:
		s = l.pick("เพิ่มการประทับเวลาของเอกสาร", "A document timestamp was added.")
	case verify.ModSignature:
		s = l.pick("เพิ่มลายมือชื่อถัดไป", "A further signature was added.")
	case verify.ModFormFill:
		s = l.pick("กรอกข้อมูลในแบบฟอร์ม", "Form fields were filled in.")
	case verify.ModFormResources:
		s = l.pick("ปรับทรัพยากรของแบบฟอร์ม เช่น แบบอักษร", "Form resources such as fonts were updated.")
	case verify.ModMetadata:
		s = l.pick("แก้ไขข้อมูลกำกับเอกสาร (เมทาดาทา)", "The document's metadata was updated.")
	case verify.ModStructure:
		s = l.pick("ปรับโครงสร้างแท็กของเอกสาร", "The document's tag structure was updated.")
	case verify.ModVersion:
		s = l.pick("ปรับรุ่นของรูปแบบ PDF", "The PDF version number was updated.")
	case verify.ModObjectReused:
		s = l.pick("นำหมายเลขส่วนประกอบที่ว่างอยู่กลับมาใช้", "A free object number was used again.")
	case verify.ModAnnotationAdded:
		s = l.pick("มีการเพิ่มหมายเหตุหรือข้อความทับบนหน้าเอกสาร", "A note or text was added on top of a page.")
	case verify.ModAnnotationChanged:
		s = l.pick("หมายเหตุบนหน้าเอกสารถูกแก้ไข", "A note on a page was changed.")
	case verify.ModAnnotationRemoved:
		s = l.pick("หมายเหตุบนหน้าเอกสารถูกลบ", "A note was removed from a page.")
	case verify.ModPageContent:
		s = l.pick("เนื้อหาบนหน้าเอกสารถูกแก้ไข", "The content of a page was changed.")
	case verify.ModPageModified:
		s = l.pick("หน้าเอกสารถูกแก้ไข", "A page was altered.")
	case verify.ModPageAdded:
		s = l.pick("มีการเพิ่มหน้าเอกสาร", "A page was added.")
	case verify.ModPageRemoved:
		s = l.pick("มีการลบหน้าเอกสาร", "A page was removed.")
	case verify.ModPagesModified:
		s = l.pick("ลำดับหรือโครงสร้างของหน้าเอกสารถูกแก้ไข", "The order or structure of the pages was changed.")
	case verify.ModCatalogModified:
		s = l.pick("โครงสร้างหลักของเอกสารถูกแก้ไข", "The document's catalog was changed.")
	case verify.ModAcroFormModified:
		s = l.pick("แบบฟอร์มของเอกสารถูกแก้ไข", "The document's form was changed.")
	case verify.ModFieldAdded:
		s = l.pick("มีการเพิ่มช่องในแบบฟอร์ม", "A form field was added.")
	case verify.ModFieldRemoved:
		s = l.pick("มีการลบช่องในแบบฟอร์ม", "A form field was removed.")
	case verify.ModFieldModified:
		s = l.pick("ช่องในแบบฟอร์มถูกแก้ไข", "A form field was changed.")
	case verify.ModSignatureModified:
		s = l.pick("ลายมือชื่อที่ลงไว้แล้วหรือช่องของลายมือชื่อนั้นถูกแก้ไข", "A signature already made, or its field, was changed.")
	case verify.ModCertification:
		s = l.pick("มีการเพิ่มการรับรองเอกสารภายหลัง", "A certification was added afterwards.")
	case verify.ModPermissions:
		s = l.pick("สิทธิ์การใช้งานเอกสารถูกแก้ไข", "The document's permissions were changed.")
	case verify.ModObjectModified:
		s = l.pick("ส่วนประกอบของเอกสารถูกเขียนทับ", "Part of the document was overwritten.")
	case verify.ModObjectDeleted:
		s = l.pick("ส่วนประกอบของเอกสารถูกลบ", "Part of the document was deleted.")
	case verify.ModXref:
		s = l.pick("ตารางอ้างอิงภายในไฟล์ถูกแก้ไขผิดรูปแบบ", "The file's cross-reference table was altered.")
	case verify.ModTrailingBytes:
		s = l.pick("มีข้อมูลต่อท้ายไฟล์หลังส่วนที่ลงลายมือชื่อ", "Data was appended after the end of the file.")
	case verify.ModUnreadable:
		s = l.pick("ส่วนที่เพิ่มเข้ามาภายหลังอ่านไม่ได้", "A later revision of the file cannot be read.")
	case verify.ModOverlay:
		s = l.pick("มีการวางข้อความหรือภาพทับบนหน้าเอกสาร โดยไม่ใช่ลายมือชื่อที่ลงจริง",
			"Text or an image was laid over a page; it is not a signature that was actually made.")
	case verify.ModDefinedLater:
		s = l.pick("เอกสารที่ลงนามอ้างถึงส่วนประกอบที่ยังไม่มีอยู่ แล้วมีการเติมส่วนนั้นภายหลัง ทำให้สิ่งที่แสดงต่างจากที่ลงนาม",
			"The signed document referred to a part it did not contain, and that part was supplied later: what is shown now differs from what was signed.")
	default:
		s = m.Description
		if s == "" {
			s = m.Kind
		}
	}
	switch m.Violation {
	case "docmdp":
		s += l.pick(" (ขัดกับข้อกำหนดของการรับรองเอกสาร)", " (this breaks the certification's restrictions)")
	case "fieldmdp":
		s += l.pick(" (ขัดกับการล็อกช่องในแบบฟอร์ม)", " (this breaks a field lock)")
	}
	return s
}

// effectText names in words what a reader sees change; "" for an effect
// it does not know or none.
func effectText(l Lang, effect string) string {
	switch effect {
	case verify.EffectContent:
		return l.pick("เนื้อหาบนหน้า", "the page content")
	case verify.EffectOverlay:
		return l.pick("ข้อความหรือภาพทับ", "text or an image laid over the page")
	case verify.EffectAnnotation:
		return l.pick("หมายเหตุ", "a note (annotation)")
	case verify.EffectFormField:
		return l.pick("ช่องแบบฟอร์ม", "a form field")
	case verify.EffectAttachment:
		return l.pick("ไฟล์แนบ", "an attached file")
	}
	return ""
}

// seenText says what a reader of the document sees change and where, or
// "" when the verifier says nothing is drawn differently.
func seenText(l Lang, m verify.Modification) string {
	what, where := effectText(l, m.Effect), placeText(l, m.Page, m.Rect)
	switch {
	case what != "" && where != "":
		return l.pick("สิ่งที่เห็นเปลี่ยน: "+what+" ที่"+where, "Visible change: "+what+", on "+where)
	case what != "":
		return l.pick("สิ่งที่เห็นเปลี่ยน: ", "Visible change: ") + what
	case where != "":
		return l.pick("ตำแหน่ง: ", "Where: ") + where
	}
	return ""
}

// cmPerPoint converts PDF units (1/72 inch) to centimetres, which a clerk
// can measure on a printout.
const cmPerPoint = 2.54 / 72

// placeText names a page and, when the rectangle is usable, the area on it:
// distances from the left and bottom edges in centimetres (the report's
// rectangle counts from the lower-left corner; without the page's height
// there is no honest "from the top"), then the raw points for IT staff.
func placeText(l Lang, page int, rect []float64) string {
	if page <= 0 {
		return ""
	}
	s := l.pick("หน้า ", "page ") + strconv.Itoa(page)
	if len(rect) != 4 {
		return s
	}
	for _, v := range rect {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return s
		}
	}
	// A PDF rectangle may name any two opposite corners.
	x1, x2 := min(rect[0], rect[2]), max(rect[0], rect[2])
	y1, y2 := min(rect[1], rect[3]), max(rect[1], rect[3])
	cm := func(v float64) string { return strconv.FormatFloat(max(v, 0)*cmPerPoint, 'f', 1, 64) }
	pt := func(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }
	coords := "x " + pt(x1) + "–" + pt(x2) + ", y " + pt(y1) + "–" + pt(y2)
	if l == LangThai {
		return s + " บริเวณที่ห่างจากขอบซ้าย " + cm(x1) + " ซม. และจากขอบล่าง " + cm(y1) + " ซม. กว้าง " + cm(x2-x1) +
			" ซม. สูง " + cm(y2-y1) + " ซม. (พิกัด " + coords + " พอยต์ นับจากมุมล่างซ้าย)"
	}
	return s + ", in an area " + cm(x1) + " cm from the left edge and " + cm(y1) + " cm from the bottom edge, " +
		cm(x2-x1) + " cm wide and " + cm(y2-y1) + " cm high (" + coords + " points from the lower-left corner)"
}

// certificationText explains a DocMDP level.
func certificationText(l Lang, level string) string {
	switch level {
	case "1":
		return l.pick("รับรองเอกสาร ระดับ 1: ห้ามแก้ไขเอกสารใด ๆ หลังลงนาม", "Certified, level 1: no change of any kind is allowed after signing.")
	case "2":
		return l.pick("รับรองเอกสาร ระดับ 2: อนุญาตเฉพาะการกรอกแบบฟอร์มและการลงลายมือชื่อเพิ่ม", "Certified, level 2: only filling in forms and further signatures are allowed.")
	case "3":
		return l.pick("รับรองเอกสาร ระดับ 3: อนุญาตการกรอกแบบฟอร์ม การลงลายมือชื่อเพิ่ม และการเพิ่มหมายเหตุ", "Certified, level 3: filling in forms, further signatures and notes are allowed.")
	}
	return l.pick("ไม่ได้รับรองเอกสาร (เป็นลายมือชื่ออนุมัติทั่วไป)", "Not a certification (an ordinary approval signature).")
}

// levelText explains a PAdES level and whether it can still be checked
// after the certificates expire.
func levelText(l Lang, level string) (what string, longTerm bool, why string) {
	switch level {
	case verify.LevelB:
		return l.pick("ลายมือชื่อพื้นฐาน ไม่มีการประทับเวลา", "A basic signature without a timestamp."), false,
			l.pick("เมื่อใบรับรองของผู้ลงนามหมดอายุหรือถูกเพิกถอน จะยืนยันลายมือชื่อนี้ไม่ได้อีก", "Once the signer's certificate expires or is revoked, this signature can no longer be confirmed.")
	case verify.LevelT:
		return l.pick("ลายมือชื่อพร้อมการประทับเวลาที่พิสูจน์เวลาที่ลงนาม", "A signature with a timestamp that proves when it was made."), false,
			l.pick("เอกสารไม่มีข้อมูลสถานะใบรับรองที่ต้องใช้ตรวจสอบในอนาคต", "The document lacks the certificate status data needed to check it in future.")
	case verify.LevelLT:
		return l.pick("ลายมือชื่อพร้อมการประทับเวลาและข้อมูลสถานะใบรับรอง", "A signature with a timestamp and certificate status data."), true,
			l.pick("เอกสารมีข้อมูลที่ต้องใช้ตรวจสอบครบถ้วน แม้ใบรับรองจะหมดอายุในภายหลัง", "The document holds what is needed to check it even after the certificates expire.")
	case verify.LevelLTA:
		return l.pick("ลายมือชื่อพร้อมข้อมูลสถานะใบรับรองและการประทับเวลาเพื่อการเก็บรักษาระยะยาว", "A signature with certificate status data and an archive timestamp."), true,
			l.pick("การประทับเวลาเพื่อการเก็บรักษาปกป้องข้อมูลที่ใช้ตรวจสอบในระยะยาว และต่ออายุได้", "The archive timestamp protects the validation data over the long term and can be renewed.")
	case verify.LevelNotETSI:
		return l.pick("ลายมือชื่อ PDF รูปแบบเก่า ไม่ใช่มาตรฐาน PAdES", "An older PDF signature format, not PAdES."), false,
			l.pick("รูปแบบนี้ไม่รองรับการตรวจสอบระยะยาวตามมาตรฐาน", "This format has no standard way to stay verifiable long-term.")
	}
	return "", false, ""
}
