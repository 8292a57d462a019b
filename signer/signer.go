// Package signer puts PAdES baseline signatures (ETSI EN 319 142-1) on PDF
// files as incremental updates.
//
// Sign is a computation over its inputs: the file (an io.ReaderAt), the
// options and a crypto.Signer. It returns the bytes to append. Each attempt
// builds everything afresh, so a retry never reuses stale state.
package signer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"esign/cades"
	"esign/pdf"
	"esign/revocation"
	"esign/sigmemo"
	"esign/tsa"
)

var (
	// ErrInvalidPDF reports input that is not a PDF this package can read.
	ErrInvalidPDF = errors.New("signer: invalid PDF")
	// ErrEncrypted reports an encrypted input whose security handler the
	// signer cannot open (public-key or unknown handlers); the message
	// names the handler.
	ErrEncrypted = errors.New("signer: the PDF's encryption is not supported")
	// ErrPasswordRequired reports an encrypted input that needs a password
	// to open, when none was given.
	ErrPasswordRequired = pdf.ErrPasswordRequired
	// ErrWrongPassword reports a password that opens neither as the user
	// nor as the owner.
	ErrWrongPassword = pdf.ErrWrongPassword
	// ErrPermissions reports an encrypted input whose permissions (/P)
	// forbid what the call would do, opened without the owner password:
	// filling in a signature field, creating one, drawing into pages or
	// embedding files (see checkPermissions). The message names it.
	ErrPermissions = errors.New("signer: the document's permissions do not allow signing")
	// ErrDocMDPForbids reports a document certified with P=1.
	ErrDocMDPForbids = errors.New("signer: the document is certified with no changes allowed (DocMDP P=1)")
	// ErrCertifyNotFirst reports a certification request on a signed document.
	ErrCertifyNotFirst = errors.New("signer: only the first signature may certify a document")
	// ErrFieldSigned reports a request to sign into a field already signed.
	ErrFieldSigned = errors.New("signer: signature field is already signed")
	// ErrBadOptions reports options that cannot be honoured.
	ErrBadOptions = errors.New("signer: invalid options")
	// ErrCertificate reports a signing certificate that may not sign now.
	ErrCertificate = errors.New("signer: signing certificate not usable")
	// ErrUnavailable reports that a service the level needs (TSA, OCSP,
	// CRL) could not be reached; the caller may retry later.
	ErrUnavailable = errors.New("signer: a service the signature needs is unavailable")
)

// KeyError reports that the key (the HSM) failed to sign. The service
// answers 503: the HSM may be back in a moment.
type KeyError struct{ Err error }

func (e *KeyError) Error() string { return "signer: the key failed to sign: " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// Level is a PAdES baseline level.
type Level string

// The PAdES baseline levels (EN 319 142-1 §6).
const (
	LevelB   Level = "B-B"
	LevelT   Level = "B-T"
	LevelLT  Level = "B-LT"
	LevelLTA Level = "B-LTA"
)

func (l Level) rank() int {
	switch l {
	case LevelT:
		return 1
	case LevelLT:
		return 2
	case LevelLTA:
		return 3
	}
	return 0
}

// ParseLevel accepts "B-B", "B-T", "B-LT" and "B-LTA".
func ParseLevel(s string) (Level, error) {
	switch l := Level(s); l {
	case LevelB, LevelT, LevelLT, LevelLTA:
		return l, nil
	}
	return "", fmt.Errorf("%w: level %q (want B-B, B-T, B-LT or B-LTA)", ErrBadOptions, s)
}

// Bytes is a PDF held in memory. Passed to Sign as the input, it is
// hashed and written out in place rather than copied out through ReadAt;
// the PDF reader still reads its objects through ReadAt.
type Bytes []byte

// ReadAt implements io.ReaderAt.
func (b Bytes) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("signer: negative offset %d", off)
	}
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Credential is a signing key and its certificate chain.
type Credential struct {
	Signer crypto.Signer
	Chain  []*x509.Certificate // leaf first; the root may be left out
}

// Timestamper gets RFC 3161 timestamps. *tsa.Client is one.
type Timestamper interface {
	Timestamp(ctx context.Context, digest []byte, h crypto.Hash) (*tsa.Token, error)
}

// RevocationCollector gathers validation data for a chain.
// *revocation.Fetcher is one.
type RevocationCollector interface {
	Collect(ctx context.Context, chain []*x509.Certificate) (*revocation.Evidence, error)
}

