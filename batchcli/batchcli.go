// Package batchcli is `esign batch …`: the client of the signing
// service's batch API. `esign batch sign` uploads many PDFs into one
// batch, closes it, follows the signing and saves each signed PDF as it
// comes; run again with the same arguments, it resumes where it stopped.
// `esign batch status` and `esign batch cancel` look at and stop a batch.
//
// The API key is read from the file named by -key-file or
// $ESIGN_API_KEY_FILE, and a signer's PIN or TOTP code from
// -activation-file: secrets never come from arguments, and neither is
// ever printed.
package batchcli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"esign/internal/loopback"
	"esign/internal/readlimit"
)

// ErrUsage reports a command line that does not parse; the usage text
// has been written to stderr already.
var ErrUsage = errors.New("batchcli: usage")

// DefaultServer is the service's address when neither -server nor
// $ESIGN_SERVER gives one: where `esignd` listens by default.
const DefaultServer = "http://127.0.0.1:8080"

const usage = `usage: esign batch <command> [flags] [arguments]

  sign -signer NAME -level LEVEL [flags] FILE_OR_DIR...
                  sign PDFs as one batch on the server and save the signed ones
  sign -batch ID [flags] [FILE_OR_DIR...]
                  add to, finish and fetch an existing batch
  status [-json] ID   show a batch (-json: the server's JSON)
  cancel ID           cancel a batch: documents not yet signed never will be

flags of every command:
  -server URL          the signing service (default $ESIGN_SERVER, else http://127.0.0.1:8080)
  -key-file FILE       file holding the API key (default $ESIGN_API_KEY_FILE); never an argument

flags of sign:
  -signer NAME         signer credential (required without -batch)
  -level LEVEL         PAdES level: B-B, B-T, B-LT or B-LTA (required without -batch)
  -out DIR             where signed PDFs are saved as REF.pdf (default "signed"; made if missing)
  -batch ID            use this batch instead of the one the arguments name
  -concurrency N       uploads and downloads at a time (default 4)
  -activation-file FILE  the signer's PIN or TOTP code, for credentials that need one
  -reason TEXT, -location TEXT, -contact TEXT
  -certify none|1|2|3, -field NAME, -lock, -visible, -page N, -rect x1,y1,x2,y2, -image FILE.png
  -doc-number, -doc-date, -subject, -urgency, -secrecy TEXT   e-Saraban metadata

FILE_OR_DIR: PDF files, and directories whose *.pdf files (not in subdirectories)
are taken. A document's ref is its file name without .pdf: 1 to 128 of
A-Z a-z 0-9 . _ -, one file per ref.

The batch is named by the arguments (server, signer, level, options and each
ref with its file's SHA-256): the same command run again finds the same batch,
uploads only what the server does not hold yet and fetches only what is not in
-out yet. Exit status 0 only when every document is signed and saved; those
that are not are listed on standard output as
  failed<TAB>REF<TAB>CODE<TAB>MESSAGE   (signing failed)
  unsaved<TAB>REF<TAB>CODE<TAB>MESSAGE  (signed, but not saved here)

Progress goes to standard error: a bar on a terminal, else at most a line a second:
  batch ID: uploaded U/N
  batch ID: signed S/T, failed F, pending P, downloaded D, R docs/s, eta E
`

// Command runs the commands with the given streams and environment. The
// zero values of the other fields are the defaults.
type Command struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// IsTerminal says whether progress written to w may be a bar; nil
	// means a check of the file descriptor behind an *os.File.
	IsTerminal func(w io.Writer) bool
	// HTTP sends the requests; nil means a client made for the command,
	// which follows no redirects.
	HTTP *http.Client
	// Retry is the policy for 503, 507 and failed connections.
	Retry Retry
	// PollInterval is the wait between two status polls; 0 means 500 ms.
	PollInterval time.Duration
	// ProgressInterval is the least time between two plain progress
	// lines; 0 means one second.
	ProgressInterval time.Duration
}

// Run runs `esign batch ARGS…` (args exclude "batch").
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	return Command{Stdout: stdout, Stderr: stderr, Getenv: getenv}.Batch(ctx, args)
}

