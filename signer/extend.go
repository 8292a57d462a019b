package signer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"esign/cades"
	"esign/pdf"
	"esign/revocation"
)

// ErrNotSigned reports a file with no signature or document timestamp
// to extend: there is nothing whose validity could be kept.
var ErrNotSigned = errors.New("signer: the document has no signature or document timestamp to extend")

// ErrNoValidationData reports a certificate of the document for which no
// validation data can be gathered whatever the time: its chain loops or
// runs too long. Retrying does not help.
var ErrNoValidationData = errors.New("signer: validation data cannot be gathered for a certificate of the document")

// ExtendOptions controls Extend. The zero value extends to B-LTA with a
// SHA-256 document timestamp and writes /VRI entries.
type ExtendOptions struct {
	// Level is B-LT or B-LTA (default).
	Level Level
	// Hash is the document timestamp's digest: SHA-256 (default),
	// SHA-384 or SHA-512.
	Hash crypto.Hash
	// NoVRI leaves out the per-signature /VRI dictionaries, which
	// EN 319 142-1 §5.4.2.2 makes optional.
	NoVRI bool
	// Password opens an encrypted input, whose updates are then encrypted
	// as signing encrypts them.
	Password Secret
}

// SignatureInfo describes one signature or document timestamp of a file,
// as far as the file itself tells: nothing here has been validated.
type SignatureInfo struct {
	Field        string
	SubFilter    string
	DocTimestamp bool // /SubFilter /ETSI.RFC3161
	// Contents is the /Contents string as stored, padding included: its
	// SHA-1 keys the signature's /VRI entry.
	Contents []byte
	// End is where the signed range ends: the signatures sort by it.
	End int64
	// Signer is the signer's certificate, or the TSA's for a document
	// timestamp; nil when the CMS does not carry it.
	Signer *x509.Certificate
	// Chains are the certificate chains the signature relies on, leaf
	// first, as far as the file's certificates reach: the signer's (or
	// the TSA's), then each signature timestamp's TSA chain.
	Chains [][]*x509.Certificate
}

// VRIKey is the /VRI key of a signature: the upper-case hex SHA-1 of
// its /Contents value (EN 319 142-1 §5.4.2.2).
func (s SignatureInfo) VRIKey() string {
	sum := sha1.Sum(s.Contents)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// maxExtendSignatures bounds the signatures one call looks at: each costs
// revocation requests, and an uploaded file decides how many there are.
const maxExtendSignatures = 200

// Signatures lists the signatures and document timestamps of the PDF in
// in (size bytes), oldest first, with the certificate chains they rely
// on. A signature whose CMS cannot be read is an error: such a file is
// broken, not extendable. An encrypted file is opened with the empty user
// password; one that needs a password fails with ErrPasswordRequired
// (see SignaturesWithPassword).
func Signatures(ctx context.Context, in io.ReaderAt, size int64) ([]SignatureInfo, error) {
	return SignaturesWithPassword(ctx, in, size, nil)
}

// SignaturesWithPassword is Signatures for an encrypted file opened with
// password, its user or owner password. Without the right one it fails
// with ErrPasswordRequired or ErrWrongPassword, an unsupported handler with
// ErrEncrypted, and only a file that cannot be read with ErrInvalidPDF.
func SignaturesWithPassword(ctx context.Context, in io.ReaderAt, size int64, password Secret) ([]SignatureInfo, error) {
	r, err := openPDFContext(ctx, in, size, password)
	if err != nil {
		return nil, err
	}
	return signatures(r)
}

func signatures(r *pdf.Reader) ([]SignatureInfo, error) {
	cat, _, err := r.Catalog()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPDF, err)
	}
	acro, err := r.Dict(cat["AcroForm"])
	if err != nil {
		return nil, fmt.Errorf("%w: read AcroForm: %w", ErrInvalidPDF, err)
	}
	if acro == nil {
		return nil, nil
	}
	fields, err := formFields(r, acro)
	if err != nil {
		return nil, fmt.Errorf("%w: read form fields: %w", ErrInvalidPDF, err)
	}
	// The DSS's certificates complete chains whose intermediates the CMS
	// left out.
	pool, err := dssCertificates(r, cat)
	if err != nil {
		return nil, fmt.Errorf("%w: read DSS: %w", ErrInvalidPDF, err)
	}
	var out []SignatureInfo
	for _, f := range fields {
		if !f.signed {
			continue
		}
		if len(out) == maxExtendSignatures {
			return nil, fmt.Errorf("%w: more than %d signatures", ErrBadOptions, maxExtendSignatures)
		}
		info, err := signatureInfo(r, f, pool)
		if err != nil {
			return nil, fmt.Errorf("%w: signature %q: %w", ErrInvalidPDF, f.name, err)
		}
		out = append(out, info)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].End < out[j].End })
	return out, nil
}

