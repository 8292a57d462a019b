package verify

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"esign/cades"
	"esign/pdf"
	"esign/tsa"
)

// SubFilter values (ISO 32000-2 §12.8.3, EN 319 142-1).
const (
	subFilterCAdES     = "ETSI.CAdES.detached"
	subFilterRFC3161   = "ETSI.RFC3161"
	subFilterPKCS7     = "adbe.pkcs7.detached"
	subFilterPKCS7SHA1 = "adbe.pkcs7.sha1"
)

// maxContentsHex bounds the /Contents hex string read from the file: the
// pdf package refuses strings over 8 MiB, so twice that plus the brackets.
const maxContentsHex = 16<<20 + 2

// clockSkew is tolerated between clocks: of signers, TSAs and responders.
const clockSkew = 5 * time.Minute

// sigCtx is the working state of one signature while it is validated.
type sigCtx struct {
	f       sigField
	res     *SignatureResult
	parsed  bool // ByteRange and /Contents are usable
	skipped bool

	subFilter string
	br        [4]int64
	end       int64 // end of the signed range: the end of its revision
	contents  []byte

	cms     *cades.Parsed
	leaf    *x509.Certificate
	chain   []*x509.Certificate
	trusted bool
	token   *tsa.Token // a document timestamp's token
	// hasTimestamp: the CMS carries a signature timestamp token that
	// decodes, valid or not.
	hasTimestamp bool
	sigTokens    []parsedToken
	tokenErr     error

	claimed *time.Time // /M
	// tsTime is the genTime of the earliest valid signature timestamp, or
	// of the document timestamp: the signature's proof of existence.
	tsTime *time.Time
	best   time.Time

	docMDP int        // DocMDP P this signature sets, 0 when none
	lock   *fieldLock // FieldMDP lock, nil when none

	// revKey names the signed revision's bytes (see noteRevision); zero
	// when its digest is not known or not collision resistant.
	revKey [32]byte

	// judge: the integrity checks are done and the signer's certificate
	// is known, so the time-dependent checks remain (see judgeSignature).
	judge bool
	// docTR is a document timestamp's token as checkParsedToken left it.
	docTR *tokenResult
	// givesPOE: a document timestamp that validated, including its TSA's
	// certificates at the time something proves the token existed: it
	// proves what it covers existed at tsTime.
	givesPOE bool
	// poe is the earliest proof of existence: an own signature timestamp
	// or a document timestamp covering this one; nil when none.
	poe *time.Time
	// cover is the earliest valid document timestamp covering this one.
	cover *sigCtx
}

func newSigCtx(f sigField) *sigCtx {
	s := &sigCtx{f: f, res: &SignatureResult{
		Field: f.name, Kind: KindSignature, Certification: "none",
		Errors: []string{}, Warnings: []string{}, Chain: []string{},
		Modifications: []Modification{}, AllowedChanges: []Modification{},
		Revocation: RevocationInfo{Status: "unknown"},
		Signer:     &SignerInfo{},
	}}
	if f.sig["Type"] == pdf.Name("DocTimeStamp") || f.sig["SubFilter"] == pdf.Name(subFilterRFC3161) {
		s.res.Kind = KindDocumentTimestamp
	}
	return s
}

// fail records a TOTAL-FAILED finding; the first one sets the
// sub-indication.
func (s *sigCtx) fail(sub SubIndication, format string, args ...any) {
	if s.res.Indication != TotalFailed {
		s.res.Indication, s.res.SubIndication = TotalFailed, sub
	}
	s.res.Errors = append(s.res.Errors, fmt.Sprintf(format, args...))
}

// indeterminate records a finding that leaves the signature INDETERMINATE
// unless something worse is found.
func (s *sigCtx) indeterminate(sub SubIndication, format string, args ...any) {
	if s.res.Indication == "" {
		s.res.Indication, s.res.SubIndication = Indeterminate, sub
	}
	s.res.Errors = append(s.res.Errors, fmt.Sprintf(format, args...))
}

