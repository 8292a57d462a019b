package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"esign/internal/atomicfile"
)

// DevCredential describes one development signer credential for SeedDev.
type DevCredential struct {
	Name        string
	DisplayName string
	Position    string
	KeyLabel    string
	// ChainPEM is the certificate chain, leaf first; may be empty (the
	// certificate is then read from the token beside the key).
	ChainPEM   []byte
	Activation ActivationMode
	// PIN is the development PIN when Activation is pin.
	PIN string
}

// Development clients: the first may use every development credential,
// the second only dev-registrar. Their keys live in these files under
// the data directory, exactly the key, no newline.
const (
	DevClient         = "dev-client"
	DevClientKeyFile  = "dev-api-key"
	DevClient2        = "dev-client-2"
	DevClient2KeyFile = "dev-api-key-2"
	// DevRegistrar is the one credential the second client may use.
	DevRegistrar = "dev-registrar"
	// DevDirectorPIN is dev-director's activation PIN.
	DevDirectorPIN = "123456"
)

// DefaultDevCredentials returns the three development credentials, each
// bound to the HSM key labelled with its name and named as in its
// development certificate (package devpki): dev-official and
// dev-registrar need no activation, dev-director the PIN 123456. The
// caller fills in ChainPEM.
func DefaultDevCredentials() []DevCredential {
	return []DevCredential{
		{Name: "dev-official", DisplayName: "(นางสาวสมศรี ใจดี)", Position: "นักจัดการงานทั่วไป", KeyLabel: "dev-official", Activation: ActivationNone},
		{Name: "dev-registrar", DisplayName: "(นายทะเบียน มหาวิทยาลัยตัวอย่าง)", Position: "นายทะเบียน", KeyLabel: "dev-registrar", Activation: ActivationNone},
		{Name: "dev-director", DisplayName: "(นายสมชาย รักชาติ)", Position: "ผู้อำนวยการกองกลาง", KeyLabel: "dev-director", Activation: ActivationPIN, PIN: DevDirectorPIN},
	}
}

// SeedDev makes the development clients and credentials, and is safe to
// call at every start:
//
//   - each credential is created, or brought back to the given
//     description (and enabled); a PIN is set only if the stored one
//     differs, so lockout state is otherwise left alone;
//   - dev-client may use every given credential, dev-client-2 only
//     dev-registrar (if given); both are enabled;
//   - a client's key is kept in dataDir/dev-api-key and
//     dataDir/dev-api-key-2. An existing file is the truth: its key is
//     registered if the database lacks it (a new database beside old
//     files). A missing file gets a fresh key, written before the
//     database learns it.
func SeedDev(ctx context.Context, st *Store, dataDir string, credentials []DevCredential) error {
	var names []string
	hasRegistrar := false
	for _, dc := range credentials {
		if err := seedCredential(ctx, st, dc); err != nil {
			return fmt.Errorf("seed credential %s: %w", dc.Name, err)
		}
		names = append(names, dc.Name)
		hasRegistrar = hasRegistrar || dc.Name == DevRegistrar
	}
	var second []string
	if hasRegistrar {
		second = []string{DevRegistrar}
	}
	for _, c := range []struct {
		name, file string
		creds      []string
	}{
		{DevClient, DevClientKeyFile, names},
		{DevClient2, DevClient2KeyFile, second},
	} {
		if err := seedClient(ctx, st, c.name, filepath.Join(dataDir, c.file), c.creds); err != nil {
			return fmt.Errorf("seed client %s: %w", c.name, err)
		}
	}
	return nil
}

func seedCredential(ctx context.Context, st *Store, dc DevCredential) error {
	want := Credential{
		Name: dc.Name, DisplayName: dc.DisplayName, Position: dc.Position,
		KeyLabel: dc.KeyLabel, ChainPEM: dc.ChainPEM, Activation: dc.Activation,
	}
	if want.Activation == "" {
		want.Activation = ActivationNone
	}
	cur, err := st.Credential(ctx, dc.Name)
	switch {
	case errors.Is(err, ErrNotFound):
		if err := st.CreateCredential(ctx, want); err != nil && !errors.Is(err, ErrExists) {
			return err
		}
	case err != nil:
		return err
	case cur.DisplayName != want.DisplayName || cur.Position != want.Position || cur.KeyLabel != want.KeyLabel ||
		string(cur.ChainPEM) != string(want.ChainPEM) || cur.Activation != want.Activation || cur.Disabled:
		if err := st.UpdateCredential(ctx, want); err != nil {
			return err
		}
	}
	if want.Activation != ActivationPIN {
		return nil
	}
	if dc.PIN == "" {
		return fmt.Errorf("%w: activation pin without a PIN", ErrInvalid)
	}
	state, err := st.ActivationState(ctx, dc.Name)
	if err != nil {
		return err
	}
	if state.PINHash != "" {
		if ok, err := VerifyPIN(state.PINHash, []byte(dc.PIN)); err == nil && ok {
			return nil
		}
	}
	return st.SetPIN(ctx, dc.Name, []byte(dc.PIN))
}

func seedClient(ctx context.Context, st *Store, name, keyFile string, creds []string) error {
	key, err := readKeyFile(keyFile)
	if err != nil {
		return err
	}
	if key == "" {
		if key, err = NewKey(); err != nil {
			return err
		}
		if err := atomicfile.Write(keyFile, []byte(key), 0o600); err != nil {
			return err
		}
	}
	cur, err := st.Client(ctx, name)
	switch {
	case errors.Is(err, ErrNotFound):
		if err := st.CreateClientWithKey(ctx, name, key, creds); err != nil {
			return err
		}
		return nil
	case err != nil:
		return err
	}
	if c, err := st.Authenticate(ctx, key); err != nil || c.Name != name {
		if err := st.SetClientKey(ctx, name, key); err != nil {
			return err
		}
	}
	if cur.Disabled {
		if err := st.SetClientDisabled(ctx, name, false); err != nil {
			return err
		}
	}
	if !sameSet(cur.Credentials, creds) {
		return st.SetClientCredentials(ctx, name, creds)
	}
	return nil
}

// readKeyFile returns the key in path, "" if there is no file.
func readKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read API key file: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if err := CheckKey(key); err != nil {
		return "", fmt.Errorf("API key file %s: %w", path, err)
	}
	return key, nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	in := map[string]bool{}
	for _, s := range a {
		in[s] = true
	}
	for _, s := range b {
		if !in[s] {
			return false
		}
	}
	return true
}
