package verifyapi

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"esign/config"
	"esign/internal/trustpool"
	"esign/verify"
)

// VerifyConfig derives the verification settings from the service
// configuration: trust anchors from ESIGN_TRUST and ESIGN_TRUST_DIR, plus
// the development root in development mode; online revocation only to the
// hosts of ESIGN_VERIFY_FETCH_ALLOW, plus, in development mode, the
// development services' own host.
func VerifyConfig(cfg config.Config) (verify.Config, error) {
	files := append([]string(nil), cfg.Trust...)
	allow := append([]string(nil), cfg.VerifyFetchAllow...)
	if cfg.Dev {
		root := filepath.Join(cfg.DataDir, "pki", "root.pem")
		if _, err := os.Stat(root); err == nil {
			files = append(files, root)
		} else if !errors.Is(err, os.ErrNotExist) {
			return verify.Config{}, err
		}
		if host, _, err := net.SplitHostPort(cfg.Addr); err == nil {
			allow = append(allow, strings.ToLower(host))
		}
	}
	roots, err := trustpool.Load(files, cfg.TrustDir)
	if err != nil {
		return verify.Config{}, err
	}
	// The cache keeps certificate paths and CA signature checks across
	// verifications: most files come from the same few CAs.
	vc := verify.Config{Roots: roots, Cache: verify.NewCache(0)}
	if len(allow) > 0 {
		vc.AllowFetch = func(host string) bool { return slices.Contains(allow, strings.ToLower(host)) }
	}
	return vc, nil
}
