package store_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"esign/store"
	"esign/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// forEachBackend runs fn as a subtest on SQLite and on PostgreSQL.
func forEachBackend(t *testing.T, fn func(t *testing.T, b store.Backend)) {
	for _, b := range storetest.Backends() {
		t.Run(string(b), func(t *testing.T) { fn(t, b) })
	}
}

func mustCredential(t *testing.T, st *store.Store, name string, mode store.ActivationMode) {
	t.Helper()
	if err := st.CreateCredential(context.Background(), store.Credential{Name: name, KeyLabel: name, Activation: mode}); err != nil {
		t.Fatal(err)
	}
}

// migrationCount is the number of the store's migration files for b.
func migrationCount(t *testing.T, b store.Backend) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", string(b), "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations for %s: %v", b, err)
	}
	return len(files)
}

func TestOpenMigratesOnce(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		opts := store.Options{DataDir: t.TempDir()}
		if b == store.Postgres {
			opts.DatabaseURL = storetest.Schema(t)
		}
		st, err := store.Open(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if st.Backend() != b {
			t.Fatalf("backend %s, want %s", st.Backend(), b)
		}
		if b == store.SQLite {
			var mode string
			if err := st.DB().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
				t.Fatalf("journal mode %q, %v; want wal", mode, err)
			}
		}
		mustCredential(t, st, "c1", store.ActivationNone)
		st.Close()
		// Reopening applies nothing twice and keeps the data.
		st, err = store.Open(ctx, opts)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer st.Close()
		if _, err := st.Credential(ctx, "c1"); err != nil {
			t.Fatalf("credential lost on reopen: %v", err)
		}
		var n int
		if want := migrationCount(t, b); st.DB().QueryRow("SELECT COUNT(*) FROM schema_migrations WHERE component = 'store'").Scan(&n) != nil || n != want {
			t.Fatalf("schema_migrations rows for store = %d; want %d", n, want)
		}
	})
}

func TestOpenRejectsOtherURLs(t *testing.T) {
	_, err := store.Open(context.Background(), store.Options{DatabaseURL: "mysql://user:secretpw@host/db", DataDir: t.TempDir()})
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	if strings.Contains(err.Error(), "secretpw") {
		t.Fatalf("error echoes the URL's password: %v", err)
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		st := storetest.Open(t, b, store.Options{})
		mustCredential(t, st, "official", store.ActivationNone)
		key, err := st.CreateClient(ctx, "saraban", []string{"official"})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.CheckKey(key); err != nil {
			t.Fatalf("new key %q: %v", key, err)
		}
		other, err := store.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, key string
			ok        bool
		}{
			{"right key", key, true},
			{"empty", "", false},
			{"unknown key", other, false},
			{"key with a changed digit", key[:len(key)-1] + flip(key[len(key)-1]), false},
			{"hash instead of key", store.HashKey(key), false},
			{"oversized", strings.Repeat("a", 10000), false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c, err := st.Authenticate(ctx, tc.key)
				if tc.ok {
					if err != nil || c.Name != "saraban" || !slices.Equal(c.Credentials, []string{"official"}) {
						t.Fatalf("Authenticate = %+v, %v", c, err)
					}
					return
				}
				if !errors.Is(err, store.ErrUnauthenticated) {
					t.Fatalf("err = %v, want ErrUnauthenticated", err)
				}
			})
		}

		t.Run("rotate", func(t *testing.T) {
			newKey, err := st.RotateClientKey(ctx, "saraban")
			if err != nil {
				t.Fatal(err)
			}
			if newKey == key {
				t.Fatal("rotation returned the same key")
			}
			if _, err := st.Authenticate(ctx, key); !errors.Is(err, store.ErrUnauthenticated) {
				t.Fatalf("old key after rotation: err = %v, want ErrUnauthenticated", err)
			}
			if c, err := st.Authenticate(ctx, newKey); err != nil || c.Name != "saraban" {
				t.Fatalf("new key: %+v, %v", c, err)
			}
			key = newKey
		})

		t.Run("disable", func(t *testing.T) {
			if err := st.SetClientDisabled(ctx, "saraban", true); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Authenticate(ctx, key); !errors.Is(err, store.ErrUnauthenticated) {
				t.Fatalf("disabled client: err = %v, want ErrUnauthenticated", err)
			}
			if err := st.SetClientDisabled(ctx, "saraban", false); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Authenticate(ctx, key); err != nil {
				t.Fatalf("re-enabled client: %v", err)
			}
		})

		t.Run("key is stored hashed", func(t *testing.T) {
			var stored string
			if err := st.DB().QueryRow("SELECT key_hash FROM clients").Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if stored != store.HashKey(key) || strings.Contains(stored, strings.TrimPrefix(key, "esk_")) {
				t.Fatalf("stored %q is not the hash of the key", stored)
			}
		})
	})
}

