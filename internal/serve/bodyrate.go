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

// minBodyRate wraps every request body in a paceReader.
func minBodyRate(h http.Handler, opts Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
// deadline long past after a slow handler, nor none at all.
func (p *paceReader) finish() {
	if !p.failed && !p.start.IsZero() {
		p.setDeadline(time.Now().Add(p.window))
	}
}

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
