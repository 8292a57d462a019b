package csc

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"esign/activation"
	"esign/api"
	"esign/audit"
	"esign/signer"
	"esign/store"
	"esign/tsa"
)

// Specification versions answered by info.
const (
	specV1 = "1.0.4.0"
	specV2 = "2.0.0.2"
)

func (s *Server) methods(v Version) []string {
	m := []string{"auth/login", "auth/revoke", "credentials/list", "credentials/info", "credentials/authorize", "signatures/signHash"}
	if s.cfg.TSA != nil {
		m = append(m, "signatures/timestamp")
	}
	if v == V2 && s.cfg.Signer != nil {
		m = append(m, "signatures/signDoc")
	}
	return m
}

func (s *Server) info(v Version) gin.HandlerFunc {
	return func(c *gin.Context) {
		out := gin.H{
			"specs": specV2, "name": s.cfg.Name, "logo": "", "region": "TH", "lang": "th-TH",
			"description": "esign: PAdES signing for Thai government documents",
			"authType":    []string{"basic", "external"}, "methods": s.methods(v),
		}
		if v == V1 {
			out["specs"] = specV1
		} else {
			out["signAlgorithms"] = gin.H{"algos": []string{OIDRSA, OIDRSASHA256, OIDRSASHA384, OIDRSASHA512, OIDRSAPSS,
				OIDECPublicKey, OIDECDSASHA256, OIDECDSASHA384, OIDECDSASHA512}}
			out["signature_formats"] = gin.H{"formats": []string{"P"}}
			out["conformance_levels"] = []string{"AdES-B-B", "AdES-B-T", "AdES-B-LT", "AdES-B-LTA"}
		}
		c.JSON(http.StatusOK, out)
	}
}

// login answers an access token for HTTP Basic client name and API key.
func (s *Server) login(c *gin.Context) {
	ctx := c.Request.Context()
	name, key, ok := c.Request.BasicAuth()
	if !ok {
		fail(c, store.ErrUnauthenticated)
		return
	}
	cl, err := s.cfg.Store.Authenticate(ctx, key)
	if err == nil && cl.Name != name {
		err = store.ErrUnauthenticated
	}
	if err != nil {
		fail(c, err)
		return
	}
	api.SetClient(c, cl)
	tok, err := s.issueToken(ctx, cl)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"access_token": tok, "expires_in": int(s.cfg.TokenLifetime.Seconds())})
}

// revoke ends an auth/login token early (the one presented, or the one
// in "token").
func (s *Server) revoke(c *gin.Context) {
	ctx := c.Request.Context()
	b, err := s.body(c)
	if err != nil {
		fail(c, err)
		return
	}
	var in struct {
		Token string `json:"token"`
	}
	if err := decode(b, &in); err != nil {
		fail(c, err)
		return
	}
	if in.Token == "" {
		in.Token, _ = api.BearerToken(c.GetHeader("Authorization"))
	}
	err = s.cfg.Store.WithTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM csc_tokens WHERE token_hash = ? AND client = ?", hashSecret(in.Token), clientOf(c).Name)
		return err
	})
	if err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) list(v Version) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		req, ok := parseBody(s, c, ParseList)
		if !ok {
			return
		}
		cl := clientOf(c)
		ids := []string{}
		var infos []gin.H
		for _, name := range cl.Credentials {
			cred, err := s.cfg.Store.Authorize(ctx, cl, name)
			if err != nil {
				continue // disabled since: not the client's to use now
			}
			if req.MaxResults != nil && len(ids) >= *req.MaxResults {
				break
			}
			ids = append(ids, name)
			if v == V2 && req.CredentialInfo {
				key, err := s.cfg.Keys.Resolve(ctx, cred)
				if err != nil {
					fail(c, err)
					return
				}
				info := s.describe(v, cred, key, &CredentialInfoRequest{Certificates: req.Certificates, CertInfo: req.CertInfo, AuthInfo: req.AuthInfo})
				info["credentialID"] = name
				infos = append(infos, info)
			}
		}
		out := gin.H{"credentialIDs": ids}
		if infos != nil {
			out["credentialInfos"] = infos
		}
		c.JSON(http.StatusOK, out)
	}
}

func (s *Server) credentialInfo(v Version) gin.HandlerFunc {
	return func(c *gin.Context) {
		req, ok := parseBody(s, c, ParseCredentialInfo)
		if !ok {
			return
		}
		cred, key, err := s.credential(c.Request.Context(), clientOf(c), req.CredentialID)
		if err != nil {
			fail(c, err)
			return
		}
		api.SetCredential(c, cred.Name)
		c.JSON(http.StatusOK, s.describe(v, cred, key, req))
	}
}