func flip(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func TestAuthorize(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		st := storetest.Open(t, b, store.Options{})
		for _, n := range []string{"official", "registrar", "director"} {
			mustCredential(t, st, n, store.ActivationNone)
		}
		key, err := st.CreateClient(ctx, "saraban", []string{"official", "director"})
		if err != nil {
			t.Fatal(err)
		}
		client, err := st.Authenticate(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		check := func(t *testing.T, cred string, ok bool) {
			t.Helper()
			c, err := st.Authorize(ctx, client, cred)
			if ok {
				if err != nil || c.Name != cred || c.KeyLabel != cred {
					t.Fatalf("Authorize(%s) = %+v, %v", cred, c, err)
				}
				return
			}
			if !errors.Is(err, store.ErrForbidden) {
				t.Fatalf("Authorize(%s): err = %v, want ErrForbidden", cred, err)
			}
		}
		t.Run("assigned", func(t *testing.T) { check(t, "official", true) })
		t.Run("not assigned", func(t *testing.T) { check(t, "registrar", false) })
		t.Run("unknown", func(t *testing.T) { check(t, "nobody", false) })
		t.Run("disabled credential", func(t *testing.T) {
			if err := st.SetCredentialDisabled(ctx, "director", true); err != nil {
				t.Fatal(err)
			}
			check(t, "director", false)
			if err := st.SetCredentialDisabled(ctx, "director", false); err != nil {
				t.Fatal(err)
			}
			check(t, "director", true)
		})
		t.Run("assign and unassign", func(t *testing.T) {
			if err := st.AssignCredentials(ctx, "saraban", "registrar"); err != nil {
				t.Fatal(err)
			}
			check(t, "registrar", true)
			if err := st.UnassignCredentials(ctx, "saraban", "registrar", "official"); err != nil {
				t.Fatal(err)
			}
			check(t, "registrar", false)
			check(t, "official", false)
			check(t, "director", true)
		})
		t.Run("client disabled after authentication", func(t *testing.T) {
			if err := st.SetClientDisabled(ctx, "saraban", true); err != nil {
				t.Fatal(err)
			}
			check(t, "director", false)
		})
	})
}

