// Package config reads the service's configuration from the environment.
// Every setting has one variable; the README lists them all.
package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"esign/internal/clientip"
	"esign/outbound"
)

// Config is the whole configuration of esignd and the CLI.
type Config struct {
	// Dev runs the embedded development stack: SoftHSM2 token, PKI, TSA,
	// OCSP and CRL services, all under DataDir.
	Dev bool
	// Addr is the signing API's listen address. ESIGN_ADDR, default
	// 127.0.0.1:8080.
	Addr string
	// VerifyAddr is the public verifier's address. ESIGN_VERIFY_ADDR,
	// default 127.0.0.1:8081.
	VerifyAddr string
	// PublicVerifyURL is the public verifier's address as recipients
	// reach it, without a trailing slash: a registered document's QR code
	// leads to {PublicVerifyURL}/d/{id}. ESIGN_PUBLIC_VERIFY_URL; in
	// development mode it defaults to http://{VerifyAddr}, elsewhere the
	// signing service requires it (see SigningPublicVerifyURL).
	PublicVerifyURL string
	// VerifyMetricsAddr, when set, moves the public verifier's /metrics
	// off its public address onto this one, which need not face the
	// internet. ESIGN_VERIFY_METRICS_ADDR, default empty: /metrics is on
	// VerifyAddr.
	VerifyMetricsAddr string
	// DataDir holds all state. ESIGN_DATA_DIR, default .esign-dev.
	DataDir string

	// PKCS#11: ESIGN_PKCS11_MODULE (default Debian's SoftHSM2),
	// ESIGN_PKCS11_TOKEN (label), ESIGN_PKCS11_TOKEN_SERIAL, and the PIN's
	// source ESIGN_PKCS11_PIN_FILE (file:) or ESIGN_PKCS11_PIN (env:).
	PKCS11Module      string
	PKCS11Token       string
	PKCS11TokenSerial string
	PKCS11PINSource   string

	// TSA: ESIGN_TSA_URL replaces the built-in TSA; ESIGN_TSA_USER and
	// ESIGN_TSA_PASSWORD_FILE give basic auth; ESIGN_TSA_CLIENT_CERT and
	// ESIGN_TSA_CLIENT_KEY (PEM files) give TLS client authentication.
	TSAURL          string
	TSAUser         string
	TSAPasswordFile string
	TSAClientCert   string
	TSAClientKey    string

	// Trust lists PEM files of extra trust anchors (ESIGN_TRUST,
	// comma-separated); TrustDir is a directory of them (ESIGN_TRUST_DIR).
	Trust    []string
	TrustDir string

	// VerifyFetchAllow lists where the public verifier may ask for OCSP
	// responses, CRLs and certificates (ESIGN_VERIFY_FETCH_ALLOW,
	// comma-separated entries scheme://host[:port][/path-prefix], or a bare
	// host for its default ports; see outbound.ParseEntry). Empty: the
	// verifier works offline, from what the file carries.
	VerifyFetchAllow []string

	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// Forwarded headers the public verifier (for its rate limit and log)
	// and the signing API (for its log) believe when they find a client's
	// address (ESIGN_TRUSTED_PROXIES, comma-separated CIDRs or addresses).
	// Empty: the connection's address, whatever the headers.
	TrustedProxies []netip.Prefix
	// VerifyRatePerMinute and VerifyBurst limit anonymous verifications
	// per client address (ESIGN_VERIFY_RATE_PER_MINUTE, default 60;
	// ESIGN_VERIFY_BURST, default 10).
	VerifyRatePerMinute, VerifyBurst int
	// VerifyClientRatePerMinute, when set, lets API clients verify with
	// their key (Authorization: Bearer) at this rate per client instead
	// of the per-address one; the verifier then reads the clients from
	// the store (ESIGN_VERIFY_CLIENT_RATE_PER_MINUTE, default 0: keys are
	// not looked at).
	VerifyClientRatePerMinute int

	// HTTP limits of both daemons' listeners. MaxConns caps open
	// connections (ESIGN_HTTP_MAX_CONNS, default 1024, 0 for no cap);
	// MinUploadRate is the slowest a request body may arrive, in bytes
	// per second averaged over UploadRateWindow (ESIGN_HTTP_MIN_RATE_KB in
	// KiB/s, default 16, 0 for no check; ESIGN_HTTP_RATE_WINDOW, default
	// 20s); ReadTimeout bounds reading one request whatever its pace
	// (ESIGN_HTTP_READ_TIMEOUT, default: the largest upload at the
	// slowest rate); IdleTimeout closes idle keep-alive connections
	// (ESIGN_HTTP_IDLE_TIMEOUT, default 120s).
	// SignerFetchTrusted lists the operator's own OCSP responders and CRL
	// servers (scheme://host[:port]) the signing service may reach even
	// on internal addresses, for CAs inside the agency's network
	// (ESIGN_SIGNER_FETCH_TRUSTED). The public verifier never uses it.
	SignerFetchTrusted []string
	// FetchAllow lists the loopback, private or link-local destinations
	// (scheme://host[:port][/path-prefix]) that fetches driven by an
	// uploaded file's certificates may reach, as extension follows them
	// (ESIGN_FETCH_ALLOW). Public addresses need no entry.
	FetchAllow []string
	// MaxUploads bounds the uploads the signing API reads at once
	// (ESIGN_MAX_UPLOADS); more get 503 busy.
	MaxUploads int
	// VerifyConcurrency bounds the verifications the public verifier runs
	// at once (ESIGN_VERIFY_CONCURRENCY); 0: two per CPU.
	VerifyConcurrency int
	MaxConns          int
	MaxConnsPerPeer   int // ESIGN_HTTP_MAX_CONNS_PER_CLIENT, by address; trusted proxies exempt
	MinUploadRate     int64
	UploadRateWindow  time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration

	// DatabaseURL names a PostgreSQL database for clients, credentials and
	// the audit log (ESIGN_DATABASE_URL); empty means SQLite at
	// $ESIGN_DATA_DIR/esign.db.
	DatabaseURL string
	// LockoutThreshold is how many activation failures in a row lock a
	// credential (ESIGN_LOCKOUT_THRESHOLD, default 5); LockoutDuration how
	// long (ESIGN_LOCKOUT_DURATION, default 15m).
	LockoutThreshold int
	LockoutDuration  time.Duration

	// TLS for the signing API: ESIGN_TLS_CERT and ESIGN_TLS_KEY (PEM
	// files) turn it on; ESIGN_TLS_CLIENT_CA (PEM) also requires API
	// clients to present a certificate from that CA (mutual TLS), on top
	// of their API key.
	TLSCert, TLSKey, TLSClientCA string

	// MaxUpload caps uploads (ESIGN_MAX_UPLOAD_MB, default 50).
	MaxUpload int64
	// HSMConcurrency caps concurrent signatures (ESIGN_HSM_CONCURRENCY,
	// default 2×GOMAXPROCS+2, the HSM session pool's size).
	HSMConcurrency int
	// OutboundTimeout bounds every call to a TSA, OCSP responder or CRL
	// server (ESIGN_OUTBOUND_TIMEOUT, default 15s).
	OutboundTimeout time.Duration
	// OutboundMaxBytes bounds every response of a TSA, OCSP responder,
	// CRL server or CA issuers URL (ESIGN_OUTBOUND_MAX_MB, default 10).
	OutboundMaxBytes int64

	// BatchWorkers is how many batch documents this replica signs at once
	// (ESIGN_BATCH_WORKERS; default 2×CPUs, kept here as -1; 0 takes
	// documents in but signs none).
	BatchWorkers int
	// BatchActivationTTL is how long a batch's PIN or TOTP activation
	// lasts (ESIGN_BATCH_ACTIVATION_TTL, default 8h).
	BatchActivationTTL time.Duration
	// RenewInterval and RenewWithin turn on the renewal of the signed
	// documents the service keeps (package renewjob): every RenewInterval
	// (ESIGN_RENEW_INTERVAL), each one whose proof rests on a certificate
	// expiring within RenewWithin (ESIGN_RENEW_WITHIN) gets validation data
	// and a document timestamp. Off (both 0) unless one is set; then the
	// other defaults to 24h and 8760h.
	RenewInterval, RenewWithin time.Duration
	// BlobStore is where batch documents are kept (ESIGN_BLOB_STORE):
	// "dir" (default), a folder every replica can reach, BlobDir
	// (ESIGN_BLOB_DIR, default $ESIGN_DATA_DIR/blobs); or "database", the
	// service's database, for replicas on machines that share no folder.
	BlobStore, BlobDir string
}