func (s *sigCtx) warn(format string, args ...any) {
	s.res.Warnings = append(s.res.Warnings, fmt.Sprintf(format, args...))
}

func (s *sigCtx) finish() {
	if s.res.Indication == "" {
		s.res.Indication = TotalPassed
	}
	s.res.ModifiedAfter = len(s.res.Modifications) > 0
}

// parseSignature reads the signature dictionary, checks the ByteRange and
// decodes the CMS (or token), adding the certificates and revocation data
// it carries to the call's pools.
func (v *verifier) parseSignature(s *sigCtx) {
	r, d, res := v.r, s.f.sig, s.res
	if s.f.err != nil {
		s.fail(FormatFailure, "the signature dictionary cannot be read: %v", s.f.err)
		return
	}
	sf, _ := d["SubFilter"].(pdf.Name)
	s.subFilter = string(sf)
	res.SubFilter = s.subFilter
	res.Name = text(r, d["Name"])
	res.Reason = text(r, d["Reason"])
	res.Location = text(r, d["Location"])
	res.ContactInfo = text(r, d["ContactInfo"])
	if m := text(r, d["M"]); m != "" {
		if t, err := pdf.ParseDate(m); err == nil {
			t = t.UTC()
			s.claimed = &t
			res.SigningTime = &t
		} else {
			s.warn("the signing time /M %q cannot be read", m)
		}
	}
	v.readReferences(s)

	switch s.subFilter {
	case subFilterCAdES, subFilterPKCS7, subFilterPKCS7SHA1:
		if res.Kind == KindDocumentTimestamp {
			s.fail(FormatFailure, "a /DocTimeStamp dictionary with SubFilter %s", s.subFilter)
			return
		}
	case subFilterRFC3161:
		if res.Kind != KindDocumentTimestamp {
			s.fail(FormatFailure, "SubFilter ETSI.RFC3161 outside a document timestamp")
			return
		}
	case "":
		s.fail(FormatFailure, "the signature dictionary has no /SubFilter")
		return
	default:
		s.indeterminate(FormatFailure, "SubFilter %s is not supported", s.subFilter)
		return
	}

	contents, err := r.Resolve(d["Contents"])
	cs, ok := contents.(pdf.String)
	if err != nil || !ok || len(cs.Bytes) == 0 {
		s.fail(FormatFailure, "the signature dictionary has no /Contents string")
		return
	}
	s.contents = cs.Bytes
	if !v.checkByteRange(s) {
		return
	}
	s.parsed = true
	s.end = s.br[2] + s.br[3]
	res.Revision = v.revs.number(s.end - 1)
	res.CoversWholeDocument = s.end == v.size || allWhite(io.NewSectionReader(v.ra, s.end, v.size-s.end))

	if res.Kind == KindDocumentTimestamp {
		der := trimDER(s.contents)
		s.token, s.tokenErr = tsa.ParseToken(der)
		if s.token != nil {
			v.certs.add(s.token.Certificates...)
		} else if p, err := cades.Parse(s.contents); err == nil {
			v.certs.add(p.Certificates...)
		}
		return
	}
	p, err := cades.Parse(s.contents)
	if err != nil {
		s.fail(FormatFailure, "the CMS signature cannot be decoded: %v", err)
		s.parsed = false
		return
	}
	s.cms = p
	v.certs.add(p.Certificates...)
	v.ev.addCMS(p)
	for i, der := range p.Signer.SignatureTimestamps {
		if i >= maxSignatureTimestamps {
			break
		}
		tok, err := tsa.ParseToken(der)
		s.sigTokens = append(s.sigTokens, parsedToken{der: der, tok: tok, err: err})
		if tok != nil {
			s.hasTimestamp = true
			v.certs.add(tok.Certificates...)
		} else if tp, err := cades.Parse(der); err == nil {
			s.hasTimestamp = true
			v.certs.add(tp.Certificates...)
		}
	}
}

