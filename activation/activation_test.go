package activation_test

import (
	"context"
	"encoding/base32"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"esign/activation"
	"esign/store"
	"esign/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func forEachBackend(t *testing.T, fn func(t *testing.T, b store.Backend)) {
	for _, b := range storetest.Backends() {
		t.Run(string(b), func(t *testing.T) { fn(t, b) })
	}
}

// clock is a settable clock for lockout expiry and TOTP steps.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newCredential(t *testing.T, st *store.Store, name string, mode store.ActivationMode) {
	t.Helper()
	if err := st.CreateCredential(context.Background(), store.Credential{Name: name, KeyLabel: name, Activation: mode}); err != nil {
		t.Fatal(err)
	}
}

func TestActivatePIN(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		st := storetest.Open(t, b, store.Options{})
		newCredential(t, st, "official", store.ActivationNone)
		newCredential(t, st, "director", store.ActivationPIN)
		newCredential(t, st, "unenrolled", store.ActivationPIN)
		if err := st.SetPIN(ctx, "director", []byte("123456")); err != nil {
			t.Fatal(err)
		}
		a := activation.New(st, activation.Options{})
		for _, tc := range []struct {
			name, cred, data string
			want             error
		}{
			{"no activation needed", "official", "", nil},
			{"no activation needed, data ignored", "official", "anything", nil},
			{"right PIN", "director", "123456", nil},
			{"wrong PIN", "director", "654321", activation.ErrActivationFailed},
			{"PIN with a trailing newline", "director", "123456\n", activation.ErrActivationFailed},
			{"missing PIN", "director", "", activation.ErrActivationFailed},
			{"oversized data", "director", strings.Repeat("1", 5000), activation.ErrActivationFailed},
			{"nothing enrolled", "unenrolled", "123456", activation.ErrNotEnrolled},
			{"unknown credential", "nobody", "123456", store.ErrNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := a.Activate(ctx, tc.cred, tc.data)
				if tc.want == nil && err != nil || !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				if tc.data != "" && err != nil && strings.Contains(err.Error(), tc.data) {
					t.Fatalf("the error shows the activation data: %v", err)
				}
			})
		}
		// The right PIN cleared the count; wrong and oversized attempts
		// counted; missing and unenrolled ones did not.
		c, err := st.Credential(ctx, "director")
		if err != nil || c.Failures != 3 {
			t.Fatalf("failures = %d, %v; want 3", c.Failures, err)
		}
	})
}

func TestLockout(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		for _, tc := range []struct {
			name    string
			opts    activation.Options
			max     int
			lockFor time.Duration
		}{
			{"defaults", activation.Options{}, 5, 15 * time.Minute},
			{"configured", activation.Options{MaxFailures: 2, LockFor: time.Minute}, 2, time.Minute},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st := storetest.Open(t, b, store.Options{})
				newCredential(t, st, "director", store.ActivationPIN)
				if err := st.SetPIN(ctx, "director", []byte("123456")); err != nil {
					t.Fatal(err)
				}
				clk := &clock{t: t0}
				tc.opts.Now = clk.Now
				a := activation.New(st, tc.opts)

				failUntilLocked := func() {
					t.Helper()
					for i := 1; i <= tc.max; i++ {
						err := a.Activate(ctx, "director", "000000")
						if !errors.Is(err, activation.ErrActivationFailed) || errors.Is(err, activation.ErrLocked) {
							t.Fatalf("wrong PIN %d: err = %v, want ErrActivationFailed", i, err)
						}
					}
				}
				failUntilLocked()
				lockEnd := t0.Add(tc.lockFor)

				// Locked: even the right PIN is refused.
				err := a.Activate(ctx, "director", "123456")
				var le *activation.LockedError
				if !errors.As(err, &le) || !errors.Is(err, activation.ErrLocked) || !errors.Is(err, activation.ErrActivationFailed) {
					t.Fatalf("right PIN while locked: err = %v, want a LockedError", err)
				}
				if !le.Until.Equal(lockEnd) || le.RetryAfter(t0) != tc.lockFor {
					t.Fatalf("locked until %v (retry after %v), want %v", le.Until, le.RetryAfter(t0), lockEnd)
				}
				clk.Advance(tc.lockFor - time.Second)
				if err := a.Activate(ctx, "director", "123456"); !errors.Is(err, activation.ErrLocked) {
					t.Fatalf("one second before expiry: err = %v, want ErrLocked", err)
				}

				// Expired: the right PIN works again.
				clk.Advance(time.Second)
				if err := a.Activate(ctx, "director", "123456"); err != nil {
					t.Fatalf("after expiry: %v", err)
				}

				// A success resets the count: max-1 failures, a success,
				// max-1 failures leave it unlocked.
				for range 2 {
					for range tc.max - 1 {
						if err := a.Activate(ctx, "director", "000000"); errors.Is(err, activation.ErrLocked) {
							t.Fatalf("locked before the threshold: %v", err)
						}
					}
					if err := a.Activate(ctx, "director", "123456"); err != nil {
						t.Fatalf("right PIN below the threshold: %v", err)
					}
				}

				// An operator's reset ends a lock at once.
				failUntilLocked()
				if err := a.Activate(ctx, "director", "123456"); !errors.Is(err, activation.ErrLocked) {
					t.Fatalf("err = %v, want ErrLocked", err)
				}
				if err := st.ResetLockout(ctx, "director"); err != nil {
					t.Fatal(err)
				}
				if err := a.Activate(ctx, "director", "123456"); err != nil {
					t.Fatalf("after reset: %v", err)
				}
			})
		}
	})
}