// describe is credentials/info's answer in version v's shape. The
// certificate details and authorisation are always given: clients that
// did not ask ignore them.
func (s *Server) describe(v Version, cred *store.Credential, key signer.Credential, req *CredentialInfoRequest) gin.H {
	pub := key.Signer.Public()
	bits, curve := keyLen(pub)
	k := gin.H{"status": "enabled", "algo": keyAlgos(pub), "len": bits}
	if curve != "" {
		k["curve"] = curve
	}
	leaf := key.Chain[0]
	var certs []string
	switch req.Certificates {
	case "single", "":
		certs = []string{base64.StdEncoding.EncodeToString(leaf.Raw)}
	case "chain":
		for _, c := range key.Chain {
			certs = append(certs, base64.StdEncoding.EncodeToString(c.Raw))
		}
	}
	cert := gin.H{
		"status": certStatus(leaf, s.now()), "issuerDN": leaf.Issuer.String(), "subjectDN": leaf.Subject.String(),
		"serialNumber": strings.ToUpper(leaf.SerialNumber.Text(16)),
		"validFrom":    leaf.NotBefore.UTC().Format(generalizedTime), "validTo": leaf.NotAfter.UTC().Format(generalizedTime),
	}
	if certs != nil {
		cert["certificates"] = certs
	}
	out := gin.H{
		"description": strings.TrimSpace(cred.DisplayName + " " + cred.Position),
		"key":         k, "cert": cert, "multisign": s.cfg.MultiSign, "lang": "th-TH",
	}
	if v == V1 {
		out["SCAL"] = scal(cred)
		switch cred.Activation {
		case store.ActivationNone:
			out["authMode"] = "implicit"
		case store.ActivationPIN:
			out["authMode"] = "explicit"
			out["PIN"] = gin.H{"presence": "true", "format": "N", "label": "PIN", "description": "the signer's PIN"}
		case store.ActivationTOTP:
			out["authMode"] = "explicit"
			out["PIN"] = gin.H{"presence": "false"}
			out["OTP"] = gin.H{"presence": "true", "type": "offline", "format": "N", "label": "OTP", "ID": "totp",
				"provider": "RFC 6238", "description": "a code from the signer's authenticator app"}
		}
		return out
	}
	out["scal"] = scal(cred)
	switch cred.Activation {
	case store.ActivationNone:
		out["auth"] = gin.H{"mode": "implicit"}
	case store.ActivationPIN:
		out["auth"] = gin.H{"mode": "explicit", "expression": "PIN", "objects": []gin.H{
			{"type": "Password", "id": "PIN", "format": "N", "label": "PIN", "description": "the signer's PIN"}}}
	case store.ActivationTOTP:
		out["auth"] = gin.H{"mode": "explicit", "expression": "OTP", "objects": []gin.H{
			{"type": "Password", "id": "OTP", "format": "N", "label": "OTP", "generator": "totp",
				"description": "a code from the signer's authenticator app"}}}
	}
	return out
}

// generalizedTime is the form of validFrom and validTo (X.680
// GeneralizedTime, as the specification's examples write it).
const generalizedTime = "20060102150405Z"

func certStatus(c *x509.Certificate, now time.Time) string {
	switch {
	case now.After(c.NotAfter):
		return "expired"
	case now.Before(c.NotBefore):
		return "suspended"
	}
	return "valid"
}

// hashKey is how a SAD pins a hash: the hash function and the value.
func hashKey(h crypto.Hash, v []byte) string {
	return OIDOfHash(h) + ":" + hex.EncodeToString(v)
}

// hashSize finds the hash of a pinned value by its length, when
// authorize names no algorithm (v1).
func hashBySize(n int) crypto.Hash {
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		if h.Size() == n {
			return h
		}
	}
	return 0
}

