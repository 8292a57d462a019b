package verify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	"esign/outbound"
	"esign/pdf"
)

// ErrNotPDF is wrapped by the error Verify returns for input it cannot
// read as a PDF at all (no header, no trailer, broken cross-reference
// data). It is pdf.ErrNotPDF, so either name works with errors.Is.
var ErrNotPDF = pdf.ErrNotPDF

// ErrPasswordRequired, ErrWrongPassword and ErrUnsupportedEncryption are
// wrapped by the error Verify returns for an encrypted document it cannot
// open: no password given where one is needed, a wrong one, or a security
// handler not implemented (named in the message).
var (
	ErrPasswordRequired      = pdf.ErrPasswordRequired
	ErrWrongPassword         = pdf.ErrWrongPassword
	ErrUnsupportedEncryption = pdf.ErrUnsupportedEncryption
)

// Default limits.
const (
	DefaultMaxSignatures = 200
	// DefaultMaxDecodedBytes bounds the stream data one Verify call
	// decodes, over every revision of the file.
	DefaultMaxDecodedBytes = 64 << 20
	// DefaultMaxReadBytes bounds the bytes one Verify call reads from the
	// file to parse it, over every revision.
	DefaultMaxReadBytes = 256 << 20
)

// Config controls one verification. The zero value verifies offline
// against no trust anchors, which leaves every chain INDETERMINATE.
type Config struct {
	// Roots are the trust anchors. Default (nil): none; the system pool is
	// never used, so what is trusted is always the caller's decision.
	Roots *x509.CertPool
	// Fetch asks for OCSP responses, CRLs and issuer certificates when the
	// document lacks revocation data, to the destinations its allow-list
	// permits (scheme, host and port; never a loopback or private address
	// the list does not name with its port), under its timeout and size
	// cap. Default (nil): nothing is fetched; URLs inside an uploaded file
	// are never followed on their own authority.
	Fetch *outbound.Client
	// Now is the clock, the validation time. Default: time.Now.
	Now func() time.Time
	// MaxSignatures bounds the signatures validated; any beyond are
	// reported INDETERMINATE without being looked at. Default
	// DefaultMaxSignatures.
	MaxSignatures int
	// Cache, when set, keeps certificate paths and certificate and CRL
	// signature checks across calls; see Cache. Default: nothing is kept
	// beyond one call.
	Cache *Cache
	// ReaderOptions bounds what reading the PDF may spend (decoded stream
	// bytes, bytes parsed, object size). Default: the pdf package defaults
	// but DefaultMaxDecodedBytes and DefaultMaxReadBytes: verifying decodes
	// only the DSS, object streams and the objects later revisions change.
	// The budget is one for the whole call, shared by the readers of every
	// revision, so a file claiming many revisions gets no more. Its Context
	// is Verify's.
	ReaderOptions *pdf.ReaderOptions
	// Password opens an encrypted document: its user or owner password.
	// Default: the empty user password. Never logged or reported.
	Password []byte
}

func (c Config) withDefaults() Config {
	if c.Roots == nil {
		c.Roots = x509.NewCertPool()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxSignatures <= 0 {
		c.MaxSignatures = DefaultMaxSignatures
	}
	ro := pdf.ReaderOptions{MaxDecodedBytes: DefaultMaxDecodedBytes, MaxReadBytes: DefaultMaxReadBytes}
	if c.ReaderOptions != nil {
		ro = *c.ReaderOptions
		if ro.MaxDecodedBytes <= 0 {
			ro.MaxDecodedBytes = DefaultMaxDecodedBytes
		}
		if ro.MaxReadBytes <= 0 {
			ro.MaxReadBytes = DefaultMaxReadBytes
		}
	}
	if c.Password != nil {
		ro.Password = c.Password
	}
	c.ReaderOptions = &ro
	return c
}

// Verify validates every signature and document timestamp of the PDF in
// r (size bytes) and reports on each and on the document. It returns an
// error only when the input cannot be read as a PDF (wrapping ErrNotPDF)
// or ctx ends; a damaged signature is a finding, reported in the Report.
func Verify(ctx context.Context, r io.ReaderAt, size int64, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	cfg.ReaderOptions.Context = ctx
	rd, err := pdf.NewReader(r, size, cfg.ReaderOptions)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("verify: %w", ctx.Err())
		}
		if errors.Is(err, pdf.ErrNotPDF) || errors.Is(err, pdf.ErrPasswordRequired) ||
			errors.Is(err, pdf.ErrWrongPassword) || errors.Is(err, pdf.ErrUnsupportedEncryption) {
			return nil, fmt.Errorf("verify: %w", err)
		}
		return nil, fmt.Errorf("verify: %w: %w", ErrNotPDF, err)
	}
	v := newVerifier(ctx, cfg, r, size, rd)
	if err := v.run(); err != nil {
		return nil, err
	}
	// The reader stops as soon as ctx ends, and what it could not read
	// then shows as findings; a report built on a cut-short reading must
	// not be returned.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return v.report, nil
}

