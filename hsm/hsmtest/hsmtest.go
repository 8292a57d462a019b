// Package hsmtest gives tests a fresh SoftHSM2 token and an open
// hsm.KeyManager on it.
//
// SoftHSM2 reads SOFTHSM2_CONF when the library is initialised, and the
// library stays initialised while any KeyManager in the process is open. So
// hsmtest works with one configuration per test process: the first call
// creates a temporary token directory and configuration, sets SOFTHSM2_CONF
// for the whole process (tests must not set it themselves) and opens a
// KeyManager on a "keeper" token that stays open until the process exits.
// The keeper keeps the library initialised, so tokens made later are
// initialised beside open KeyManagers without any C_Initialize/C_Finalize,
// and parallel tests may call NewToken and hsm.Open freely. Every NewToken
// call initialises a new token in that directory.
//
// A test package that calls Main from its TestMain gets the directory removed
// when its tests end; otherwise it stays in the system temporary directory
// (prefix "esign-softhsm-"), holding only test keys.
package hsmtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"esign/hsm"
)

// ModulePath is the SoftHSM2 module the tokens live in.
const ModulePath = hsm.DefaultModulePath

// process is the process-wide SoftHSM setup; see the package comment.
var process struct {
	once   sync.Once
	err    error
	dir    string
	keeper *hsm.KeyManager

	// mu serialises InitToken calls so label choice is race-free.
	mu sync.Mutex
	n  int
}

// setup creates the token directory and configuration and opens the keeper.
func setup() {
	dir, err := os.MkdirTemp("", "esign-softhsm-")
	if err != nil {
		process.err = err
		return
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		process.err = err
		return
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	text := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		process.err = err
		return
	}
	if err := os.Setenv("SOFTHSM2_CONF", conf); err != nil {
		process.err = err
		return
	}
	process.dir = dir
	pin := randomPIN()
	if err := hsm.InitToken(context.Background(), ModulePath, "hsmtest-keeper", randomPIN(), pin); err != nil {
		process.err = err
		return
	}
	process.keeper, process.err = hsm.Open(context.Background(), hsm.Config{
		ModulePath: ModulePath, TokenLabel: "hsmtest-keeper", PIN: pin, MaxSessions: 2,
	})
}

// Main runs the tests and then closes the keeper and removes the token
// directory. Use it as
//
//	func TestMain(m *testing.M) { os.Exit(hsmtest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if process.keeper != nil {
		if err := process.keeper.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "hsmtest: close keeper token: %v\n", err)
		}
	}
	if process.dir != "" {
		if err := os.RemoveAll(process.dir); err != nil {
			fmt.Fprintf(os.Stderr, "hsmtest: remove %s: %v\n", process.dir, err)
		}
	}
	return code
}

// Dir returns the process-wide temporary directory holding softhsm2.conf
// and the tokens, setting it up if needed.
func Dir(tb testing.TB) string {
	tb.Helper()
	process.once.Do(setup)
	if process.err != nil {
		tb.Fatalf("hsmtest: set up SoftHSM2: %v", process.err)
	}
	return process.dir
}

// NewToken initialises a new token and returns a KeyManager logged in to it,
// closed when the test ends, and the Config that opens it again (PIN
// included; the PIN is random). The token gets label if no token has it yet,
// else label with a numeric suffix (a test binary run with -count=2 asks for
// the same labels twice); Config.TokenLabel holds the label used. Labels
// longer than 24 bytes are cut.
func NewToken(tb testing.TB, label string) (*hsm.KeyManager, hsm.Config) {
	tb.Helper()
	cfg := NewTokenConfig(tb, label)
	m, err := hsm.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("hsmtest: open token %q: %v", cfg.TokenLabel, err)
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("hsmtest: close token %q: %v", cfg.TokenLabel, err)
		}
	})
	return m, cfg
}

// NewTokenConfig initialises a new token like NewToken but opens nothing:
// for tests that open it themselves (through hsm.Open, a URI or a CLI).
func NewTokenConfig(tb testing.TB, label string) hsm.Config {
	tb.Helper()
	Dir(tb)
	if len(label) > 24 {
		label = label[:24]
	}
	if label == "" {
		label = "hsmtest"
	}
	pin := randomPIN()
	process.mu.Lock()
	defer process.mu.Unlock()
	name := label
	for {
		err := hsm.InitToken(context.Background(), ModulePath, name, randomPIN(), pin)
		if err == nil {
			break
		}
		if !errors.Is(err, hsm.ErrAlreadyExists) {
			tb.Fatalf("hsmtest: initialise token %q: %v", name, err)
		}
		process.n++
		name = fmt.Sprintf("%s-%d", label, process.n)
	}
	return hsm.Config{ModulePath: ModulePath, TokenLabel: name, PIN: pin}
}

func randomPIN() string { return rand.Text() }
