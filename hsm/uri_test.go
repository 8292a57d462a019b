package hsm

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		name string
		uri  string
		cfg  Config
		ref  KeyRef
		err  string
	}{
		{
			name: "issue example",
			uri:  "pkcs11:token=esign-dev;object=dev-official?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/pin",
			cfg:  Config{ModulePath: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "esign-dev", PINSource: "file:/run/secrets/pin"},
			ref:  KeyRef{Label: "dev-official"},
		},
		{
			name: "env pin source",
			uri:  "pkcs11:token=esign-dev;object=k?pin-source=env:ESIGN_PIN",
			cfg:  Config{TokenLabel: "esign-dev", PINSource: "env:ESIGN_PIN"},
			ref:  KeyRef{Label: "k"},
		},
		{
			name: "p11tool style with descriptive attributes and id",
			uri:  "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=82eb9e3e6aae92c4;token=My%20Token;id=%01%02%ff;object=a%3Bb;type=private",
			cfg:  Config{TokenLabel: "My Token", TokenSerial: "82eb9e3e6aae92c4"},
			ref:  KeyRef{Label: "a;b", ID: []byte{1, 2, 0xff}},
		},
		{
			name: "step-ca style module-path in path part",
			uri:  "pkcs11:module-path=/usr/local/lib/libpkcs11.so;token=hsm?pin-source=file:///etc/pin",
			cfg:  Config{ModulePath: "/usr/local/lib/libpkcs11.so", TokenLabel: "hsm", PINSource: "file:///etc/pin"},
		},
		{
			name: "upper-case scheme, plus kept literally, Thai label",
			uri:  "PKCS11:token=a+b;object=%E0%B8%81%E0%B8%A3%E0%B8%A1",
			cfg:  Config{TokenLabel: "a+b"},
			ref:  KeyRef{Label: "กรม"},
		},
		{name: "empty", uri: "pkcs11:", cfg: Config{}},
		{name: "wrong scheme", uri: "pkcs12:token=x", err: "must start with"},
		{name: "no scheme", uri: "token=x", err: "must start with"},
		{name: "pin-value refused", uri: "pkcs11:token=x?pin-value=1234", err: "pin-value is not accepted"},
		{name: "pin-value in path refused", uri: "pkcs11:token=x;pin-value=1234", err: "pin-value is not accepted"},
		{name: "duplicate", uri: "pkcs11:token=x;token=y", err: "given twice"},
		{name: "duplicate across parts", uri: "pkcs11:object=x?object=y", err: "given twice"},
		{name: "unknown attribute", uri: "pkcs11:token=x;colour=blue", err: "unknown attribute"},
		{name: "slot-id", uri: "pkcs11:slot-id=0", err: "not supported"},
		{name: "module-name", uri: "pkcs11:token=x?module-name=softhsm2", err: "not supported"},
		{name: "no equals", uri: "pkcs11:token", err: "no '='"},
		{name: "bad escape", uri: "pkcs11:token=%zz", err: "bad percent-escape"},
		{name: "truncated escape", uri: "pkcs11:token=%4", err: "truncated"},
		{name: "secret key type", uri: "pkcs11:object=k;type=secret-key", err: "type=secret-key"},
		{name: "too long", uri: "pkcs11:token=" + strings.Repeat("a", maxURILength), err: "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, ref, err := ParseURI(tc.uri)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseURI error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURI: %v", err)
			}
			if cfg != tc.cfg {
				t.Errorf("config = %+v\nwant     %+v", cfg, tc.cfg)
			}
			if ref.Label != tc.ref.Label || !bytes.Equal(ref.ID, tc.ref.ID) {
				t.Errorf("ref = %v, want %v", ref, tc.ref)
			}
		})
	}
}

func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"pkcs11:token=esign-dev;object=dev-official?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/pin",
		"pkcs11:serial=1;id=%00%01?pin-source=env:X",
		"pkcs11:token=%E0%B8%81",
		"pkcs11:;;?&&",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		cfg, ref, err := ParseURI(uri)
		if err != nil {
			if cfg != (Config{}) || !ref.empty() {
				t.Fatalf("error %v with non-zero results %v %v", err, cfg, ref)
			}
			return
		}
		if !strings.HasPrefix(strings.ToLower(uri), "pkcs11:") {
			t.Fatalf("accepted %q without the scheme", uri)
		}
		if cfg.PIN != "" {
			t.Fatal("ParseURI set a PIN")
		}
		if len(cfg.TokenLabel) > len(uri) || len(ref.ID) > len(uri) {
			t.Fatal("decoded value longer than the URI")
		}
	})
}
