package hsm

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"esign/internal/readlimit"
)

// DefaultModulePath is the PKCS#11 module used when Config.ModulePath is empty:
// SoftHSM2 as packaged by Debian, which development machines and tests use.
const DefaultModulePath = "/usr/lib/softhsm/libsofthsm2.so"

// maxPINFileSize bounds what ReadPIN reads from a file: PINs are short, and a
// pin-source pointing at a large file is a mistake, not a PIN.
const maxPINFileSize = 4096

// Config selects a PKCS#11 token and says how to log in to it.
//
// A Config holds the PIN in memory once resolved; its String, GoString and
// Format methods never print it, so a Config can be logged.
type Config struct {
	// ModulePath is the file name of the PKCS#11 library.
	// Default: DefaultModulePath.
	ModulePath string

	// TokenLabel selects the token by its label (CKA_LABEL of the token, as
	// set by C_InitToken).
	TokenLabel string

	// TokenSerial selects the token by its serial number. If both TokenLabel
	// and TokenSerial are set, the token must match both. At least one is
	// required.
	TokenSerial string

	// PIN is the user PIN, already resolved. Load it with ReadPIN; never
	// take it from a command-line argument.
	PIN string

	// PINSource says where Open reads the PIN from when PIN is empty:
	// "env:NAME" or "file:/path", as accepted by ReadPIN. ParseURI fills it
	// from the URI's pin-source attribute.
	PINSource string

	// MaxSessions bounds the PKCS#11 sessions the KeyManager opens on the
	// token; one of them is held for the login and the rest serve
	// operations concurrently. Default: DefaultMaxSessions(), which is
	// 2*GOMAXPROCS+2: signing with a local module is CPU-bound, so twice the
	// usable CPUs keeps every CPU busy while other goroutines wait on a
	// network HSM, and the extra two are the login session and one spare for
	// key management beside a saturated signing load. The token's own limit
	// (C_GetTokenInfo ulMaxRwSessionCount) always applies too. Values of 1
	// are rejected: the login session needs one of its own.
	MaxSessions int
}

// DefaultMaxSessions returns the session pool size used when
// Config.MaxSessions is zero: 2*GOMAXPROCS+2, evaluated when Open runs.
func DefaultMaxSessions() int {
	return 2*runtime.GOMAXPROCS(0) + 2
}

// String describes the Config without its PIN.
func (c Config) String() string {
	pin := "unset"
	if c.PIN != "" {
		pin = "set"
	}
	return fmt.Sprintf("hsm.Config{ModulePath: %q, TokenLabel: %q, TokenSerial: %q, PIN: <%s>, PINSource: %q, MaxSessions: %d}",
		c.ModulePath, c.TokenLabel, c.TokenSerial, pin, c.PINSource, c.MaxSessions)
}

// GoString is String, so that %#v does not print the PIN either.
func (c Config) GoString() string { return c.String() }

// Format prints String for every verb: fmt would otherwise print the struct
// fields, PIN included, for verbs such as %d.
func (c Config) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, c.String())
}

// tokenDescription names the selected token for error messages.
func (c Config) tokenDescription() string {
	switch {
	case c.TokenLabel != "" && c.TokenSerial != "":
		return fmt.Sprintf("token %q (serial %s)", c.TokenLabel, c.TokenSerial)
	case c.TokenSerial != "":
		return fmt.Sprintf("token with serial %s", c.TokenSerial)
	default:
		return fmt.Sprintf("token %q", c.TokenLabel)
	}
}

// resolved returns c with defaults applied and its PIN loaded.
func (c Config) resolved() (Config, error) {
	if c.ModulePath == "" {
		c.ModulePath = DefaultModulePath
	}
	if c.TokenLabel == "" && c.TokenSerial == "" {
		return c, errors.New("hsm: config selects no token: set TokenLabel or TokenSerial")
	}
	switch {
	case c.MaxSessions == 0:
		c.MaxSessions = DefaultMaxSessions()
	case c.MaxSessions < 2:
		return c, fmt.Errorf("hsm: MaxSessions %d: need at least 2 (one stays logged in, one signs)", c.MaxSessions)
	}
	if c.PIN == "" {
		if c.PINSource == "" {
			return c, errors.New("hsm: no PIN: set Config.PIN (load it with ReadPIN) or Config.PINSource")
		}
		pin, err := ReadPIN(c.PINSource)
		if err != nil {
			return c, err
		}
		c.PIN = pin
	}
	return c, nil
}

// ReadPIN loads a PIN from source, which is "env:NAME" (the environment
// variable NAME) or "file:/path" (also "file:///path"). Trailing newline
// characters are removed, so a file written by echo works. An unset or empty
// variable, or an empty file, is an error. The PIN itself never appears in
// an error.
func ReadPIN(source string) (string, error) {
	return readPIN(source, os.Getenv)
}

func readPIN(source string, getenv func(string) string) (string, error) {
	scheme, rest, ok := strings.Cut(source, ":")
	if !ok {
		return "", fmt.Errorf("hsm: PIN source %q: want env:NAME or file:/path", source)
	}
	var pin string
	switch strings.ToLower(scheme) {
	case "env":
		if rest == "" {
			return "", errors.New("hsm: PIN source env: names no variable")
		}
		pin = getenv(rest)
		if pin == "" {
			return "", fmt.Errorf("hsm: PIN source: environment variable %s is unset or empty", rest)
		}
	case "file":
		path := rest
		if p, ok := strings.CutPrefix(rest, "//"); ok {
			// file://host/path: only the local host is meaningful.
			host, p2, _ := strings.Cut(p, "/")
			if host != "" && host != "localhost" {
				return "", fmt.Errorf("hsm: PIN source %q: file URI names a remote host", source)
			}
			path = "/" + p2
		}
		if path == "" {
			return "", errors.New("hsm: PIN source file: names no file")
		}
		b, err := readlimit.File(path, maxPINFileSize)
		if err != nil {
			return "", fmt.Errorf("hsm: read PIN file: %w", err)
		}
		pin = string(b)
	default:
		return "", fmt.Errorf("hsm: PIN source %q: unsupported scheme %q (want env: or file:)", source, scheme)
	}
	pin = strings.TrimRight(pin, "\r\n")
	if pin == "" {
		return "", fmt.Errorf("hsm: PIN source %s is empty", source)
	}
	return pin, nil
}
