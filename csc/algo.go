package csc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
)

// Algorithm OIDs of the CSC API's hashAlgorithmOID / hashAlgo and
// signAlgo, as dotted strings.
const (
	OIDSHA256 = "2.16.840.1.101.3.4.2.1"
	OIDSHA384 = "2.16.840.1.101.3.4.2.2"
	OIDSHA512 = "2.16.840.1.101.3.4.2.3"

	OIDRSA          = "1.2.840.113549.1.1.1"
	OIDRSASHA256    = "1.2.840.113549.1.1.11"
	OIDRSASHA384    = "1.2.840.113549.1.1.12"
	OIDRSASHA512    = "1.2.840.113549.1.1.13"
	OIDRSAPSS       = "1.2.840.113549.1.1.10"
	OIDMGF1         = "1.2.840.113549.1.1.8"
	OIDECPublicKey  = "1.2.840.10045.2.1"
	OIDECDSASHA256  = "1.2.840.10045.4.3.2"
	OIDECDSASHA384  = "1.2.840.10045.4.3.3"
	OIDECDSASHA512  = "1.2.840.10045.4.3.4"
	oidCurveP256    = "1.2.840.10045.3.1.7"
	oidCurveP384    = "1.3.132.0.34"
	oidCurveP521    = "1.3.132.0.35"
	maxHashesPerSAD = 1000
)

// HashOID names a supported hash by its OID; 0 if unsupported.
func HashOID(oid string) crypto.Hash {
	switch oid {
	case OIDSHA256:
		return crypto.SHA256
	case OIDSHA384:
		return crypto.SHA384
	case OIDSHA512:
		return crypto.SHA512
	}
	return 0
}

// OIDOfHash is HashOID's inverse.
func OIDOfHash(h crypto.Hash) string {
	switch h {
	case crypto.SHA256:
		return OIDSHA256
	case crypto.SHA384:
		return OIDSHA384
	case crypto.SHA512:
		return OIDSHA512
	}
	return ""
}

// hashName is how audit entries name a hash.
func hashName(h crypto.Hash) string { return h.String() }

// keyAlgos lists the signAlgo OIDs a public key can do, for
// credentials/info.
func keyAlgos(pub crypto.PublicKey) []string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return []string{OIDRSA, OIDRSASHA256, OIDRSASHA384, OIDRSASHA512, OIDRSAPSS}
	case *ecdsa.PublicKey:
		return []string{OIDECPublicKey, OIDECDSASHA256, OIDECDSASHA384, OIDECDSASHA512}
	}
	return nil
}

// keyLen is the key's size in bits, and the curve's OID for EC keys.
func keyLen(pub crypto.PublicKey) (int, string) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return k.N.BitLen(), ""
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return 256, oidCurveP256
		case elliptic.P384():
			return 384, oidCurveP384
		case elliptic.P521():
			return 521, oidCurveP521
		}
		return k.Curve.Params().BitSize, ""
	}
	return 0, ""
}

// pssParams is RSASSA-PSS-params (RFC 4055 §3.1) with its defaults
// made explicit by the caller.
type pssParams struct {
	Hash         algorithmIdentifier `asn1:"explicit,tag:0,optional"`
	MGF          algorithmIdentifier `asn1:"explicit,tag:1,optional"`
	SaltLength   int                 `asn1:"explicit,tag:2,optional,default:20"`
	TrailerField int                 `asn1:"explicit,tag:3,optional,default:1"`
}

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

// MarshalPSSParams returns the DER RSASSA-PSS-params of MGF1 with h and
// a salt as long as h: what signAlgoParams carries, base64-encoded.
func MarshalPSSParams(h crypto.Hash) ([]byte, error) {
	oid, err := parseOID(OIDOfHash(h))
	if err != nil {
		return nil, err
	}
	hashAlg := algorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue}
	inner, err := asn1.Marshal(hashAlg)
	if err != nil {
		return nil, err
	}
	mgf, _ := parseOID(OIDMGF1)
	return asn1.Marshal(pssParams{
		Hash:         hashAlg,
		MGF:          algorithmIdentifier{Algorithm: mgf, Parameters: asn1.RawValue{FullBytes: inner}},
		SaltLength:   h.Size(),
		TrailerField: 1,
	})
}