func signatureInfo(r *pdf.Reader, f field, pool []*x509.Certificate) (SignatureInfo, error) {
	info := SignatureInfo{Field: f.name}
	if sf, ok := f.value["SubFilter"].(pdf.Name); ok {
		info.SubFilter = string(sf)
	}
	info.DocTimestamp = info.SubFilter == "ETSI.RFC3161"
	c, err := r.Resolve(f.value["Contents"])
	if err != nil {
		return info, fmt.Errorf("read /Contents: %w", err)
	}
	s, ok := c.(pdf.String)
	if !ok || len(s.Bytes) == 0 {
		return info, errors.New("no /Contents string")
	}
	info.Contents = s.Bytes
	br, err := r.Array(f.value["ByteRange"])
	if err != nil || len(br) != 4 {
		return info, errors.New("no /ByteRange of four numbers")
	}
	a, _ := br[2].(pdf.Integer)
	b, _ := br[3].(pdf.Integer)
	info.End = int64(a) + int64(b)

	p, err := cades.Parse(s.Bytes)
	if err != nil {
		return info, fmt.Errorf("read CMS: %w", err)
	}
	leaf, err := p.SignerCertificate()
	if err != nil {
		return info, fmt.Errorf("find the signer's certificate: %w", err)
	}
	info.Signer = leaf
	certs := append(append([]*x509.Certificate{}, p.Certificates...), pool...)
	info.Chains = append(info.Chains, orderChain(nil, leaf, certs))
	for _, ts := range p.Signer.SignatureTimestamps {
		tp, err := cades.Parse(ts)
		if err != nil {
			return info, fmt.Errorf("read signature timestamp: %w", err)
		}
		tl, err := tp.SignerCertificate()
		if err != nil {
			return info, fmt.Errorf("find the signature timestamp's TSA certificate: %w", err)
		}
		info.Chains = append(info.Chains, orderChain(nil, tl, append(append([]*x509.Certificate{}, tp.Certificates...), pool...)))
	}
	return info, nil
}

