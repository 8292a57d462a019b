package hsm

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadPIN(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := write("plain", "1234")
	newline := write("newline", "5678\n")
	crlf := write("crlf", "9012\r\n")
	inner := write("inner", "a b\tc \n")
	empty := write("empty", "\n")
	big := write("big", strings.Repeat("9", maxPINFileSize+1))
	t.Setenv("HSM_TEST_PIN", "env-pin\n")
	t.Setenv("HSM_TEST_EMPTY", "")

	tests := []struct {
		source string
		want   string
		err    string
	}{
		{source: "file:" + plain, want: "1234"},
		{source: "file:" + newline, want: "5678"},
		{source: "file:" + crlf, want: "9012"},
		{source: "file:" + inner, want: "a b\tc "},
		{source: "file://" + newline, want: "5678"},
		{source: "file://localhost" + newline, want: "5678"},
		{source: "env:HSM_TEST_PIN", want: "env-pin"},
		{source: "file:" + empty, err: "is empty"},
		{source: "file:" + big, err: "longer than"},
		{source: "file:" + filepath.Join(dir, "missing"), err: "no such file"},
		{source: "file://remote.example/etc/pin", err: "remote host"},
		{source: "file:", err: "names no file"},
		{source: "env:HSM_TEST_EMPTY", err: "unset or empty"},
		{source: "env:HSM_TEST_UNSET_" + t.Name(), err: "unset or empty"},
		{source: "env:", err: "names no variable"},
		{source: "1234", err: "want env:NAME or file:/path"},
		{source: "pin:1234", err: "unsupported scheme"},
		{source: "|/usr/bin/pinentry", err: "want env:NAME"},
	}
	for _, tc := range tests {
		t.Run(tc.source, func(t *testing.T) {
			got, err := ReadPIN(tc.source)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ReadPIN = %q, %v; want error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ReadPIN = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestConfigNeverPrintsPIN(t *testing.T) {
	const pin = "s3cret-PIN-42"
	c := Config{TokenLabel: "t", PIN: pin, MaxSessions: 3}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		out := fmt.Sprintf(verb, c)
		if strings.Contains(out, pin) || strings.Contains(out, fmt.Sprintf("%x", pin)) {
			t.Errorf("%s prints the PIN: %s", verb, out)
		}
	}
	if out := fmt.Sprintf("%v", &c); strings.Contains(out, pin) {
		t.Errorf("pointer prints the PIN: %s", out)
	}
	if !strings.Contains(c.String(), "PIN: <set>") {
		t.Errorf("String does not say a PIN is set: %s", c.String())
	}
}

func TestConfigResolved(t *testing.T) {
	c, err := Config{TokenLabel: "t", PIN: "1"}.resolved()
	if err != nil {
		t.Fatal(err)
	}
	if c.ModulePath != DefaultModulePath || c.MaxSessions != DefaultMaxSessions() {
		t.Fatalf("defaults not applied: %v", c)
	}
	if DefaultMaxSessions() < 4 {
		t.Fatalf("DefaultMaxSessions() = %d, want at least 2*1+2", DefaultMaxSessions())
	}
}
