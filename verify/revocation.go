package verify

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"

	"esign/cades"
	"esign/pdf"
	"esign/revocation"
)

// maxEvidence bounds the OCSP responses and CRLs gathered from one
// document, and maxDSSEntries the DSS array entries read.
const (
	maxEvidence   = 1000
	maxDSSEntries = 4000
)

// Where validation data came from, for RevocationInfo.Source.
const (
	fromDSS    = "DSS"
	fromCMS    = "signature"
	fromOnline = "online"
)

// evidence is the revocation data at hand: offline from the DSS and the
// CMS structures, online when the configuration allows.
type evidence struct {
	v        *verifier
	ocsps    []*ocspItem
	crls     []*crlItem
	seen     map[[32]byte]bool
	status   map[statusKey]certStatus
	fetched  map[string]bool
	revoked  map[string]*revocation.RevokedError // online answers, by certificate
	fetchErr map[string]error
}

type statusKey struct {
	cert, issuer string
	at           int64
}

type ocspItem struct {
	der    []byte
	origin string
	parsed bool
	multi  bool // several SingleResponses: parsed per certificate
	bad    bool
	resp   *ocsp.Response
	byCert map[string]*ocsp.Response
	signer map[*x509.Certificate]bool // issuer -> the response speaks for it
}

type crlItem struct {
	der     []byte
	origin  string
	parsed  bool
	bad     bool
	crl     *x509.RevocationList
	entries map[string]time.Time // serial (hex) -> revocation time
	signer  map[*x509.Certificate]bool
}

func newEvidence(v *verifier) *evidence {
	return &evidence{
		v: v, seen: map[[32]byte]bool{}, status: map[statusKey]certStatus{},
		fetched: map[string]bool{}, revoked: map[string]*revocation.RevokedError{}, fetchErr: map[string]error{},
	}
}

func (e *evidence) addOCSP(der []byte, origin string) {
	sum := sha256.Sum256(der)
	if len(der) == 0 || e.seen[sum] || len(e.ocsps) >= maxEvidence {
		return
	}
	e.seen[sum] = true
	e.ocsps = append(e.ocsps, &ocspItem{der: der, origin: origin})
}

func (e *evidence) addCRL(der []byte, origin string) {
	sum := sha256.Sum256(der)
	if len(der) == 0 || e.seen[sum] || len(e.crls) >= maxEvidence {
		return
	}
	e.seen[sum] = true
	e.crls = append(e.crls, &crlItem{der: der, origin: origin})
}

// addCMS takes the revocation data a CMS structure carries: its
// RevocationInfoChoices and Adobe's revocation-info-archival attribute.
func (e *evidence) addCMS(p *cades.Parsed) {
	for _, d := range p.OCSPResponses {
		e.addOCSP(d, fromCMS)
	}
	for _, d := range p.CRLs {
		e.addCRL(d, fromCMS)
	}
	if p.Signer != nil && p.Signer.RevocationInfoArchival != nil {
		for _, d := range p.Signer.RevocationInfoArchival.OCSPResponses {
			e.addOCSP(d, fromCMS)
		}
		for _, d := range p.Signer.RevocationInfoArchival.CRLs {
			e.addCRL(d, fromCMS)
		}
	}
}

