package store

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PIN hashing parameters: argon2id with 19 MiB, 2 passes, 1 lane (the
// OWASP minimum for argon2id), a 16-byte random salt per hash and a
// 32-byte output. They are written into each hash, so they can be raised
// later without invalidating stored PINs.
const (
	pinMemoryKiB = 19 * 1024
	pinTime      = 2
	pinThreads   = 1
	pinSaltLen   = 16
	pinKeyLen    = 32
)

// Bounds on a stored hash's parameters, so a tampered row cannot make
// verification take unbounded memory or time.
const (
	maxPINMemoryKiB = 256 << 10 // 256 MiB
	maxPINTime      = 16
	maxPINThreads   = 16
)

// PIN length bounds, in bytes.
const (
	MinPINLen = 4
	MaxPINLen = 128
)

// HashPIN returns an argon2id hash of pin in the PHC string format:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, base64 without padding.
func HashPIN(pin []byte) (string, error) {
	if len(pin) < MinPINLen || len(pin) > MaxPINLen {
		return "", fmt.Errorf("%w: a PIN must be %d-%d bytes", ErrInvalid, MinPINLen, MaxPINLen)
	}
	salt := make([]byte, pinSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("PIN salt: %w", err)
	}
	key := argon2.IDKey(pin, salt, pinTime, pinMemoryKiB, pinThreads, pinKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, pinMemoryKiB, pinTime, pinThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPIN reports whether pin matches a hash from HashPIN. The
// comparison takes constant time. An error means the stored hash is
// malformed, never that the PIN is wrong; the PIN is never part of it.
func VerifyPIN(encoded string, pin []byte) (bool, error) {
	p, err := parsePINHash(encoded)
	if err != nil {
		return false, err
	}
	if len(pin) > MaxPINLen {
		return false, nil
	}
	key := argon2.IDKey(pin, p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

type pinHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func parsePINHash(s string) (*pinHash, error) {
	bad := func(why string) (*pinHash, error) {
		return nil, fmt.Errorf("%w: stored PIN hash: %s", ErrInvalid, why)
	}
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return bad("not an argon2id PHC string")
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version")
	}
	var p pinHash
	for _, kv := range strings.Split(f[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad("parameter " + k)
		}
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > maxPINThreads {
				return bad("too many lanes")
			}
			p.threads = uint8(n)
		default:
			return bad("unknown parameter")
		}
	}
	if p.memory < 8 || p.memory > maxPINMemoryKiB || p.time < 1 || p.time > maxPINTime || p.threads < 1 {
		return bad("parameters out of range")
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(f[4]); err != nil || len(p.salt) < 8 || len(p.salt) > 64 {
		return bad("salt")
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(f[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return bad("hash")
	}
	return &p, nil
}