// FromEnv reads the configuration through getenv (os.Getenv in main).
func FromEnv(getenv func(string) string) (Config, error) {
	str := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Dev:               str("ESIGN_MODE", "") == "dev",
		Addr:              str("ESIGN_ADDR", "127.0.0.1:8080"),
		VerifyAddr:        str("ESIGN_VERIFY_ADDR", "127.0.0.1:8081"),
		VerifyMetricsAddr: str("ESIGN_VERIFY_METRICS_ADDR", ""),
		DataDir:           str("ESIGN_DATA_DIR", ".esign-dev"),
		PKCS11Module:      str("ESIGN_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so"),
		PKCS11Token:       str("ESIGN_PKCS11_TOKEN", ""),
		PKCS11TokenSerial: str("ESIGN_PKCS11_TOKEN_SERIAL", ""),
		TSAURL:            str("ESIGN_TSA_URL", ""),
		TSAUser:           str("ESIGN_TSA_USER", ""),
		TSAPasswordFile:   str("ESIGN_TSA_PASSWORD_FILE", ""),
		TSAClientCert:     str("ESIGN_TSA_CLIENT_CERT", ""),
		TSAClientKey:      str("ESIGN_TSA_CLIENT_KEY", ""),
		TrustDir:          str("ESIGN_TRUST_DIR", ""),
		DatabaseURL:       str("ESIGN_DATABASE_URL", ""),
		TLSCert:           str("ESIGN_TLS_CERT", ""),
		TLSKey:            str("ESIGN_TLS_KEY", ""),
		TLSClientCA:       str("ESIGN_TLS_CLIENT_CA", ""),
		BlobStore:         str("ESIGN_BLOB_STORE", "dir"),
		BlobDir:           str("ESIGN_BLOB_DIR", ""),
	}
	switch {
	case getenv("ESIGN_PKCS11_PIN_FILE") != "":
		c.PKCS11PINSource = "file:" + getenv("ESIGN_PKCS11_PIN_FILE")
	case getenv("ESIGN_PKCS11_PIN") != "":
		c.PKCS11PINSource = "env:ESIGN_PKCS11_PIN"
	}
	for _, f := range strings.Split(getenv("ESIGN_TRUST"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			c.Trust = append(c.Trust, f)
		}
	}
	for _, h := range strings.Split(getenv("ESIGN_VERIFY_FETCH_ALLOW"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			if _, err := outbound.ParseEntry(h); err != nil {
				return c, fmt.Errorf("ESIGN_VERIFY_FETCH_ALLOW: %w", err)
			}
			c.VerifyFetchAllow = append(c.VerifyFetchAllow, h)
		}
	}
	var err error
	if c.TrustedProxies, err = clientip.ParsePrefixes(getenv("ESIGN_TRUSTED_PROXIES")); err != nil {
		return c, fmt.Errorf("ESIGN_TRUSTED_PROXIES: %w", err)
	}
	if c.VerifyRatePerMinute, err = positiveVar(getenv, "ESIGN_VERIFY_RATE_PER_MINUTE", 60); err != nil {
		return c, err
	}
	if c.VerifyBurst, err = positiveVar(getenv, "ESIGN_VERIFY_BURST", 10); err != nil {
		return c, err
	}
	if c.VerifyClientRatePerMinute, err = intVar(getenv, "ESIGN_VERIFY_CLIENT_RATE_PER_MINUTE", 0); err != nil {
		return c, err
	}
	if c.VerifyConcurrency, err = intVar(getenv, "ESIGN_VERIFY_CONCURRENCY", 0); err != nil {
		return c, err
	}
	for _, e := range strings.Split(getenv("ESIGN_SIGNER_FETCH_TRUSTED"), ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		if _, err := outbound.ParseEntry(e); err != nil {
			return c, fmt.Errorf("ESIGN_SIGNER_FETCH_TRUSTED: %w", err)
		}
		c.SignerFetchTrusted = append(c.SignerFetchTrusted, e)
	}
	for _, e := range strings.Split(getenv("ESIGN_FETCH_ALLOW"), ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		if _, err := outbound.ParseEntry(e); err != nil {
			return c, fmt.Errorf("ESIGN_FETCH_ALLOW: %w", err)
		}
		c.FetchAllow = append(c.FetchAllow, e)
	}
	if c.TSAURL != "" {
		u, err := url.Parse(c.TSAURL)
		switch {
		case err != nil:
			return c, fmt.Errorf("ESIGN_TSA_URL: %w", err)
		case u.User != nil:
			// A password in a URL ends up in logs and process listings.
			return c, fmt.Errorf("ESIGN_TSA_URL: credentials belong in ESIGN_TSA_USER and ESIGN_TSA_PASSWORD_FILE, not in the URL")
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			return c, fmt.Errorf("ESIGN_TSA_URL %q: want an http or https URL", u.Redacted())
		}
	}
	if c.MaxConns, err = intVar(getenv, "ESIGN_HTTP_MAX_CONNS", 1024); err != nil {
		return c, err
	}
	if c.MaxConnsPerPeer, err = intVar(getenv, "ESIGN_HTTP_MAX_CONNS_PER_CLIENT", 128); err != nil {
		return c, err
	}
	kb, err := intVar(getenv, "ESIGN_HTTP_MIN_RATE_KB", 16)
	if err != nil {
		return c, err
	}
	c.MinUploadRate = int64(kb) << 10
	if c.UploadRateWindow, err = durationVar(getenv, "ESIGN_HTTP_RATE_WINDOW", 20*time.Second); err != nil {
		return c, err
	}
	if c.IdleTimeout, err = durationVar(getenv, "ESIGN_HTTP_IDLE_TIMEOUT", 30*time.Second); err != nil {
		return c, err
	}
	if c.ReadTimeout, err = durationVar(getenv, "ESIGN_HTTP_READ_TIMEOUT", 0); err != nil {
		return c, err
	}
	mb, err := intVar(getenv, "ESIGN_MAX_UPLOAD_MB", 50)
	if err != nil {
		return c, err
	}
	c.MaxUpload = int64(mb) << 20
	if c.MaxUploads, err = intVar(getenv, "ESIGN_MAX_UPLOADS", 64); err != nil {
		return c, err
	}
	if c.HSMConcurrency, err = intVar(getenv, "ESIGN_HSM_CONCURRENCY", 0); err != nil {
		return c, err
	}
	if c.LockoutThreshold, err = intVar(getenv, "ESIGN_LOCKOUT_THRESHOLD", 5); err != nil {
		return c, err
	}
	if c.OutboundTimeout, err = durationVar(getenv, "ESIGN_OUTBOUND_TIMEOUT", 15*time.Second); err != nil {
		return c, err
	}
	outMB, err := intVar(getenv, "ESIGN_OUTBOUND_MAX_MB", 10)
	if err != nil {
		return c, err
	}
	if outMB < 1 || outMB > 4096 {
		return c, fmt.Errorf("ESIGN_OUTBOUND_MAX_MB %d: want 1 to 4096", outMB)
	}
	c.OutboundMaxBytes = int64(outMB) << 20
	if c.LockoutDuration, err = durationVar(getenv, "ESIGN_LOCKOUT_DURATION", 15*time.Minute); err != nil {
		return c, err
	}
	if c.BatchWorkers, err = intVar(getenv, "ESIGN_BATCH_WORKERS", -1); err != nil {
		return c, err
	}
	if c.BatchWorkers > 1024 {
		return c, fmt.Errorf("ESIGN_BATCH_WORKERS %d: want 0 to 1024", c.BatchWorkers)
	}
	if c.BatchActivationTTL, err = durationVar(getenv, "ESIGN_BATCH_ACTIVATION_TTL", 8*time.Hour); err != nil {
		return c, err
	}
	if getenv("ESIGN_RENEW_INTERVAL") != "" || getenv("ESIGN_RENEW_WITHIN") != "" {
		if c.RenewInterval, err = durationVar(getenv, "ESIGN_RENEW_INTERVAL", 24*time.Hour); err != nil {
			return c, err
		}
		if c.RenewWithin, err = durationVar(getenv, "ESIGN_RENEW_WITHIN", 365*24*time.Hour); err != nil {
			return c, err
		}
	}
	if c.BlobStore != "dir" && c.BlobStore != "database" {
		return c, fmt.Errorf("ESIGN_BLOB_STORE %q: want dir or database", c.BlobStore)
	}
	if c.BlobDir == "" {
		c.BlobDir = filepath.Join(c.DataDir, "blobs")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") || c.TLSClientCA != "" && c.TLSCert == "" {
		return c, fmt.Errorf("TLS: set ESIGN_TLS_CERT and ESIGN_TLS_KEY together (ESIGN_TLS_CLIENT_CA needs both)")
	}
	if v := str("ESIGN_PUBLIC_VERIFY_URL", ""); v != "" {
		if c.PublicVerifyURL, err = parsePublicURL(v); err != nil {
			return c, err
		}
	}
	return c, nil
}

