package activation_test

import (
	"bytes"
	"encoding/base32"
	"net/url"
	"testing"
	"time"

	"esign/activation"
)

// RFC 6238 Appendix B: the seeds are the ASCII digits repeated to the
// hash's length, the codes 8 digits.
var (
	seedSHA1   = []byte("12345678901234567890")
	seedSHA256 = []byte("12345678901234567890123456789012")
	seedSHA512 = []byte("1234567890123456789012345678901234567890123456789012345678901234")
)

func TestRFC6238Vectors(t *testing.T) {
	for _, tc := range []struct {
		unix int64
		alg  string
		want string
	}{
		{59, "SHA1", "94287082"}, {59, "SHA256", "46119246"}, {59, "SHA512", "90693936"},
		{1111111109, "SHA1", "07081804"}, {1111111109, "SHA256", "68084774"}, {1111111109, "SHA512", "25091201"},
		{1111111111, "SHA1", "14050471"}, {1111111111, "SHA256", "67062674"}, {1111111111, "SHA512", "99943326"},
		{1234567890, "SHA1", "89005924"}, {1234567890, "SHA256", "91819424"}, {1234567890, "SHA512", "93441116"},
		{2000000000, "SHA1", "69279037"}, {2000000000, "SHA256", "90698825"}, {2000000000, "SHA512", "38618901"},
		{20000000000, "SHA1", "65353130"}, {20000000000, "SHA256", "77737706"}, {20000000000, "SHA512", "47863826"},
	} {
		t.Run(tc.alg+"/"+time.Unix(tc.unix, 0).UTC().Format(time.RFC3339), func(t *testing.T) {
			seed := map[string][]byte{"SHA1": seedSHA1, "SHA256": seedSHA256, "SHA512": seedSHA512}[tc.alg]
			p := activation.TOTP{Algorithm: tc.alg, Digits: 8}
			got, err := p.CodeAt(seed, time.Unix(tc.unix, 0))
			if err != nil || got != tc.want {
				t.Fatalf("code = %q, %v; want %s", got, err, tc.want)
			}
			if step, ok := p.Verify(seed, tc.want, time.Unix(tc.unix, 0), 0); !ok || step != tc.unix/30 {
				t.Fatalf("Verify = %d, %v", step, ok)
			}
		})
	}
}

// RFC 4226 Appendix D: HOTP is TOTP's core, with the counter as step.
func TestRFC4226Vectors(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for counter, w := range want {
		got, err := activation.TOTP{}.Code(seedSHA1, int64(counter))
		if err != nil || got != w {
			t.Errorf("counter %d: %q, %v; want %s", counter, got, err, w)
		}
	}
}

func TestTOTPVerifyWindow(t *testing.T) {
	p := activation.TOTP{}
	now := time.Unix(1_800_000_015, 0)
	cur := p.Step(now)
	code := func(step int64) string {
		c, err := p.Code(seedSHA1, step)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name     string
		code     string
		lastStep int64
		ok       bool
	}{
		{"current step", code(cur), 0, true},
		{"one step early", code(cur - 1), 0, true},
		{"one step late", code(cur + 1), 0, true},
		{"two steps early", code(cur - 2), 0, false},
		{"two steps late", code(cur + 2), 0, false},
		{"current step already used", code(cur), cur, false},
		{"previous step after current used", code(cur - 1), cur, false},
		{"next step after current used", code(cur + 1), cur, true},
		{"wrong code", "000000", 0, code(cur) == "000000" || code(cur-1) == "000000" || code(cur+1) == "000000"},
		{"too short", code(cur)[:5], 0, false},
		{"too long", code(cur) + "0", 0, false},
		{"empty", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := p.Verify(seedSHA1, tc.code, now, tc.lastStep); ok != tc.ok {
				t.Fatalf("Verify ok = %v, want %v", ok, tc.ok)
			}
		})
	}
}

func TestTOTPBadParameters(t *testing.T) {
	if _, err := (activation.TOTP{Algorithm: "MD5"}).Code(seedSHA1, 1); err == nil {
		t.Error("MD5 accepted")
	}
	if _, err := (activation.TOTP{Digits: 9}).Code(seedSHA1, 1); err == nil {
		t.Error("9 digits accepted")
	}
}

func TestTOTPURI(t *testing.T) {
	secret, err := activation.NewTOTPSecret()
	if err != nil || len(secret) != 20 {
		t.Fatalf("secret %x, %v", secret, err)
	}
	other, _ := activation.NewTOTPSecret()
	if bytes.Equal(secret, other) {
		t.Fatal("two secrets are equal")
	}
	u, err := url.Parse(activation.TOTP{}.URI("esign กองกลาง", "dev-director", secret))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/esign กองกลาง:dev-director" ||
		q.Get("issuer") != "esign กองกลาง" || q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Fatalf("URI %s", u)
	}
	got, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(q.Get("secret"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("secret in URI decodes to %x, %v", got, err)
	}
}
