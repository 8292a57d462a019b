// Package devpki builds and serves the development PKI: a root CA, an
// issuing CA, signer certificates with Thai names, a time-stamping
// certificate and a delegated OCSP responder, all with keys held by a
// KeyStore (an HSM token in practice). Handler serves the CA certificates,
// OCSP, CRLs and a time-stamping authority for them. None of it is fit for
// production: the CAs are unaudited and the revocation list is a JSON file.
package devpki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"esign/revocation"
)

// KeyStore gets or creates a key pair held by the store (an HSM token in
// practice).
type KeyStore interface {
	// Key returns the key labelled label, creating it with algorithm alg
	// ("RSA-2048", "RSA-3072", "ECDSA-P256" or "ECDSA-P384") if missing.
	Key(ctx context.Context, label string, alg string) (crypto.Signer, error)
}

// Names of the credentials Ensure creates; also their KeyStore labels and
// the base names of their PEM files.
const (
	Official  = "dev-official"  // RSA-2048 signer, a government officer
	Registrar = "dev-registrar" // ECDSA-P256 signer, a university registrar
	Director  = "dev-director"  // RSA-2048 signer, a division director
	TSA       = "dev-tsa"       // RSA-2048 time-stamping authority
	OCSP      = "dev-ocsp"      // delegated OCSP responder of the issuing CA

	// IssuingCA names the issuing CA for Revoke (its key label is
	// "dev-issuing-ca"; the root's is "dev-root-ca").
	IssuingCA = "dev-issuing-ca"
	rootLabel = "dev-root-ca"
)

// URL paths served by Handler, relative to Options.BaseURL.
const (
	PathRootCert    = "/pki/root.crt"
	PathIssuingCert = "/pki/issuing.crt"
	PathOCSP        = "/pki/ocsp"
	PathRootCRL     = "/pki/root.crl"
	PathIssuingCRL  = "/pki/issuing.crl"
	PathTSA         = "/tsa"
)

// Options configures Ensure.
type Options struct {
	// BaseURL is where Handler is reachable, e.g. "http://127.0.0.1:8080";
	// certificates carry URLs under it. Required.
	BaseURL string
	// Now is the clock of the PKI: certificate validity, OCSP, CRL and
	// time-stamp times. Default: time.Now.
	Now func() time.Time
}

// Credential is a key with its certificate chain.
type Credential struct {
	Name   string
	Signer crypto.Signer
	Chain  []*x509.Certificate // leaf, issuing CA, root
}

// Certificate returns the end-entity certificate.
func (c *Credential) Certificate() *x509.Certificate { return c.Chain[0] }

// PKI is the loaded development PKI.
type PKI struct {
	Root, Issuing *x509.Certificate
	// Credentials holds Official, Registrar, Director, TSA and OCSP.
	Credentials map[string]*Credential
	// BaseURL is the URL prefix the certificates carry.
	BaseURL string

	dir        string
	now        func() time.Time
	rootKey    crypto.Signer
	issuingKey crypto.Signer
	status     *revocation.FileSource
}

const (
	yearish = 365 * 24 * time.Hour
	// backdate allows for clocks slightly behind ours.
	backdate = time.Hour
)

// profile describes one end-entity credential.
type profile struct {
	name     string
	alg      string
	subject  pkix.Name
	validity time.Duration
	tmpl     CertTemplate // usage fields only; names, dates and URLs are filled in
	// noRevocationURLs leaves out OCSP and CRL pointers (the OCSP responder
	// is exempt from checking through id-pkix-ocsp-nocheck).
	noRevocationURLs bool
}

