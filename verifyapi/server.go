// Package verifyapi is the public verifier's HTTP interface: anyone may
// upload a PDF and get the validation report. It holds no keys and never
// reaches an HSM, so it can face the internet apart from the signing
// service.
package verifyapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"esign/internal/clientip"
	"esign/internal/ratelimit"
	"esign/verify"
	"esign/verifypage"
)

// Config configures the verifier endpoint. Zero values take the
// documented defaults.
type Config struct {
	// Verify is passed to verify.Verify for every upload.
	Verify verify.Config
	// MaxUpload caps the uploaded file. Default 50 MB.
	MaxUpload int64
	// RatePerMinute is how many verifications one client address may ask
	// for per minute; Burst how many at once. Defaults 60 and 10. IPv6
	// clients are counted by their /64.
	RatePerMinute, Burst int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// Forwarded headers name the client (see clientip.Resolver). Default:
	// none, the connection's address is the client's.
	TrustedProxies []netip.Prefix
	// Keys, when set, lets an API client send its key (Authorization:
	// Bearer) and be limited by ClientRatePerMinute as a client rather
	// than by its address; a key it does not know gets 401. Default nil:
	// the header is not looked at and every request is anonymous.
	Keys Keys
	// ClientRatePerMinute is the rate of one keyed client, with a burst of
	// a second's worth or Burst, whichever is more. Default 600.
	ClientRatePerMinute int
	// Timeout is the time budget of one verification. Default 20s.
	Timeout time.Duration
	// MaxConcurrent bounds the verifications run at once, whoever asks:
	// each may take up to about 160 MiB on a hostile file, and per-address
	// limits alone do not bound the sum. Default: two per CPU.
	MaxConcurrent int
	// QueueWait is how long a request waits for a verification slot
	// before it gets 503 busy with Retry-After. Default 5s.
	QueueWait time.Duration
	// Logger gets one line per request. Default: discard.
	Logger *slog.Logger
	// Now is the clock of the rate limiter. Default time.Now.
	Now func() time.Time
	// NoPage leaves out the verification page (GET /, POST / and the
	// assets under /static/); the JSON endpoint stays. Default: the page is
	// served.
	NoPage bool
	// Registry, when set, is the issuer registry: reports name the
	// registered document a signature's covered revision is, and
	// GET /api/v1/documents/{id} and the page GET /d/{id} are served.
	// Default nil: no registry, and those routes are not there.
	Registry Registry
	// NoMetrics leaves /metrics out of Handler, for a daemon that serves
	// MetricsHandler on an address of its own. Default: /metrics is served.
	NoMetrics bool
}

// ErrBadKey is what Keys returns for a key that names no enabled client.
var ErrBadKey = errors.New("verifyapi: unknown or disabled API key")

// Keys authenticates API keys. The verifier never learns more of a client
// than its name, which keys its rate limit.
type Keys interface {
	// Client returns the name of the enabled client whose key this is,
	// or an error wrapping ErrBadKey.
	Client(ctx context.Context, key string) (string, error)
}

// Server is the public verifier.
type Server struct {
	cfg     Config
	ips     clientip.Resolver
	limiter *ratelimit.Limiter // by client address
	clients *ratelimit.Limiter // by client name, with Config.Keys
	badKeys *ratelimit.Limiter // unknown keys, by client address
	slots   chan struct{}      // one per verification running
	page    *verifypage.Page   // nil with Config.NoPage
	metrics *verifierMetrics
}

// New makes a Server.
func New(cfg Config) *Server {
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 50 << 20
	}
	if cfg.RatePerMinute <= 0 {
		cfg.RatePerMinute = 60
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 10
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ClientRatePerMinute <= 0 {
		cfg.ClientRatePerMinute = 600
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = 5 * time.Second
	}
	s := &Server{
		cfg:     cfg,
		slots:   make(chan struct{}, cfg.MaxConcurrent),
		ips:     clientip.Resolver{Trusted: cfg.TrustedProxies},
		limiter: ratelimit.New(ratelimit.Options{PerMinute: cfg.RatePerMinute, Burst: cfg.Burst, Now: cfg.Now}),
		badKeys: ratelimit.New(ratelimit.Options{PerMinute: cfg.RatePerMinute, Burst: cfg.Burst, Now: cfg.Now}),
		clients: ratelimit.New(ratelimit.Options{PerMinute: cfg.ClientRatePerMinute,
			Burst: max(cfg.Burst, cfg.ClientRatePerMinute/60), Now: cfg.Now}),
		metrics: newVerifierMetrics(),
	}
	if !cfg.NoPage {
		s.page = verifypage.New(verifypage.Options{MaxUpload: cfg.MaxUpload})
	}
	return s
}

