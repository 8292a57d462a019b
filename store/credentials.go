package store

import (
	"context"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ActivationMode says what a signer must present with each signature.
type ActivationMode string

const (
	// ActivationNone needs nothing; for development and for registrars'
	// bulk seals.
	ActivationNone ActivationMode = "none"
	// ActivationPIN needs the signer's PIN.
	ActivationPIN ActivationMode = "pin"
	// ActivationTOTP needs a current code from the signer's authenticator
	// app (RFC 6238).
	ActivationTOTP ActivationMode = "totp"
)

// ParseActivationMode accepts none, pin or totp.
func ParseActivationMode(s string) (ActivationMode, error) {
	switch m := ActivationMode(s); m {
	case ActivationNone, ActivationPIN, ActivationTOTP:
		return m, nil
	}
	return "", fmt.Errorf("%w: activation mode %q (want none, pin or totp)", ErrInvalid, s)
}

// Credential is a signer: an official or registrar, bound to a key in the
// HSM and a certificate.
type Credential struct {
	Name string
	// DisplayName and Position are shown in visible signatures, for
	// example "(นางสาวสมศรี ใจดี)" and "ผู้อำนวยการกองกลาง".
	DisplayName string
	Position    string
	// KeyLabel is the CKA_LABEL of the private key in the HSM.
	KeyLabel string
	// ChainPEM is the certificate chain, leaf first, in PEM. Empty means
	// the certificate is read from the token beside the key.
	ChainPEM   []byte
	Activation ActivationMode
	Disabled   bool
	// HasPIN and HasTOTP report whether activation data is enrolled.
	HasPIN, HasTOTP bool
	// Failures counts activation failures since the last success or lock.
	Failures int
	// LockedUntil is when a lockout ends; zero when never locked.
	LockedUntil time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Chain parses ChainPEM; nil when it is empty.
func (c *Credential) Chain() ([]*x509.Certificate, error) {
	return ParseChain(c.ChainPEM)
}

// ParseChain reads the CERTIFICATE blocks of a PEM chain. Other blocks
// are refused: a private key has no place here.
func ParseChain(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: PEM block %q in certificate chain", ErrInvalid, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d of chain: %v", ErrInvalid, len(out)+1, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// CreateCredential adds a credential. Only Name, DisplayName, Position,
// KeyLabel, ChainPEM, Activation and Disabled are read; an empty
// Activation means none. PINs and TOTP secrets are set afterwards.
func (s *Store) CreateCredential(ctx context.Context, c Credential) error {
	if err := s.checkCredential(&c); err != nil {
		return err
	}
	now := FormatTime(s.now())
	err := s.WithTx(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO credentials
			(name, display_name, position, key_label, chain_pem, activation, disabled, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Name, c.DisplayName, c.Position, c.KeyLabel, string(c.ChainPEM), string(c.Activation), boolInt(c.Disabled), now, now)
		if isUniqueViolation(err) {
			return ErrExists
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create credential %q: %w", c.Name, err)
	}
	return nil
}

// UpdateCredential replaces the descriptive fields of an existing
// credential (DisplayName, Position, KeyLabel, ChainPEM, Activation,
// Disabled). Enrolled PIN or TOTP secret and the lockout state stay.
func (s *Store) UpdateCredential(ctx context.Context, c Credential) error {
	if err := s.checkCredential(&c); err != nil {
		return err
	}
	err := s.WithTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE credentials SET display_name = ?, position = ?, key_label = ?,
			chain_pem = ?, activation = ?, disabled = ?, updated_at = ? WHERE name = ?`,
			c.DisplayName, c.Position, c.KeyLabel, string(c.ChainPEM), string(c.Activation), boolInt(c.Disabled), FormatTime(s.now()), c.Name)
		return affected(res, err)
	})
	if err != nil {
		return fmt.Errorf("update credential %q: %w", c.Name, err)
	}
	return nil
}

// maxChainPEM bounds a stored certificate chain.
const maxChainPEM = 256 << 10

func (s *Store) checkCredential(c *Credential) error {
	if err := validName("credential", c.Name); err != nil {
		return err
	}
	if c.Activation == "" {
		c.Activation = ActivationNone
	}
	if _, err := ParseActivationMode(string(c.Activation)); err != nil {
		return err
	}
	if c.KeyLabel == "" || len(c.KeyLabel) > 255 {
		return fmt.Errorf("%w: credential %q: key label must be 1-255 bytes", ErrInvalid, c.Name)
	}
	if len(c.DisplayName) > 1024 || len(c.Position) > 1024 {
		return fmt.Errorf("%w: credential %q: display name and position are limited to 1024 bytes", ErrInvalid, c.Name)
	}
	if len(c.ChainPEM) > maxChainPEM {
		return fmt.Errorf("%w: credential %q: certificate chain over %d bytes", ErrInvalid, c.Name, maxChainPEM)
	}
	if len(c.ChainPEM) > 0 {
		chain, err := ParseChain(c.ChainPEM)
		if err != nil {
			return fmt.Errorf("credential %q: %w", c.Name, err)
		}
		if len(chain) == 0 {
			return fmt.Errorf("%w: credential %q: no certificate in the chain PEM", ErrInvalid, c.Name)
		}
	}
	return nil
}

// credentialColumnsOf lists what scanCredential reads, of table alias t
// ("" for none).
func credentialColumnsOf(t string) string {
	p := ""
	if t != "" {
		p = t + "."
	}
	return strings.NewReplacer("$.", p).Replace(`$.name, $.display_name, $.position, $.key_label, $.chain_pem, $.activation, $.disabled,
	$.pin_hash <> '', $.totp_secret <> '', $.failures, $.locked_until, $.created_at, $.updated_at`)
}

func scanCredential(sc interface{ Scan(...any) error }) (*Credential, error) {
	var c Credential
	var chain, mode, locked, created, updated string
	var disabled int
	var hasPIN, hasTOTP bool
	if err := sc.Scan(&c.Name, &c.DisplayName, &c.Position, &c.KeyLabel, &chain, &mode, &disabled,
		&hasPIN, &hasTOTP, &c.Failures, &locked, &created, &updated); err != nil {
		return nil, err
	}
	c.ChainPEM = []byte(chain)
	c.Activation = ActivationMode(mode)
	c.Disabled = disabled != 0
	c.HasPIN, c.HasTOTP = hasPIN, hasTOTP
	var err error
	if c.LockedUntil, err = ParseTime(locked); err != nil {
		return nil, err
	}
	if c.CreatedAt, err = ParseTime(created); err != nil {
		return nil, err
	}
	if c.UpdatedAt, err = ParseTime(updated); err != nil {
		return nil, err
	}
	return &c, nil
}

// Credential returns one credential.
func (s *Store) Credential(ctx context.Context, name string) (*Credential, error) {
	c, err := scanCredential(s.queryRow(ctx, "SELECT "+credentialColumnsOf("")+" FROM credentials WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: credential %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("read credential %q: %w", name, err)
	}
	return c, nil
}

// ListCredentials returns every credential, by name.
func (s *Store) ListCredentials(ctx context.Context) ([]Credential, error) {
	rows, err := s.query(ctx, "SELECT "+credentialColumnsOf("")+" FROM credentials ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	defer rows.Close()
	var out []Credential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, fmt.Errorf("read credentials: %w", err)
		}
		out = append(out, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	return out, nil
}

// SetCredentialDisabled disables or re-enables a credential. No client
// may sign with a disabled credential.
func (s *Store) SetCredentialDisabled(ctx context.Context, name string, disabled bool) error {
	return s.updateCredential(ctx, name, "disabled = ?", boolInt(disabled))
}

// SetActivationMode changes what the signer must present. Switching to
// pin or totp without enrolled data makes activation fail until SetPIN or
// SetTOTPSecret.
func (s *Store) SetActivationMode(ctx context.Context, name string, mode ActivationMode) error {
	if _, err := ParseActivationMode(string(mode)); err != nil {
		return err
	}
	return s.updateCredential(ctx, name, "activation = ?", string(mode))
}

// SetPIN stores an argon2id hash of pin and makes pin the credential's
// activation mode. The failure count and any lockout are cleared.
func (s *Store) SetPIN(ctx context.Context, name string, pin []byte) error {
	h, err := HashPIN(pin)
	if err != nil {
		return err
	}
	return s.updateCredential(ctx, name, "pin_hash = ?, activation = ?, failures = 0, locked_until = ''", h, string(ActivationPIN))
}

// SetTOTPSecret seals and stores a TOTP secret and makes totp the
// credential's activation mode. The replay guard, the failure count and
// any lockout are cleared.
func (s *Store) SetTOTPSecret(ctx context.Context, name string, secret []byte) error {
	if len(secret) < 16 || len(secret) > 64 {
		return fmt.Errorf("%w: TOTP secret must be 16-64 bytes", ErrInvalid)
	}
	sealed, err := s.box.seal(secret, totpAAD(name))
	if err != nil {
		return fmt.Errorf("seal TOTP secret: %w", err)
	}
	return s.updateCredential(ctx, name, "totp_secret = ?, totp_last_step = 0, activation = ?, failures = 0, locked_until = ''", sealed, string(ActivationTOTP))
}

// ResetLockout clears the credential's failure count and lockout.
func (s *Store) ResetLockout(ctx context.Context, name string) error {
	return s.updateCredential(ctx, name, "failures = 0, locked_until = ''")
}

// updateCredential sets columns (fixed SQL from this package) of one
// credential and its updated_at.
func (s *Store) updateCredential(ctx context.Context, name, set string, args ...any) error {
	args = append(args, FormatTime(s.now()), name)
	err := s.WithTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE credentials SET "+set+", updated_at = ? WHERE name = ?", args...)
		return affected(res, err)
	})
	if err != nil {
		return fmt.Errorf("update credential %q: %w", name, err)
	}
	return nil
}

// totpAAD binds a sealed secret to its credential, so a secret copied
// into another credential's row does not open.
func totpAAD(name string) []byte { return []byte("esign totp secret v1\x00" + name) }

// ActivationState is what checking a credential's activation data needs.
// It holds secrets: keep it out of logs.
type ActivationState struct {
	Mode     ActivationMode
	Disabled bool
	// PINHash is the argon2id hash for VerifyPIN; "" when none is set.
	PINHash string
	// TOTPSecret is the unsealed secret; nil when none is enrolled.
	TOTPSecret []byte
	// TOTPLastStep is the last time step accepted (replay guard).
	TOTPLastStep int64
	Failures     int
	LockedUntil  time.Time
}

// ActivationState reads a credential's activation data and lockout
// state.
func (s *Store) ActivationState(ctx context.Context, name string) (*ActivationState, error) {
	var st ActivationState
	var mode, sealed, locked string
	var disabled int
	err := s.queryRow(ctx, `SELECT activation, disabled, pin_hash, totp_secret, totp_last_step, failures, locked_until
		FROM credentials WHERE name = ?`, name).Scan(&mode, &disabled, &st.PINHash, &sealed, &st.TOTPLastStep, &st.Failures, &locked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: credential %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("read activation state of %q: %w", name, err)
	}
	st.Mode = ActivationMode(mode)
	st.Disabled = disabled != 0
	if st.LockedUntil, err = ParseTime(locked); err != nil {
		return nil, err
	}
	if sealed != "" {
		if st.TOTPSecret, err = s.box.open(sealed, totpAAD(name)); err != nil {
			return nil, fmt.Errorf("TOTP secret of %q: %w", name, err)
		}
	}
	return &st, nil
}

// RecordActivationSuccess clears the failure count and lockout. For TOTP,
// step is the time step of the accepted code: it is recorded only if it
// is later than the last one accepted, atomically, so that one code
// cannot be used twice even by concurrent requests; otherwise
// ErrStaleTOTPStep is returned and nothing changes. Pass step 0 for PIN.
func (s *Store) RecordActivationSuccess(ctx context.Context, name string, step int64) error {
	err := s.WithTx(ctx, func(tx *Tx) error {
		if step == 0 {
			res, err := tx.ExecContext(ctx, "UPDATE credentials SET failures = 0, locked_until = '' WHERE name = ?", name)
			return affected(res, err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE credentials SET failures = 0, locked_until = '', totp_last_step = ?
			WHERE name = ? AND totp_last_step < ?`, step, name, step)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		if err := mustExist(ctx, tx, "credentials", name); err != nil {
			return err
		}
		return ErrStaleTOTPStep
	})
	if err != nil {
		return fmt.Errorf("record activation of %q: %w", name, err)
	}
	return nil
}

// RecordActivationFailure counts a failed activation at now. When the
// count reaches maxFailures the credential is locked until now+lockFor
// and the count starts again. The end of the lock is returned: zero if
// the credential is not locked after this failure. A lock that has
// already expired at now is treated as cleared, so this failure is the
// first of a new series; one still running is left as it is.
func (s *Store) RecordActivationFailure(ctx context.Context, name string, now time.Time, maxFailures int, lockFor time.Duration) (time.Time, error) {
	var until time.Time
	err := s.WithTx(ctx, func(tx *Tx) error {
		var failures int
		var locked string
		err := tx.QueryRowContext(ctx, "SELECT failures, locked_until FROM credentials WHERE name = ?"+s.ForUpdate(), name).Scan(&failures, &locked)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: credential %q", ErrNotFound, name)
		}
		if err != nil {
			return err
		}
		lockedUntil, err := ParseTime(locked)
		if err != nil {
			return err
		}
		switch {
		case now.Before(lockedUntil):
			until = lockedUntil // locked meanwhile by a concurrent failure
			return nil
		case !lockedUntil.IsZero():
			failures, locked = 0, "" // the previous lock has run out
		}
		failures++
		if failures >= maxFailures {
			until = now.Add(lockFor)
			failures, locked = 0, FormatTime(until)
		}
		_, err = tx.ExecContext(ctx, "UPDATE credentials SET failures = ?, locked_until = ? WHERE name = ?", failures, locked, name)
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("record activation failure of %q: %w", name, err)
	}
	return until, nil
}
