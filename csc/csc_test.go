package csc_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"esign/audit"
	"esign/csc"
	"esign/store"
	"esign/store/storetest"
)

func digest(h crypto.Hash) []byte {
	b := make([]byte, h.Size())
	rand.Read(b)
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestSignHashAlgorithms: every algorithm's signature verifies with
// openssl against the certificate credentials/info gives, and fails on
// a tampered hash.
func TestSignHashAlgorithms(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl not installed (scripts/deps.sh test installs it)")
	}
	f := newFixture(t, store.SQLite)
	pss256, _ := csc.MarshalPSSParams(crypto.SHA256)
	pss512, _ := csc.MarshalPSSParams(crypto.SHA512)
	cases := []struct {
		name, cred, signAlgo, hashOID string
		hash                          crypto.Hash
		params                        []byte
		opts                          []string // openssl pkeyutl -pkeyopt values
	}{
		{"RSA PKCS#1 v1.5 SHA-256", "dev-official", csc.OIDRSA, csc.OIDSHA256, crypto.SHA256, nil, []string{"digest:sha256"}},
		{"RSA PKCS#1 v1.5 SHA-384", "dev-official", csc.OIDRSA, csc.OIDSHA384, crypto.SHA384, nil, []string{"digest:sha384"}},
		{"RSA PKCS#1 v1.5 SHA-512 implied", "dev-director", csc.OIDRSASHA512, "", crypto.SHA512, nil, []string{"digest:sha512"}},
		{"RSASSA-PSS SHA-256", "dev-official", csc.OIDRSAPSS, csc.OIDSHA256, crypto.SHA256, pss256,
			[]string{"rsa_padding_mode:pss", "rsa_pss_saltlen:digest", "digest:sha256"}},
		{"RSASSA-PSS SHA-512", "dev-director", csc.OIDRSAPSS, "", crypto.SHA512, pss512,
			[]string{"rsa_padding_mode:pss", "rsa_pss_saltlen:digest", "digest:sha512"}},
		{"ECDSA SHA-256", "dev-registrar", csc.OIDECPublicKey, csc.OIDSHA256, crypto.SHA256, nil, []string{"digest:sha256"}},
		{"ECDSA SHA-384", "dev-registrar", csc.OIDECDSASHA384, csc.OIDSHA384, crypto.SHA384, nil, []string{"digest:sha384"}},
		{"ECDSA SHA-512", "dev-registrar", csc.OIDECDSASHA512, "", crypto.SHA512, nil, []string{"digest:sha512"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			status, info := f.call(t, f.key, "v2/credentials/info", map[string]any{"credentialID": tc.cred, "certificates": "single"})
			if status != http.StatusOK {
				t.Fatalf("info: %d %v", status, info)
			}
			certs := info["cert"].(map[string]any)["certificates"].([]any)
			der, _ := base64.StdEncoding.DecodeString(certs[0].(string))
			certFile := filepath.Join(dir, "cert.pem")
			os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)

			h := digest(tc.hash)
			pinValue := ""
			if tc.cred == "dev-director" {
				pinValue = pin
			}
			sad := f.authorize(t, f.key, tc.cred, 1, []string{b64(h)}, csc.OIDOfHash(tc.hash), pinValue)
			body := map[string]any{"credentialID": tc.cred, "SAD": sad, "hashes": []string{b64(h)}, "signAlgo": tc.signAlgo}
			if tc.hashOID != "" {
				body["hashAlgorithmOID"] = tc.hashOID
			}
			if tc.params != nil {
				body["signAlgoParams"] = b64(tc.params)
			}
			status, out := f.call(t, f.key, "v2/signatures/signHash", body)
			if status != http.StatusOK {
				t.Fatalf("signHash: %d %v", status, out)
			}
			sig, _ := base64.StdEncoding.DecodeString(out["signatures"].([]any)[0].(string))
			os.WriteFile(filepath.Join(dir, "sig"), sig, 0o644)
			verify := func(hash []byte) error {
				os.WriteFile(filepath.Join(dir, "hash"), hash, 0o644)
				args := []string{"pkeyutl", "-verify", "-certin", "-inkey", certFile, "-in", filepath.Join(dir, "hash"), "-sigfile", filepath.Join(dir, "sig")}
				for _, o := range tc.opts {
					args = append(args, "-pkeyopt", o)
				}
				outb, err := exec.Command("openssl", args...).CombinedOutput()
				if err != nil {
					return &exec.ExitError{Stderr: outb}
				}
				return nil
			}
			if err := verify(h); err != nil {
				t.Fatalf("openssl pkeyutl -verify: %s", err.(*exec.ExitError).Stderr)
			}
			tampered := append([]byte(nil), h...)
			tampered[0] ^= 1
			if verify(tampered) == nil {
				t.Error("the signature verifies over a tampered hash")
			}
		})
	}
	if n := len(f.entries(t, audit.ActionSignHash)); n != len(cases) {
		t.Errorf("%d sign_hash audit entries, want %d", n, len(cases))
	}
}

