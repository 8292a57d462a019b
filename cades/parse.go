package cades

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Parsed is a decoded CMS ContentInfo holding SignedData: a PAdES/CAdES signature or an RFC 3161
// TimeStampToken. Its byte slices alias the input of Parse.
type Parsed struct {
	// Raw is the ContentInfo as it appears in the input, without trailing zero padding.
	Raw []byte
	// BER is set when the input was not DER and was rewritten (definite lengths, primitive
	// OCTET STRINGs) before decoding; slices then alias the rewritten copy.
	BER bool

	Version          int
	DigestAlgorithms []asn1.ObjectIdentifier

	EncapContentType asn1.ObjectIdentifier
	// EncapContent is the eContent OCTET STRING value (e.g. TSTInfo DER in a timestamp token).
	EncapContent []byte
	// Detached is true when eContent is absent (PAdES signatures).
	Detached bool

	// Certificates holds every certificate of the certificates field that parsed;
	// CertificateErrors says why the others did not. Other CertificateChoices are skipped.
	Certificates      []*x509.Certificate
	CertificateErrors []error

	// CRLs are the CertificateList RevocationInfoChoices (DER).
	CRLs [][]byte
	// OCSPResponses are id-ri-ocsp-response OtherRevocationInfoFormat values (OCSPResponse DER).
	OCSPResponses [][]byte
	// OtherRevocation are OtherRevocationInfoFormat values of other formats.
	OtherRevocation []OtherRevocationInfo

	// Signers are all SignerInfos. Signer points at the only one; it is nil (and Parse returns
	// ErrSignerCount) when there is not exactly one.
	Signers []SignerInfo
	Signer  *SignerInfo
}

// OtherRevocationInfo is one OtherRevocationInfoFormat of RevocationInfoChoices.
type OtherRevocationInfo struct {
	Format asn1.ObjectIdentifier
	Info   []byte // DER of otherRevInfo
}

// Attribute is an attribute this package does not interpret.
type Attribute struct {
	Type   asn1.ObjectIdentifier
	Values [][]byte // DER of each value
}

// ESSCertID is the first ESSCertID(v2) of a signing-certificate(-v2) attribute: the one that
// identifies the signer's certificate (RFC 5035 §5.4).
type ESSCertID struct {
	HashAlgorithm    crypto.Hash // 0 when HashAlgorithmOID is unknown
	HashAlgorithmOID asn1.ObjectIdentifier
	CertHash         []byte
	IssuerSerial     *IssuerSerial // nil when absent
}

// IssuerSerial identifies a certificate by issuer and serial number.
type IssuerSerial struct {
	// DirectoryNames are the DER Names of the directoryName entries of the issuer GeneralNames.
	DirectoryNames [][]byte
	SerialNumber   *big.Int
}

// RevocationInfoArchival is Adobe's adbe-revocationInfoArchival signed attribute.
type RevocationInfoArchival struct {
	CRLs          [][]byte
	OCSPResponses [][]byte
}

type sigKind int

const (
	kindUnknown sigKind = iota
	kindRSAPKCS1
	kindRSAPSS
	kindECDSA
	kindEd25519
)

// SignerInfo is one decoded SignerInfo.
type SignerInfo struct {
	Version int
	// Signer identifier: IssuerRaw (DER Name; Issuer is its decoding, nil if that failed) and
	// SerialNumber, or SubjectKeyID.
	IssuerRaw    []byte
	Issuer       pkix.RDNSequence
	SerialNumber *big.Int
	SubjectKeyID []byte

	// DigestAlgorithm is 0 when DigestAlgorithmOID is not supported.
	DigestAlgorithm    crypto.Hash
	DigestAlgorithmOID asn1.ObjectIdentifier

	// SignatureAlgorithm is x509.UnknownSignatureAlgorithm when the algorithm or its parameters
	// are not supported (verification then fails with ErrUnsupportedAlgorithm).
	SignatureAlgorithm    x509.SignatureAlgorithm
	SignatureAlgorithmOID asn1.ObjectIdentifier
	PSSSaltLength         int // RSASSA-PSS only

	// SignedAttrsRaw is the signedAttrs field with its [0] IMPLICIT tag, as received;
	// SignedAttrsSet is the same with the SET tag, the bytes the signature covers. Both are nil
	// when there are no signed attributes.
	SignedAttrsRaw []byte
	SignedAttrsSet []byte

	ContentType            asn1.ObjectIdentifier
	MessageDigest          []byte
	SigningTime            *time.Time
	SigningCertificateV2   *ESSCertID
	SigningCertificate     *ESSCertID // v1, SHA-1
	RevocationInfoArchival *RevocationInfoArchival
	OtherSignedAttrs       []Attribute

	Signature []byte

	// SignatureTimestamps are the id-aa-signatureTimeStampToken values (TimeStampToken DER), in
	// order of appearance.
	SignatureTimestamps [][]byte
	OtherUnsignedAttrs  []Attribute

	kind    sigKind
	algErr  error // why SignatureAlgorithm is unknown
	pssHash crypto.Hash
}

