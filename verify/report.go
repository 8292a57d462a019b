package verify

import "time"

// Indication is a main status indication of ETSI EN 319 102-1 §5.1.3.
type Indication string

// The three main indications.
const (
	TotalPassed   Indication = "TOTAL-PASSED"
	TotalFailed   Indication = "TOTAL-FAILED"
	Indeterminate Indication = "INDETERMINATE"
)

// SubIndication explains a TOTAL-FAILED or INDETERMINATE indication
// (EN 319 102-1 Table 5, Table 6).
type SubIndication string

// Sub-indications this package reports.
const (
	FormatFailure                  SubIndication = "FORMAT_FAILURE"
	HashFailure                    SubIndication = "HASH_FAILURE"
	SigCryptoFailure               SubIndication = "SIG_CRYPTO_FAILURE"
	Revoked                        SubIndication = "REVOKED"
	Expired                        SubIndication = "EXPIRED"
	NotYetValid                    SubIndication = "NOT_YET_VALID"
	SigConstraintsFailure          SubIndication = "SIG_CONSTRAINTS_FAILURE"
	ChainConstraintsFailure        SubIndication = "CHAIN_CONSTRAINTS_FAILURE"
	CertificateChainGeneralFailure SubIndication = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
	CryptoConstraintsFailure       SubIndication = "CRYPTO_CONSTRAINTS_FAILURE"
	NoSigningCertificateFound      SubIndication = "NO_SIGNING_CERTIFICATE_FOUND"
	NoCertificateChainFound        SubIndication = "NO_CERTIFICATE_CHAIN_FOUND"
	RevokedNoPOE                   SubIndication = "REVOKED_NO_POE"
	RevokedCANoPOE                 SubIndication = "REVOKED_CA_NO_POE"
	OutOfBoundsNoPOE               SubIndication = "OUT_OF_BOUNDS_NO_POE"
	TryLater                       SubIndication = "TRY_LATER"
	SignedDataNotFound             SubIndication = "SIGNED_DATA_NOT_FOUND"
	Generic                        SubIndication = "GENERIC"
)

// Signature kinds.
const (
	KindSignature         = "signature"
	KindDocumentTimestamp = "document-timestamp"
)

// PAdES levels as reported in SignatureResult.Level.
const (
	LevelB         = "PAdES-BASELINE-B"
	LevelT         = "PAdES-BASELINE-T"
	LevelLT        = "PAdES-BASELINE-LT"
	LevelLTA       = "PAdES-BASELINE-LTA"
	LevelNotETSI   = "PDF-NOT-ETSI"
	LevelUndefined = "" // document timestamps and unreadable signatures
)

// Report is the outcome of Verify: a verdict for the document and one
// result per signature and document timestamp, oldest first.
type Report struct {
	Document   DocumentResult    `json:"document"`
	Signatures []SignatureResult `json:"signatures"`
	// Attachments lists the embedded files, in the order of the name
	// tree and then of /AF.
	Attachments []Attachment `json:"attachments"`
	// Registry is the issuer's record of the document, when a signature's
	// covered revision is registered. Verify leaves it nil: the caller
	// that holds the registry (verifyapi) looks the revisions up.
	Registry *RegistryMatch `json:"registry,omitempty"`
	// RegistryMatches are all the registered documents the signatures'
	// covered revisions are, oldest signature first, for the page's
	// "is this the document of this ID" (a file may hold several).
	// Registry sums them up; the JSON report carries that alone.
	RegistryMatches []RegistryMatch `json:"-"`
}

