package batchcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Client speaks the batch endpoints of the signing API
// (/api/v1/batches…). Every request carries the API key as a Bearer
// token; answers of 503 and 507 and failed connections are retried with
// backoff, honouring Retry-After.
type Client struct {
	// BaseURL is the service, e.g. "http://127.0.0.1:8080".
	BaseURL string
	// Key is the API key.
	Key string
	// HTTP sends the requests; nil means http.DefaultClient.
	HTTP *http.Client
	// Retry is the retry policy; the zero value is the default one.
	Retry Retry
}

// Retry is how a request is tried again.
type Retry struct {
	// Attempts is the number of tries of one request; 0 means 8.
	Attempts int
	// MinBackoff is the first wait, doubled at each try up to
	// MaxBackoff; 0 means 250 ms and 15 s.
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter caps the wait a server's Retry-After asks for; 0
	// means one minute.
	MaxRetryAfter time.Duration
}

func (r Retry) attempts() int {
	if r.Attempts <= 0 {
		return 8
	}
	return r.Attempts
}

// backoff is the wait before try attempt+1, with jitter so that parallel
// uploads refused together do not come back together.
func (r Retry) backoff(attempt int) time.Duration {
	lo, hi := r.MinBackoff, r.MaxBackoff
	if lo <= 0 {
		lo = 250 * time.Millisecond
	}
	if hi <= 0 {
		hi = 15 * time.Second
	}
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}

func (r Retry) capRetryAfter(d time.Duration) time.Duration {
	limit := r.MaxRetryAfter
	if limit <= 0 {
		limit = time.Minute
	}
	return min(d, limit)
}

// Status is a batch's state as GET /api/v1/batches/{id} gives it.
type Status struct {
	ID         string   `json:"id"`
	State      string   `json:"state"` // open, running, done or cancelled
	Total      int      `json:"total"`
	Signed     int      `json:"signed"`
	Failed     int      `json:"failed"`
	Pending    int      `json:"pending"`
	Cancelled  int      `json:"cancelled"`
	CreatedAt  string   `json:"created_at"`
	FinishedAt string   `json:"finished_at"`
	Signer     string   `json:"signer"`
	Level      string   `json:"level"`
	RatePerS   *float64 `json:"rate_per_s"` // while running
	EtaS       *float64 `json:"eta_s"`      // while running
}

// Final reports whether the batch will change no more.
func (s Status) Final() bool { return s.State == "done" || s.State == "cancelled" }

// Document is one entry of a batch's document list.
type Document struct {
	Ref          string    `json:"ref"`
	State        string    `json:"state"` // pending, signed, failed (or cancelled)
	Error        *ErrorMsg `json:"error,omitempty"`
	InputSHA256  string    `json:"input_sha256"`
	OutputSHA256 string    `json:"output_sha256,omitempty"`
}

// ErrorMsg is the server's {"code","message"} of an error.
type ErrorMsg struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// APIError is an error answer of the server.
type APIError struct {
	// Status is the HTTP status.
	Status int
	// Code and Message are the server's; Code is stable, Message is for
	// people.
	Code, Message string
	// State is the document's state of a not_signed answer.
	State string
	// RetryAfter is the wait the server asked for, if it did.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, msg, e.Status)
}

// Limits on what is read from the server: answers are trusted no more
// than a file an operator names.
const (
	maxErrorBody  = 64 << 10
	maxStatusBody = 1 << 20
	maxListBody   = 64 << 20
)

// Create makes a batch, or finds the one made earlier with the same
// idempotency_key in fields. fields are the JSON members of the request,
// all strings.
func (c *Client) Create(ctx context.Context, fields map[string]string) (Status, error) {
	body, err := json.Marshal(fields)
	if err != nil {
		return Status{}, err
	}
	var st Status
	err = c.do(ctx, http.MethodPost, "/api/v1/batches", bytesBody(body, "application/json"), decodeInto(&st, maxStatusBody))
	if err != nil {
		return Status{}, fmt.Errorf("create batch: %w", err)
	}
	if st.ID == "" {
		return Status{}, errors.New("create batch: the server's answer has no id")
	}
	return st, nil
}

