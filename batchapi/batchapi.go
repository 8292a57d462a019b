// Package batchapi is the HTTP interface of batch signing: the
// /api/v1/batches endpoints, mounted on the signing API behind its
// authentication (api.Config.Routes). It turns requests into calls on
// package batch; errors the signing API knows are answered by api.Abort,
// so a batch document fails with the code /sign would give.
package batchapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"esign/api"
	"esign/batch"
	"esign/signopts"
	"esign/store"
)

// Config configures the endpoints.
type Config struct {
	Engine *batch.Engine
	// MaxUpload caps one document, as on /sign. Default 50 MB.
	MaxUpload int64
	// SpoolDir holds multipart uploads while their fields are read.
	// Default: the system's temporary directory.
	SpoolDir string
}

// Handler serves the batch endpoints.
type Handler struct{ cfg Config }

// New makes a Handler.
func New(cfg Config) *Handler {
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 50 << 20
	}
	return &Handler{cfg: cfg}
}

// Routes adds the endpoints to the authenticated /api/v1 group.
func (h *Handler) Routes(g *gin.RouterGroup) {
	g.POST("/batches", h.create)
	g.GET("/batches/:id", statusAnswer(h.cfg.Engine.Status))
	g.DELETE("/batches/:id", statusAnswer(h.cfg.Engine.CancelBatch))
	g.POST("/batches/:id/close", statusAnswer(h.cfg.Engine.CloseBatch))
	g.PUT("/batches/:id/documents/:ref", h.put)
	g.GET("/batches/:id/documents", h.list)
	g.GET("/batches/:id/documents/:ref", h.output)
	g.GET("/batches/:id/results.zip", h.results)
}

// errorBody is the API's one error shape, with the state of a document
// that is not signed.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	State   string `json:"state,omitempty"`
}

func answer(c *gin.Context, status int, body errorBody) {
	c.AbortWithStatusJSON(status, gin.H{"error": body})
}

// fail answers an error: the batch package's own here, the rest as the
// signing API answers them.
func fail(c *gin.Context, err error) {
	var ns *batch.NotSignedError
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, batch.ErrNotFound):
		answer(c, http.StatusNotFound, errorBody{Code: "not_found", Message: "no such batch or document"})
	case errors.Is(err, batch.ErrConflict):
		answer(c, http.StatusConflict, errorBody{Code: "conflict", Message: "this reference already holds a document with other bytes"})
	case errors.Is(err, batch.ErrClosed):
		answer(c, http.StatusConflict, errorBody{Code: "batch_closed", Message: "the batch is closed or cancelled and takes no more documents"})
	case errors.Is(err, batch.ErrActivationUnsupported):
		answer(c, http.StatusUnprocessableEntity, errorBody{Code: "activation_unsupported", Message: strings.TrimPrefix(err.Error(), "batch: ")})
	case errors.Is(err, errUnknownField):
		answer(c, http.StatusBadRequest, errorBody{Code: "unknown_field", Message: err.Error()})
	case errors.Is(err, batch.ErrInvalid):
		answer(c, http.StatusBadRequest, errorBody{Code: "bad_request", Message: err.Error()})
	case errors.Is(err, errAttachmentTooLarge):
		answer(c, http.StatusRequestEntityTooLarge, errorBody{Code: "too_large", Message: err.Error()})
	case errors.Is(err, batch.ErrTooLarge), errors.As(err, &mbe):
		answer(c, http.StatusRequestEntityTooLarge, errorBody{Code: "too_large", Message: "the document is over the upload limit"})
	case errors.As(err, &ns):
		if ns.Code != "" {
			answer(c, ns.Status, errorBody{Code: ns.Code, Message: ns.Message, State: ns.State})
			return
		}
		answer(c, http.StatusConflict, errorBody{Code: "not_signed", Message: "the document is " + ns.State, State: ns.State})
	default:
		api.Abort(c, err)
		return
	}
	_ = c.Error(err)
}

// maxCreateBody bounds a batch's JSON: the options and a 2 MB image in
// base64.
const maxCreateBody = 4 << 20

// create is POST /batches: a JSON object of /sign options (strings,
// numbers or booleans; "rect" also as an array; "image" as base64) and
// an optional "idempotency_key".
func (h *Handler) create(c *gin.Context) {
	spec, err := parseSpec(http.MaxBytesReader(c.Writer, c.Request.Body, maxCreateBody))
	if err != nil {
		fail(c, err)
		return
	}
	st, created, err := h.cfg.Engine.Create(c.Request.Context(), api.ClientOf(c), spec)
	if err != nil {
		fail(c, err)
		return
	}
	answerMade(c, created, st)
}

// answerMade answers what a request made (201) or found made already by
// the same request before (200): the API's idempotent creations.
func answerMade(c *gin.Context, created bool, v any) {
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	c.JSON(code, v)
}

