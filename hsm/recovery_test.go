package hsm_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/miekg/pkcs11"

	"esign/hsm"
	"esign/hsm/hsmtest"
)

// rawToken opens a second, plain PKCS#11 handle on the module inside this
// process, as another application component would, and finds the slot of
// the token labelled label. The library is already initialised (hsmtest
// keeps it so), and this handle must not finalise it.
func rawToken(t *testing.T, label string) (*pkcs11.Ctx, uint, pkcs11.TokenInfo) {
	t.Helper()
	p := pkcs11.New(hsmtest.ModulePath)
	if p == nil {
		t.Fatal("cannot load the PKCS#11 module")
	}
	t.Cleanup(p.Destroy)
	if err := p.Initialize(); !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatalf("C_Initialize on the second handle: %v, want CKR_CRYPTOKI_ALREADY_INITIALIZED", err)
	}
	slots, err := p.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err != nil {
			t.Fatal(err)
		}
		if ti.Label == label {
			return p, s, ti
		}
	}
	t.Fatalf("no slot holds token %q", label)
	return nil, 0, pkcs11.TokenInfo{}
}

// signAndVerify signs with s (an RSA key) and checks the signature with crypto/rsa.
func signAndVerify(t *testing.T, s crypto.Signer, msg string) error {
	t.Helper()
	d := sha256Sum(msg)
	sig, err := s.Sign(rand.Reader, d, crypto.SHA256)
	if err != nil {
		return err
	}
	return rsa.VerifyPKCS1v15(s.Public().(*rsa.PublicKey), crypto.SHA256, d, sig)
}

func TestRecovery(t *testing.T) {
	disruptions := []struct {
		name    string
		disrupt func(t *testing.T, p *pkcs11.Ctx, slot uint)
	}{
		{"C_CloseAllSessions", func(t *testing.T, p *pkcs11.Ctx, slot uint) {
			if err := p.CloseAllSessions(slot); err != nil {
				t.Fatalf("C_CloseAllSessions: %v", err)
			}
		}},
		{"C_Logout", func(t *testing.T, p *pkcs11.Ctx, slot uint) {
			sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.CloseSession(sh) })
			// The login belongs to the application, not the session: this
			// logs every session of the process out of the token.
			if err := p.Logout(sh); err != nil {
				t.Fatalf("C_Logout: %v", err)
			}
		}},
	}
	for _, d := range disruptions {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			m, cfg := hsmtest.NewToken(t, "recover")
			s, err := m.CreateKey(ctx, "official", hsm.RSA2048)
			if err != nil {
				t.Fatal(err)
			}
			if err := signAndVerify(t, s, "before"); err != nil {
				t.Fatal(err)
			}
			// A plain crypto11 key on the same token shows that the
			// disruption is real: it has no recovery and must fail.
			control, err := openCrypto11(t, cfg).FindKeyPair(nil, []byte("official"))
			if err != nil || control == nil {
				t.Fatalf("control key: %v", err)
			}
			if err := signAndVerify(t, control, "control before"); err != nil {
				t.Fatal(err)
			}

			p, slot, _ := rawToken(t, cfg.TokenLabel)
			d.disrupt(t, p, slot)

			if _, err := control.Sign(rand.Reader, sha256Sum("control after"), crypto.SHA256); err == nil {
				t.Fatal("the disruption did not break a plain crypto11 context")
			} else {
				t.Logf("plain crypto11 after %s: %v", d.name, err)
			}
			if err := signAndVerify(t, s, "after"); err != nil {
				t.Fatalf("sign after %s: %v", d.name, err)
			}
			if got := m.Reconnects(); got != 1 {
				t.Fatalf("Reconnects() = %d, want 1", got)
			}
			// Management calls and later signatures use the new connection.
			if keys, err := m.List(ctx); err != nil || len(keys) != 1 {
				t.Fatalf("List after recovery: %v, %v", keys, err)
			}
			if err := signAndVerify(t, s, "later"); err != nil {
				t.Fatal(err)
			}
			if got := m.Reconnects(); got != 1 {
				t.Fatalf("Reconnects() = %d after more work, want 1", got)
			}
		})
	}
}

