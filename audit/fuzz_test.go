package audit_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"esign/audit"
)

// FuzzMetadataValidate feeds the e-Saraban metadata a request carries:
// what Validate accepts must be storable text within the limits.
func FuzzMetadataValidate(f *testing.F) {
	f.Add("ศธ 0201/1234", "22 พฤศจิกายน 2569", "ขออนุมัติ", "ด่วนที่สุด", "ลับ")
	f.Add("\x00", "", "", "", "")
	f.Add("\xff", "a", "b", "c", "d")
	f.Fuzz(func(t *testing.T, number, date, subject, urgency, secrecy string) {
		m := audit.Metadata{Number: number, Date: date, Subject: subject, Urgency: urgency, Secrecy: secrecy}
		if m.Validate() != nil {
			return
		}
		for _, s := range []string{number, date, subject, urgency, secrecy} {
			if !utf8.ValidString(s) || strings.ContainsRune(s, 0) || len(s) > audit.MaxMetadataLen {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}
