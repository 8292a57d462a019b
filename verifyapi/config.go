package verifyapi

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"esign/config"
	"esign/internal/trustpool"
	"esign/outbound"
	"esign/verify"
)

// VerifyConfig derives the verification settings from the service
// configuration: trust anchors from ESIGN_TRUST and ESIGN_TRUST_DIR, plus
// the development root in development mode; online revocation only to the
// destinations of ESIGN_VERIFY_FETCH_ALLOW (scheme://host[:port] entries,
// never a local address an entry does not name with its port), plus, in
// development mode, exactly the development services' address, under
// ESIGN_OUTBOUND_TIMEOUT and ESIGN_OUTBOUND_MAX_MB.
func VerifyConfig(cfg config.Config) (verify.Config, error) {
	files := append([]string(nil), cfg.Trust...)
	opts := outbound.Options{
		Allow:            append([]string(nil), cfg.VerifyFetchAllow...),
		Timeout:          cfg.OutboundTimeout,
		MaxResponseBytes: cfg.OutboundMaxBytes,
	}
	if cfg.Dev {
		root := filepath.Join(cfg.DataDir, "pki", "root.pem")
		if _, err := os.Stat(root); err == nil {
			files = append(files, root)
		} else if !errors.Is(err, os.ErrNotExist) {
			return verify.Config{}, err
		}
		// The development certificates point at the signing server's own
		// address (service.Open's base URL); that host and port, and
		// nothing else on the machine.
		if _, _, err := net.SplitHostPort(cfg.Addr); err == nil {
			opts.Trusted = append(opts.Trusted, "http://"+config.Dialable(cfg.Addr))
		}
	}
	roots, err := trustpool.Load(files, cfg.TrustDir)
	if err != nil {
		return verify.Config{}, err
	}
	// The cache keeps certificate paths and CA signature checks across
	// verifications: most files come from the same few CAs.
	vc := verify.Config{Roots: roots, Cache: verify.NewCache(0)}
	if len(opts.Allow) > 0 || len(opts.Trusted) > 0 {
		if vc.Fetch, err = outbound.New(opts); err != nil {
			return verify.Config{}, fmt.Errorf("verifier fetching: %w", err)
		}
	}
	return vc, nil
}
