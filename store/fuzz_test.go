package store

import (
	"testing"
)

// FuzzParsePINHash feeds stored-hash strings to the parser: it must
// never panic, and what it accepts must respect the bounds that keep a
// verification cheap.
func FuzzParsePINHash(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	f.Add("$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdA$aGFzaA")
	f.Add("$argon2id$v=19$m=8,t=1,p=0$$")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePINHash(s)
		if err != nil {
			return
		}
		if p.memory > maxPINMemoryKiB || p.time > maxPINTime || p.threads < 1 || p.threads > maxPINThreads ||
			len(p.salt) < 8 || len(p.key) < 16 || len(p.key) > 64 {
			t.Fatalf("accepted out-of-bounds parameters: %+v", p)
		}
	})
}

// FuzzParseChain feeds arbitrary bytes as a PEM chain: no panic, and
// every accepted block is a parsed certificate.
func FuzzParseChain(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("not pem"))
	f.Fuzz(func(t *testing.T, b []byte) {
		chain, err := ParseChain(b)
		if err != nil {
			return
		}
		for _, c := range chain {
			if c == nil || len(c.Raw) == 0 {
				t.Fatal("accepted an empty certificate")
			}
		}
	})
}