// errorBody is the one error shape: {"error":{"code":"…","message":"…"}}.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func fail(c *gin.Context, status int, code, msg string) {
	c.Set(keyErrorCode, code)
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "60")
	}
	c.AbortWithStatusJSON(status, gin.H{"error": errorBody{Code: code, Message: msg}})
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// gin's ClientIP is not used: clientAddr believes forwarding headers
	// only from Config.TrustedProxies. Switch gin's own trust off all the
	// same, so nothing that does call it can be fooled by a header.
	_ = r.SetTrustedProxies(nil)
	r.ForwardedByClientIP = false
	r.TrustedPlatform = ""
	r.Use(gin.CustomRecovery(func(c *gin.Context, rec any) {
		s.cfg.Logger.Error("panic", "error", fmt.Sprint(rec))
		fail(c, http.StatusInternalServerError, "internal", "internal error")
	}))
	r.Use(s.logRequests)
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	if !s.cfg.NoMetrics {
		r.GET("/metrics", gin.WrapH(s.MetricsHandler()))
	}
	r.POST("/api/v1/verify", s.rateLimit, s.verify)
	if s.page != nil {
		page := gin.WrapH(s.page)
		r.GET("/", page)
		r.HEAD("/", page)
		r.GET(verifypage.StaticPrefix+"*file", page)
		r.HEAD(verifypage.StaticPrefix+"*file", page)
		r.POST("/", s.pageVerify)
	}
	if s.cfg.Registry != nil {
		r.GET("/api/v1/documents/:id", s.rateLimit, s.document)
		if s.page != nil {
			r.GET("/d/:id", s.docPage)
			r.HEAD("/d/:id", s.docPage)
			r.POST("/d/:id", s.docPageVerify)
		}
	}
	r.NoRoute(func(c *gin.Context) { fail(c, http.StatusNotFound, "not_found", "no such endpoint") })
	return r
}

// MetricsHandler serves the verifier's metrics, with the Go runtime and
// process metrics, in the Prometheus text format.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler }

// pageVerify answers the page's form post: the same rate limit, size limit
// and time budget as the JSON endpoint, rendered as HTML.
func (s *Server) pageVerify(c *gin.Context) {
	if s.pageAllowed(c, verifypage.Outcome{}) {
		s.serveVerified(c, verifypage.Outcome{})
	}
}

// pageAllowed spends a token of the client's rate limit for a page post,
// or answers o with 429 and tells so.
func (s *Server) pageAllowed(c *gin.Context, o verifypage.Outcome) bool {
	if s.limiter.Allow(s.clientKey(c)) {
		return true
	}
	s.metrics.observe(nil, codeRateLimited)
	c.Set(keyErrorCode, codeRateLimited)
	c.Header("Retry-After", "60")
	o.Status, o.Code = http.StatusTooManyRequests, codeRateLimited
	s.page.ServeResult(c.Writer, c.Request, o)
	return false
}

// serveVerified verifies the upload for the page, once pageAllowed let it
// through; o carries the /d/{id} page's lookup (its document, or why there
// is none), empty on the main page.
func (s *Server) serveVerified(c *gin.Context, o verifypage.Outcome) {
	rep, status, code, err := s.ReportFor(c.Request.Context(), c)
	if err != nil {
		if status == http.StatusServiceUnavailable {
			c.Header("Retry-After", "60")
		}
		// Not logged: the message may quote the file, and files hold
		// personal data. The request line records the status and code.
		c.Set(keyErrorCode, code)
		o.Status, o.Code = status, code
		s.page.ServeResult(c.Writer, c.Request, o)
		return
	}
	o.Report = rep
	s.page.ServeResult(c.Writer, c.Request, o)
}

