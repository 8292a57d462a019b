// Package pdf reads the parts of a PDF file that an incremental update
// needs (ISO 32000-1 §7.5) and writes incremental updates.
//
// The reader is lazy: it parses the cross-reference sections and then only
// the objects a caller asks for, so signing a large file touches a handful of
// objects. Every size read from the file is bounded, because the verifier
// feeds it files uploaded by anyone.
package pdf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// Object is one PDF object: nil (null), Bool, Integer, Real, String, Name,
// Array, Dict, *Stream or Ref.
type Object any

type (
	// Bool is a PDF boolean.
	Bool bool
	// Integer is a PDF integer.
	Integer int64
	// Real is a PDF real number.
	Real float64
	// Name is a PDF name, without the leading slash and with #xx escapes decoded.
	Name string
	// Array is a PDF array.
	Array []Object
	// Dict is a PDF dictionary.
	Dict map[Name]Object
)

// String is a PDF string. Hex records the form it was read in or should be
// written in; the bytes are the same either way.
type String struct {
	Bytes []byte
	Hex   bool
}

// Ref is an indirect reference "Num Gen R".
type Ref struct {
	Num uint32
	Gen uint16
}

func (r Ref) String() string { return fmt.Sprintf("%d %d R", r.Num, r.Gen) }

// Stream is a stream object. Its data stays in the file until asked for:
// Offset and Length locate the raw (still encoded) bytes.
type Stream struct {
	Dict   Dict
	Offset int64 // offset of the first data byte in the file
	Length int64 // raw length
	// Data, when not nil, holds the raw bytes (streams built for writing, or
	// streams inside data already in memory).
	Data []byte
	// cryptRef and encrypted: the data in the file is encrypted with the
	// key of object cryptRef (set by the reader of an encrypted file).
	cryptRef  Ref
	encrypted bool
}

// Raw is pre-serialised PDF syntax written verbatim. The writer uses it for
// placeholders whose bytes are patched after the offsets are known.
type Raw []byte

// Get returns d[key] or nil.
func (d Dict) Get(key Name) Object { return d[key] }

// Clone returns a shallow copy of d, so an object read from a file can be
// changed for an update without touching the cached original.
func (d Dict) Clone() Dict {
	out := make(Dict, len(d)+2)
	for k, v := range d {
		out[k] = v
	}
	return out
}

// SortedKeys returns the keys of d in a stable order for writing.
func (d Dict) SortedKeys() []Name {
	keys := make([]Name, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	// /Type first reads best and matches what most producers do.
	slices.SortFunc(keys, func(a, b Name) int {
		switch {
		case a == b:
			return 0
		case a == "Type":
			return -1
		case b == "Type":
			return 1
		}
		return strings.Compare(string(a), string(b))
	})
	return keys
}

// TextString encodes s as a PDF text string (§7.9.2.2): plain bytes when s
// is printable ASCII, otherwise UTF-16BE with a byte order mark, which is
// what Thai names need.
func TextString(s string) String {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			ascii = false
			break
		}
	}
	if ascii {
		return String{Bytes: []byte(s)}
	}
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2, 2+2*len(u))
	b[0], b[1] = 0xfe, 0xff
	for _, c := range u {
		b = append(b, byte(c>>8), byte(c))
	}
	return String{Bytes: b, Hex: true}
}

// DecodeText decodes a PDF text string: UTF-16BE with BOM, UTF-8 with BOM
// (PDF 2.0), or PDFDocEncoding, approximated by Latin-1, which agrees with
// it for every printable character names use.
func DecodeText(b []byte) string {
	switch {
	case len(b) >= 2 && b[0] == 0xfe && b[1] == 0xff:
		u := make([]uint16, 0, (len(b)-2)/2)
		for i := 2; i+1 < len(b); i += 2 {
			u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
		}
		return string(utf16.Decode(u))
	case len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf:
		return string(b[3:])
	default:
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r)
	}
}

// FormatDate formats t as a PDF date string (§7.9.4) in UTC.
func FormatDate(t time.Time) string {
	return "D:" + t.UTC().Format("20060102150405") + "+00'00'"
}

// ParseDate parses a PDF date string. Missing trailing fields default as the
// specification says; a missing zone means UTC.
func ParseDate(s string) (time.Time, error) {
	orig := s
	if len(s) >= 2 && s[:2] == "D:" {
		s = s[2:]
	}
	num := func(n int, def int) (int, error) {
		if len(s) < n || !isDigits(s[:n]) {
			return def, nil
		}
		v, err := strconv.Atoi(s[:n])
		s = s[n:]
		return v, err
	}
	if len(s) < 4 || !isDigits(s[:4]) {
		return time.Time{}, fmt.Errorf("pdf date %q: no year", orig)
	}
	year, _ := num(4, 0)
	month, _ := num(2, 1)
	day, _ := num(2, 1)
	hour, _ := num(2, 0)
	minute, _ := num(2, 0)
	sec, _ := num(2, 0)
	loc := time.UTC
	if len(s) > 0 {
		switch s[0] {
		case 'Z':
		case '+', '-':
			sign := 1
			if s[0] == '-' {
				sign = -1
			}
			s = s[1:]
			oh, _ := num(2, 0)
			if len(s) > 0 && s[0] == '\'' {
				s = s[1:]
			}
			om, _ := num(2, 0)
			loc = time.FixedZone("", sign*(oh*3600+om*60))
		}
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, fmt.Errorf("pdf date %q: field out of range", orig)
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, loc), nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
