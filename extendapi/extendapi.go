// Package extendapi is POST /api/v1/extend, mounted on the signing API
// behind its authentication (api.Config.Routes): any API client may
// extend a signed PDF to B-LT or B-LTA, since that spends TSA requests
// but signs nothing, so no credential is named. The upload is read by
// the API's own form reader and errors other than not_extendable are
// answered as /sign answers them.
package extendapi

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"esign/api"
	"esign/audit"
	"esign/extend"
	"esign/signer"
)

// Config configures the endpoint.
type Config struct {
	Extender *extend.Extender
	// Audit, when set, records each extension with the digests of the
	// file received and returned, as /sign records signatures.
	Audit *audit.Log
}

// Handler serves POST /extend.
type Handler struct{ cfg Config }

// New makes a Handler.
func New(cfg Config) *Handler { return &Handler{cfg: cfg} }

// Routes adds the endpoint to the authenticated /api/v1 group.
func (h *Handler) Routes(g *gin.RouterGroup) {
	g.POST("/extend", h.extend)
}

// auditHeader is the signing API's: "recorded" when the audit entry
// named by X-Request-Id is committed.
const auditHeader = "X-Esign-Audit"

func (h *Handler) extend(c *gin.Context) {
	ctx := c.Request.Context()
	// An extension is its own kind of entry: no credential signed.
	entry := audit.Entry{RequestID: api.RequestID(c), Client: api.ClientOf(c).Name, Action: audit.ActionExtend}
	up, err := api.ReadUpload(c, "level", "password")
	if err != nil {
		h.fail(c, &entry, nil, err)
		return
	}
	defer up.Close()
	level := signer.LevelLTA
	if v := up.Value("level"); v != "" {
		level = signer.Level(v)
	}
	entry.Level = string(level)
	if level != signer.LevelLT && level != signer.LevelLTA {
		h.fail(c, &entry, up, fmt.Errorf("%w: level %q (want B-LT or B-LTA)", signer.ErrBadOptions, level))
		return
	}
	// An encrypted file's password: never logged, never in the audit
	// entry; the extended file keeps the encryption.
	var password signer.Secret
	if v := up.Value("password"); v != "" {
		password = signer.Secret(v)
	}
	res, err := h.cfg.Extender.ExtendWith(ctx, up.File(), up.Size(), extend.Options{Level: level, Password: password})
	if err != nil {
		h.fail(c, &entry, up, err)
		return
	}
	entry.InputSHA256, entry.OutputSHA256, entry.Result = res.InputSHA256, res.OutputSHA256, audit.Success
	if h.cfg.Audit != nil {
		// Recorded before the file leaves, as for /sign.
		if _, err := h.cfg.Audit.Append(context.WithoutCancel(ctx), entry); err != nil {
			api.Abort(c, fmt.Errorf("audit: %w", err))
			return
		}
		c.Header(auditHeader, "recorded")
	}
	c.Header("Content-Type", "application/pdf")
	c.Header("Content-Length", strconv.FormatInt(res.Size(), 10))
	c.Header("Content-Disposition", `attachment; filename="extended.pdf"`)
	c.Header("X-Esign-Level", string(res.Level))
	c.Status(http.StatusOK)
	if _, err := res.Write(c.Writer, up.File()); err != nil {
		_ = c.Error(fmt.Errorf("stream extended file: %w", err))
	}
}

// fail records the failure and answers: 422 not_extendable with the
// verifier's reasons, or whatever the signing API answers for the rest.
func (h *Handler) fail(c *gin.Context, entry *audit.Entry, up *api.Upload, err error) {
	var ne *extend.NotExtendableError
	code := "not_extendable"
	if !errors.As(err, &ne) {
		_, code = api.StatusOf(err)
	}
	if h.cfg.Audit != nil && code != "unauthenticated" {
		entry.Result, entry.ErrorCode = audit.Failure, code
		if up != nil {
			entry.InputSHA256 = digest(up.File(), up.Size())
		}
		if _, aerr := h.cfg.Audit.Append(context.WithoutCancel(c.Request.Context()), *entry); aerr != nil {
			_ = c.Error(fmt.Errorf("audit: %w", aerr))
		} else {
			c.Header(auditHeader, "recorded")
		}
	}
	if ne == nil {
		api.Abort(c, err)
		return
	}
	_ = c.Error(err)
	c.AbortWithStatusJSON(http.StatusUnprocessableEntity, gin.H{"error": notExtendable{
		Code: code, Message: "the document cannot be extended: a signature or document timestamp failed validation, or there is none",
		Reasons: ne.Reasons,
	}})
}

// notExtendable is the API's error shape with the verifier's reasons.
type notExtendable struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Reasons []string `json:"reasons"`
}

func digest(r io.ReaderAt, size int64) []byte {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		return nil
	}
	return h.Sum(nil)
}