// Parse decodes a CMS ContentInfo holding SignedData. Trailing zero octets (the padding of a PDF
// /Contents string) are allowed; other trailing data is not. BER input is accepted by rewriting
// it to DER first. When the SignedData does not hold exactly one SignerInfo, Parse returns the
// fully decoded result together with an error wrapping ErrSignerCount. Other errors wrap
// ErrMalformed.
func Parse(der []byte) (*Parsed, error) {
	if len(der) > MaxParseSize {
		return nil, malformed("input is %d bytes, limit %d", len(der), MaxParseSize)
	}
	p, rest, err := parseDER(der)
	if err != nil && !errors.Is(err, ErrSignerCount) {
		norm, nrest, nerr := berToDER(der)
		if nerr != nil || bytes.Equal(norm, der[:len(der)-len(nrest)]) {
			return nil, err // not BER either: report the DER error
		}
		var nerr2 error
		p, _, nerr2 = parseDER(norm)
		if nerr2 != nil && !errors.Is(nerr2, ErrSignerCount) {
			return nil, err
		}
		err = nerr2
		p.BER = true
		rest = nrest
		p.Raw = der[:len(der)-len(nrest)]
	}
	for _, c := range rest {
		if c != 0 {
			return nil, malformed("%d bytes of trailing data", len(rest))
		}
	}
	return p, err
}

func parseDER(der []byte) (*Parsed, []byte, error) {
	r := reader{der}
	ci, err := r.expect("ContentInfo", asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, nil, err
	}
	p := &Parsed{Raw: ci.FullBytes}
	cr := reader{ci.Bytes}
	ct, err := cr.expectOID("ContentInfo contentType")
	if err != nil {
		return nil, nil, err
	}
	if !ct.Equal(OIDSignedData) {
		return nil, nil, malformed("content type %v is not signed-data", ct)
	}
	content, err := cr.expect("ContentInfo content", asn1.ClassContextSpecific, 0, true)
	if err != nil {
		return nil, nil, err
	}
	if !cr.empty() {
		return nil, nil, malformed("ContentInfo: trailing data")
	}
	er := reader{content.Bytes}
	sd, err := er.expect("SignedData", asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, nil, err
	}
	if !er.empty() {
		return nil, nil, malformed("ContentInfo content: trailing data")
	}
	if err := p.parseSignedData(sd.Bytes); err != nil {
		return nil, nil, err
	}
	switch len(p.Signers) {
	case 1:
		p.Signer = &p.Signers[0]
	default:
		return p, r.b, fmt.Errorf("%w: found %d", ErrSignerCount, len(p.Signers))
	}
	return p, r.b, nil
}