// Options controls one signature. The zero value makes an invisible B-B
// approval signature with SHA-256.
type Options struct {
	// Level is the PAdES baseline level. Default B-B.
	Level Level
	// Hash is the digest algorithm: SHA-256 (default), SHA-384 or SHA-512.
	Hash crypto.Hash
	// PSS selects RSASSA-PSS for RSA keys instead of PKCS#1 v1.5.
	PSS bool
	// Reason, Location and ContactInfo go into the signature dictionary.
	Reason, Location, ContactInfo string
	// Name goes into /Name. Default: the certificate's common name.
	Name string
	// Certify makes this a certification signature with DocMDP P=1, 2 or
	// 3; 0 (default) makes an approval signature.
	Certify int
	// Time is the claimed signing time written to /M. Default: now.
	Time time.Time
	// Field names the signature field: an existing empty one is filled,
	// otherwise a new one is made. Default: SignatureN, the first free N.
	Field string
	// Appearance draws a visible signature. Default: invisible.
	Appearance Appearance
	// LockField locks the signature's own field once signed (FieldMDP,
	// ISO 32000-1 §12.8.2.4), so no later revision may change it.
	LockField bool
	// Attachments are embedded in the signature's revision (see
	// Attachment). Refused with ErrAttachmentForbidden on PDF/A-1 and
	// PDF/A-2 input and with ErrAlreadySigned on signed input.
	Attachments []Attachment
	// Overlays are drawn into pages in the signature's revision. Refused
	// with ErrAlreadySigned on signed input.
	Overlays []Overlay
	// Password opens an encrypted input: the user password, or the owner
	// password, which also lifts the document's restrictions. Default:
	// the empty user password. It is never logged or printed.
	Password Secret
}

// Secret is a password: printed as "[redacted]", so no log or error
// message made with %v carries it.
type Secret []byte

func (Secret) String() string   { return "[redacted]" }
func (Secret) GoString() string { return "[redacted]" }

// MarshalJSON keeps the password out of JSON dumps.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// openPDF opens the input with the password, telling a password problem
// or an unsupported encryption apart from a broken file.
func openPDF(in io.ReaderAt, size int64, password Secret) (*pdf.Reader, error) {
	return openPDFContext(context.Background(), in, size, password)
}

// openPDFContext is openPDF bounded by ctx.
func openPDFContext(ctx context.Context, in io.ReaderAt, size int64, password Secret) (*pdf.Reader, error) {
	r, err := pdf.NewReader(in, size, &pdf.ReaderOptions{Context: ctx, Password: password})
	switch {
	case err == nil:
		return r, nil
	case errors.Is(err, pdf.ErrPasswordRequired), errors.Is(err, pdf.ErrWrongPassword):
		return nil, fmt.Errorf("signer: %w", err)
	case errors.Is(err, pdf.ErrUnsupportedEncryption):
		return nil, fmt.Errorf("%w: %w", ErrEncrypted, err)
	}
	return nil, fmt.Errorf("%w: %w", ErrInvalidPDF, err)
}

// Signer holds what signing needs beyond the key: the TSA and the source of
// revocation data. Its methods are safe for concurrent use.
type Signer struct {
	// TSA is required for B-T and above.
	TSA Timestamper
	// Revocation is required for B-LT and above.
	Revocation RevocationCollector
	// Now is the clock. Default time.Now.
	Now func() time.Time

	mu       sync.Mutex
	profiles map[crypto.Hash]tsaProfile
	buffers  sync.Pool     // *[]byte for hashing the input; saves an allocation per document
	sigs     sigmemo.Cache // certificate signatures checked while ordering chains
}

// tsaProfile is what an earlier token taught about the TSA: the size of its
// tokens and its certificates. It sizes /Contents before the token exists.
type tsaProfile struct {
	size  int
	certs []*x509.Certificate
	leaf  *x509.Certificate
}

// Result is the outcome of Sign: the bytes to append to the input.
type Result struct {
	BaseSize      int64
	Appended      []byte // every revision this call adds, in order
	Field         string
	Level         Level
	SigningTime   time.Time // the claimed time in /M
	TimestampTime time.Time // the signature timestamp's time, for B-T and above
	Revisions     int
	// InputSHA256 and OutputSHA256 identify the file received and the file
	// returned, for the audit log; computed on the way, not by a re-read.
	InputSHA256, OutputSHA256 []byte
	// SignedRevisionSHA256 is the SHA-256 of the revision the signature
	// covers: the input and the signature's update, without the DSS and
	// document timestamp revisions that B-LT and B-LTA append after it.
	// It is nil when the call made no signature: Extend's result has none.
	SignedRevisionSHA256 []byte

	signedLen int // the length of the signature's own update in Appended
	// password reopens an encrypted input for the revisions after the
	// signature's.
	password Secret
}