// verifier is the state of one Verify call. Every cache lives here, so
// nothing is shared between calls.
type verifier struct {
	ctx    context.Context
	cfg    Config
	now    time.Time
	ra     io.ReaderAt
	size   int64
	r      *pdf.Reader // the whole file
	report *Report

	revs    revisions
	readers map[int64]*pdf.Reader // by revision end
	sigs    []*sigCtx

	ev    *evidence
	certs *certCache

	// certP is the DocMDP level of the certification signature, which
	// ends at certEnd; 0 when the document is not certified.
	certP   int
	certEnd int64

	// chains caches trusted paths by leaf; sigChecks certificate
	// signature checks.
	chains    map[[32]byte][]*x509.Certificate
	sigChecks map[[32]byte]error
	// freshChecks counts signature checks made, against maxSignatureChecks.
	freshChecks int

	hashBuf  []byte
	prefixes []prefixState
	work     int // objects compared so far, against maxCompare
	// roleBudget is what is left of maxRoleNodes.
	roleBudget int
}

func newVerifier(ctx context.Context, cfg Config, ra io.ReaderAt, size int64, r *pdf.Reader) *verifier {
	v := &verifier{
		ctx: ctx, cfg: cfg, now: cfg.Now(), ra: ra, size: size, r: r,
		readers: map[int64]*pdf.Reader{size: r},
		chains:  map[[32]byte][]*x509.Certificate{}, sigChecks: map[[32]byte]error{},
		roleBudget: maxRoleNodes,
	}
	v.report = &Report{
		Document: DocumentResult{
			Size: size, ValidationTime: v.now.UTC(), Certification: "none",
			Encrypted: r.Encrypted(), Warnings: []string{},
		},
		Signatures:  []SignatureResult{},
		Attachments: []Attachment{},
	}
	if sec := r.Security(); sec != nil {
		v.report.Document.Encryption = sec.Handler
	}
	v.certs = newCertCache()
	v.ev = newEvidence(v)
	return v
}

func (v *verifier) warnDoc(format string, args ...any) {
	v.report.Document.Warnings = append(v.report.Document.Warnings, fmt.Sprintf(format, args...))
}

