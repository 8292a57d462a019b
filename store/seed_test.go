package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"esign/store"
	"esign/store/storetest"
)

func devCredentials(t *testing.T) []store.DevCredential {
	creds := store.DefaultDevCredentials()
	for i := range creds {
		creds[i].ChainPEM = selfSigned(t, creds[i].Name)
	}
	return creds
}

// readKey reads a development key file, which must hold exactly the key.
func readKey(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CheckKey(string(b)); err != nil {
		t.Fatalf("%s holds %q: %v", path, b, err)
	}
	return string(b)
}

// checkDevState asserts what the acceptance checks rely on.
func checkDevState(t *testing.T, st *store.Store, dir string) (key1, key2 string) {
	t.Helper()
	ctx := context.Background()
	key1 = readKey(t, filepath.Join(dir, "dev-api-key"))
	key2 = readKey(t, filepath.Join(dir, "dev-api-key-2"))
	c1, err := st.Authenticate(ctx, key1)
	if err != nil {
		t.Fatalf("first dev key: %v", err)
	}
	c2, err := st.Authenticate(ctx, key2)
	if err != nil {
		t.Fatalf("second dev key: %v", err)
	}
	for _, cred := range []string{"dev-official", "dev-registrar", "dev-director"} {
		if _, err := st.Authorize(ctx, c1, cred); err != nil {
			t.Errorf("first client may not use %s: %v", cred, err)
		}
		_, err := st.Authorize(ctx, c2, cred)
		if want := cred == "dev-registrar"; want != (err == nil) {
			t.Errorf("second client on %s: err = %v", cred, err)
		}
	}
	for _, tc := range []struct {
		name string
		mode store.ActivationMode
	}{{"dev-official", store.ActivationNone}, {"dev-registrar", store.ActivationNone}, {"dev-director", store.ActivationPIN}} {
		s, err := st.ActivationState(ctx, tc.name)
		if err != nil || s.Mode != tc.mode {
			t.Fatalf("%s: %+v, %v; want mode %s", tc.name, s, err, tc.mode)
		}
		if tc.mode == store.ActivationPIN {
			if ok, err := store.VerifyPIN(s.PINHash, []byte("123456")); err != nil || !ok {
				t.Fatalf("dev-director PIN 123456 does not verify: %v, %v", ok, err)
			}
		}
	}
	return key1, key2
}

func TestSeedDev(t *testing.T) {
	ctx := context.Background()
	creds := devCredentials(t)
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		dir := t.TempDir()
		st := storetest.Open(t, b, store.Options{DataDir: dir})
		if err := store.SeedDev(ctx, st, dir, creds); err != nil {
			t.Fatal(err)
		}
		key1, key2 := checkDevState(t, st, dir)
		if key1 == key2 {
			t.Fatal("both development clients have one key")
		}
		pinHash := func() string {
			s, err := st.ActivationState(ctx, "dev-director")
			if err != nil {
				t.Fatal(err)
			}
			return s.PINHash
		}
		hash := pinHash()

		t.Run("again changes nothing", func(t *testing.T) {
			if err := store.SeedDev(ctx, st, dir, creds); err != nil {
				t.Fatal(err)
			}
			k1, k2 := checkDevState(t, st, dir)
			if k1 != key1 || k2 != key2 {
				t.Fatal("seeding again changed the keys")
			}
			if pinHash() != hash {
				t.Fatal("seeding again re-hashed an unchanged PIN")
			}
		})

		t.Run("repairs drift", func(t *testing.T) {
			must(t, st.SetClientDisabled(ctx, "dev-client", true))
			must(t, st.UnassignCredentials(ctx, "dev-client", "dev-director"))
			must(t, st.AssignCredentials(ctx, "dev-client-2", "dev-official"))
			must(t, st.SetPIN(ctx, "dev-director", []byte("999999")))
			must(t, st.SetCredentialDisabled(ctx, "dev-official", true))
			if _, err := st.RotateClientKey(ctx, "dev-client-2"); err != nil {
				t.Fatal(err)
			}
			if err := store.SeedDev(ctx, st, dir, creds); err != nil {
				t.Fatal(err)
			}
			k1, k2 := checkDevState(t, st, dir)
			if k1 != key1 || k2 != key2 {
				t.Fatal("key files changed: they are the truth")
			}
		})

		t.Run("missing key file gets a new key", func(t *testing.T) {
			must(t, os.Remove(filepath.Join(dir, "dev-api-key-2")))
			if err := store.SeedDev(ctx, st, dir, creds); err != nil {
				t.Fatal(err)
			}
			k1, k2 := checkDevState(t, st, dir)
			if k1 != key1 || k2 == key2 {
				t.Fatal("want the first key kept and a new second key")
			}
			if _, err := st.Authenticate(ctx, key2); !errors.Is(err, store.ErrUnauthenticated) {
				t.Fatalf("the lost key still works: %v", err)
			}
			key2 = k2
		})

		t.Run("new database keeps existing key files", func(t *testing.T) {
			// A fresh database beside the same data directory's key files.
			fresh := storetest.Open(t, b, store.Options{DataDir: t.TempDir()})
			if err := store.SeedDev(ctx, fresh, dir, creds); err != nil {
				t.Fatal(err)
			}
			k1, k2 := checkDevState(t, fresh, dir)
			if k1 != key1 || k2 != key2 {
				t.Fatal("a new database replaced the existing keys")
			}
		})
	})
}

func TestSeedDevClientCredentials(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, store.SQLite, store.Options{})
	dir := t.TempDir()
	if err := store.SeedDev(ctx, st, dir, devCredentials(t)); err != nil {
		t.Fatal(err)
	}
	c, err := st.Client(ctx, "dev-client")
	if err != nil || !slices.Equal(c.Credentials, []string{"dev-director", "dev-official", "dev-registrar"}) {
		t.Fatalf("dev-client = %+v, %v", c, err)
	}
	c, err = st.Client(ctx, "dev-client-2")
	if err != nil || !slices.Equal(c.Credentials, []string{"dev-registrar"}) {
		t.Fatalf("dev-client-2 = %+v, %v", c, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "dev-api-key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v, %v", fi, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
