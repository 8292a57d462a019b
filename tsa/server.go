package tsa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"slices"
	"time"
)

// MaxRequestSize bounds the body of a time-stamp request the server reads.
// A request is a digest, a nonce and a few flags: well under 1 KiB.
const MaxRequestSize = 64 << 10

const (
	contentTypeQuery = "application/timestamp-query"
	contentTypeReply = "application/timestamp-reply"
)

// Server is a minimal RFC 3161 time-stamping authority served over HTTP
// (RFC 3161 section 3.4). It is meant for development and tests: it keeps no
// log of issued tokens and trusts its clock.
type Server struct {
	// Signer holds the TSA key; Certificate is its certificate, which must
	// pass CheckCertificate.
	Signer      crypto.Signer
	Certificate *x509.Certificate
	// Chain lists the certificates beyond the leaf sent when the client sets
	// certReq (typically the issuing CA; the root is not needed).
	Chain []*x509.Certificate
	// Policy is the policy of every token, and the only one accepted in
	// requests. Default: DevPolicy().
	Policy asn1.ObjectIdentifier
	// Hash is the digest algorithm of the CMS signature. Default: SHA-256.
	Hash crypto.Hash
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// Accuracy is stated in every token when positive. Default: none.
	Accuracy time.Duration
}

// ServeHTTP answers POST requests of type application/timestamp-query with
// an application/timestamp-reply. Well-formed HTTP that carries a bad
// TimeStampReq gets a "rejection" reply with the matching failInfo, as RFC
// 3161 asks; HTTP-level faults get HTTP errors.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "time-stamp requests must be POSTed", http.StatusMethodNotAllowed)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != contentTypeQuery {
		http.Error(w, "content type must be "+contentTypeQuery, http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestSize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "time-stamp request too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "read request", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", contentTypeReply)
	w.Write(s.respond(body))
}

// respond turns a DER TimeStampReq into a DER TimeStampResp.
func (s *Server) respond(reqDER []byte) []byte {
	req, fail, err := s.parseRequest(reqDER)
	if err != nil {
		return rejection(fail, err.Error())
	}
	token, err := s.issue(req)
	if err != nil {
		// The cause (a key or configuration problem) is not the client's
		// business; it only learns that the service failed.
		return rejection(failSystemFailure, "time-stamp could not be issued")
	}
	resp, err := asn1.Marshal(timeStampResp{
		Status:         pkiStatusInfo{Status: statusGranted},
		TimeStampToken: asn1.RawValue{FullBytes: token},
	})
	if err != nil {
		return rejection(failSystemFailure, "time-stamp could not be encoded")
	}
	return resp
}

// parseRequest decodes and vets a TimeStampReq, returning the failInfo bit
// that describes a refusal.
func (s *Server) parseRequest(der []byte) (*timeStampReq, int, error) {
	var req timeStampReq
	if rest, err := asn1.Unmarshal(der, &req); err != nil {
		return nil, failBadDataFormat, errors.New("malformed TimeStampReq")
	} else if len(rest) > 0 {
		return nil, failBadDataFormat, errors.New("trailing data after TimeStampReq")
	}
	if req.Version != 1 {
		return nil, failBadRequest, fmt.Errorf("unsupported version %d", req.Version)
	}
	if _, _, err := parseImprint(req.MessageImprint.FullBytes); errors.Is(err, errUnsupportedHash) {
		return nil, failBadAlg, fmt.Errorf("message imprint: %v", err)
	} else if err != nil {
		return nil, failBadDataFormat, fmt.Errorf("message imprint: %v", err)
	}
	if len(req.ReqPolicy) > 0 && !req.ReqPolicy.Equal(s.policy()) {
		return nil, failUnacceptedPolicy, fmt.Errorf("policy %v is not offered", req.ReqPolicy)
	}
	if len(req.Extensions) > 0 {
		return nil, failUnacceptedExtension, errors.New("request extensions are not supported")
	}
	return &req, 0, nil
}

func (s *Server) policy() asn1.ObjectIdentifier {
	if len(s.Policy) > 0 {
		return s.Policy
	}
	return DevPolicy()
}