// parseSpec reads a batch's JSON. Unknown members are refused: a
// misspelt "certfy" must not sign without the certification meant.
func parseSpec(r io.Reader) (batch.Spec, error) {
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return batch.Spec{}, err
		}
		return batch.Spec{}, fmt.Errorf("%w: the body must be a JSON object: %v", batch.ErrInvalid, err)
	}
	spec := batch.Spec{Options: map[string]string{}}
	for k, v := range raw {
		if k == "password" {
			return batch.Spec{}, fmt.Errorf("%w: batches take no password: it would be stored until every document is signed. Sign an encrypted document that needs one with POST /api/v1/sign and its \"password\"", batch.ErrInvalid)
		}
		if k != "idempotency_key" && !slices.Contains(signopts.Names, k) {
			return batch.Spec{}, fmt.Errorf("%w: unknown member %q", errUnknownField, k)
		}
		if k == "attachment" {
			return batch.Spec{}, fmt.Errorf(`%w: an attachment belongs to a document: send it as the "attachment" part of PUT …/documents/{ref}`, batch.ErrInvalid)
		}
		s, err := scalar(v)
		if err != nil {
			return batch.Spec{}, fmt.Errorf("%w: %s: %v", batch.ErrInvalid, k, err)
		}
		switch k {
		case "idempotency_key":
			spec.IdempotencyKey = s
		case "activation":
			spec.Activation = s
		case "image":
			if spec.Image, err = base64.StdEncoding.DecodeString(s); err != nil {
				return batch.Spec{}, fmt.Errorf("%w: image: want base64 of a PNG", batch.ErrInvalid)
			}
		default:
			spec.Options[k] = s
		}
	}
	return spec, nil
}

// scalar reads a JSON string, number, boolean or array of numbers (a
// rectangle) as the string /sign's form would carry.
func scalar(v json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err == nil {
		return n.String(), nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err == nil {
		return strconv.FormatBool(b), nil
	}
	var nums []float64
	if err := json.Unmarshal(v, &nums); err == nil {
		return string(v), nil
	}
	return "", errors.New("want a string, number or boolean")
}

// statusAnswer makes a handler that answers with the batch status op
// returns: GET the status, close, cancel.
func statusAnswer(op func(ctx context.Context, client *store.Client, id string) (*batch.Status, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		st, err := op(c.Request.Context(), api.ClientOf(c), c.Param("id"))
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, st)
	}
}

// put is PUT /batches/{id}/documents/{ref}: the PDF as the body, or a
// multipart form with "file" and the document's own options.
func (h *Handler) put(c *gin.Context) {
	ctx := c.Request.Context()
	ref := c.Param("ref")
	if err := batch.ValidRef(ref); err != nil {
		fail(c, err)
		return
	}
	body := io.Reader(c.Request.Body)
	var spec batch.DocumentSpec
	mt, params, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	switch mt {
	case "", "application/pdf", "application/octet-stream":
	case "multipart/form-data":
		f, own, err := h.readMultipart(c, params["boundary"])
		if err != nil {
			fail(c, err)
			return
		}
		defer func() {
			f.Close()
			os.Remove(f.Name())
		}()
		body, spec = f, own
	default:
		answer(c, http.StatusUnsupportedMediaType, errorBody{Code: "unsupported_media_type",
			Message: "send the PDF as application/pdf, or multipart/form-data with \"file\""})
		return
	}
	doc, created, err := h.cfg.Engine.Add(ctx, api.ClientOf(c), c.Param("id"), ref, body, spec)
	if err != nil {
		fail(c, err)
		return
	}
	answerMade(c, created, doc)
}

// maxField bounds a document's option value.
const maxField = 1024