// TestAuthCacheSeesOtherProcesses warms the serving store's cache, changes
// clients and credentials through a second store on the same database (as
// `esign admin` does from its own process), and expects each change at the
// very next call.
func TestAuthCacheSeesOtherProcesses(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		opts := store.Options{DataDir: t.TempDir()}
		if b == store.Postgres {
			opts.DatabaseURL = storetest.Schema(t)
		}
		open := func() *store.Store {
			st, err := store.Open(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
		serving, admin := open(), open()
		for _, n := range []string{"official", "director"} {
			mustCredential(t, admin, n, store.ActivationNone)
		}
		key, err := admin.CreateClient(ctx, "saraban", []string{"official", "director"})
		if err != nil {
			t.Fatal(err)
		}
		authorize := func(key, cred string) (*store.Credential, error) {
			c, err := serving.Authenticate(ctx, key)
			if err != nil {
				return nil, err
			}
			return serving.Authorize(ctx, c, cred)
		}
		mustAuthorize := func(t *testing.T, key, cred string) *store.Credential {
			t.Helper()
			// Twice: the second answer comes from the cache.
			for range 2 {
				if _, err := authorize(key, cred); err != nil {
					t.Fatalf("authorize %s: %v", cred, err)
				}
			}
			c, err := authorize(key, cred)
			if err != nil {
				t.Fatalf("authorize %s: %v", cred, err)
			}
			return c
		}
		mustRefuse := func(t *testing.T, key, cred string, want error) {
			t.Helper()
			if _, err := authorize(key, cred); !errors.Is(err, want) {
				t.Fatalf("authorize %s: err = %v, want %v", cred, err, want)
			}
		}

		t.Run("credential disabled", func(t *testing.T) {
			mustAuthorize(t, key, "official")
			if err := admin.SetCredentialDisabled(ctx, "official", true); err != nil {
				t.Fatal(err)
			}
			mustRefuse(t, key, "official", store.ErrForbidden)
			if err := admin.SetCredentialDisabled(ctx, "official", false); err != nil {
				t.Fatal(err)
			}
			mustAuthorize(t, key, "official")
		})
		t.Run("credential updated", func(t *testing.T) {
			mustAuthorize(t, key, "official")
			c, err := admin.Credential(ctx, "official")
			if err != nil {
				t.Fatal(err)
			}
			c.DisplayName = "(นางสาวสมศรี ใจดี)"
			if err := admin.UpdateCredential(ctx, *c); err != nil {
				t.Fatal(err)
			}
			if got := mustAuthorize(t, key, "official"); got.DisplayName != c.DisplayName {
				t.Fatalf("display name %q after update, want %q", got.DisplayName, c.DisplayName)
			}
		})
		t.Run("credential unassigned", func(t *testing.T) {
			mustAuthorize(t, key, "director")
			if err := admin.UnassignCredentials(ctx, "saraban", "director"); err != nil {
				t.Fatal(err)
			}
			mustRefuse(t, key, "director", store.ErrForbidden)
			mustAuthorize(t, key, "official")
		})
		t.Run("key rotated", func(t *testing.T) {
			mustAuthorize(t, key, "official")
			newKey, err := admin.RotateClientKey(ctx, "saraban")
			if err != nil {
				t.Fatal(err)
			}
			mustRefuse(t, key, "official", store.ErrUnauthenticated)
			mustAuthorize(t, newKey, "official")
			key = newKey
		})
		t.Run("client disabled", func(t *testing.T) {
			mustAuthorize(t, key, "official")
			if err := admin.SetClientDisabled(ctx, "saraban", true); err != nil {
				t.Fatal(err)
			}
			mustRefuse(t, key, "official", store.ErrUnauthenticated)
		})
	})
}