// loadDSS reads the Document Security Store of the whole file: /Certs,
// /OCSPs and /CRLs, and the same keys of each /VRI entry.
func (e *evidence) loadDSS() {
	v := e.v
	r := v.r
	cat, _, err := r.Catalog()
	if err != nil {
		return
	}
	dss, err := r.Dict(cat["DSS"])
	if err != nil || dss == nil {
		if err != nil {
			v.warnDoc("the DSS cannot be read: %v", err)
		}
		return
	}
	budget := maxDSSEntries
	// VRI entries mostly point again at the streams of /Certs, /OCSPs and
	// /CRLs; each stream is decoded once for each use.
	type streamUse struct {
		ref  pdf.Ref
		kind string
	}
	done := make(map[streamUse]bool)
	read := func(o pdf.Object, kind string, use func([]byte)) {
		arr, err := r.Array(o)
		if err != nil {
			v.warnDoc("a DSS array cannot be read: %v", err)
			return
		}
		for _, x := range arr {
			if ref, ok := x.(pdf.Ref); ok {
				if done[streamUse{ref, kind}] {
					continue
				}
				done[streamUse{ref, kind}] = true
			}
			if budget--; budget < 0 {
				return
			}
			st, err := r.Resolve(x)
			if err != nil {
				v.warnDoc("a DSS entry cannot be read: %v", err)
				continue
			}
			s, ok := st.(*pdf.Stream)
			if !ok {
				continue
			}
			data, err := r.StreamData(s)
			if err != nil {
				v.warnDoc("a DSS stream cannot be decoded: %v", err)
				continue
			}
			use(data)
		}
	}
	addCert := func(b []byte) {
		if v.certs.seen[string(b)] {
			v.certs.dss[string(b)] = true
			return
		}
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return
		}
		v.certs.add(c)
		v.certs.dss[string(c.Raw)] = true
	}
	addOCSP := func(b []byte) { e.addOCSP(b, fromDSS) }
	addCRL := func(b []byte) { e.addCRL(b, fromDSS) }
	read(dss["Certs"], "cert", addCert)
	read(dss["OCSPs"], "ocsp", addOCSP)
	read(dss["CRLs"], "crl", addCRL)
	vri, _ := r.Dict(dss["VRI"])
	n := 0
	for _, entry := range vri {
		if n++; n > 1000 || budget < 0 {
			break
		}
		d, _ := r.Dict(entry)
		if d == nil {
			continue
		}
		read(d["Cert"], "cert", addCert)
		read(d["OCSP"], "ocsp", addOCSP)
		read(d["CRL"], "crl", addCRL)
	}
}

// certStatus is what the evidence says of one certificate at one time.
type certStatus struct {
	known        bool
	revoked      bool
	revokedAt    time.Time
	revokedLater *time.Time // revoked, but after the time asked about
	source       string
	fromDSS      bool
}

// covers reports whether data issued at thisUpdate, good until
// nextUpdate, tells the status at t: it was issued after t (a revocation
// is for good, so "not revoked" then means not revoked at t), or t lies in
// its validity window.
func covers(thisUpdate, nextUpdate, t time.Time) bool {
	if !thisUpdate.Before(t.Add(-clockSkew)) {
		return true
	}
	return !nextUpdate.IsZero() && !t.After(nextUpdate.Add(clockSkew))
}

// statusAt returns the status of cert (issued by issuer) at t from the
// data at hand.
func (e *evidence) statusAt(cert, issuer *x509.Certificate, t time.Time) certStatus {
	key := statusKey{string(cert.Raw), string(issuer.Raw), t.UnixNano()}
	if st, ok := e.status[key]; ok {
		return st
	}
	var st certStatus
	settle := func(revokedAt time.Time, isRevoked bool, this, next time.Time, source string) {
		switch {
		case isRevoked && !revokedAt.After(t):
			if !st.revoked || revokedAt.Before(st.revokedAt) {
				st.revoked, st.known, st.revokedAt, st.source = true, true, revokedAt, source
			}
		case isRevoked:
			at := revokedAt
			st.revokedLater = &at
			if !st.known {
				st.known, st.source = true, source
			}
		case covers(this, next, t):
			if !st.known || (source == fromDSS && st.source != fromDSS && !st.revoked) {
				st.known, st.source = true, source
			}
		}
	}
	if re, ok := e.revoked[string(cert.Raw)]; ok {
		settle(re.RevokedAt, true, time.Time{}, time.Time{}, fromOnline)
	}
	for _, it := range e.ocsps {
		resp := it.responseFor(cert)
		if resp == nil || !e.speaksFor(it, resp, issuer) {
			continue
		}
		switch resp.Status {
		case ocsp.Good:
			settle(time.Time{}, false, resp.ThisUpdate, resp.NextUpdate, it.origin)
		case ocsp.Revoked:
			settle(resp.RevokedAt, true, resp.ThisUpdate, resp.NextUpdate, it.origin)
		}
	}
	for _, it := range e.crls {
		if !e.crlFrom(it, issuer) {
			continue
		}
		if at, ok := it.entries[cert.SerialNumber.Text(16)]; ok {
			settle(at, true, it.crl.ThisUpdate, it.crl.NextUpdate, it.origin)
		} else {
			settle(time.Time{}, false, it.crl.ThisUpdate, it.crl.NextUpdate, it.origin)
		}
	}
	st.fromDSS = st.source == fromDSS
	e.status[key] = st
	return st
}