func (p *Parsed) parseSignedData(b []byte) error {
	r := reader{b}
	var err error
	if p.Version, err = r.expectSmallInt("SignedData version"); err != nil {
		return err
	}
	algs, err := r.expect("digestAlgorithms", asn1.ClassUniversal, asn1.TagSet, true)
	if err != nil {
		return err
	}
	for ar := (reader{algs.Bytes}); !ar.empty(); {
		if len(p.DigestAlgorithms) >= maxElements {
			return malformed("too many digest algorithms")
		}
		alg, err := parseAlgorithm(&ar, "digestAlgorithms")
		if err != nil {
			return err
		}
		p.DigestAlgorithms = append(p.DigestAlgorithms, alg.Algorithm)
	}
	encap, err := r.expect("encapContentInfo", asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return err
	}
	if err := p.parseEncap(encap.Bytes); err != nil {
		return err
	}
	if class, tag, _, _ := r.peek(); class == asn1.ClassContextSpecific && tag == 0 {
		certs, err := r.expect("certificates", asn1.ClassContextSpecific, 0, true)
		if err != nil {
			return err
		}
		if err := p.parseCertificates(certs.Bytes); err != nil {
			return err
		}
	}
	if class, tag, _, _ := r.peek(); class == asn1.ClassContextSpecific && tag == 1 {
		crls, err := r.expect("crls", asn1.ClassContextSpecific, 1, true)
		if err != nil {
			return err
		}
		if err := p.parseRevocationInfo(crls.Bytes); err != nil {
			return err
		}
	}
	infos, err := r.expect("signerInfos", asn1.ClassUniversal, asn1.TagSet, true)
	if err != nil {
		return err
	}
	if !r.empty() {
		return malformed("SignedData: trailing data")
	}
	for ir := (reader{infos.Bytes}); !ir.empty(); {
		if len(p.Signers) >= maxElements {
			return malformed("too many signers")
		}
		rv, err := ir.expect("SignerInfo", asn1.ClassUniversal, asn1.TagSequence, true)
		if err != nil {
			return err
		}
		si, err := parseSignerInfo(rv.Bytes)
		if err != nil {
			return fmt.Errorf("SignerInfo %d: %w", len(p.Signers), err)
		}
		p.Signers = append(p.Signers, *si)
	}
	return nil
}

func (p *Parsed) parseEncap(b []byte) error {
	r := reader{b}
	var err error
	if p.EncapContentType, err = r.expectOID("eContentType"); err != nil {
		return err
	}
	if r.empty() {
		p.Detached = true
		return nil
	}
	ex, err := r.expect("eContent", asn1.ClassContextSpecific, 0, true)
	if err != nil {
		return err
	}
	if !r.empty() {
		return malformed("encapContentInfo: trailing data")
	}
	xr := reader{ex.Bytes}
	oct, err := xr.expect("eContent", asn1.ClassUniversal, asn1.TagOctetString, false)
	if err != nil {
		return err
	}
	if !xr.empty() {
		return malformed("eContent: trailing data")
	}
	p.EncapContent = oct.Bytes
	return nil
}

func (p *Parsed) parseCertificates(b []byte) error {
	for r := (reader{b}); !r.empty(); {
		if len(p.Certificates)+len(p.CertificateErrors) >= maxElements {
			return malformed("too many certificates")
		}
		rv, err := r.next("certificates")
		if err != nil {
			return err
		}
		// Only Certificate (a SEQUENCE); attribute and other certificates are tagged [1..3].
		if rv.Class != asn1.ClassUniversal || rv.Tag != asn1.TagSequence {
			continue
		}
		c, err := x509.ParseCertificate(rv.FullBytes)
		if err != nil {
			p.CertificateErrors = append(p.CertificateErrors, fmt.Errorf("certificate %d: %w", len(p.Certificates)+len(p.CertificateErrors), err))
			continue
		}
		p.Certificates = append(p.Certificates, c)
	}
	return nil
}

func (p *Parsed) parseRevocationInfo(b []byte) error {
	for r := (reader{b}); !r.empty(); {
		if len(p.CRLs)+len(p.OCSPResponses)+len(p.OtherRevocation) >= maxElements {
			return malformed("too many revocation entries")
		}
		rv, err := r.next("crls")
		if err != nil {
			return err
		}
		switch {
		case rv.Class == asn1.ClassUniversal && rv.Tag == asn1.TagSequence:
			p.CRLs = append(p.CRLs, rv.FullBytes)
		case rv.Class == asn1.ClassContextSpecific && rv.Tag == 1 && rv.IsCompound:
			or := reader{rv.Bytes}
			format, err := or.expectOID("otherRevInfoFormat")
			if err != nil {
				return err
			}
			info, err := or.next("otherRevInfo")
			if err != nil {
				return err
			}
			if !or.empty() {
				return malformed("OtherRevocationInfoFormat: trailing data")
			}
			if format.Equal(OIDRevInfoOCSPResponse) {
				p.OCSPResponses = append(p.OCSPResponses, info.FullBytes)
			} else {
				p.OtherRevocation = append(p.OtherRevocation, OtherRevocationInfo{Format: format, Info: info.FullBytes})
			}
		default:
			return malformed("crls: unexpected element (class %d, tag %d)", rv.Class, rv.Tag)
		}
	}
	return nil
}