// Thai names go into UTF8String attributes (crypto/x509 picks UTF8String
// for anything not PrintableString).
func profiles() []profile {
	department := "กรมพัฒนาระบบราชการ (Development)"
	signer := CertTemplate{
		// No extendedKeyUsage: NSS, Acrobat and pdfsig accept a certificate
		// without one for document signing, whereas an EKU list can exclude
		// it for some of them.
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	return []profile{
		{
			name: Official, alg: "RSA-2048", validity: 3 * yearish, tmpl: signer,
			subject: pkix.Name{CommonName: "นางสาวสมศรี ใจดี", Organization: []string{department},
				OrganizationalUnit: []string{"กองกลาง"}, Country: []string{"TH"}},
		},
		{
			name: Registrar, alg: "ECDSA-P256", validity: 3 * yearish, tmpl: signer,
			subject: pkix.Name{CommonName: "นายทะเบียน มหาวิทยาลัยตัวอย่าง",
				Organization: []string{"มหาวิทยาลัยตัวอย่าง (Development)"}, Country: []string{"TH"}},
		},
		{
			name: Director, alg: "RSA-2048", validity: 3 * yearish, tmpl: signer,
			subject: pkix.Name{CommonName: "นายสมชาย รักชาติ", Organization: []string{department},
				OrganizationalUnit: []string{"กองกลาง"}, Country: []string{"TH"},
				ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidTitle, Value: "ผู้อำนวยการกองกลาง"}}},
		},
		{
			name: TSA, alg: "RSA-2048", validity: 5 * yearish,
			subject: pkix.Name{CommonName: "esign Development TSA", Organization: []string{"esign Development"}, Country: []string{"TH"}},
			tmpl: CertTemplate{
				KeyUsage:    x509.KeyUsageDigitalSignature,
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
				CriticalEKU: true, // RFC 3161 section 2.3
			},
		},
		{
			name: OCSP, alg: "ECDSA-P256", validity: 90 * 24 * time.Hour, noRevocationURLs: true,
			subject: pkix.Name{CommonName: "esign Development OCSP Responder", Organization: []string{"esign Development"}, Country: []string{"TH"}},
			tmpl: CertTemplate{
				KeyUsage:    x509.KeyUsageDigitalSignature,
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
				OCSPNoCheck: true,
			},
		},
	}
}

func caSubject(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{"esign Development"}, Country: []string{"TH"}}
}

// Ensure loads the PKI from dir (root.pem, issuing.pem, <name>.pem,
// state.json) or creates what is missing. A certificate is issued again,
// with the same key, when it is missing or unreadable, does not match its
// key or its issuer, carries URLs for another BaseURL, no longer fits its
// profile, or has less than a third of its life (at most 30 days) left.
// Keys come from keys under the labels dev-root-ca, dev-issuing-ca and the
// credential names.
func Ensure(ctx context.Context, keys KeyStore, dir string, opts Options) (*PKI, error) {
	base := strings.TrimRight(opts.BaseURL, "/")
	if base == "" {
		return nil, errors.New("devpki: Options.BaseURL is required")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devpki: %w", err)
	}
	p := &PKI{
		Credentials: map[string]*Credential{},
		BaseURL:     base,
		dir:         dir,
		now:         now,
		status:      &revocation.FileSource{Path: filepath.Join(dir, "status.json")},
	}
	e := &ensurer{ctx: ctx, keys: keys, dir: dir, now: now().UTC()}

	var err error
	if p.rootKey, err = keys.Key(ctx, rootLabel, "RSA-3072"); err != nil {
		return nil, fmt.Errorf("devpki: root CA key: %w", err)
	}
	if p.issuingKey, err = keys.Key(ctx, IssuingCA, "RSA-3072"); err != nil {
		return nil, fmt.Errorf("devpki: issuing CA key: %w", err)
	}

	p.Root, err = e.cert("root", p.rootKey, nil, nil, CertTemplate{
		Subject: caSubject("esign Development Root CA"), IsCA: true, MaxPathLen: -1,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, 20*yearish)
	if err != nil {
		return nil, err
	}
	p.Issuing, err = e.cert("issuing", p.issuingKey, p.Root, p.rootKey, CertTemplate{
		Subject: caSubject("esign Development Issuing CA"), IsCA: true, MaxPathLen: 0,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		IssuingCertificateURL: []string{base + PathRootCert},
		CRLDistributionPoints: []string{base + PathRootCRL},
	}, 10*yearish)
	if err != nil {
		return nil, err
	}
	for _, pr := range profiles() {
		key, err := keys.Key(ctx, pr.name, pr.alg)
		if err != nil {
			return nil, fmt.Errorf("devpki: %s key: %w", pr.name, err)
		}
		tmpl := pr.tmpl
		tmpl.Subject = pr.subject
		tmpl.IssuingCertificateURL = []string{base + PathIssuingCert}
		if !pr.noRevocationURLs {
			tmpl.OCSPServer = []string{base + PathOCSP}
			tmpl.CRLDistributionPoints = []string{base + PathIssuingCRL}
		}
		leaf, err := e.cert(pr.name, key, p.Issuing, p.issuingKey, tmpl, pr.validity)
		if err != nil {
			return nil, err
		}
		p.Credentials[pr.name] = &Credential{Name: pr.name, Signer: key, Chain: []*x509.Certificate{leaf, p.Issuing, p.Root}}
	}
	if err := p.writeState(); err != nil {
		return nil, err
	}
	return p, nil
}

// ensurer loads or issues the certificates of one Ensure call.
type ensurer struct {
	ctx  context.Context
	keys KeyStore
	dir  string
	now  time.Time
}

// cert returns dir/<file>.pem if it still fits tmpl, or issues and stores a
// new certificate. A nil issuer means self-signed.
func (e *ensurer) cert(file string, key crypto.Signer, issuer *x509.Certificate, issuerKey crypto.Signer, tmpl CertTemplate, validity time.Duration) (*x509.Certificate, error) {
	path := filepath.Join(e.dir, file+".pem")
	if c, err := readCert(path); err == nil && e.fits(c, key, issuer, tmpl, validity) {
		return c, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errNotCertificate) {
		return nil, err
	}
	tmpl.NotBefore = e.now.Add(-backdate)
	tmpl.NotAfter = e.now.Add(validity)
	if issuer != nil && tmpl.NotAfter.After(issuer.NotAfter) {
		tmpl.NotAfter = issuer.NotAfter // never outlive the issuer
	}
	c, err := IssueCertificate(e.ctx, tmpl, key.Public(), issuer, pickKey(issuerKey, key))
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})); err != nil {
		return nil, err
	}
	return c, nil
}