// TestSADRules: a SAD signs only what it was issued for; each refusal is
// a CSC error and signs nothing.
func TestSADRules(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(string(b), func(t *testing.T) { testSADRules(t, b) })
	}
}

func testSADRules(t *testing.T, b store.Backend) {
	f := newFixture(t, b)
	h1, h2 := digest(crypto.SHA256), digest(crypto.SHA256)
	sign := func(key, cred, sad string, hashes ...[]byte) (int, map[string]any) {
		var hs []string
		for _, h := range hashes {
			hs = append(hs, b64(h))
		}
		return f.call(t, key, "v2/signatures/signHash", map[string]any{"credentialID": cred, "SAD": sad, "hashes": hs,
			"hashAlgorithmOID": csc.OIDSHA256, "signAlgo": map[string]string{"dev-registrar": csc.OIDECPublicKey}[cred] + map[bool]string{true: csc.OIDRSA}[cred != "dev-registrar"]})
	}
	cases := []struct {
		name   string
		run    func(t *testing.T) (int, map[string]any)
		status int
		code   string
	}{
		{"expired", func(t *testing.T) (int, map[string]any) {
			sad := f.authorize(t, f.key, "dev-official", 1, nil, "", "")
			f.clock.add(5*time.Minute + time.Second)
			return sign(f.key, "dev-official", sad, h1)
		}, 400, "invalid_request"},
		{"over-used in one call", func(t *testing.T) (int, map[string]any) {
			sad := f.authorize(t, f.key, "dev-official", 1, nil, "", "")
			return sign(f.key, "dev-official", sad, h1, h2)
		}, 400, "invalid_request"},
		{"over-used across calls", func(t *testing.T) (int, map[string]any) {
			sad := f.authorize(t, f.key, "dev-official", 1, nil, "", "")
			if s, out := sign(f.key, "dev-official", sad, h1); s != 200 {
				t.Fatalf("first use: %d %v", s, out)
			}
			return sign(f.key, "dev-official", sad, h2)
		}, 400, "invalid_request"},
		{"another credential", func(t *testing.T) (int, map[string]any) {
			sad := f.authorize(t, f.key, "dev-official", 1, nil, "", "")
			return sign(f.key, "dev-registrar", sad, h1)
		}, 400, "invalid_request"},
		{"another client", func(t *testing.T) (int, map[string]any) {
			sad := f.authorize(t, f.key, "dev-registrar", 1, nil, "", "")
			return sign(f.key2, "dev-registrar", sad, h1)
		}, 400, "invalid_request"},
		{"credential not the client's", func(t *testing.T) (int, map[string]any) {
			return f.call(t, f.key2, "v2/credentials/authorize", map[string]any{"credentialID": "dev-official", "numSignatures": 1})
		}, 400, "invalid_request"},
		{"SCAL 2: another hash", func(t *testing.T) (int, map[string]any) {
			sad := f.authorize(t, f.key, "dev-director", 1, []string{b64(h1)}, csc.OIDSHA256, pin)
			return sign(f.key, "dev-director", sad, h2)
		}, 400, "invalid_request"},
		{"SCAL 2: no hashes authorised", func(t *testing.T) (int, map[string]any) {
			sad := f.authorize(t, f.key, "dev-director", 1, nil, "", pin)
			return sign(f.key, "dev-director", sad, h1)
		}, 400, "invalid_request"},
		{"wrong hash length", func(t *testing.T) (int, map[string]any) {
			sad := f.authorize(t, f.key, "dev-official", 1, nil, "", "")
			return sign(f.key, "dev-official", sad, h1[:20])
		}, 400, "invalid_request"},
		{"algorithm the key cannot do", func(t *testing.T) (int, map[string]any) {
			sad := f.authorize(t, f.key, "dev-registrar", 1, nil, "", "")
			return f.call(t, f.key, "v2/signatures/signHash", map[string]any{"credentialID": "dev-registrar", "SAD": sad,
				"hashes": []string{b64(h1)}, "hashAlgorithmOID": csc.OIDSHA256, "signAlgo": csc.OIDRSA})
		}, 400, "invalid_request"},
		{"no token", func(t *testing.T) (int, map[string]any) {
			return sign("", "dev-official", "sad_x", h1)
		}, 401, "invalid_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.entries(t, audit.ActionSignHash))
			status, out := tc.run(t)
			if status != tc.status || errorCode(out) != tc.code {
				t.Fatalf("got %d %v, want %d %s", status, out, tc.status, tc.code)
			}
			if out["signatures"] != nil {
				t.Error("signatures in a refusal")
			}
			for _, e := range f.entries(t, audit.ActionSignHash)[before:] {
				if e.Result == audit.Success && tc.name != "over-used across calls" {
					t.Errorf("a refused request signed: %+v", e)
				}
			}
		})
	}
	t.Run("SCAL 2: the pinned hash signs once", func(t *testing.T) {
		sad := f.authorize(t, f.key, "dev-director", 2, []string{b64(h1), b64(h2)}, csc.OIDSHA256, pin)
		if s, out := sign(f.key, "dev-director", sad, h1); s != 200 {
			t.Fatalf("%d %v", s, out)
		}
		if s, out := sign(f.key, "dev-director", sad, h1); s != 400 {
			t.Fatalf("the same hash twice: %d %v", s, out)
		}
		if s, out := sign(f.key, "dev-director", sad, h2); s != 200 {
			t.Fatalf("%d %v", s, out)
		}
	})
	t.Run("wrong PIN locks after the threshold", func(t *testing.T) {
		wrong := func(p string) (int, map[string]any) {
			return f.call(t, f.key, "v1/credentials/authorize", map[string]any{"credentialID": "dev-director", "numSignatures": 1,
				"hash": []string{b64(h1)}, "PIN": p})
		}
		for i := 0; i < f.maxFailure-1; i++ {
			if s, out := wrong("000000"); s != 400 || errorCode(out) != "invalid_pin" {
				t.Fatalf("wrong PIN %d: %d %v", i+1, s, out)
			}
		}
		if s, out := wrong("000000"); s != 400 || errorCode(out) != "invalid_pin" {
			t.Fatalf("last wrong PIN: %d %v", s, out)
		}
		// Locked now, for the right PIN too: the lockout /api/v1/sign
		// keeps (the same credential row).
		if s, out := wrong(pin); s != 403 || errorCode(out) != "access_denied" {
			t.Fatalf("right PIN while locked: %d %v", s, out)
		}
		cred, err := f.st.Credential(t.Context(), "dev-director")
		if err != nil || !cred.LockedUntil.After(f.clock.now()) {
			t.Fatalf("credential not locked: %+v %v", cred, err)
		}
		// /api/v1/sign sees the same lock.
		status, body := signForm(t, f, "dev-director", pin)
		if status != 403 || !strings.Contains(body, "credential_locked") {
			t.Errorf("/api/v1/sign while locked: %d %s", status, body)
		}
		f.clock.add(time.Hour)
		// And its failures count toward the lock of credentials/authorize.
		for range f.maxFailure - 1 {
			if status, body := signForm(t, f, "dev-director", "000000"); status != 403 {
				t.Fatalf("/api/v1/sign with a wrong PIN: %d %s", status, body)
			}
		}
		if s, out := wrong("000000"); s != 400 || errorCode(out) != "invalid_pin" {
			t.Fatalf("wrong PIN after /sign's failures: %d %v", s, out)
		}
		if s, out := wrong(pin); s != 403 || errorCode(out) != "access_denied" {
			t.Fatalf("right PIN after the shared lock: %d %v", s, out)
		}
		cred, err = f.st.Credential(t.Context(), "dev-director")
		if err != nil || !cred.LockedUntil.After(f.clock.now()) {
			t.Fatalf("credential not locked: %+v %v", cred, err)
		}
		var failures int
		for _, e := range f.entries(t, audit.ActionAuthorize) {
			if e.Result == audit.Failure && e.Credential == "dev-director" {
				failures++
			}
		}
		if failures < f.maxFailure+1 {
			t.Errorf("%d failed authorize entries, want %d", failures, f.maxFailure+1)
		}
	})
}