func parseAlgorithm(r *reader, what string) (pkix.AlgorithmIdentifier, error) {
	var alg pkix.AlgorithmIdentifier
	rv, err := r.expect(what, asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return alg, err
	}
	if rest, err := asn1.Unmarshal(rv.FullBytes, &alg); err != nil || len(rest) != 0 {
		return alg, malformed("%s: bad AlgorithmIdentifier", what)
	}
	return alg, nil
}

func parseSignerInfo(b []byte) (*SignerInfo, error) {
	si := &SignerInfo{}
	r := reader{b}
	var err error
	if si.Version, err = r.expectSmallInt("version"); err != nil {
		return nil, err
	}
	sid, err := r.next("sid")
	if err != nil {
		return nil, err
	}
	switch {
	case sid.Class == asn1.ClassUniversal && sid.Tag == asn1.TagSequence && sid.IsCompound:
		si.IssuerRaw, si.SerialNumber, err = parseIssuerAndSerial(sid.Bytes)
		if err != nil {
			return nil, err
		}
		var rdn pkix.RDNSequence
		if rest, err := asn1.Unmarshal(si.IssuerRaw, &rdn); err == nil && len(rest) == 0 {
			si.Issuer = rdn
		}
	case sid.Class == asn1.ClassContextSpecific && sid.Tag == 0 && !sid.IsCompound:
		si.SubjectKeyID = sid.Bytes
	default:
		return nil, malformed("sid: unexpected element (class %d, tag %d)", sid.Class, sid.Tag)
	}

	digestAlg, err := parseAlgorithm(&r, "digestAlgorithm")
	if err != nil {
		return nil, err
	}
	si.DigestAlgorithmOID = digestAlg.Algorithm
	si.DigestAlgorithm, _ = HashFromOID(digestAlg.Algorithm)

	if class, tag, _, _ := r.peek(); class == asn1.ClassContextSpecific && tag == 0 {
		attrs, err := r.expect("signedAttrs", asn1.ClassContextSpecific, 0, true)
		if err != nil {
			return nil, err
		}
		si.SignedAttrsRaw = attrs.FullBytes
		si.SignedAttrsSet = append([]byte{tagSet}, attrs.FullBytes[1:]...)
		if err := si.parseSignedAttrs(attrs.Bytes); err != nil {
			return nil, err
		}
	}

	sigAlg, err := parseAlgorithm(&r, "signatureAlgorithm")
	if err != nil {
		return nil, err
	}
	if err := si.resolveSignatureAlgorithm(sigAlg); err != nil {
		return nil, err
	}
	sig, err := r.expect("signature", asn1.ClassUniversal, asn1.TagOctetString, false)
	if err != nil {
		return nil, err
	}
	si.Signature = sig.Bytes

	if class, tag, _, _ := r.peek(); class == asn1.ClassContextSpecific && tag == 1 {
		attrs, err := r.expect("unsignedAttrs", asn1.ClassContextSpecific, 1, true)
		if err != nil {
			return nil, err
		}
		if err := si.parseUnsignedAttrs(attrs.Bytes); err != nil {
			return nil, err
		}
	}
	if !r.empty() {
		return nil, malformed("SignerInfo: trailing data")
	}
	return si, nil
}

func parseIssuerAndSerial(b []byte) ([]byte, *big.Int, error) {
	r := reader{b}
	name, err := r.expect("issuer", asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, nil, err
	}
	serial, err := r.expect("serialNumber", asn1.ClassUniversal, asn1.TagInteger, false)
	if err != nil {
		return nil, nil, err
	}
	if !r.empty() {
		return nil, nil, malformed("IssuerAndSerialNumber: trailing data")
	}
	n, err := integerValue(serial.Bytes)
	if err != nil {
		return nil, nil, malformed("serialNumber: %v", err)
	}
	return name.FullBytes, n, nil
}

