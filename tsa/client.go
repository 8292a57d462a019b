package tsa

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/digitorus/timestamp"

	"esign/outbound"
)

// MaxResponseSize bounds the HTTP body the client reads from a TSA.
const MaxResponseSize = 1 << 20

var (
	// ErrUnavailable means the TSA could not be reached or said it is
	// overloaded or failing (network error, timeout, HTTP 5xx or 429).
	// Retrying later may help; an API maps it to 503.
	ErrUnavailable = errors.New("tsa: time-stamp authority unavailable")
	// ErrBadResponse means the TSA answered but the answer is unusable: a
	// refusal (rejection, waiting, ...), a malformed reply, or a token that
	// fails a check.
	ErrBadResponse = errors.New("tsa: bad time-stamp response")
)

// Client obtains time-stamp tokens from an RFC 3161 TSA over HTTP.
type Client struct {
	// URL of the TSA, e.g. "https://tsa.example/tsr". Required.
	URL string
	// Outbound sends the requests, under its allow-list, timeout and TLS
	// configuration (client-certificate authentication goes there). The
	// URL was configured by the operator, so its list would usually trust
	// it (outbound.Options.Trusted). Default: a client that reaches URL's
	// scheme, host and port and nothing else, redirects included, with a
	// 15 second timeout.
	Outbound *outbound.Client
	// Username and Password, when either is set, are sent as HTTP basic
	// authentication.
	Username, Password string
	// Policy, when set, is requested and must be the policy of the token.
	// Default: leave the choice to the TSA.
	Policy asn1.ObjectIdentifier
	// Roots, when set, must anchor the TSA certificate chain, checked at the
	// token's genTime. Default: the chain is not checked.
	Roots *x509.CertPool

	chains chainMemo // chains found valid under Roots
}

// Timestamp asks the TSA to time-stamp digest, a hash made with hash, and
// returns the token after checking it: status granted, the nonce and the
// imprint it sent, a valid signature by a proper TSA certificate (see
// ParseToken), the requested policy and, when Roots is set, the chain.
// Errors wrap ErrUnavailable or ErrBadResponse.
func (c *Client) Timestamp(ctx context.Context, digest []byte, hash crypto.Hash) (*Token, error) {
	return c.TimestampWith(ctx, digest, hash, TimestampOptions{})
}

// TimestampOptions are the choices of one request that Timestamp makes
// for the caller.
type TimestampOptions struct {
	// Nonce, when set, is the request's nonce, which the token must
	// carry: a caller that relays another party's request (a CSC
	// signatures/timestamp call) gives that party's. It must be positive.
	// Default: 128 random bits.
	Nonce *big.Int
}

// MaxNonceBits bounds a caller's nonce (TimestampOptions.Nonce).
const MaxNonceBits = 512

// TimestampWith is Timestamp with the options of opts.
func (c *Client) TimestampWith(ctx context.Context, digest []byte, hash crypto.Hash, opts TimestampOptions) (*Token, error) {
	if c.URL == "" {
		return nil, errors.New("tsa: client has no URL")
	}
	if oidForHash(hash) == nil {
		return nil, fmt.Errorf("tsa: unsupported hash %v", hash)
	}
	if len(digest) != hash.Size() {
		return nil, fmt.Errorf("tsa: digest is %d bytes, %v needs %d", len(digest), hash, hash.Size())
	}
	nonce := opts.Nonce
	switch {
	case nonce == nil:
		// 128 random bits make a replayed or misrouted reply detectable.
		nb := make([]byte, 16)
		if _, err := rand.Read(nb); err != nil {
			return nil, fmt.Errorf("tsa: nonce: %w", err)
		}
		nonce = new(big.Int).SetBytes(nb)
	case nonce.Sign() <= 0 || nonce.BitLen() > MaxNonceBits:
		return nil, fmt.Errorf("tsa: the nonce must be positive and at most %d bits", MaxNonceBits)
	}

	reqDER, err := (&timestamp.Request{
		HashAlgorithm: hash,
		HashedMessage: digest,
		Certificates:  true,
		TSAPolicyOID:  c.Policy,
		Nonce:         nonce,
	}).Marshal()
	if err != nil {
		return nil, fmt.Errorf("tsa: encode request: %w", err)
	}

	body, err := c.post(ctx, reqDER)
	if err != nil {
		return nil, err
	}
	tok, err := c.checkResponse(body, digest, hash, nonce)
	if err != nil {
		return nil, fmt.Errorf("%w from %s: %w", ErrBadResponse, c.URL, err)
	}
	return tok, nil
}