// hasDSSData reports whether the DSS alone holds revocation data that
// speaks for cert, whatever its time: what PAdES B-LT asks for.
func (e *evidence) hasDSSData(cert, issuer *x509.Certificate) bool {
	for _, it := range e.ocsps {
		if it.origin != fromDSS {
			continue
		}
		if resp := it.responseFor(cert); resp != nil && e.speaksFor(it, resp, issuer) {
			return true
		}
	}
	for _, it := range e.crls {
		if it.origin == fromDSS && e.crlFrom(it, issuer) {
			return true
		}
	}
	return false
}

// chainResultStatus sums up the status of a certificate path.
type chainStatusResult struct {
	revoked      *x509.Certificate
	revokedAt    time.Time
	revokedLater *time.Time // of the first certificate
	unknown      *x509.Certificate
	why          string
	source       string // of the first certificate
}

// chainStatus checks every certificate of chain but the trust anchor at
// t, asking online (when allowed) for what the document lacks.
func (e *evidence) chainStatus(chain []*x509.Certificate, t time.Time, _ bool) chainStatusResult {
	res := e.evaluate(chain, t)
	if res.unknown == nil || res.revoked != nil {
		return res
	}
	if e.v.cfg.Fetch == nil {
		res.why = "; the document carries none and fetching is not enabled"
		return res
	}
	if err := e.fetch(chain); err != nil {
		res = e.evaluate(chain, t)
		if res.unknown != nil {
			res.why = fmt.Sprintf("; fetching failed: %v", err)
		}
		return res
	}
	return e.evaluate(chain, t)
}

func (e *evidence) evaluate(chain []*x509.Certificate, t time.Time) chainStatusResult {
	var res chainStatusResult
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		if hasNoCheck(cert) {
			continue
		}
		st := e.statusAt(cert, issuer, t)
		if i == 0 {
			res.source = describeSource(st.source)
			res.revokedLater = st.revokedLater
		}
		if st.revoked {
			res.revoked, res.revokedAt = cert, st.revokedAt
			res.source = describeSource(st.source)
			return res
		}
		if !st.known && res.unknown == nil {
			res.unknown = cert
		}
	}
	return res
}

func describeSource(origin string) string {
	switch origin {
	case fromDSS:
		return "DSS"
	case fromCMS:
		return "signature"
	case fromOnline:
		return "online"
	}
	return ""
}

var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

func hasNoCheck(c *x509.Certificate) bool {
	for _, ext := range c.Extensions {
		if ext.Id.Equal(oidOCSPNoCheck) {
			return slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning)
		}
	}
	return false
}

// fetch asks the chain's OCSP responders and CRL distribution points, at
// most once per chain and call, through Config.Fetch and its allow-list.
func (e *evidence) fetch(chain []*x509.Certificate) error {
	key := string(chain[0].Raw)
	if e.fetched[key] {
		return e.fetchErr[key]
	}
	e.fetched[key] = true
	f := &revocation.Fetcher{
		Client: e.v.cfg.Fetch,
		Now:    e.v.cfg.Now,
	}
	got, err := f.Collect(e.v.ctx, chain)
	var re *revocation.RevokedError
	if errors.As(err, &re) {
		e.revoked[string(re.Certificate.Raw)] = re
		clear(e.status)
		return nil
	}
	if err != nil {
		e.fetchErr[key] = err
		return err
	}
	e.v.certs.add(got.Certificates...)
	for _, d := range got.OCSPResponses {
		e.addOCSP(d, fromOnline)
	}
	for _, d := range got.CRLs {
		e.addCRL(d, fromOnline)
	}
	clear(e.status)
	return nil
}