// Context keys of what the request log reports.
const (
	keyClient    = "client"
	keyErrorCode = "error_code"
)

// logRequests gives the request an ID (the X-Request-Id header of every
// answer) and writes one structured line for it: ID, route, status,
// duration, client address, the API client's name when it sent a key
// that names one, and the error code of a failure. Error messages are
// not logged, since they may quote the file, nor headers (an API key).
func (s *Server) logRequests(c *gin.Context) {
	start := time.Now()
	id := newRequestID()
	c.Header("X-Request-Id", id)
	c.Next()
	attrs := []any{
		"request_id", id, "method", c.Request.Method, "path", c.FullPath(), "status", c.Writer.Status(),
		"duration_ms", float64(time.Since(start).Microseconds()) / 1000, "remote", s.clientAddr(c).String(),
	}
	if name := c.GetString(keyClient); name != "" {
		attrs = append(attrs, "client", name)
	}
	if code := c.GetString(keyErrorCode); code != "" {
		attrs = append(attrs, "error", code)
	}
	level := slog.LevelInfo
	if c.Writer.Status() >= 500 {
		level = slog.LevelError
	}
	s.cfg.Logger.Log(c.Request.Context(), level, "request", attrs...)
}

// newRequestID makes a request ID: 16 random hex digits.
func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// clientAddr is the client's address, through trusted proxies only.
func (s *Server) clientAddr(c *gin.Context) netip.Addr { return s.ips.ClientIP(c.Request) }

// clientKey is the anonymous rate limit's key for the request.
func (s *Server) clientKey(c *gin.Context) string { return clientip.Key(s.clientAddr(c)) }

// rateLimit limits a keyed client by its name and anyone else by address.
func (s *Server) rateLimit(c *gin.Context) {
	key, keyed := bearerToken(c.GetHeader("Authorization"))
	if !keyed || s.cfg.Keys == nil {
		if !s.limiter.Allow(s.clientKey(c)) {
			s.metrics.observe(nil, codeRateLimited)
			fail(c, http.StatusTooManyRequests, codeRateLimited, fmt.Sprintf("at most %d verifications a minute", s.cfg.RatePerMinute))
			return
		}
		c.Next()
		return
	}
	// Guessing keys is paid for by the address: each unknown key costs a
	// token of the address's bucket, and once it is spent no key is
	// looked up, so guesses cannot hammer the key store.
	addr := s.clientKey(c)
	if s.badKeys.Spent(addr) {
		s.metrics.observe(nil, codeRateLimited)
		fail(c, http.StatusTooManyRequests, codeRateLimited, "too many unknown API keys from this address; wait a minute")
		return
	}
	name, err := s.cfg.Keys.Client(c.Request.Context(), key)
	switch {
	case errors.Is(err, ErrBadKey):
		// Not the anonymous limit instead: an integrator with a mistyped
		// or revoked key should hear so at once.
		s.badKeys.Allow(addr)
		s.metrics.observe(nil, codeUnauthenticated)
		fail(c, http.StatusUnauthorized, codeUnauthenticated, "the API key is unknown or disabled")
		return
	case err != nil:
		s.cfg.Logger.Error("authenticate API key", "error", err)
		s.metrics.observe(nil, codeUnavailable)
		fail(c, http.StatusServiceUnavailable, codeUnavailable, "API keys cannot be checked just now")
		return
	}
	c.Set(keyClient, name)
	if !s.clients.Allow(name) {
		s.metrics.observe(nil, codeRateLimited)
		fail(c, http.StatusTooManyRequests, codeRateLimited, fmt.Sprintf("at most %d verifications a minute for this client", s.cfg.ClientRatePerMinute))
		return
	}
	c.Next()
}