// forEachAttribute decodes a SET OF Attribute content.
func forEachAttribute(b []byte, what string, fn func(typ asn1.ObjectIdentifier, values [][]byte) error) error {
	n := 0
	for r := (reader{b}); !r.empty(); n++ {
		if n >= maxElements {
			return malformed("%s: too many attributes", what)
		}
		attr, err := r.expect(what, asn1.ClassUniversal, asn1.TagSequence, true)
		if err != nil {
			return err
		}
		ar := reader{attr.Bytes}
		typ, err := ar.expectOID(what + " type")
		if err != nil {
			return err
		}
		set, err := ar.expect(what+" values", asn1.ClassUniversal, asn1.TagSet, true)
		if err != nil {
			return err
		}
		if !ar.empty() {
			return malformed("%s %v: trailing data", what, typ)
		}
		var values [][]byte
		for vr := (reader{set.Bytes}); !vr.empty(); {
			if len(values) >= maxElements {
				return malformed("%s %v: too many values", what, typ)
			}
			v, err := vr.next(what + " value")
			if err != nil {
				return err
			}
			values = append(values, v.FullBytes)
		}
		if len(values) == 0 {
			return malformed("%s %v: no values", what, typ)
		}
		if err := fn(typ, values); err != nil {
			return err
		}
	}
	return nil
}

func (si *SignerInfo) parseSignedAttrs(b []byte) error {
	seen := map[string]bool{}
	return forEachAttribute(b, "signed attribute", func(typ asn1.ObjectIdentifier, values [][]byte) error {
		single := func() ([]byte, error) {
			// RFC 5652 §11 and ESS: these attributes are single-valued and appear once.
			if seen[typ.String()] {
				return nil, malformed("signed attribute %v appears twice", typ)
			}
			seen[typ.String()] = true
			if len(values) != 1 {
				return nil, malformed("signed attribute %v has %d values, want 1", typ, len(values))
			}
			return values[0], nil
		}
		switch {
		case typ.Equal(OIDAttrContentType):
			v, err := single()
			if err != nil {
				return err
			}
			var oid asn1.ObjectIdentifier
			if rest, err := asn1.Unmarshal(v, &oid); err != nil || len(rest) != 0 {
				return malformed("content-type attribute: not an OBJECT IDENTIFIER")
			}
			si.ContentType = oid
		case typ.Equal(OIDAttrMessageDigest):
			v, err := single()
			if err != nil {
				return err
			}
			var d []byte
			if rest, err := asn1.Unmarshal(v, &d); err != nil || len(rest) != 0 {
				return malformed("message-digest attribute: not an OCTET STRING")
			}
			si.MessageDigest = d
		case typ.Equal(OIDAttrSigningTime):
			v, err := single()
			if err != nil {
				return err
			}
			var t time.Time
			if rest, err := asn1.Unmarshal(v, &t); err != nil || len(rest) != 0 {
				return malformed("signing-time attribute: %v", err)
			}
			si.SigningTime = &t
		case typ.Equal(OIDAttrSigningCertificateV2):
			v, err := single()
			if err != nil {
				return err
			}
			if si.SigningCertificateV2, err = parseSigningCertificate(v, true); err != nil {
				return err
			}
		case typ.Equal(OIDAttrSigningCertificate):
			v, err := single()
			if err != nil {
				return err
			}
			if si.SigningCertificate, err = parseSigningCertificate(v, false); err != nil {
				return err
			}
		case typ.Equal(OIDAttrAdobeRevocationInfoArchival):
			v, err := single()
			if err != nil {
				return err
			}
			if si.RevocationInfoArchival, err = parseRevocationInfoArchival(v); err != nil {
				return err
			}
		default:
			si.OtherSignedAttrs = append(si.OtherSignedAttrs, Attribute{Type: typ, Values: values})
		}
		return nil
	})
}

func (si *SignerInfo) parseUnsignedAttrs(b []byte) error {
	return forEachAttribute(b, "unsigned attribute", func(typ asn1.ObjectIdentifier, values [][]byte) error {
		if typ.Equal(OIDAttrSignatureTimeStampToken) {
			for _, v := range values {
				if len(si.SignatureTimestamps) >= maxElements {
					return malformed("too many signature timestamps")
				}
				si.SignatureTimestamps = append(si.SignatureTimestamps, v)
			}
			return nil
		}
		si.OtherUnsignedAttrs = append(si.OtherUnsignedAttrs, Attribute{Type: typ, Values: values})
		return nil
	})
}

