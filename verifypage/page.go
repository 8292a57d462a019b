// Package verifypage is the verification page: a form where anyone drops a
// PDF and reads, in Thai or English, whether its signatures hold, who
// signed it, when, and whether it changed afterwards.
//
// The page renders on the server and works without JavaScript, as a plain
// multipart form post; a small script of ours only adds drag-and-drop and
// shows the result without reloading (it posts the same form and swaps in
// the server-rendered result). Everything it needs, the Thai web font
// included, is embedded and served by the page itself, under a strict
// Content-Security-Policy.
//
// The package renders; it does not verify. The verifier's HTTP server
// (esign/verifyapi) checks the upload under its size limit, rate limit and
// time budget and hands the outcome to ServeResult. The uploaded file is
// never stored, and the page says so.
package verifypage

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"esign/verify"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ContentSecurityPolicy is sent with every page and asset: only our own
// scripts, styles and fonts; no inline script or style, no plug-ins, no
// framing, forms posted to us only.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; font-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// StaticPrefix is the URL path under which the page's assets are served.
const StaticPrefix = "/static/"

// Options configures the page. The zero value is usable.
type Options struct {
	// MaxUpload is the upload limit the page states and the script checks
	// before sending a file. Default 0: no limit is stated or checked.
	MaxUpload int64
}

// Page serves the verification page. It is safe for concurrent use.
type Page struct {
	opts   Options
	tmpl   *template.Template
	static fs.FS
	// version maps an asset's name to a digest of its content, added to
	// its URL so browsers may cache assets for long.
	version map[string]string
}

// Outcome is what the verifier made of one upload: a report, or the
// failure the JSON API would answer with.
type Outcome struct {
	// Report is the validation report; nil when the upload failed.
	Report *verify.Report
	// Status is the HTTP status of a failure (413, 422, 429, ...).
	Status int
	// Code is the JSON API's error code: "too_large", "rate_limited",
	// "not_pdf", "unreadable", "timeout" or "bad_request"; it picks the
	// words shown. Unknown codes get a general message.
	Code string
	// Document is the registered document of the /d/{id} page the file
	// was posted to: the result then says whether the file is it. Nil on
	// the main page.
	Document *verify.RegistryMatch
	// DocCode, on a /d/{id} page whose document could not be looked up,
	// is why ("unavailable", "rate_limited"): the page says so above the
	// result. Empty with a Document, and on the main page.
	DocCode string
}

// New makes a Page. It panics only if the embedded templates are broken,
// which the package's tests would catch first.
func New(opts Options) *Page {
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(fmt.Sprintf("verifypage: embedded assets: %v", err))
	}
	p := &Page{opts: opts, static: static, version: map[string]string{}}
	err = fs.WalkDir(static, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		p.version[name] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("verifypage: embedded assets: %v", err))
	}
	p.tmpl = template.Must(template.New("").Funcs(template.FuncMap{
		"asset":    p.assetURL,
		"inc":      func(i int) int { return i + 1 },
		"safeName": safeName,
		"regArgs":  func(r *regText, v *registryView) map[string]any { return map[string]any{"R": r, "V": v} },
	}).ParseFS(templateFS, "templates/*.html"))
	return p
}

func (p *Page) assetURL(name string) string {
	return StaticPrefix + name + "?v=" + p.version[name]
}

// setHeaders sets the security headers every response of the page gets.
func setHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}

// ServeHTTP serves GET / (the empty form) and the assets under
// StaticPrefix. Form posts go to the verifier, which calls ServeResult.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case r.URL.Path == "/":
		p.render(w, r, http.StatusOK, nil, "", "")
	case strings.HasPrefix(r.URL.Path, StaticPrefix):
		p.serveAsset(w, r, strings.TrimPrefix(r.URL.Path, StaticPrefix))
	default:
		http.NotFound(w, r)
	}
}

// contentTypes are the assets' types, set here so they do not depend on
// the host's MIME tables.
var contentTypes = map[string]string{
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".woff": "font/woff",
	".svg":  "image/svg+xml",
	".txt":  "text/plain; charset=utf-8",
}

func (p *Page) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	ctype, ok := contentTypes[path.Ext(name)]
	if !ok || !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(p.static, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ctype)
	if r.URL.Query().Get("v") == p.version[name] {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "public, max-age=300")
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// ServeResult answers a form post with the outcome: the whole page, or,
// when the query has partial=1 (the script's request), only the result.
// The status is 200 with a report, else the failure's status.
func (p *Page) ServeResult(w http.ResponseWriter, r *http.Request, o Outcome) {
	setHeaders(w.Header())
	// The result describes a private document: no cache may keep it.
	w.Header().Set("Cache-Control", "no-store")
	status := http.StatusOK
	if o.Report == nil {
		status = o.Status
		if status < 400 {
			status = http.StatusInternalServerError
		}
	}
	if o.Document != nil || o.DocCode != "" {
		p.renderDoc(w, r, status, o.Document, o.DocCode, o.Report, o.Code, true)
		return
	}
	p.render(w, r, status, o.Report, o.Code, "post")
}

// pageData is what the templates get.
type pageData struct {
	Lang      Lang
	T         *text
	Action    string
	SwitchURL string
	MaxUpload int64
	MaxSize   string
	Posted    bool
	Result    *resultView
	Error     string
	// The /d/{id} page: the document, or that it is unknown, or why it
	// could not be looked up.
	R          *regText
	Doc        *docView
	DocMissing bool
	DocError   string
}

// fillResult puts the outcome of an upload into d; doc is the /d/{id}
// page's document, nil on the main page.
func (p *Page) fillResult(d *pageData, l Lang, rep *verify.Report, code string, doc *verify.RegistryMatch) {
	if rep == nil {
		d.Error = errorMessage(l, code)
		return
	}
	v, err := newResultView(l, rep)
	if err != nil {
		d.Error = errorMessage(l, "")
		return
	}
	v.Match = newMatch(l, rep, doc)
	d.Result = v
}

func (p *Page) render(w http.ResponseWriter, r *http.Request, status int, rep *verify.Report, code, mode string) {
	l := parseLang(r.URL.Query().Get("lang"))
	tx := texts(l)
	d := pageData{
		Lang:      l,
		T:         tx,
		R:         regTexts(l),
		Action:    "/?" + url.Values{"lang": {string(l)}}.Encode(),
		SwitchURL: "/?" + url.Values{"lang": {tx.OtherLang}}.Encode(),
		MaxUpload: p.opts.MaxUpload,
		Posted:    mode == "post",
	}
	if p.opts.MaxUpload > 0 {
		d.MaxSize = fmt.Sprintf(tx.MaxSize, formatSize(p.opts.MaxUpload))
	}
	if d.Posted {
		p.fillResult(&d, l, rep, code, nil)
	}
	p.write(w, r, "page", d.Posted, status, l, d)
}

// render writes the template name (or only the result part, for a posted
// form that asks for it with ?partial=1) with status, in language l. The
// page is rendered whole before the status goes out, so a template error
// is a clean 500 rather than half a page.
func (p *Page) write(w http.ResponseWriter, r *http.Request, name string, posted bool, status int, l Lang, d any) {
	if posted && r.URL.Query().Get("partial") == "1" {
		name = "result"
	}
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, name, d); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", string(l))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}