// Status returns the batch's status.
func (c *Client) Status(ctx context.Context, id string) (Status, error) {
	var st Status
	if err := c.do(ctx, http.MethodGet, batchPath(id), nil, decodeInto(&st, maxStatusBody)); err != nil {
		return Status{}, fmt.Errorf("status of batch %s: %w", id, err)
	}
	return st, nil
}

// StatusJSON returns the batch's status as the server wrote it.
func (c *Client) StatusJSON(ctx context.Context, id string) ([]byte, error) {
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, batchPath(id), nil, decodeInto(&raw, maxStatusBody)); err != nil {
		return nil, fmt.Errorf("status of batch %s: %w", id, err)
	}
	return raw, nil
}

// Close tells the server that every document is in: signing may finish.
func (c *Client) Close(ctx context.Context, id string) (Status, error) {
	var st Status
	if err := c.do(ctx, http.MethodPost, batchPath(id)+"/close", nil, decodeInto(&st, maxStatusBody)); err != nil {
		return Status{}, fmt.Errorf("close batch %s: %w", id, err)
	}
	return st, nil
}

// Cancel cancels the batch: documents not yet signed never will be.
func (c *Client) Cancel(ctx context.Context, id string) (Status, error) {
	var st Status
	if err := c.do(ctx, http.MethodDelete, batchPath(id), nil, decodeInto(&st, maxStatusBody)); err != nil {
		return Status{}, fmt.Errorf("cancel batch %s: %w", id, err)
	}
	return st, nil
}

// Documents lists one page of the batch's documents in ref order, those
// in state (all when empty) after the ref after. next is the after of the
// following page, empty on the last.
func (c *Client) Documents(ctx context.Context, id, state, after string, limit int) (docs []Document, next string, err error) {
	q := url.Values{}
	if state != "" {
		q.Set("state", state)
	}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := batchPath(id) + "/documents"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var page struct {
		Documents []Document `json:"documents"`
		Next      string     `json:"next"`
	}
	if err := c.do(ctx, http.MethodGet, path, nil, decodeInto(&page, maxListBody)); err != nil {
		return nil, "", fmt.Errorf("list documents of batch %s: %w", id, err)
	}
	if page.Next != "" && page.Next <= after {
		// A cursor that does not move on would page forever.
		return nil, "", fmt.Errorf("list documents of batch %s: the server's next page %q is not after %q", id, page.Next, after)
	}
	return page.Documents, page.Next, nil
}

// Upload puts the PDF at path into the batch under ref. created is false
// when the server already held the same bytes under that ref. The file is
// opened afresh for every try.
func (c *Client) Upload(ctx context.Context, id, ref, path string) (created bool, err error) {
	body := func() (io.ReadCloser, int64, string, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, 0, "", err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, "", err
		}
		return f, fi.Size(), "application/pdf", nil
	}
	err = c.do(ctx, http.MethodPut, docPath(id, ref), body, func(resp *http.Response) error {
		created = resp.StatusCode == http.StatusCreated
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("upload %s as %s: %w", path, ref, err)
	}
	return created, nil
}

// Download writes the signed PDF of ref to w. A failure while reading the
// body is a *ReadError: the caller may start the file over.
func (c *Client) Download(ctx context.Context, id, ref string, w io.Writer) error {
	err := c.do(ctx, http.MethodGet, docPath(id, ref), nil, func(resp *http.Response) error {
		if _, err := io.Copy(w, readErrors{resp.Body}); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("download %s: %w", ref, err)
	}
	return nil
}

// ReadError is a failure to read an answer's body, as opposed to a
// failure to write it where it goes.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "read answer: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

type readErrors struct{ r io.Reader }

func (r readErrors) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = &ReadError{err}
	}
	return n, err
}

