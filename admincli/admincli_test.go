package admincli_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base32"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"esign/activation"
	"esign/admincli"
	"esign/audit"
	"esign/store"
	"esign/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// env is one test's database, reached the way an operator's shell would.
type env struct {
	t    *testing.T
	vars map[string]string
}

func newEnv(t *testing.T, b store.Backend) *env {
	e := &env{t: t, vars: map[string]string{"ESIGN_DATA_DIR": t.TempDir()}}
	if b == store.Postgres {
		e.vars["ESIGN_DATABASE_URL"] = storetest.Schema(t)
	}
	return e
}

func (e *env) getenv(k string) string { return e.vars[k] }

// run runs `esign admin ARGS` (or `esign audit ARGS` when the first word
// is "audit") with stdin, returning stdout, stderr and the error.
func (e *env) run(stdin string, args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	c := admincli.Command{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: e.getenv}
	var err error
	if args[0] == "audit" {
		err = c.Audit(context.Background(), args[1:])
	} else {
		err = c.Admin(context.Background(), args)
	}
	return out.String(), errb.String(), err
}

// ok runs a command that must succeed and returns its stdout.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	out, errs, err := e.run("", args...)
	if err != nil {
		e.t.Fatalf("esign %s: %v\n%s", strings.Join(args, " "), err, errs)
	}
	return out
}

// store opens the database as the server would.
func (e *env) store() *store.Store {
	e.t.Helper()
	st, err := store.Open(context.Background(), store.OptionsFromEnv(e.getenv))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { st.Close() })
	return st
}

func forEachBackend(t *testing.T, fn func(t *testing.T, b store.Backend)) {
	for _, b := range storetest.Backends() {
		t.Run(string(b), func(t *testing.T) { fn(t, b) })
	}
}

