package verifypage_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"esign/verify"
	"esign/verifyapi"
	"esign/verifypage"
)

// chromiumPath is Debian's chromium; the tests need a real browser.
const chromiumPath = "/usr/bin/chromium"

// newBrowser starts headless chromium with a fresh profile; it stops when
// the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Debian's chromium at %s (apt-get install -y chromium): %v", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("lang", "th-TH"),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	// Start the browser with no deadline, so that the per-step timeouts
	// below only end steps, not the browser.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// Record every Content-Security-Policy violation of every page, from
	// its first byte on: the page must need nothing the policy forbids.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__csp = []; document.addEventListener('securitypolicyviolation', function (e) {
			window.__csp.push(e.violatedDirective + ' ' + e.blockedURI); });`,
	}); err != nil {
		t.Fatalf("install CSP watcher: %v", err)
	}
	return ctx
}

// checkCSP fails the test if the current page broke its policy.
func checkCSP(t *testing.T, ctx context.Context) {
	t.Helper()
	if v := eval[[]string](t, ctx, `window.__csp || ['watcher missing']`); len(v) > 0 {
		t.Errorf("Content-Security-Policy violations: %q", v)
	}
}

// step runs actions with a guard against hanging; no assertion depends on
// how long anything takes.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	js, _ := json.Marshal(css)
	// innerText, as a reader sees it: labels and values apart.
	s := eval[string](t, ctx, `(function(){ var e = document.querySelector(`+string(js)+`); return e ? e.innerText : "<missing>"; })()`)
	return strings.Join(strings.Fields(s), " ")
}

// upload opens the page, picks a file with the file chooser and waits for
// the verdict the script shows without reloading the page.
func (f *fixture) upload(t *testing.T, ctx context.Context, lang, file, tone string) {
	t.Helper()
	step(t, ctx, "upload "+file,
		chromedp.Navigate(f.srv.URL+"/?lang="+lang),
		chromedp.WaitReady(chromedp.CSS("#file")),
		chromedp.Evaluate[chromedp.Void](`window.__samePage = true`),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{f.files[file]}),
		chromedp.WaitVisible(chromedp.CSS(verdictSelector(tone))),
	)
	if !eval[bool](t, ctx, `window.__samePage === true`) {
		t.Error("the page reloaded: the script did not take over the upload")
	}
	if got := eval[string](t, ctx, `document.activeElement && document.activeElement.id`); got != "verdict-title" {
		t.Errorf("focus is on %q, want the verdict heading", got)
	}
	// The verdict is a live region with its words for screen readers.
	if role := eval[string](t, ctx, `document.getElementById('verdict').getAttribute('role')`); role != "status" {
		t.Errorf("verdict role %q", role)
	}
	if got := eval[string](t, ctx, `document.querySelector('#verdict-title .visually-hidden').textContent`); strings.TrimSpace(got) == "" {
		t.Error("no screen-reader text in the verdict heading")
	}
	checkCSP(t, ctx)
}

// verdictSelector finds the verdict of a tone, or any verdict for "".
func verdictSelector(tone string) string {
	if tone == "" {
		return "#verdict"
	}
	return "#verdict.tone-" + tone
}

func (f *fixture) testBrowser(t *testing.T) {
	ctx := newBrowser(t)
	year := time.Now().In(time.FixedZone("UTC+7", 7*3600)).Year()

	t.Run("valid B-LTA", func(t *testing.T) {
		f.upload(t, ctx, "th", "valid", "valid")
		if got := text(t, ctx, "#verdict-title"); got != "ผลการตรวจสอบ: เอกสารนี้ได้รับการลงลายมือชื่อและไม่ถูกแก้ไข" {
			t.Errorf("verdict %q", got)
		}
		card := text(t, ctx, ".cards > li:first-child")
		for _, want := range []string{
			"นางสาวสมศรี ใจดี", "กรมพัฒนาระบบราชการ", fmt.Sprintf(" %d เวลา ", year+543), "ค.ศ. ",
			"รับรองโดยการประทับเวลาที่เชื่อถือได้จาก esign Development TSA", "PAdES-BASELINE-LTA",
			"ตรวจสอบได้ในระยะยาว ได้", "ไม่มีการแก้ไขเนื้อหาหลังลงลายมือชื่อนี้", "ไม่ได้รับรองเอกสาร", "หน่วยงานต้นทางที่เชื่อถือ",
		} {
			if !strings.Contains(card, want) {
				t.Errorf("signature card lacks %q:\n%s", want, card)
			}
		}
		if n := eval[int](t, ctx, `document.querySelectorAll('.cards > li:first-child .chain li').length`); n != 3 {
			t.Errorf("chain has %d links, want 3 (signer, issuing CA, root)", n)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll('.cards > li').length`); n != 2 {
			t.Errorf("%d cards, want the signature and the document timestamp", n)
		}
		// The Thai web font is ours and loaded.
		font := eval[bool](t, ctx, `document.fonts.ready.then(function () {
			return Array.from(document.fonts).some(function (f) { return f.family.replace(/"/g, '') === 'Laksaman' && f.status === 'loaded'; });
		})`, chromedp.EvalAwaitPromise)
		if !font {
			t.Error("the Laksaman web font did not load")
		}
		f.checkDownload(t, ctx)
		shot(t, ctx, "valid-phone", 390, 844, true, true)
		shot(t, ctx, "valid-desktop", 1366, 900, false, true)
	})

	t.Run("tampered", func(t *testing.T) {
		f.upload(t, ctx, "th", "tampered", "invalid")
		v := text(t, ctx, "#verdict")
		for _, want := range []string{"เอกสารนี้ไม่ผ่านการตรวจสอบ", "เนื้อหาบนหน้าเอกสารถูกแก้ไข"} {
			if !strings.Contains(v, want) {
				t.Errorf("verdict lacks %q: %s", want, v)
			}
		}
		shot(t, ctx, "tampered-desktop", 1366, 900, false, false)
	})

	t.Run("untrusted", func(t *testing.T) {
		f.upload(t, ctx, "th", "untrusted", "indeterminate")
		v := text(t, ctx, "#verdict")
		for _, want := range []string{"ไม่สามารถยืนยันเอกสารนี้ได้ครบถ้วน", "ไม่ได้ออกโดยหน่วยงานที่ระบบนี้เชื่อถือ"} {
			if !strings.Contains(v, want) {
				t.Errorf("verdict lacks %q: %s", want, v)
			}
		}
		if got := text(t, ctx, ".cards .chain li:last-child"); !strings.Contains(got, "ไม่ใช่หน่วยงานที่ระบบนี้เชื่อถือ") {
			t.Errorf("last chain link %q", got)
		}
		shot(t, ctx, "untrusted-phone", 390, 844, true, false)
	})

	t.Run("permitted annotation over a page", func(t *testing.T) {
		// No signer here makes an annotation drawn over a P=3 certified
		// page yet, so the page gets the verifier's report directly.
		srv := seenServer(t)
		step(t, ctx, "open", chromedp.Navigate(srv.URL+"/?lang=th"), chromedp.WaitVisible(chromedp.CSS("#verdict.tone-valid")))
		if v := text(t, ctx, "#verdict .seen-warning"); !strings.Contains(v, "หน้า 1 บริเวณ") {
			t.Errorf("verdict warning: %s", v)
		}
		if v := text(t, ctx, ".cards > li:first-child .seen-warning"); !strings.Contains(v, "หน้า 1 บริเวณ") {
			t.Errorf("signature warning: %s", v)
		}
		checkCSP(t, ctx)
		shot(t, ctx, "seen-warning-phone", 390, 844, true, false)
		shot(t, ctx, "seen-warning-desktop", 1366, 900, false, true)
	})

	t.Run("drag and drop", func(t *testing.T) {
		step(t, ctx, "open", chromedp.Navigate(f.srv.URL+"/"), chromedp.WaitReady(chromedp.CSS("#drop")))
		b64 := base64.StdEncoding.EncodeToString(f.data(t, "flipped"))
		// A drop as the browser delivers it: a DataTransfer holding a file.
		step(t, ctx, "drop", chromedp.Evaluate[chromedp.Void](`(function(){
			var raw = atob('`+b64+`'), bytes = new Uint8Array(raw.length);
			for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
			var dt = new DataTransfer();
			dt.items.add(new File([bytes], 'transcript.pdf', {type: 'application/pdf'}));
			var zone = document.getElementById('drop');
			zone.dispatchEvent(new DragEvent('dragenter', {dataTransfer: dt, bubbles: true, cancelable: true}));
			zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
			zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
		})()`), chromedp.WaitVisible(chromedp.CSS("#verdict.tone-invalid")))
		if v := text(t, ctx, "#verdict"); !strings.Contains(v, "ข้อมูลในเอกสารไม่ตรงกับข้อมูลที่ลงลายมือชื่อไว้") {
			t.Errorf("verdict: %s", v)
		}
	})

	t.Run("file over the limit", func(t *testing.T) {
		small := f.server(t, verifyapi.Config{MaxUpload: 4 << 10})
		step(t, ctx, "upload",
			chromedp.Navigate(small.URL+"/"),
			chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{f.files["valid"]}),
			chromedp.WaitVisible(chromedp.CSS("#verdict.tone-error")),
		)
		if got := text(t, ctx, "#verdict"); got != "ไฟล์มีขนาดใหญ่เกินกำหนด" {
			t.Errorf("error %q", got)
		}
		checkCSP(t, ctx)
	})

	t.Run("keyboard", func(t *testing.T) {
		step(t, ctx, "open", chromedp.Navigate(f.srv.URL+"/"), chromedp.WaitReady(chromedp.CSS("#file")))
		shot(t, ctx, "home-phone", 390, 844, true, false)
		var order []string
		for range 4 {
			step(t, ctx, "tab", chromedp.KeyEvent("\t"))
			order = append(order, eval[string](t, ctx, `document.activeElement.id`))
		}
		if strings.Join(order, " ") != "lang-switch file password submit" {
			t.Errorf("tab order %q, want the language switch, the file chooser, the password, the button", order)
		}
		if label := eval[string](t, ctx, `document.getElementById('file').labels[0].textContent`); label != "เลือกไฟล์ PDF ที่ต้องการตรวจสอบ" {
			t.Errorf("file chooser label %q", label)
		}
		checkCSP(t, ctx)
	})

	t.Run("switch language", func(t *testing.T) {
		step(t, ctx, "open", chromedp.Navigate(f.srv.URL+"/"), chromedp.WaitReady(chromedp.CSS("h1")))
		if lang := eval[string](t, ctx, `document.documentElement.lang`); lang != "th" {
			t.Fatalf("default language %q", lang)
		}
		if h := text(t, ctx, "h1"); h != "ตรวจสอบลายมือชื่อดิจิทัลบนเอกสาร PDF" {
			t.Errorf("Thai heading %q", h)
		}
		step(t, ctx, "to English", chromedp.Click(chromedp.CSS("#lang-switch")), chromedp.WaitReady(chromedp.CSS(`html[lang="en"]`)))
		if h := text(t, ctx, "h1"); h != "Check the digital signatures of a PDF document" {
			t.Errorf("English heading %q", h)
		}
		if a := text(t, ctx, "#lang-switch"); a != "ภาษาไทย" {
			t.Errorf("switch back link %q", a)
		}
		// The choice sticks for the upload.
		f.upload(t, ctx, "en", "valid", "valid")
		if got := text(t, ctx, "#verdict-title"); got != "Result: This document is signed and has not been changed" {
			t.Errorf("English verdict %q", got)
		}
		step(t, ctx, "back to Thai", chromedp.Click(chromedp.CSS("#lang-switch")), chromedp.WaitReady(chromedp.CSS(`html[lang="th"]`)))
		if h := text(t, ctx, "h1"); h != "ตรวจสอบลายมือชื่อดิจิทัลบนเอกสาร PDF" {
			t.Errorf("Thai heading after switching back %q", h)
		}
	})

	t.Run("markup in the file does not run", func(t *testing.T) {
		check := func(t *testing.T) {
			t.Helper()
			if got := eval[string](t, ctx, `String(window.pwned)`); got != "undefined" {
				t.Errorf("window.pwned = %s: markup from the file ran", got)
			}
			if title := eval[string](t, ctx, `document.title`); strings.Contains(title, "pwned") {
				t.Errorf("title %q: markup from the file ran", title)
			}
			if n := eval[int](t, ctx, `document.querySelectorAll('#result script, #result img, #result b').length`); n != 0 {
				t.Errorf("%d elements from the file's strings in the result", n)
			}
			if got := text(t, ctx, ".cards > li:first-child .signer-name"); got != evilName {
				t.Errorf("signer name shown as %q, want it literally", got)
			}
			if got := text(t, ctx, ".cards > li:first-child .signer-org"); got != evilOrg {
				t.Errorf("organisation shown as %q, want it literally", got)
			}
			if got := text(t, ctx, ".cards > li:first-child .sig-reason"); got != evilReason {
				t.Errorf("reason shown as %q, want it literally", got)
			}
		}
		t.Run("result inserted by the script", func(t *testing.T) {
			f.upload(t, ctx, "th", "hostile", "")
			check(t)
		})
		t.Run("result page from a plain form post", func(t *testing.T) {
			// JavaScript on, our script blocked: the form posts and the
			// browser renders the server's page with scripts enabled.
			step(t, ctx, "block app.js", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
					return err
				}
				_, err := cdp.Call(ctx, tg, network.SetBlockedURLs, network.SetBlockedURLsParams{
					URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/static/app.js*", Block: true}},
				})
				return err
			}))
			defer step(t, ctx, "unblock", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, network.SetBlockedURLs, network.SetBlockedURLsParams{})
				return err
			}))
			step(t, ctx, "post",
				chromedp.Navigate(f.srv.URL+"/?lang=th"),
				chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{f.files["hostile"]}),
				chromedp.Click(chromedp.CSS("#submit")),
				chromedp.WaitVisible(chromedp.CSS("#verdict")),
			)
			if loaded := eval[bool](t, ctx, `document.querySelector('script[src*="app.js"]') !== null && typeof window.fetch === 'function'`); !loaded {
				t.Fatal("not the server-rendered page")
			}
			check(t)
		})
	})

	t.Run("without JavaScript", func(t *testing.T) {
		step(t, ctx, "disable scripts", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}))
		defer step(t, ctx, "enable scripts", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false})
			return err
		}))
		step(t, ctx, "post the form",
			chromedp.Navigate(f.srv.URL+"/?lang=en"),
			chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{f.files["untrusted"]}),
			chromedp.Click(chromedp.CSS("#submit")),
			chromedp.WaitVisible(chromedp.CSS("#verdict.tone-indeterminate")),
		)
		if v := text(t, ctx, "#verdict-title"); v != "Result: This document cannot be fully verified" {
			t.Errorf("verdict %q", v)
		}
		if u := eval[string](t, ctx, `location.search`); u != "?lang=en" {
			t.Errorf("after the post the page is at %q", u)
		}
	})
}