func TestAdminErrors(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		st := storetest.Open(t, b, store.Options{})
		mustCredential(t, st, "official", store.ActivationNone)
		if _, err := st.CreateClient(ctx, "saraban", nil); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			err  error
			want error
		}{
			{"duplicate client", second(st.CreateClient(ctx, "saraban", nil)), store.ErrExists},
			{"bad client name", second(st.CreateClient(ctx, "a b", nil)), store.ErrInvalid},
			{"client name too long", second(st.CreateClient(ctx, strings.Repeat("a", 65), nil)), store.ErrInvalid},
			{"client with unknown credential", second(st.CreateClient(ctx, "other", []string{"nobody"})), store.ErrNotFound},
			{"rotate unknown client", second(st.RotateClientKey(ctx, "nobody")), store.ErrNotFound},
			{"disable unknown client", st.SetClientDisabled(ctx, "nobody", true), store.ErrNotFound},
			{"assign to unknown client", st.AssignCredentials(ctx, "nobody", "official"), store.ErrNotFound},
			{"assign unknown credential", st.AssignCredentials(ctx, "saraban", "nobody"), store.ErrNotFound},
			{"duplicate credential", st.CreateCredential(ctx, store.Credential{Name: "official", KeyLabel: "x"}), store.ErrExists},
			{"credential without key label", st.CreateCredential(ctx, store.Credential{Name: "c2"}), store.ErrInvalid},
			{"bad activation mode", st.CreateCredential(ctx, store.Credential{Name: "c3", KeyLabel: "x", Activation: "password"}), store.ErrInvalid},
			{"chain that is not PEM certificates", st.CreateCredential(ctx, store.Credential{Name: "c4", KeyLabel: "x", ChainPEM: []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}), store.ErrInvalid},
			{"chain with no PEM", st.CreateCredential(ctx, store.Credential{Name: "c5", KeyLabel: "x", ChainPEM: []byte("junk")}), store.ErrInvalid},
			{"PIN too short", st.SetPIN(ctx, "official", []byte("123")), store.ErrInvalid},
			{"PIN for unknown credential", st.SetPIN(ctx, "nobody", []byte("123456")), store.ErrNotFound},
			{"reset unknown credential", st.ResetLockout(ctx, "nobody"), store.ErrNotFound},
			{"client key of wrong form", st.CreateClientWithKey(ctx, "other", "secret", nil), store.ErrInvalid},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if !errors.Is(tc.err, tc.want) {
					t.Fatalf("err = %v, want %v", tc.err, tc.want)
				}
			})
		}
		// Failed creations left nothing behind.
		cs, err := st.ListClients(ctx)
		if err != nil || len(cs) != 1 {
			t.Fatalf("clients after failed creations: %+v, %v", cs, err)
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestCredentialChain(t *testing.T) {
	ctx := context.Background()
	chain := selfSigned(t, "นางสาวสมศรี ใจดี")
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		st := storetest.Open(t, b, store.Options{})
		in := store.Credential{Name: "official", DisplayName: "(นางสาวสมศรี ใจดี)", Position: "ผู้อำนวยการกองกลาง",
			KeyLabel: "key-1", ChainPEM: chain, Activation: store.ActivationPIN}
		if err := st.CreateCredential(ctx, in); err != nil {
			t.Fatal(err)
		}
		got, err := st.Credential(ctx, "official")
		if err != nil {
			t.Fatal(err)
		}
		if got.DisplayName != in.DisplayName || got.Position != in.Position || got.KeyLabel != "key-1" ||
			got.Activation != store.ActivationPIN || got.HasPIN || got.HasTOTP || got.Disabled {
			t.Fatalf("read back %+v", got)
		}
		certs, err := got.Chain()
		if err != nil || len(certs) != 1 || certs[0].Subject.CommonName != "นางสาวสมศรี ใจดี" {
			t.Fatalf("chain = %v, %v", certs, err)
		}
		in.KeyLabel, in.ChainPEM, in.Activation = "key-2", nil, store.ActivationNone
		if err := st.UpdateCredential(ctx, in); err != nil {
			t.Fatal(err)
		}
		list, err := st.ListCredentials(ctx)
		if err != nil || len(list) != 1 || list[0].KeyLabel != "key-2" || len(list[0].ChainPEM) != 0 || list[0].Activation != store.ActivationNone {
			t.Fatalf("after update: %+v, %v", list, err)
		}
	})
}