func chainFile(t *testing.T) string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Director Somying"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "chain.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClientLifecycle(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		e.ok("credential", "create", "official", "--key-label", "official-key")
		e.ok("credential", "create", "director", "--key-label", "director-key", "--chain", chainFile(t),
			"--activation", "pin", "--display-name", "(นางสมหญิง มั่นคง)", "--position", "ผู้อำนวยการกองกลาง")
		key := strings.TrimSpace(e.ok("client", "create", "saraban", "--credentials", "official"))
		if err := store.CheckKey(key); err != nil {
			t.Fatalf("client create printed %q: %v", key, err)
		}
		st := e.store()
		authn := func(key string) (*store.Client, error) { return st.Authenticate(ctx, key) }

		c, err := authn(key)
		if err != nil || c.Name != "saraban" {
			t.Fatalf("new key: %+v, %v", c, err)
		}
		if _, err := st.Authorize(ctx, c, "official"); err != nil {
			t.Fatalf("assigned credential: %v", err)
		}
		if _, err := st.Authorize(ctx, c, "director"); !errors.Is(err, store.ErrForbidden) {
			t.Fatalf("unassigned credential: %v", err)
		}

		t.Run("rotate", func(t *testing.T) {
			newKey := strings.TrimSpace(e.ok("client", "rotate", "saraban"))
			if store.CheckKey(newKey) != nil || newKey == key {
				t.Fatalf("rotate printed %q", newKey)
			}
			if _, err := authn(key); !errors.Is(err, store.ErrUnauthenticated) {
				t.Fatalf("old key after rotation: %v", err)
			}
			if _, err := authn(newKey); err != nil {
				t.Fatalf("new key: %v", err)
			}
			key = newKey
		})

		t.Run("rotate to a file", func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key")
			if out := e.ok("client", "rotate", "saraban", "--key-out", path); out != "" {
				t.Fatalf("key printed although --key-out was given: %q", out)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
				t.Fatalf("key file mode %v", fi.Mode())
			}
			if _, err := authn(string(b)); err != nil {
				t.Fatalf("key from file: %v", err)
			}
			key = string(b)
		})

		t.Run("assign and unassign", func(t *testing.T) {
			e.ok("client", "assign", "saraban", "director")
			c, _ := authn(key)
			if _, err := st.Authorize(ctx, c, "director"); err != nil {
				t.Fatalf("after assign: %v", err)
			}
			e.ok("client", "unassign", "saraban", "director")
			if _, err := st.Authorize(ctx, c, "director"); !errors.Is(err, store.ErrForbidden) {
				t.Fatalf("after unassign: %v", err)
			}
		})

		t.Run("disable and enable", func(t *testing.T) {
			e.ok("client", "disable", "saraban")
			if _, err := authn(key); !errors.Is(err, store.ErrUnauthenticated) {
				t.Fatalf("disabled client: %v", err)
			}
			e.ok("client", "enable", "saraban")
			if _, err := authn(key); err != nil {
				t.Fatalf("re-enabled client: %v", err)
			}
		})

		t.Run("lists", func(t *testing.T) {
			out := e.ok("client", "list")
			if !strings.Contains(out, "saraban") || !strings.Contains(out, "official") || strings.Contains(out, key) {
				t.Fatalf("client list:\n%s", out)
			}
			out = e.ok("credential", "list")
			for _, want := range []string{"director", "pin", "NO", "Director Somying", "ผู้อำนวยการกองกลาง", "official", "(on token)"} {
				if !strings.Contains(out, want) {
					t.Fatalf("credential list lacks %q:\n%s", want, out)
				}
			}
		})

		t.Run("errors", func(t *testing.T) {
			for _, tc := range []struct {
				args []string
				want error
			}{
				{[]string{"client", "create", "saraban"}, store.ErrExists},
				{[]string{"client", "create", "other", "--credentials", "nobody"}, store.ErrNotFound},
				{[]string{"client", "rotate", "nobody"}, store.ErrNotFound},
				{[]string{"credential", "create", "x", "--key-label", "k", "--activation", "password"}, store.ErrInvalid},
				{[]string{"credential", "reset-lockout", "nobody"}, store.ErrNotFound},
				{[]string{"client", "frobnicate", "x"}, admincli.ErrUsage},
				{[]string{"client"}, admincli.ErrUsage},
				{[]string{"client", "create"}, admincli.ErrUsage},
				{[]string{"client", "create", "a", "b"}, admincli.ErrUsage},
				{[]string{"credential", "create", "x"}, admincli.ErrUsage}, // no --key-label
				{[]string{"client", "create", "x", "--no-such-flag"}, admincli.ErrUsage},
				// A PIN on the command line is refused, not taken.
				{[]string{"credential", "set-pin", "director", "123456"}, admincli.ErrUsage},
			} {
				t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
					_, _, err := e.run("", tc.args...)
					if !errors.Is(err, tc.want) {
						t.Fatalf("err = %v, want %v", err, tc.want)
					}
				})
			}
		})
	})
}

