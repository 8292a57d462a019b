// Package crypt is the standard security handler of ISO 32000 §7.6: it
// authenticates a password against an /Encrypt dictionary, derives the
// file key, and encrypts or decrypts strings and streams with it (RC4 and
// AES-128 with per-object keys, AES-256 with the file key).
//
// It knows nothing of PDF syntax: the pdf package reads the dictionary into
// Params and picks the crypt filter for each string or stream.
package crypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rand"
	"crypto/rc4"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sort"
	"strings"
)

var (
	// ErrPasswordRequired reports a document that does not open with the
	// empty user password, when no password was given.
	ErrPasswordRequired = errors.New("pdf: the document is encrypted and needs a password")
	// ErrWrongPassword reports a password that is neither the user nor the
	// owner password.
	ErrWrongPassword = errors.New("pdf: wrong password for the encrypted document")
	// ErrUnsupported reports a security handler or method not implemented:
	// public-key handlers, unknown handlers, unknown revisions.
	ErrUnsupported = errors.New("pdf: unsupported encryption")
	// ErrCiphertext reports encrypted data that cannot be decrypted: a
	// length AES cannot take, or bad padding.
	ErrCiphertext = errors.New("pdf: malformed encrypted data")
)

// Identity is the crypt filter that leaves data as it is.
const Identity = "Identity"

// Filter is one crypt filter of a /CF dictionary.
type Filter struct {
	CFM    string // None, V2, AESV2 or AESV3
	Length int    // key length in bytes, 0 when not given
}

// Params is what the security handler needs of the /Encrypt dictionary
// and the trailer.
type Params struct {
	Filter    string // security handler name, "Standard"
	SubFilter string
	V, R      int
	Length    int // key length in bits; 0 when not given
	O, U      []byte
	OE, UE    []byte
	Perms     []byte
	P         int32
	// EncryptMetadata is false only when the dictionary says so.
	EncryptMetadata bool
	CF              map[string]Filter
	StmF, StrF, EFF string // "" when not given
	ID0             []byte // first element of the trailer's /ID
}

type method int

const (
	methodNone method = iota
	methodRC4
	methodAESV2
	methodAESV3
)

// Handler holds a file key that a password unlocked.
type Handler struct {
	p       Params
	key     []byte
	owner   bool
	perms   uint32
	filters map[string]method
	// StmF, StrF and EFF are the crypt filter names for streams, strings
	// and embedded files, resolved to the defaults of §7.6.6.
	StmF, StrF, EFF string
}

// Open authenticates password (the owner's first, then the user's) and
// derives the file key. An empty password is the user password most
// documents have.
func Open(p Params, password []byte) (*Handler, error) {
	if p.Filter != "Standard" {
		if p.Filter == "Adobe.PubSec" {
			return nil, fmt.Errorf("%w: the public-key security handler /Adobe.PubSec (certificate encryption) is not supported", ErrUnsupported)
		}
		return nil, fmt.Errorf("%w: security handler /%s is not supported", ErrUnsupported, p.Filter)
	}
	// AES-256 (/V 5) is defined for revisions 5 and 6 only, and those
	// revisions for nothing else: the key derivation of one cannot serve
	// the ciphers of the other (a 5- to 16-byte RC4-era key is no AES-256
	// key).
	if (p.V >= 5) != (p.R >= 5) {
		return nil, fmt.Errorf("%w: /V %d with /R %d (/V 5 goes with /R 5 or 6 only, /R 5 and 6 with /V 5 only)", ErrUnsupported, p.V, p.R)
	}
	h := &Handler{p: p, filters: map[string]method{Identity: methodNone}}
	if err := h.setFilters(); err != nil {
		return nil, err
	}
	var ok bool
	switch p.R {
	case 2, 3, 4:
		ok = h.authLegacy(password)
	case 5, 6:
		var err error
		ok, err = h.authAES256(password)
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: standard security handler revision %d", ErrUnsupported, p.R)
	}
	if !ok {
		if len(password) == 0 {
			return nil, ErrPasswordRequired
		}
		return nil, ErrWrongPassword
	}
	if err := h.checkKey(); err != nil {
		return nil, err
	}
	return h, nil
}

