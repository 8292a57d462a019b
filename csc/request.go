package csc

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"

	"esign/tsa"
)

// Version is the API version of a request: its path's /csc/v1 or
// /csc/v2.
type Version int

const (
	V1 Version = 1
	V2 Version = 2
)

// The request bodies, in each version's field names. Members the
// specification has and this server does not use (clientData, lang,
// description, …) are accepted and ignored, as CSC clients send them.

type authorizeV1 struct {
	CredentialID  string   `json:"credentialID"`
	NumSignatures *int     `json:"numSignatures"`
	Hash          []string `json:"hash"`
	PIN           string   `json:"PIN"`
	OTP           string   `json:"OTP"`
}

type authorizeV2 struct {
	CredentialID     string   `json:"credentialID"`
	NumSignatures    *int     `json:"numSignatures"`
	Hashes           []string `json:"hashes"`
	HashAlgorithmOID string   `json:"hashAlgorithmOID"`
	AuthData         []struct {
		ID    string `json:"id"`
		Value string `json:"value"`
	} `json:"authData"`
}

type signHashV1 struct {
	CredentialID   string   `json:"credentialID"`
	SAD            string   `json:"SAD"`
	Hash           []string `json:"hash"`
	HashAlgo       string   `json:"hashAlgo"`
	SignAlgo       string   `json:"signAlgo"`
	SignAlgoParams string   `json:"signAlgoParams"`
}

type signHashV2 struct {
	CredentialID     string   `json:"credentialID"`
	SAD              string   `json:"SAD"`
	Hashes           []string `json:"hashes"`
	HashAlgorithmOID string   `json:"hashAlgorithmOID"`
	SignAlgo         string   `json:"signAlgo"`
	SignAlgoParams   string   `json:"signAlgoParams"`
	OperationMode    string   `json:"operationMode"`
}

// AuthorizeRequest is credentials/authorize in either version.
type AuthorizeRequest struct {
	CredentialID  string
	NumSignatures int
	Hashes        [][]byte
	HashOID       string // v2's hashAlgorithmOID; "" in v1
	PIN, OTP      string
}

// SignHashRequest is signatures/signHash in either version.
type SignHashRequest struct {
	CredentialID, SAD string
	Hashes            [][]byte
	HashOID           string
	SignAlgo          string
	SignAlgoParams    []byte
}

// CredentialInfoRequest is credentials/info.
type CredentialInfoRequest struct {
	CredentialID string `json:"credentialID"`
	Certificates string `json:"certificates"` // none, single (default) or chain
	CertInfo     bool   `json:"certInfo"`
	AuthInfo     bool   `json:"authInfo"`
}

// ListRequest is credentials/list.
type ListRequest struct {
	CredentialInfo bool   `json:"credentialInfo"` // v2: also the credentials' infos
	Certificates   string `json:"certificates"`
	CertInfo       bool   `json:"certInfo"`
	AuthInfo       bool   `json:"authInfo"`
	MaxResults     *int   `json:"maxResults"`
}

// TimestampRequest is signatures/timestamp. The hash's algorithm is
// v1's hashAlgo or v2's hashAlgorithmOID; both versions take either.
type TimestampRequest struct {
	Hash             string `json:"hash"`
	HashAlgo         string `json:"hashAlgo"`
	HashAlgorithmOID string `json:"hashAlgorithmOID"`
	// Nonce is the RFC 3161 nonce in hexadecimal digits, which the token
	// carries.
	Nonce string `json:"nonce"`
}

// Timestamp is a parsed signatures/timestamp request.
type Timestamp struct {
	Digest []byte
	Hash   crypto.Hash
	Nonce  *big.Int // nil: none asked for
}

// SignDocRequest is v2's signatures/signDoc, one or more PDFs.
type SignDocRequest struct {
	CredentialID    string     `json:"credentialID"`
	SAD             string     `json:"SAD"`
	Documents       []Document `json:"documents"`
	DocumentDigests []any      `json:"documentDigests"`
	OperationMode   string     `json:"operationMode"`
}

// Document is one of signDoc's documents.
type Document struct {
	Document         string `json:"document"`
	SignatureFormat  string `json:"signature_format"`
	ConformanceLevel string `json:"conformance_level"`
	SignAlgo         string `json:"signAlgo"`
	SignAlgoParams   string `json:"signAlgoParams"`
}