func TestCredentialActivation(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		e.ok("credential", "create", "director", "--key-label", "director", "--activation", "pin")
		st := e.store()
		a := activation.New(st, activation.Options{})
		if err := a.Activate(ctx, "director", "123456"); !errors.Is(err, activation.ErrNotEnrolled) {
			t.Fatalf("before set-pin: %v", err)
		}

		t.Run("set-pin from stdin", func(t *testing.T) {
			out, errs, err := e.run("123456\n", "credential", "set-pin", "director")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out+errs, "123456") {
				t.Fatalf("the PIN was echoed: %q %q", out, errs)
			}
			if err := a.Activate(ctx, "director", "123456"); err != nil {
				t.Fatalf("PIN from stdin: %v", err)
			}
		})
		t.Run("set-pin from file", func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pin")
			if err := os.WriteFile(path, []byte("7777-ab\r\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			e.vars["ESIGN_ADMIN_PIN_FILE"] = path
			defer delete(e.vars, "ESIGN_ADMIN_PIN_FILE")
			e.ok("credential", "set-pin", "director")
			if err := a.Activate(ctx, "director", "7777-ab"); err != nil {
				t.Fatalf("PIN from file: %v", err)
			}
			if err := a.Activate(ctx, "director", "123456"); !errors.Is(err, activation.ErrActivationFailed) {
				t.Fatalf("old PIN: %v", err)
			}
		})
		t.Run("set-pin refuses bad input", func(t *testing.T) {
			for _, in := range []string{"", "\n", "12\n", strings.Repeat("9", 500)} {
				if _, _, err := e.run(in, "credential", "set-pin", "director"); !errors.Is(err, store.ErrInvalid) {
					t.Errorf("stdin %.10q: err = %v, want ErrInvalid", in, err)
				}
			}
		})
		t.Run("lockout and reset", func(t *testing.T) {
			for range 5 {
				a.Activate(ctx, "director", "000000")
			}
			if err := a.Activate(ctx, "director", "7777-ab"); !errors.Is(err, activation.ErrLocked) {
				t.Fatalf("after 5 failures: %v", err)
			}
			c, err := st.Credential(ctx, "director")
			if err != nil {
				t.Fatal(err)
			}
			if out := e.ok("credential", "list"); !strings.Contains(out, c.LockedUntil.UTC().Format(time.RFC3339)) {
				t.Fatalf("credential list does not show the lock until %v:\n%s", c.LockedUntil, out)
			}
			e.ok("credential", "reset-lockout", "director")
			if err := a.Activate(ctx, "director", "7777-ab"); err != nil {
				t.Fatalf("after reset-lockout: %v", err)
			}
		})
		t.Run("enrol-totp", func(t *testing.T) {
			uri := strings.TrimSpace(e.ok("credential", "enrol-totp", "director", "--issuer", "esign-test"))
			u, err := url.Parse(uri)
			if err != nil || u.Scheme != "otpauth" || u.Query().Get("issuer") != "esign-test" {
				t.Fatalf("enrol-totp printed %q (%v)", uri, err)
			}
			secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(u.Query().Get("secret"))
			if err != nil {
				t.Fatal(err)
			}
			code, err := activation.TOTP{}.CodeAt(secret, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Activate(ctx, "director", code); err != nil {
				t.Fatalf("TOTP code: %v", err)
			}
			if err := a.Activate(ctx, "director", "7777-ab"); !errors.Is(err, activation.ErrActivationFailed) {
				t.Fatalf("PIN after switching to TOTP: %v", err)
			}
		})
		t.Run("set-activation none", func(t *testing.T) {
			e.ok("credential", "set-activation", "director", "none")
			if err := a.Activate(ctx, "director", ""); err != nil {
				t.Fatalf("activation none: %v", err)
			}
		})
		t.Run("disable", func(t *testing.T) {
			key := strings.TrimSpace(e.ok("client", "create", "saraban", "--credentials", "director"))
			c, err := st.Authenticate(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			e.ok("credential", "disable", "director")
			if _, err := st.Authorize(ctx, c, "director"); !errors.Is(err, store.ErrForbidden) {
				t.Fatalf("disabled credential: %v", err)
			}
			e.ok("credential", "enable", "director")
			if _, err := st.Authorize(ctx, c, "director"); err != nil {
				t.Fatalf("re-enabled credential: %v", err)
			}
		})
	})
}

