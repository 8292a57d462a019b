package devstack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSoftHSMConfig(t *testing.T) {
	tests := []struct {
		name    string
		dir     string
		wantErr bool
	}{
		{"plain", "data", false},
		{"space and Thai", "ข้อมูล dev", false},
		{"equals sign", "client=lean", true},
		{"hash", "data#1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tt.dir)
			conf, err := SoftHSMConfig(dir)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "SoftHSM cannot use") {
					t.Fatalf("err = %v, want a refusal naming the path", err)
				}
				if _, err := os.Stat(filepath.Join(dir, "softhsm")); !os.IsNotExist(err) {
					t.Fatalf("refused data directory was written to (stat: %v)", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(conf)
			if err != nil {
				t.Fatal(err)
			}
			want := "directories.tokendir = " + filepath.Join(dir, "softhsm", "tokens") + "\n"
			if !strings.HasPrefix(string(b), want) {
				t.Fatalf("config starts %q, want %q", b, want)
			}
			// Written once: a second call leaves the file as it is.
			st, _ := os.Stat(conf)
			if _, err := SoftHSMConfig(dir); err != nil {
				t.Fatal(err)
			}
			if st2, _ := os.Stat(conf); !st2.ModTime().Equal(st.ModTime()) {
				t.Fatal("config rewritten although unchanged")
			}
		})
	}
}