// Size is the length of the signed file.
func (r *Result) Size() int64 { return r.BaseSize + int64(len(r.Appended)) }

// Write streams the signed file: the unchanged input, then the updates.
func (r *Result) Write(w io.Writer, in io.ReaderAt) (int64, error) {
	var base io.Reader = io.NewSectionReader(in, 0, r.BaseSize)
	if m, ok := in.(Bytes); ok && int64(len(m)) >= r.BaseSize {
		// One write, not copies through a 32 KB buffer.
		base = bytes.NewReader(m[:r.BaseSize])
	}
	n, err := io.Copy(w, base)
	if err != nil {
		return n, fmt.Errorf("write signed file: %w", err)
	}
	m, err := w.Write(r.Appended)
	return n + int64(m), err
}

func (s *Signer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (o Options) normalize(cred Credential, now time.Time) (Options, error) {
	if o.Level == "" {
		o.Level = LevelB
	}
	if _, err := ParseLevel(string(o.Level)); err != nil {
		return o, err
	}
	switch o.Hash {
	case 0:
		o.Hash = crypto.SHA256
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return o, fmt.Errorf("%w: digest %v (want SHA-256, SHA-384 or SHA-512)", ErrBadOptions, o.Hash)
	}
	if o.Certify < 0 || o.Certify > 3 {
		return o, fmt.Errorf("%w: certify %d (want 0-3)", ErrBadOptions, o.Certify)
	}
	if cred.Signer == nil || len(cred.Chain) == 0 {
		return o, fmt.Errorf("%w: credential without key or certificate", ErrBadOptions)
	}
	switch cred.Signer.Public().(type) {
	case *rsa.PublicKey:
	case *ecdsa.PublicKey:
		if o.PSS {
			return o, fmt.Errorf("%w: PSS needs an RSA key", ErrBadOptions)
		}
	default:
		return o, fmt.Errorf("%w: key type %T", ErrBadOptions, cred.Signer.Public())
	}
	leaf := cred.Chain[0]
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return o, fmt.Errorf("%w: certificate %q valid %s to %s", ErrCertificate, leaf.Subject.CommonName,
			leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return o, fmt.Errorf("%w: certificate %q lacks digitalSignature and nonRepudiation key usage", ErrCertificate, leaf.Subject.CommonName)
	}
	if o.Time.IsZero() {
		o.Time = now
	}
	if o.Name == "" {
		o.Name = leaf.Subject.CommonName
	}
	if len(o.Attachments) > 0 {
		// A copy: the caller's slice is not ours to fill in.
		atts := make([]Attachment, len(o.Attachments))
		for i, a := range o.Attachments {
			var err error
			if atts[i], err = a.check(o.Time); err != nil {
				return o, err
			}
		}
		o.Attachments = atts
	}
	return o, nil
}

// Sign signs the PDF in in (size bytes) and returns what to append.
func (s *Signer) Sign(ctx context.Context, in io.ReaderAt, size int64, cred Credential, opts Options) (*Result, error) {
	opts, r, err := s.open(in, size, cred, opts)
	if err != nil {
		return nil, err
	}

	var profile tsaProfile
	if opts.Level.rank() >= LevelT.rank() {
		if profile, err = s.tsaProfile(ctx, opts.Hash); err != nil {
			return nil, err
		}
	}
	// B-LT puts the validation data into the same revision as the
	// signature, so the signature covers the whole document. The TSA's
	// chain is known from earlier tokens.
	var ev *revocation.Evidence
	if opts.Level.rank() >= LevelLT.rank() {
		if ev, err = s.collect(ctx, cred.Chain, profile); err != nil {
			return nil, err
		}
	}
	baseDigest, base256, err := s.digestFile(ctx, in, size, opts.Hash)
	if err != nil {
		return nil, err
	}

	var rev1 *revision
	extra := 0
	for attempt := 0; ; attempt++ {
		rev1, err = s.signatureRevision(ctx, r, baseDigest, cred, opts, profile, ev, extra)
		var short *contentsTooSmall
		if errors.As(err, &short) && attempt == 0 {
			// The token came out larger than any seen before: start over
			// with room for it and a fresh signature.
			extra = short.need - short.have + 64
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	res := &Result{
		BaseSize: size, Appended: rev1.bytes, Field: rev1.field, Level: opts.Level,
		SigningTime: opts.Time, Revisions: 1, signedLen: len(rev1.bytes), password: opts.Password,
	}
	if rev1.token != nil {
		res.TimestampTime = rev1.token.Time
	}
	if err := s.extend(ctx, in, res, opts, ev, rev1, baseDigest); err != nil {
		return nil, err
	}
	if err := res.fingerprint(base256); err != nil {
		return nil, err
	}
	return res, nil
}

// fingerprint fills the SHA-256 of input, signed revision and output
// from the input's digest state. The signed revision ends where the
// signature's /ByteRange ends: the end of its own update.
func (r *Result) fingerprint(base256 hash.Cloner) error {
	in, err := base256.Clone()
	if err != nil {
		return err
	}
	r.InputSHA256 = in.Sum(nil)
	r.SignedRevisionSHA256 = nil
	if r.signedLen > 0 {
		// Without a signature of its own (Extend) there is no signed
		// revision: the input's digest here would pass for one.
		in.Write(r.Appended[:r.signedLen])
		r.SignedRevisionSHA256 = in.Sum(nil)
	}
	in.Write(r.Appended[r.signedLen:])
	r.OutputSHA256 = in.Sum(nil)
	return nil
}

// extend adds what B-LT and B-LTA need after the signature revision.
func (s *Signer) extend(ctx context.Context, in io.ReaderAt, res *Result, opts Options, ev *revocation.Evidence, rev1 *revision, baseDigest hash.Cloner) error {
	if opts.Level.rank() < LevelLT.rank() {
		return nil
	}
	// A TSA whose certificate changed since the profile was learnt is
	// covered by a DSS revision after the signature.
	if !evidenceHas(ev, rev1.token.Certificate) {
		if err := s.appendDSS(ctx, in, res, opts.Hash, s.tokenChain(rev1.token)); err != nil {
			return err
		}
	}
	if opts.Level == LevelLTA {
		tok, err := s.appendDocTimestamp(ctx, in, res, baseDigest, opts.Hash)
		if err != nil {
			return err
		}
		// The document timestamp's own validation data, fetched after it.
		if err := s.appendDSS(ctx, in, res, opts.Hash, s.tokenChain(tok)); err != nil {
			return err
		}
	}
	return nil
}

// Check reports what Sign would refuse the PDF in in for before
// signing: the options, opening the file (encryption, password) and
// whether it may take the signature. It uses neither the key, nor the
// TSA, nor revocation sources; Sign may still fail on those. A caller
// signing several documents as one checks them all first.
func (s *Signer) Check(in io.ReaderAt, size int64, cred Credential, opts Options) error {
	_, _, err := s.open(in, size, cred, opts)
	return err
}

// open normalises opts and opens the PDF, refusing what cannot be
// signed.
func (s *Signer) open(in io.ReaderAt, size int64, cred Credential, opts Options) (Options, *pdf.Reader, error) {
	opts, err := opts.normalize(cred, s.now())
	if err != nil {
		return opts, nil, err
	}
	if opts.Level.rank() >= LevelT.rank() && s.TSA == nil {
		return opts, nil, fmt.Errorf("%w: level %s needs a TSA", ErrBadOptions, opts.Level)
	}
	if opts.Level.rank() >= LevelLT.rank() && s.Revocation == nil {
		return opts, nil, fmt.Errorf("%w: level %s needs a revocation source", ErrBadOptions, opts.Level)
	}
	r, err := openPDF(in, size, opts.Password)
	if err != nil {
		return opts, nil, err
	}
	if err := checkSignable(r, opts, nil); err != nil {
		return opts, nil, err
	}
	return opts, r, nil
}

// checkSignable refuses what must not be signed: encrypted files whose
// permissions forbid the change (checkPermissions), P=1 certified files,
// certification of an already signed file, and attachments or overlays
// the file cannot take (checkAdditions). The change is c, or when c is
// nil what Sign does with opts (signChange).
func checkSignable(r *pdf.Reader, opts Options, c *change) error {
	cat, _, err := r.Catalog()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPDF, err)
	}
	p, err := docMDP(r, cat)
	if err != nil {
		return fmt.Errorf("%w: read DocMDP: %w", ErrInvalidPDF, err)
	}
	if p == 1 {
		return ErrDocMDPForbids
	}
	acro, err := r.Dict(cat["AcroForm"])
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPDF, err)
	}
	// The fields matter only to certification, to what the file's
	// permissions allow, and to attachments and marks: a plain approval
	// of an unencrypted file skips reading them here, as openForm reads
	// them again to place the signature.
	var fields []field
	sec := r.Security()
	needFields := opts.Certify != 0 || sec != nil || len(opts.Attachments) > 0 || len(opts.Overlays) > 0
	if acro != nil && needFields {
		if fields, err = formFields(r, acro); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidPDF, err)
		}
	}
	if c == nil {
		sc := signChange(fields, opts)
		c = &sc
	}
	if err := checkPermissions(sec, *c); err != nil {
		return err
	}
	if opts.Certify != 0 {
		for _, f := range fields {
			if f.signed {
				return ErrCertifyNotFirst
			}
		}
	}
	return checkAdditions(r, cat, fields, opts)
}