// RegistryMatch is the issuer registry's word on a document, as the
// verifier shows it. Status "unavailable" (with the other fields empty)
// says the registry could not be asked.
type RegistryMatch struct {
	// The members are there whatever the status, null or "" when they do
	// not apply, so that clients find the contract's names on every answer.
	ID        string     `json:"id"`
	Status    string     `json:"status"` // "valid", "revoked" or "unavailable"
	Issuer    string     `json:"issuer"`
	IssuedAt  *time.Time `json:"issued_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	Reason    string     `json:"reason"`
	// Field names the signature whose covered revision was registered.
	Field string `json:"field,omitempty"`
}

// Registry statuses beyond the registry's own.
const RegistryUnavailable = "unavailable"

// DocumentResult sums up the document.
type DocumentResult struct {
	// Indication is TOTAL-PASSED only when every signature passed, which
	// includes that nothing disallowed changed after any of them.
	Indication    Indication    `json:"indication"`
	SubIndication SubIndication `json:"sub_indication"`
	// Summary says in one sentence why.
	Summary string `json:"summary"`
	// SignatureCount counts signatures and document timestamps.
	SignatureCount         int   `json:"signature_count"`
	DocumentTimestampCount int   `json:"document_timestamp_count"`
	Size                   int64 `json:"size"`
	// Revisions counts the %%EOF-terminated revisions of the file.
	Revisions int `json:"revisions"`
	// TrailingBytes counts bytes after the last %%EOF other than white
	// space; they belong to no revision.
	TrailingBytes int64 `json:"trailing_bytes"`
	// Certification is the DocMDP level of a certified document:
	// "none", "1", "2" or "3".
	Certification string `json:"certification"`
	Encrypted     bool   `json:"encrypted"`
	// Encryption names the security handler and method of an encrypted
	// document, such as "Standard R6 AES-256".
	Encryption     string    `json:"encryption,omitempty"`
	ValidationTime time.Time `json:"validation_time"`
	Warnings       []string  `json:"warnings"`
}

// SignatureResult is the validation of one signature or document timestamp.
type SignatureResult struct {
	Field         string        `json:"field"`
	Kind          string        `json:"kind"` // KindSignature or KindDocumentTimestamp
	Indication    Indication    `json:"indication"`
	SubIndication SubIndication `json:"sub_indication"`
	// Errors says why the indication is not TOTAL-PASSED.
	Errors   []string `json:"errors"`
	Warnings []string `json:"warnings"`

	Level     string `json:"level"`
	SubFilter string `json:"sub_filter"`
	// Signer is the signing certificate's holder; for a document timestamp,
	// the TSA. Its fields are empty when the certificate was not found.
	Signer *SignerInfo `json:"signer"`
	// Chain lists the subjects of the certificate path, signer first, trust
	// anchor last; when no path to a trust anchor was found, the path as far
	// as the certificates at hand reach.
	Chain []string `json:"chain"`

	// SigningTime is the claimed time (/M of the signature dictionary).
	SigningTime *time.Time `json:"signing_time"`
	// TimestampTime is the genTime of the earliest valid signature
	// timestamp, or of the document timestamp itself.
	TimestampTime *time.Time `json:"timestamp_time"`
	// BestSignatureTime is the time the certificates were judged at: the
	// timestamp time where there is one, else the validation time.
	BestSignatureTime time.Time `json:"best_signature_time"`
	// TSA names the time-stamping authority of TimestampTime.
	TSA string `json:"tsa"`
	// ProvenTime is the earliest time a valid timestamp proves this
	// signature (or, for a document timestamp, this token) existed
	// (EN 319 102-1 proof of existence): its own signature timestamp or a
	// later document timestamp covering it. Null when nothing proves it
	// existed before the validation time. ProvenBy says which: "signature-
	// timestamp" or "document-timestamp", the latter named by
	// ProvenByField.
	ProvenTime    *time.Time `json:"proven_time"`
	ProvenBy      string     `json:"proven_by,omitempty"`
	ProvenByField string     `json:"proven_by_field,omitempty"`
	// ProofOfExistence is, for a document timestamp that validated, what
	// it proves existed at its time; null for signatures and for a
	// timestamp that proves nothing.
	ProofOfExistence *ProofOfExistence `json:"proof_of_existence,omitempty"`

	// Revision is the 1-based revision whose end the signed range reaches.
	Revision int `json:"revision"`
	// RevisionLength is the length of the signed revision, ByteRange[2] +
	// ByteRange[3]: the first RevisionLength bytes of the file are the
	// document as signed ("view signed version"). RevisionSHA256 is their
	// hex SHA-256, the digest an issuer registry records. Both are 0 and
	// "" when the byte range is unusable.
	RevisionLength int64          `json:"revision_length"`
	RevisionSHA256 string         `json:"revision_sha256"`
	ByteRange      []int64        `json:"byte_range"`
	Digest         string         `json:"digest_algorithm"`
	Algorithm      string         `json:"signature_algorithm"`
	Integrity      Checks         `json:"integrity"`
	Revocation     RevocationInfo `json:"revocation"`

	// CoversWholeDocument is true when the signed range reaches the end of
	// the file (white space after %%EOF aside).
	CoversWholeDocument bool `json:"covers_whole_document"`
	// ModifiedAfter is true when a change not allowed for this signature
	// was made after it; Modifications lists those changes and
	// AllowedChanges the permitted ones (DSS, document timestamps, further
	// signatures, form filling as DocMDP allows).
	ModifiedAfter  bool           `json:"modified_after"`
	Modifications  []Modification `json:"modifications"`
	AllowedChanges []Modification `json:"allowed_changes"`
	// Certification is the DocMDP level this signature sets: "none", "1",
	// "2" or "3".
	Certification string `json:"certification"`
	// FieldLock lists the fields this signature locks (FieldMDP), or "*"
	// for all of them.
	FieldLock []string `json:"field_lock,omitempty"`

	Name        string `json:"name,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Location    string `json:"location,omitempty"`
	ContactInfo string `json:"contact_info,omitempty"`
}