// parseSigningCertificate decodes SigningCertificate(V2) and returns its first ESSCertID(v2).
func parseSigningCertificate(b []byte, v2 bool) (*ESSCertID, error) {
	what := "signing-certificate"
	if v2 {
		what += "-v2"
	}
	r := reader{b}
	outer, err := r.expect(what, asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, err
	}
	if !r.empty() {
		return nil, malformed("%s: trailing data", what)
	}
	or := reader{outer.Bytes}
	certs, err := or.expect(what+" certs", asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, err
	}
	// policies (optional) follow; they do not bind the certificate and are not decoded.
	cr := reader{certs.Bytes}
	first, err := cr.expect(what+" ESSCertID", asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, err
	}
	id := &ESSCertID{HashAlgorithm: crypto.SHA1, HashAlgorithmOID: oidSHA1}
	ir := reader{first.Bytes}
	if v2 {
		id.HashAlgorithm, id.HashAlgorithmOID = crypto.SHA256, oidSHA256 // DEFAULT
		if class, tag, _, _ := ir.peek(); class == asn1.ClassUniversal && tag == asn1.TagSequence {
			alg, err := parseAlgorithm(&ir, what+" hashAlgorithm")
			if err != nil {
				return nil, err
			}
			id.HashAlgorithmOID = alg.Algorithm
			id.HashAlgorithm, _ = HashFromOID(alg.Algorithm)
		}
	}
	h, err := ir.expect(what+" certHash", asn1.ClassUniversal, asn1.TagOctetString, false)
	if err != nil {
		return nil, err
	}
	id.CertHash = h.Bytes
	if !ir.empty() {
		is, err := ir.expect(what+" issuerSerial", asn1.ClassUniversal, asn1.TagSequence, true)
		if err != nil {
			return nil, err
		}
		if id.IssuerSerial, err = parseIssuerSerial(is.Bytes); err != nil {
			return nil, err
		}
	}
	if !ir.empty() {
		return nil, malformed("%s ESSCertID: trailing data", what)
	}
	return id, nil
}

func parseIssuerSerial(b []byte) (*IssuerSerial, error) {
	r := reader{b}
	names, err := r.expect("issuerSerial issuer", asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, err
	}
	serial, err := r.expect("issuerSerial serialNumber", asn1.ClassUniversal, asn1.TagInteger, false)
	if err != nil {
		return nil, err
	}
	// issuerUID (optional, from attribute certificates) may follow; it is ignored.
	is := &IssuerSerial{}
	if is.SerialNumber, err = integerValue(serial.Bytes); err != nil {
		return nil, malformed("issuerSerial serialNumber: %v", err)
	}
	for nr := (reader{names.Bytes}); !nr.empty(); {
		if len(is.DirectoryNames) >= maxElements {
			return nil, malformed("issuerSerial: too many names")
		}
		gn, err := nr.next("GeneralName")
		if err != nil {
			return nil, err
		}
		if gn.Class != asn1.ClassContextSpecific || gn.Tag != 4 || !gn.IsCompound {
			continue // not a directoryName
		}
		dr := reader{gn.Bytes}
		name, err := dr.expect("directoryName", asn1.ClassUniversal, asn1.TagSequence, true)
		if err != nil {
			return nil, err
		}
		if !dr.empty() {
			return nil, malformed("directoryName: trailing data")
		}
		is.DirectoryNames = append(is.DirectoryNames, name.FullBytes)
	}
	return is, nil
}

