package revocation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
)

// MaxOCSPRequestSize bounds the OCSP request the responder reads.
const MaxOCSPRequestSize = 16 << 10

// maxSingleRequests bounds the certificates asked about in one request.
const maxSingleRequests = 16

var (
	oidOCSPNonce   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
	oidOCSPBasic   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
)

// Responder is an OCSP responder (RFC 6960) for the certificates of one
// issuer, served over HTTP as RFC 6960 appendix A describes: POST with the
// DER request as body, or GET with the base64 request as the rest of the
// path (mount it with http.StripPrefix so the path starts with the base64).
type Responder struct {
	// Issuer is the CA whose certificates this responder answers for.
	Issuer *x509.Certificate
	// Certificate signs the responses: Issuer itself, or a delegated
	// responder certificate issued by Issuer with extendedKeyUsage
	// OCSPSigning (and, so clients need not check it, id-pkix-ocsp-nocheck).
	// Signer holds its key.
	Certificate *x509.Certificate
	Signer      crypto.Signer
	// Source gives the status of each serial.
	Source StatusSource
	// Validity is the span from thisUpdate to nextUpdate. Default: 1 hour.
	Validity time.Duration
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// ServeHTTP implements http.Handler.
func (o *Responder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var der []byte
	switch r.Method {
	case http.MethodGet:
		enc := strings.TrimPrefix(r.URL.Path, "/")
		if len(enc) > base64.StdEncoding.EncodedLen(MaxOCSPRequestSize) {
			http.Error(w, "OCSP request too large", http.StatusRequestURITooLong)
			return
		}
		var err error
		if der, err = base64.StdEncoding.DecodeString(enc); err != nil {
			// Some clients drop the padding.
			if der, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(enc, "=")); err != nil {
				writeOCSP(w, ocsp.MalformedRequestErrorResponse)
				return
			}
		}
	case http.MethodPost:
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/ocsp-request" {
			http.Error(w, "content type must be application/ocsp-request", http.StatusUnsupportedMediaType)
			return
		}
		var err error
		if der, err = io.ReadAll(http.MaxBytesReader(w, r.Body, MaxOCSPRequestSize)); err != nil {
			http.Error(w, "OCSP request too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	writeOCSP(w, o.Respond(r.Context(), der))
}

func writeOCSP(w http.ResponseWriter, resp []byte) {
	w.Header().Set("Content-Type", "application/ocsp-response")
	// Answers depend on the live status file and may echo a nonce.
	w.Header().Set("Cache-Control", "no-store")
	w.Write(resp)
}

// OCSP request structures (RFC 6960 section 4.1.1). x/crypto/ocsp parses
// only the first request and drops the extensions, where the nonce is.
type ocspRequest struct {
	TBSRequest        tbsRequest
	OptionalSignature asn1.RawValue `asn1:"optional,explicit,tag:0"`
}

type tbsRequest struct {
	Version       int           `asn1:"optional,explicit,tag:0,default:0"`
	RequestorName asn1.RawValue `asn1:"optional,explicit,tag:1"`
	RequestList   []singleRequest
	Extensions    []pkix.Extension `asn1:"optional,explicit,tag:2"`
}

type singleRequest struct {
	CertID     asn1.RawValue
	Extensions []pkix.Extension `asn1:"optional,explicit,tag:0"`
}

type certID struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	NameHash      []byte
	KeyHash       []byte
	Serial        *big.Int
}

// Response structures (RFC 6960 section 4.2.1).
type responseData struct {
	ResponderID asn1.RawValue
	ProducedAt  time.Time `asn1:"generalized"`
	Responses   []singleResponse
	Extensions  []pkix.Extension `asn1:"optional,explicit,tag:1"`
}

type singleResponse struct {
	CertID     asn1.RawValue
	CertStatus asn1.RawValue
	ThisUpdate time.Time `asn1:"generalized"`
	NextUpdate time.Time `asn1:"generalized,optional,explicit,tag:0"`
}

type revokedInfo struct {
	RevocationTime time.Time       `asn1:"generalized"`
	Reason         asn1.Enumerated `asn1:"optional,explicit,tag:0"`
}

type basicResponse struct {
	TBSResponseData    asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
	Certificates       asn1.RawValue `asn1:"optional"` // [0] EXPLICIT SEQUENCE OF Certificate, pre-encoded
}

type responseBytes struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

type ocspResponse struct {
	Status   asn1.Enumerated
	Response asn1.RawValue `asn1:"optional"` // [0] EXPLICIT responseBytes, pre-encoded
}

// Respond answers a DER OCSP request with a DER OCSP response. Malformed
// requests get a malformedRequest response, a failing status source an
// internalError one (RFC 6960 section 2.3), and requests about no
// certificate of Issuer an unauthorized one. Within a request that names
// Issuer, certificates of other issuers are "unknown".
func (o *Responder) Respond(ctx context.Context, reqDER []byte) []byte {
	if o.Issuer == nil || o.Certificate == nil || o.Signer == nil || o.Source == nil {
		return ocsp.InternalErrorErrorResponse
	}
	var req ocspRequest
	if rest, err := asn1.Unmarshal(reqDER, &req); err != nil || len(rest) > 0 {
		return ocsp.MalformedRequestErrorResponse
	}
	list := req.TBSRequest.RequestList
	if len(list) == 0 || len(list) > maxSingleRequests {
		return ocsp.MalformedRequestErrorResponse
	}
	var nonce *pkix.Extension
	for i, ext := range req.TBSRequest.Extensions {
		if ext.Id.Equal(oidOCSPNonce) {
			// RFC 8954: a nonce is 1 to 32 octets (plus its OCTET STRING header).
			if len(ext.Value) == 0 || len(ext.Value) > 34 {
				return ocsp.MalformedRequestErrorResponse
			}
			nonce = &req.TBSRequest.Extensions[i]
		}
	}

	now := o.now().UTC().Truncate(time.Second)
	validity := o.Validity
	if validity <= 0 {
		validity = time.Hour
	}
	data := responseData{
		ResponderID: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: o.Certificate.RawSubject},
		ProducedAt:  now,
	}
	ours := 0
	for _, sr := range list {
		status, mine, err := o.status(ctx, sr.CertID.FullBytes)
		if err != nil {
			return ocsp.InternalErrorErrorResponse
		}
		if mine {
			ours++
		}
		data.Responses = append(data.Responses, singleResponse{
			CertID:     sr.CertID,
			CertStatus: status,
			ThisUpdate: now,
			NextUpdate: now.Add(validity),
		})
	}
	if ours == 0 {
		// Not one certificate of our issuer: we have no authority to speak
		// (RFC 5019 section 2.2.3).
		return ocsp.UnauthorizedErrorResponse
	}
	if nonce != nil {
		data.Extensions = []pkix.Extension{{Id: oidOCSPNonce, Value: nonce.Value}}
	}
	resp, err := o.sign(data)
	if err != nil {
		return ocsp.InternalErrorErrorResponse
	}
	return resp
}

