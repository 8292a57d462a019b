package batchcli

import (
	"fmt"
	"io"
	"os"
	"time"

	// progressbar draws the terminal bar: it redraws one line in place,
	// sizes itself to the terminal and shows count, rate and ETA, with no
	// cgo and no dependencies beyond x/term. The plain-line mode for logs
	// and pipes is ours, so its format stays stable.
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows how a batch goes. Calls come from one goroutine, except
// uploaded, which the upload workers call under the run's lock.
type progress interface {
	// uploaded reports done of total uploads.
	uploaded(done, total int)
	// signing reports a poll of the status and the downloads so far.
	signing(st Status, downloaded int)
	// finish reports the last status, always shown.
	finish(st Status, downloaded int)
}

// isTerminal reports whether w is a terminal, where a bar can redraw.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// plainProgress writes lines for logs and pipes, at most one per
// interval (and one more at the end of each phase), in this format:
//
//	batch ID: uploaded U/N
//	batch ID: signed S/T, failed F, pending P, downloaded D, R docs/s, eta E
//
// R has one decimal; E is a duration rounded to the second ("11s",
// "2m5s"), or "-" while unknown. Rate and ETA are the server's while it
// gives them, else measured here.
type plainProgress struct {
	w        io.Writer
	id       string
	interval time.Duration
	now      func() time.Time

	last     time.Time
	lastLine string
	// first is when the first signing poll came, with the documents
	// then finished, for a rate of our own.
	first     time.Time
	firstDone int
	upDone    bool
}

func newPlainProgress(w io.Writer, id string, interval time.Duration, now func() time.Time) *plainProgress {
	if interval <= 0 {
		interval = time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &plainProgress{w: w, id: id, interval: interval, now: now}
}

func (p *plainProgress) emit(line string, force bool) {
	t := p.now()
	if !force && (line == p.lastLine || t.Sub(p.last) < p.interval) {
		return
	}
	p.last, p.lastLine = t, line
	fmt.Fprintln(p.w, line)
}

func (p *plainProgress) uploaded(done, total int) {
	p.emit(fmt.Sprintf("batch %s: uploaded %d/%d", p.id, done, total), done == total && !p.upDone)
	if done == total {
		p.upDone = true
	}
}

func (p *plainProgress) line(st Status, downloaded int) string {
	finished := st.Signed + st.Failed
	t := p.now()
	if p.first.IsZero() {
		p.first, p.firstDone = t, finished
	}
	rate, eta := 0.0, "-"
	if st.RatePerS != nil {
		rate = *st.RatePerS
	} else if el := t.Sub(p.first).Seconds(); el > 0 {
		rate = float64(finished-p.firstDone) / el
	}
	switch {
	case st.Final():
		eta = "0s"
	case st.EtaS != nil:
		eta = fmtETA(*st.EtaS)
	case rate > 0:
		eta = fmtETA(float64(st.Pending) / rate)
	}
	return fmt.Sprintf("batch %s: signed %d/%d, failed %d, pending %d, downloaded %d, %.1f docs/s, eta %s",
		p.id, st.Signed, st.Total, st.Failed, st.Pending, downloaded, rate, eta)
}

func fmtETA(s float64) string {
	if s < 0 || s > 1e7 {
		return "-"
	}
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

func (p *plainProgress) signing(st Status, downloaded int) { p.emit(p.line(st, downloaded), false) }

func (p *plainProgress) finish(st Status, downloaded int) { p.emit(p.line(st, downloaded), true) }

// barProgress draws a bar on a terminal: uploads first, then signing,
// each with count, rate and ETA.
type barProgress struct {
	w     io.Writer
	id    string
	bar   *progressbar.ProgressBar
	phase string
}

func (b *barProgress) start(phase string, max int) {
	if b.bar != nil && b.phase == phase {
		if int64(max) != b.bar.GetMax64() {
			b.bar.ChangeMax(max)
		}
		return
	}
	b.end()
	b.phase = phase
	b.bar = progressbar.NewOptions(max,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(fmt.Sprintf("batch %s %s", b.id, phase)),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("docs"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionFullWidth(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
	)
}

func (b *barProgress) end() {
	if b.bar != nil {
		b.bar.Finish()
		fmt.Fprintln(b.w)
		b.bar = nil
	}
}

func (b *barProgress) uploaded(done, total int) {
	b.start("uploading", total)
	b.bar.Set(done)
}

func (b *barProgress) signing(st Status, downloaded int) {
	b.start("signing", max(st.Total, 1))
	desc := fmt.Sprintf("batch %s signing (%d saved)", b.id, downloaded)
	if st.Failed > 0 {
		desc = fmt.Sprintf("batch %s signing (%d saved, %d failed)", b.id, downloaded, st.Failed)
	}
	b.bar.Set(st.Signed + st.Failed)
	b.bar.Describe(desc)
}

func (b *barProgress) finish(st Status, downloaded int) {
	b.signing(st, downloaded)
	b.end()
}