// TestConcurrentGuessesCannotOvershoot fires many wrong PINs at once:
// exactly MaxFailures are checked, the rest meet the lock.
func TestConcurrentGuessesCannotOvershoot(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		st := storetest.Open(t, b, store.Options{})
		newCredential(t, st, "director", store.ActivationPIN)
		if err := st.SetPIN(ctx, "director", []byte("123456")); err != nil {
			t.Fatal(err)
		}
		a := activation.New(st, activation.Options{MaxFailures: 5})
		const n = 20
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- a.Activate(ctx, "director", "999999")
			}()
		}
		wg.Wait()
		close(errs)
		checked, locked := 0, 0
		for err := range errs {
			switch {
			case errors.Is(err, activation.ErrLocked):
				locked++
			case errors.Is(err, activation.ErrActivationFailed):
				checked++
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if checked != 5 || locked != n-5 {
			t.Fatalf("%d guesses checked and %d refused as locked; want 5 and %d", checked, locked, n-5)
		}
	})
}

func secretOf(t *testing.T, uri string) []byte {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	s, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(u.Query().Get("secret"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestActivateTOTP(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		st := storetest.Open(t, b, store.Options{})
		newCredential(t, st, "director", store.ActivationNone)
		uri, err := activation.EnrolTOTP(ctx, st, "director", "", activation.TOTP{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(uri, "otpauth://totp/esign:director?") {
			t.Fatalf("URI %s", uri)
		}
		secret := secretOf(t, uri)
		clk := &clock{t: time.Unix(1_800_000_000, 0)}
		a := activation.New(st, activation.Options{Now: clk.Now})
		p := activation.TOTP{}
		code := func() string {
			c, err := p.CodeAt(secret, clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			return c
		}

		first := code()
		if err := a.Activate(ctx, "director", first); err != nil {
			t.Fatalf("current code: %v", err)
		}
		if err := a.Activate(ctx, "director", first); !errors.Is(err, activation.ErrActivationFailed) {
			t.Fatalf("replayed code: err = %v, want ErrActivationFailed", err)
		}
		clk.Advance(10 * time.Second) // same step: its code is still spent
		if err := a.Activate(ctx, "director", first); !errors.Is(err, activation.ErrActivationFailed) {
			t.Fatalf("replayed code later in its step: err = %v", err)
		}
		clk.Advance(30 * time.Second)
		if err := a.Activate(ctx, "director", code()); err != nil {
			t.Fatalf("next step's code: %v", err)
		}
		wrong := "000000"
		if code() == wrong {
			wrong = "000001"
		}
		if err := a.Activate(ctx, "director", wrong); !errors.Is(err, activation.ErrActivationFailed) || strings.Contains(err.Error(), wrong) {
			t.Fatalf("wrong code: err = %v", err)
		}
		// Re-enrolling replaces the secret: codes from the old one fail.
		if _, err := activation.EnrolTOTP(ctx, st, "director", "", activation.TOTP{}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(30 * time.Second)
		if err := a.Activate(ctx, "director", code()); !errors.Is(err, activation.ErrActivationFailed) {
			t.Fatalf("old secret after re-enrolment: err = %v", err)
		}
	})
}

// TestTOTPReplayAcrossServers has two servers (separate stores and
// activators on one database) race with one code: exactly one wins.
func TestTOTPReplayAcrossServers(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		dir := t.TempDir()
		opts := store.Options{DataDir: dir}
		if b == store.Postgres {
			opts.DatabaseURL = storetest.Schema(t)
		}
		var acts []*activation.Activator
		var first *store.Store
		clk := &clock{t: time.Unix(1_900_000_000, 0)}
		for range 2 {
			st, err := store.Open(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if first == nil {
				first = st
			}
			acts = append(acts, activation.New(st, activation.Options{Now: clk.Now}))
		}
		newCredential(t, first, "director", store.ActivationTOTP)
		uri, err := activation.EnrolTOTP(ctx, first, "director", "", activation.TOTP{})
		if err != nil {
			t.Fatal(err)
		}
		code, err := activation.TOTP{}.CodeAt(secretOf(t, uri), clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		const tries = 8
		errs := make(chan error, tries)
		var wg sync.WaitGroup
		for i := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- acts[i%2].Activate(ctx, "director", code)
			}()
		}
		wg.Wait()
		close(errs)
		ok := 0
		for err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, activation.ErrActivationFailed) {
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d activations succeeded with one code, want 1", ok)
		}
	})
}