// tsaProfile returns what is known of the TSA for h, asking it for one
// token first if nothing is known yet.
func (s *Signer) tsaProfile(ctx context.Context, h crypto.Hash) (tsaProfile, error) {
	s.mu.Lock()
	p, ok := s.profiles[h]
	s.mu.Unlock()
	if ok {
		return p, nil
	}
	probe := h.New()
	probe.Write([]byte("esign: learn the TSA's token size and certificates"))
	tok, err := s.TSA.Timestamp(ctx, probe.Sum(nil), h)
	if err != nil {
		return tsaProfile{}, timestampError(err)
	}
	return s.learn(h, tok), nil
}

// learn records a token's size and certificates for sizing later ones.
func (s *Signer) learn(h crypto.Hash, tok *tsa.Token) tsaProfile {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.profiles == nil {
		s.profiles = map[crypto.Hash]tsaProfile{}
	}
	p := s.profiles[h]
	if len(tok.DER) > p.size || p.leaf == nil || !p.leaf.Equal(tok.Certificate) {
		p = tsaProfile{size: max(p.size, len(tok.DER)), certs: tok.Certificates, leaf: tok.Certificate}
		s.profiles[h] = p
	}
	return p
}

func timestampError(err error) error {
	if errors.Is(err, tsa.ErrUnavailable) {
		return fmt.Errorf("%w: timestamp: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("timestamp: %w", err)
}

func revocationError(err error) error {
	if errors.Is(err, revocation.ErrUnavailable) {
		return fmt.Errorf("%w: revocation data: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("revocation data: %w", err)
}

// collect gathers validation data for the signer's chain and, when
// known, the TSA's chain.
func (s *Signer) collect(ctx context.Context, chain []*x509.Certificate, p tsaProfile) (*revocation.Evidence, error) {
	ev, err := s.Revocation.Collect(ctx, chain)
	if err != nil {
		return nil, revocationError(err)
	}
	if p.leaf != nil {
		tev, err := s.Revocation.Collect(ctx, orderChain(&s.sigs, p.leaf, append(append([]*x509.Certificate{}, p.certs...), chain...)))
		if err != nil {
			return nil, revocationError(err)
		}
		ev = mergeEvidence(ev, tev)
	}
	return ev, nil
}

func mergeEvidence(a, b *revocation.Evidence) *revocation.Evidence {
	out := &revocation.Evidence{}
	seen := map[string]bool{}
	for _, e := range []*revocation.Evidence{a, b} {
		if e == nil {
			continue
		}
		for _, c := range e.Certificates {
			if !seen["c"+string(c.Raw)] {
				seen["c"+string(c.Raw)] = true
				out.Certificates = append(out.Certificates, c)
			}
		}
		for _, o := range e.OCSPResponses {
			if !seen["o"+string(o)] {
				seen["o"+string(o)] = true
				out.OCSPResponses = append(out.OCSPResponses, o)
			}
		}
		for _, c := range e.CRLs {
			if !seen["r"+string(c)] {
				seen["r"+string(c)] = true
				out.CRLs = append(out.CRLs, c)
			}
		}
	}
	return out
}

func evidenceHas(ev *revocation.Evidence, c *x509.Certificate) bool {
	if ev == nil || c == nil {
		return false
	}
	for _, x := range ev.Certificates {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

// orderChain builds leaf..root from the certificates at hand, checking
// signatures through sigs (nil: every time).
func orderChain(sigs *sigmemo.Cache, leaf *x509.Certificate, pool []*x509.Certificate) []*x509.Certificate {
	chain := []*x509.Certificate{leaf}
	cur := leaf
	for len(chain) < 10 {
		if bytes.Equal(cur.RawIssuer, cur.RawSubject) {
			break
		}
		var next *x509.Certificate
		for _, c := range pool {
			if bytes.Equal(c.RawSubject, cur.RawIssuer) && sigs.CertificateFrom(cur, c) == nil {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		chain = append(chain, next)
		cur = next
	}
	return chain
}

func (s *Signer) tokenChain(tok *tsa.Token) []*x509.Certificate {
	return orderChain(&s.sigs, tok.Certificate, tok.Certificates)
}

// digestFile hashes the input once; each revision clones the state. The
// second state is SHA-256, the same one when h is SHA-256, for the
// audit's fingerprints.
func (s *Signer) digestFile(ctx context.Context, in io.ReaderAt, size int64, h crypto.Hash) (hash.Cloner, hash.Cloner, error) {
	d, ok := h.New().(hash.Cloner)
	if !ok {
		return nil, nil, fmt.Errorf("%w: digest %v cannot be cloned", ErrBadOptions, h)
	}
	d256 := d
	var w io.Writer = d
	if h != crypto.SHA256 {
		d256 = sha256.New().(hash.Cloner)
		w = io.MultiWriter(d, d256)
	}
	// An input already in memory is hashed where it lies.
	if m, ok := in.(Bytes); ok && int64(len(m)) >= size {
		w.Write(m[:size])
		return d, d256, ctx.Err()
	}
	bp, _ := s.buffers.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 128<<10)
		bp = &b
	}
	defer s.buffers.Put(bp)
	buf := *bp
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		n := int64(len(buf))
		if size-off < n {
			n = size - off
		}
		k, err := in.ReadAt(buf[:n], off)
		if int64(k) < n {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return nil, nil, fmt.Errorf("read input at %d: %w", off, err)
		}
		w.Write(buf[:n])
		off += n
	}
	return d, d256, nil
}

// revision is one signed incremental update.
type revision struct {
	bytes []byte
	field string
	token *tsa.Token
}

type contentsTooSmall struct{ have, need int }

func (e *contentsTooSmall) Error() string {
	return fmt.Sprintf("signer: signature needs %d bytes, %d reserved", e.need, e.have)
}

// byteRangeWidth fits four offsets of files up to a terabyte.
const byteRangeWidth = 60

// signatureRevision builds, hashes and signs the revision that holds the
// signature, with every piece computed afresh.
func (s *Signer) signatureRevision(ctx context.Context, r *pdf.Reader, baseDigest hash.Cloner, cred Credential, opts Options, profile tsaProfile, ev *revocation.Evidence, extra int) (*revision, error) {
	copts := cades.SignOptions{Hash: opts.Hash, PSS: opts.PSS}
	unsigned := 0
	if opts.Level.rank() >= LevelT.rank() {
		// Tokens of one TSA differ by a few bytes (serial, time, nonce);
		// leave room for that on top of the largest seen.
		unsigned = cades.SignatureTimestampAttrSize(profile.size + 64)
	}
	size, err := cades.MaxSize(cred.Signer.Public(), cred.Chain, copts, unsigned)
	if err != nil {
		return nil, fmt.Errorf("size signature: %w", err)
	}
	size += extra

	u := r.NewUpdate()
	sigDict := pdf.Dict{
		"Type":       pdf.Name("Sig"),
		"Filter":     pdf.Name("Adobe.PPKLite"),
		"SubFilter":  pdf.Name("ETSI.CAdES.detached"),
		"ByteRange":  u.HoleObject("ByteRange", byteRangeWidth),
		"Contents":   u.HoleObject("Contents", 2*size+2),
		"M":          pdf.TextString(pdf.FormatDate(opts.Time)),
		"Name":       pdf.TextString(opts.Name),
		"Prop_Build": pdf.Dict{"App": pdf.Dict{"Name": pdf.Name("esign")}},
	}
	for k, v := range map[pdf.Name]string{"Reason": opts.Reason, "Location": opts.Location, "ContactInfo": opts.ContactInfo} {
		if v != "" {
			sigDict[k] = pdf.TextString(v)
		}
	}
	f, err := openForm(u)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPDF, err)
	}
	sigRef := u.Reserve()
	if opts.Certify != 0 {
		sigDict["Reference"] = pdf.Array{pdf.Dict{
			"Type":            pdf.Name("SigRef"),
			"TransformMethod": pdf.Name("DocMDP"),
			"TransformParams": pdf.Dict{
				"Type": pdf.Name("TransformParams"),
				"P":    pdf.Integer(opts.Certify),
				"V":    pdf.Name("1.2"),
			},
		}}
		f.cat["Perms"] = pdf.Dict{"DocMDP": sigRef}
		f.catDirty = true
	}
	u.Set(sigRef, sigDict)
	name := opts.Field
	if name == "" {
		name = nextFieldName(f.fields, "Signature")
	}
	var lock pdf.Dict
	if opts.LockField {
		fields := pdf.Array{pdf.TextString(name)}
		lock = pdf.Dict{"Type": pdf.Name("SigFieldLock"), "Action": pdf.Name("Include"), "Fields": fields}
		refs, _ := sigDict["Reference"].(pdf.Array)
		sigDict["Reference"] = append(refs, pdf.Dict{
			"Type":            pdf.Name("SigRef"),
			"TransformMethod": pdf.Name("FieldMDP"),
			"Data":            f.catRef,
			"TransformParams": pdf.Dict{
				"Type": pdf.Name("TransformParams"), "Action": pdf.Name("Include"),
				"Fields": fields, "V": pdf.Name("1.2"),
			},
		})
	}
	// The marks and files go in before the signature is computed, so
	// that it covers them.
	if err := drawOverlays(ctx, f, opts.Overlays); err != nil {
		return nil, err
	}
	if err := addAttachments(f, opts.Attachments); err != nil {
		return nil, err
	}
	info := AppearanceInfo{Certificate: cred.Chain[0], Name: opts.Name, Reason: opts.Reason, Location: opts.Location, Time: opts.Time}
	if name, err = placeSignature(ctx, f, name, sigRef, opts.Appearance, info, lock); err != nil {
		return nil, err
	}
	if err := addDSS(f, ev); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPDF, err)
	}
	f.finish()

	upd, digest, contents, err := sealRevision(r, u, baseDigest)
	if err != nil {
		return nil, err
	}
	sd, err := cades.Sign(ctx, digest, cred.Signer, cred.Chain, copts)
	switch {
	case err == nil:
	case errors.Is(err, cades.ErrKeyMismatch):
		return nil, fmt.Errorf("%w: %w", ErrCertificate, err)
	case ctx.Err() != nil:
		return nil, ctx.Err()
	default:
		return nil, &KeyError{Err: err}
	}
	rev := &revision{field: name}
	if opts.Level.rank() >= LevelT.rank() {
		th := opts.Hash.New()
		th.Write(sd.SignatureValue())
		tok, err := s.TSA.Timestamp(ctx, th.Sum(nil), opts.Hash)
		if err != nil {
			return nil, timestampError(err)
		}
		s.learn(opts.Hash, tok)
		if err := sd.AddSignatureTimestamp(tok.DER); err != nil {
			return nil, fmt.Errorf("embed timestamp: %w", err)
		}
		rev.token = tok
	}
	der, err := sd.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encode signature: %w", err)
	}
	if err := fillContents(upd, r.Size(), contents, der); err != nil {
		return nil, err
	}
	rev.bytes = upd
	return rev, nil
}