// readMultipart spools the form's file to a temporary file, since the
// document's options may follow it, and returns it rewound with the
// options and the attachment.
func (h *Handler) readMultipart(c *gin.Context, boundary string) (*os.File, batch.DocumentSpec, error) {
	var none batch.DocumentSpec
	if boundary == "" {
		return nil, none, fmt.Errorf("%w: multipart body without a boundary", batch.ErrInvalid)
	}
	mr := multipart.NewReader(http.MaxBytesReader(c.Writer, c.Request.Body, h.cfg.MaxUpload+signopts.MaxAttachment+1<<20), boundary)
	var f *os.File
	fields := map[string]string{}
	var att *signopts.File
	cleanup := func() {
		if f != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			cleanup()
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, none, err
			}
			return nil, none, fmt.Errorf("%w: multipart body: %v", batch.ErrInvalid, err)
		}
		name := p.FormName()
		switch {
		case name == "file" && f == nil:
			if f, err = os.CreateTemp(h.cfg.SpoolDir, "esign-batch-*"); err != nil {
				return nil, none, fmt.Errorf("spool upload: %w", err)
			}
			n, err := io.Copy(f, io.LimitReader(p, h.cfg.MaxUpload+1))
			if err == nil && n > h.cfg.MaxUpload {
				err = batch.ErrTooLarge
			}
			if err != nil {
				cleanup()
				return nil, none, err
			}
		case name == "file":
			cleanup()
			return nil, none, fmt.Errorf("%w: more than one \"file\"", batch.ErrInvalid)
		case name == "attachment" && att == nil:
			b, err := io.ReadAll(io.LimitReader(p, signopts.MaxAttachment+1))
			if err == nil && len(b) > signopts.MaxAttachment {
				err = fmt.Errorf("%w: the attachment is over %d bytes", errAttachmentTooLarge, signopts.MaxAttachment)
			}
			if err != nil {
				cleanup()
				return nil, none, err
			}
			att = &signopts.File{Name: p.FileName(), Data: b}
		case name == "attachment":
			cleanup()
			return nil, none, fmt.Errorf("%w: more than one \"attachment\"", batch.ErrInvalid)
		case slices.Contains(signopts.PerDocument, name):
			b, err := io.ReadAll(io.LimitReader(p, maxField+1))
			if err != nil || len(b) > maxField {
				cleanup()
				return nil, none, fmt.Errorf("%w: field %q is missing or over %d bytes", batch.ErrInvalid, name, maxField)
			}
			fields[name] = string(b)
		default:
			cleanup()
			return nil, none, fmt.Errorf("%w: unknown form field %q (a document may set %s)", errUnknownField, name, strings.Join(signopts.PerDocument, ", "))
		}
	}
	if f == nil {
		return nil, none, fmt.Errorf("%w: missing form field \"file\"", batch.ErrInvalid)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		cleanup()
		return nil, none, err
	}
	return f, batch.DocumentSpec{Options: fields, Attachment: att}, nil
}

// errAttachmentTooLarge is answered 413 too_large.
var errAttachmentTooLarge = errors.New("batchapi: attachment too large")

// errUnknownField is answered 400 unknown_field.
var errUnknownField = fmt.Errorf("%w: unknown field", batch.ErrInvalid)

func (h *Handler) list(c *gin.Context) {
	limit := 0
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			fail(c, fmt.Errorf("%w: limit %q (want 1 to %d)", batch.ErrInvalid, v, batch.MaxPage))
			return
		}
		limit = n
	}
	docs, next, err := h.cfg.Engine.Documents(c.Request.Context(), api.ClientOf(c), c.Param("id"), c.Query("state"), c.Query("after"), limit)
	if err != nil {
		fail(c, err)
		return
	}
	if docs == nil {
		docs = []*batch.Document{}
	}
	c.JSON(http.StatusOK, gin.H{"documents": docs, "next": next})
}

func (h *Handler) output(c *gin.Context) {
	out, err := h.cfg.Engine.Output(c.Request.Context(), api.ClientOf(c), c.Param("id"), c.Param("ref"))
	if err != nil {
		fail(c, err)
		return
	}
	defer out.Close()
	c.Header("Content-Type", "application/pdf")
	c.Header("Content-Length", strconv.FormatInt(out.Size(), 10))
	c.Header("Content-Disposition", `attachment; filename="`+out.Ref+`.pdf"`)
	c.Header("X-Esign-Output-Sha256", out.SHA256)
	if out.DocumentID != "" {
		c.Header("X-Esign-Document-Id", out.DocumentID)
		c.Header("X-Esign-Verify-URL", out.VerifyURL)
	}
	c.Status(http.StatusOK)
	if _, err := out.WriteTo(c.Writer); err != nil {
		// The status is sent: a short body against Content-Length tells
		// the client, never a valid-looking half file.
		_ = c.Error(fmt.Errorf("stream signed document: %w", err))
	}
}

// results is GET /batches/{id}/results.zip, streamed as it is made.
func (h *Handler) results(c *gin.Context) {
	w := &startWriter{c: c, id: c.Param("id")}
	err := h.cfg.Engine.WriteResults(c.Request.Context(), api.ClientOf(c), c.Param("id"), w)
	if err == nil {
		return
	}
	if !w.started {
		fail(c, err)
		return
	}
	_ = c.Error(fmt.Errorf("stream results: %w", err))
}

// startWriter sends the ZIP's headers with its first bytes, so that an
// error before them (no such batch) is still answered as an error.
type startWriter struct {
	c       *gin.Context
	id      string
	started bool
}

func (w *startWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.started = true
		w.c.Header("Content-Type", "application/zip")
		w.c.Header("Content-Disposition", `attachment; filename="batch-`+w.id+`.zip"`)
		w.c.Status(http.StatusOK)
	}
	return w.c.Writer.Write(p)
}