func (o *Responder) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// status returns the encoded CertStatus for one CertID, and whether the
// CertID names our issuer.
func (o *Responder) status(ctx context.Context, rawID []byte) (asn1.RawValue, bool, error) {
	unknown := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2}
	var id certID
	if rest, err := asn1.Unmarshal(rawID, &id); err != nil || len(rest) > 0 || id.Serial == nil {
		return unknown, false, nil
	}
	if !o.issuedByUs(id) {
		return unknown, false, nil
	}
	st, err := o.Source.Status(ctx, id.Serial)
	if errors.Is(err, ErrUnknownCertificate) {
		return unknown, true, nil
	}
	if err != nil {
		return asn1.RawValue{}, true, err
	}
	if !st.Revoked {
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0}, true, nil
	}
	der, err := asn1.Marshal(revokedInfo{RevocationTime: st.RevokedAt.UTC().Truncate(time.Second), Reason: asn1.Enumerated(st.Reason)})
	if err != nil {
		return asn1.RawValue{}, true, err
	}
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(der, &seq); err != nil {
		return asn1.RawValue{}, true, err
	}
	// revoked [1] IMPLICIT RevokedInfo: the SEQUENCE contents under tag [1].
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: seq.Bytes}, true, nil
}

// issuedByUs compares a CertID's issuer hashes with the Issuer.
func (o *Responder) issuedByUs(id certID) bool {
	var h crypto.Hash
	switch {
	case id.HashAlgorithm.Algorithm.Equal(asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}):
		h = crypto.SHA1
	case id.HashAlgorithm.Algorithm.Equal(asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}):
		h = crypto.SHA256
	case id.HashAlgorithm.Algorithm.Equal(asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}):
		h = crypto.SHA384
	case id.HashAlgorithm.Algorithm.Equal(asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}):
		h = crypto.SHA512
	default:
		return false
	}
	name, key, err := issuerHashes(o.Issuer, h)
	if err != nil {
		return false
	}
	return bytes.Equal(name, id.NameHash) && bytes.Equal(key, id.KeyHash)
}

