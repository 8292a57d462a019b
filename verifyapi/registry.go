package verifyapi

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"esign/registry"
	"esign/verify"
	"esign/verifypage"
)

// Registry is the issuer registry as the verifier reads it: lookups only.
// *registry.Registry opened with registry.OpenReadOnly is one.
type Registry interface {
	Get(ctx context.Context, id string) (*registry.Document, error)
	ByRevision(ctx context.Context, sum []byte) (*registry.Document, error)
}

// Bounds of the registry lookups of one request: a file with many
// signatures must not turn into as many queries, nor a slow database hold
// the answer back.
const (
	codeNotFound       = "not_found"
	maxRegistryLookups = 16
	registryTimeout    = 3 * time.Second
)

// publicDoc is what anyone may learn of a registered document: no label,
// no client or credential, no batch.
func publicDoc(d *registry.Document) *verify.RegistryMatch {
	m := &verify.RegistryMatch{ID: d.ID, Status: string(d.Status), Issuer: d.Issuer}
	issued := d.IssuedAt.UTC()
	m.IssuedAt = &issued
	if d.Status == registry.Revoked {
		m.Reason = d.Reason
		if !d.RevokedAt.IsZero() {
			at := d.RevokedAt.UTC()
			m.RevokedAt = &at
		}
	}
	return m
}

// lookUp sets rep.Registry when a signature's covered revision is a
// registered document. Every signature's revision is looked up (at most
// maxRegistryLookups), and rep.RegistryMatches holds each document found,
// oldest signature first: a later signature's document that the issuer
// revoked must not hide behind an earlier one that stands. rep.Registry
// is the first revoked match, else the first valid one. A database that
// cannot be asked makes the registry "unavailable" (unless a match found
// already is revoked, which stays so), never the verification fail.
func (s *Server) lookUp(ctx context.Context, rep *verify.Report) {
	if s.cfg.Registry == nil || rep == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, registryTimeout)
	defer cancel()
	n, failed := 0, false
	seen := map[string]bool{}
	for _, sig := range rep.Signatures {
		sum, err := hex.DecodeString(sig.RevisionSHA256)
		if err != nil || len(sum) != 32 || seen[sig.RevisionSHA256] {
			continue
		}
		seen[sig.RevisionSHA256] = true
		if n++; n > maxRegistryLookups {
			break
		}
		d, err := s.cfg.Registry.ByRevision(ctx, sum)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			continue
		case err != nil:
			s.cfg.Logger.Error("registry lookup", "error", err)
			failed = true
		}
		if failed {
			break
		}
		m := publicDoc(d)
		m.Field = sig.Field
		rep.RegistryMatches = append(rep.RegistryMatches, *m)
	}
	var first, revoked *verify.RegistryMatch
	for i := range rep.RegistryMatches {
		m := &rep.RegistryMatches[i]
		if first == nil {
			first = m
		}
		if revoked == nil && m.Status != string(registry.Valid) {
			revoked = m
		}
	}
	switch {
	case revoked != nil:
		rep.Registry = copyMatch(revoked)
	case failed:
		rep.Registry = &verify.RegistryMatch{Status: verify.RegistryUnavailable}
	case first != nil:
		rep.Registry = copyMatch(first)
	}
}

// copyMatch keeps rep.Registry apart from rep.RegistryMatches.
func copyMatch(m *verify.RegistryMatch) *verify.RegistryMatch {
	c := *m
	return &c
}

// getDocument looks id up for the public: the document, or a status and
// error code for the answer.
func (s *Server) getDocument(ctx context.Context, id string) (*verify.RegistryMatch, int, string) {
	if !registry.ValidID(id) {
		return nil, http.StatusNotFound, codeNotFound
	}
	ctx, cancel := context.WithTimeout(ctx, registryTimeout)
	defer cancel()
	d, err := s.cfg.Registry.Get(ctx, id)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return nil, http.StatusNotFound, codeNotFound
	case err != nil:
		s.cfg.Logger.Error("registry get", "error", err)
		return nil, http.StatusServiceUnavailable, codeUnavailable
	}
	return publicDoc(d), http.StatusOK, ""
}

// documentJSON is GET /api/v1/documents/{id}.
type documentJSON struct {
	ID        string     `json:"id"`
	Status    string     `json:"status"`
	Issuer    string     `json:"issuer"`
	IssuedAt  *time.Time `json:"issued_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	Reason    string     `json:"reason"`
}

func (s *Server) document(c *gin.Context) {
	m, status, code := s.getDocument(c.Request.Context(), c.Param("id"))
	switch {
	case code == codeNotFound:
		fail(c, status, code, "no document is registered with this ID")
		return
	case code != "":
		fail(c, status, code, "the registry cannot be read just now")
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, documentJSON{ID: m.ID, Status: m.Status, Issuer: m.Issuer,
		IssuedAt: m.IssuedAt, RevokedAt: m.RevokedAt, Reason: m.Reason})
}

// docPage is GET /d/{id}, the page a document's QR code opens.
func (s *Server) docPage(c *gin.Context) {
	if !s.limiter.Allow(s.clientKey(c)) {
		c.Set(keyErrorCode, codeRateLimited)
		c.Header("Retry-After", "60")
		s.page.ServeDocument(c.Writer, c.Request, verifypage.DocOutcome{Status: http.StatusTooManyRequests, Code: codeRateLimited})
		return
	}
	m, status, code := s.getDocument(c.Request.Context(), c.Param("id"))
	if code != "" {
		c.Set(keyErrorCode, code)
	}
	s.page.ServeDocument(c.Writer, c.Request, verifypage.DocOutcome{Document: m, Status: status, Code: code})
}

// docPageVerify is POST /d/{id}: the upload box of that page, which
// verifies the file and says whether it is the registered document. The
// rate limit comes first, before the database is asked, as on GET; a
// registry that cannot be asked still gets the file verified, with the
// page saying the registry could not be asked.
func (s *Server) docPageVerify(c *gin.Context) {
	if !s.pageAllowed(c, verifypage.Outcome{DocCode: codeRateLimited}) {
		return
	}
	m, status, code := s.getDocument(c.Request.Context(), c.Param("id"))
	switch code {
	case "":
		s.serveVerified(c, verifypage.Outcome{Document: m})
	case codeNotFound:
		c.Set(keyErrorCode, code)
		s.page.ServeDocument(c.Writer, c.Request, verifypage.DocOutcome{Status: status, Code: code})
	default:
		s.serveVerified(c, verifypage.Outcome{DocCode: code})
	}
}