// dssCertificates reads the certificates of the DSS, if any.
func dssCertificates(r *pdf.Reader, cat pdf.Dict) ([]*x509.Certificate, error) {
	dss, err := r.Dict(cat["DSS"])
	if err != nil || dss == nil {
		return nil, err
	}
	arr, err := r.Array(dss["Certs"])
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, o := range arr {
		st, err := r.Resolve(o)
		if err != nil {
			return nil, err
		}
		s, ok := st.(*pdf.Stream)
		if !ok {
			continue
		}
		data, err := r.StreamData(s)
		if err != nil {
			return nil, err
		}
		// A certificate that does not parse helps no chain; the verifier
		// reports on the file's contents.
		if c, err := x509.ParseCertificate(data); err == nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// hasRevocationData reports whether the file's DSS holds any OCSP
// response or CRL.
func hasRevocationData(r *pdf.Reader) bool {
	cat, _, err := r.Catalog()
	if err != nil {
		return false
	}
	dss, err := r.Dict(cat["DSS"])
	if err != nil || dss == nil {
		return false
	}
	for _, k := range []pdf.Name{"OCSPs", "CRLs"} {
		if arr, err := r.Array(dss[k]); err == nil && len(arr) > 0 {
			return true
		}
	}
	return false
}

func (o ExtendOptions) normalize() (ExtendOptions, error) {
	if o.Level == "" {
		o.Level = LevelLTA
	}
	if o.Level != LevelLT && o.Level != LevelLTA {
		return o, fmt.Errorf("%w: extension level %q (want B-LT or B-LTA)", ErrBadOptions, o.Level)
	}
	switch o.Hash {
	case 0:
		o.Hash = crypto.SHA256
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return o, fmt.Errorf("%w: digest %v (want SHA-256, SHA-384 or SHA-512)", ErrBadOptions, o.Hash)
	}
	return o, nil
}

// Extend brings a signed PDF to B-LT or B-LTA without touching its
// signatures (EN 319 142-1 §6.3 and §6.4; EU DSS calls it extension):
//
//   - one incremental update adds to (or creates) the /DSS every
//     certificate, OCSP response and CRL needed to validate every
//     signature and document timestamp of the file, signer and TSA chains
//     alike, with a /VRI entry per signature unless NoVRI;
//   - for B-LTA, a document timestamp over the whole file, then the
//     validation data of its own TSA chain, as Sign does.
//
// A signature with no timestamp (B-B, or a plain adbe.pkcs7.detached)
// first gets a document timestamp that gives it its B-T time, so B-LT
// has a time to validate at and B-LTA's archive timestamp comes after
// the validation data of both.
//
// Extending a B-LTA file renews it: the newest document timestamp's TSA
// chain gets validation data and a new document timestamp covers it.
//
// Extend does not validate: run the verifier first, a broken signature
// must not be lent credibility. Files certified with P=1
// (ErrDocMDPForbids), files with no signature (ErrNotSigned) and
// encrypted files that signing refuses (a password missing or wrong,
// permissions, an unknown handler) are refused. An encrypted file keeps
// its encryption: the updates are encrypted with its key.
func (s *Signer) Extend(ctx context.Context, in io.ReaderAt, size int64, opts ExtendOptions) (*Result, error) {
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	if s.Revocation == nil {
		return nil, fmt.Errorf("%w: extension needs a revocation source", ErrBadOptions)
	}
	if opts.Level == LevelLTA && s.TSA == nil {
		return nil, fmt.Errorf("%w: level %s needs a TSA", ErrBadOptions, opts.Level)
	}
	r, err := openPDF(in, size, opts.Password)
	if err != nil {
		return nil, err
	}
	// Permissions and DocMDP P=1 are refused as signing refuses them: the
	// DSS and a document timestamp are changes too (ISO 32000-2 §12.8.2.2).
	if err := checkSignable(r, Options{}, &change{validation: true}); err != nil {
		return nil, err
	}
	sigs, err := signatures(r)
	if err != nil {
		return nil, err
	}
	if len(sigs) == 0 {
		return nil, ErrNotSigned
	}
	needTS := needsTimestamp(sigs)
	if opts.Level == LevelLTA || needTS {
		// A document timestamp is a new signature field.
		if err := checkPermissions(r.Security(), change{newFields: []string{"a document timestamp's signature field"}}); err != nil {
			return nil, err
		}
	}
	if s.TSA == nil && needTS {
		return nil, fmt.Errorf("%w: a signature without a timestamp needs a TSA to reach B-LT", ErrBadOptions)
	}
	baseDigest, base256, err := s.digestFile(ctx, in, size, opts.Hash)
	if err != nil {
		return nil, err
	}
	res := &Result{BaseSize: size, Level: opts.Level, password: opts.Password}
	haveData := hasRevocationData(r)
	if needTS {
		// B-LT and B-LTA build on B-T: a signature with no timestamp of
		// its own gets a document timestamp first, which EN 319 142-1
		// §6.3 lets stand for its signature timestamp. The validation
		// data after it then covers that timestamp's TSA too.
		tok, err := s.appendDocTimestamp(ctx, in, res, baseDigest, opts.Hash)
		if err != nil {
			return nil, err
		}
		res.TimestampTime = tok.Time
		r, err := pdf.NewReader(pdf.Concat(in, res.BaseSize, res.Appended), res.Size(), &pdf.ReaderOptions{Context: ctx, Password: res.password})
		if err != nil {
			return nil, fmt.Errorf("reread timestamped revision: %w", err)
		}
		if sigs, err = signatures(r); err != nil {
			return nil, err
		}
	}
	vd, err := s.validationData(ctx, sigs, haveData)
	if err != nil {
		return nil, err
	}
	if err := appendValidationData(in, res, vd, !opts.NoVRI, s.now()); err != nil {
		return nil, err
	}
	if opts.Level == LevelLTA {
		tok, err := s.appendDocTimestamp(ctx, in, res, baseDigest, opts.Hash)
		if err != nil {
			return nil, err
		}
		res.TimestampTime = tok.Time
		if err := s.appendDSS(ctx, in, res, opts.Hash, s.tokenChain(tok)); err != nil {
			return nil, err
		}
	}
	if err := res.fingerprint(base256); err != nil {
		return nil, err
	}
	return res, nil
}

// needsTimestamp reports a signature with neither a signature timestamp
// nor a document timestamp after it.
func needsTimestamp(sigs []SignatureInfo) bool {
	lastTS := int64(-1)
	for _, s := range sigs {
		if s.DocTimestamp {
			lastTS = s.End
		}
	}
	for _, s := range sigs {
		if !s.DocTimestamp && len(s.Chains) < 2 && s.End > lastTS {
			return true
		}
	}
	return false
}

// validationData is what the B-LT revision adds: everything, and each
// signature's share for its /VRI entry.
type validationData struct {
	all *revocation.Evidence
	vri map[string]*revocation.Evidence
}

// validationData collects revocation data for every chain of sigs, each
// distinct chain once. The newest document timestamp's chain must get
// its data: that is what keeps the file's proof alive. An older chain
// whose responders no longer answer (certificates long expired) is left
// as it is when the file already carries revocation data, which earlier
// extensions put there.
func (s *Signer) validationData(ctx context.Context, sigs []SignatureInfo, haveData bool) (*validationData, error) {
	newestTS := -1
	for i, sg := range sigs {
		if sg.DocTimestamp {
			newestTS = i
		}
	}
	vd := &validationData{vri: map[string]*revocation.Evidence{}}
	done := map[string]*revocation.Evidence{}
	for i, sg := range sigs {
		var mine *revocation.Evidence
		for _, chain := range sg.Chains {
			key := chainKey(chain)
			ev, ok := done[key]
			if !ok {
				var err error
				ev, err = s.Revocation.Collect(ctx, chain)
				if err != nil {
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					if errors.Is(err, revocation.ErrRevoked) || !haveData || i == newestTS || newestTS < 0 {
						// A service that did not answer may answer later (503);
						// a certificate that names nowhere to ask never will.
						if !errors.Is(err, revocation.ErrRevoked) && (!errors.Is(err, revocation.ErrUnavailable) || errors.Is(err, revocation.ErrNoSource)) {
							err = fmt.Errorf("%w: %w", ErrNoValidationData, err)
						}
						return nil, fmt.Errorf("%s %q: %w", kindName(sg), sg.Field, revocationError(err))
					}
					ev = nil
				}
				done[key] = ev
			}
			mine = mergeEvidence(mine, ev)
			vd.all = mergeEvidence(vd.all, ev)
		}
		vd.vri[sg.VRIKey()] = mine
	}
	return vd, nil
}

func kindName(s SignatureInfo) string {
	if s.DocTimestamp {
		return "document timestamp"
	}
	return "signature"
}

func chainKey(chain []*x509.Certificate) string {
	var b strings.Builder
	for _, c := range chain {
		sum := sha256.Sum256(c.Raw)
		b.Write(sum[:])
	}
	return b.String()
}

// appendValidationData adds the B-LT revision: the data merged into the
// DSS and, when vri is set, a /VRI entry per signature that points at
// the same streams.
func appendValidationData(in io.ReaderAt, res *Result, vd *validationData, vri bool, now time.Time) error {
	r, err := pdf.NewReader(pdf.Concat(in, res.BaseSize, res.Appended), res.Size(), &pdf.ReaderOptions{Password: res.password})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPDF, err)
	}
	u := r.NewUpdate()
	f, err := openForm(u)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPDF, err)
	}
	all := vd.all
	if all == nil {
		all = &revocation.Evidence{}
	}
	if err := addDSS(f, all); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPDF, err)
	}
	if vri {
		if err := addVRI(f, vd.vri, now); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidPDF, err)
		}
	}
	return appendDSSRevision(res, u, f)
}