func selfSigned(t *testing.T, cn string) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestPINHash(t *testing.T) {
	h1, err := store.HashPIN([]byte("123456"))
	if err != nil {
		t.Fatal(err)
	}
	h2, err := store.HashPIN([]byte("123456"))
	if err != nil {
		t.Fatal(err)
	}
	if h1 == h2 {
		t.Fatal("two hashes of one PIN are equal: the salt is not random")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h1, "123456") {
		t.Fatalf("hash %q", h1)
	}
	for _, tc := range []struct {
		name string
		pin  string
		want bool
	}{
		{"right", "123456", true},
		{"wrong", "123457", false},
		{"prefix", "12345", false},
		{"longer", "1234567", false},
		{"empty", "", false},
		{"oversized", strings.Repeat("1", 100000), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := store.VerifyPIN(h1, []byte(tc.pin))
			if err != nil || ok != tc.want {
				t.Fatalf("VerifyPIN = %v, %v; want %v", ok, err, tc.want)
			}
		})
	}
	for _, bad := range []string{
		"", "123456", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=19456,t=2,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		if _, err := store.VerifyPIN(bad, []byte("123456")); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("VerifyPIN(%q): err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestTOTPSecretSealedAtRest(t *testing.T) {
	ctx := context.Background()
	secret := []byte("12345678901234567890")
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		dir := t.TempDir()
		st := storetest.Open(t, b, store.Options{DataDir: dir})
		mustCredential(t, st, "director", store.ActivationNone)
		mustCredential(t, st, "official", store.ActivationNone)
		if err := st.SetTOTPSecret(ctx, "director", secret); err != nil {
			t.Fatal(err)
		}
		keyFile := filepath.Join(dir, "secrets", "totp-key")
		if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file: %v, %v", fi, err)
		}
		var sealed string
		if err := st.DB().QueryRow("SELECT totp_secret FROM credentials WHERE name = 'director'").Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sealed, "v1:") || strings.Contains(sealed, string(secret)) {
			t.Fatalf("stored secret %q is not sealed", sealed)
		}
		stt, err := st.ActivationState(ctx, "director")
		if err != nil || string(stt.TOTPSecret) != string(secret) || stt.Mode != store.ActivationTOTP {
			t.Fatalf("ActivationState = %+v, %v", stt, err)
		}
		c, err := st.Credential(ctx, "director")
		if err != nil || !c.HasTOTP || c.Activation != store.ActivationTOTP {
			t.Fatalf("credential = %+v, %v", c, err)
		}

		t.Run("copied to another credential", func(t *testing.T) {
			if _, err := st.DB().Exec(st.Rebind("UPDATE credentials SET totp_secret = ? WHERE name = 'official'"), sealed); err != nil {
				t.Fatal(err)
			}
			if _, err := st.ActivationState(ctx, "official"); !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
		t.Run("key file missing", func(t *testing.T) {
			opts := store.Options{DataDir: dir, SecretKeyFile: filepath.Join(t.TempDir(), "absent")}
			if b == store.Postgres {
				opts.DatabaseURL = urlOf(t, st)
			}
			other, err := store.Open(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if _, err := other.ActivationState(ctx, "director"); !errors.Is(err, store.ErrNoSecretKey) {
				t.Fatalf("err = %v, want ErrNoSecretKey", err)
			}
		})
	})
}

