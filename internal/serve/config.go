package serve

import (
	"net/netip"

	"esign/config"
)

// Limits returns the HTTP limits of cfg as Options (ESIGN_HTTP_* and
// ESIGN_MAX_UPLOAD_MB), so both daemons apply the same ones; the caller
// adds its Logger, Drain and ShutdownTimeout.
func Limits(cfg config.Config) Options {
	proxies := cfg.TrustedProxies
	return Options{
		MaxConns:        cfg.MaxConns,
		MaxConnsPerPeer: cfg.MaxConnsPerPeer,
		ExemptPeer: func(ip netip.Addr) bool {
			for _, p := range proxies {
				if p.Contains(ip) {
					return true
				}
			}
			return false
		},
		MinBodyRate:    cfg.MinUploadRate,
		BodyRateWindow: cfg.UploadRateWindow,
		// The upload plus room for the form's other fields.
		MaxBody:     cfg.MaxUpload + 1<<20,
		ReadTimeout: cfg.ReadTimeout,
		IdleTimeout: cfg.IdleTimeout,
	}
}