// addVRI writes /VRI entries (EN 319 142-1 §5.4.2.2) into the DSS that
// addDSS just wrote, referring to its streams, so no datum is stored
// twice. An entry of the same key is replaced: the new one is fresher.
func addVRI(f *form, entries map[string]*revocation.Evidence, now time.Time) error {
	dssRef, ok := f.cat["DSS"].(pdf.Ref)
	if !ok {
		return errors.New("DSS is not an indirect object")
	}
	o, err := f.u.Get(dssRef)
	if err != nil {
		return fmt.Errorf("read DSS: %w", err)
	}
	dssDict, ok := o.(pdf.Dict)
	if !ok {
		return errors.New("DSS is not a dictionary")
	}
	dss := dssDict.Clone()
	streams := map[[32]byte]pdf.Ref{}
	for _, k := range []pdf.Name{"Certs", "OCSPs", "CRLs"} {
		arr, _ := dss[k].(pdf.Array)
		for _, e := range arr {
			ref, ok := e.(pdf.Ref)
			if !ok {
				continue
			}
			// An entry that is no readable stream is someone else's
			// mistake; ours are all streams.
			if data, err := streamBytes(f, ref); err == nil {
				streams[sha256.Sum256(data)] = ref
			}
		}
	}
	refs := func(items [][]byte) pdf.Array {
		var out pdf.Array
		for _, d := range items {
			if ref, ok := streams[sha256.Sum256(d)]; ok {
				out = append(out, ref)
			}
		}
		return out
	}
	var vri pdf.Dict
	var vriRef pdf.Ref
	switch v := dss["VRI"].(type) {
	case pdf.Ref:
		cur, err := f.r.Dict(v)
		if err != nil {
			return fmt.Errorf("read /VRI: %w", err)
		}
		if cur != nil { // a dangling /VRI is replaced, not written through
			vriRef, vri = v, cur.Clone()
		}
	case pdf.Dict:
		vri = v.Clone()
	}
	if vri == nil {
		vri = pdf.Dict{}
	}
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ev := entries[k]
		if ev == nil {
			continue
		}
		entry := pdf.Dict{"Type": pdf.Name("VRI")}
		var certs [][]byte
		for _, c := range ev.Certificates {
			certs = append(certs, c.Raw)
		}
		for _, g := range []struct {
			key  pdf.Name
			data [][]byte
		}{{"Cert", certs}, {"OCSP", ev.OCSPResponses}, {"CRL", ev.CRLs}} {
			if a := refs(g.data); len(a) > 0 {
				entry[g.key] = a
			}
		}
		// /TU: when this entry's data was gathered.
		entry["TU"] = pdf.TextString(pdf.FormatDate(now))
		vri[pdf.Name(k)] = f.u.Add(entry)
	}
	if vriRef != (pdf.Ref{}) {
		f.u.Set(vriRef, vri)
	} else {
		dss["VRI"] = vri
	}
	f.u.Set(dssRef, dss)
	return nil
}

// streamBytes is the decoded data of a stream of the update or the file.
func streamBytes(f *form, ref pdf.Ref) ([]byte, error) {
	o, err := f.u.Get(ref)
	if err != nil {
		return nil, err
	}
	s, ok := o.(*pdf.Stream)
	if !ok {
		return nil, fmt.Errorf("%v is not a stream", ref)
	}
	if s.Data != nil && s.Dict["Filter"] == nil {
		return bytes.Clone(s.Data), nil
	}
	return f.r.StreamData(s)
}
