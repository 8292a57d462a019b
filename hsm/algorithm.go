package hsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"strings"
)

// Algorithm names a key type and size.
type Algorithm string

// Algorithms CreateKey can generate.
const (
	RSA2048   Algorithm = "RSA-2048"
	RSA3072   Algorithm = "RSA-3072"
	RSA4096   Algorithm = "RSA-4096"
	ECDSAP256 Algorithm = "ECDSA-P256"
	ECDSAP384 Algorithm = "ECDSA-P384"
)

// Algorithms lists what CreateKey accepts, in a stable order for help texts.
func Algorithms() []Algorithm {
	return []Algorithm{RSA2048, RSA3072, RSA4096, ECDSAP256, ECDSAP384}
}

// keySpec returns the RSA modulus size or the curve for a generatable algorithm.
func (a Algorithm) keySpec() (rsaBits int, curve elliptic.Curve, err error) {
	switch a {
	case RSA2048:
		return 2048, nil, nil
	case RSA3072:
		return 3072, nil, nil
	case RSA4096:
		return 4096, nil, nil
	case ECDSAP256:
		return 0, elliptic.P256(), nil
	case ECDSAP384:
		return 0, elliptic.P384(), nil
	}
	return 0, nil, fmt.Errorf("hsm: unsupported algorithm %q (want one of %v)", string(a), Algorithms())
}

// algorithmOf describes an existing public key, including sizes CreateKey
// does not generate (a token may hold keys made by other tools).
func algorithmOf(pub crypto.PublicKey) Algorithm {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return Algorithm(fmt.Sprintf("RSA-%d", k.N.BitLen()))
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ECDSAP256
		case elliptic.P384():
			return ECDSAP384
		}
		// "P-521" becomes "ECDSA-P521", in the style of the constants.
		return Algorithm("ECDSA-" + strings.ReplaceAll(k.Curve.Params().Name, "-", ""))
	}
	return Algorithm(fmt.Sprintf("%T", pub))
}
