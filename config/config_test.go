package config

import (
	"slices"
	"testing"
)

func TestOutboundSettings(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		wantAllow []string
		wantMax   int64
		wantErr   bool
	}{
		{name: "defaults", env: nil, wantMax: 10 << 20},
		{name: "entries kept as written", env: map[string]string{"ESIGN_VERIFY_FETCH_ALLOW": " http://ocsp.example.th:8080/Path , crl.example.th,"},
			wantAllow: []string{"http://ocsp.example.th:8080/Path", "crl.example.th"}, wantMax: 10 << 20},
		{name: "bad entry", env: map[string]string{"ESIGN_VERIFY_FETCH_ALLOW": "ocsp.example.th:8080"}, wantErr: true},
		{name: "bad scheme", env: map[string]string{"ESIGN_VERIFY_FETCH_ALLOW": "file:///etc"}, wantErr: true},
		{name: "size cap", env: map[string]string{"ESIGN_OUTBOUND_MAX_MB": "2"}, wantMax: 2 << 20},
		{name: "zero size cap", env: map[string]string{"ESIGN_OUTBOUND_MAX_MB": "0"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromEnv(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if !slices.Equal(c.VerifyFetchAllow, tc.wantAllow) || c.OutboundMaxBytes != tc.wantMax {
				t.Fatalf("allow %q, max %d; want %q, %d", c.VerifyFetchAllow, c.OutboundMaxBytes, tc.wantAllow, tc.wantMax)
			}
		})
	}
}
