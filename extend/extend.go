// Package extend brings signed PDFs to PAdES B-LT or B-LTA and renews
// archives (EN 319 142-1 §6.3, §6.4): it validates the file with our
// verifier first, refuses what is broken, then has the signer add the
// validation data and a document timestamp.
//
// Extension is for files signed anywhere (Acrobat, pyHanko, another
// agency's system), so the revocation URLs it follows come from an
// uploaded file: the fetching client must be built with FetchOptions,
// which keeps the service's own network out of reach.
package extend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"esign/config"
	"esign/outbound"
	"esign/revocation"
	"esign/signer"
	"esign/verify"
)

// ErrNotExtendable is wrapped by *NotExtendableError.
var ErrNotExtendable = errors.New("extend: the document cannot be extended")

// NotExtendableError reports a file that must not be extended: one whose
// signature or document timestamp failed validation (extending it would
// lend it false credibility), or one without any signature. The API
// answers 422 not_extendable with the reasons.
type NotExtendableError struct {
	Reasons []string
}

func (e *NotExtendableError) Error() string {
	return "extend: the document cannot be extended: " + strings.Join(e.Reasons, "; ")
}

func (e *NotExtendableError) Unwrap() error { return ErrNotExtendable }

// Config configures an Extender.
type Config struct {
	// Signer adds the data and the document timestamp. Its Revocation
	// must fetch through a client made with FetchOptions: the URLs come
	// from uploaded files. Its TSA is needed for B-LTA.
	Signer *signer.Signer
	// Verify validates the file first. Its Roots decide trust; a chain
	// that reaches none is INDETERMINATE, which does not stop extension.
	// Fetch may stay nil: missing revocation data is what extension adds.
	Verify verify.Config
}

// Extender validates and extends files. It is safe for concurrent use.
type Extender struct{ cfg Config }

// New makes an Extender.
func New(cfg Config) *Extender { return &Extender{cfg: cfg} }

// Extend validates the PDF in in (size bytes) and, unless a signature or
// document timestamp is TOTAL-FAILED, extends it to level (B-LT or B-LTA;
// "" for B-LTA). It returns what to append to the input.
//
// Errors: *NotExtendableError (broken, no signature, a certificate
// revoked, or validation data only on destinations the fetch policy
// refuses); the signer's
// ErrInvalidPDF, ErrEncrypted, ErrDocMDPForbids (P=1), ErrBadOptions and
// ErrUnavailable (a TSA or revocation service did not answer).
func (x *Extender) Extend(ctx context.Context, in io.ReaderAt, size int64, level signer.Level) (*signer.Result, error) {
	return x.ExtendWith(ctx, in, size, Options{Level: level})
}

// Options are what one extension may ask for beyond the file.
type Options struct {
	// Level is B-LT or B-LTA (default).
	Level signer.Level
	// Password opens an encrypted file (its user or owner password); the
	// empty user password is tried without it. The extended file keeps
	// the encryption.
	Password signer.Secret
}

// ExtendWith is Extend with options: the level, and the password of an
// encrypted file.
func (x *Extender) ExtendWith(ctx context.Context, in io.ReaderAt, size int64, opts Options) (*signer.Result, error) {
	level := opts.Level
	if level == "" {
		level = signer.LevelLTA
	}
	if level != signer.LevelLT && level != signer.LevelLTA {
		return nil, fmt.Errorf("%w: level %q (want B-LT or B-LTA)", signer.ErrBadOptions, level)
	}
	if err := x.check(ctx, in, size, opts.Password); err != nil {
		return nil, err
	}
	res, err := x.cfg.Signer.Extend(ctx, in, size, signer.ExtendOptions{Level: level, Password: opts.Password})
	switch {
	case errors.Is(err, signer.ErrNotSigned):
		return nil, &NotExtendableError{Reasons: []string{err.Error()}}
	case errors.Is(err, revocation.ErrRevoked):
		// A certificate revoked now cannot be given fresh proof of
		// validity; renewing before that is the point of an archive.
		return nil, &NotExtendableError{Reasons: []string{err.Error()}}
	case errors.Is(err, signer.ErrNoValidationData), errors.Is(err, outbound.ErrNotAllowed):
		// The file's certificates lead where we may not go, or nowhere:
		// a retry would fare no better.
		return nil, &NotExtendableError{Reasons: []string{err.Error()}}
	}
	return res, err
}

// Check validates the file and says why it must not be extended, if so.
func (x *Extender) Check(ctx context.Context, in io.ReaderAt, size int64) error {
	return x.check(ctx, in, size, nil)
}

