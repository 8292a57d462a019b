package devpki

import (
	"crypto/x509"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"

	"esign/revocation"
	"esign/tsa"
)

// Handler serves the PKI under the paths it put in its certificates:
//
//	/pki/root.crt, /pki/issuing.crt  the CA certificates (DER, application/pkix-cert)
//	/pki/ocsp                        OCSP for the issuing CA, signed by dev-ocsp (POST, or GET /pki/ocsp/<base64>)
//	/pki/root.crl, /pki/issuing.crl  CRLs signed by each CA
//	/tsa                             an RFC 3161 time-stamping authority signing with dev-tsa
//
// statusFile is the revocation status file to serve; empty means
// StatusFile(), the one Revoke writes. Other paths get 404.
func (p *PKI) Handler(statusFile string) http.Handler {
	status := p.status
	if statusFile != "" && filepath.Clean(statusFile) != filepath.Clean(p.status.Path) {
		status = &revocation.FileSource{Path: statusFile}
	}
	ocspCred := p.Credentials[OCSP]
	responder := &revocation.Responder{
		Issuer:      p.Issuing,
		Certificate: ocspCred.Certificate(),
		Signer:      ocspCred.Signer,
		Source:      status.ForIssuer(p.Issuing),
		Now:         p.now,
	}
	issuingCRL := &revocation.CRLHandler{Issuer: p.Issuing, Signer: p.issuingKey, Source: status.ForIssuer(p.Issuing), Now: p.now}
	rootCRL := &revocation.CRLHandler{Issuer: p.Root, Signer: p.rootKey, Source: status.ForIssuer(p.Root), Now: p.now}
	tsaCred := p.Credentials[TSA]
	timestamps := &tsa.Server{
		Signer:      tsaCred.Signer,
		Certificate: tsaCred.Certificate(),
		Chain:       []*x509.Certificate{p.Issuing},
		Now:         p.now,
	}
	// Dispatch by hand: http.ServeMux would clean GET OCSP paths, whose
	// base64 may hold "//", and answer them with a redirect.
	ocspHandler := http.StripPrefix(PathOCSP, responder)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch path := r.URL.Path; {
		case path == PathRootCert:
			serveCert(w, r, p.Root)
		case path == PathIssuingCert:
			serveCert(w, r, p.Issuing)
		case path == PathOCSP || strings.HasPrefix(path, PathOCSP+"/"):
			ocspHandler.ServeHTTP(w, r)
		case path == PathRootCRL:
			rootCRL.ServeHTTP(w, r)
		case path == PathIssuingCRL:
			issuingCRL.ServeHTTP(w, r)
		case path == PathTSA:
			timestamps.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

func serveCert(w http.ResponseWriter, r *http.Request, c *x509.Certificate) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-cert")
	w.Header().Set("Content-Length", strconv.Itoa(len(c.Raw)))
	if r.Method == http.MethodGet {
		w.Write(c.Raw)
	}
}