func (s *Server) authorize(v Version) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		cl := clientOf(c)
		entry := audit.Entry{RequestID: api.RequestID(c), Client: cl.Name, Action: audit.ActionAuthorize}
		req, ok := parseBody(s, c, func(b []byte) (*AuthorizeRequest, error) { return ParseAuthorize(v, b) })
		if !ok {
			return
		}
		cred, err := s.cfg.Store.Authorize(ctx, cl, req.CredentialID)
		if err != nil {
			fail(c, err)
			return
		}
		api.SetCredential(c, cred.Name)
		entry.Credential = cred.Name
		g, err := s.grant(cl, cred, req)
		if err != nil {
			s.recordFailure(c, entry, err)
			fail(c, err)
			return
		}
		entry.Reason = pinnedReason(req.NumSignatures, g.hashes)
		// The activation counts toward the credential's lockout, shared
		// with /api/v1/sign. Activation none needs no data, but still
		// this call.
		data := req.PIN
		if cred.Activation == store.ActivationTOTP {
			data = req.OTP
		}
		if err := s.cfg.Activator.Activate(ctx, cred.Name, data); err != nil {
			err = activationError(cred.Activation, data, err)
			s.recordFailure(c, entry, err)
			fail(c, err)
			return
		}
		sad, err := s.issueSAD(ctx, *g)
		if err != nil {
			fail(c, err)
			return
		}
		entry.Result = audit.Success
		if err := s.record(ctx, entry); err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"SAD": sad, "expiresIn": int(s.cfg.SADLifetime.Seconds())})
	}
}

// grant checks an authorisation request against the credential.
func (s *Server) grant(cl *store.Client, cred *store.Credential, req *AuthorizeRequest) (*grant, error) {
	if req.NumSignatures > s.cfg.MultiSign {
		return nil, badRequest("Invalid parameter numSignatures: this credential allows at most %d (multisign)", s.cfg.MultiSign)
	}
	g := &grant{client: cl.Name, credential: cred.Name, num: req.NumSignatures, expires: s.now().Add(s.cfg.SADLifetime)}
	for i, v := range req.Hashes {
		h := HashOID(req.HashOID)
		if req.HashOID == "" {
			h = hashBySize(len(v))
		}
		if h == 0 || len(v) != h.Size() {
			return nil, badRequest("Invalid parameter hashes: hash %d is not a SHA-256, SHA-384 or SHA-512 value (hashAlgorithmOID)", i+1)
		}
		g.hashes = append(g.hashes, hashKey(h, v))
	}
	// Under SCAL 2 the authorisation is for the exact hashes; without
	// them it is good only for signDoc, whose hashes the server makes
	// from the documents sent with the SAD.
	g.docOnly = scal(cred) == "2" && len(g.hashes) == 0
	return g, nil
}

// pinnedReason is an authorize entry's Reason: the count, and the hashes
// as far as they fit.
func pinnedReason(n int, hashes []string) string {
	r := fmt.Sprintf("numSignatures=%d", n)
	for _, h := range hashes {
		if len(r)+len(h)+1 > audit.MaxReasonLen {
			break
		}
		r += " " + h
	}
	return r
}

// activationError gives wrong activation data the CSC code of its kind;
// missing data is an invalid request (it does not count as a failure).
func activationError(mode store.ActivationMode, data string, err error) error {
	var locked *activation.LockedError
	switch {
	case errors.As(err, &locked), !errors.Is(err, activation.ErrActivationFailed):
		return err
	case data == "":
		return badRequest("Missing activation data: this credential needs its %s", map[store.ActivationMode]string{store.ActivationPIN: "PIN", store.ActivationTOTP: "OTP"}[mode])
	case mode == store.ActivationTOTP:
		return &Error{Status: http.StatusBadRequest, Code: codeInvalidOTP, Description: "The OTP is invalid"}
	}
	return &Error{Status: http.StatusBadRequest, Code: codeInvalidPIN, Description: "The PIN is invalid"}
}

// signHash signs each hash with the credential's key, once the SAD
// allows them all. Nothing signs before every check passed; the SAD is
// spent once a signing slot is held and before the key is used, so a
// busy service leaves it whole, and a key failure after cannot be
// retried with it.
func (s *Server) signHash(v Version) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		cl := clientOf(c)
		entry := audit.Entry{RequestID: api.RequestID(c), Client: cl.Name, Action: audit.ActionSignHash}
		req, ok := parseBody(s, c, func(b []byte) (*SignHashRequest, error) { return ParseSignHash(v, b) })
		if !ok {
			return
		}
		cred, key, err := s.credential(ctx, cl, req.CredentialID)
		if err != nil {
			fail(c, err)
			return
		}
		api.SetCredential(c, cred.Name)
		entry.Credential = cred.Name
		h, opts, err := signOpts(key.Signer.Public(), req.SignAlgo, req.HashOID, req.SignAlgoParams)
		if err != nil {
			s.recordFailure(c, entry, err)
			fail(c, err)
			return
		}
		pins := make([]string, len(req.Hashes))
		for i, v := range req.Hashes {
			if len(v) != h.Size() {
				err := badRequest("Invalid parameter hashes: hash %d is %d bytes, %s needs %d", i+1, len(v), h, h.Size())
				s.recordFailure(c, entry, err)
				fail(c, err)
				return
			}
			pins[i] = hashKey(h, v)
		}
		// The slot first: a busy service must not spend the SAD, which
		// under SCAL 2 would cost the signer a new PIN or code.
		release, err := s.acquire(ctx)
		if err != nil {
			s.recordFailure(c, entry, err)
			fail(c, err)
			return
		}
		if err := s.useSAD(ctx, req.SAD, cl.Name, cred.Name, pins, false); err != nil {
			release()
			s.recordFailure(c, entry, err)
			fail(c, err)
			return
		}
		sigs, err := signAll(key.Signer, req.Hashes, opts)
		release()
		if err != nil {
			err = &signer.KeyError{Err: err}
			s.recordFailure(c, entry, err)
			fail(c, err)
			return
		}
		entries := make([]audit.Entry, len(req.Hashes))
		out := make([]string, len(sigs))
		for i, v := range req.Hashes {
			e := entry
			e.Result, e.Reason = audit.Success, hashName(h)+" "+hex.EncodeToString(v)
			entries[i] = e
			out[i] = base64.StdEncoding.EncodeToString(sigs[i])
		}
		if err := s.record(ctx, entries...); err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"signatures": out})
	}
}