// urlOf returns the URL of the PostgreSQL schema st uses.
func urlOf(t *testing.T, st *store.Store) string {
	t.Helper()
	var schema string
	if err := st.DB().QueryRow("SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	u := os.Getenv(storetest.EnvURL)
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "search_path=" + schema
}

func TestActivationBookkeeping(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		st := storetest.Open(t, b, store.Options{})
		mustCredential(t, st, "director", store.ActivationPIN)

		t.Run("lock at the threshold", func(t *testing.T) {
			for i := 1; i <= 3; i++ {
				until, err := st.RecordActivationFailure(ctx, "director", t0, 3, 15*time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if locked := !until.IsZero(); locked != (i == 3) {
					t.Fatalf("failure %d: locked until %v", i, until)
				}
			}
			c, err := st.Credential(ctx, "director")
			if err != nil || !c.LockedUntil.Equal(t0.Add(15*time.Minute)) || c.Failures != 0 {
				t.Fatalf("after lock: %+v, %v", c, err)
			}
			// A failure while locked changes nothing.
			until, err := st.RecordActivationFailure(ctx, "director", t0.Add(time.Minute), 3, 15*time.Minute)
			if err != nil || !until.Equal(t0.Add(15*time.Minute)) {
				t.Fatalf("failure while locked: %v, %v", until, err)
			}
		})
		t.Run("expired lock starts a new series", func(t *testing.T) {
			until, err := st.RecordActivationFailure(ctx, "director", t0.Add(15*time.Minute), 3, 15*time.Minute)
			if err != nil || !until.IsZero() {
				t.Fatalf("first failure after expiry: %v, %v", until, err)
			}
			c, _ := st.Credential(ctx, "director")
			if c.Failures != 1 || !c.LockedUntil.IsZero() {
				t.Fatalf("after expiry: failures %d, locked until %v", c.Failures, c.LockedUntil)
			}
		})
		t.Run("reset", func(t *testing.T) {
			for range 3 {
				if _, err := st.RecordActivationFailure(ctx, "director", t0.Add(time.Hour), 3, 15*time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.ResetLockout(ctx, "director"); err != nil {
				t.Fatal(err)
			}
			c, _ := st.Credential(ctx, "director")
			if c.Failures != 0 || !c.LockedUntil.IsZero() {
				t.Fatalf("after reset: failures %d, locked until %v", c.Failures, c.LockedUntil)
			}
		})
		t.Run("TOTP steps only move forward", func(t *testing.T) {
			steps := []struct {
				step int64
				ok   bool
			}{{100, true}, {100, false}, {99, false}, {101, true}}
			for _, s := range steps {
				err := st.RecordActivationSuccess(ctx, "director", s.step)
				if s.ok != (err == nil) || !s.ok && !errors.Is(err, store.ErrStaleTOTPStep) {
					t.Fatalf("step %d: err = %v, want ok=%v", s.step, err, s.ok)
				}
			}
			if err := st.RecordActivationSuccess(ctx, "nobody", 5); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("unknown credential: err = %v", err)
			}
		})
	})
}

func TestRebind(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		st := storetest.Open(t, b, store.Options{})
		got := st.Rebind("SELECT a FROM t WHERE b = ? AND c = ?")
		want := map[store.Backend]string{
			store.SQLite:   "SELECT a FROM t WHERE b = ? AND c = ?",
			store.Postgres: "SELECT a FROM t WHERE b = $1 AND c = $2",
		}[b]
		if got != want {
			t.Fatalf("Rebind = %q, want %q", got, want)
		}
	})
}

func TestTimeFormat(t *testing.T) {
	tm := time.Date(2026, 11, 22, 9, 30, 1, 123456789, time.FixedZone("ICT", 7*3600))
	s := store.FormatTime(tm)
	if s != "2026-11-22T02:30:01.123456Z" {
		t.Fatalf("FormatTime = %q", s)
	}
	back, err := store.ParseTime(s)
	if err != nil || !back.Equal(tm.Truncate(time.Microsecond)) {
		t.Fatalf("ParseTime = %v, %v", back, err)
	}
	if z, err := store.ParseTime(""); err != nil || !z.IsZero() {
		t.Fatalf("ParseTime(\"\") = %v, %v", z, err)
	}
}

// BenchmarkAuthenticateAuthorize measures the per-request access checks.
func BenchmarkAuthenticateAuthorize(b *testing.B) {
	ctx := context.Background()
	for _, backend := range storetest.Backends() {
		b.Run(string(backend), func(b *testing.B) {
			st := storetest.Open(b, backend, store.Options{})
			if err := st.CreateCredential(ctx, store.Credential{Name: "official", KeyLabel: "official"}); err != nil {
				b.Fatal(err)
			}
			key, err := st.CreateClient(ctx, "saraban", []string{"official"})
			if err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c, err := st.Authenticate(ctx, key)
					if err == nil {
						_, err = st.Authorize(ctx, c, "official")
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// TestConcurrentOpen opens one new database from several processes'
// worth of stores at once: the migrations must run exactly once.
func TestConcurrentOpen(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		opts := store.Options{DataDir: t.TempDir()}
		if b == store.Postgres {
			opts.DatabaseURL = storetest.Schema(t)
		}
		const n = 4
		errs := make(chan error, n)
		for range n {
			go func() {
				st, err := store.Open(ctx, opts)
				if err == nil {
					err = st.Close()
				}
				errs <- err
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Fatalf("concurrent open: %v", err)
			}
		}
		st, err := store.Open(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var count int
		if want := migrationCount(t, b); st.DB().QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&count) != nil || count != want {
			t.Fatalf("schema_migrations has %d rows; want %d", count, want)
		}
	})
}
