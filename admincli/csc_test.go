package admincli_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"esign/admincli"
	"esign/store"
)

// TestCredentialCreateRemote: the remote key's flags go together, the
// API key is read from its file and never printed nor stored, and a bad
// combination is a usage error.
func TestCredentialCreateRemote(t *testing.T) {
	e := newEnv(t, store.SQLite)
	const secret = "esk_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte(secret+"\n"), 0o600)
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	cases := []struct {
		name  string
		args  []string
		usage bool // else some other error; "" ok
		ok    bool
	}{
		{"whole", []string{"--csc-url", "https://rss.example.th", "--csc-credential", "abc", "--csc-key-file", keyFile}, false, true},
		{"no key file", []string{"--csc-url", "https://rss.example.th", "--csc-credential", "abc"}, true, false},
		{"with a key label", []string{"--key-label", "x", "--csc-url", "https://rss.example.th", "--csc-credential", "abc", "--csc-key-file", keyFile}, true, false},
		{"with a PIN", []string{"--activation", "pin", "--csc-url", "https://rss.example.th", "--csc-credential", "abc", "--csc-key-file", keyFile}, true, false},
		{"missing file", []string{"--csc-url", "https://rss.example.th", "--csc-credential", "abc", "--csc-key-file", keyFile + ".gone"}, false, false},
		{"empty file", []string{"--csc-url", "https://rss.example.th", "--csc-credential", "abc", "--csc-key-file", empty}, false, false},
		{"not a URL", []string{"--csc-url", "ftp://x", "--csc-credential", "abc", "--csc-key-file", keyFile}, false, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := "remote-" + string(rune('a'+i))
			out, errs, err := e.run("", append([]string{"credential", "create", name}, tc.args...)...)
			if strings.Contains(out+errs, secret) || err != nil && strings.Contains(err.Error(), secret) {
				t.Fatal("the API key was printed")
			}
			switch {
			case tc.ok && err != nil:
				t.Fatalf("%v\n%s", err, errs)
			case !tc.ok && err == nil:
				t.Fatal("accepted")
			case tc.usage != errors.Is(err, admincli.ErrUsage) && !tc.ok:
				t.Fatalf("usage error %v, want %v: %v", errors.Is(err, admincli.ErrUsage), tc.usage, err)
			}
		})
	}
	st := e.store()
	if _, err := st.Credential(t.Context(), "remote-g"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused remote credential was made: %v", err)
	}
	c, err := st.Credential(t.Context(), "remote-a")
	if err != nil || c.KeyLabel != "csc:abc" || c.Activation != store.ActivationNone {
		t.Fatalf("%+v %v", c, err)
	}
	rows, err := st.Query(t.Context(), "SELECT url, remote_credential, key_file FROM csc_remote_keys")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var u, rc, kf string
		rows.Scan(&u, &rc, &kf)
		if strings.Contains(u+rc+kf, secret) || kf != keyFile {
			t.Errorf("stored %q %q %q", u, rc, kf)
		}
	}
}
