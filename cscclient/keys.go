package cscclient

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"time"

	"esign/activation"
	"esign/csc"
	"esign/internal/loopback"
	"esign/internal/readlimit"
	"esign/outbound"
	"esign/signer"
	"esign/store"
)

//go:embed migrations
var migrationFiles embed.FS

func migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // embedded at build time
	}
	return sub
}

// LabelPrefix starts the key label of a credential whose key is remote;
// what follows is the remote credential's ID.
const LabelPrefix = "csc:"

// IsRemote reports whether c's key lives in a remote CSC service.
func IsRemote(c *store.Credential) bool { return strings.HasPrefix(c.KeyLabel, LabelPrefix) }

// Remote is where a credential's key lives.
type Remote struct {
	URL        string // the service's base address, without /csc/v2
	Credential string // its credentialID there
	KeyFile    string // the file holding our API key there
}

// Validate checks r's form: an https URL without user information (http
// only to a loopback host: the API key, and the PIN or code forwarded
// with each signature, must not travel in clear), a credential ID, a key
// file.
func (r Remote) Validate() error {
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return fmt.Errorf("%w: CSC URL must be an https address without credentials", store.ErrInvalid)
	}
	if u.Scheme == "http" && !loopback.Host(u.Hostname()) {
		return fmt.Errorf("%w: CSC URL must be https: the API key and the signers' PINs would travel in clear (http only to a loopback address)", store.ErrInvalid)
	}
	if r.Credential == "" || r.KeyFile == "" || len(r.Credential) > 250 {
		return fmt.Errorf("%w: the remote credential (at most 250 bytes) and the key file are required", store.ErrInvalid)
	}
	return nil
}

