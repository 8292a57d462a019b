// Package verifyapi is the public verifier's HTTP interface: anyone may
// upload a PDF and get the validation report. It holds no keys and never
// reaches an HSM, so it can face the internet apart from the signing
// service.
package verifyapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

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
	// for per minute; Burst how many at once. Defaults 60 and 10.
	RatePerMinute, Burst int
	// Timeout is the time budget of one verification. Default 20s.
	Timeout time.Duration
	// Logger gets one line per request. Default: discard.
	Logger *slog.Logger
	// Now is the clock of the rate limiter. Default time.Now.
	Now func() time.Time
	// NoPage leaves out the verification page (GET /, POST / and the
	// assets under /static/); the JSON endpoint stays. Default: the page is
	// served.
	NoPage bool
	// NoMetrics leaves /metrics out of Handler, for a daemon that serves
	// MetricsHandler on an address of its own. Default: /metrics is served.
	NoMetrics bool
}

// Server is the public verifier.
type Server struct {
	cfg     Config
	limiter *limiter
	page    *verifypage.Page // nil with Config.NoPage
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, limiter: newLimiter(cfg.RatePerMinute, cfg.Burst, cfg.Now), metrics: newVerifierMetrics()}
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
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "60")
	}
	c.AbortWithStatusJSON(status, gin.H{"error": errorBody{Code: code, Message: msg}})
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// Client addresses come from the connection, never from headers a
	// client can forge (X-Forwarded-For): the rate limit keys on them.
	_ = r.SetTrustedProxies(nil)
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
	r.NoRoute(func(c *gin.Context) { fail(c, http.StatusNotFound, "not_found", "no such endpoint") })
	return r
}

// MetricsHandler serves the verifier's metrics, with the Go runtime and
// process metrics, in the Prometheus text format.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler }

// pageVerify answers the page's form post: the same rate limit, size limit
// and time budget as the JSON endpoint, rendered as HTML.
func (s *Server) pageVerify(c *gin.Context) {
	if !s.limiter.allow(c.ClientIP()) {
		s.metrics.observe(nil, codeRateLimited)
		c.Header("Retry-After", "60")
		s.page.ServeResult(c.Writer, c.Request, verifypage.Outcome{Status: http.StatusTooManyRequests, Code: codeRateLimited})
		return
	}
	rep, status, code, err := s.ReportFor(c.Request.Context(), c)
	if err != nil {
		if status == http.StatusServiceUnavailable {
			c.Header("Retry-After", "60")
		}
		// Not logged: the message may quote the file, and files hold
		// personal data. The request line records the status.
		s.page.ServeResult(c.Writer, c.Request, verifypage.Outcome{Status: status, Code: code})
		return
	}
	s.page.ServeResult(c.Writer, c.Request, verifypage.Outcome{Report: rep})
}

func (s *Server) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	s.cfg.Logger.Info("request", "method", c.Request.Method, "path", c.FullPath(), "status", c.Writer.Status(),
		"duration_ms", float64(time.Since(start).Microseconds())/1000, "remote", c.ClientIP())
}

func (s *Server) rateLimit(c *gin.Context) {
	if !s.limiter.allow(c.ClientIP()) {
		s.metrics.observe(nil, codeRateLimited)
		fail(c, http.StatusTooManyRequests, codeRateLimited, fmt.Sprintf("at most %d verifications a minute", s.cfg.RatePerMinute))
		return
	}
	c.Next()
}

// ReportFor runs a verification of an upload with the server's limits;
// the page and the JSON endpoint share it. It counts the outcome in the
// server's metrics.
func (s *Server) ReportFor(ctx context.Context, c *gin.Context) (*verify.Report, int, string, error) {
	rep, status, code, err := s.reportFor(ctx, c)
	s.metrics.observe(rep, code)
	return rep, status, code, err
}

func (s *Server) reportFor(ctx context.Context, c *gin.Context) (*verify.Report, int, string, error) {
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
	if mf := c.Request.MultipartForm; mf != nil {
		for name := range mf.Value {
			return nil, http.StatusBadRequest, "unknown_field", fmt.Errorf("form field %q is not one this endpoint takes", name)
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
	rep, err := verify.Verify(ctx, f, fh.Size, s.cfg.Verify)
	s.metrics.verified(time.Since(start))
	switch {
	case err == nil:
		return rep, http.StatusOK, "", nil
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

// limiter is a token bucket per client address.
type limiter struct {
	mu      sync.Mutex
	perSec  float64
	burst   float64
	now     func() time.Time
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(perMinute, burst int, now func() time.Time) *limiter {
	return &limiter{perSec: float64(perMinute) / 60, burst: float64(burst), now: now, buckets: map[string]*bucket{}}
}

func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	// Forget idle clients now and then, so the map stays small.
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.last) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.perSec)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