// bearerToken reads "Bearer <key>"; ok is false for any other scheme (a
// proxy's Basic credentials are not a key), true with an empty key for a
// bare "Bearer".
func bearerToken(h string) (key string, ok bool) {
	scheme, token, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// ReportFor runs a verification of an upload with the server's limits;
// the page and the JSON endpoint share it. It counts the outcome in the
// server's metrics.
func (s *Server) ReportFor(ctx context.Context, c *gin.Context) (*verify.Report, int, string, error) {
	rep, status, code, err := s.reportFor(ctx, c)
	s.metrics.observe(rep, code)
	s.lookUp(ctx, rep)
	return rep, status, code, err
}

func (s *Server) reportFor(ctx context.Context, c *gin.Context) (*verify.Report, int, string, error) {
	// A slot before the upload is read: the upload's memory counts too.
	release, ok := s.acquire(ctx)
	if !ok {
		c.Header("Retry-After", strconv.Itoa(int(max(1, s.cfg.QueueWait/time.Second))))
		return nil, http.StatusServiceUnavailable, codeBusy, errors.New("every verification slot is busy; try again shortly")
	}
	defer release()
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxUpload+64<<10)
	fh, err := c.FormFile("file")
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Errorf("the limit is %d bytes", s.cfg.MaxUpload)
		}
		return nil, http.StatusBadRequest, codeBadRequest, errors.New(`send multipart/form-data with the PDF in the field "file"`)
	}
	defer func() {
		if c.Request.MultipartForm != nil {
			_ = c.Request.MultipartForm.RemoveAll()
		}
	}()
	if fh.Size > s.cfg.MaxUpload {
		return nil, http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Errorf("the limit is %d bytes", s.cfg.MaxUpload)
	}
	// Only "file" is understood; a field meant for something else must not
	// be silently dropped.
	cfg := s.cfg.Verify
	if mf := c.Request.MultipartForm; mf != nil {
		for name, vs := range mf.Value {
			// "password" opens an encrypted PDF; never logged or reported.
			if name == "password" && len(vs) == 1 {
				if vs[0] != "" {
					cfg.Password = []byte(vs[0])
				}
				continue
			}
			return nil, http.StatusBadRequest, "unknown_field", fmt.Errorf("form field %q is not one this endpoint takes, or comes twice", name)
		}
		for name, files := range mf.File {
			if name != "file" || len(files) > 1 {
				return nil, http.StatusBadRequest, "unknown_field", fmt.Errorf("form field %q is not one this endpoint takes, or comes twice", name)
			}
		}
	}
	f, err := fh.Open()
	if err != nil {
		return nil, http.StatusBadRequest, codeBadRequest, fmt.Errorf("read upload: %w", err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	start := time.Now()
	rep, err := verify.Verify(ctx, f, fh.Size, cfg)
	s.metrics.verified(time.Since(start))
	switch {
	case err == nil:
		return rep, http.StatusOK, "", nil
	case errors.Is(err, verify.ErrPasswordRequired):
		return nil, http.StatusUnprocessableEntity, codePasswordRequired, errors.New("the PDF is encrypted: send its password in the field \"password\"")
	case errors.Is(err, verify.ErrWrongPassword):
		return nil, http.StatusUnprocessableEntity, codeWrongPassword, errors.New("the password opens neither as the PDF's user nor as its owner password")
	case errors.Is(err, verify.ErrUnsupportedEncryption):
		return nil, http.StatusUnprocessableEntity, codeEncryption, err
	case errors.Is(err, verify.ErrNotPDF):
		return nil, http.StatusUnprocessableEntity, codeNotPDF, err
	case errors.Is(err, context.DeadlineExceeded):
		return nil, http.StatusServiceUnavailable, codeTimeout, fmt.Errorf("verification took longer than %s", s.cfg.Timeout)
	}
	return nil, http.StatusUnprocessableEntity, codeUnreadable, err
}

func (s *Server) verify(c *gin.Context) {
	rep, status, code, err := s.ReportFor(c.Request.Context(), c)
	if err != nil {
		fail(c, status, code, err.Error())
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, rep)
}

// acquire waits up to QueueWait for a verification slot.
func (s *Server) acquire(ctx context.Context) (func(), bool) {
	release := func() { <-s.slots }
	select {
	case s.slots <- struct{}{}:
		return release, true
	default:
	}
	t := time.NewTimer(s.cfg.QueueWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return release, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}