func signAll(k crypto.Signer, hashes [][]byte, opts crypto.SignerOpts) ([][]byte, error) {
	out := make([][]byte, len(hashes))
	for i, h := range hashes {
		sig, err := k.Sign(rand.Reader, h, opts)
		if err != nil {
			return nil, fmt.Errorf("sign hash %d: %w", i+1, err)
		}
		out[i] = sig
	}
	return out, nil
}

// timestamp answers an RFC 3161 token of the configured TSA.
func (s *Server) timestamp(c *gin.Context) {
	ctx := c.Request.Context()
	cl := clientOf(c)
	if s.cfg.TSA == nil {
		fail(c, badRequest("this service offers no timestamps"))
		return
	}
	req, ok := parseBody(s, c, ParseTimestamp)
	if !ok {
		return
	}
	entry := audit.Entry{RequestID: api.RequestID(c), Client: cl.Name, Action: audit.ActionTimestamp,
		Reason: hashName(req.Hash) + " " + hex.EncodeToString(req.Digest)}
	// The token carries the client's nonce, as the specification asks;
	// without one, the TSA client picks its own.
	tok, err := s.cfg.TSA.TimestampWith(ctx, req.Digest, req.Hash, tsa.TimestampOptions{Nonce: req.Nonce})
	if err != nil {
		err = fmt.Errorf("%w: %w", signer.ErrUnavailable, err)
		s.recordFailure(c, entry, err)
		fail(c, err)
		return
	}
	entry.Result = audit.Success
	if err := s.record(ctx, entry); err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"timestamp": base64.StdEncoding.EncodeToString(tok.DER)})
}

// levelOf maps conformance_level to the signer's level.
func levelOf(s string) (signer.Level, error) {
	switch strings.ToUpper(s) {
	case "", "ADES-B-B", "ADES-B":
		return signer.LevelB, nil
	case "ADES-B-T", "ADES-T":
		return signer.LevelT, nil
	case "ADES-B-LT", "ADES-LT":
		return signer.LevelLT, nil
	case "ADES-B-LTA", "ADES-LTA":
		return signer.LevelLTA, nil
	}
	return "", badRequest("Invalid parameter conformance_level: AdES-B-B, AdES-B-T, AdES-B-LT or AdES-B-LTA")
}

