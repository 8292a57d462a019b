// Package api is the signing service's HTTP interface. It turns requests
// into calls on package signer and maps errors to statuses in one place.
package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"esign/activation"
	"esign/audit"
	"esign/internal/clientip"
	"esign/registry"
	"esign/signer"
	"esign/signopts"
	"esign/store"
)

// Keys turns a stored credential into its signing key (in the HSM) and
// certificate chain.
type Keys interface {
	Resolve(ctx context.Context, c *store.Credential) (signer.Credential, error)
}

// Config configures the signing API. Zero values take the documented
// defaults.
type Config struct {
	Signer *signer.Signer
	// Store holds the API clients and signer credentials.
	Store *store.Store
	// Keys resolves credentials to HSM keys.
	Keys Keys
	// Activator checks the signer's activation data (PIN or TOTP).
	Activator *activation.Activator
	// Audit records every signing request.
	Audit *audit.Log
	// Registry records the documents signed with qr or register; without
	// it such requests are refused.
	Registry *registry.Registry
	// PublicVerifyURL is the public verifier's base address, which a
	// registered document's QR code and X-Esign-Verify-URL lead to
	// ({PublicVerifyURL}/d/{id}).
	PublicVerifyURL string
	// Appearance, when set, makes the visible appearance of a signature
	// placed with page and rect (or in an existing field).
	Appearance signopts.AppearanceFunc
	Logger     *slog.Logger // default: discard
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// Forwarded headers name the client in the request log (see
	// clientip.Resolver). Default: none, the connection's address.
	TrustedProxies []netip.Prefix
	// MaxUpload caps the uploaded PDF. Default 50 MB.
	MaxUpload int64
	// UploadMemory is how many bytes of uploads in flight may be held in
	// memory, all requests together; past it, uploads spool to disk.
	// Default 64 MiB.
	UploadMemory int64
	// MaxUploads bounds the uploads read at once; more get 503 busy with
	// Retry-After. Spooled to disk, each may take MaxUpload of it. Default
	// 64.
	MaxUploads int
	// HSMConcurrency is how many signatures may run at once; more wait.
	// Default 8.
	HSMConcurrency int
	// QueueWait is how long a request may wait for the HSM before it gets
	// 503 with Retry-After. Default 10s.
	QueueWait time.Duration
	// Ready reports whether the service can take requests (for /healthz).
	Ready func() bool
	// Mount adds further handlers, such as the development PKI services.
	Mount map[string]http.Handler
	// Routes adds endpoints of other packages (batches) under /api/v1,
	// behind the same authentication: ClientOf gives the caller.
	Routes []func(*gin.RouterGroup)
	// RootRoutes adds endpoints of other packages at the root (the CSC
	// API's /csc/…), behind the request log and the drain but not the
	// authentication: they authenticate in their own protocol's terms,
	// and tell the log who the caller is through SetClient.
	RootRoutes []func(*gin.RouterGroup)
	// Collectors are further metrics for /metrics (the batch queue's).
	Collectors []prometheus.Collector
}

// Server is the signing API.
type Server struct {
	cfg      Config
	ips      clientip.Resolver
	buffers  sync.Pool     // *[]byte upload buffers
	readers  sync.Pool     // *bufio.Reader under the multipart reader
	memory   *memBudget    // of uploads in flight
	uploads  chan struct{} // one per upload in flight, see Config.MaxUploads
	slots    chan struct{}
	draining atomic.Bool
	inflight atomic.Int64
	metrics  *serverMetrics
}

// New makes a Server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 50 << 20
	}
	if cfg.HSMConcurrency <= 0 {
		cfg.HSMConcurrency = 8
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = 10 * time.Second
	}
	if cfg.UploadMemory <= 0 {
		cfg.UploadMemory = 64 << 20
	}
	if cfg.MaxUploads <= 0 {
		cfg.MaxUploads = 64
	}
	return &Server{
		cfg: cfg, ips: clientip.Resolver{Trusted: cfg.TrustedProxies}, slots: make(chan struct{}, cfg.HSMConcurrency), metrics: newServerMetrics(cfg.Collectors...),
		memory:  newMemBudget(cfg.UploadMemory),
		uploads: make(chan struct{}, cfg.MaxUploads),
	}
}