// Batch runs an `esign batch` command.
func (c Command) Batch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return c.usage()
	}
	switch args[0] {
	case "sign":
		return c.sign(ctx, args[1:])
	case "status":
		return c.status(ctx, args[1:])
	case "cancel":
		return c.cancel(ctx, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.Stdout, usage)
		return nil
	}
	fmt.Fprintf(c.Stderr, "esign batch: unknown command %q\n", args[0])
	return c.usage()
}

func (c Command) usage() error {
	fmt.Fprint(c.Stderr, usage)
	return ErrUsage
}

// parse parses flags before, between and after the positional arguments
// ("--" ends the flags), and checks how many positionals there are
// (max < 0: no limit).
func (c Command) parse(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(c.Stderr, "esign batch %s: %v\n", fs.Name(), err)
			}
			return nil, c.usage()
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) < min || max >= 0 && len(pos) > max {
		fmt.Fprintf(c.Stderr, "esign batch %s: wrong number of arguments\n", fs.Name())
		return nil, c.usage()
	}
	return pos, nil
}

// conn holds the flags every command has.
type conn struct{ server, keyFile string }

func (cn *conn) register(fs *flag.FlagSet) {
	fs.StringVar(&cn.server, "server", "", "the signing service's URL")
	fs.StringVar(&cn.keyFile, "key-file", "", "file holding the API key")
}

// client makes the API client: the server from -server, $ESIGN_SERVER or
// the default, and the key from the key file.
func (c Command) client(cn conn, conc int) (*Client, error) {
	server := cn.server
	if server == "" {
		server = strings.TrimSpace(c.getenv("ESIGN_SERVER"))
	}
	if server == "" {
		server = DefaultServer
	}
	base, err := checkServer(server)
	if err != nil {
		return nil, err
	}
	if u, _ := url.Parse(base); u.Scheme == "http" && !loopback.Host(u.Hostname()) {
		fmt.Fprintf(c.Stderr, "esign batch: warning: the API key and the documents go unencrypted to %s; use https://\n", u.Host)
	}
	keyFile := cn.keyFile
	if keyFile == "" {
		keyFile = c.getenv("ESIGN_API_KEY_FILE")
	}
	if keyFile == "" {
		return nil, errors.New("no API key: give -key-file FILE or set ESIGN_API_KEY_FILE (never the key itself)")
	}
	key, err := readSecret(keyFile, "API key")
	if err != nil {
		return nil, err
	}
	if strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return nil, fmt.Errorf("API key file %s: the key must be one word of printable ASCII", keyFile)
	}
	hc := c.HTTP
	if hc == nil {
		hc = newHTTPClient(conc)
	}
	return &Client{BaseURL: base, Key: key, HTTP: hc, Retry: c.Retry}, nil
}

func (c Command) getenv(k string) string {
	if c.Getenv == nil {
		return ""
	}
	return c.Getenv(k)
}