// checkKey makes sure every AES filter has a key AES takes: AESV2's
// per-object key is 16 bytes only from a file key of at least 11 bytes
// (/Length 88 or more), and AESV3 needs the 32-byte key of R5 and R6.
// Otherwise every decryption would fail.
func (h *Handler) checkKey() error {
	for n, m := range h.filters {
		switch {
		case m == methodAESV2 && len(h.key)+5 < 16:
			return fmt.Errorf("%w: crypt filter /%s is AESV2 but the file key is %d bits, not 128", ErrUnsupported, n, 8*len(h.key))
		case m == methodAESV3 && len(h.key) != 32:
			return fmt.Errorf("%w: crypt filter /%s is AESV3 but the file key is %d bits, not 256", ErrUnsupported, n, 8*len(h.key))
		}
	}
	return nil
}

// setFilters maps the crypt filter names to methods and checks that the
// V and R values go together.
func (h *Handler) setFilters() error {
	p := h.p
	switch p.V {
	case 1, 2:
		if p.R < 2 || p.R > 4 {
			return fmt.Errorf("%w: /V %d with /R %d", ErrUnsupported, p.V, p.R)
		}
		// One method for everything: a synthetic filter name.
		h.filters["StdCF"] = methodRC4
		h.StmF, h.StrF, h.EFF = "StdCF", "StdCF", "StdCF"
		return nil
	case 4, 5:
	default:
		return fmt.Errorf("%w: /V %d", ErrUnsupported, p.V)
	}
	names := make([]string, 0, len(p.CF))
	for n := range p.CF {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if n == Identity {
			continue // §7.6.6: Identity cannot be redefined
		}
		switch p.CF[n].CFM {
		case "", "None":
			h.filters[n] = methodNone
		case "V2":
			if p.V != 4 {
				return fmt.Errorf("%w: crypt filter /%s uses RC4 under /V %d", ErrUnsupported, n, p.V)
			}
			h.filters[n] = methodRC4
		case "AESV2":
			if p.V != 4 {
				return fmt.Errorf("%w: crypt filter /%s uses AESV2 under /V %d", ErrUnsupported, n, p.V)
			}
			h.filters[n] = methodAESV2
		case "AESV3":
			if p.V != 5 {
				return fmt.Errorf("%w: crypt filter /%s uses AESV3 under /V %d", ErrUnsupported, n, p.V)
			}
			h.filters[n] = methodAESV3
		default:
			return fmt.Errorf("%w: crypt filter method /%s", ErrUnsupported, p.CF[n].CFM)
		}
	}
	pick := func(n, def string) (string, error) {
		if n == "" {
			n = def
		}
		if _, ok := h.filters[n]; !ok {
			return "", fmt.Errorf("%w: crypt filter /%s is not in /CF", ErrUnsupported, n)
		}
		return n, nil
	}
	var err error
	if h.StmF, err = pick(p.StmF, Identity); err != nil {
		return err
	}
	if h.StrF, err = pick(p.StrF, Identity); err != nil {
		return err
	}
	if h.EFF, err = pick(p.EFF, h.StmF); err != nil {
		return err
	}
	return nil
}

// Owner reports whether the owner password opened the document: its
// permissions then do not bind.
func (h *Handler) Owner() bool { return h.owner }

// Permissions is the /P value, from the encrypted /Perms for R6 when it
// decrypts.
func (h *Handler) Permissions() uint32 { return h.perms }

// EncryptMetadata reports whether the XMP metadata stream is encrypted.
func (h *Handler) EncryptMetadata() bool { return h.p.EncryptMetadata || h.p.V < 4 }

// HasFilter reports whether name is a crypt filter of the document.
func (h *Handler) HasFilter(name string) bool {
	_, ok := h.filters[name]
	return ok
}

// Describe names the handler and method for a report, such as
// "Standard R6 AES-256".
func (h *Handler) Describe() string {
	var m string
	switch h.filters[h.StmF] {
	case methodRC4:
		m = fmt.Sprintf("RC4-%d", 8*len(h.key))
	case methodAESV2:
		m = "AES-128"
	case methodAESV3:
		m = "AES-256"
	default:
		switch h.filters[h.StrF] {
		case methodRC4:
			m = fmt.Sprintf("RC4-%d", 8*len(h.key))
		case methodAESV2:
			m = "AES-128"
		case methodAESV3:
			m = "AES-256"
		default:
			m = "identity"
		}
	}
	return fmt.Sprintf("Standard R%d %s", h.p.R, m)
}

