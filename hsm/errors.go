package hsm

import (
	"errors"

	"github.com/miekg/pkcs11"
)

var (
	// ErrNotFound reports that a token, key or certificate does not exist.
	ErrNotFound = errors.New("hsm: not found")

	// ErrAlreadyExists reports that a token label, key label or certificate
	// is already taken.
	ErrAlreadyExists = errors.New("hsm: already exists")

	// ErrClosed reports use of a KeyManager, or of one of its signers, after Close.
	ErrClosed = errors.New("hsm: key manager closed")
)

// pkcs11Code finds the PKCS#11 return value inside err. crypto11 wraps errors
// with github.com/pkg/errors v0.8, whose wrappers have Cause but no Unwrap, so
// both chains are followed.
func pkcs11Code(err error) (pkcs11.Error, bool) {
	for i := 0; err != nil && i < 32; i++ {
		if e, ok := err.(pkcs11.Error); ok {
			return e, true
		}
		if u := errors.Unwrap(err); u != nil {
			err = u
			continue
		}
		c, ok := err.(interface{ Cause() error })
		if !ok {
			return 0, false
		}
		err = c.Cause()
	}
	return 0, false
}

// isCode reports whether err carries the PKCS#11 return value code.
func isCode(err error, code uint) bool {
	e, ok := pkcs11Code(err)
	return ok && uint(e) == code
}

// needsReconnect reports whether err means the sessions, the login or the
// object handles of the current connection are gone, so that re-opening the
// connection and retrying once can succeed. Errors about the request itself
// (bad mechanism, wrong data length, ...) are not in the list: retrying would
// only repeat them.
func needsReconnect(err error) bool {
	e, ok := pkcs11Code(err)
	if !ok {
		return false
	}
	switch uint(e) {
	case pkcs11.CKR_SESSION_HANDLE_INVALID,
		pkcs11.CKR_SESSION_CLOSED,
		pkcs11.CKR_USER_NOT_LOGGED_IN,
		pkcs11.CKR_DEVICE_REMOVED,
		pkcs11.CKR_DEVICE_ERROR,
		pkcs11.CKR_TOKEN_NOT_PRESENT,
		pkcs11.CKR_TOKEN_NOT_RECOGNIZED,
		pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED,
		// Handles are per session/login on many tokens: after a re-login
		// the same object has a new handle.
		pkcs11.CKR_OBJECT_HANDLE_INVALID,
		pkcs11.CKR_KEY_HANDLE_INVALID:
		return true
	}
	return false
}

// tokenLost reports whether connecting failed because the token itself is
// gone or unusable, rather than the sessions: the token is missing from
// the slots, or the module answers about it with an error of the device.
func tokenLost(err error) bool {
	if errors.Is(err, ErrNotFound) {
		return true
	}
	e, ok := pkcs11Code(err)
	if !ok {
		return false
	}
	switch uint(e) {
	case pkcs11.CKR_GENERAL_ERROR,
		pkcs11.CKR_DEVICE_ERROR,
		pkcs11.CKR_DEVICE_REMOVED,
		pkcs11.CKR_TOKEN_NOT_PRESENT,
		pkcs11.CKR_TOKEN_NOT_RECOGNIZED:
		return true
	}
	return false
}
