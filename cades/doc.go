// Package cades builds and parses the CMS SignedData (RFC 5652) of PAdES baseline signatures
// (ETSI EN 319 142-1), which are CAdES signatures (EN 319 122-1) with a detached id-data content.
//
// The signer side (Sign, MaxSize, SignedData) writes DER directly from pre-encoded parts so a
// signature costs little beyond the key operation, and never adds signing-time, which PAdES
// forbids. The verifier side (Parse, Parsed) decodes untrusted input with size bounds and
// returns typed errors (ErrDigestMismatch, ErrSignatureInvalid, ...) a validation report can be
// built from. Parse also reads RFC 3161 timestamp tokens, which are SignedData too.
package cades
