package csc_test

import (
	"crypto"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"esign/activation"
	"esign/audit"
	"esign/internal/extverify"
	"esign/store"
)

// lookup walks a dotted path ("cert.certificates") of a JSON answer.
func lookup(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// TestRequestShapes sends the specification-shaped fixtures of both
// versions, in order, and checks each answer's members.
func TestRequestShapes(t *testing.T) {
	f := newFixture(t, store.SQLite)
	pdf, err := os.ReadFile("../testdata/corpus/memo-libreoffice.pdf")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{ // member path: value, or nil for "present"
		"v1/1_info.json":                  {"specs": "1.0.4.0", "region": "TH", "methods": nil, "authType": nil, "name": nil, "lang": nil},
		"v1/2_credentials_list.json":      {"credentialIDs": nil},
		"v1/3_credentials_info.json":      {"authMode": "explicit", "PIN.presence": "true", "PIN.format": "N", "SCAL": "2", "multisign": nil, "key.status": "enabled", "key.algo": nil, "key.len": 2048.0, "cert.status": "valid", "cert.certificates": nil, "cert.issuerDN": nil, "cert.subjectDN": nil, "cert.serialNumber": nil, "cert.validFrom": nil, "cert.validTo": nil},
		"v1/4_credentials_authorize.json": {"SAD": nil, "expiresIn": 300.0},
		"v1/5_signatures_signHash.json":   {"signatures": nil},
		"v1/6_signatures_timestamp.json":  {"timestamp": nil},
		"v2/1_info.json":                  {"specs": "2.0.0.2", "region": "TH", "methods": nil, "authType": nil, "conformance_levels": nil},
		"v2/2_credentials_list.json":      {"credentialIDs": nil, "credentialInfos": nil},
		"v2/3_credentials_info.json":      {"auth.mode": "explicit", "auth.expression": "PIN", "auth.objects": nil, "scal": "2", "multisign": nil, "key.algo": nil, "key.len": 2048.0, "cert.certificates": nil, "cert.validTo": nil},
		"v2/4_credentials_authorize.json": {"SAD": nil, "expiresIn": 300.0},
		"v2/5_signatures_signHash.json":   {"signatures": nil},
		"v2/6_signatures_timestamp.json":  {"timestamp": nil},
		"v2/7_credentials_authorize.json": {"SAD": nil},
		"v2/8_signatures_signDoc.json":    {"DocumentWithSignature": nil},
	}
	for _, v := range []string{"v1", "v2"} {
		files, _ := filepath.Glob(filepath.Join("testdata", v, "*.json"))
		sort.Strings(files)
		hash := b64(digest(crypto.SHA256))
		var sad string
		for _, file := range files {
			name := v + "/" + filepath.Base(file)
			t.Run(name, func(t *testing.T) {
				raw, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				body := strings.NewReplacer("{{HASH}}", hash, "{{SAD}}", sad, "{{PDF}}", base64.StdEncoding.EncodeToString(pdf)).Replace(string(raw))
				method := strings.ReplaceAll(strings.TrimSuffix(filepath.Base(file)[2:], ".json"), "_", "/")
				status, out := f.call(t, f.key, v+"/"+method, []byte(body))
				if status != http.StatusOK {
					t.Fatalf("%s: %d %v", method, status, out)
				}
				for path, val := range want[name] {
					got := lookup(out, path)
					if got == nil || val != nil && got != val {
						t.Errorf("%s = %v, want %v", path, got, val)
					}
				}
				if s, ok := out["SAD"].(string); ok {
					sad = s
				}
				if docs, ok := out["DocumentWithSignature"].([]any); ok {
					signed, _ := base64.StdEncoding.DecodeString(docs[0].(string))
					path := filepath.Join(t.TempDir(), "signed.pdf")
					os.WriteFile(path, signed, 0o644)
					sigs := extverify.PDFSig(t, extverify.NSSDB(t, f.env.PKI.Root), path)
					if len(sigs) == 0 || !sigs[0].Valid || !sigs[0].Trusted {
						t.Errorf("pdfsig: %+v", sigs)
					}
				}
			})
		}
	}
	if n := len(f.entries(t, audit.ActionTimestamp)); n != 2 {
		t.Errorf("%d timestamp entries, want 2", n)
	}
}

// TestLoginAndNoSecretsInLogs: a session through auth/login, with a
// wrong PIN on the way, leaves neither the API key, nor the token, nor
// the PIN, nor the SAD in the log.
func TestLoginAndNoSecretsInLogs(t *testing.T) {
	f := newFixture(t, store.SQLite)
	req, _ := http.NewRequest(http.MethodPost, f.url+"/csc/v2/auth/login", nil)
	req.SetBasicAuth("dev-client", f.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		Token     string `json:"access_token"`
		ExpiresIn int    `json:"expires_in"`
	}
	decodeJSON(t, resp, &login)
	if resp.StatusCode != 200 || login.Token == "" || login.ExpiresIn <= 0 {
		t.Fatalf("login: %d %+v", resp.StatusCode, login)
	}
	req.SetBasicAuth("dev-client-2", f.key) // another client's name
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Errorf("login under another name: %d", resp.StatusCode)
	}
	const wrongPIN = "987654"
	h := b64(digest(crypto.SHA256))
	if s, out := f.call(t, login.Token, "v1/credentials/authorize", map[string]any{"credentialID": "dev-director", "numSignatures": 1, "hash": []string{h}, "PIN": wrongPIN}); s != 400 {
		t.Fatalf("wrong PIN: %d %v", s, out)
	}
	sad := f.authorize(t, login.Token, "dev-director", 1, []string{h}, "2.16.840.1.101.3.4.2.1", pin)
	if s, out := f.call(t, login.Token, "v2/signatures/signHash", map[string]any{"credentialID": "dev-director", "SAD": sad, "hashes": []string{h},
		"hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.113549.1.1.1"}); s != 200 {
		t.Fatalf("signHash: %d %v", s, out)
	}
	// A used SAD again, and a made-up one: errors that must not echo it.
	f.call(t, login.Token, "v2/signatures/signHash", map[string]any{"credentialID": "dev-director", "SAD": sad, "hashes": []string{h},
		"hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.113549.1.1.1"})
	if s, _ := f.call(t, login.Token, "v2/auth/revoke", map[string]any{}); s != 204 {
		t.Errorf("revoke: %d", s)
	}
	if s, out := f.call(t, login.Token, "v2/credentials/list", nil); s != 401 || errorCode(out) != "invalid_token" {
		t.Errorf("revoked token: %d %v", s, out)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, `"path":"/csc/v2/signatures/signHash"`) || !strings.Contains(logs, `"client":"dev-client"`) {
		t.Fatalf("the log lacks the requests:\n%s", logs)
	}
	for name, secret := range map[string]string{"API key": f.key, "token": login.Token, "PIN": pin, "wrong PIN": wrongPIN, "SAD": sad,
		"SAD's body": strings.TrimPrefix(sad, "sad_")} {
		if contains(logs, secret) {
			t.Errorf("the log holds the %s", name)
		}
	}
}