// checkServer accepts http and https URLs with a host and perhaps a path
// prefix, and nothing that could carry a secret (user info) or be lost
// (query, fragment).
func checkServer(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("server %q: %w", s, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("server %q: the URL must start with http:// or https://", s)
	case u.Host == "":
		return "", fmt.Errorf("server %q: no host", s)
	case u.User != nil:
		return "", errors.New("server: no user or password in the URL: the API key comes from -key-file")
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("server %q: no query or fragment", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// maxSecret bounds a key or activation file.
const maxSecret = 4096

// readSecret reads a one-line secret from a file, without the white space
// around it. Errors name the file, never its content.
func readSecret(path, what string) (string, error) {
	b, err := readlimit.File(path, maxSecret)
	if err != nil {
		return "", fmt.Errorf("read %s file: %w", what, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s file %s is empty", what, path)
	}
	return s, nil
}

// newHTTPClient is the command's HTTP client: a connection per worker
// kept alive, a bound on the wait for an answer's headers (the body of a
// large PDF may take longer) and no redirects, so that the key is sent
// only where -server says.
func newHTTPClient(conc int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conc + 2
	tr.ResponseHeaderTimeout = 2 * time.Minute
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// signOption is a string flag of sign sent as an API field when set.
type signOption struct{ flag, field, help string }

var signOptions = []signOption{
	{"reason", "reason", "reason for signing"},
	{"location", "location", "location of signing"},
	{"contact", "contact", "contact information"},
	{"certify", "certify", "certify the documents: none, 1, 2 or 3 (DocMDP P)"},
	{"field", "field", "signature field name"},
	{"page", "page", "page of a visible signature (1-based)"},
	{"rect", "rect", "rectangle of a visible signature: x1,y1,x2,y2 in points"},
	{"doc-number", "doc_number", "e-Saraban document number"},
	{"doc-date", "doc_date", "e-Saraban document date"},
	{"subject", "subject", "e-Saraban subject"},
	{"urgency", "urgency", "e-Saraban urgency"},
	{"secrecy", "secrecy", "e-Saraban secrecy"},
}

// createOnly reports whether a flag shapes a new batch, which is
// meaningless with -batch.
func createOnly(name string) bool {
	switch name {
	case "lock", "visible", "activation-file", "image":
		return true
	}
	for _, o := range signOptions {
		if o.flag == name {
			return true
		}
	}
	return false
}

func (c Command) sign(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	var cn conn
	cn.register(fs)
	signerName := fs.String("signer", "", "signer credential")
	level := fs.String("level", "", "PAdES level")
	out := fs.String("out", "signed", "directory for the signed PDFs")
	batchID := fs.String("batch", "", "existing batch")
	conc := fs.Int("concurrency", 4, "uploads and downloads at a time")
	activationFile := fs.String("activation-file", "", "file holding the signer's PIN or TOTP code")
	lock := fs.Bool("lock", false, "lock the signature field")
	visible := fs.Bool("visible", false, "visible signature")
	image := fs.String("image", "", "PNG file of a visible signature's image")
	opts := map[string]*string{}
	for _, o := range signOptions {
		opts[o.field] = fs.String(o.flag, "", o.help)
	}
	files, err := c.parse(fs, args, 0, -1)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case *batchID == "" && (*signerName == "" || *level == ""):
		fmt.Fprintln(c.Stderr, "esign batch sign: -signer and -level are required (or -batch ID)")
		return c.usage()
	case *batchID == "" && len(files) == 0:
		fmt.Fprintln(c.Stderr, "esign batch sign: no FILE_OR_DIR")
		return c.usage()
	case *conc < 1 || *conc > 64:
		fmt.Fprintln(c.Stderr, "esign batch sign: -concurrency must be 1 to 64")
		return c.usage()
	}
	if *batchID != "" {
		for name := range set {
			if createOnly(name) {
				fmt.Fprintf(c.Stderr, "esign batch sign: -%s shapes a new batch and cannot go with -batch\n", name)
				return c.usage()
			}
		}
	}

	// Everything local is checked before anything is sent.
	docs, err := Collect(files)
	if err != nil {
		return err
	}
	cl, err := c.client(cn, *conc)
	if err != nil {
		return err
	}
	if err := prepareOut(*out, docs); err != nil {
		return err
	}
	fields := map[string]string{"signer": *signerName, "level": *level}
	for k, v := range opts {
		if *v != "" {
			fields[k] = *v
		}
	}
	if *lock {
		fields["lock"] = "true"
	}
	if *visible {
		fields["visible"] = "true"
	}
	if *image != "" {
		// The API takes the image in the batch's JSON, in base64; its
		// bytes are part of the idempotency key with the other options.
		b, err := os.ReadFile(*image)
		if err != nil {
			return fmt.Errorf("signature image: %w", err)
		}
		fields["image"] = base64.StdEncoding.EncodeToString(b)
	}
	if err := HashDocs(ctx, docs); err != nil {
		return err
	}

	var st Status
	if *batchID != "" {
		if st, err = cl.Status(ctx, *batchID); err != nil {
			return err
		}
		for _, chk := range []struct{ flag, want, got string }{{"signer", *signerName, st.Signer}, {"level", *level, st.Level}} {
			if chk.want != "" && chk.got != "" && chk.want != chk.got {
				return fmt.Errorf("batch %s has %s %s, not %s", *batchID, chk.flag, chk.got, chk.want)
			}
		}
	} else {
		key, err := IdempotencyKey(KeyInput{Server: cl.BaseURL, Signer: *signerName, Level: *level, Options: fields, Docs: docs})
		if err != nil {
			return err
		}
		fields["idempotency_key"] = key
		if *activationFile != "" {
			// Sent with the batch's creation only, and never printed.
			if fields["activation"], err = readSecret(*activationFile, "activation"); err != nil {
				return err
			}
		}
		if st, err = cl.Create(ctx, fields); err != nil {
			return err
		}
	}
	id := st.ID
	if id == "" {
		id = *batchID
	}
	if id != clean(id) || strings.ContainsAny(id, " /") {
		return fmt.Errorf("the server's batch id %q is not usable", id)
	}
	fmt.Fprintf(c.Stderr, "esign batch: batch %s (%s), signer %s, level %s\n", id, clean(st.State), clean(st.Signer), clean(st.Level))
	run := &batchRun{
		c: cl, id: id, docs: docs, out: *out, conc: *conc, poll: c.PollInterval,
		prog: c.progress(id), stdout: c.Stdout, stderr: c.Stderr,
	}
	if run.poll <= 0 {
		run.poll = 500 * time.Millisecond
	}
	return run.run(ctx, st)
}

// prepareOut makes the output directory and refuses one that holds input
// files: the signed REF.pdf would replace its own input.
func prepareOut(out string, docs []Doc) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	ofi, err := os.Stat(out)
	if err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	seen := map[string]bool{}
	for _, d := range docs {
		dir := filepath.Dir(d.Path)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if fi, err := os.Stat(dir); err == nil && os.SameFile(fi, ofi) {
			return fmt.Errorf("-out %s holds input PDFs (%s): the signed files would replace them; choose another directory", out, d.Path)
		}
	}
	return nil
}

func (c Command) progress(id string) progress {
	isTerm := c.IsTerminal
	if isTerm == nil {
		isTerm = isTerminal
	}
	if isTerm(c.Stderr) {
		return &barProgress{w: c.Stderr, id: id}
	}
	return newPlainProgress(c.Stderr, id, c.ProgressInterval, nil)
}

// oneBatch parses the flags of a command on one batch ID (fs holds its
// own flags; the connection's are added) and makes its client, with the
// few quick retries of such a command.
func (c Command) oneBatch(fs *flag.FlagSet, args []string) (*Client, []string, error) {
	var cn conn
	cn.register(fs)
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return nil, nil, err
	}
	cl, err := c.client(cn, 1)
	if err != nil {
		return nil, nil, err
	}
	cl.Retry = quick(cl.Retry)
	return cl, pos, nil
}

// quick is the retry policy of a command someone waits for: a few tries,
// where a batch run rides out a server's restart.
func quick(r Retry) Retry {
	if r.Attempts == 0 {
		r.Attempts = 3
	}
	return r
}

func (c Command) status(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the server's JSON")
	cl, pos, err := c.oneBatch(fs, args)
	if err != nil {
		return err
	}
	raw, err := cl.StatusJSON(ctx, pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		// Indented as the server wrote it: members in its order, and
		// those this client does not know kept.
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return fmt.Errorf("status of batch %s: %w", pos[0], err)
		}
		buf.WriteByte('\n')
		_, err := c.Stdout.Write(buf.Bytes())
		return err
	}
	var st Status
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("status of batch %s: %w", pos[0], err)
	}
	printStatus(c.Stdout, st)
	return nil
}

