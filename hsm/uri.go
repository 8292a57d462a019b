package hsm

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// maxURILength bounds ParseURI's input; real PKCS#11 URIs are a few hundred bytes.
const maxURILength = 4096

// KeyRef names a key pair (and the certificate stored beside it) on the
// token, by CKA_LABEL, by CKA_ID, or by both (then both must match).
type KeyRef struct {
	Label string
	ID    []byte
}

// String formats the reference for messages: label, ID in hex, or both.
func (r KeyRef) String() string {
	switch {
	case r.Label != "" && len(r.ID) > 0:
		return fmt.Sprintf("%q (id %x)", r.Label, r.ID)
	case len(r.ID) > 0:
		return fmt.Sprintf("id %x", r.ID)
	default:
		return fmt.Sprintf("%q", r.Label)
	}
}

func (r KeyRef) empty() bool { return r.Label == "" && len(r.ID) == 0 }

// ParseURI parses an RFC 7512 PKCS#11 URI as p11-kit, p11tool and step-ca
// write them, for example
//
//	pkcs11:token=esign-dev;object=dev-official?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/pin
//
// Understood attributes, in the path or the query part:
//
//	token, serial            select the token (Config.TokenLabel, TokenSerial)
//	object, id               select the key (KeyRef.Label, KeyRef.ID; id is percent-encoded bytes)
//	type                     private, public or cert; all name the same key pair here
//	module-path              Config.ModulePath
//	pin-source               Config.PINSource: env:NAME or file:/path
//
// The descriptive attributes p11tool prints (manufacturer, model,
// library-manufacturer, library-description, library-version,
// slot-manufacturer, slot-description) are accepted and ignored: token and
// serial identify the token. pin-value is refused, because a PIN must not
// live in configuration or on a command line; so are module-name and slot-id,
// which cannot be honoured portably, and any other attribute.
//
// ParseURI does no I/O: the PIN is read by Open (or by ReadPIN).
func ParseURI(uri string) (Config, KeyRef, error) {
	var cfg Config
	var ref KeyRef
	if len(uri) > maxURILength {
		return cfg, ref, fmt.Errorf("hsm: PKCS#11 URI longer than %d bytes", maxURILength)
	}
	const scheme = "pkcs11:"
	if len(uri) < len(scheme) || !strings.EqualFold(uri[:len(scheme)], scheme) {
		return cfg, ref, errors.New(`hsm: not a PKCS#11 URI: must start with "pkcs11:"`)
	}
	body := uri[len(scheme):]
	path, query, _ := strings.Cut(body, "?")

	seen := make(map[string]bool)
	apply := func(part, attr string) error {
		name, raw, ok := strings.Cut(attr, "=")
		if !ok {
			return fmt.Errorf("%s attribute %q has no '='", part, attr)
		}
		name = strings.ToLower(name)
		if seen[name] {
			return fmt.Errorf("attribute %q given twice", name)
		}
		seen[name] = true
		value, err := pctDecode(raw)
		if err != nil {
			return fmt.Errorf("attribute %q: %w", name, err)
		}
		switch name {
		case "token":
			cfg.TokenLabel = string(value)
		case "serial":
			cfg.TokenSerial = string(value)
		case "object":
			ref.Label = string(value)
		case "id":
			ref.ID = value
		case "type":
			switch string(value) {
			case "private", "public", "cert":
			default:
				return fmt.Errorf("type=%s: only private, public or cert name a signing key", value)
			}
		case "module-path":
			cfg.ModulePath = string(value)
		case "pin-source":
			cfg.PINSource = string(value)
		case "manufacturer", "model", "library-manufacturer", "library-description",
			"library-version", "slot-manufacturer", "slot-description":
			// Descriptive; token or serial does the selecting.
		case "pin-value":
			return errors.New("pin-value is not accepted: keep the PIN out of URIs and command lines, use pin-source=file:/path or pin-source=env:NAME")
		case "module-name", "slot-id":
			return fmt.Errorf("attribute %q is not supported: use module-path, and token or serial", name)
		default:
			return fmt.Errorf("unknown attribute %q", name)
		}
		return nil
	}
	for _, a := range strings.Split(path, ";") {
		if a == "" {
			continue
		}
		if err := apply("path", a); err != nil {
			return Config{}, KeyRef{}, fmt.Errorf("hsm: PKCS#11 URI: %w", err)
		}
	}
	if query != "" {
		for _, a := range strings.Split(query, "&") {
			if a == "" {
				continue
			}
			if err := apply("query", a); err != nil {
				return Config{}, KeyRef{}, fmt.Errorf("hsm: PKCS#11 URI: %w", err)
			}
		}
	}
	return cfg, ref, nil
}

// pctDecode undoes RFC 3986 percent-encoding. Unlike url.QueryUnescape it
// leaves '+' alone, as RFC 7512 requires.
func pctDecode(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			out = append(out, c)
			continue
		}
		if i+2 >= len(s) {
			return nil, fmt.Errorf("truncated percent-escape at byte %d", i)
		}
		var b [1]byte
		if _, err := hex.Decode(b[:], []byte(s[i+1:i+3])); err != nil {
			return nil, fmt.Errorf("bad percent-escape %q at byte %d", s[i:i+3], i)
		}
		out = append(out, b[0])
		i += 2
	}
	return out, nil
}