// Handler returns the HTTP handler of every route.
func (s *Server) Handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// gin's ClientIP is not used: the log's client address comes from
	// clientip, which believes forwarding headers only from
	// Config.TrustedProxies. Switch gin's own trust off all the same, so
	// nothing that does call it can be fooled by a header.
	_ = r.SetTrustedProxies(nil)
	r.ForwardedByClientIP = false
	r.TrustedPlatform = ""
	r.Use(gin.CustomRecovery(func(c *gin.Context, rec any) {
		abort(c, fmt.Errorf("panic: %v", rec))
	}))
	r.Use(s.logRequests, s.refuseWhileDraining)
	r.GET("/healthz", s.healthz)
	r.GET("/metrics", gin.WrapH(s.metrics.handler))
	r.GET("/api/v1/openapi.json", serveOpenAPI)
	v1 := r.Group("/api/v1", s.authenticate)
	v1.POST("/sign", s.sign)
	v1.POST("/fields", s.addFields)
	for _, add := range s.cfg.Routes {
		add(v1)
	}
	for _, add := range s.cfg.RootRoutes {
		add(&r.RouterGroup)
	}
	r.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, gin.H{"error": apiError{Code: "not_found", Message: "no such endpoint"}})
	})
	if len(s.cfg.Mount) == 0 {
		return r
	}
	// Mounted services get the request untouched: gin would clean or
	// redirect paths such as OCSP GET requests whose base64 holds "//".
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		for prefix, h := range s.cfg.Mount {
			if req.URL.Path == prefix || strings.HasPrefix(req.URL.Path, prefix+"/") {
				h.ServeHTTP(w, req)
				return
			}
		}
		r.ServeHTTP(w, req)
	})
}

// refuseWhileDraining answers 503 to requests that arrive during a
// graceful shutdown, and counts those in flight so the shutdown can wait
// for them.
func (s *Server) refuseWhileDraining(c *gin.Context) {
	if s.draining.Load() {
		c.Header("Connection", "close")
		abort(c, errShuttingDown)
		return
	}
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	c.Next()
}