func (x *Extender) check(ctx context.Context, in io.ReaderAt, size int64, password signer.Secret) error {
	cfg := x.cfg.Verify
	if password != nil {
		cfg.Password = []byte(password)
	}
	rep, err := verify.Verify(ctx, in, size, cfg)
	switch {
	case err == nil:
	case errors.Is(err, verify.ErrNotPDF):
		return fmt.Errorf("%w: %w", signer.ErrInvalidPDF, err)
	case errors.Is(err, verify.ErrPasswordRequired), errors.Is(err, verify.ErrWrongPassword):
		return fmt.Errorf("signer: %w", err)
	case errors.Is(err, verify.ErrUnsupportedEncryption):
		return fmt.Errorf("%w: %w", signer.ErrEncrypted, err)
	default:
		return fmt.Errorf("validate: %w", err)
	}
	if rep.Document.SignatureCount == 0 {
		return &NotExtendableError{Reasons: []string{"the document has no signature or document timestamp"}}
	}
	if reasons := Reasons(rep); len(reasons) > 0 {
		return &NotExtendableError{Reasons: reasons}
	}
	return nil
}

// Reasons lists why the signatures and document timestamps of rep that
// are TOTAL-FAILED failed, one line each, in the verifier's words.
// INDETERMINATE is no reason: missing revocation data is what extension
// fixes, and a chain to an anchor we do not hold may be trusted by the
// recipient.
func Reasons(rep *verify.Report) []string {
	var out []string
	for _, s := range rep.Signatures {
		if s.Indication != verify.TotalFailed {
			continue
		}
		why := append([]string{}, s.Errors...)
		for _, m := range s.Modifications {
			why = append(why, m.Description)
		}
		if len(why) == 0 {
			why = append(why, string(s.SubIndication))
		}
		out = append(out, fmt.Sprintf("%s %q: %s/%s: %s", s.Kind, s.Field, s.Indication, s.SubIndication, strings.Join(why, "; ")))
	}
	return out
}

// FetchOptions is the outbound policy for fetches that follow URLs of an
// uploaded file's certificates (OCSP, CRL, CA issuers) on the signing
// server:
//
//   - any public address, on any port;
//   - loopback, private and link-local addresses only as
//     ESIGN_FETCH_ALLOW (cfg.FetchAllow) or ESIGN_SIGNER_FETCH_TRUSTED
//     (cfg.SignerFetchTrusted, the operator's own CAs, whose documents
//     are extended too) name them, scheme://host[:port][/prefix];
//   - in development mode, the development services at devURL.
func FetchOptions(cfg config.Config, devURL string) outbound.Options {
	o := outbound.Options{
		AnyPublicHost:    true,
		Timeout:          cfg.OutboundTimeout,
		MaxResponseBytes: cfg.OutboundMaxBytes,
	}
	// Entries the operator wrote: names on them may resolve to the local
	// network, which is why they are trusted rather than merely allowed.
	o.Trusted = append(o.Trusted, cfg.FetchAllow...)
	o.Trusted = append(o.Trusted, cfg.SignerFetchTrusted...)
	if cfg.Dev && devURL != "" {
		o.Trusted = append(o.Trusted, devURL)
	}
	return o
}

// Due says whether a file needs renewing before now+within: when the
// certificate its proof rests on expires by then. That is the newest
// document timestamp's TSA certificate or, in a file without one, the
// signer certificate that expires first. It returns that expiry and a
// sentence saying why.
func Due(sigs []signer.SignatureInfo, now time.Time, within time.Duration) (bool, time.Time, string) {
	var cert *signerCert
	for i := len(sigs) - 1; i >= 0; i-- {
		if sigs[i].DocTimestamp && sigs[i].Signer != nil {
			cert = &signerCert{what: "the newest document timestamp's TSA certificate", c: sigs[i]}
			break
		}
	}
	if cert == nil {
		for _, s := range sigs {
			if s.Signer != nil && (cert == nil || s.Signer.NotAfter.Before(cert.c.Signer.NotAfter)) {
				cert = &signerCert{what: "the signer certificate", c: s}
			}
		}
	}
	if cert == nil {
		return false, time.Time{}, "no signature"
	}
	exp := cert.c.Signer.NotAfter
	name := cert.c.Signer.Subject.CommonName
	due := !exp.After(now.Add(within))
	verb := "expires"
	if !exp.After(now) {
		verb = "expired"
	}
	return due, exp, fmt.Sprintf("%s (%s, field %s) %s %s", cert.what, name, cert.c.Field, verb, exp.UTC().Format(time.RFC3339))
}

type signerCert struct {
	what string
	c    signer.SignatureInfo
}
