package serve

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// ErrBodyTooSlow is the error a handler reads from a request body that
// arrives slower than Options.MinBodyRate.
var ErrBodyTooSlow = errors.New("request body arrives too slowly")

// minBodyRate wraps every request body in a paceReader, and every
// response in a paceWriter.
func minBodyRate(h http.Handler, opts Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &paceWriter{ResponseWriter: w, rc: http.NewResponseController(w), window: opts.BodyRateWindow, rate: opts.MinBodyRate}
		w = pw
		// Registered first, so it runs last: after the reader's finish.
		defer pw.finish()
		if r.Body != nil && r.Body != http.NoBody {
			p := &paceReader{
				body:   r.Body,
				rc:     http.NewResponseController(w),
				need:   max(1, int64(float64(opts.MinBodyRate)*opts.BodyRateWindow.Seconds())),
				window: opts.BodyRateWindow,
				log: func() {
					opts.Logger.Info("request body too slow: cut off", "remote", r.RemoteAddr,
						"method", r.Method, "path", r.URL.Path)
				},
			}
			if opts.ReadTimeout > 0 {
				p.limit = time.Now().Add(opts.ReadTimeout)
			}
			r.Body = p
			defer p.finish()
		}
		h.ServeHTTP(w, r)
	})
}

// finish runs when the handler returns. The server then reads what is
// left of the body to keep the connection: a window for that, not a
// deadline long past after a slow handler, nor none at all. Handlers that
// answer without reading (401, 404, 429) get the same window, or a client
// sending headers and then nothing would hold the connection until the
// whole ReadTimeout ran out.
func (p *paceReader) finish() {
	if !p.failed {
		p.setDeadline(time.Now().Add(p.window))
	}
}

// paceWriter gives every write to the client a deadline: a window, plus
// the time the bytes take at the minimum rate. A client that stops reading
// the answer would otherwise hold the handler, its upload and its
// connection for as long as it liked.
type paceWriter struct {
	http.ResponseWriter
	rc     *http.ResponseController
	window time.Duration
	rate   int64
}

func (w *paceWriter) Write(b []byte) (int, error) {
	d := w.window + time.Duration(float64(len(b))/float64(w.rate)*float64(time.Second))
	// A writer that cannot set deadlines (a test recorder) writes as is.
	_ = w.rc.SetWriteDeadline(time.Now().Add(d))
	return w.ResponseWriter.Write(b)
}

// finish runs when the handler returns. The server still has to drain
// an unread body (up to a window) and then send what the handler left in
// its buffer: the deadline of the handler's last write may pass meanwhile,
// so the answer gets two windows from here.
func (w *paceWriter) finish() {
	_ = w.rc.SetWriteDeadline(time.Now().Add(2 * w.window))
}

// Flush keeps the writer a Flusher, which gin's own writer assumes.
func (w *paceWriter) Flush() { _ = w.rc.Flush() }

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *paceWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// paceReader demands need bytes in every window from the first read on.
// It checks at each read, and sets the connection's read deadline to the
// end of the window that still lacks its bytes, so a client that stops
// sending altogether is cut off too. The check is per window rather than
// per read so that an honest link may pause or arrive in bursts.
type paceReader struct {
	body   io.ReadCloser
	rc     *http.ResponseController
	need   int64
	window time.Duration
	limit  time.Time // Options.ReadTimeout's deadline, or zero
	log    func()

	start    time.Time // of the current window; zero before the first read
	got      int64     // bytes in the current window
	deadline time.Time // last one set
	failed   bool
}

func (p *paceReader) Read(b []byte) (int, error) {
	if p.failed {
		return 0, ErrBodyTooSlow
	}
	now := time.Now()
	if p.start.IsZero() {
		p.start = now
	}
	for now.Sub(p.start) >= p.window {
		if p.got < p.need {
			return 0, p.fail()
		}
		p.start = p.start.Add(p.window)
		p.got = 0
	}
	// This window's end, or the next one's once this window has its
	// bytes: a pause across the boundary is allowed, a stall is not.
	d := p.start.Add(p.window)
	if p.got >= p.need {
		d = d.Add(p.window)
	}
	p.setDeadline(d)
	n, err := p.body.Read(b)
	p.got += int64(n)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && (p.limit.IsZero() || time.Now().Before(p.limit)) {
		return n, p.fail()
	}
	if err != nil {
		// Done with the body (EOF, or the client went): a deadline left
		// behind would fire during the handler's work and cancel its
		// request, so hand back the server's own.
		p.setDeadline(p.limit)
	}
	return n, err
}

func (p *paceReader) setDeadline(d time.Time) {
	if !p.limit.IsZero() && (d.IsZero() || d.After(p.limit)) {
		d = p.limit
	}
	if d.Equal(p.deadline) {
		return
	}
	// A writer that cannot set deadlines (a test recorder) still gets the
	// per-read check.
	_ = p.rc.SetReadDeadline(d)
	p.deadline = d
}

func (p *paceReader) fail() error {
	p.failed = true
	p.log()
	// Leave the deadline in the past: whatever the server still reads of
	// this connection fails at once, and it is closed after the response.
	_ = p.rc.SetReadDeadline(time.Now())
	return fmt.Errorf("%w: under %d bytes in %s", ErrBodyTooSlow, p.need, p.window)
}

func (p *paceReader) Close() error { return p.body.Close() }