func (c *Client) post(ctx context.Context, reqDER []byte) ([]byte, error) {
	oc := c.Outbound
	if oc == nil {
		var err error
		if oc, err = OutboundFor(c.URL, outbound.Options{}); err != nil {
			return nil, fmt.Errorf("tsa: %w", err)
		}
	}
	resp, err := oc.Do(ctx, outbound.Request{
		Method: http.MethodPost, URL: c.URL, Body: reqDER,
		ContentType: contentTypeQuery, Accept: contentTypeReply,
		Username: c.Username, Password: c.Password,
		MaxBytes: MaxResponseSize,
	})
	if errors.Is(err, outbound.ErrTooLarge) {
		return nil, fmt.Errorf("%w: reply from %s exceeds %d bytes: %w", ErrBadResponse, c.URL, MaxResponseSize, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, fmt.Errorf("%w: %s answered HTTP %d", ErrUnavailable, c.URL, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: %s answered HTTP %d", ErrBadResponse, c.URL, resp.StatusCode)
	}
	// Some TSAs still use the pre-RFC name application/timestamp-response.
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != contentTypeReply && mt != "application/timestamp-response" {
		return nil, fmt.Errorf("%w: %s answered with content type %q", ErrBadResponse, c.URL, resp.Header.Get("Content-Type"))
	}
	return resp.Body, nil
}

// OutboundFor returns an outbound client, with the settings of opts, that
// trusts the scheme, host and port of the TSA URL rawURL as the operator
// configured them (the name may resolve to an address on the local
// network) and reaches nothing else.
func OutboundFor(rawURL string, opts outbound.Options) (*outbound.Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("TSA URL: %w", err)
	}
	opts.Trusted = append(opts.Trusted, u.Scheme+"://"+u.Host)
	return outbound.New(opts)
}

func (c *Client) checkResponse(der, digest []byte, hash crypto.Hash, nonce *big.Int) (*Token, error) {
	var resp timeStampResp
	if err := unmarshalExact(der, &resp); err != nil {
		return nil, fmt.Errorf("decode TimeStampResp: %w", err)
	}
	if st := resp.Status.Status; st != statusGranted && st != statusGrantedWithMods {
		return nil, fmt.Errorf("TSA refused: %s", resp.Status)
	}
	if len(resp.TimeStampToken.FullBytes) == 0 {
		return nil, errors.New("status granted but no token")
	}
	tok, err := ParseToken(resp.TimeStampToken.FullBytes)
	if err != nil {
		return nil, err
	}
	if tok.Nonce == nil || tok.Nonce.Cmp(nonce) != 0 {
		return nil, errors.New("token nonce differs from the request nonce")
	}
	if err := tok.VerifyImprint(digest, hash); err != nil {
		return nil, err
	}
	if len(c.Policy) > 0 && !tok.Policy.Equal(c.Policy) {
		return nil, fmt.Errorf("token policy %v, requested %v", tok.Policy, c.Policy)
	}
	if c.Roots != nil {
		if err := c.chains.verify(tok, c.Roots); err != nil {
			return nil, err
		}
	}
	return tok, nil
}

// String describes a PKIStatusInfo for error messages.
func (s pkiStatusInfo) String() string {
	names := map[int]string{statusRejection: "rejection", statusWaiting: "waiting", 4: "revocationWarning", 5: "revocationNotification"}
	name, ok := names[s.Status]
	if !ok {
		name = fmt.Sprintf("status %d", s.Status)
	}
	var parts []string
	for _, v := range s.StatusString {
		text := v.Bytes
		if len(text) > 200 {
			text = text[:200]
		}
		if utf8.Valid(text) {
			parts = append(parts, fmt.Sprintf("%q", text))
		}
	}
	failNames := map[int]string{
		failBadAlg: "badAlg", failBadRequest: "badRequest", failBadDataFormat: "badDataFormat",
		14: "timeNotAvailable", failUnacceptedPolicy: "unacceptedPolicy", failUnacceptedExtension: "unacceptedExtension",
		17: "addInfoNotAvailable", failSystemFailure: "systemFailure",
	}
	for bit := 0; bit < s.FailInfo.BitLength && bit < 64; bit++ {
		if s.FailInfo.At(bit) == 1 {
			if n, ok := failNames[bit]; ok {
				parts = append(parts, n)
			} else {
				parts = append(parts, fmt.Sprintf("failInfo bit %d", bit))
			}
		}
	}
	if len(parts) == 0 {
		return name
	}
	return name + " (" + strings.Join(parts, ", ") + ")"
}