// checkDownload clicks the report link and reads the file the browser saved.
func (f *fixture) checkDownload(t *testing.T, ctx context.Context) {
	t.Helper()
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
	}); err != nil {
		t.Fatalf("download behaviour: %v", err)
	}
	step(t, ctx, "click download", chromedp.Click(chromedp.CSS("#download")))
	file := filepath.Join(dir, "esign-report.json")
	var data []byte
	// Wait for the browser to finish writing; the guard only bounds a hang.
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		b, err := os.ReadFile(file)
		if err == nil && json.Valid(b) {
			data = b
			break
		}
	}
	if data == nil {
		entries, _ := os.ReadDir(dir)
		t.Fatalf("no report downloaded; download dir holds %v", entries)
	}
	var rep verify.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Document.Indication != verify.TotalPassed || rep.Document.SignatureCount != 2 || rep.Signatures[0].Level != verify.LevelLTA {
		t.Errorf("downloaded report: %+v", rep.Document)
	}
}

// shot writes testdata/screenshots/NAME.png at the given viewport, the
// whole page when full is set, for people to review.
func shot(t *testing.T, ctx context.Context, name string, width, height int64, mobile, full bool) {
	t.Helper()
	var opts []chromedp.EmulateViewportOption
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(1))
	}
	step(t, ctx, "viewport", chromedp.EmulateViewport(width, height, opts...),
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	defer step(t, ctx, "reset viewport", chromedp.EmulateViewport(1366, 900))
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	capture := chromedp.CaptureScreenshot()
	if full {
		capture = chromedp.FullScreenshot(100)
	}
	png, err := chromedp.Run(sctx, capture)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := filepath.Join("testdata", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// seenServer serves the page with one fixed report: a P=3 certification
// whose permitted annotation draws over page 1.
func seenServer(t *testing.T) *httptest.Server {
	t.Helper()
	at := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	rep := &verify.Report{
		Document: verify.DocumentResult{Indication: verify.TotalPassed, SignatureCount: 1, Certification: "3", Revisions: 3},
		Signatures: []verify.SignatureResult{{
			Kind: verify.KindSignature, Indication: verify.TotalPassed, Certification: "3", Level: verify.LevelT,
			Signer:      &verify.SignerInfo{CommonName: "นางสาวสมศรี ใจดี", Organization: "กรมพัฒนาระบบราชการ"},
			SigningTime: &at, TimestampTime: &at, TSA: "esign Development TSA",
			AllowedChanges: []verify.Modification{
				{Kind: verify.ModDSS, Allowed: true, Revision: 2},
				{Kind: verify.ModAnnotationAdded, Allowed: true, Revision: 3, Effect: verify.EffectAnnotation, Page: 1, Rect: []float64{300, 700, 520, 760}},
			},
		}},
	}
	p := verifypage.New(verifypage.Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, verifypage.StaticPrefix) {
			p.ServeHTTP(w, r)
			return
		}
		p.ServeResult(w, r, verifypage.Outcome{Report: rep})
	}))
	t.Cleanup(srv.Close)
	return srv
}
