package hsm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"testing"
)

func TestAlgorithmOf(t *testing.T) {
	for _, alg := range Algorithms() {
		bits, curve, err := alg.keySpec()
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		var pub any
		if curve != nil {
			k, err := ecdsa.GenerateKey(curve, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			pub = k.Public()
		} else {
			pub = &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), uint(bits-1)), E: 65537}
		}
		if got := algorithmOf(pub); got != alg {
			t.Errorf("algorithmOf(%s key) = %s", alg, got)
		}
	}
	k, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if got := algorithmOf(k.Public()); got != "ECDSA-P521" {
		t.Errorf("algorithmOf(P-521 key) = %s", got)
	}
}