// decode reads one JSON object into v. An empty body is an empty object:
// every member of info and credentials/list is optional.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(v); err != nil {
		return badRequest("the body is not the JSON object this method takes: %s", jsonProblem(err))
	}
	if d.More() {
		return badRequest("the body holds more than one JSON value")
	}
	return nil
}

// jsonProblem says what is wrong without echoing the client's values.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if ok := asType(err, &te); ok {
		return "member " + te.Field + " has the wrong type"
	}
	var se *json.SyntaxError
	if asType(err, &se) {
		return "syntax error"
	}
	return "malformed"
}

func asType[T any](err error, target *T) bool {
	t, ok := err.(T)
	if ok {
		*target = t
	}
	return ok
}

// decodeHashes reads base64 hashes (standard alphabet, padded or not;
// the URL-safe one too, which some clients send).
func decodeHashes(name string, in []string) ([][]byte, error) {
	if len(in) > maxHashesPerSAD {
		return nil, badRequest("Invalid parameter %s: at most %d hashes", name, maxHashesPerSAD)
	}
	out := make([][]byte, len(in))
	for i, s := range in {
		b, err := decodeB64(s)
		if err != nil || len(b) == 0 {
			return nil, badRequest("Invalid parameter %s: hash %d is not base64", name, i+1)
		}
		out[i] = b
	}
	return out, nil
}

func decodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// ParseAuthorize reads credentials/authorize in version v's shape.
func ParseAuthorize(v Version, body []byte) (*AuthorizeRequest, error) {
	r := &AuthorizeRequest{}
	var num *int
	var hashes []string
	switch v {
	case V1:
		var in authorizeV1
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		r.CredentialID, num, hashes, r.PIN, r.OTP = in.CredentialID, in.NumSignatures, in.Hash, in.PIN, in.OTP
	default:
		var in authorizeV2
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		r.CredentialID, num, hashes, r.HashOID = in.CredentialID, in.NumSignatures, in.Hashes, in.HashAlgorithmOID
		for _, a := range in.AuthData {
			switch strings.ToUpper(a.ID) {
			case "PIN":
				r.PIN = a.Value
			case "OTP":
				r.OTP = a.Value
			default:
				return nil, badRequest("Invalid parameter authData: unknown id %.32q (want PIN or OTP)", a.ID)
			}
		}
	}
	if r.CredentialID == "" {
		return nil, badRequest("Missing (or invalid type) string parameter credentialID")
	}
	if num == nil {
		return nil, badRequest("Missing (or invalid type) integer parameter numSignatures")
	}
	if *num < 1 || *num > maxHashesPerSAD {
		return nil, badRequest("Invalid parameter numSignatures")
	}
	r.NumSignatures = *num
	name := map[Version]string{V1: "hash", V2: "hashes"}[v]
	var err error
	if r.Hashes, err = decodeHashes(name, hashes); err != nil {
		return nil, err
	}
	if len(r.Hashes) > 0 && len(r.Hashes) != r.NumSignatures {
		return nil, badRequest("Invalid parameter %s: as many hashes as numSignatures are needed", name)
	}
	return r, nil
}

// ParseSignHash reads signatures/signHash in version v's shape.
func ParseSignHash(v Version, body []byte) (*SignHashRequest, error) {
	r := &SignHashRequest{}
	var hashes []string
	var params string
	switch v {
	case V1:
		var in signHashV1
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		r.CredentialID, r.SAD, hashes, r.HashOID, r.SignAlgo, params = in.CredentialID, in.SAD, in.Hash, in.HashAlgo, in.SignAlgo, in.SignAlgoParams
	default:
		var in signHashV2
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		if in.OperationMode != "" && in.OperationMode != "S" {
			return nil, badRequest("Invalid parameter operationMode: only S (synchronous) is offered")
		}
		r.CredentialID, r.SAD, hashes, r.HashOID, r.SignAlgo, params = in.CredentialID, in.SAD, in.Hashes, in.HashAlgorithmOID, in.SignAlgo, in.SignAlgoParams
	}
	name := map[Version]string{V1: "hash", V2: "hashes"}[v]
	switch {
	case r.CredentialID == "":
		return nil, badRequest("Missing (or invalid type) string parameter credentialID")
	case r.SAD == "":
		return nil, badRequest("Missing (or invalid type) string parameter SAD")
	case len(hashes) == 0:
		return nil, badRequest("Missing (or invalid type) array parameter %s", name)
	case r.SignAlgo == "":
		return nil, badRequest("Missing (or invalid type) string parameter signAlgo")
	}
	var err error
	if r.Hashes, err = decodeHashes(name, hashes); err != nil {
		return nil, err
	}
	if params != "" {
		if r.SignAlgoParams, err = decodeB64(params); err != nil {
			return nil, badRequest("Invalid parameter signAlgoParams: not base64")
		}
	}
	return r, nil
}