// maxSignatureTimestamps bounds the signature timestamps looked at.
const maxSignatureTimestamps = 8

// parsedToken is a signature timestamp as tsa.ParseToken left it.
type parsedToken struct {
	der []byte
	tok *tsa.Token
	err error
}

// readReferences reads DocMDP and FieldMDP transforms of the signature
// dictionary and the field's /Lock.
func (v *verifier) readReferences(s *sigCtx) {
	r := v.r
	refs, _ := r.Array(s.f.sig["Reference"])
	for i, ro := range refs {
		if i >= 16 {
			break
		}
		rd, err := r.Dict(ro)
		if err != nil || rd == nil {
			continue
		}
		params, _ := r.Dict(rd["TransformParams"])
		switch rd["TransformMethod"] {
		case pdf.Name("DocMDP"):
			p := 2 // Table 257: the default
			if n, ok := params["P"].(pdf.Integer); ok && n >= 1 && n <= 3 {
				p = int(n)
			}
			s.docMDP = p
		case pdf.Name("FieldMDP"):
			s.lock = mergeLock(s.lock, readLock(r, params))
		}
	}
	if ld, _ := r.Dict(s.f.field["Lock"]); ld != nil {
		s.lock = mergeLock(s.lock, readLock(r, ld))
	}
	if s.lock != nil {
		if s.lock.all {
			s.res.FieldLock = []string{"*"}
		} else {
			for n := range s.lock.fields {
				s.res.FieldLock = append(s.res.FieldLock, n)
			}
			sortStrings(s.res.FieldLock)
		}
	}
}

// fieldLock is a FieldMDP restriction: the fields that may not change
// after the signature, and a DocMDP-like P from a PDF 2.0 lock.
type fieldLock struct {
	all     bool
	exclude bool // fields lists the fields that stay free
	fields  map[string]bool
	p       int
}

func readLock(r *pdf.Reader, d pdf.Dict) *fieldLock {
	if d == nil {
		return nil
	}
	l := &fieldLock{fields: map[string]bool{}}
	names, _ := r.Array(d["Fields"])
	for i, n := range names {
		if i >= maxFieldNodes {
			break
		}
		if t := text(r, n); t != "" {
			l.fields[t] = true
		}
	}
	switch d["Action"] {
	case pdf.Name("All"):
		l.all = true
	case pdf.Name("Exclude"):
		l.exclude = true
	case pdf.Name("Include"):
	default:
		if len(l.fields) == 0 {
			l.all = d["P"] == nil
		}
	}
	if p, ok := d["P"].(pdf.Integer); ok && p >= 1 && p <= 3 {
		l.p = int(p)
	}
	return l
}

func mergeLock(a, b *fieldLock) *fieldLock {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	// Two locks on one signature: the field's /Lock and the FieldMDP
	// reference normally say the same; when they differ, the stricter wins.
	if b.all || a.exclude != b.exclude {
		a.all = a.all || b.all || a.exclude != b.exclude
	}
	for k := range b.fields {
		a.fields[k] = true
	}
	if b.p != 0 && (a.p == 0 || b.p < a.p) {
		a.p = b.p
	}
	return a
}

// locks reports whether the lock covers the field named name.
func (l *fieldLock) locks(name string) bool {
	if l == nil {
		return false
	}
	if l.all {
		return true
	}
	in := l.fields[name]
	// A lock on a parent field covers its descendants.
	for i := len(name) - 1; i > 0 && !in; i-- {
		if name[i] == '.' {
			in = l.fields[name[:i]]
		}
	}
	if l.exclude {
		return !in
	}
	return in
}

