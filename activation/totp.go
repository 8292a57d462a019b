package activation

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"hash"
	"net/url"
	"strconv"
	"time"
)

// TOTP holds the parameters of RFC 6238 time-based one-time passwords.
// The zero value is what authenticator apps expect: SHA-1, 6 digits, 30 s
// steps from the Unix epoch, one step of clock skew either way.
type TOTP struct {
	// Algorithm is "SHA1" (default), "SHA256" or "SHA512".
	Algorithm string
	// Digits is the code length, 6 (default) to 8.
	Digits int
	// Period is the time step, whole seconds. Default (and below 1 s) 30 s.
	Period time.Duration
	// Skew is how many steps before and after the current one are
	// accepted, for clock drift and typing time. Default 1; negative
	// means 0.
	Skew int
}

func (p TOTP) withDefaults() TOTP {
	if p.Algorithm == "" {
		p.Algorithm = "SHA1"
	}
	if p.Digits == 0 {
		p.Digits = 6
	}
	if p.Period < time.Second {
		p.Period = 30 * time.Second
	}
	if p.Skew == 0 {
		p.Skew = 1
	}
	if p.Skew < 0 {
		p.Skew = 0
	}
	return p
}

func (p TOTP) hash() (func() hash.Hash, error) {
	switch p.Algorithm {
	case "SHA1":
		return sha1.New, nil
	case "SHA256":
		return sha256.New, nil
	case "SHA512":
		return sha512.New, nil
	}
	return nil, fmt.Errorf("TOTP algorithm %q (want SHA1, SHA256 or SHA512)", p.Algorithm)
}

// Step returns the time step t falls in: T in RFC 6238, the number of
// whole periods since the Unix epoch.
func (p TOTP) Step(t time.Time) int64 {
	p = p.withDefaults()
	return t.Unix() / int64(p.Period/time.Second)
}

// Code returns the code for time step step.
func (p TOTP) Code(secret []byte, step int64) (string, error) {
	p = p.withDefaults()
	h, err := p.hash()
	if err != nil {
		return "", err
	}
	if p.Digits < 6 || p.Digits > 8 {
		return "", fmt.Errorf("TOTP digits %d (want 6 to 8)", p.Digits)
	}
	return hotp(h, secret, uint64(step), p.Digits), nil
}

// CodeAt returns the code for the step t falls in.
func (p TOTP) CodeAt(secret []byte, t time.Time) (string, error) {
	return p.Code(secret, p.Step(t))
}

// hotp is RFC 4226 section 5.3: HMAC over the 8-byte big-endian counter,
// dynamic truncation to 31 bits, modulo 10^digits, zero-padded.
func hotp(h func() hash.Hash, secret []byte, counter uint64, digits int) string {
	mac := hmac.New(h, secret)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// Verify checks code against the steps around now that are later than
// lastStep, and returns the step it matched. Steps at or before lastStep
// are never accepted, so a code cannot be used twice (RFC 6238 section
// 5.2). Every candidate is compared in constant time.
func (p TOTP) Verify(secret []byte, code string, now time.Time, lastStep int64) (step int64, ok bool) {
	p = p.withDefaults()
	if len(code) != p.Digits {
		return 0, false
	}
	cur := p.Step(now)
	for s := cur - int64(p.Skew); s <= cur+int64(p.Skew); s++ {
		want, err := p.Code(secret, s)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && s > lastStep && !ok {
			step, ok = s, true
		}
	}
	return step, ok
}

// NewTOTPSecret returns a random 160-bit secret, the length RFC 4226
// recommends for HMAC-SHA-1.
func NewTOTPSecret() ([]byte, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generate TOTP secret: %w", err)
	}
	return b, nil
}

// URI returns the otpauth:// URI that authenticator apps read from a QR
// code: otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&…
// It holds the secret: show it once, to the signer only.
func (p TOTP) URI(issuer, account string, secret []byte) string {
	p = p.withDefaults()
	q := url.Values{}
	q.Set("secret", base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret))
	q.Set("issuer", issuer)
	q.Set("algorithm", p.Algorithm)
	q.Set("digits", strconv.Itoa(p.Digits))
	q.Set("period", strconv.Itoa(int(p.Period/time.Second)))
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + account, RawQuery: q.Encode()}
	return u.String()
}