// sealRevision serialises the update, fixes its ByteRange and returns the
// digest of everything but the /Contents hole.
func sealRevision(r *pdf.Reader, u *pdf.Update, baseDigest hash.Cloner) ([]byte, []byte, pdf.Hole, error) {
	upd, holes, err := u.Bytes()
	if err != nil {
		return nil, nil, pdf.Hole{}, fmt.Errorf("write update: %w", err)
	}
	base := r.Size()
	contents, br := holes["Contents"], holes["ByteRange"]
	total := base + int64(len(upd))
	end := contents.Offset + int64(contents.Width)
	rangeText := fmt.Appendf(nil, "[0 %d %d %d]", contents.Offset, end, total-end)
	if len(rangeText) > br.Width {
		return nil, nil, pdf.Hole{}, fmt.Errorf("%w: file too large for /ByteRange", ErrBadOptions)
	}
	rangeText = append(rangeText, bytes.Repeat([]byte(" "), br.Width-len(rangeText))...)
	if err := pdf.PatchHole(upd, base, br, rangeText); err != nil {
		return nil, nil, pdf.Hole{}, err
	}
	// Mark the hole as an empty hex string now so a failed fill can never
	// leave a marker byte behind.
	blankContents(upd[contents.Offset-base : end-base])
	c, err := baseDigest.Clone()
	if err != nil {
		return nil, nil, pdf.Hole{}, err
	}
	c.Write(upd[:contents.Offset-base])
	c.Write(upd[end-base:])
	return upd, c.Sum(nil), contents, nil
}