// checkByteRange checks the signed range: two ranges, starting at 0,
// skipping exactly the /Contents hex string of this dictionary, ending at
// the end of a revision. It reports whether the range can be hashed.
func (v *verifier) checkByteRange(s *sigCtx) bool {
	arr, err := v.r.Array(s.f.sig["ByteRange"])
	if err != nil || len(arr) != 4 {
		s.fail(FormatFailure, "/ByteRange is not an array of four integers")
		return false
	}
	for i, o := range arr {
		n, ok := o.(pdf.Integer)
		if !ok || n < 0 || int64(n) > v.size {
			s.fail(FormatFailure, "/ByteRange entry %d is not an offset in the file", i)
			return false
		}
		s.br[i] = int64(n)
	}
	s.res.ByteRange = s.br[:]
	a, b, c, d := s.br[0], s.br[1], s.br[2], s.br[3]
	switch {
	case a != 0:
		s.fail(FormatFailure, "the signed range starts at %d, not at the start of the file", a)
		return false
	case b <= 0 || c < b+2:
		s.fail(FormatFailure, "the ranges of /ByteRange overlap or leave no room for /Contents")
		return false
	case c+d > v.size:
		s.fail(FormatFailure, "/ByteRange runs past the end of the file")
		return false
	case c-b > maxContentsHex:
		s.fail(FormatFailure, "the gap in /ByteRange is %d bytes, more than a signature needs", c-b)
		return false
	}
	ok := true
	// The gap must be exactly the hex string that is this dictionary's
	// /Contents: '<', hex digits, '>'. Anything else there would be
	// unsigned content (a signature wrapping attack).
	gap := make([]byte, c-b)
	if k, _ := v.ra.ReadAt(gap, b); int64(k) != c-b {
		s.fail(FormatFailure, "cannot read the /Contents gap")
		return false
	}
	if !hexStringEquals(gap, s.contents) {
		s.fail(FormatFailure, "the bytes /ByteRange leaves out are not exactly the /Contents hex string")
		ok = false
	}
	if !precededByContentsKey(v.ra, b) {
		s.fail(FormatFailure, "the bytes /ByteRange leaves out are not the value of /Contents")
		ok = false
	}
	end := c + d
	if end != v.size && !isRevisionEnd(v.ra, end) {
		s.fail(FormatFailure, "the signed range ends at %d, which is not the end of a revision", end)
		s.res.Integrity.ByteRange = false
		return true
	}
	if !v.checkSignedDict(s, end) {
		ok = false
	}
	s.res.Integrity.ByteRange = ok
	return true
}

// checkSignedDict checks the signature dictionary as the signed revision
// has it: it holds the same /ByteRange and /Contents, and the /Contents
// string lies inside it. A later revision may have replaced the
// dictionary; the change analysis reports that.
func (v *verifier) checkSignedDict(s *sigCtx, end int64) bool {
	if s.f.sigRef == (pdf.Ref{}) {
		return true
	}
	r, err := v.reader(end)
	if err != nil {
		s.fail(FormatFailure, "the signed revision cannot be read: %v", err)
		return false
	}
	// Unchanged since: the same object at the same place.
	ne, nok, err1 := v.r.Lookup(s.f.sigRef.Num)
	oe, ook, err2 := r.Lookup(s.f.sigRef.Num)
	// The hex string must lie inside the dictionary's own object, as the
	// signed revision places it.
	contentsInside := func() bool {
		if err2 == nil && ook && oe.Type == 1 && (oe.Offset >= s.br[1] || s.br[1]-oe.Offset > 64<<20) {
			s.fail(FormatFailure, "/Contents of the signed range is not inside signature dictionary %v", s.f.sigRef)
			return false
		}
		return true
	}
	if err1 == nil && err2 == nil && nok && ook && ne.Type == 1 && sameEntry(oe, ne) {
		return contentsInside()
	}
	d, err := r.Dict(s.f.sigRef)
	if err != nil || d == nil {
		s.fail(FormatFailure, "signature dictionary %v is not part of the revision it signs", s.f.sigRef)
		return false
	}
	br, _ := r.Array(d["ByteRange"])
	cs, _ := d["Contents"].(pdf.String)
	same := len(br) == 4 && bytes.Equal(cs.Bytes, s.contents)
	for i := 0; same && i < 4; i++ {
		n, _ := br[i].(pdf.Integer)
		same = int64(n) == s.br[i]
	}
	if !same {
		s.fail(FormatFailure, "signature dictionary %v differs from the one in the revision it signs", s.f.sigRef)
		return false
	}
	return contentsInside()
}