func pickKey(issuerKey, own crypto.Signer) crypto.Signer {
	if issuerKey != nil {
		return issuerKey
	}
	return own
}

// fits reports whether an existing certificate can be kept.
func (e *ensurer) fits(c *x509.Certificate, key crypto.Signer, issuer *x509.Certificate, tmpl CertTemplate, validity time.Duration) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(c.PublicKey) {
		return false
	}
	parent := issuer
	if parent == nil {
		parent = c
	}
	if !bytes.Equal(c.RawIssuer, parent.RawSubject) || c.CheckSignatureFrom(parent) != nil {
		return false
	}
	want, err := subjectDER(tmpl.Subject)
	if err != nil || !bytes.Equal(c.RawSubject, want) {
		return false
	}
	if !slices.Equal(c.OCSPServer, tmpl.OCSPServer) || !slices.Equal(c.IssuingCertificateURL, tmpl.IssuingCertificateURL) ||
		!slices.Equal(c.CRLDistributionPoints, tmpl.CRLDistributionPoints) {
		return false
	}
	if c.KeyUsage != tmpl.KeyUsage || !slices.Equal(c.ExtKeyUsage, tmpl.ExtKeyUsage) || c.IsCA != tmpl.IsCA {
		return false
	}
	// Renew with a third of the life (at most 30 days) left, so a running
	// service does not meet an expired certificate.
	margin := min(validity/3, 30*24*time.Hour)
	return !e.now.Before(c.NotBefore) && e.now.Add(margin).Before(c.NotAfter)
}

var errNotCertificate = errors.New("devpki: no certificate in file")

func readCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errNotCertificate
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, errNotCertificate
	}
	return c, nil
}

func subjectDER(n pkix.Name) ([]byte, error) {
	return asn1.Marshal(n.ToRDNSequence())
}

// state.json records what Ensure settled on, for people and tools.
type stateFile struct {
	BaseURL      string                `json:"baseURL"`
	Updated      time.Time             `json:"updated"`
	Certificates map[string]stateEntry `json:"certificates"`
}

type stateEntry struct {
	Subject  string    `json:"subject"`
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"notAfter"`
}

func (p *PKI) writeState() error {
	st := stateFile{BaseURL: p.BaseURL, Updated: p.now().UTC(), Certificates: map[string]stateEntry{}}
	add := func(name string, c *x509.Certificate) {
		st.Certificates[name] = stateEntry{Subject: c.Subject.String(), Serial: c.SerialNumber.Text(16), NotAfter: c.NotAfter}
	}
	add(rootLabel, p.Root)
	add(IssuingCA, p.Issuing)
	for name, c := range p.Credentials {
		add(name, c.Certificate())
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("devpki: encode state: %w", err)
	}
	return writeFileAtomic(filepath.Join(p.dir, "state.json"), append(data, '\n'))
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".devpki-*")
	if err != nil {
		return fmt.Errorf("devpki: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("devpki: write %s: %w", path, werr)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("devpki: write %s: %w", path, err)
	}
	return nil
}

// StatusFile is the revocation status file Revoke writes and Handler("")
// serves: status.json in the PKI directory.
func (p *PKI) StatusFile() string { return p.status.Path }

// Revoke marks the certificate of a credential (or IssuingCA, on the root
// CRL) revoked at the given time for reason, an RFC 5280 CRLReason. OCSP
// and CRLs served by Handler reflect it at once.
func (p *PKI) Revoke(ctx context.Context, name string, at time.Time, reason int) error {
	if name == IssuingCA {
		return p.status.Revoke(ctx, p.Root, p.Issuing.SerialNumber, at, reason, name)
	}
	c, ok := p.Credentials[name]
	if !ok {
		return fmt.Errorf("devpki: no credential named %q", name)
	}
	return p.status.Revoke(ctx, p.Issuing, c.Certificate().SerialNumber, at, reason, name)
}