func (s *Server) hash() crypto.Hash {
	if s.Hash != 0 {
		return s.Hash
	}
	return crypto.SHA256
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// issue builds and signs the TimeStampToken answering req.
func (s *Server) issue(req *timeStampReq) ([]byte, error) {
	if s.Signer == nil || s.Certificate == nil {
		return nil, errors.New("tsa: server has no signer or certificate")
	}
	h := s.hash()
	hashOID := oidForHash(h)
	if hashOID == nil {
		return nil, fmt.Errorf("tsa: unsupported signing hash %v", h)
	}
	sigAlg, err := signatureAlgorithm(s.Signer.Public(), h)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}

	info := tstInfo{
		Version:        1,
		Policy:         s.policy(),
		MessageImprint: req.MessageImprint, // echoed byte for byte (RFC 3161 section 2.4.2)
		SerialNumber:   serial,
		GenTime:        s.now().UTC().Truncate(time.Second),
		Nonce:          req.Nonce,
		TSA:            asn1.RawValue{FullBytes: tlv(asn1.ClassContextSpecific, 0, true, tlv(asn1.ClassContextSpecific, 4, true, s.Certificate.RawSubject))},
	}
	if s.Accuracy > 0 {
		info.Accuracy = accuracyOf(s.Accuracy)
	}
	tstDER, err := asn1.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("tsa: encode TSTInfo: %w", err)
	}

	signedAttrs, err := s.signedAttributes(h, tstDER)
	if err != nil {
		return nil, err
	}
	// Sign the attributes as a SET OF; embed them as [0] IMPLICIT.
	toSign := tlv(asn1.ClassUniversal, asn1.TagSet, true, signedAttrs)
	hh := h.New()
	hh.Write(toSign)
	sig, err := s.Signer.Sign(rand.Reader, hh.Sum(nil), h)
	if err != nil {
		return nil, fmt.Errorf("tsa: sign: %w", err)
	}

	sid, err := asn1.Marshal(issuerAndSerial{Issuer: asn1.RawValue{FullBytes: s.Certificate.RawIssuer}, Serial: s.Certificate.SerialNumber})
	if err != nil {
		return nil, fmt.Errorf("tsa: encode signer identifier: %w", err)
	}
	digestAlg := pkix.AlgorithmIdentifier{Algorithm: hashOID}
	sd := signedData{
		Version:          3, // eContentType is not id-data (RFC 5652 section 5.1)
		DigestAlgorithms: []pkix.AlgorithmIdentifier{digestAlg},
		EncapContentInfo: encapContentInfo{
			EContentType: oidTSTInfo,
			EContent:     asn1.RawValue{FullBytes: tlv(asn1.ClassContextSpecific, 0, true, tlv(asn1.ClassUniversal, asn1.TagOctetString, false, tstDER))},
		},
		SignerInfos: []signerInfo{{
			Version:            1,
			SID:                asn1.RawValue{FullBytes: sid},
			DigestAlgorithm:    digestAlg,
			SignedAttrs:        asn1.RawValue{FullBytes: tlv(asn1.ClassContextSpecific, 0, true, signedAttrs)},
			SignatureAlgorithm: sigAlg,
			Signature:          sig,
		}},
	}
	if req.CertReq {
		var certs []byte
		certs = append(certs, s.Certificate.Raw...)
		for _, c := range s.Chain {
			certs = append(certs, c.Raw...)
		}
		sd.Certificates = asn1.RawValue{FullBytes: tlv(asn1.ClassContextSpecific, 0, true, certs)}
	}
	sdDER, err := asn1.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("tsa: encode signed data: %w", err)
	}
	return asn1.Marshal(contentInfo{
		ContentType: oidSignedData,
		Content:     asn1.RawValue{FullBytes: tlv(asn1.ClassContextSpecific, 0, true, sdDER)},
	})
}

