// Package cscclient is a key backend whose keys live in a remote Cloud
// Signature Consortium (CSC API v2) service: a signature goes through the
// remote credentials/authorize and signatures/signHash, with the
// activation data the signing request brought passed on to the remote
// authorisation. Keys resolves such credentials and hands the others to
// the local (PKCS#11) resolver, so the signer, batches and the API do
// not know the difference.
package cscclient

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"esign/activation"
	"esign/outbound"
	"esign/signer"
)

// RemoteError is an error answer of the remote service.
type RemoteError struct {
	Status      int
	Code        string
	Description string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("remote CSC service: %d %s: %s", e.Status, e.Code, e.Description)
}

// Client calls one remote CSC service as one of its clients.
type Client struct {
	// BaseURL is the service's address up to and without /csc/v2.
	BaseURL string
	// APIKey is the bearer token. It is never logged nor put in an
	// error.
	APIKey string
	HTTP   *outbound.Client
}

// call POSTs in to /csc/v2/method and decodes the answer into out.
func (c *Client) call(ctx context.Context, method string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := c.HTTP.Do(ctx, outbound.Request{
		Method: http.MethodPost, URL: strings.TrimRight(c.BaseURL, "/") + "/csc/v2/" + method,
		Body: body, ContentType: "application/json", Accept: "application/json", BearerToken: c.APIKey,
	})
	if err != nil {
		// Unreachable, refused, slow: the caller's retry may find it up.
		return fmt.Errorf("%w: remote CSC %s: %w", signer.ErrUnavailable, method, err)
	}
	if resp.StatusCode != http.StatusOK {
		re := &RemoteError{Status: resp.StatusCode}
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(resp.Body, &e) == nil {
			re.Code, re.Description = e.Error, e.Description
		}
		return classify(method, re)
	}
	if err := json.NewDecoder(bytes.NewReader(resp.Body)).Decode(out); err != nil {
		return fmt.Errorf("remote CSC %s: malformed answer: %w", method, err)
	}
	return nil
}

// classify maps the remote's refusals onto this service's errors, so
// that the API answers as it would for a local key: wrong activation
// data is 403, a remote that is down or overloaded 503 with
// Retry-After.
func classify(method string, e *RemoteError) error {
	switch {
	case e.Status >= 500 || e.Status == http.StatusTooManyRequests:
		return fmt.Errorf("%w: remote CSC %s: %w", signer.ErrUnavailable, method, e)
	case e.Code == "invalid_pin" || e.Code == "invalid_otp":
		return fmt.Errorf("%w: remote CSC %s: %w", activation.ErrActivationFailed, method, e)
	case e.Status == http.StatusForbidden && e.Code == "access_denied":
		return fmt.Errorf("%w: remote CSC %s: %w", activation.ErrActivationFailed, method, e)
	case e.Status == http.StatusBadRequest && strings.HasPrefix(e.Description, "Missing activation data"):
		return fmt.Errorf("%w: remote CSC %s: %w", activation.ErrActivationFailed, method, e)
	}
	return fmt.Errorf("remote CSC %s: %w", method, e)
}

// Info is what credentials/info tells of a remote credential.
type Info struct {
	Key struct {
		Status string   `json:"status"`
		Algo   []string `json:"algo"`
		Len    int      `json:"len"`
	} `json:"key"`
	Cert struct {
		Status       string   `json:"status"`
		Certificates []string `json:"certificates"`
	} `json:"cert"`
	SCAL      string `json:"scal"`
	MultiSign int    `json:"multisign"`
	Auth      struct {
		Mode    string `json:"mode"`
		Objects []struct {
			ID string `json:"id"`
		} `json:"objects"`
	} `json:"auth"`
}

// CredentialInfo asks for the credential's key, chain and
// authorisation.
func (c *Client) CredentialInfo(ctx context.Context, credential string) (*Info, error) {
	var info Info
	err := c.call(ctx, "credentials/info", map[string]any{
		"credentialID": credential, "certificates": "chain", "certInfo": true, "authInfo": true,
	}, &info)
	if err != nil {
		return nil, err
	}
	return &info, nil
}

// Authorize asks for a SAD for n signatures, pinned to hashes when
// given, with the signer's activation data under id (PIN or OTP; none
// when data is empty). It returns the SAD and how long it lasts (0 when
// the remote does not say).
func (c *Client) Authorize(ctx context.Context, credential string, n int, hashes [][]byte, hashOID, id, data string) (string, time.Duration, error) {
	in := map[string]any{"credentialID": credential, "numSignatures": n}
	if len(hashes) > 0 {
		in["hashes"], in["hashAlgorithmOID"] = b64s(hashes), hashOID
	}
	if data != "" {
		in["authData"] = []map[string]string{{"id": id, "value": data}}
	}
	var out struct {
		SAD       string `json:"SAD"`
		ExpiresIn int64  `json:"expiresIn"`
	}
	if err := c.call(ctx, "credentials/authorize", in, &out); err != nil {
		return "", 0, err
	}
	if out.SAD == "" {
		return "", 0, errors.New("remote CSC credentials/authorize: no SAD in the answer")
	}
	return out.SAD, time.Duration(max(out.ExpiresIn, 0)) * time.Second, nil
}

// SignHash signs hashes with a SAD.
func (c *Client) SignHash(ctx context.Context, credential, sad string, hashes [][]byte, hashOID, signAlgo string, params []byte) ([][]byte, error) {
	in := map[string]any{"credentialID": credential, "SAD": sad, "hashes": b64s(hashes),
		"hashAlgorithmOID": hashOID, "signAlgo": signAlgo}
	if params != nil {
		in["signAlgoParams"] = base64.StdEncoding.EncodeToString(params)
	}
	var out struct {
		Signatures []string `json:"signatures"`
	}
	if err := c.call(ctx, "signatures/signHash", in, &out); err != nil {
		return nil, err
	}
	if len(out.Signatures) != len(hashes) {
		return nil, fmt.Errorf("remote CSC signatures/signHash: %d signatures for %d hashes", len(out.Signatures), len(hashes))
	}
	sigs := make([][]byte, len(hashes))
	for i, s := range out.Signatures {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("remote CSC signatures/signHash: signature %d is not base64", i+1)
		}
		sigs[i] = b
	}
	return sigs, nil
}

func b64s(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = base64.StdEncoding.EncodeToString(b)
	}
	return out
}
