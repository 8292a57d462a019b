// Package activation checks a signer's activation data — a PIN, or a
// TOTP code (RFC 6238) from the official's authenticator app — before
// each signature, so that the signature shows the signer's own intent.
//
// Repeated failures lock the credential for a while: after
// Options.MaxFailures wrong attempts in a row (default 5) it refuses
// every attempt, right or wrong, for Options.LockFor (default 15 min).
// An operator clears a lock with store.ResetLockout.
//
// Activation data is a secret: it never appears in an error or log line
// from this package.
package activation

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime"
	"time"

	"esign/store"
)

var (
	// ErrActivationFailed reports wrong or missing activation data. The
	// API answers 403.
	ErrActivationFailed = errors.New("activation: wrong or missing activation data")
	// ErrNotEnrolled reports a credential that needs a PIN or TOTP code
	// but has none enrolled yet. It is an ErrActivationFailed.
	ErrNotEnrolled = fmt.Errorf("%w: the credential has no PIN or TOTP secret enrolled", ErrActivationFailed)
	// ErrLocked reports a credential locked after repeated failures; the
	// error is a *LockedError. It is also an ErrActivationFailed, so a
	// caller that only knows that answers 403 too. The API answers 403
	// (as for wrong activation: the issue asks for 403) with its own
	// error code and a Retry-After header from LockedError.RetryAfter.
	ErrLocked = errors.New("activation: credential locked after repeated failures")
)

// LockedError reports when a lockout ends.
type LockedError struct {
	Until time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("activation: credential locked after repeated failures until %s", e.Until.UTC().Format(time.RFC3339))
}

// Is makes errors.Is hold for ErrLocked and ErrActivationFailed.
func (e *LockedError) Is(target error) bool {
	return target == ErrLocked || target == ErrActivationFailed
}

// RetryAfter returns how long from now the lock lasts, rounded up to a
// whole second, for a Retry-After header.
func (e *LockedError) RetryAfter(now time.Time) time.Duration {
	d := e.Until.Sub(now)
	if d <= 0 {
		return 0
	}
	return (d + time.Second - 1).Truncate(time.Second)
}

// Options configures an Activator. The zero value takes every default.
type Options struct {
	// MaxFailures is how many failures in a row lock the credential.
	// Default 5.
	MaxFailures int
	// LockFor is how long a lock lasts. Default 15 minutes.
	LockFor time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// TOTP sets the code parameters; the zero value is SHA-1, 6 digits,
	// 30 s, ±1 step.
	TOTP TOTP
	// MaxConcurrentPINChecks bounds argon2id computations in flight, each
	// of which takes 19 MiB. Default GOMAXPROCS.
	MaxConcurrentPINChecks int
}

// stripes is how many per-credential locks there are; credentials
// hashing to one stripe wait for each other, which is harmless.
const stripes = 64

// maxDataLen bounds activation data; longer data fails without being
// hashed.
const maxDataLen = store.MaxPINLen

// Activator checks activation data against a store. It is safe for
// concurrent use.
type Activator struct {
	st   *store.Store
	opts Options
	// locks serialise attempts on one credential within this process, so
	// that concurrent wrong guesses are counted one after another and
	// cannot overshoot MaxFailures. (Servers sharing a database each
	// serialise their own; the count is kept in the database.)
	locks    [stripes]chan struct{}
	pinSlots chan struct{}
}

// New returns an Activator over st.
func New(st *store.Store, opts Options) *Activator {
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = 5
	}
	if opts.LockFor <= 0 {
		opts.LockFor = 15 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxConcurrentPINChecks <= 0 {
		opts.MaxConcurrentPINChecks = runtime.GOMAXPROCS(0)
	}
	a := &Activator{st: st, opts: opts, pinSlots: make(chan struct{}, opts.MaxConcurrentPINChecks)}
	for i := range a.locks {
		a.locks[i] = make(chan struct{}, 1)
	}
	return a
}