// ProofOfExistence is what a valid document timestamp proves: that the
// file's first Revisions revisions existed at Time, and with them the
// signatures and timestamps in Fields and the validation data the DSS
// held then (EN 319 142-1 §5.4, EN 319 102-1 §5.6.2.4).
type ProofOfExistence struct {
	Time      time.Time `json:"time"`
	Revisions int       `json:"revisions"`
	// Fields names the signatures and document timestamps covered, oldest
	// first.
	Fields []string `json:"fields"`
}

// Where a signature's proof of existence comes from, in
// SignatureResult.ProvenBy.
const (
	ProvenBySignatureTimestamp = "signature-timestamp"
	ProvenByDocumentTimestamp  = "document-timestamp"
)

// SignerInfo describes a certificate holder. Strings are as the
// certificate encodes them, Thai included, without normalisation.
type SignerInfo struct {
	CommonName   string `json:"common_name"`
	Organization string `json:"organization"`
	Subject      string `json:"subject"`
	// SubjectSerialNumber is the subject's serialNumber attribute (a
	// national ID or tax number on Thai certificates).
	SubjectSerialNumber string `json:"subject_serial_number,omitempty"`
	// SerialNumber is the certificate's serial number in hex.
	SerialNumber string    `json:"serial_number"`
	Issuer       string    `json:"issuer"`
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
}

// Checks records the integrity checks one by one.
type Checks struct {
	// ByteRange: the range starts at 0, skips exactly the /Contents hex
	// string and ends at the end of a revision.
	ByteRange bool `json:"byte_range"`
	// Digest: the digest of the signed bytes matches the signed one.
	Digest bool `json:"digest"`
	// Signature: the signature value verifies with the signer's key.
	Signature bool `json:"signature"`
	// SigningCertificate: the signing-certificate(-v2) attribute names the
	// signer's certificate ("not present" counts as false).
	SigningCertificate bool `json:"signing_certificate"`
}

// RevocationInfo tells how the signing certificate's status was settled.
type RevocationInfo struct {
	// Status is "good", "revoked" or "unknown" at BestSignatureTime.
	Status    string     `json:"status"`
	Source    string     `json:"source,omitempty"` // e.g. "OCSP from DSS"
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Modification is one change made after a signature.
type Modification struct {
	// Kind is a stable code: see the package documentation for the list.
	Kind        string `json:"kind"`
	Description string `json:"description"`
	Allowed     bool   `json:"allowed"`
	// Revision is the 1-based revision that made the change; 0 for bytes
	// after the last revision.
	Revision int    `json:"revision"`
	Object   string `json:"object,omitempty"` // "12 0 R"
	Field    string `json:"field,omitempty"`
	// Violation is "docmdp" or "fieldmdp" when a change that is otherwise
	// acceptable breaks this signature's DocMDP or FieldMDP restriction.
	Violation string `json:"violation,omitempty"`
	// Effect says what a reader of the document would see change: one of
	// the Effect constants, or "" when nothing is drawn differently (a
	// DSS, metadata, an invisible field).
	Effect string `json:"effect,omitempty"`
	// Page is the 1-based page the change shows on; 0 when it is not tied
	// to one page.
	Page int `json:"page,omitempty"`
	// Rect is the area of Page the change covers, [x1 y1 x2 y2] in PDF
	// units from the page's lower-left corner, when it is known.
	Rect []float64 `json:"rect,omitempty"`
}

// What a change after a signature does to the rendered document, as
// Modification.Effect reports it.
const (
	// EffectContent: what a page draws changed (content streams, fonts,
	// images, resources, optional content).
	EffectContent = "content"
	// EffectOverlay: a new widget or annotation draws over a page.
	EffectOverlay = "overlay"
	// EffectAnnotation: an annotation was added, changed or removed.
	EffectAnnotation = "annotation"
	// EffectFormField: a form field's value or appearance changed.
	EffectFormField = "form-field"
	// EffectAttachment: an embedded file was added, changed or removed.
	EffectAttachment = "attachment"
)