// signDoc signs each PDF as /api/v1/sign would, one signature of the SAD
// each, all or none as the client sees it: every document is checked
// before the SAD is spent, and the audit log records the signatures as
// successes only when all of them are answered.
//
// A request holds its body, and its documents as base64 until each is
// signed; documents are decoded one at a time. DocRequests bounds the
// requests doing so at once.
func (s *Server) signDoc(c *gin.Context) {
	ctx := c.Request.Context()
	cl := clientOf(c)
	if s.cfg.Signer == nil {
		fail(c, badRequest("this service does not sign documents"))
		return
	}
	leave, err := s.admitDoc()
	if err != nil {
		fail(c, err)
		return
	}
	defer leave()
	b, err := s.readBody(c, s.cfg.MaxBody)
	if err != nil {
		fail(c, err)
		return
	}
	req, err := ParseSignDoc(b)
	b = nil
	if err != nil {
		fail(c, err)
		return
	}
	cred, key, err := s.credential(ctx, cl, req.CredentialID)
	if err != nil {
		fail(c, err)
		return
	}
	api.SetCredential(c, cred.Name)
	base := audit.Entry{RequestID: api.RequestID(c), Client: cl.Name, Credential: cred.Name}
	// First every document's options, and whether it can be signed at
	// all, each decoded and dropped in turn.
	opts := make([]signer.Options, len(req.Documents))
	for i, d := range req.Documents {
		entry := base
		o, err := s.docOptions(key, d)
		if err != nil {
			if err != errNotBase64 {
				entry.Level = string(o.Level)
				s.recordFailure(c, entry, err)
			}
			fail(c, err)
			return
		}
		opts[i] = o
		pdf, err := decodeB64(d.Document)
		if err != nil {
			fail(c, badRequest("Invalid parameter document of document %d: not base64", i+1))
			return
		}
		if err := s.cfg.Signer.Check(bytes.NewReader(pdf), int64(len(pdf)), key, o); err != nil {
			entry.Level = string(o.Level)
			in := sha256.Sum256(pdf)
			entry.InputSHA256 = in[:]
			err = fmt.Errorf("document %d: %w", i+1, err)
			s.recordFailure(c, entry, err)
			fail(c, err)
			return
		}
	}
	// The slot before the SAD: a busy service leaves the SAD whole.
	release, err := s.acquire(ctx)
	if err != nil {
		s.recordFailure(c, base, err)
		fail(c, err)
		return
	}
	defer release()
	if err := s.useSAD(ctx, req.SAD, cl.Name, cred.Name, make([]string, len(req.Documents)), true); err != nil {
		s.recordFailure(c, base, err)
		fail(c, err)
		return
	}
	out := make([]string, len(req.Documents))
	entries := make([]audit.Entry, len(req.Documents))
	for i := range req.Documents {
		entry := base
		entry.Level = string(opts[i].Level)
		pdf, err := decodeB64(req.Documents[i].Document)
		req.Documents[i].Document = "" // signed or failed: its base64 is no longer needed
		var signed []byte
		if err == nil {
			in := sha256.Sum256(pdf)
			entry.InputSHA256 = in[:]
			signed, err = s.signPDF(ctx, pdf, key, opts[i])
		}
		pdf = nil
		if err != nil {
			// None is answered: every document of the request is a
			// failure in the log, the ones already signed too.
			entries[i] = entry
			s.failDocs(c, entries[:i+1], fmt.Errorf("document %d: %w", i+1, err))
			return
		}
		o := sha256.Sum256(signed)
		entry.OutputSHA256, entry.Result = o[:], audit.Success
		entries[i] = entry
		out[i] = base64.StdEncoding.EncodeToString(signed)
	}
	if err := s.record(ctx, entries...); err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"DocumentWithSignature": out})
}

// errNotBase64 is a signAlgoParams that is not base64.
var errNotBase64 = badRequest("Invalid parameter signAlgoParams: not base64")

// docOptions are the signer's options for one of signDoc's documents.
func (s *Server) docOptions(key signer.Credential, d Document) (signer.Options, error) {
	var o signer.Options
	var err error
	if o.Level, err = levelOf(d.ConformanceLevel); err != nil {
		return o, err
	}
	if d.SignAlgo == "" {
		return o, nil
	}
	var params []byte
	if d.SignAlgoParams != "" {
		if params, err = decodeB64(d.SignAlgoParams); err != nil {
			return o, errNotBase64
		}
	}
	// The document's digest is ours to choose when signAlgo names no
	// hash: SHA-256, as /api/v1/sign's default.
	hashOID := ""
	if d.SignAlgo == OIDRSA || d.SignAlgo == OIDECPublicKey {
		hashOID = OIDSHA256
	}
	h, so, err := signOpts(key.Signer.Public(), d.SignAlgo, hashOID, params)
	if err != nil {
		return o, err
	}
	_, o.PSS = so.(*rsa.PSSOptions)
	o.Hash = h
	return o, nil
}

// failDocs records entries as failures of err, all in one append, and
// answers err.
func (s *Server) failDocs(c *gin.Context, entries []audit.Entry, err error) {
	for i := range entries {
		entries[i].OutputSHA256 = nil
	}
	s.recordFailures(c, entries, err)
	fail(c, err)
}

// signPDF signs one PDF; the caller holds a signing slot.
func (s *Server) signPDF(ctx context.Context, pdf []byte, key signer.Credential, opts signer.Options) ([]byte, error) {
	in := bytes.NewReader(pdf)
	res, err := s.cfg.Signer.Sign(ctx, in, int64(len(pdf)), key, opts)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(int(res.Size()))
	if _, err := res.Write(&buf, in); err != nil {
		return nil, fmt.Errorf("csc: write signed PDF: %w", err)
	}
	return buf.Bytes(), nil
}