func (s *Server) healthz(c *gin.Context) {
	if s.cfg.Ready != nil && !s.cfg.Ready() {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "starting"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// Context keys of what the request log reports.
const (
	keyRequestID  = "request_id"
	keyClient     = "client"
	keyCredential = "credential"
)

// logRequests gives the request its ID (the X-Request-Id header of every
// answer, and the audit entry's) and writes one structured line for it:
// ID, route, status, duration, client address, and the API client and
// signer credential by name when known. Nothing a client sends as a
// secret is logged: neither form values (activation data), nor headers
// (the API key), nor the query; the error is the one the answer carries.
func (s *Server) logRequests(c *gin.Context) {
	start := time.Now()
	id := newRequestID()
	c.Set(keyRequestID, id)
	c.Header("X-Request-Id", id)
	c.Next()
	attrs := []any{
		"request_id", id, "method", c.Request.Method, "path", c.FullPath(), "status", c.Writer.Status(),
		"duration_ms", float64(time.Since(start).Microseconds()) / 1000, "remote", s.ips.ClientIP(c.Request).String(),
	}
	if cl, ok := c.Get(keyClient); ok {
		attrs = append(attrs, "client", cl.(*store.Client).Name)
	}
	if cred := c.GetString(keyCredential); cred != "" {
		attrs = append(attrs, "credential", cred)
	}
	if len(c.Errors) > 0 {
		attrs = append(attrs, "error", c.Errors.Last().Error())
	}
	level := slog.LevelInfo
	if c.Writer.Status() >= 500 {
		level = slog.LevelError
	}
	s.cfg.Logger.Log(c.Request.Context(), level, "request", attrs...)
}

// ClientOf is the API client that the request authenticated as, on a
// route added through Config.Routes.
func ClientOf(c *gin.Context) *store.Client { return c.MustGet(keyClient).(*store.Client) }

// SetClient names the authenticated API client of a request on a route
// added through Config.RootRoutes, for the request log.
func SetClient(c *gin.Context, cl *store.Client) { c.Set(keyClient, cl) }

// SetCredential names the credential a request on such a route used, for
// the request log.
func SetCredential(c *gin.Context, name string) { c.Set(keyCredential, name) }

// RequestID is the request's ID, as its X-Request-Id answer header and
// audit entries give it.
func RequestID(c *gin.Context) string { return requestID(c) }

func (s *Server) authenticate(c *gin.Context) {
	key, ok := BearerToken(c.GetHeader("Authorization"))
	if !ok {
		c.Header("WWW-Authenticate", `Bearer realm="esign"`)
		abort(c, store.ErrUnauthenticated)
		return
	}
	cl, err := s.cfg.Store.Authenticate(c.Request.Context(), key)
	if err != nil {
		c.Header("WWW-Authenticate", `Bearer realm="esign", error="invalid_token"`)
		abort(c, err)
		return
	}
	c.Set(keyClient, cl)
	c.Set(keyServer, s)
	c.Next()
}

// BearerToken reads the credentials of an Authorization header of the
// Bearer scheme, whose name is case-insensitive (RFC 9110 §11.1): a
// client sending "bearer" is as right as one sending "Bearer".
func BearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// acquire waits for an HSM slot, or fails when the queue is saturated.
func (s *Server) acquire(ctx context.Context) (func(), error) {
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots }, nil
	default:
	}
	s.metrics.queue.Add(1)
	defer s.metrics.queue.Add(-1)
	t := time.NewTimer(s.cfg.QueueWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots }, nil
	case <-t.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// signRequest is the parsed form of POST /api/v1/sign.
type signRequest struct {
	*signopts.Request
	form *form
	file *upload
	size int64
}

func (s *Server) parseSign(c *gin.Context) (*signRequest, error) {
	f, err := s.readForm(c, signFields)
	if err != nil {
		return nil, err
	}
	req := &signRequest{form: f, file: f.file, size: f.file.size}
	req.Request, err = signopts.Parse(f.get, f.files)
	if err == nil {
		// The encrypted PDF's password: never logged, never audited.
		req.Options.Password = signer.Secret(f.get("password"))
	}
	return req, err
}

func (s *Server) sign(c *gin.Context) {
	ctx := c.Request.Context()
	client := c.MustGet(keyClient).(*store.Client)
	entry := audit.Entry{RequestID: requestID(c), Client: client.Name}
	// Every answer names its audit entry, and says whether it is recorded.
	c.Header("X-Request-Id", entry.RequestID)
	req, err := s.parseSign(c)
	if req != nil {
		defer req.form.close()
		if req.Request != nil {
			entry.Credential, entry.Level, entry.Metadata = req.Signer, string(req.Options.Level), req.Metadata
		}
	}
	if err != nil {
		s.fail(c, &entry, req, err)
		return
	}
	cred, err := s.cfg.Store.Authorize(ctx, client, req.Signer)
	if err != nil {
		s.fail(c, &entry, req, err)
		return
	}
	// Named in the log once it is known to be a credential: before, the
	// field is whatever the client typed. The audit entry has it either way.
	c.Set(keyCredential, cred.Name)
	// The signer's own activation data: the official's consent to this
	// signature. It is never logged.
	if cred.Activation != store.ActivationNone {
		if err := s.cfg.Activator.Activate(ctx, req.Signer, req.form.get("activation")); err != nil {
			s.fail(c, &entry, req, err)
			return
		}
	}
	// A remote key (package cscclient) passes the signer's activation
	// data on to its own service's authorisation.
	key, err := s.cfg.Keys.Resolve(activation.NewContext(ctx, req.form.get("activation")), cred)
	if err != nil {
		s.fail(c, &entry, req, err)
		return
	}
	if req.NeedsAppearance() {
		if err := req.Draw(cred, s.cfg.Appearance); err != nil {
			s.fail(c, &entry, req, err)
			return
		}
	}
	var docID string
	if req.Registered() {
		if docID, err = s.issue(req.Request); err != nil {
			s.fail(c, &entry, req, err)
			return
		}
	}
	release, err := s.acquire(ctx)
	if err != nil {
		s.fail(c, &entry, req, err)
		return
	}
	start := time.Now()
	in := req.file.input()
	res, err := s.cfg.Signer.Sign(ctx, in, req.size, key, req.Options)
	release()
	s.metrics.observeSign(req.Options.Level, time.Since(start), err)
	if err != nil {
		s.fail(c, &entry, req, err)
		return
	}
	entry.InputSHA256, entry.OutputSHA256, entry.Result = res.InputSHA256, res.OutputSHA256, audit.Success
	// The record is written before the signed file leaves: a signature the
	// audit log does not know of is never handed out. A registered
	// document goes into the registry in the same transaction, so neither
	// is ever kept without the other.
	var record func(context.Context, *store.Tx) (bool, error)
	if docID != "" && len(res.SignedRevisionSHA256) != sha256.Size {
		s.fail(c, &entry, req, errors.New("the signer gave no digest of the signed revision"))
		return
	}
	if docID != "" {
		entry.Document = docID
		doc := registry.Document{ID: docID, Client: client.Name, Credential: cred.Name, Issuer: signopts.IssuerOf(key),
			RevisionSHA256: res.SignedRevisionSHA256, Label: req.Label}
		record = func(ctx context.Context, tx *store.Tx) (bool, error) {
			if _, err := s.cfg.Registry.Record(ctx, tx, doc); err != nil {
				return false, internal(err)
			}
			return true, nil
		}
	}
	if _, _, err := s.cfg.Audit.AppendIf(context.WithoutCancel(ctx), entry, record); err != nil {
		abort(c, fmt.Errorf("audit: %w", err))
		return
	}
	c.Header(auditHeader, "recorded")
	if docID != "" {
		c.Header("X-Esign-Document-Id", docID)
		c.Header("X-Esign-Verify-URL", signopts.VerifyURL(s.cfg.PublicVerifyURL, docID))
	}
	c.Header("Content-Type", "application/pdf")
	c.Header("Content-Length", strconv.FormatInt(res.Size(), 10))
	c.Header("Content-Disposition", `attachment; filename="signed.pdf"`)
	c.Header("X-Esign-Field", res.Field)
	c.Header("X-Esign-Level", string(res.Level))
	c.Status(http.StatusOK)
	if _, err := res.Write(c.Writer, in); err != nil {
		// The status is sent; all that is left is to log it. The client
		// sees a short body against Content-Length, never a valid-looking
		// half file.
		_ = c.Error(fmt.Errorf("stream signed file: %w", err))
	}
}

// issue gives a document to be registered its ID, and its QR code if
// asked for.
func (s *Server) issue(req *signopts.Request) (string, error) {
	if s.cfg.Registry == nil || s.cfg.PublicVerifyURL == "" {
		return "", fmt.Errorf("%w: this service keeps no registry of issued documents", errBadRequest)
	}
	id, err := registry.NewID()
	if err != nil {
		return "", err
	}
	return id, req.Issue(signopts.VerifyURL(s.cfg.PublicVerifyURL, id))
}

// internal keeps a registry record the service itself made invalid (no
// digest from the signer) from reading as the client's 400.
func internal(err error) error {
	if errors.Is(err, registry.ErrInvalid) {
		return fmt.Errorf("internal: %v", err)
	}
	return err
}

// fail records a failed signing request in the audit log and answers
// with the error.
func (s *Server) fail(c *gin.Context, entry *audit.Entry, req *signRequest, err error) {
	_, code := statusOf(err)
	entry.Result, entry.ErrorCode = audit.Failure, code
	if req != nil && req.file != nil {
		entry.InputSHA256 = sha256Of(req.file, req.size)
	}
	if _, aerr := s.cfg.Audit.Append(context.WithoutCancel(c.Request.Context()), *entry); aerr != nil {
		_ = c.Error(fmt.Errorf("audit: %w", aerr))
	} else {
		c.Header(auditHeader, "recorded")
	}
	abort(c, err)
}

// auditHeader, with the value "recorded", is on every answer to a
// signing request whose audit entry (named by X-Request-Id) is committed.
// An answer without it has no entry: the request was refused before it
// could be attributed to a client, or the audit log could not be written
// (the database was down or full). A 200 always has it.
const auditHeader = "X-Esign-Audit"

// Drain makes new requests fail with 503 and waits, until ctx ends, for
// those in flight to finish. Call it before http.Server.Shutdown, which
// then closes the listener.
func (s *Server) Drain(ctx context.Context) {
	s.draining.Store(true)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for s.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