// TestRecoveryConcurrent breaks the sessions under several goroutines that
// then sign at once, with two signers: all succeed, and the KeyManager
// reconnects once.
func TestRecoveryConcurrent(t *testing.T) {
	ctx := context.Background()
	m, cfg := hsmtest.NewToken(t, "recover-many")
	var signers []crypto.Signer
	for _, label := range []string{"a", "b"} {
		s, err := m.CreateKey(ctx, label, hsm.RSA2048)
		if err != nil {
			t.Fatal(err)
		}
		if err := signAndVerify(t, s, "warm up"); err != nil {
			t.Fatal(err)
		}
		signers = append(signers, s)
	}
	p, slot, _ := rawToken(t, cfg.TokenLabel)
	if err := p.CloseAllSessions(slot); err != nil {
		t.Fatal(err)
	}

	const workers = 8
	start := make(chan struct{})
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- signAndVerify(t, signers[i%2], "concurrent")
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent sign after C_CloseAllSessions: %v", err)
		}
	}
	if got := m.Reconnects(); got != 1 {
		t.Fatalf("Reconnects() = %d, want 1 for one disruption", got)
	}
}

// TestRecoveryAfterFinalize finalises the library under the KeyManager, as
// crypto11 itself does when a Configure fails: the next signature
// initialises it again and reconnects.
func TestRecoveryAfterFinalize(t *testing.T) {
	ctx := context.Background()
	m, cfg := hsmtest.NewToken(t, "recover-finalize")
	s, err := m.CreateKey(ctx, "official", hsm.RSA2048)
	if err != nil {
		t.Fatal(err)
	}
	p, _, _ := rawToken(t, cfg.TokenLabel)
	if err := p.Finalize(); err != nil {
		t.Fatalf("C_Finalize: %v", err)
	}
	if _, err := p.GetInfo(); !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)) {
		t.Fatalf("library still initialised after C_Finalize: %v", err)
	}
	if err := signAndVerify(t, s, "after finalize"); err != nil {
		t.Fatalf("sign after C_Finalize: %v", err)
	}
	if got := m.Reconnects(); got != 1 {
		t.Fatalf("Reconnects() = %d, want 1", got)
	}
	// The library is usable for everyone again: a new KeyManager opens.
	m2, err := hsm.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenBySerial(t *testing.T) {
	ctx := context.Background()
	m, cfg := hsmtest.NewToken(t, "by-serial")
	want, err := m.CreateKey(ctx, "k", hsm.RSA2048)
	if err != nil {
		t.Fatal(err)
	}
	_, _, info := rawToken(t, cfg.TokenLabel)
	if info.SerialNumber == "" {
		t.Fatal("token has no serial number")
	}
	tests := []struct {
		name  string
		label string
		ok    bool
	}{
		{"serial", "", true},
		{"serial and label", cfg.TokenLabel, true},
		{"serial and other label", "another-label", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m2, err := hsm.Open(ctx, hsm.Config{TokenSerial: info.SerialNumber, TokenLabel: tc.label, PIN: cfg.PIN})
			if !tc.ok {
				if !errors.Is(err, hsm.ErrNotFound) {
					t.Fatalf("Open: %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer m2.Close()
			s, err := m2.Signer(ctx, hsm.KeyRef{Label: "k"})
			if err != nil {
				t.Fatal(err)
			}
			if !want.Public().(*rsa.PublicKey).Equal(s.Public()) {
				t.Fatal("opened another token")
			}
		})
	}
}

// TestRecoveryTokenLoss moves the token directory away under a signing
// KeyManager and back. SoftHSM 2.6 marks a token whose files vanished as
// broken for good (C_GetTokenInfo answers CKR_GENERAL_ERROR even after
// they return) until the library is initialised again. While the token is
// gone signing fails; once it is back, signing recovers without reopening
// the KeyManager. Not parallel: the directory holds every test's tokens.
func TestRecoveryTokenLoss(t *testing.T) {
	ctx := context.Background()
	m, _ := hsmtest.NewToken(t, "recover-loss")
	s, err := m.CreateKey(ctx, "official", hsm.RSA2048)
	if err != nil {
		t.Fatal(err)
	}
	if err := signAndVerify(t, s, "before"); err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(hsmtest.Dir(t), "tokens")
	if err := os.Rename(tokens, tokens+".gone"); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := signAndVerify(t, s, "while gone"); err == nil {
			t.Fatalf("signature %d succeeded with the token gone", i)
		} else {
			t.Logf("while gone: %v", err)
		}
	}
	if err := os.Rename(tokens+".gone", tokens); err != nil {
		t.Fatal(err)
	}
	if err := signAndVerify(t, s, "back"); err != nil {
		t.Fatalf("sign after the token returned: %v", err)
	}
	if keys, err := m.List(ctx); err != nil || len(keys) != 1 {
		t.Fatalf("List after recovery: %v, %v", keys, err)
	}
	if err := signAndVerify(t, s, "later"); err != nil {
		t.Fatal(err)
	}
}