func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := jsonDecode(resp, v); err != nil {
		t.Fatal(err)
	}
}

// TestHostileBodies: malformed, oversized-number, wrong-typed or empty
// bodies get a CSC error JSON on every method, never a 5xx.
func TestHostileBodies(t *testing.T) {
	f := newFixture(t, store.SQLite)
	bodies := []string{"", "{", "[]", "null", `{"credentialID": 5}`, `{"credentialID": "dev-official", "numSignatures": 1e99}`,
		`{"credentialID": "dev-official", "SAD": "sad_x", "hashes": ["%%%"], "signAlgo": "1.2"}`,
		`{"credentialID": "dev-official", "SAD": "sad_x", "hashes": ["AAAA"], "signAlgo": "1.2.840.113549.1.1.10", "signAlgoParams": "MAA="}`,
		`{"credentialID": "dev-official", "SAD": "sad_x", "documents": [{"document": "!!", "signature_format": "P"}]}`,
		`{"credentialID": "dev-official", "SAD": "sad_x", "documents": [{"document": "AAAA", "signature_format": "P"}]}`,
		`{"hash": "AAAA", "hashAlgo": "1.3.14.3.2.26"}`, `{"credentialID": "` + strings.Repeat("x", 10000) + `"}`}
	for _, v := range []string{"v1", "v2"} {
		for _, m := range []string{"credentials/list", "credentials/info", "credentials/authorize", "signatures/signHash", "signatures/timestamp", "signatures/signDoc"} {
			if v == "v1" && m == "signatures/signDoc" {
				continue
			}
			for _, body := range bodies {
				status, raw := f.raw(t, f.key, v+"/"+m, []byte(body))
				// Members a method does not use are ignored, as clients
				// send them: such a body may well be a good request.
				if status >= 500 || status >= 400 && !strings.Contains(string(raw), `"error_description"`) {
					t.Errorf("%s/%s %.60q: %d %.200s", v, m, body, status, raw)
				}
			}
		}
	}
}