// issuerHashes returns the CertID hashes of an issuer: of its DER subject
// and of its public key BIT STRING contents.
func issuerHashes(issuer *x509.Certificate, h crypto.Hash) (name, key []byte, err error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, nil, err
	}
	sum := func(b []byte) []byte {
		switch h {
		case crypto.SHA1:
			s := sha1.Sum(b)
			return s[:]
		case crypto.SHA256:
			s := sha256.Sum256(b)
			return s[:]
		case crypto.SHA384:
			s := sha512.Sum384(b)
			return s[:]
		default:
			s := sha512.Sum512(b)
			return s[:]
		}
	}
	return sum(issuer.RawSubject), sum(spki.PublicKey.RightAlign()), nil
}

// sign encodes and signs a BasicOCSPResponse and wraps it in an
// OCSPResponse.
func (o *Responder) sign(data responseData) ([]byte, error) {
	tbs, err := asn1.Marshal(data)
	if err != nil {
		return nil, err
	}
	h, alg, err := signatureParams(o.Signer.Public())
	if err != nil {
		return nil, err
	}
	hh := h.New()
	hh.Write(tbs)
	sig, err := o.Signer.Sign(rand.Reader, hh.Sum(nil), h)
	if err != nil {
		return nil, fmt.Errorf("revocation: sign OCSP response: %w", err)
	}
	basic := basicResponse{
		TBSResponseData:    asn1.RawValue{FullBytes: tbs},
		SignatureAlgorithm: alg,
		Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	}
	// A delegated responder sends its certificate so clients can check it
	// chains to the issuer; the issuer itself needs no introduction.
	if !o.Certificate.Equal(o.Issuer) {
		certs, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: o.Certificate.Raw})
		if err != nil {
			return nil, err
		}
		basic.Certificates = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: certs}
	}
	basicDER, err := asn1.Marshal(basic)
	if err != nil {
		return nil, err
	}
	rb, err := asn1.Marshal(responseBytes{ResponseType: oidOCSPBasic, Response: basicDER})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(ocspResponse{
		Status:   asn1.Enumerated(ocsp.Success),
		Response: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: rb},
	})
}

// signatureParams picks the hash and signature algorithm for a key, as
// crypto/x509 does for certificates.
func signatureParams(pub crypto.PublicKey) (crypto.Hash, pkix.AlgorithmIdentifier, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return crypto.SHA256, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, Parameters: asn1.NullRawValue}, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P384():
			return crypto.SHA384, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}}, nil
		case elliptic.P521():
			return crypto.SHA512, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}}, nil
		default:
			return crypto.SHA256, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}, nil
		}
	}
	return 0, pkix.AlgorithmIdentifier{}, fmt.Errorf("revocation: unsupported key type %T", pub)
}