func parseRevocationInfoArchival(b []byte) (*RevocationInfoArchival, error) {
	r := reader{b}
	seq, err := r.expect("adbe-revocationInfoArchival", asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, err
	}
	if !r.empty() {
		return nil, malformed("adbe-revocationInfoArchival: trailing data")
	}
	ria := &RevocationInfoArchival{}
	for sr := (reader{seq.Bytes}); !sr.empty(); {
		field, err := sr.next("adbe-revocationInfoArchival field")
		if err != nil {
			return nil, err
		}
		if field.Class != asn1.ClassContextSpecific || !field.IsCompound {
			return nil, malformed("adbe-revocationInfoArchival: unexpected element")
		}
		fr := reader{field.Bytes}
		list, err := fr.expect("adbe-revocationInfoArchival list", asn1.ClassUniversal, asn1.TagSequence, true)
		if err != nil {
			return nil, err
		}
		for lr := (reader{list.Bytes}); !lr.empty(); {
			if len(ria.CRLs)+len(ria.OCSPResponses) >= maxElements {
				return nil, malformed("adbe-revocationInfoArchival: too many entries")
			}
			item, err := lr.next("adbe-revocationInfoArchival entry")
			if err != nil {
				return nil, err
			}
			switch field.Tag {
			case 0:
				ria.CRLs = append(ria.CRLs, item.FullBytes)
			case 1:
				ria.OCSPResponses = append(ria.OCSPResponses, item.FullBytes)
			}
			// [2] otherRevInfo is not used by any known producer and is skipped.
		}
	}
	return ria, nil
}

// pssParams is RSASSA-PSS-params (RFC 4055 §3.1); absent fields take the RFC defaults.
type pssParams struct {
	Hash         pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:0"`
	MGF          pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:1"`
	SaltLength   int                      `asn1:"explicit,optional,default:20,tag:2"`
	TrailerField int                      `asn1:"explicit,optional,default:1,tag:3"`
}

// resolveSignatureAlgorithm decides how to verify. Unsupported choices are not parse errors
// (the structure is fine) but make verification fail with ErrUnsupportedAlgorithm.
func (si *SignerInfo) resolveSignatureAlgorithm(alg pkix.AlgorithmIdentifier) error {
	si.SignatureAlgorithmOID = alg.Algorithm
	si.SignatureAlgorithm = x509.UnknownSignatureAlgorithm
	d := si.DigestAlgorithm
	unsupported := func(format string, args ...any) error {
		si.kind = kindUnknown
		si.algErr = fmt.Errorf("%w: %s", ErrUnsupportedAlgorithm, fmt.Sprintf(format, args...))
		return nil
	}
	if d == 0 {
		return unsupported("digest algorithm %v", si.DigestAlgorithmOID)
	}
	// Algorithms that name a hash must name the digestAlgorithm one (RFC 5754 §3, RFC 4056 §2).
	implied := func(h crypto.Hash, kind sigKind) error {
		if h != d {
			return unsupported("signature algorithm %v with digest algorithm %v", alg.Algorithm, d)
		}
		si.kind = kind
		return nil
	}
	var err error
	switch {
	case alg.Algorithm.Equal(oidRSAEncryption):
		si.kind = kindRSAPKCS1
	case alg.Algorithm.Equal(oidSHA1WithRSA):
		err = implied(crypto.SHA1, kindRSAPKCS1)
	case alg.Algorithm.Equal(oidSHA224WithRSA):
		err = implied(crypto.SHA224, kindRSAPKCS1)
	case alg.Algorithm.Equal(oidSHA256WithRSA):
		err = implied(crypto.SHA256, kindRSAPKCS1)
	case alg.Algorithm.Equal(oidSHA384WithRSA):
		err = implied(crypto.SHA384, kindRSAPKCS1)
	case alg.Algorithm.Equal(oidSHA512WithRSA):
		err = implied(crypto.SHA512, kindRSAPKCS1)
	case alg.Algorithm.Equal(oidECPublicKey):
		si.kind = kindECDSA
	case alg.Algorithm.Equal(oidECDSAWithSHA1):
		err = implied(crypto.SHA1, kindECDSA)
	case alg.Algorithm.Equal(oidECDSAWithSHA224):
		err = implied(crypto.SHA224, kindECDSA)
	case alg.Algorithm.Equal(oidECDSAWithSHA256):
		err = implied(crypto.SHA256, kindECDSA)
	case alg.Algorithm.Equal(oidECDSAWithSHA384):
		err = implied(crypto.SHA384, kindECDSA)
	case alg.Algorithm.Equal(oidECDSAWithSHA512):
		err = implied(crypto.SHA512, kindECDSA)
	case alg.Algorithm.Equal(oidEd25519):
		// RFC 8419 §3: PureEdDSA over the signed attributes; digestAlgorithm SHA-512.
		err = implied(crypto.SHA512, kindEd25519)
	case alg.Algorithm.Equal(oidRSASSAPSS):
		return si.resolvePSS(alg)
	default:
		return unsupported("signature algorithm %v", alg.Algorithm)
	}
	if err != nil || si.kind == kindUnknown {
		return err
	}
	si.SignatureAlgorithm = x509SignatureAlgorithm(si.kind, d)
	return nil
}

