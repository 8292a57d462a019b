package crypt

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func params(v, r, length int, cfm string) Params {
	p := Params{Filter: "Standard", V: v, R: r, Length: length, P: -4, EncryptMetadata: true,
		O: bytes.Repeat([]byte{1}, 48), U: bytes.Repeat([]byte{2}, 48), OE: make([]byte, 32), UE: make([]byte, 32),
		Perms: make([]byte, 16), ID0: []byte("0123456789abcdef")}
	if cfm != "" {
		p.CF = map[string]Filter{"StdCF": {CFM: cfm}}
		p.StmF, p.StrF = "StdCF", "StdCF"
	}
	return p
}

// TestMalformedCiphertext: AES data of the wrong length or with bad
// padding is an ErrCiphertext, never a panic; RC4 takes any length.
func TestMalformedCiphertext(t *testing.T) {
	h := &Handler{p: params(4, 4, 128, "AESV2"), key: make([]byte, 16),
		filters: map[string]method{Identity: methodNone, "StdCF": methodAESV2, "RC4": methodRC4, "AES256": methodAESV3}}
	good, err := h.Encrypt("StdCF", 7, 0, []byte("ข้อความลับ"))
	if err != nil {
		t.Fatal(err)
	}
	badPad := append([]byte{}, good...)
	badPad[len(badPad)-1] ^= 0xff
	for _, c := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"good", good, true},
		{"IV only", good[:16], true},
		{"empty", nil, false},
		{"short", good[:5], false},
		{"truncated", good[:len(good)-1], false},
		{"cut to a block", good[:len(good)-16], false},
		{"bad padding", badPad, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.Decrypt("StdCF", 7, 0, c.data)
			if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrCiphertext)) {
				t.Errorf("error %v", err)
			}
			if _, err := h.Decrypt("RC4", 7, 0, c.data); err != nil {
				t.Errorf("RC4: %v", err)
			}
		})
	}
	if _, err := h.Decrypt("Undefined", 7, 0, good); !errors.Is(err, ErrUnsupported) {
		t.Errorf("undefined filter: %v", err)
	}
}

// TestRoundTrip: what Encrypt makes, Decrypt gives back, for every method.
func TestRoundTrip(t *testing.T) {
	h := &Handler{key: bytes.Repeat([]byte{9}, 32),
		filters: map[string]method{Identity: methodNone, "RC4": methodRC4, "AESV2": methodAESV2, "AESV3": methodAESV3}}
	for f := range h.filters {
		for _, n := range []int{0, 1, 15, 16, 17, 1000} {
			data := bytes.Repeat([]byte{'x'}, n)
			if f == "RC4" || f == "AESV2" {
				h.key = h.key[:16]
			} else {
				h.key = bytes.Repeat([]byte{9}, 32)
			}
			enc, err := h.Encrypt(f, 12, 3, data)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := h.Decrypt(f, 12, 3, enc)
			if err != nil || !bytes.Equal(dec, data) {
				t.Errorf("%s %d bytes: %v", f, n, err)
			}
		}
	}
}

// FuzzOpen feeds random /Encrypt dictionaries and passwords to Open and
// decrypts random data with what opens: no panic, bounded time.
func FuzzOpen(f *testing.F) {
	f.Add(4, 4, 128, "AESV2", []byte{1, 2}, []byte{3}, []byte("pw"), []byte("data data data data data data data"))
	f.Add(5, 6, 256, "AESV3", bytes.Repeat([]byte{7}, 48), bytes.Repeat([]byte{8}, 48), []byte(""), make([]byte, 48))
	f.Add(2, 3, 128, "", make([]byte, 32), make([]byte, 32), []byte("x"), []byte("abc"))
	f.Add(1, 2, 40, "", []byte{}, []byte{}, []byte{}, []byte{})
	f.Add(4, 4, 1<<15, "V2", []byte{}, []byte{}, []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, v, r, length int, cfm string, o, u, pw, data []byte) {
		p := params(v, r, length, cfm)
		p.O, p.U, p.OE, p.UE, p.Perms = o, u, o, u, data
		start := time.Now()
		h, err := Open(p, pw)
		if time.Since(start) > 2*time.Second {
			t.Fatalf("Open took %v", time.Since(start))
		}
		if err != nil {
			return
		}
		_ = h.Describe()
		for _, name := range []string{h.StmF, h.StrF, h.EFF, Identity} {
			if dec, err := h.Decrypt(name, 1, 0, data); err == nil {
				enc, err := h.Encrypt(name, 1, 0, dec)
				if err != nil {
					t.Fatal(err)
				}
				if back, err := h.Decrypt(name, 1, 0, enc); err != nil || !bytes.Equal(back, dec) {
					t.Fatalf("round trip through %s: %v", name, err)
				}
			}
		}
	})
}

// TestVersionRevision: /V 5 (AES-256) goes with /R 5 and 6 only, and
// those revisions with /V 5 only; an AES filter whose key AES cannot take
// is refused at Open, not left to fail every decryption.
func TestVersionRevision(t *testing.T) {
	for _, c := range []struct {
		name       string
		v, r, bits int
		cfm        string
		says       string
	}{
		{"V5 R3 AESV3", 5, 3, 128, "AESV3", "/V 5 with /R 3"},
		{"V5 R4 AESV3", 5, 4, 128, "AESV3", "/V 5 with /R 4"},
		{"V4 R6 AESV2", 4, 6, 128, "AESV2", "/V 4 with /R 6"},
		{"V2 R5", 2, 5, 128, "", "/V 2 with /R 5"},
		{"V4 R4 AESV2 40-bit", 4, 4, 40, "AESV2", "not 128"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := params(c.v, c.r, c.bits, c.cfm)
			// A /U the empty password matches, so only the checks refuse.
			if c.r < 5 {
				h := &Handler{p: p}
				p.U = h.userHash(h.legacyKey(nil))
			}
			_, err := Open(p, nil)
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("error %v, want ErrUnsupported saying %q", err, c.says)
			}
		})
	}
	// The pairs that belong together still open.
	p := params(4, 4, 128, "AESV2")
	h := &Handler{p: p}
	p.U = h.userHash(h.legacyKey(nil))
	if _, err := Open(p, nil); err != nil {
		t.Errorf("V4 R4 AESV2: %v", err)
	}
}