var padding = []byte{
	0x28, 0xBF, 0x4E, 0x5E, 0x4E, 0x75, 0x8A, 0x41, 0x64, 0x00, 0x4E, 0x56, 0xFF, 0xFA, 0x01, 0x08,
	0x2E, 0x2E, 0x00, 0xB6, 0xD0, 0x68, 0x3E, 0x80, 0x2F, 0x0C, 0xA9, 0xFE, 0x64, 0x53, 0x69, 0x7A,
}

func pad(pw []byte) []byte {
	out := make([]byte, 32)
	n := copy(out, pw)
	copy(out[n:], padding)
	return out
}

// keyLen is the file key length in bytes for R2–R4.
func (h *Handler) keyLen() int {
	if h.p.R == 2 {
		return 5
	}
	n := h.p.Length / 8
	if h.p.Length == 0 {
		n = 5
		if h.p.V == 4 {
			n = 16
		}
	}
	return min(max(n, 5), 16)
}

// legacyKey is Algorithm 2: the file key from a (user) password.
func (h *Handler) legacyKey(pw []byte) []byte {
	n := h.keyLen()
	m := md5.New()
	m.Write(pad(pw))
	m.Write(fixed(h.p.O, 32))
	var pb [4]byte
	binary.LittleEndian.PutUint32(pb[:], uint32(h.p.P))
	m.Write(pb[:])
	m.Write(h.p.ID0)
	if h.p.R >= 4 && !h.p.EncryptMetadata {
		m.Write([]byte{0xff, 0xff, 0xff, 0xff})
	}
	sum := m.Sum(nil)
	if h.p.R >= 3 {
		for range 50 {
			s := md5.Sum(sum[:n])
			sum = s[:]
		}
	}
	return sum[:n]
}

// fixed pads or cuts b to n bytes, so a hostile short /O cannot index
// past its end.
func fixed(b []byte, n int) []byte {
	out := make([]byte, n)
	copy(out, b)
	return out
}

func rc4Crypt(key, data []byte) []byte {
	c, err := rc4.NewCipher(key)
	if err != nil {
		panic(err) // key lengths are 1..256 by construction
	}
	out := make([]byte, len(data))
	c.XORKeyStream(out, data)
	return out
}

// userHash is Algorithms 4 and 5: the /U value a file key yields.
func (h *Handler) userHash(key []byte) []byte {
	if h.p.R == 2 {
		return rc4Crypt(key, padding)
	}
	m := md5.New()
	m.Write(padding)
	m.Write(h.p.ID0)
	v := rc4Crypt(key, m.Sum(nil))
	k := make([]byte, len(key))
	for i := 1; i <= 19; i++ {
		for j := range key {
			k[j] = key[j] ^ byte(i)
		}
		v = rc4Crypt(k, v)
	}
	return v
}

func (h *Handler) checkUser(pw []byte) ([]byte, bool) {
	key := h.legacyKey(pw)
	u := h.userHash(key)
	want := fixed(h.p.U, 32)
	if h.p.R >= 3 {
		return key, bytes.Equal(u[:16], want[:16])
	}
	return key, bytes.Equal(u, want)
}

// authLegacy is Algorithms 6 and 7 for R2–R4.
func (h *Handler) authLegacy(pw []byte) bool {
	// Algorithm 7: the owner password decrypts /O to the user password.
	s := md5.Sum(pad(pw))
	ok := s[:]
	n := h.keyLen()
	if h.p.R >= 3 {
		for range 50 {
			t := md5.Sum(ok)
			ok = t[:]
		}
	}
	okey := ok[:n]
	user := fixed(h.p.O, 32)
	if h.p.R == 2 {
		user = rc4Crypt(okey, user)
	} else {
		k := make([]byte, n)
		for i := 19; i >= 0; i-- {
			for j := range okey {
				k[j] = okey[j] ^ byte(i)
			}
			user = rc4Crypt(k, user)
		}
	}
	if key, good := h.checkUser(user); good {
		h.key, h.owner = key, true
		h.perms = uint32(h.p.P)
		return true
	}
	if key, good := h.checkUser(pw); good {
		h.key = key
		h.perms = uint32(h.p.P)
		return true
	}
	return false
}