// TestListAndInfo: a client sees its own credentials only, and info's
// fields in each version's shape.
func TestListAndInfo(t *testing.T) {
	f := newFixture(t, store.SQLite)
	status, out := f.call(t, f.key2, "v2/credentials/list", map[string]any{})
	if status != 200 || strings.Join(toStrings(out["credentialIDs"]), ",") != "dev-registrar" {
		t.Fatalf("dev-client-2's list: %d %v", status, out)
	}
	for _, cred := range []string{"dev-official", "dev-director", "nonexistent"} {
		if status, out := f.call(t, f.key2, "v2/credentials/info", map[string]any{"credentialID": cred}); status != 400 || errorCode(out) != "invalid_request" {
			t.Errorf("dev-client-2's info of %s: %d %v", cred, status, out)
		}
	}
	status, out = f.call(t, f.key, "v1/credentials/list", nil)
	if status != 200 || len(toStrings(out["credentialIDs"])) != 3 {
		t.Fatalf("dev-client's list: %d %v", status, out)
	}
}

func toStrings(v any) []string {
	var out []string
	a, _ := v.([]any)
	for _, x := range a {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestSADAcrossReplicas: two servers sharing only a PostgreSQL database
// honour each other's SADs, and a SAD sent to both at once signs no more
// than it allows.
func TestSADAcrossReplicas(t *testing.T) {
	url := storetest.Schema(t)
	open := func() *store.Store {
		st, err := store.Open(t.Context(), store.Options{DatabaseURL: url, DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	f := newFixtureOn(t, open())
	second, _, _ := f.serve(t, open())
	urls := []string{f.url, second}
	const allowed, tries = 5, 12
	sad := f.authorize(t, f.key, "dev-official", allowed, nil, "", "")
	results := make(chan int, tries)
	for i := range tries {
		go func() {
			g := *f
			g.url = urls[i%2]
			status, _ := g.call(t, f.key, "v2/signatures/signHash", map[string]any{"credentialID": "dev-official", "SAD": sad,
				"hashes": []string{b64(digest(crypto.SHA256))}, "hashAlgorithmOID": csc.OIDSHA256, "signAlgo": csc.OIDRSA})
			results <- status
		}()
	}
	ok := 0
	for range tries {
		switch s := <-results; s {
		case 200:
			ok++
		case 400:
		default:
			t.Errorf("status %d", s)
		}
	}
	if ok != allowed {
		t.Errorf("%d signatures with a SAD for %d", ok, allowed)
	}
}

// signForm posts /api/v1/sign with a small PDF at B-B.
func signForm(t *testing.T, f *fixture, cred, activation string) (int, string) {
	t.Helper()
	pdf, err := os.ReadFile("../testdata/corpus/memo-libreoffice.pdf")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("file", "in.pdf")
	fw.Write(pdf)
	mw.WriteField("signer", cred)
	mw.WriteField("level", "B-B")
	mw.WriteField("activation", activation)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, f.url+"/api/v1/sign", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+f.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}
