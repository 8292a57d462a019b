// Package verify validates the signatures and document timestamps of a
// PDF and reports on each in the terms of ETSI EN 319 102-1: an
// indication (TOTAL-PASSED, TOTAL-FAILED, INDETERMINATE) with a
// sub-indication, and the facts behind it. It reads PDFs uploaded by
// anyone, so every size and count it reads is bounded, and it fetches
// nothing unless Config.Fetch is set, and then only from the destinations
// that client's allow-list permits. It knows nothing of HTTP: api and the
// CLI render the Report.
//
// # What is checked
//
// For each signature field with a value, found through the AcroForm:
//
//   - Integrity. /ByteRange starts at 0, leaves out exactly the /Contents
//     hex string of this signature dictionary ('<', hex digits, '>', right
//     after the /Contents key) and ends at the end of a revision ("%%EOF").
//     The digest of the covered bytes must equal the CMS message digest,
//     the CMS signature must verify, and signing-certificate(-v2) must
//     name the signer's certificate (required for ETSI.CAdES.detached).
//     adbe.pkcs7.sha1 signs the SHA-1 digest of the ranges as encapsulated
//     content; adbe.pkcs7.detached and adbe.pkcs7.sha1 are validated like
//     the others and reported at level PDF-NOT-ETSI.
//   - Time. Validation is at the validation time (Config.Now), with proof
//     of existence (POE) for what is older, as EN 319 102-1 §5.6.2.4 past
//     signature validation has it. A valid document timestamp proves that
//     everything it covers existed at its genTime: the signatures and
//     timestamps before it and the DSS as it stood. The document
//     timestamps are judged newest first: each one's TSA path must be
//     valid at genTime and still valid, and not revoked, at the time a
//     later valid document timestamp proves the token existed, or else at
//     the validation time (OUT_OF_BOUNDS_NO_POE, REVOKED_NO_POE otherwise:
//     the token proves nothing). The best signature time of a signature is
//     the earliest proof: its own valid signature timestamp, or the
//     earliest valid document timestamp covering it; without one it is the
//     validation time. A certificate expired or revoked since is thus
//     judged at a proven time, with the validation data the document
//     holds. The claimed time /M is reported and used only to tell EXPIRED
//     from OUT_OF_BOUNDS_NO_POE and REVOKED from REVOKED_NO_POE when the
//     signature has no timestamp of its own (a document timestamp proves
//     only that it existed by then, not when it was made). The report
//     gives each signature's proven_time and each valid document
//     timestamp's proof_of_existence.
//   - Timestamps. The RFC 3161 token verifies, its imprint matches the
//     signature value (or, for a document timestamp, the covered bytes),
//     and the TSA, whose certificate must carry the critical timeStamping
//     usage, chains to a trust anchor at genTime. A token that does not
//     verify or matches the wrong data fails the signature (HASH_FAILURE,
//     SIG_CRYPTO_FAILURE): it is evidence of tampering. A token from an
//     untrusted TSA, or one whose TSA certificate expired before anything
//     proves the token existed, is ignored with a warning: it proves
//     nothing, but it does not make the signature worse than one without
//     it. The TSA's own
//     revocation status is checked with the data at hand: revoked before
//     genTime fails the token; unknown is only a warning.
//   - Certificate path. crypto/x509 builds the path from the signer to
//     Config.Roots (never the system pool), with the certificates of the
//     CMS, the tokens and the DSS as intermediates, and checks every
//     certificate valid at the best signature time. The signer's key usage
//     must allow digitalSignature or nonRepudiation and its extended key
//     usage, when present, a document-signing purpose (any, emailProtection,
//     clientAuth, codeSigning, documentSigning, Adobe or Microsoft document
//     signing); otherwise CHAIN_CONSTRAINTS_FAILURE.
//   - Revocation. Every certificate of the path but the trust anchor needs
//     an OCSP response (signed by its issuer, or by a responder the issuer
//     delegated with extendedKeyUsage OCSPSigning) or a complete CRL signed
//     by its issuer, from the DSS (including /VRI), the CMS revocation
//     choices or Adobe's revocation-info-archival attribute, that tells its
//     status at the best signature time: issued after it, or valid (up to
//     nextUpdate) at it. Only when that fails, and Config.Fetch is set,
//     are the certificates' OCSP and CRL URLs asked, on the destinations
//     its allow-list permits (scheme, host and port, checked again on
//     every redirect and against the address each name resolves to).
//
// # Indications
//
//	HASH_FAILURE             covered bytes or timestamp imprint do not match (TOTAL-FAILED)
//	SIG_CRYPTO_FAILURE       a signature value does not verify (TOTAL-FAILED)
//	FORMAT_FAILURE           broken /ByteRange or CMS, or a change after the signature
//	                         that is not allowed (TOTAL-FAILED; see below)
//	REVOKED                  the signer's certificate was revoked before the timestamp,
//	                         or, without one, before the claimed time (TOTAL-FAILED)
//	EXPIRED, NOT_YET_VALID   the certificate was not valid when the signature was proven
//	                         (or claimed, without proof) to exist (TOTAL-FAILED)
//	REVOKED_NO_POE           revoked, and nothing proves the signature is older; for a document
//	                         timestamp, its TSA revoked before anything proves the token existed
//	                         (INDETERMINATE)
//	REVOKED_CA_NO_POE        a CA of the path revoked before the signature time (INDETERMINATE)
//	OUT_OF_BOUNDS_NO_POE     a certificate not valid at the best signature time, and the
//	                         signature may be older; for a document timestamp, a certificate of
//	                         its TSA's path expired before the next valid document timestamp
//	                         (or, for the newest, before the validation time) (INDETERMINATE)
//	NO_CERTIFICATE_CHAIN_FOUND  no path to a trust anchor (INDETERMINATE)
//	NO_SIGNING_CERTIFICATE_FOUND  the signer's certificate is missing, or the
//	                         signing-certificate attribute does not name it (INDETERMINATE)
//	CHAIN_CONSTRAINTS_FAILURE   key usage or extended key usage forbids signing (INDETERMINATE)
//	TRY_LATER                no revocation data tells the status at the best signature time
//	                         (INDETERMINATE)
//
// A PAdES B-B or B-T signature with a trusted path but no revocation data
// in the document is INDETERMINATE/TRY_LATER when fetching is not allowed:
// EN 319 102-1 §5.2.6 cannot conclude the certificate was not revoked, and
// the status may become known later (online, or once a B-LT update adds
// it). With Config.Fetch the verifier asks and usually concludes.
//
// A signature whose certificate was revoked after its timestamp passes,
// with the revocation time reported and a warning.
//
// # Changes after a signature
//
// Each signature covers one revision. The revision it covers is read on
// its own (a reader over that prefix of the file, sharing the whole
// file's parsed cross-reference sections and budget) and compared with
// the whole file: every object a later cross-reference section lists is
// compared by value (references by identity, streams by dictionary and
// decoded data), and each difference is classified. The later sections
// must extend the signed revision's chain. Bytes after the last %%EOF
// (white space aside) are a change too ("trailing-bytes"). Each reader
// decrypts every object with the encryption its newest trailer names, so
// the encryption each one resolved (the /Encrypt parameters, its crypt
// filters and methods, and the /ID[0] that R2-R4 keys are made from) is
// compared too: an update that adds, removes or changes it makes bytes
// signed long ago read otherwise without changing their cross-reference
// entries ("encryption-modified", never allowed). Repeating the same
// encryption, resolved to the same parameters, is no change.
//
// Every "allowed" verdict must be justified by what a viewer will render,
// so the signed revision is first walked from its catalog, reading only
// the references of each object (pdf.Reader.Links), and every object it
// reaches is marked with where it is reached from, the most visible place
// first: what pages draw (contents, resources and everything they reach,
// fonts, images, form XObjects, and the optional content configuration),
// then the form, annotations and their appearances, embedded files, the
// open action, document actions and name trees, the DSS, the metadata,
// the logical structure and the rest of the catalog.
// Only the DSS's typed structure counts as validation data (the DSS and
// VRI dictionaries, the /Certs /OCSPs /CRLs arrays and VRI /Cert /OCSP
// /CRL arrays with the streams they list, VRI /TS): an object a DSS
// names under another key, or reaches only through one, is judged as
// what it is elsewhere, or as an unknown object. An embedded file (or a
// part of the form) the DSS, /Info or /Metadata also names is one still,
// and what /Info and /Metadata reach is metadata only when it is a plain
// value or an XMP stream, not an action they also name. And whatever
// the analysis made of an update, an embedded file listed under a name a
// signed revision held another file under is "attachment-modified",
// never allowed. Then:
//
//   - A reference in the signed revision to an object it does not hold
//     (missing, free, of another generation, unreadable) is a defect of
//     the signed document and warned of. A later revision that defines
//     such an object changes what was signed without touching a signed
//     byte (the shadow attacks' hide-and-replace): "object-defined-later",
//     never allowed. Every reference any object of the signed revision
//     makes counts here, reached by the walk or not, so no key or path
//     the walk does not know can hide one.
//   - An object that existed and changed is judged by where the signed
//     revision reached it from, not by its type: anything a page draws is
//     "page-content", whatever it claims to be. A later entry that gives
//     an object another generation leaves the signed references pointing
//     at nothing: the object counts as deleted, whatever it was.
//   - A new signature field or widget is "signature" (allowed) only when a
//     later signature whose signed bytes are intact fills it, or when
//     nothing it carries draws: hidden, zero-sized, or appearances with no
//     painting operator and no border or background. An empty signature
//     field that draws is an "overlay" (the Sneaky Signature Attack),
//     never allowed; so is an empty signature field that gets a drawing
//     appearance without a signature.
//   - New annotations and form fields are reported with the page and the
//     rectangle they cover.
//
// Allowed always (also under DocMDP P=1, as EN 319 142-1 permits):
// "dss", "document-timestamp", "version". Allowed without certification
// and under P=2 and P=3: "signature", "form-fill" (values and appearances
// of existing non-signature fields), "form-resources", "metadata" (Info,
// XMP), "structure" (tagging updates that come with new widgets),
// "object-reused" (a free object number used again that the signed
// revision does not refer to). Allowed only under P=3, as ISO 32000-2
// §12.8.2.2 Table 257 says: "annotation-added", "annotation-modified",
// "annotation-removed"; one that draws over a page keeps the verdict
// DocMDP gives but adds a warning naming the page and the area covered
// (the Evil Annotation Attack changes what the reader sees). Never
// allowed: "page-content", "page-modified", "page-added", "page-removed",
// "pages-modified", "catalog-modified", "acroform-modified",
// "form-field-added", "form-field-removed", "form-field-modified",
// "signature-modified" (a signature dictionary, a signed field or its
// appearance), "certification-added", "permissions-modified",
// "object-modified" (anything else overwritten), "object-deleted",
// "object-defined-later", "overlay", "xref-modified",
// "revision-unreadable", "trailing-bytes".
//
// Each Modification says what a reader would see change (Effect:
// "content", "overlay", "annotation", "form-field", "attachment"), on
// which page and, where known, over which rectangle.
//
// A FieldMDP lock (the signature's FieldMDP transform or its field's
// /Lock) forbids later "form-fill" and "signature" changes to the fields
// it names; a PDF 2.0 lock's /P acts as DocMDP for changes after it.
//
// SignatureResult.Modifications lists the changes not allowed for that
// signature, AllowedChanges the allowed ones, and ModifiedAfter is true
// when Modifications is not empty. Such a signature is TOTAL-FAILED with
// FORMAT_FAILURE, as the EU DSS library reports PDF modification
// findings: the signed bytes are intact (see Integrity) but the document
// shown is no longer what was signed. Violations of DocMDP and FieldMDP
// are marked in Modification.Violation.
//
// # The document
//
// The document is TOTAL-PASSED only when every signature and document
// timestamp is; otherwise it takes the worst indication (TOTAL-FAILED over
// INDETERMINATE) and the sub-indication of the first signature that has
// it. A document without signatures is INDETERMINATE with sub-indication
// SIGNED_DATA_NOT_FOUND and signature_count 0: there is nothing to trust,
// but nothing is wrong either. signature_count counts document timestamps
// too; their level is "" (PAdES levels describe signatures).
//
// Each signature reports revision_length (ByteRange[2] + ByteRange[3])
// and revision_sha256, the digest of the file's first revision_length
// bytes: the revision it signed, which an issuer registry records and
// which stays the same when DSS and timestamp revisions follow.
//
// # Embedded files
//
// Report.Attachments lists the files of the /Names /EmbeddedFiles tree and
// of the catalog's /AF array: name (/UF, else /F), MIME type (/Subtype),
// /AFRelationship, decoded size and SHA-256, and covered_by, the
// signatures whose signed revision holds a file of the same name with the
// same digest. A file added or replaced after a signature is not covered
// by it, and the change analysis reports the change with effect
// "attachment". The walk is bounded (loops, depth, a node budget shared by
// every revision, 256 files) and decodes within the call's decoding
// budget, after the signatures are judged; an unchanged stream is decoded
// once however many revisions hold it.
//
// # Levels
//
// B-B: a CAdES signature; B-T: with a signature timestamp, or a document
// timestamp after it that gives proof of existence (one that failed, or
// whose TSA is not trusted, proves nothing and raises no level); B-LT:
// with, in the DSS, revocation data for every certificate of the signer's
// path but the trust anchor; B-LTA: B-LT with a document timestamp after
// the signature. Otherwise the level says what the document holds, not
// whether it validated.
//
// # Bounds
//
// Anyone can upload a file, so one call's work is bounded as a whole, not
// per revision or per signature: one budget of decoded stream bytes
// (DefaultMaxDecodedBytes) and one of bytes read to parse
// (DefaultMaxReadBytes), shared by the readers of every revision, which
// also share the parsed cross-reference sections; a bound on the objects
// walked and compared; and one budget of signature checks (certificates,
// CRLs, OCSP responses). The context is checked wherever the work loops:
// every read and decode of the PDF, every object walked or compared,
// every signature, every signature check. When it ends, Verify stops at
// once and returns its error, never a report built on a reading cut short.
//
// # Cost
//
// Verify parses only the objects it needs, continues the hash of an
// earlier signature's range for a later one instead of hashing the file
// again, builds each certificate path once per call and checks each
// certificate signature once per call. Walking a signed revision reads the
// references of every object it reaches, once per call whatever the
// number of revisions. Most of what remains is checking certificate
// signatures (RSA-3072 CAs cost the most) and that walk, so a Cache
// shared by a long-running verifier, which keeps paths, certificate and
// CRL signature checks, and the walk of each signed revision (by the
// SHA-256 of its bytes) across calls, more than halves the cost.
package verify