// acquire takes a channel used as a mutex, giving up with ctx.
func acquire(ctx context.Context, ch chan struct{}) (func(), error) {
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Activate checks data, the activation data sent with a signing request,
// for the named credential. It returns nil when the credential needs no
// activation or data is right; an error wrapping ErrActivationFailed when
// data is missing or wrong (or the credential has nothing enrolled); a
// *LockedError while the credential is locked; store.ErrNotFound for an
// unknown credential; other errors for database failures.
//
// Missing data is refused without counting as a failure: it is an
// integration mistake, not a guess. A TOTP code is accepted once: a
// second use of a code, or of any code from the same or an earlier time
// step, fails.
func (a *Activator) Activate(ctx context.Context, credential, data string) error {
	h := fnv.New32a()
	h.Write([]byte(credential))
	release, err := acquire(ctx, a.locks[h.Sum32()%stripes])
	if err != nil {
		return err
	}
	defer release()

	st, err := a.st.ActivationState(ctx, credential)
	if err != nil {
		return fmt.Errorf("activate: %w", err)
	}
	if st.Mode == store.ActivationNone {
		return nil
	}
	now := a.opts.Now()
	if now.Before(st.LockedUntil) {
		return &LockedError{Until: st.LockedUntil}
	}
	if data == "" {
		return fmt.Errorf("%w: this credential needs a %s in the activation field", ErrActivationFailed, st.Mode)
	}
	var ok bool
	var step int64
	switch st.Mode {
	case store.ActivationPIN:
		if st.PINHash == "" {
			return ErrNotEnrolled
		}
		if len(data) <= maxDataLen {
			if ok, err = a.checkPIN(ctx, st.PINHash, data); err != nil {
				return err
			}
		}
	case store.ActivationTOTP:
		if st.TOTPSecret == nil {
			return ErrNotEnrolled
		}
		step, ok = a.opts.TOTP.Verify(st.TOTPSecret, data, now, st.TOTPLastStep)
	default:
		return fmt.Errorf("activate: credential %q has unknown activation mode %q", credential, st.Mode)
	}
	if ok && step == 0 && st.Failures == 0 && st.LockedUntil.IsZero() {
		// A PIN with nothing to clear: no write, so a signature does
		// not queue for SQLite's write lock behind the audit log.
		return nil
	}
	if ok {
		err := a.st.RecordActivationSuccess(ctx, credential, step)
		if !errors.Is(err, store.ErrStaleTOTPStep) {
			if err != nil {
				return fmt.Errorf("activate: %w", err)
			}
			return nil
		}
		// Another server accepted this step meanwhile: a replay.
	}
	until, err := a.st.RecordActivationFailure(ctx, credential, now, a.opts.MaxFailures, a.opts.LockFor)
	if err != nil {
		return fmt.Errorf("activate: %w", err)
	}
	if !until.IsZero() {
		return fmt.Errorf("%w; the credential is now locked until %s", ErrActivationFailed, until.UTC().Format(time.RFC3339))
	}
	return ErrActivationFailed
}

func (a *Activator) checkPIN(ctx context.Context, hash, pin string) (bool, error) {
	release, err := acquire(ctx, a.pinSlots)
	if err != nil {
		return false, err
	}
	defer release()
	ok, err := store.VerifyPIN(hash, []byte(pin))
	if err != nil {
		return false, fmt.Errorf("activate: %w", err)
	}
	return ok, nil
}

// EnrolTOTP gives the credential a new TOTP secret, makes TOTP its
// activation mode, and returns the otpauth:// URI for the signer's
// authenticator app. The URI holds the secret and cannot be shown again.
// issuer names the service in the app; default "esign".
func EnrolTOTP(ctx context.Context, st *store.Store, credential, issuer string, p TOTP) (string, error) {
	if issuer == "" {
		issuer = "esign"
	}
	if _, err := p.withDefaults().hash(); err != nil {
		return "", err
	}
	secret, err := NewTOTPSecret()
	if err != nil {
		return "", err
	}
	if err := st.SetTOTPSecret(ctx, credential, secret); err != nil {
		return "", err
	}
	return p.URI(issuer, credential, secret), nil
}

// dataKey is the context key of activation data passed on.
type dataKey struct{}

// NewContext returns ctx carrying the activation data a signing request
// brought, for a key whose own service checks it (a remote CSC key,
// which passes it to its credentials/authorize). It never leaves the
// request: nothing stores or logs it.
func NewContext(ctx context.Context, data string) context.Context {
	if data == "" {
		return ctx
	}
	return context.WithValue(ctx, dataKey{}, data)
}

// FromContext returns the activation data NewContext put in ctx; "" if
// none.
func FromContext(ctx context.Context) string {
	s, _ := ctx.Value(dataKey{}).(string)
	return s
}