// blankContents makes b "<000…0>", an empty zero-padded hex string.
func blankContents(b []byte) {
	for i := range b {
		b[i] = '0'
	}
	b[0], b[len(b)-1] = '<', '>'
}

// fillContents writes der as the hex string of /Contents, in place.
func fillContents(upd []byte, base int64, h pdf.Hole, der []byte) error {
	if 2*len(der)+2 > h.Width {
		return &contentsTooSmall{have: (h.Width - 2) / 2, need: len(der)}
	}
	i := h.Offset - base
	if i < 0 || i+int64(h.Width) > int64(len(upd)) {
		return fmt.Errorf("signer: /Contents outside the update")
	}
	// sealRevision left the hole as "<000…0>": the DER goes over its
	// start and the zeros stay as padding.
	hex.Encode(upd[i+1:], der)
	return nil
}

// appendDSS adds a revision holding validation data for chain.
func (s *Signer) appendDSS(ctx context.Context, in io.ReaderAt, res *Result, h crypto.Hash, chain []*x509.Certificate) error {
	ev, err := s.Revocation.Collect(ctx, chain)
	if err != nil {
		return revocationError(err)
	}
	r, err := pdf.NewReader(pdf.Concat(in, res.BaseSize, res.Appended), res.Size(), &pdf.ReaderOptions{Password: res.password})
	if err != nil {
		return fmt.Errorf("reread signed revision: %w", err)
	}
	u := r.NewUpdate()
	f, err := openForm(u)
	if err != nil {
		return err
	}
	if err := addDSS(f, ev); err != nil {
		return err
	}
	return appendDSSRevision(res, u, f)
}