// ParseCredentialInfo reads credentials/info.
func ParseCredentialInfo(body []byte) (*CredentialInfoRequest, error) {
	r := &CredentialInfoRequest{}
	if err := decode(body, r); err != nil {
		return nil, err
	}
	if r.CredentialID == "" {
		return nil, badRequest("Missing (or invalid type) string parameter credentialID")
	}
	var err error
	r.Certificates, err = certificatesParam(r.Certificates)
	return r, err
}

// ParseList reads credentials/list.
func ParseList(body []byte) (*ListRequest, error) {
	r := &ListRequest{}
	if err := decode(body, r); err != nil {
		return nil, err
	}
	if r.MaxResults != nil && *r.MaxResults < 1 {
		return nil, badRequest("Invalid parameter maxResults")
	}
	var err error
	r.Certificates, err = certificatesParam(r.Certificates)
	return r, err
}

// ParseTimestamp reads signatures/timestamp: the hash, its algorithm
// and the nonce, if any.
func ParseTimestamp(body []byte) (*Timestamp, error) {
	var r TimestampRequest
	if err := decode(body, &r); err != nil {
		return nil, err
	}
	if r.Hash == "" {
		return nil, badRequest("Missing (or invalid type) string parameter hash")
	}
	oid := r.HashAlgorithmOID
	if oid == "" {
		oid = r.HashAlgo
	} else if r.HashAlgo != "" && r.HashAlgo != oid {
		return nil, badRequest("Invalid parameter hashAlgorithmOID: hashAlgo names another algorithm")
	}
	h := HashOID(oid)
	if h == 0 {
		return nil, badRequest("Invalid parameter hashAlgorithmOID (hashAlgo): SHA-256, SHA-384 or SHA-512 by OID")
	}
	b, err := decodeB64(r.Hash)
	if err != nil || len(b) != h.Size() {
		return nil, badRequest("Invalid parameter hash: not a base64 %s value", h)
	}
	ts := &Timestamp{Digest: b, Hash: h}
	if r.Nonce != "" {
		n, ok := new(big.Int).SetString(r.Nonce, 16)
		if !ok || len(r.Nonce) > tsa.MaxNonceBits/4 || n.Sign() <= 0 {
			return nil, badRequest("Invalid parameter nonce: a positive number of at most %d hexadecimal digits", tsa.MaxNonceBits/4)
		}
		ts.Nonce = n
	}
	return ts, nil
}

// ParseSignDoc reads signatures/signDoc; the documents stay base64 until
// signed, one at a time.
func ParseSignDoc(body []byte) (*SignDocRequest, error) {
	r := &SignDocRequest{}
	if err := decode(body, r); err != nil {
		return nil, err
	}
	switch {
	case r.CredentialID == "":
		return nil, badRequest("Missing (or invalid type) string parameter credentialID")
	case r.SAD == "":
		return nil, badRequest("Missing (or invalid type) string parameter SAD")
	case len(r.DocumentDigests) > 0:
		return nil, badRequest("Invalid parameter documentDigests: send the PDFs in documents")
	case len(r.Documents) == 0:
		return nil, badRequest("Missing (or invalid type) array parameter documents")
	case len(r.Documents) > 100:
		return nil, badRequest("Invalid parameter documents: at most 100")
	case r.OperationMode != "" && r.OperationMode != "S":
		return nil, badRequest("Invalid parameter operationMode: only S (synchronous) is offered")
	}
	for i, d := range r.Documents {
		if d.SignatureFormat != "P" {
			return nil, badRequest("Invalid parameter signature_format of document %d: only P (PAdES) is offered", i+1)
		}
		if _, err := levelOf(d.ConformanceLevel); err != nil {
			return nil, err
		}
		if d.Document == "" {
			return nil, badRequest("Missing parameter document of document %d", i+1)
		}
	}
	return r, nil
}

// certificatesParam checks the "certificates" member of credentials/info
// and credentials/list: none, single (the default) or chain.
func certificatesParam(v string) (string, error) {
	switch v {
	case "":
		return "single", nil
	case "none", "single", "chain":
		return v, nil
	}
	return "", badRequest("Invalid parameter certificates (want none, single or chain)")
}