func (v *verifier) run() error {
	doc := &v.report.Document
	v.revs = scanRevisions(v.r, v.ra, v.size)
	doc.Revisions = len(v.revs.ends)
	doc.TrailingBytes = v.revs.trailing
	if len(v.revs.ends) == 0 {
		v.warnDoc("the file has no %%%%EOF marker")
	}
	if doc.TrailingBytes > 0 {
		v.warnDoc("%d bytes after the last %%%%EOF belong to no revision: data was appended, or the last revision is cut short", doc.TrailingBytes)
	}
	if doc.Encrypted {
		v.warnDoc("the document is encrypted (%s); it was decrypted to be verified", doc.Encryption)
	}
	fields, more, err := findSignatures(v.r)
	if err != nil {
		v.warnDoc("form fields could not all be read: %v", err)
	}
	for i, f := range fields {
		s := newSigCtx(f)
		if i >= v.cfg.MaxSignatures {
			s.indeterminate(Generic, "not validated: the document has more than %d signatures", v.cfg.MaxSignatures)
			s.skipped = true
			s.end = math.MaxInt64 // listed last
		} else {
			v.parseSignature(s)
		}
		v.sigs = append(v.sigs, s)
	}
	if more {
		v.warnDoc("the form has more fields than are read; some signatures may not be listed")
	}
	// After the signatures, so certificates they carry are not parsed twice.
	v.ev.loadDSS()
	// Oldest first: by the end of the signed range, then by field name.
	sort.SliceStable(v.sigs, func(i, j int) bool {
		a, b := v.sigs[i], v.sigs[j]
		if a.end != b.end {
			return a.end < b.end
		}
		return a.res.Field < b.res.Field
	})
	for _, s := range v.sigs {
		if err := v.ctx.Err(); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if s.skipped || !s.parsed {
			continue
		}
		if s.res.Kind == KindDocumentTimestamp {
			v.validateDocTimestamp(s)
		} else {
			v.validateSignature(s)
		}
	}
	// What depends on time comes once every signed range is hashed
	// (oldest first, which shares the hashing): the document timestamps
	// newest first, each proving the existence of what it covers, then
	// the signatures at the times so proven.
	v.proveTimestamps()
	for _, s := range v.sigs {
		if !s.skipped && s.parsed && s.res.Kind == KindSignature {
			v.judgeSignature(s)
		}
	}
	v.applyCertification()
	for _, s := range v.sigs {
		if err := v.ctx.Err(); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if s.skipped || !s.parsed {
			continue
		}
		v.checkChanges(s)
		if s.res.Kind == KindSignature {
			v.detectLevel(s)
		}
	}
	v.revisionDigests()
	// Before the results are copied into the report: a replaced
	// embedded file the change analysis missed fails the signatures
	// whose revisions held it.
	v.attachments()
	for _, s := range v.sigs {
		s.finish()
		v.report.Signatures = append(v.report.Signatures, *s.res)
	}
	v.summarize()
	return nil
}

// summarize sets the document's indication from the signatures'.
func (v *verifier) summarize() {
	doc := &v.report.Document
	if v.freshChecks > maxSignatureChecks {
		v.warnDoc("the document holds more certificates and revocation data than are checked (%d signature checks); what was left unchecked counts as unknown, not as valid", maxSignatureChecks)
	}
	doc.SignatureCount = len(v.report.Signatures)
	for _, s := range v.report.Signatures {
		if s.Kind == KindDocumentTimestamp {
			doc.DocumentTimestampCount++
		}
	}
	if doc.SignatureCount == 0 {
		doc.Indication = Indeterminate
		doc.SubIndication = SignedDataNotFound
		doc.Summary = "the document has no signatures"
		if doc.TrailingBytes > 0 {
			doc.Summary += fmt.Sprintf("; %d bytes follow the last %%%%EOF", doc.TrailingBytes)
		}
		return
	}
	doc.Indication = TotalPassed
	var worst *SignatureResult
	for i := range v.report.Signatures {
		s := &v.report.Signatures[i]
		switch {
		case s.Indication == TotalFailed && (worst == nil || worst.Indication != TotalFailed):
			worst = s
		case s.Indication == Indeterminate && worst == nil:
			worst = s
		}
	}
	if worst == nil {
		doc.Summary = fmt.Sprintf("all %d signatures are valid and nothing disallowed changed after them", doc.SignatureCount)
		if doc.SignatureCount == 1 {
			doc.Summary = "the signature is valid and nothing disallowed changed after it"
		}
		return
	}
	doc.Indication = worst.Indication
	doc.SubIndication = worst.SubIndication
	what := "signature"
	if worst.Kind == KindDocumentTimestamp {
		what = "document timestamp"
	}
	reason := string(worst.SubIndication)
	if len(worst.Errors) > 0 {
		reason = worst.Errors[0]
	}
	doc.Summary = fmt.Sprintf("%s %q is %s: %s", what, worst.Field, worst.Indication, reason)
}

// reader returns a reader over the file as it was at the end of the
// revision ending at end, cached for the call.
func (v *verifier) reader(end int64) (*pdf.Reader, error) {
	if r, ok := v.readers[end]; ok {
		return r, nil
	}
	r, err := v.r.Revision(end)
	if err != nil {
		return nil, err
	}
	v.readers[end] = r
	return r, nil
}