// hash2B is Algorithm 2.B (R6), or the plain SHA-256 of R5.
func (h *Handler) hash2B(pw, salt, udata []byte) []byte {
	s := sha256.New()
	s.Write(pw)
	s.Write(salt)
	s.Write(udata)
	k := s.Sum(nil)
	if h.p.R == 5 {
		return k
	}
	var e []byte
	for i := 0; i < 64 || int(e[len(e)-1]) > i-32; i++ {
		unit := make([]byte, 0, len(pw)+len(k)+len(udata))
		unit = append(unit, pw...)
		unit = append(unit, k...)
		unit = append(unit, udata...)
		k1 := bytes.Repeat(unit, 64)
		block, _ := aes.NewCipher(k[:16])
		e = make([]byte, len(k1))
		cipher.NewCBCEncrypter(block, k[16:32]).CryptBlocks(e, k1)
		// The first 16 bytes as a big-endian number mod 3: 256 ≡ 1 (mod 3),
		// so the sum of the bytes mod 3.
		sum := 0
		for _, c := range e[:16] {
			sum += int(c)
		}
		var hf hash.Hash
		switch sum % 3 {
		case 0:
			hf = sha256.New()
		case 1:
			hf = sha512.New384()
		default:
			hf = sha512.New()
		}
		hf.Write(e)
		k = hf.Sum(nil)
	}
	return k[:32]
}

// authAES256 is Algorithm 2.A: owner, then user, for R5 and R6.
func (h *Handler) authAES256(pw []byte) (bool, error) {
	if len(h.p.O) < 48 || len(h.p.U) < 48 || len(h.p.OE) < 32 || len(h.p.UE) < 32 {
		return false, fmt.Errorf("%w: /O, /U, /OE or /UE too short for revision %d", ErrCiphertext, h.p.R)
	}
	// The password is UTF-8 (after SASLprep, which is the identity for the
	// passwords people type), at most 127 bytes.
	if len(pw) > 127 {
		pw = pw[:127]
	}
	o, u := h.p.O[:48], h.p.U[:48]
	var ikey, enc []byte
	switch {
	case bytes.Equal(h.hash2B(pw, o[32:40], u), o[:32]):
		h.owner = true
		ikey, enc = h.hash2B(pw, o[40:48], u), h.p.OE[:32]
	case bytes.Equal(h.hash2B(pw, u[32:40], nil), u[:32]):
		ikey, enc = h.hash2B(pw, u[40:48], nil), h.p.UE[:32]
	default:
		return false, nil
	}
	block, err := aes.NewCipher(ikey)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrCiphertext, err)
	}
	key := make([]byte, 32)
	cipher.NewCBCDecrypter(block, make([]byte, 16)).CryptBlocks(key, enc)
	h.key = key
	h.perms = uint32(h.p.P)
	// /Perms holds an authenticated copy of /P: trust it when it decrypts.
	if h.p.R == 6 && len(h.p.Perms) >= 16 {
		kb, _ := aes.NewCipher(key)
		var pb [16]byte
		kb.Decrypt(pb[:], h.p.Perms[:16])
		if string(pb[9:12]) == "adb" {
			h.perms = binary.LittleEndian.Uint32(pb[:4])
		}
	}
	return true, nil
}

// objectKey is Algorithm 1: the key for one object, for RC4 and AESV2.
func (h *Handler) objectKey(m method, num uint32, gen uint16) []byte {
	if m == methodAESV3 {
		return h.key
	}
	b := make([]byte, 0, len(h.key)+9)
	b = append(b, h.key...)
	b = append(b, byte(num), byte(num>>8), byte(num>>16), byte(gen), byte(gen>>8))
	if m == methodAESV2 {
		b = append(b, "sAlT"...)
	}
	s := md5.Sum(b)
	return s[:min(len(h.key)+5, 16)]
}

func (h *Handler) method(filter string) (method, error) {
	m, ok := h.filters[filter]
	if !ok {
		return 0, fmt.Errorf("%w: crypt filter /%s is not defined", ErrUnsupported, filter)
	}
	return m, nil
}

