// Package csc serves the Cloud Signature Consortium API (version 2.0,
// and the version 1.0.4 calls existing clients use) at /csc/v2 and
// /csc/v1, over the service's own clients, credentials, activation
// (with its lockout) and audit log: other tools sign with the keys
// esign guards.
//
// A client authenticates with its API key as a bearer token, or with a
// short-lived token from auth/login. credentials/authorize checks the
// signer's activation data and answers a SAD, kept server-side (see
// sad.go); signatures/signHash spends it. Every call that signs or
// authorises writes audit entries.
package csc

import (
	"context"
	"crypto"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

//go:embed migrations
var migrationFiles embed.FS

// Keys resolves a credential to its key and chain (service.Keys, or
// cscclient.Keys over it).
type Keys interface {
	Resolve(ctx context.Context, c *store.Credential) (signer.Credential, error)
}

// Timestamper gets RFC 3161 tokens (*tsa.Client), with the nonce a
// client asks for.
type Timestamper interface {
	TimestampWith(ctx context.Context, digest []byte, h crypto.Hash, opts tsa.TimestampOptions) (*tsa.Token, error)
}

// Config configures the CSC API. Zero durations and limits take the
// documented defaults.
type Config struct {
	Store     *store.Store
	Keys      Keys
	Activator *activation.Activator
	Audit     *audit.Log
	// Signer signs signDoc's PDFs, as /api/v1/sign does; without it
	// signDoc is not offered.
	Signer *signer.Signer
	// TSA answers signatures/timestamp; without it the method is not
	// offered.
	TSA Timestamper
	// Name is the service's name in info. Default "esign".
	Name string
	// SADLifetime is how long a SAD lasts. Default 5 minutes.
	SADLifetime time.Duration
	// TokenLifetime is how long an auth/login token lasts. Default 15
	// minutes.
	TokenLifetime time.Duration
	// MultiSign is the most signatures one authorisation allows
	// (multisign). Default 100.
	MultiSign int
	// MaxBody bounds signatures/signDoc's body, which carries PDFs in
	// base64. Default 70 MiB.
	MaxBody int64
	// MaxSmallBody bounds the body of every other method: credential
	// IDs, hashes and activation data. Default 64 KiB.
	MaxSmallBody int64
	// DocRequests bounds the signDoc requests read and signed at once,
	// each holding up to MaxBody and its documents; more get 503
	// temporarily_unavailable at once. Default 2.
	DocRequests int
	// Concurrency bounds the requests signing at once; more wait up to
	// QueueWait, then get 503. Default 8 and 10 s.
	Concurrency int
	QueueWait   time.Duration
	Now         func() time.Time // default time.Now
}

// Server is the CSC API.
type Server struct {
	cfg   Config
	slots chan struct{}
	// docs holds one token per signDoc request in flight (DocRequests).
	docs chan struct{}
}

// Open makes the API's tables if missing and returns the server.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	if err := cfg.Store.Migrate(ctx, "csc", sub); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = "esign"
	}
	if cfg.SADLifetime <= 0 {
		cfg.SADLifetime = 5 * time.Minute
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = 15 * time.Minute
	}
	if cfg.MultiSign <= 0 {
		cfg.MultiSign = 100
	}
	cfg.MultiSign = min(cfg.MultiSign, maxHashesPerSAD)
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 70 << 20
	}
	if cfg.MaxSmallBody <= 0 {
		cfg.MaxSmallBody = 64 << 10
	}
	if cfg.DocRequests <= 0 {
		cfg.DocRequests = 2
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Server{cfg: cfg, slots: make(chan struct{}, cfg.Concurrency), docs: make(chan struct{}, cfg.DocRequests)}, nil
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// Routes adds /csc/v1 and /csc/v2 to the root group (api.Config's
// RootRoutes).
func (s *Server) Routes(root *gin.RouterGroup) {
	for _, v := range []Version{V1, V2} {
		g := root.Group(fmt.Sprintf("/csc/v%d", v))
		g.POST("/info", s.info(v))
		g.GET("/info", s.info(v))
		g.POST("/auth/login", s.login)
		g.POST("/auth/revoke", s.authenticate, s.revoke)
		g.POST("/credentials/list", s.authenticate, s.list(v))
		g.POST("/credentials/info", s.authenticate, s.credentialInfo(v))
		g.POST("/credentials/authorize", s.authenticate, s.authorize(v))
		g.POST("/signatures/signHash", s.authenticate, s.signHash(v))
		g.POST("/signatures/timestamp", s.authenticate, s.timestamp)
		if v == V2 {
			g.POST("/signatures/signDoc", s.authenticate, s.signDoc)
		}
	}
}

// keyClient holds the authenticated *store.Client in the gin context.
const keyClient = "csc_client"

func clientOf(c *gin.Context) *store.Client { return c.MustGet(keyClient).(*store.Client) }

// authenticate takes the API key, or an auth/login token, from
// "Authorization: Bearer".
func (s *Server) authenticate(c *gin.Context) {
	ctx := c.Request.Context()
	tok, ok := api.BearerToken(c.GetHeader("Authorization"))
	if !ok {
		fail(c, store.ErrUnauthenticated)
		return
	}
	var cl *store.Client
	var err error
	if strings.HasPrefix(tok, tokenPrefix) {
		cl, err = s.tokenClient(ctx, tok)
	} else {
		cl, err = s.cfg.Store.Authenticate(ctx, tok)
	}
	if err != nil {
		fail(c, err)
		return
	}
	c.Set(keyClient, cl)
	api.SetClient(c, cl)
	c.Next()
}

// body reads a request body of a method other than signDoc, up to
// MaxSmallBody.
func (s *Server) body(c *gin.Context) ([]byte, error) { return s.readBody(c, s.cfg.MaxSmallBody) }

// parseBody reads a small request body and parses it with parse. When
// either fails it has answered the error, and says so with false.
func parseBody[T any](s *Server, c *gin.Context, parse func([]byte) (T, error)) (T, bool) {
	var req T
	b, err := s.body(c)
	if err == nil {
		req, err = parse(b)
	}
	if err != nil {
		fail(c, err)
		return req, false
	}
	return req, true
}

// readBody reads the request body up to limit bytes; past it the answer
// is 413.
func (s *Server) readBody(c *gin.Context, limit int64) ([]byte, error) {
	if c.Request.ContentLength > limit {
		return nil, errTooLarge
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, errTooLarge
	}
	if err != nil {
		return nil, badRequest("the body could not be read")
	}
	return b, nil
}

// admitDoc takes a place among the signDoc requests in flight, or
// answers errBusy at once when there is none.
func (s *Server) admitDoc() (func(), error) {
	select {
	case s.docs <- struct{}{}:
		return func() { <-s.docs }, nil
	default:
		return nil, errBusy
	}
}

// acquire waits for a signing slot, or fails when the queue is full.
func (s *Server) acquire(ctx context.Context) (func(), error) {
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

// credential returns the credential the client may use now, with its key.
func (s *Server) credential(ctx context.Context, cl *store.Client, name string) (*store.Credential, signer.Credential, error) {
	cred, err := s.cfg.Store.Authorize(ctx, cl, name)
	if err != nil {
		return nil, signer.Credential{}, err
	}
	key, err := s.cfg.Keys.Resolve(ctx, cred)
	if err != nil {
		return nil, signer.Credential{}, err
	}
	return cred, key, nil
}

// scal is the credential's sole-control assurance level: "2" when it
// needs the signer's PIN or code, whose authorisation then pins the
// hashes; "1" for credentials without activation (seals, registrars'
// bulk signing).
func scal(c *store.Credential) string {
	if c.Activation == store.ActivationNone {
		return "1"
	}
	return "2"
}

// record appends audit entries, failing the request if it cannot: a
// signature the log does not know of is never handed out.
func (s *Server) record(ctx context.Context, es ...audit.Entry) error {
	if _, err := s.cfg.Audit.AppendAll(context.WithoutCancel(ctx), es); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// recordFailure writes the failure's audit entry; an error writing it
// goes to the log beside the request's own.
func (s *Server) recordFailure(c *gin.Context, e audit.Entry, err error) {
	s.recordFailures(c, []audit.Entry{e}, err)
}

// recordFailures records entries, one request's, as failed with err's
// code.
func (s *Server) recordFailures(c *gin.Context, entries []audit.Entry, err error) {
	code := classify(err).Code
	for i := range entries {
		entries[i].Result, entries[i].ErrorCode = audit.Failure, code
	}
	if aerr := s.record(c.Request.Context(), entries...); aerr != nil {
		_ = c.Error(aerr)
	}
}
