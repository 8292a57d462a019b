package extverify

import "testing"

func TestPDFSigSharedCertBug(t *testing.T) {
	const a, b = "CN=A,C=TH", "CN=B,C=TH"
	trusted := "Certificate is Trusted."
	sig := func(dn, status string) PDFSigSignature { return PDFSigSignature{SubjectDN: dn, CertStatus: status} }
	cases := []struct {
		name string
		sigs []PDFSigSignature
		i    int
		want bool
	}{
		{"same signer earlier", []PDFSigSignature{sig(a, trusted), sig(b, trusted), sig(a, PDFSigUnknownIssue)}, 2, true},
		{"first signature", []PDFSigSignature{sig(a, PDFSigUnknownIssue)}, 0, false},
		{"other signers only", []PDFSigSignature{sig(b, trusted), sig(a, PDFSigUnknownIssue)}, 1, false},
		{"same signer later only", []PDFSigSignature{sig(a, PDFSigUnknownIssue), sig(a, trusted)}, 0, false},
		{"another error", []PDFSigSignature{sig(a, trusted), sig(a, "Certificate has been Revoked.")}, 1, false},
		{"no subject", []PDFSigSignature{sig("", trusted), sig("", PDFSigUnknownIssue)}, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := PDFSigSharedCertBug(c.sigs, c.i); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}