// SigningPublicVerifyURL is the public verifier's address for the
// signing service, which prints it in QR codes: PublicVerifyURL, or in
// development mode (which a flag may switch on after FromEnv)
// http://{VerifyAddr}. Outside development mode it must be set: a QR code
// leading to a guessed address would be printed on every transcript.
func (c Config) SigningPublicVerifyURL() (string, error) {
	if c.PublicVerifyURL != "" {
		return c.PublicVerifyURL, nil
	}
	if c.Dev {
		return parsePublicURL("http://" + Dialable(c.VerifyAddr))
	}
	return "", fmt.Errorf("ESIGN_PUBLIC_VERIFY_URL is required outside development mode: the public verifier's address as recipients reach it, such as https://verify.example.ac.th")
}

// parsePublicURL checks an absolute http(s) URL without query, fragment
// or credentials, and drops its trailing slash.
func parsePublicURL(v string) (string, error) {
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return "", fmt.Errorf("ESIGN_PUBLIC_VERIFY_URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return "", fmt.Errorf("ESIGN_PUBLIC_VERIFY_URL %q: want an absolute http or https URL", v)
	case u.User != nil:
		return "", fmt.Errorf("ESIGN_PUBLIC_VERIFY_URL %q: want no credentials: it is printed on documents", u.Redacted())
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(v, "#"):
		return "", fmt.Errorf("ESIGN_PUBLIC_VERIFY_URL %q: want no query or fragment: /d/{id} is added to it", v)
	}
	return strings.TrimRight(v, "/"), nil
}

func durationVar(getenv func(string) string, key string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(getenv(key))
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s %q: want a duration such as 10s", key, v)
	}
	return d, nil
}

// positiveVar is intVar for settings where zero means nothing sensible.
func positiveVar(getenv func(string) string, key string, def int) (int, error) {
	n, err := intVar(getenv, key, def)
	if err == nil && n == 0 {
		return 0, fmt.Errorf("%s 0: want a positive whole number", key)
	}
	return n, err
}

func intVar(getenv func(string) string, key string, def int) (int, error) {
	v := strings.TrimSpace(getenv(key))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s %q: want a non-negative whole number", key, v)
	}
	return n, nil
}

// Dialable turns a listening address into one a client can reach on this
// machine: an empty or unspecified host (":8081", "0.0.0.0:8081",
// "[::]:8081") becomes 127.0.0.1.
func Dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