// TestOTP: a TOTP credential describes its OTP in both versions, takes a
// code in v1's OTP and v2's authData, and refuses a replayed or wrong
// one with invalid_otp.
func TestOTP(t *testing.T) {
	f := newFixture(t, store.SQLite)
	ctx := t.Context()
	if err := f.st.CreateCredential(ctx, store.Credential{Name: "otp-official", KeyLabel: "dev-official",
		ChainPEM: mustChain(t, f, "dev-official")}); err != nil {
		t.Fatal(err)
	}
	secret, _ := activation.NewTOTPSecret()
	if err := f.st.SetTOTPSecret(ctx, "otp-official", secret); err != nil {
		t.Fatal(err)
	}
	if err := f.st.AssignCredentials(ctx, "dev-client", "otp-official"); err != nil {
		t.Fatal(err)
	}
	_, v1 := f.call(t, f.key, "v1/credentials/info", map[string]any{"credentialID": "otp-official"})
	_, v2 := f.call(t, f.key, "v2/credentials/info", map[string]any{"credentialID": "otp-official"})
	if lookup(v1, "OTP.presence") != "true" || lookup(v1, "authMode") != "explicit" || lookup(v2, "auth.expression") != "OTP" {
		t.Fatalf("info: %v\n%v", v1, v2)
	}
	h := b64(digest(crypto.SHA256))
	code := func(at time.Time) string {
		c, err := activation.TOTP{}.CodeAt(secret, at)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	now := f.clock.now()
	if s, out := f.call(t, f.key, "v1/credentials/authorize", map[string]any{"credentialID": "otp-official", "numSignatures": 1,
		"hash": []string{h}, "OTP": code(now)}); s != 200 {
		t.Fatalf("v1 OTP: %d %v", s, out)
	}
	// The same code again: a replay.
	if s, out := f.call(t, f.key, "v2/credentials/authorize", map[string]any{"credentialID": "otp-official", "numSignatures": 1,
		"hashes": []string{h}, "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "authData": []map[string]string{{"id": "OTP", "value": code(now)}}}); s != 400 || errorCode(out) != "invalid_otp" {
		t.Fatalf("replayed OTP: %d %v", s, out)
	}
	f.clock.add(30 * time.Second)
	if s, out := f.call(t, f.key, "v2/credentials/authorize", map[string]any{"credentialID": "otp-official", "numSignatures": 1,
		"hashes": []string{h}, "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "authData": []map[string]string{{"id": "OTP", "value": code(f.clock.now())}}}); s != 200 {
		t.Fatalf("v2 OTP: %d %v", s, out)
	}
}

func mustChain(t *testing.T, f *fixture, name string) []byte {
	t.Helper()
	c, err := f.st.Credential(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return c.ChainPEM
}
