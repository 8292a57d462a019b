package signer_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"testing"
	"time"

	"esign/devpki"
	"esign/hsm"
	"esign/internal/extverify"
	"esign/internal/testenv"
	"esign/signer"
)

// TestECDSAP384InHSM makes a P-384 key inside the token, has the
// development issuing CA (its key also in the token) certify it, and
// signs at B-LT with SHA-384; pdfsig, qpdf and OpenSSL must agree.
func TestECDSAP384InHSM(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	key, err := env.Keys.CreateKey(ctx, "p384-signer", hsm.ECDSAP384)
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := env.Keys.Signer(ctx, hsm.KeyRef{Label: "dev-issuing-ca"})
	if err != nil {
		t.Fatal(err)
	}
	official := env.Creds["dev-official"].Chain[0]
	cert, err := devpki.IssueCertificate(ctx, devpki.CertTemplate{
		Subject:   pkix.Name{CommonName: "นายทดสอบ กุญแจพีสามแปดสี่", Organization: []string{"esign tests"}},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:   x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		OCSPServer: official.OCSPServer, IssuingCertificateURL: official.IssuingCertificateURL,
		CRLDistributionPoints: official.CRLDistributionPoints,
	}, key.Public(), env.PKI.Issuing, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cred := signer.Credential{Signer: key, Chain: append([]*x509.Certificate{cert}, env.Creds["dev-official"].Chain[1:]...)}
	in, _ := os.ReadFile("../testdata/corpus/memo-libreoffice.pdf")
	out := signFile(t, env.Signer, in, cred, signer.Options{Level: signer.LevelLT, Hash: crypto.SHA384})
	checkExternally(t, env, extverify.NSSDB(t, env.PKI.Root), out, 1, true)
}