// responseFor returns the SingleResponse about cert's serial, or nil.
func (it *ocspItem) responseFor(cert *x509.Certificate) *ocsp.Response {
	if !it.parsed {
		it.parsed = true
		resp, err := ocsp.ParseResponse(it.der, nil)
		switch {
		case err == nil:
			it.resp = resp
		case strings.Contains(err.Error(), "bad number of responses"):
			it.multi = true
			it.byCert = map[string]*ocsp.Response{}
		default:
			it.bad = true
		}
	}
	if it.bad {
		return nil
	}
	if it.multi {
		k := cert.SerialNumber.Text(16)
		resp, ok := it.byCert[k]
		if !ok {
			resp, _ = ocsp.ParseResponseForCert(it.der, cert, nil)
			if len(it.byCert) < 100 {
				it.byCert[k] = resp
			}
		}
		return resp
	}
	if it.resp.SerialNumber == nil || it.resp.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		return nil
	}
	return it.resp
}

// speaksFor reports whether resp is signed by issuer or by a responder
// issuer delegated (extendedKeyUsage OCSPSigning, valid when the response
// was produced). ocsp.ParseResponse already checked the signature against
// an embedded certificate.
func (e *evidence) speaksFor(it *ocspItem, resp *ocsp.Response, issuer *x509.Certificate) bool {
	if ok, done := it.signer[issuer]; done {
		return ok
	}
	ok := false
	switch rc := resp.Certificate; {
	case rc == nil:
		ok = e.v.checkOCSPSig(resp, issuer) == nil
		if !ok {
			// A delegated responder whose certificate is in the DSS.
			for _, c := range e.v.certs.all {
				if e.isDelegate(c, issuer, resp.ProducedAt) && e.v.checkOCSPSig(resp, c) == nil {
					ok = true
					break
				}
			}
		}
	case rc.Equal(issuer):
		ok = true
	default:
		ok = e.isDelegate(rc, issuer, resp.ProducedAt)
	}
	if it.signer == nil {
		it.signer = map[*x509.Certificate]bool{}
	}
	it.signer[issuer] = ok
	return ok
}

func (e *evidence) isDelegate(c, issuer *x509.Certificate, at time.Time) bool {
	if !bytes.Equal(c.RawIssuer, issuer.RawSubject) || !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
		return false
	}
	if at.Before(c.NotBefore.Add(-clockSkew)) || at.After(c.NotAfter.Add(clockSkew)) {
		return false
	}
	return e.v.checkSig(c, issuer) == nil
}

// Extensions a complete, stand-alone CRL may mark critical; a critical
// issuingDistributionPoint or deltaCRLIndicator means a partial CRL.
var (
	oidAuthorityKeyID = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidCRLNumber      = asn1.ObjectIdentifier{2, 5, 29, 20}
)

// from reports whether the CRL is a complete CRL signed by issuer.
func (e *evidence) crlFrom(it *crlItem, issuer *x509.Certificate) bool {
	if !it.parsed {
		it.parsed = true
		crl, err := x509.ParseRevocationList(it.der)
		if err != nil {
			it.bad = true
		} else {
			for _, ext := range crl.Extensions {
				if ext.Critical && !ext.Id.Equal(oidAuthorityKeyID) && !ext.Id.Equal(oidCRLNumber) {
					it.bad = true
				}
			}
			it.crl = crl
		}
	}
	if it.bad || !bytes.Equal(it.crl.RawIssuer, issuer.RawSubject) {
		return false
	}
	if ok, done := it.signer[issuer]; done {
		return ok
	}
	ok := e.v.checkCRLSig(it.crl, issuer) == nil
	if it.signer == nil {
		it.signer = map[*x509.Certificate]bool{}
	}
	it.signer[issuer] = ok
	if ok && it.entries == nil {
		it.entries = make(map[string]time.Time, len(it.crl.RevokedCertificateEntries))
		for _, e := range it.crl.RevokedCertificateEntries {
			if e.SerialNumber != nil {
				it.entries[e.SerialNumber.Text(16)] = e.RevocationTime
			}
		}
	}
	return ok
}