func TestAuditCommands(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		if out := e.ok("audit", "verify"); !strings.Contains(out, "verified: 0 entries") {
			t.Fatalf("empty log: %q", out)
		}
		st := e.store()
		l, err := audit.Open(ctx, st, audit.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var last audit.Entry
		for i := range 4 {
			in := sha256.Sum256([]byte{byte(i)})
			last, err = l.Append(ctx, audit.Entry{Client: "saraban", Credential: "dev-director", InputSHA256: in[:],
				Level: "B-LT", Metadata: audit.Metadata{Number: "ศธ 0201/77", Subject: "ขออนุมัติ"}, Result: audit.Success})
			if err != nil {
				t.Fatal(err)
			}
		}
		out := e.ok("audit", "verify")
		if !strings.Contains(out, "verified: 4 entries") || !strings.Contains(out, last.Hash) {
			t.Fatalf("verify: %q", out)
		}
		out = e.ok("audit", "list", "--after", "2")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 {
			t.Fatalf("list --after 2:\n%s", out)
		}
		var je struct {
			Seq     int64  `json:"seq"`
			Subject string `json:"subject"`
			Hash    string `json:"hash"`
		}
		if err := json.Unmarshal([]byte(lines[1]), &je); err != nil || je.Seq != 4 || je.Subject != "ขออนุมัติ" || je.Hash != last.Hash {
			t.Fatalf("list line %q: %+v, %v", lines[1], je, err)
		}

		// Batch documents: entries 5 and 7 in batch B-1, 6 in B-2.
		for i, d := range []struct{ batch, ref string }{{"B-1", "doc-a"}, {"B-2", "doc-a"}, {"B-1", "doc-b.pdf"}} {
			in := sha256.Sum256([]byte{byte(10 + i)})
			_, ok, err := l.AppendIf(ctx, audit.Entry{Client: "registrar", Credential: "dev-official", InputSHA256: in[:],
				Level: "B-LT", Result: audit.Success, Batch: d.batch, Ref: d.ref}, nil)
			if err != nil || !ok {
				t.Fatalf("append batch entry: %v, %v", ok, err)
			}
		}
		for _, tc := range []struct {
			name string
			args []string
			want []string // seq, batch, ref of each line
		}{
			{"all", []string{"--after", "3"}, []string{"4  ", "5 B-1 doc-a", "6 B-2 doc-a", "7 B-1 doc-b.pdf"}},
			{"one batch", []string{"--batch", "B-1"}, []string{"5 B-1 doc-a", "7 B-1 doc-b.pdf"}},
			{"one batch, single dash", []string{"-batch", "B-2"}, []string{"6 B-2 doc-a"}},
			{"one batch after", []string{"--batch", "B-1", "--after", "5"}, []string{"7 B-1 doc-b.pdf"}},
			{"one batch, limit", []string{"--batch", "B-1", "--limit", "1"}, []string{"5 B-1 doc-a"}},
			{"unknown batch", []string{"--batch", "B-9"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				out := e.ok(append([]string{"audit", "list"}, tc.args...)...)
				var got []string
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					if line == "" {
						continue
					}
					var je map[string]any
					if err := json.Unmarshal([]byte(line), &je); err != nil {
						t.Fatalf("line %q: %v", line, err)
					}
					// omitempty: entries outside batches have no such keys.
					_, hasBatch := je["batch"]
					_, hasRef := je["ref"]
					if hasBatch != (je["client"] == "registrar") || hasRef != hasBatch {
						t.Fatalf("line %q: batch and ref keys present: %v, %v", line, hasBatch, hasRef)
					}
					b, _ := je["batch"].(string)
					r, _ := je["ref"].(string)
					got = append(got, fmt.Sprintf("%v %s %s", je["seq"], b, r))
				}
				if !slices.Equal(got, tc.want) {
					t.Fatalf("audit list %s:\n%s\ngot %q, want %q", strings.Join(tc.args, " "), out, got, tc.want)
				}
			})
		}
		if _, errs, err := e.run("", "audit", "list", "--batch"); !errors.Is(err, admincli.ErrUsage) || !strings.Contains(errs, "--batch ID") {
			t.Fatalf("list --batch without an ID: %v\n%s", err, errs)
		}
		if out := e.ok("audit", "verify"); !strings.Contains(out, "verified: 7 entries") {
			t.Fatalf("verify with batch entries: %q", out)
		}

		// Edit an entry behind the triggers' back.
		drop := []string{"DROP TRIGGER audit_log_no_update"}
		if b == store.Postgres {
			drop = []string{"DROP TRIGGER audit_log_no_change ON audit_log"}
		}
		for _, q := range append(drop, "UPDATE audit_log SET credential = 'dev-official' WHERE seq = 3") {
			if _, err := st.DB().ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		_, _, err = e.run("", "audit", "verify")
		var be *audit.BrokenError
		if !errors.As(err, &be) || be.Seq != 3 || !strings.Contains(err.Error(), "entry 3") {
			t.Fatalf("verify after edit: %v", err)
		}
		if _, _, err := e.run("", "audit", "frobnicate"); !errors.Is(err, admincli.ErrUsage) {
			t.Fatalf("unknown audit command: %v", err)
		}
	})
}