// Register records that credential's key is remote. The credential
// itself is made with store.CreateCredential, its KeyLabel
// LabelPrefix+r.Credential.
func Register(ctx context.Context, st *store.Store, credential string, r Remote) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := st.Migrate(ctx, "cscclient", migrations()); err != nil {
		return err
	}
	return st.WithTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO csc_remote_keys (credential, url, remote_credential, key_file) VALUES (?, ?, ?, ?)`,
			credential, r.URL, r.Credential, r.KeyFile)
		if store.IsUniqueViolation(err) {
			return store.ErrExists
		}
		return err
	})
}

// Local resolves the credentials whose keys are in the local HSM.
type Local interface {
	Resolve(ctx context.Context, c *store.Credential) (signer.Credential, error)
}

// Options configures Keys. The zero value takes the defaults.
type Options struct {
	// Outbound sets timeouts and response limits of the calls; the
	// operator's CSC URL is added to its trusted destinations (it is
	// configuration, like the TSA URL).
	Outbound outbound.Options
	// InfoTTL is how long a remote credential's key and chain are kept
	// before credentials/info is asked again. Default 5 minutes.
	InfoTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Keys resolves credentials: remote ones here, the others through
// Local.
type Keys struct {
	st    *store.Store
	local Local
	opts  Options

	mu      sync.Mutex
	remotes map[string]*remote // by credential name
}

// New returns Keys over st, making its table if missing.
func New(ctx context.Context, st *store.Store, local Local, opts Options) (*Keys, error) {
	if err := st.Migrate(ctx, "cscclient", migrations()); err != nil {
		return nil, err
	}
	if opts.InfoTTL <= 0 {
		opts.InfoTTL = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Keys{st: st, local: local, opts: opts, remotes: map[string]*remote{}}, nil
}

// remote is a remote credential as last described, and the SAD it
// holds for signatures without activation data.
type remote struct {
	client     *Client
	credential string
	pub        crypto.PublicKey
	chain      []*x509.Certificate
	scal       string
	multisign  int
	authID     string // PIN or OTP
	fetched    time.Time

	sadMu   sync.Mutex
	sad     string
	sadLeft int
	sadEnd  time.Time
}

// Resolve implements api.Keys.
func (k *Keys) Resolve(ctx context.Context, c *store.Credential) (signer.Credential, error) {
	if !IsRemote(c) {
		return k.local.Resolve(ctx, c)
	}
	r, err := k.remote(ctx, c)
	if err != nil {
		return signer.Credential{}, err
	}
	chain := r.chain
	if len(c.ChainPEM) > 0 {
		if chain, err = c.Chain(); err != nil {
			return signer.Credential{}, fmt.Errorf("chain of credential %q: %w", c.Name, err)
		}
		if k, ok := chain[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(r.pub) {
			return signer.Credential{}, fmt.Errorf("%w: the stored certificate of credential %q does not belong to its remote key", signer.ErrCertificate, c.Name)
		}
	}
	return signer.Credential{Signer: &remoteSigner{r: r, ctx: ctx, data: activation.FromContext(ctx), now: k.opts.Now}, Chain: chain}, nil
}

// ActivatesEachSignature reports whether c's key is remote and of SCAL
// 2: each signature then needs the signer's PIN or code, forwarded with
// it, so the credential cannot sign a batch (batch.EachSignatureActivation).
func (k *Keys) ActivatesEachSignature(ctx context.Context, c *store.Credential) (bool, error) {
	if !IsRemote(c) {
		return false, nil
	}
	r, err := k.remote(ctx, c)
	if err != nil {
		return false, err
	}
	return r.scal == "2", nil
}

func (k *Keys) remote(ctx context.Context, c *store.Credential) (*remote, error) {
	k.mu.Lock()
	r := k.remotes[c.Name]
	k.mu.Unlock()
	if r != nil && k.opts.Now().Sub(r.fetched) < k.opts.InfoTTL {
		return r, nil
	}
	var cfg Remote
	err := k.st.QueryRow(ctx, "SELECT url, remote_credential, key_file FROM csc_remote_keys WHERE credential = ?", c.Name).
		Scan(&cfg.URL, &cfg.Credential, &cfg.KeyFile)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("credential %q: key label %q names a remote key, but none is registered", c.Name, c.KeyLabel)
	}
	if err != nil {
		return nil, fmt.Errorf("credential %q: remote key: %w", c.Name, err)
	}
	// Registered before http was refused, or written by hand: checked
	// again before the key goes out.
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("credential %q: %w", c.Name, err)
	}
	key, err := readlimit.File(cfg.KeyFile, 4096)
	if err != nil {
		return nil, fmt.Errorf("credential %q: remote API key file: %w", c.Name, err)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("credential %q: CSC URL: %w", c.Name, err)
	}
	oo := k.opts.Outbound
	oo.Trusted = append(append([]string(nil), oo.Trusted...), u.Scheme+"://"+u.Host)
	hc, err := outbound.New(oo)
	if err != nil {
		return nil, fmt.Errorf("credential %q: outbound client: %w", c.Name, err)
	}
	nr := &remote{client: &Client{BaseURL: cfg.URL, APIKey: strings.TrimSpace(string(key)), HTTP: hc},
		credential: cfg.Credential, fetched: k.opts.Now()}
	info, err := nr.client.CredentialInfo(ctx, cfg.Credential)
	if err != nil {
		return nil, fmt.Errorf("credential %q: %w", c.Name, err)
	}
	if err := nr.describe(info); err != nil {
		return nil, fmt.Errorf("credential %q: %w", c.Name, err)
	}
	k.mu.Lock()
	k.remotes[c.Name] = nr
	k.mu.Unlock()
	return nr, nil
}

func (r *remote) describe(info *Info) error {
	for _, s := range info.Cert.Certificates {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("%w: remote certificate is not base64", signer.ErrCertificate)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("%w: remote certificate: %v", signer.ErrCertificate, err)
		}
		r.chain = append(r.chain, c)
	}
	if len(r.chain) == 0 {
		return fmt.Errorf("%w: the remote credential has no certificate", signer.ErrCertificate)
	}
	r.pub = r.chain[0].PublicKey
	r.scal, r.multisign = info.SCAL, max(info.MultiSign, 1)
	r.authID = "PIN"
	for _, o := range info.Auth.Objects {
		r.authID = o.ID
	}
	return nil
}

// remoteSigner is the crypto.Signer of one resolution: it carries the
// request's context and the activation data it brought.
type remoteSigner struct {
	r    *remote
	ctx  context.Context
	data string
	now  func() time.Time
}

func (s *remoteSigner) Public() crypto.PublicKey { return s.r.pub }

// Sign signs digest remotely. With activation data, or under SCAL 2, it
// authorises this one hash with the data; without, it spends a SAD kept
// for the credential, authorised for as many signatures as the remote's
// multisign allows, so a batch authorises once for many signatures.
func (s *remoteSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	h := opts.HashFunc()
	hashOID := csc.OIDOfHash(h)
	if hashOID == "" || len(digest) != h.Size() {
		return nil, fmt.Errorf("cscclient: sign: hash %v of %d bytes is not supported", h, len(digest))
	}
	var signAlgo string
	var params []byte
	switch s.r.pub.(type) {
	case *rsa.PublicKey:
		signAlgo = csc.OIDRSA
		if _, ok := opts.(*rsa.PSSOptions); ok {
			signAlgo = csc.OIDRSAPSS
			var err error
			if params, err = csc.MarshalPSSParams(h); err != nil {
				return nil, err
			}
		}
	case *ecdsa.PublicKey:
		signAlgo = csc.OIDECPublicKey
	default:
		return nil, errors.New("cscclient: sign: unsupported key type")
	}
	hashes := [][]byte{digest}
	if s.data != "" || s.r.scal == "2" {
		sad, _, err := s.r.client.Authorize(s.ctx, s.r.credential, 1, hashes, hashOID, s.r.authID, s.data)
		if err != nil {
			return nil, err
		}
		sigs, err := s.r.client.SignHash(s.ctx, s.r.credential, sad, hashes, hashOID, signAlgo, params)
		if err != nil {
			return nil, err
		}
		return sigs[0], nil
	}
	for attempt := 0; ; attempt++ {
		sad, err := s.pooledSAD()
		if err != nil {
			return nil, err
		}
		sigs, err := s.r.client.SignHash(s.ctx, s.r.credential, sad, hashes, hashOID, signAlgo, params)
		var re *RemoteError
		if err != nil && attempt == 0 && errors.As(err, &re) && strings.Contains(re.Description, "SAD") {
			s.r.dropSAD(sad) // expired or spent elsewhere: once more with a fresh one
			continue
		}
		if err != nil {
			return nil, err
		}
		return sigs[0], nil
	}
}

// pooledSAD takes one signature of the credential's kept SAD, asking
// for a new one when it is spent or about to expire.
func (s *remoteSigner) pooledSAD() (string, error) {
	r := s.r
	r.sadMu.Lock()
	defer r.sadMu.Unlock()
	if r.sad == "" || r.sadLeft <= 0 || s.now().Add(10*time.Second).After(r.sadEnd) {
		sad, life, err := r.client.Authorize(s.ctx, r.credential, r.multisign, nil, "", "", "")
		if err != nil {
			return "", err
		}
		// The remote's expiresIn, at most the CSC default of 5 minutes;
		// a SAD that turns out spent or expired early is replaced once
		// (Sign).
		if life <= 0 || life > 5*time.Minute {
			life = 5 * time.Minute
		}
		r.sad, r.sadLeft, r.sadEnd = sad, r.multisign, s.now().Add(life)
	}
	r.sadLeft--
	return r.sad, nil
}

func (r *remote) dropSAD(sad string) {
	r.sadMu.Lock()
	defer r.sadMu.Unlock()
	if r.sad == sad {
		r.sad = ""
	}
}