func batchPath(id string) string { return "/api/v1/batches/" + url.PathEscape(id) }

func docPath(id, ref string) string { return batchPath(id) + "/documents/" + url.PathEscape(ref) }

// bodyFunc opens a request body for one try.
type bodyFunc func() (r io.ReadCloser, size int64, contentType string, err error)

func bytesBody(b []byte, contentType string) bodyFunc {
	return func() (io.ReadCloser, int64, string, error) {
		return io.NopCloser(bytes.NewReader(b)), int64(len(b)), contentType, nil
	}
}

func decodeInto(v any, limit int64) func(*http.Response) error {
	return func(resp *http.Response) error {
		b, err := io.ReadAll(io.LimitReader(readErrors{resp.Body}, limit+1))
		if err != nil {
			return err
		}
		if int64(len(b)) > limit {
			return fmt.Errorf("the server's answer is over %d bytes", limit)
		}
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("the server's answer is not the expected JSON: %w", err)
		}
		return nil
	}
}

// do sends one request, trying again on 503, 507 (and 429) and on
// connection errors, and hands a 2xx answer to accept. A 3xx is an error:
// the client follows no redirects, so the key goes nowhere else.
func (c *Client) do(ctx context.Context, method, path string, body bodyFunc, accept func(*http.Response) error) error {
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	attempts := c.Retry.attempts()
	for attempt := 1; ; attempt++ {
		resp, err := c.send(ctx, hc, method, path, body)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var opErr *requestError
			if errors.As(err, &opErr) || attempt >= attempts {
				return err
			}
			if err := sleep(ctx, c.Retry.backoff(attempt)); err != nil {
				return err
			}
			continue
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			apiErr := readAPIError(resp)
			resp.Body.Close()
			if retryable(resp.StatusCode) && attempt < attempts {
				wait := c.Retry.backoff(attempt)
				if apiErr.RetryAfter > 0 {
					wait = c.Retry.capRetryAfter(apiErr.RetryAfter)
				}
				if err := sleep(ctx, wait); err != nil {
					return err
				}
				continue
			}
			return apiErr
		}
		err = accept(resp)
		resp.Body.Close()
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
}

// requestError is a request that could not be built: no use trying again.
type requestError struct{ err error }

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

func (c *Client) send(ctx context.Context, hc *http.Client, method, path string, body bodyFunc) (*http.Response, error) {
	var (
		r    io.ReadCloser
		size int64
		ct   string
	)
	if body != nil {
		var err error
		if r, size, ct, err = body(); err != nil {
			return nil, &requestError{err}
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, r)
	if err != nil {
		if r != nil {
			r.Close()
		}
		return nil, &requestError{err}
	}
	if r != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", ct)
		if size == 0 {
			req.Body = http.NoBody
			r.Close()
		}
	}
	req.Header.Set("Authorization", "Bearer "+c.Key)
	req.Header.Set("Accept", "application/json, application/pdf")
	return hc.Do(req)
}

func retryable(status int) bool {
	return status == http.StatusServiceUnavailable || status == http.StatusInsufficientStorage || status == http.StatusTooManyRequests
}

// readAPIError reads {"error":{"code","message"}} from an error answer;
// anything else becomes a generic error with the HTTP status.
func readAPIError(resp *http.Response) *APIError {
	e := &APIError{Status: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			State   string `json:"state"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message, e.State = clean(body.Error.Code), clean(body.Error.Message), clean(body.Error.State)
		return e
	}
	e.Code = "http_" + strconv.Itoa(resp.StatusCode)
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		e.Message = "redirect to " + clean(resp.Header.Get("Location")) + " not followed: give -server the final address"
	}
	return e
}

// clean makes server text safe to print on a terminal: no control
// characters, at most 500 bytes.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) > 500 {
		s = strings.ToValidUTF8(s[:500], "") + "…"
	}
	return s
}

// parseRetryAfter reads delay-seconds or an HTTP date (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