// signedAttributes returns the DER-sorted contents of the SignedAttributes
// SET: content-type, message-digest and an ESSCertIDv2 signing-certificate.
func (s *Server) signedAttributes(h crypto.Hash, content []byte) ([]byte, error) {
	hh := h.New()
	hh.Write(content)
	md := hh.Sum(nil)

	certHash := crypto.SHA256.New()
	certHash.Write(s.Certificate.Raw)
	generalNames := tlv(asn1.ClassUniversal, asn1.TagSequence, true,
		tlv(asn1.ClassContextSpecific, 4, true, s.Certificate.RawIssuer))
	scv2 := signingCertificateV2{Certs: []essCertIDv2{{
		// HashAlgorithm omitted: SHA-256 is the DEFAULT, which DER leaves out.
		CertHash:     certHash.Sum(nil),
		IssuerSerial: essIssuerSerial{Issuer: asn1.RawValue{FullBytes: generalNames}, Serial: s.Certificate.SerialNumber},
	}}}

	values := []struct {
		oid asn1.ObjectIdentifier
		v   any
	}{
		{oidContentType, oidTSTInfo},
		{oidMessageDigest, md},
		{oidSigningCertV2, scv2},
	}
	var encoded [][]byte
	for _, a := range values {
		v, err := asn1.Marshal(a.v)
		if err != nil {
			return nil, fmt.Errorf("tsa: encode attribute %v: %w", a.oid, err)
		}
		der, err := asn1.Marshal(attribute{Type: a.oid, Values: []asn1.RawValue{{FullBytes: v}}})
		if err != nil {
			return nil, fmt.Errorf("tsa: encode attribute %v: %w", a.oid, err)
		}
		encoded = append(encoded, der)
	}
	// DER orders the elements of a SET OF by their encodings.
	slices.SortFunc(encoded, bytes.Compare)
	return bytes.Join(encoded, nil), nil
}

// signatureAlgorithm names the CMS signature algorithm for a key and hash.
func signatureAlgorithm(pub crypto.PublicKey, h crypto.Hash) (pkix.AlgorithmIdentifier, error) {
	switch pub.(type) {
	case *rsa.PublicKey:
		oid := map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidSHA256WithRSA, crypto.SHA384: oidSHA384WithRSA, crypto.SHA512: oidSHA512WithRSA}[h]
		return pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue}, nil
	case *ecdsa.PublicKey:
		oid := map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidECDSAWithSHA256, crypto.SHA384: oidECDSAWithSHA384, crypto.SHA512: oidECDSAWithSHA512}[h]
		return pkix.AlgorithmIdentifier{Algorithm: oid}, nil
	}
	return pkix.AlgorithmIdentifier{}, fmt.Errorf("tsa: unsupported key type %T", pub)
}

// randomSerial returns a positive random serial of at most 159 bits, so it
// fits the 160 bits RFC 3161 requires clients to handle. Randomness makes
// it unique without keeping state.
func randomSerial() (*big.Int, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("tsa: serial number: %w", err)
	}
	b[0] &= 0x7f
	b[0] |= 0x01 // keep it non-zero
	return new(big.Int).SetBytes(b), nil
}

func accuracyOf(d time.Duration) accuracy {
	// Round up: never claim better accuracy than configured.
	if r := d % time.Microsecond; r != 0 {
		d += time.Microsecond - r
	}
	return accuracy{
		Seconds: int64(d / time.Second),
		Millis:  int64(d % time.Second / time.Millisecond),
		Micros:  int64(d % time.Millisecond / time.Microsecond),
	}
}

// rejection encodes a TimeStampResp with status rejection.
func rejection(failBit int, text string) []byte {
	fail := make([]byte, failBit/8+1)
	fail[failBit/8] = 0x80 >> (failBit % 8)
	resp, err := asn1.Marshal(timeStampResp{Status: pkiStatusInfo{
		Status:       statusRejection,
		StatusString: []asn1.RawValue{{FullBytes: tlv(asn1.ClassUniversal, asn1.TagUTF8String, false, []byte(text))}},
		FailInfo:     asn1.BitString{Bytes: fail, BitLength: failBit + 1},
	}})
	if err != nil {
		// Cannot happen for these fixed types; answer with the bare status.
		return []byte{0x30, 0x05, 0x30, 0x03, 0x02, 0x01, statusRejection}
	}
	return resp
}
