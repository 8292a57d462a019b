package cades

import (
	"errors"
	"fmt"
)

// Sentinel errors; every error this package returns that falls into one of these classes wraps
// the sentinel, so callers map them with errors.Is (e.g. to EN 319 102-1 sub-indications).
var (
	// ErrMalformed: the input is not a well-formed CMS SignedData (FORMAT_FAILURE).
	ErrMalformed = errors.New("cades: malformed CMS")
	// ErrSignerCount: the SignedData does not hold exactly one SignerInfo.
	ErrSignerCount = errors.New("cades: SignedData must hold exactly one signer")
	// ErrDigestMismatch: the message-digest attribute differs from the content digest (HASH_FAILURE).
	ErrDigestMismatch = errors.New("cades: message digest does not match the signed content")
	// ErrSignatureInvalid: the signature value does not verify with the signer's key (SIG_CRYPTO_FAILURE).
	ErrSignatureInvalid = errors.New("cades: signature value does not verify")
	// ErrNoSignerCert: no certificate in the SignedData matches the signer identifier.
	ErrNoSignerCert = errors.New("cades: signer certificate not found")
	// ErrMissingAttribute: a signed attribute that CMS requires (content-type, message-digest) is absent.
	ErrMissingAttribute = errors.New("cades: required signed attribute missing")
	// ErrContentTypeMismatch: the content-type attribute differs from the encapsulated content type.
	ErrContentTypeMismatch = errors.New("cades: content-type attribute does not match encapsulated content type")
	// ErrNoSigningCertAttr: neither signing-certificate nor signing-certificate-v2 is present.
	ErrNoSigningCertAttr = errors.New("cades: no signing-certificate attribute")
	// ErrSigningCertMismatch: the signing-certificate(-v2) attribute does not identify the given certificate.
	ErrSigningCertMismatch = errors.New("cades: signing-certificate attribute does not match certificate")
	// ErrUnsupportedAlgorithm: a digest or signature algorithm (or parameter set) this package does not handle.
	ErrUnsupportedAlgorithm = errors.New("cades: unsupported algorithm")
	// ErrUnsupportedKey: the signer's key type cannot produce a supported CMS signature.
	ErrUnsupportedKey = errors.New("cades: unsupported key type")
	// ErrKeyMismatch: the signer's public key is not the public key of chain[0].
	ErrKeyMismatch = errors.New("cades: signer key does not match the signing certificate")
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