// Decrypt decrypts data of object num gen with the named crypt filter.
func (h *Handler) Decrypt(filter string, num uint32, gen uint16, data []byte) ([]byte, error) {
	m, err := h.method(filter)
	if err != nil {
		return nil, err
	}
	switch m {
	case methodNone:
		return data, nil
	case methodRC4:
		return rc4Crypt(h.objectKey(m, num, gen), data), nil
	}
	// AES: a 16-byte IV, then CBC blocks with PKCS#5 padding.
	if len(data) < 32 || len(data)%16 != 0 {
		if len(data) == 16 {
			return []byte{}, nil // an IV alone: some writers encrypt "" so
		}
		return nil, fmt.Errorf("%w: %d bytes of AES data, not a multiple of 16 past the IV", ErrCiphertext, len(data))
	}
	block, err := aes.NewCipher(h.objectKey(m, num, gen))
	if err != nil {
		// Open's checkKey rules this out; the key, not the data, is wrong.
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	out := make([]byte, len(data)-16)
	cipher.NewCBCDecrypter(block, data[:16]).CryptBlocks(out, data[16:])
	n := int(out[len(out)-1])
	if n < 1 || n > 16 || n > len(out) {
		return nil, fmt.Errorf("%w: bad AES padding", ErrCiphertext)
	}
	for _, c := range out[len(out)-n:] {
		if int(c) != n {
			return nil, fmt.Errorf("%w: bad AES padding", ErrCiphertext)
		}
	}
	return out[:len(out)-n], nil
}

// Encrypt encrypts data of object num gen with the named crypt filter, a
// fresh random IV for AES.
func (h *Handler) Encrypt(filter string, num uint32, gen uint16, data []byte) ([]byte, error) {
	m, err := h.method(filter)
	if err != nil {
		return nil, err
	}
	switch m {
	case methodNone:
		return data, nil
	case methodRC4:
		return rc4Crypt(h.objectKey(m, num, gen), data), nil
	}
	block, err := aes.NewCipher(h.objectKey(m, num, gen))
	if err != nil {
		return nil, fmt.Errorf("pdf: encrypt: %w", err)
	}
	n := 16 - len(data)%16
	out := make([]byte, 16+len(data)+n)
	if _, err := rand.Read(out[:16]); err != nil {
		return nil, fmt.Errorf("pdf: encrypt: IV: %w", err)
	}
	copy(out[16:], data)
	for i := 16 + len(data); i < len(out); i++ {
		out[i] = byte(n)
	}
	cipher.NewCBCEncrypter(block, out[:16]).CryptBlocks(out[16:], out[16:])
	return out, nil
}

// Permission bits of /P (ISO 32000-1 Table 22), counted from 1.
const (
	PermPrint        = 1 << 2  // bit 3
	PermModify       = 1 << 3  // bit 4
	PermCopy         = 1 << 4  // bit 5
	PermAnnotate     = 1 << 5  // bit 6: annotations and form filling; with bit 4, new fields
	PermFillForm     = 1 << 8  // bit 9: fill existing fields, signatures too
	PermAssemble     = 1 << 10 // bit 11
	PermPrintHighRes = 1 << 11 // bit 12
)

// What the permissions allow a signer, after ISO 32000-1 Table 22 (and
// ISO 32000-2 Table 22, worded alike):
//
//   - bit 9 (R3 and later): "fill in existing interactive form fields
//     (including signature fields), even if bit 6 is clear";
//   - bit 6: "add or modify text annotations, fill in interactive form
//     fields, and, if bit 4 is also set, create or modify interactive form
//     fields (including signature fields)";
//   - bit 4: "modify the contents of the document by operations other
//     than those controlled by bits 6, 9, and 11".
//
// The owner password lifts them all.

// CanSign reports whether an existing empty signature field may be
// signed: bit 9 (R3 and later; R2 has no bit 9) or bit 6.
func (h *Handler) CanSign() bool {
	if h.owner || h.perms&PermAnnotate != 0 {
		return true
	}
	return h.p.R >= 3 && h.perms&PermFillForm != 0
}

// CanAddFields reports whether new form fields, signature fields and
// their widget annotations among them, may be created: bits 6 and 4
// together. Bit 9 alone fills existing fields only, and bit 4 alone
// excludes what bit 6 controls.
func (h *Handler) CanAddFields() bool {
	return h.owner || h.perms&PermAnnotate != 0 && h.perms&PermModify != 0
}

// CanModify reports whether the document's contents may change in other
// ways, such as drawing into a page's content or embedding a file: bit 4.
func (h *Handler) CanModify() bool {
	return h.owner || h.perms&PermModify != 0
}

// DescribePermissions lists the granted permissions, for a report.
func DescribePermissions(p uint32) string {
	var out []string
	for _, x := range []struct {
		bit  uint32
		name string
	}{{PermPrint, "print"}, {PermModify, "modify"}, {PermCopy, "copy"}, {PermAnnotate, "annotate"},
		{PermFillForm, "fill-forms"}, {PermAssemble, "assemble"}, {PermPrintHighRes, "print-high"}} {
		if p&x.bit != 0 {
			out = append(out, x.name)
		}
	}
	return strings.Join(out, ",")
}