func parseOID(s string) (asn1.ObjectIdentifier, error) {
	var oid asn1.ObjectIdentifier
	var n int
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			oid = append(oid, n)
			n = 0
			continue
		}
		if s[i] < '0' || s[i] > '9' || n > 1<<24 {
			return nil, fmt.Errorf("bad OID %q", s)
		}
		n = n*10 + int(s[i]-'0')
	}
	if len(oid) < 2 {
		return nil, fmt.Errorf("bad OID %q", s)
	}
	return oid, nil
}

// parsePSS reads signAlgoParams of RSASSA-PSS: the hash, MGF1 over the
// same hash, the trailer 1 and a salt as long as the hash (what PKCS#11
// tokens and PAdES validators agree on). Anything else is refused.
func parsePSS(der []byte) (crypto.Hash, error) {
	if len(der) == 0 {
		return 0, badRequest("Missing parameter signAlgoParams: RSASSA-PSS needs its parameters")
	}
	var p pssParams
	rest, err := asn1.Unmarshal(der, &p)
	if err != nil || len(rest) != 0 {
		return 0, badRequest("Invalid parameter signAlgoParams: not DER RSASSA-PSS-params")
	}
	h := HashOID(p.Hash.Algorithm.String())
	if h == 0 {
		return 0, badRequest("Invalid parameter signAlgoParams: the hash must be SHA-256, SHA-384 or SHA-512")
	}
	if p.MGF.Algorithm.String() != OIDMGF1 {
		return 0, badRequest("Invalid parameter signAlgoParams: the mask generation function must be MGF1")
	}
	var mgfHash algorithmIdentifier
	if rest, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &mgfHash); err != nil || len(rest) != 0 || HashOID(mgfHash.Algorithm.String()) != h {
		return 0, badRequest("Invalid parameter signAlgoParams: MGF1 must use the signature's hash")
	}
	if p.SaltLength != h.Size() || p.TrailerField != 1 {
		return 0, badRequest("Invalid parameter signAlgoParams: the salt must be as long as the hash, the trailer 1")
	}
	return h, nil
}

// signOpts decides how a key signs hashes of hashOID ("" when not
// given) under signAlgo with params: the hash the digests must be and the
// crypto.SignerOpts. A signAlgo that names a hash must agree with
// hashOID when both are given.
func signOpts(pub crypto.PublicKey, signAlgo, hashOID string, params []byte) (crypto.Hash, crypto.SignerOpts, error) {
	given := HashOID(hashOID)
	if hashOID != "" && given == 0 {
		return 0, nil, badRequest("Invalid parameter hashAlgorithmOID: SHA-256, SHA-384 or SHA-512 (%s, %s, %s)", OIDSHA256, OIDSHA384, OIDSHA512)
	}
	_, isRSA := pub.(*rsa.PublicKey)
	_, isEC := pub.(*ecdsa.PublicKey)
	var implied crypto.Hash
	pss := false
	switch signAlgo {
	case "":
		return 0, nil, badRequest("Missing parameter signAlgo")
	case OIDRSA, OIDECPublicKey:
	case OIDRSASHA256, OIDECDSASHA256:
		implied = crypto.SHA256
	case OIDRSASHA384, OIDECDSASHA384:
		implied = crypto.SHA384
	case OIDRSASHA512, OIDECDSASHA512:
		implied = crypto.SHA512
	case OIDRSAPSS:
		h, err := parsePSS(params)
		if err != nil {
			return 0, nil, err
		}
		implied, pss = h, true
	default:
		return 0, nil, badRequest("Invalid parameter signAlgo: %.64q is not supported", signAlgo)
	}
	rsaAlgo := signAlgo == OIDRSA || signAlgo == OIDRSAPSS || signAlgo == OIDRSASHA256 || signAlgo == OIDRSASHA384 || signAlgo == OIDRSASHA512
	if rsaAlgo && !isRSA || !rsaAlgo && !isEC {
		return 0, nil, badRequest("Invalid parameter signAlgo: the credential's key cannot sign with %s", signAlgo)
	}
	h := implied
	switch {
	case h == 0 && given == 0:
		return 0, nil, badRequest("Missing parameter hashAlgorithmOID: signAlgo %s names no hash", signAlgo)
	case h == 0:
		h = given
	case given != 0 && given != h:
		return 0, nil, badRequest("Invalid parameter hashAlgorithmOID: it disagrees with signAlgo")
	}
	if pss {
		return h, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}, nil
	}
	return h, h, nil
}