func (si *SignerInfo) resolvePSS(alg pkix.AlgorithmIdentifier) error {
	var params pssParams
	if len(alg.Parameters.FullBytes) == 0 {
		return malformed("RSASSA-PSS without parameters")
	}
	if rest, err := asn1.Unmarshal(alg.Parameters.FullBytes, &params); err != nil || len(rest) != 0 {
		return malformed("RSASSA-PSS parameters: %v", err)
	}
	unsupported := func(format string, args ...any) error {
		si.kind = kindUnknown
		si.algErr = fmt.Errorf("%w: RSASSA-PSS %s", ErrUnsupportedAlgorithm, fmt.Sprintf(format, args...))
		return nil
	}
	hash := crypto.SHA1 // RFC 4055 default
	if len(params.Hash.Algorithm) > 0 {
		h, ok := HashFromOID(params.Hash.Algorithm)
		if !ok {
			return unsupported("hash %v", params.Hash.Algorithm)
		}
		hash = h
	}
	mgfHash := crypto.SHA1
	if len(params.MGF.Algorithm) > 0 {
		if !params.MGF.Algorithm.Equal(oidMGF1) {
			return unsupported("mask generation function %v", params.MGF.Algorithm)
		}
		var mh pkix.AlgorithmIdentifier
		if rest, err := asn1.Unmarshal(params.MGF.Parameters.FullBytes, &mh); err != nil || len(rest) != 0 {
			return malformed("RSASSA-PSS MGF1 parameters: %v", err)
		}
		h, ok := HashFromOID(mh.Algorithm)
		if !ok {
			return unsupported("MGF1 hash %v", mh.Algorithm)
		}
		mgfHash = h
	}
	switch {
	case mgfHash != hash: // crypto/rsa uses the message hash for MGF1
		return unsupported("MGF1 hash %v differs from hash %v", mgfHash, hash)
	case hash != si.DigestAlgorithm:
		return unsupported("hash %v differs from digest algorithm %v", hash, si.DigestAlgorithm)
	case params.TrailerField != 1:
		return unsupported("trailer field %d", params.TrailerField)
	case params.SaltLength < 0 || params.SaltLength > 1024:
		return unsupported("salt length %d", params.SaltLength)
	}
	si.kind = kindRSAPSS
	si.pssHash = hash
	si.PSSSaltLength = params.SaltLength
	if params.SaltLength == hash.Size() {
		si.SignatureAlgorithm = x509SignatureAlgorithm(kindRSAPSS, hash)
	}
	return nil
}

func x509SignatureAlgorithm(kind sigKind, h crypto.Hash) x509.SignatureAlgorithm {
	type key struct {
		k sigKind
		h crypto.Hash
	}
	switch (key{kind, h}) {
	case key{kindRSAPKCS1, crypto.SHA1}:
		return x509.SHA1WithRSA
	case key{kindRSAPKCS1, crypto.SHA256}:
		return x509.SHA256WithRSA
	case key{kindRSAPKCS1, crypto.SHA384}:
		return x509.SHA384WithRSA
	case key{kindRSAPKCS1, crypto.SHA512}:
		return x509.SHA512WithRSA
	case key{kindRSAPSS, crypto.SHA256}:
		return x509.SHA256WithRSAPSS
	case key{kindRSAPSS, crypto.SHA384}:
		return x509.SHA384WithRSAPSS
	case key{kindRSAPSS, crypto.SHA512}:
		return x509.SHA512WithRSAPSS
	case key{kindECDSA, crypto.SHA1}:
		return x509.ECDSAWithSHA1
	case key{kindECDSA, crypto.SHA256}:
		return x509.ECDSAWithSHA256
	case key{kindECDSA, crypto.SHA384}:
		return x509.ECDSAWithSHA384
	case key{kindECDSA, crypto.SHA512}:
		return x509.ECDSAWithSHA512
	case key{kindEd25519, crypto.SHA512}:
		return x509.PureEd25519
	}
	return x509.UnknownSignatureAlgorithm
}
