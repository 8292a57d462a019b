// Package documentapi is the issuer's HTTP interface to the registry of
// documents it issued (package registry): GET /api/v1/documents/{id} and
// POST /api/v1/documents/{id}/revoke, mounted on the signing API behind
// its authentication (api.Config.Routes). A client sees and revokes only
// the documents it issued; any other ID is answered as unknown.
//
// Every revocation is recorded in the audit log in the same transaction
// as the registry's change (Revoke), so the log names every revoked
// document and no revocation is kept without its entry.
package documentapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"esign/api"
	"esign/audit"
	"esign/registry"
	"esign/store"
)

// Config configures the endpoints. Both fields are required.
type Config struct {
	Registry *registry.Registry
	Audit    *audit.Log
}

// Handler serves the document endpoints.
type Handler struct{ cfg Config }

// New makes a Handler.
func New(cfg Config) *Handler { return &Handler{cfg: cfg} }

// Routes adds the endpoints to the authenticated /api/v1 group.
func (h *Handler) Routes(g *gin.RouterGroup) {
	g.GET("/documents/:id", h.get)
	g.POST("/documents/:id/revoke", h.revoke)
}

// View is a document as the API shows it to its issuer.
type View struct {
	ID        string     `json:"id"`
	Status    string     `json:"status"` // valid or revoked
	Issuer    string     `json:"issuer"`
	IssuedAt  time.Time  `json:"issued_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	Reason    string     `json:"reason"`
	Label     string     `json:"label"`
}

// ViewOf is d's View.
func ViewOf(d *registry.Document) View {
	v := View{ID: d.ID, Status: string(d.Status), Issuer: d.Issuer, IssuedAt: d.IssuedAt, Reason: d.Reason, Label: d.Label}
	if !d.RevokedAt.IsZero() {
		t := d.RevokedAt
		v.RevokedAt = &t
	}
	return v
}

func (h *Handler) get(c *gin.Context) {
	d, err := h.cfg.Registry.Get(c.Request.Context(), c.Param("id"))
	if err == nil && d.Client != api.ClientOf(c).Name {
		err = registry.ErrNotFound // another client's: not told it exists
	}
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ViewOf(d))
}

// maxBody bounds a revocation's JSON: a reason of registry.MaxReason
// bytes, escaped.
const maxBody = 16 << 10

// revokeBody is what POST …/revoke takes.
type revokeBody struct {
	Reason string `json:"reason"`
}

func (h *Handler) revoke(c *gin.Context) {
	var body revokeBody
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		fail(c, fmt.Errorf(`%w: the body must be a JSON object {"reason": "…"}: %v`, registry.ErrInvalid, err))
		return
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		fail(c, fmt.Errorf("%w: the body holds more than one JSON value", registry.ErrInvalid))
		return
	}
	client := api.ClientOf(c).Name
	d, err := Revoke(c.Request.Context(), h.cfg.Registry, h.cfg.Audit, Revocation{
		ID: c.Param("id"), Client: client, Actor: client, Reason: body.Reason, RequestID: api.RequestID(c),
	})
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ViewOf(d))
}

// fail answers as the signing API does, with one body for every
// document the caller may not see, so that an ID's existence does not
// leak.
func fail(c *gin.Context, err error) {
	if errors.Is(err, registry.ErrNotFound) {
		_ = c.Error(err)
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": gin.H{"code": "not_found", "message": "no such document"}})
		return
	}
	api.Abort(c, err)
}

// Revocation is a request to revoke an issued document.
type Revocation struct {
	ID string
	// Client is the client the document must have been issued by; ""
	// for an operator, who may revoke any document.
	Client string
	// Actor is who revokes it, as the audit entry names them: the client,
	// or an operator ("admin:NAME").
	Actor     string
	Reason    string
	RequestID string
}

// Revoke revokes a document and records the revocation in the audit log
// in one transaction. A document unknown, or issued by another client
// than r.Client, is registry.ErrNotFound; one revoked already is
// registry.ErrRevoked.
func Revoke(ctx context.Context, reg *registry.Registry, log *audit.Log, r Revocation) (*registry.Document, error) {
	if err := registry.CheckReason(r.Reason); err != nil {
		return nil, err
	}
	// Read first for the entry's credential, and to answer the common
	// refusals without the audit log's writer; Revoke checks again under
	// the row's lock.
	d, err := reg.Get(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	if r.Client != "" && d.Client != r.Client {
		return nil, registry.ErrNotFound
	}
	if d.Status == registry.Revoked {
		return nil, registry.ErrRevoked
	}
	entry := audit.Entry{
		RequestID: r.RequestID, Client: r.Actor, Credential: d.Credential, Result: audit.Success,
		// No batch and ref: a batch's successful entries count its
		// signed documents.
		Action: audit.ActionRevoke, Document: d.ID, Reason: r.Reason,
	}
	var revoked *registry.Document
	var refused error
	_, ok, err := log.AppendIf(context.WithoutCancel(ctx), entry, func(ctx context.Context, tx *store.Tx) (bool, error) {
		revoked, refused = nil, nil
		doc, err := reg.Revoke(ctx, tx, r.ID, r.Client, r.Reason)
		if errors.Is(err, registry.ErrNotFound) || errors.Is(err, registry.ErrRevoked) {
			// Someone else's revocation won the race: no entry, and the
			// group's transaction goes on for the others.
			refused = err
			return false, nil
		}
		if err != nil {
			return false, err
		}
		revoked = doc
		return true, nil
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("revoke document %s: %w", r.ID, err)
	case !ok:
		return nil, refused
	}
	return revoked, nil
}