// appendDSSRevision writes the update holding a DSS, with the catalog if
// it changed, as one more revision of res.
func appendDSSRevision(res *Result, u *pdf.Update, f *form) error {
	if f.catDirty {
		u.Set(f.catRef, f.cat)
	}
	upd, _, err := u.Bytes()
	if err != nil {
		return fmt.Errorf("write DSS revision: %w", err)
	}
	res.Appended = append(res.Appended, upd...)
	res.Revisions++
	return nil
}

// appendDocTimestamp adds a document timestamp (EN 319 142-1 §5.5) over
// the whole file as it stands.
func (s *Signer) appendDocTimestamp(ctx context.Context, in io.ReaderAt, res *Result, baseDigest hash.Cloner, h crypto.Hash) (*tsa.Token, error) {
	profile, err := s.tsaProfile(ctx, h)
	if err != nil {
		return nil, err
	}
	extra := 0
	for attempt := 0; ; attempt++ {
		r, err := pdf.NewReader(pdf.Concat(in, res.BaseSize, res.Appended), res.Size(), &pdf.ReaderOptions{Password: res.password})
		if err != nil {
			return nil, fmt.Errorf("reread signed revision: %w", err)
		}
		u := r.NewUpdate()
		size := profile.size + 64 + extra
		sigDict := pdf.Dict{
			"Type":      pdf.Name("DocTimeStamp"),
			"Filter":    pdf.Name("Adobe.PPKLite"),
			"SubFilter": pdf.Name("ETSI.RFC3161"),
			"ByteRange": u.HoleObject("ByteRange", byteRangeWidth),
			"Contents":  u.HoleObject("Contents", 2*size+2),
		}
		sigRef := u.Add(sigDict)
		f, err := openForm(u)
		if err != nil {
			return nil, err
		}
		name := nextFieldName(f.fields, "DocumentTimestamp")
		if _, err := placeSignature(ctx, f, name, sigRef, nil, AppearanceInfo{}, nil); err != nil {
			return nil, err
		}
		f.finish()
		// The digest covers the input and the earlier revisions: hash
		// those onto the input's state rather than reading the input again.
		prefix, err := baseDigest.Clone()
		if err != nil {
			return nil, err
		}
		prefix.Write(res.Appended)
		upd, digest, contents, err := sealRevision(r, u, prefix)
		if err != nil {
			return nil, err
		}
		tok, err := s.TSA.Timestamp(ctx, digest, h)
		if err != nil {
			return nil, timestampError(err)
		}
		profile = s.learn(h, tok)
		err = fillContents(upd, r.Size(), contents, tok.DER)
		var short *contentsTooSmall
		if errors.As(err, &short) && attempt == 0 {
			extra = short.need - short.have + 64
			continue
		}
		if err != nil {
			return nil, err
		}
		res.Appended = append(res.Appended, upd...)
		res.Revisions++
		return tok, nil
	}
}
