package appearance

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// chromium drives headless Chromium over the DevTools protocol on a pipe
// (--remote-debugging-pipe: fd 3 in, fd 4 out, NUL-separated JSON), so the
// test sees what Chromium's own PDF viewer (PDFium) draws. A screenshot of
// a PDF needs the viewer to have loaded, which the plain --screenshot
// flag does not wait for.
type chromium struct {
	cmd *exec.Cmd
	in  *os.File
	out *bufio.Reader
	mu  sync.Mutex
	id  int
}

// Chromium's PDF viewer at this zoom draws 2 device pixels per point
// (150% of 96 CSS pixels per inch), and an A4 page fits this window.
const (
	chromiumZoom    = 150
	chromiumPxPerPt = 2.0
	chromiumWindow  = "1300,1900"
)

func startChromium(t *testing.T) *chromium {
	t.Helper()
	cmdIn, toChrome, err := os.Pipe()
	must(t, err)
	fromChrome, cmdOut, err := os.Pipe()
	must(t, err)
	cmd := exec.Command("chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
		"--remote-debugging-pipe", "--user-data-dir="+t.TempDir(), "--window-size="+chromiumWindow,
		"--no-first-run", "--no-default-browser-check",
		// Grayscale anti-aliasing: sub-pixel text has coloured fringes
		// that would pass for the blue signature image.
		"--disable-lcd-text", "about:blank")
	cmd.ExtraFiles = []*os.File{cmdIn, cmdOut}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	cmdIn.Close()
	cmdOut.Close()
	c := &chromium{cmd: cmd, in: toChrome, out: bufio.NewReader(fromChrome)}
	t.Cleanup(func() {
		c.call("", "Browser.close", nil) // asks politely; Kill below if not
		toChrome.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		fromChrome.Close()
	})
	return c
}

// call sends one command and waits for its answer, skipping events.
func (c *chromium) call(session, method string, params any) (json.RawMessage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.id++
	msg := map[string]any{"id": c.id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	if _, err := c.in.Write(append(b, 0)); err != nil {
		return nil, fmt.Errorf("chromium %s: %w", method, err)
	}
	for {
		raw, err := c.out.ReadBytes(0)
		if err != nil {
			return nil, fmt.Errorf("chromium %s: %w", method, err)
		}
		var resp struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(raw[:len(raw)-1], &resp); err != nil {
			return nil, fmt.Errorf("chromium %s: %w", method, err)
		}
		if resp.ID != c.id {
			continue
		}
		if resp.Error != nil {
			return nil, fmt.Errorf("chromium %s: %s", method, resp.Error.Message)
		}
		return resp.Result, nil
	}
}

// render opens path in Chromium's PDF viewer at page (0-based) and returns
// that page as drawn, cut out of the screenshot, at chromiumPxPerPt.
func (c *chromium) render(t *testing.T, path string, page int, pageW, pageH float64) image.Image {
	t.Helper()
	u := url.URL{Scheme: "file", Path: path,
		Fragment: fmt.Sprintf("page=%d&zoom=%d&toolbar=0&navpanes=0", page+1, chromiumZoom)}
	res, err := c.call("", "Target.createTarget", map[string]any{"url": u.String()})
	must(t, err)
	var target struct{ TargetID string }
	must(t, json.Unmarshal(res, &target))
	defer c.call("", "Target.closeTarget", map[string]any{"targetId": target.TargetID})
	res, err = c.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true})
	must(t, err)
	var session struct{ SessionID string }
	must(t, json.Unmarshal(res, &session))

	// The viewer loads and draws asynchronously: take screenshots until
	// the page is there and two in a row agree.
	var prev []byte
	for attempt := 0; attempt < 120; attempt++ {
		time.Sleep(500 * time.Millisecond)
		res, err := c.call(session.SessionID, "Page.captureScreenshot", map[string]any{"format": "png"})
		must(t, err)
		var shot struct{ Data string }
		must(t, json.Unmarshal(res, &shot))
		b, err := base64.StdEncoding.DecodeString(shot.Data)
		must(t, err)
		img, err := png.Decode(bytes.NewReader(b))
		must(t, err)
		pg, ok := findPage(img, pageW, pageH)
		if ok && bytes.Equal(b, prev) {
			return pg
		}
		if !ok {
			b = nil
		}
		prev = b
	}
	t.Fatalf("chromium: the PDF viewer did not settle on page %d of %s", page+1, path)
	return nil
}

// findPage locates a page wholly on screen on the viewer's dark
// background: its top edge is the first row of a white run of the page's
// width below a row that is not white there.
func findPage(img image.Image, pageW, pageH float64) (image.Image, bool) {
	b := img.Bounds()
	wantW, h := int(pageW*chromiumPxPerPt), int(pageH*chromiumPxPerPt)
	white := func(x, y int) bool {
		r, g, bl, _ := img.At(x, y).RGBA()
		return r > 0xf000 && g > 0xf000 && bl > 0xf000
	}
	for y := b.Min.Y + 1; y+h <= b.Max.Y+2; y++ {
		run, start := 0, 0
		for x := b.Min.X; x < b.Max.X; x++ {
			if white(x, y) {
				if run == 0 {
					start = x
				}
				run++
				continue
			}
			if run > 0 {
				break
			}
		}
		if run < wantW-4 || run > wantW+4 || white(start+run/2, y-1) {
			continue
		}
		rect := image.Rect(start, y, start+run, min(y+h, b.Max.Y))
		out := image.NewNRGBA(image.Rect(0, 0, rect.Dx(), rect.Dy()))
		for yy := range rect.Dy() {
			for xx := range rect.Dx() {
				out.Set(xx, yy, img.At(rect.Min.X+xx, rect.Min.Y+yy))
			}
		}
		return out, true
	}
	return nil, false
}