// printStatus writes the status for people.
func printStatus(w io.Writer, st Status) {
	fmt.Fprintf(w, "batch      %s\n", clean(st.ID))
	fmt.Fprintf(w, "state      %s\n", clean(st.State))
	fmt.Fprintf(w, "signer     %s, level %s\n", clean(st.Signer), clean(st.Level))
	fmt.Fprintf(w, "documents  %d: %d signed, %d failed, %d pending, %d cancelled\n", st.Total, st.Signed, st.Failed, st.Pending, st.Cancelled)
	fmt.Fprintf(w, "created    %s\n", orDash(clean(st.CreatedAt)))
	fmt.Fprintf(w, "finished   %s\n", orDash(clean(st.FinishedAt)))
	if st.RatePerS != nil || st.EtaS != nil {
		rate, eta := "-", "-"
		if st.RatePerS != nil {
			rate = fmt.Sprintf("%.1f docs/s", *st.RatePerS)
		}
		if st.EtaS != nil {
			eta = fmtETA(*st.EtaS)
		}
		fmt.Fprintf(w, "rate       %s, eta %s\n", rate, eta)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c Command) cancel(ctx context.Context, args []string) error {
	cl, pos, err := c.oneBatch(flag.NewFlagSet("cancel", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	st, err := cl.Cancel(ctx, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stderr, "batch %s %s: %d of %d signed, %d cancelled\n", pos[0], clean(st.State), st.Signed, st.Total, st.Cancelled)
	return nil
}