// hexStringEquals reports whether gap is "<hex>" with only hex digits
// that decode to want.
func hexStringEquals(gap, want []byte) bool {
	if len(gap) < 2 || gap[0] != '<' || gap[len(gap)-1] != '>' {
		return false
	}
	h := gap[1 : len(gap)-1]
	if len(h) != 2*len(want) && len(h) != 2*len(want)-1 {
		return false
	}
	for i := 0; i < len(h); i += 2 {
		hi, ok1 := unhex(h[i])
		lo, ok2 := byte(0), true
		if i+1 < len(h) {
			lo, ok2 = unhex(h[i+1])
		}
		if !ok1 || !ok2 || hi<<4|lo != want[i/2] {
			return false
		}
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// precededByContentsKey reports whether the name /Contents (and white
// space) comes right before off.
func precededByContentsKey(ra io.ReaderAt, off int64) bool {
	start := max(off-64, 0)
	buf := make([]byte, off-start)
	if k, _ := ra.ReadAt(buf, start); k != len(buf) {
		return false
	}
	return bytes.HasSuffix(bytes.TrimRight(buf, "\x00\t\n\f\r "), []byte("/Contents"))
}

// trimDER cuts b to the length its outer DER header states, dropping the
// zero padding of /Contents; b is returned whole when the header cannot
// be read.
func trimDER(b []byte) []byte {
	if len(b) < 2 {
		return b
	}
	l, n := int(b[1]), 2
	if l&0x80 != 0 {
		k := l & 0x7f
		if k == 0 || k > 4 || len(b) < 2+k {
			return b
		}
		l = 0
		for _, c := range b[2 : 2+k] {
			l = l<<8 | int(c)
		}
		n += k
	}
	if l < 0 || n+l > len(b) {
		return b
	}
	return b[:n+l]
}

// digestRanges hashes the two signed ranges of s with h. Signatures are
// hashed oldest first, and each later one's first range starts with the
// earlier one's, so the hash state at the end of each first range is kept
// and continued.
func (v *verifier) digestRanges(s *sigCtx, h crypto.Hash) ([]byte, error) {
	if !h.Available() {
		return nil, fmt.Errorf("hash %v not available", h)
	}
	if v.hashBuf == nil {
		v.hashBuf = make([]byte, 32<<10)
	}
	var hh hash.Hash
	from := int64(0)
	for _, p := range v.prefixes {
		if p.h == h && p.off <= s.br[1] && p.off >= from {
			if c, err := p.state.Clone(); err == nil {
				hh, from = c, p.off
			}
		}
	}
	if hh == nil {
		hh, from = h.New(), 0
	}
	copyRange := func(off, n int64) error {
		for n > 0 {
			if err := v.ctx.Err(); err != nil {
				return err
			}
			buf := v.hashBuf[:min(n, int64(len(v.hashBuf)))]
			if k, err := v.ra.ReadAt(buf, off); k != len(buf) {
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("read signed range at %d: %w", off, err)
			}
			hh.Write(buf)
			off += int64(len(buf))
			n -= int64(len(buf))
		}
		return nil
	}
	if err := copyRange(from, s.br[1]-from); err != nil {
		return nil, err
	}
	if c, ok := hh.(hash.Cloner); ok && len(v.prefixes) < 64 {
		if st, err := c.Clone(); err == nil {
			v.prefixes = append(v.prefixes, prefixState{h: h, off: s.br[1], state: st})
		}
	}
	if err := copyRange(s.br[2], s.br[3]); err != nil {
		return nil, err
	}
	sum := hh.Sum(nil)
	s.noteRevision(h, sum)
	return sum, nil
}

// noteRevision names the signed revision by its bytes once a collision
// resistant digest of the signed ranges is known: the digest, the ranges
// and the /Contents between them fix every byte of it.
func (s *sigCtx) noteRevision(h crypto.Hash, rangeDigest []byte) {
	if s.revKey != ([32]byte{}) || (h != crypto.SHA256 && h != crypto.SHA384 && h != crypto.SHA512) {
		return
	}
	k := sha256.New()
	fmt.Fprintf(k, "%d %d %d %d %d\n", h, s.br[0], s.br[1], s.br[2], s.br[3])
	k.Write(rangeDigest)
	k.Write(s.contents)
	k.Sum(s.revKey[:0])
}

// prefixState is a hash of the file's first off bytes, to be continued.
type prefixState struct {
	h     crypto.Hash
	off   int64
	state hash.Cloner
}

// validateSignature checks a signature (not a document timestamp) whose
// CMS decoded.
func (v *verifier) validateSignature(s *sigCtx) {
	p, si := s.cms, s.cms.Signer
	res := s.res
	res.Digest = hashName(si.DigestAlgorithm, si.DigestAlgorithmOID.String())
	res.Algorithm = si.SignatureAlgorithm.String()
	if si.SignatureAlgorithm == x509.UnknownSignatureAlgorithm {
		res.Algorithm = si.SignatureAlgorithmOID.String()
	}

	// The signer's certificate: carried in the CMS, or else in the DSS.
	cert, err := p.SignerCertificate()
	if err != nil {
		cert = v.certs.find(si)
	}
	if cert == nil {
		s.indeterminate(NoSigningCertificateFound, "the signer's certificate is in neither the signature nor the DSS")
	} else {
		s.leaf = cert
		res.Signer = signerInfo(cert)
	}

	v.checkIntegrity(s)
	if cert == nil {
		return
	}
	switch err := p.CheckSigningCertificate(cert); {
	case err == nil:
		res.Integrity.SigningCertificate = true
	case errors.Is(err, cades.ErrNoSigningCertAttr):
		if s.subFilter == subFilterCAdES {
			s.indeterminate(NoSigningCertificateFound, "the signing-certificate-v2 attribute that PAdES requires is missing")
		} else {
			s.warn("no signing-certificate attribute binds the signer's certificate")
		}
	default:
		s.indeterminate(NoSigningCertificateFound, "the signing-certificate attribute does not match the signer's certificate: %v", err)
	}
	if s.subFilter == subFilterCAdES && si.SigningTime != nil {
		s.warn("a signing-time attribute is present; PAdES baseline signatures carry the time in /M")
	}
	if si.DigestAlgorithm == crypto.SHA1 {
		s.warn("the signature uses SHA-1, which no longer resists collisions")
	}

	s.judge = true
}

// judgeSignature makes the checks that depend on time, once the document
// timestamps have been judged (proveTimestamps): the signature
// timestamps, then the signer's path at the earliest time something
// proves the signature existed, or at the validation time.
func (v *verifier) judgeSignature(s *sigCtx) {
	if !s.judge {
		return
	}
	s.cover = v.coveringTimestamp(s.end)
	v.checkSignatureTimestamps(s)
	s.best = v.now
	if s.tsTime != nil {
		s.best = *s.tsTime
		if s.claimed != nil && s.claimed.After(s.tsTime.Add(clockSkew)) {
			s.warn("the claimed signing time %s is after the timestamp %s", fmtTime(*s.claimed), fmtTime(*s.tsTime))
		}
		s.setProven(*s.tsTime, ProvenBySignatureTimestamp, "")
	}
	if c := s.cover; c != nil && c.tsTime.Before(s.best) {
		s.best = *c.tsTime
		s.setProven(*c.tsTime, ProvenByDocumentTimestamp, c.res.Field)
	}
	s.res.BestSignatureTime = s.best.UTC()
	v.checkSigner(s)
}

// checkIntegrity hashes the signed bytes and verifies the CMS signature.
func (v *verifier) checkIntegrity(s *sigCtx) {
	p, si := s.cms, s.cms.Signer
	h := si.DigestAlgorithm
	if h == 0 || !h.Available() {
		s.indeterminate(CryptoConstraintsFailure, "digest algorithm %v is not supported", si.DigestAlgorithmOID)
		return
	}
	var digest []byte
	switch s.subFilter {
	case subFilterPKCS7SHA1:
		// The signed content is the SHA-1 digest of the ranges, carried
		// as encapsulated content.
		d, err := v.digestRanges(s, crypto.SHA1)
		if err != nil {
			s.fail(FormatFailure, "%v", err)
			return
		}
		if p.Detached || !bytes.Equal(p.EncapContent, d) {
			s.fail(HashFailure, "the SHA-1 digest in the signature does not match the signed bytes")
			return
		}
		hh := h.New()
		hh.Write(p.EncapContent)
		digest = hh.Sum(nil)
	default:
		if !p.Detached {
			s.fail(FormatFailure, "the CMS of a %s signature must be detached", s.subFilter)
			return
		}
		d, err := v.digestRanges(s, h)
		if err != nil {
			s.fail(FormatFailure, "%v", err)
			return
		}
		digest = d
	}
	if s.leaf == nil {
		// Without the certificate only the digest can be compared.
		if si.SignedAttrsSet != nil && bytes.Equal(si.MessageDigest, digest) {
			s.res.Integrity.Digest = true
		} else if si.SignedAttrsSet != nil {
			s.fail(HashFailure, "the signed bytes do not match the message digest of the signature")
		}
		return
	}
	err := p.VerifySignatureWith(s.leaf, digest)
	s.res.Integrity.Digest = !errors.Is(err, cades.ErrDigestMismatch) && !errors.Is(err, cades.ErrMissingAttribute)
	s.res.Integrity.Signature = err == nil
	switch {
	case err == nil:
	case errors.Is(err, cades.ErrDigestMismatch):
		s.fail(HashFailure, "the signed bytes do not match the message digest of the signature: the document was changed")
		if !errors.Is(err, cades.ErrSignatureInvalid) {
			s.res.Integrity.Signature = true
		}
	case errors.Is(err, cades.ErrSignatureInvalid):
		s.fail(SigCryptoFailure, "the signature value does not verify with the signer's public key")
	case errors.Is(err, cades.ErrUnsupportedAlgorithm):
		s.indeterminate(CryptoConstraintsFailure, "%v", err)
	default:
		s.fail(FormatFailure, "%v", err)
	}
}

// checkSignatureTimestamps validates the signature timestamps; the
// earliest valid one gives the proof of existence.
func (v *verifier) checkSignatureTimestamps(s *sigCtx) {
	si := s.cms.Signer
	if len(si.SignatureTimestamps) > maxSignatureTimestamps {
		s.warn("more than %d signature timestamps; the rest are ignored", maxSignatureTimestamps)
	}
	for _, pt := range s.sigTokens {
		tr := v.checkParsedToken(pt.tok, pt.err, pt.der, func(h crypto.Hash) ([]byte, error) {
			if !h.Available() {
				return nil, fmt.Errorf("hash %v not available", h)
			}
			hh := h.New()
			hh.Write(si.Signature)
			return hh.Sum(nil), nil
		})
		for _, w := range tr.warnings {
			s.warn("signature timestamp: %s", w)
		}
		if !tr.failed && tr.trusted {
			// The token must have existed while its TSA's certificates
			// were valid and unrevoked: proven by a document timestamp
			// covering the signature, or true at the validation time.
			if sub, msg := v.tokenInTime(&tr, s.cover); sub != "" {
				tr.trusted, tr.msg = false, msg
			}
		}
		switch {
		case tr.failed:
			s.fail(tr.sub, "signature timestamp: %s", tr.msg)
		case !tr.trusted:
			s.warn("signature timestamp ignored: %s", tr.msg)
		default:
			if s.tsTime == nil || tr.tok.Time.Before(*s.tsTime) {
				t := tr.tok.Time.UTC()
				s.tsTime = &t
				s.res.TimestampTime = &t
				s.res.TSA = tr.tok.Certificate.Subject.CommonName
			}
		}
	}
}

// validateDocTimestamp checks a document timestamp: the token, its
// imprint over the signed bytes and the TSA.
func (v *verifier) validateDocTimestamp(s *sigCtx) {
	res := s.res
	res.Level = LevelUndefined
	tr := v.checkParsedToken(s.token, s.tokenErr, trimDER(s.contents), func(h crypto.Hash) ([]byte, error) {
		return v.digestRanges(s, h)
	})
	s.docTR = &tr
	for _, w := range tr.warnings {
		s.warn("%s", w)
	}
	if tr.tok != nil {
		t := tr.tok.Time.UTC()
		res.Signer = signerInfo(tr.tok.Certificate)
		res.TSA = tr.tok.Certificate.Subject.CommonName
		res.Digest = hashName(tr.tok.Hash, "")
		res.Algorithm = tr.tok.Certificate.SignatureAlgorithm.String()
		if tr.sigOK {
			s.tsTime = &t
			res.TimestampTime = &t
		}
		res.BestSignatureTime = t
		s.best = t
	}
	res.Integrity.Signature = tr.sigOK
	res.Integrity.Digest = tr.imprintOK
	res.Integrity.SigningCertificate = tr.sigOK
	for _, c := range tr.chain {
		res.Chain = append(res.Chain, c.Subject.String())
	}
	switch {
	case tr.failed:
		s.fail(tr.sub, "%s", tr.msg)
	case !tr.trusted:
		s.indeterminate(tr.sub, "%s", tr.msg)
	}
	if tr.tok != nil && tr.revoked {
		s.res.Revocation.Status = "revoked"
	} else if tr.tok != nil && tr.revocationKnown {
		s.res.Revocation.Status = "good"
	}
	s.res.Revocation.Source = tr.revocationSource
}

func signerInfo(c *x509.Certificate) *SignerInfo {
	return &SignerInfo{
		CommonName:          c.Subject.CommonName,
		Organization:        joinNonEmpty(c.Subject.Organization),
		Subject:             c.Subject.String(),
		SubjectSerialNumber: c.Subject.SerialNumber,
		SerialNumber:        c.SerialNumber.Text(16),
		Issuer:              c.Issuer.String(),
		NotBefore:           c.NotBefore.UTC(),
		NotAfter:            c.NotAfter.UTC(),
	}
}

func joinNonEmpty(ss []string) string {
	out := ""
	for _, s := range ss {
		if s == "" {
			continue
		}
		if out != "" {
			out += ", "
		}
		out += s
	}
	return out
}

func hashName(h crypto.Hash, fallback string) string {
	if h == 0 {
		return fallback
	}
	return h.String()
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// text resolves o and decodes it as a text string, or "".
func text(r *pdf.Reader, o pdf.Object) string {
	o, err := r.Resolve(o)
	if err != nil {
		return ""
	}
	switch s := o.(type) {
	case pdf.String:
		return decodeText(s.Bytes)
	case pdf.Name:
		return string(s)
	case pdf.Integer:
		return strconv.FormatInt(int64(s), 10)
	}
	return ""
}

// decodeText decodes a PDF text string. Some producers (poppler among
// them) write UTF-8 without the byte order mark PDF 2.0 asks for; bytes
// that are valid UTF-8 with non-ASCII characters and no BOM are taken as
// such, since PDFDocEncoding text almost never is.
func decodeText(b []byte) string {
	if len(b) >= 2 && b[0] == 0xfe && b[1] == 0xff {
		return pdf.DecodeText(b)
	}
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if !ascii && utf8.Valid(b) {
		return strings.TrimPrefix(string(b), "\ufeff")
	}
	return pdf.DecodeText(b)
}
