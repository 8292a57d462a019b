package csc_test

import (
	"net/http"
	"testing"

	"esign/store/storetest"
)

// TestTokenEndsWithKeyRotation: an auth/login token stops working when
// its client's API key is rotated, as the key itself does; one from the
// new key works.
func TestTokenEndsWithKeyRotation(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			f := newFixture(t, b)
			login := func(name, key string) string {
				t.Helper()
				req, _ := http.NewRequest(http.MethodPost, f.url+"/csc/v2/auth/login", nil)
				req.SetBasicAuth(name, key)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var out struct {
					Token string `json:"access_token"`
				}
				decodeJSON(t, resp, &out)
				if resp.StatusCode != 200 || out.Token == "" {
					t.Fatalf("login: %d", resp.StatusCode)
				}
				return out.Token
			}
			tok, tok2 := login("dev-client", f.key), login("dev-client-2", f.key2)
			for _, tk := range []string{tok, tok2} {
				if s, out := f.call(t, tk, "v2/credentials/list", nil); s != 200 {
					t.Fatalf("before rotation: %d %v", s, out)
				}
			}
			newKey, err := f.st.RotateClientKey(t.Context(), "dev-client")
			if err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				name, token string
				status      int
			}{
				{"old key", f.key, 401},
				{"token of the old key", tok, 401},
				{"another client's token", tok2, 200},
				{"new key", newKey, 200},
				{"token of the new key", login("dev-client", newKey), 200},
			}
			for _, tc := range cases {
				s, out := f.call(t, tc.token, "v2/credentials/list", nil)
				if s != tc.status || s == 401 && errorCode(out) != "invalid_token" {
					t.Errorf("%s: %d %v, want %d", tc.name, s, out, tc.status)
				}
			}
			if err := f.st.SetClientDisabled(t.Context(), "dev-client-2", true); err == nil {
				if s, _ := f.call(t, tok2, "v2/credentials/list", nil); s != 401 {
					t.Errorf("token of a disabled client: %d", s)
				}
			}
		})
	}
}
