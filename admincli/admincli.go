// Package admincli is the logic of the operators' commands `esign admin …`
// (API clients and signer credentials) and `esign audit …` (the audit
// log), run against the service's database: PostgreSQL when
// ESIGN_DATABASE_URL is set, else SQLite at $ESIGN_DATA_DIR/esign.db
// (ESIGN_DATA_DIR defaults to .esign-dev). TOTP secrets are sealed with
// the key in ESIGN_TOTP_KEY_FILE (default $ESIGN_DATA_DIR/secrets/totp-key),
// which must be the server's.
//
// Secrets never come from arguments: a PIN is read from the file named by
// ESIGN_ADMIN_PIN_FILE, or else from the first line of standard input.
// API keys and TOTP enrolment URIs are shown once, on standard output (or
// written to a 0600 file with --key-out / --uri-out), and not kept.
package admincli

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"esign/activation"
	"esign/audit"
	"esign/cscclient"
	"esign/documentapi"
	"esign/internal/atomicfile"
	"esign/internal/readlimit"
	"esign/registry"
	"esign/store"
)

// ErrUsage reports a command line that does not parse; the usage text
// has been written to stderr already.
var ErrUsage = errors.New("admincli: usage")

const adminUsage = `usage: esign admin <client|credential|document> <command> [arguments]

  client create NAME [--credentials A,B] [--key-out FILE]   make a client; prints its API key once
  client list
  client rotate NAME [--key-out FILE]                       new API key (printed once); the old one stops working
  client disable NAME | client enable NAME
  client assign NAME CREDENTIAL...                          let the client use credentials
  client unassign NAME CREDENTIAL...

  credential create NAME --key-label LABEL [--chain FILE.pem] [--activation none|pin|totp]
                         [--display-name TEXT] [--position TEXT]
  credential create NAME --csc-url URL --csc-credential ID --csc-key-file FILE [--chain FILE.pem]
                         [--display-name TEXT] [--position TEXT]
      the key lives in a remote CSC service; the PIN or OTP a signing request brings is passed
      on to that service's authorisation (the credential's own activation stays none)
  credential list
  credential disable NAME | credential enable NAME
  credential set-pin NAME                                   PIN from $ESIGN_ADMIN_PIN_FILE, else stdin's first line
  credential enrol-totp NAME [--issuer TEXT] [--uri-out FILE]  prints the otpauth:// URI once
  credential set-activation NAME none|pin|totp
  credential reset-lockout NAME

  document show ID                                          an issued document's registry record, as JSON
  document revoke ID --reason TEXT                          revoke an issued document (any client's); audited

The database is $ESIGN_DATABASE_URL (PostgreSQL), else SQLite in $ESIGN_DATA_DIR.
`

const auditUsage = `usage: esign audit <command>

  verify                                       check the audit log's hash chain; exit status 1 if broken
  list [--after SEQ] [--limit N] [--batch ID]  print entries as JSON lines; with --batch, only that
                                               batch's documents, whose lines carry "batch" and "ref"
`

// Command runs the commands with the given standard streams and
// environment.
type Command struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Run runs `esign admin ARGS…` (args exclude "admin") with os.Stdin as
// standard input.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	return Command{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr, Getenv: getenv}.Admin(ctx, args)
}

// RunAudit runs `esign audit ARGS…` (args exclude "audit").
func RunAudit(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	return Command{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr, Getenv: getenv}.Audit(ctx, args)
}

func (c Command) usage(text string) error {
	fmt.Fprint(c.Stderr, text)
	return ErrUsage
}

func (c Command) open(ctx context.Context) (*store.Store, error) {
	return store.Open(ctx, store.OptionsFromEnv(c.Getenv))
}

// Admin runs an `esign admin` command.
func (c Command) Admin(ctx context.Context, args []string) error {
	if len(args) < 2 {
		return c.usage(adminUsage)
	}
	type cmd func(context.Context, *store.Store, []string) error
	cmds := map[string]cmd{
		"client create":             c.clientCreate,
		"client list":               c.clientList,
		"client rotate":             c.clientRotate,
		"client disable":            c.setDisabled("client", (*store.Store).SetClientDisabled, true),
		"client enable":             c.setDisabled("client", (*store.Store).SetClientDisabled, false),
		"client assign":             c.clientAssign(true),
		"client unassign":           c.clientAssign(false),
		"credential create":         c.credentialCreate,
		"credential list":           c.credentialList,
		"credential disable":        c.setDisabled("credential", (*store.Store).SetCredentialDisabled, true),
		"credential enable":         c.setDisabled("credential", (*store.Store).SetCredentialDisabled, false),
		"credential set-pin":        c.credentialSetPIN,
		"credential enrol-totp":     c.credentialEnrolTOTP,
		"credential enroll-totp":    c.credentialEnrolTOTP,
		"credential set-activation": c.credentialSetActivation,
		"credential reset-lockout":  c.credentialResetLockout,
		"document show":             c.documentShow,
		"document revoke":           c.documentRevoke,
	}
	run, ok := cmds[args[0]+" "+args[1]]
	if !ok {
		fmt.Fprintf(c.Stderr, "esign admin: unknown command %q\n", strings.Join(args[:2], " "))
		return c.usage(adminUsage)
	}
	st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return run(ctx, st, args[2:])
}

// parse parses flags that may come before, between or after the
// positional arguments, and checks how many positionals there are
// (max < 0: no limit).
func (c Command) parse(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			fmt.Fprintf(c.Stderr, "esign admin: %v\n", err)
			return nil, c.usage(adminUsage)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < min || max >= 0 && len(pos) > max {
		fmt.Fprintf(c.Stderr, "esign admin %s: wrong number of arguments\n", fs.Name())
		return nil, c.usage(adminUsage)
	}
	return pos, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// showSecret prints a secret once on stdout, or writes it to a 0600 file
// (exactly the secret, no newline) when path is set.
func (c Command) showSecret(what, secret, path string) error {
	if path != "" {
		if err := atomicfile.Write(path, []byte(secret), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", what, err)
		}
		fmt.Fprintf(c.Stderr, "%s written to %s\n", what, path)
		return nil
	}
	fmt.Fprintln(c.Stdout, secret)
	fmt.Fprintf(c.Stderr, "the %s above is shown once and not kept: store it now\n", what)
	return nil
}

func (c Command) clientCreate(ctx context.Context, st *store.Store, args []string) error {
	fs := flag.NewFlagSet("client create", flag.ContinueOnError)
	creds := fs.String("credentials", "", "comma-separated credentials the client may use")
	keyOut := fs.String("key-out", "", "write the API key to this file instead of stdout")
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	key, err := st.CreateClient(ctx, pos[0], splitList(*creds))
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stderr, "client %s created\n", pos[0])
	return c.showSecret("API key", key, *keyOut)
}

func (c Command) clientRotate(ctx context.Context, st *store.Store, args []string) error {
	fs := flag.NewFlagSet("client rotate", flag.ContinueOnError)
	keyOut := fs.String("key-out", "", "write the API key to this file instead of stdout")
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	key, err := st.RotateClientKey(ctx, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stderr, "client %s has a new API key; the old one no longer works\n", pos[0])
	return c.showSecret("API key", key, *keyOut)
}

func (c Command) clientAssign(assign bool) func(context.Context, *store.Store, []string) error {
	return func(ctx context.Context, st *store.Store, args []string) error {
		name := map[bool]string{true: "client assign", false: "client unassign"}[assign]
		pos, err := c.parse(flag.NewFlagSet(name, flag.ContinueOnError), args, 2, -1)
		if err != nil {
			return err
		}
		var creds []string
		for _, p := range pos[1:] {
			creds = append(creds, splitList(p)...)
		}
		if assign {
			err = st.AssignCredentials(ctx, pos[0], creds...)
		} else {
			err = st.UnassignCredentials(ctx, pos[0], creds...)
		}
		if err != nil {
			return err
		}
		cl, err := st.Client(ctx, pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stderr, "client %s may use: %s\n", cl.Name, listOrNone(cl.Credentials))
		return nil
	}
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ",")
}

// setDisabled disables or enables the client or credential named by its
// one argument, through set.
func (c Command) setDisabled(kind string, set func(*store.Store, context.Context, string, bool) error, disabled bool) func(context.Context, *store.Store, []string) error {
	return func(ctx context.Context, st *store.Store, args []string) error {
		verb := "enable"
		if disabled {
			verb = "disable"
		}
		pos, err := c.parse(flag.NewFlagSet(kind+" "+verb, flag.ContinueOnError), args, 1, 1)
		if err != nil {
			return err
		}
		if err := set(st, ctx, pos[0], disabled); err != nil {
			return err
		}
		fmt.Fprintf(c.Stderr, "%s %s %s\n", kind, pos[0], status(disabled))
		return nil
	}
}

func status(disabled bool) string {
	if disabled {
		return "disabled"
	}
	return "enabled"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func (c Command) clientList(ctx context.Context, st *store.Store, args []string) error {
	if _, err := c.parse(flag.NewFlagSet("client list", flag.ContinueOnError), args, 0, 0); err != nil {
		return err
	}
	cs, err := st.ListClients(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tSTATUS\tKEY ROTATED\tCREDENTIALS")
	for _, cl := range cs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", cl.Name, status(cl.Disabled), fmtTime(cl.KeyRotatedAt), listOrNone(cl.Credentials))
	}
	return w.Flush()
}

// maxChainFile bounds a certificate chain file read from disk.
const maxChainFile = 1 << 20

func (c Command) credentialCreate(ctx context.Context, st *store.Store, args []string) error {
	fs := flag.NewFlagSet("credential create", flag.ContinueOnError)
	label := fs.String("key-label", "", "label of the private key in the HSM (required)")
	chain := fs.String("chain", "", "PEM file of the certificate chain, leaf first (default: the certificate on the token)")
	mode := fs.String("activation", "none", "activation: none, pin or totp")
	display := fs.String("display-name", "", "signer's name as shown in visible signatures")
	position := fs.String("position", "", "signer's position as shown in visible signatures")
	cscURL := fs.String("csc-url", "", "a remote CSC service's https address (without /csc/v2) that holds the key; http only to a loopback host")
	cscCred := fs.String("csc-credential", "", "the credentialID of the key in the remote CSC service")
	cscKeyFile := fs.String("csc-key-file", "", "file holding the API key for the remote CSC service (read when signing; never stored or printed)")
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if *cscURL != "" || *cscCred != "" || *cscKeyFile != "" {
		return c.credentialCreateRemote(ctx, st, pos[0], *label, *mode, *chain, *display, *position,
			cscclient.Remote{URL: *cscURL, Credential: *cscCred, KeyFile: *cscKeyFile})
	}
	if *label == "" {
		fmt.Fprintln(c.Stderr, "esign admin credential create: --key-label is required")
		return c.usage(adminUsage)
	}
	m, err := store.ParseActivationMode(*mode)
	if err != nil {
		return err
	}
	cred := store.Credential{Name: pos[0], KeyLabel: *label, Activation: m, DisplayName: *display, Position: *position}
	if *chain != "" {
		if cred.ChainPEM, err = readlimit.File(*chain, maxChainFile); err != nil {
			return fmt.Errorf("certificate chain: %w", err)
		}
	}
	if err := st.CreateCredential(ctx, cred); err != nil {
		return err
	}
	fmt.Fprintf(c.Stderr, "credential %s created (activation %s)\n", cred.Name, m)
	if m != store.ActivationNone {
		cmd := map[store.ActivationMode]string{store.ActivationPIN: "set-pin", store.ActivationTOTP: "enrol-totp"}[m]
		fmt.Fprintf(c.Stderr, "it cannot sign until you run: esign admin credential %s %s\n", cmd, cred.Name)
	}
	return nil
}

// credentialCreateRemote makes a credential whose key is in a remote CSC
// service.
func (c Command) credentialCreateRemote(ctx context.Context, st *store.Store, name, label, mode, chain, display, position string, r cscclient.Remote) error {
	switch {
	case r.URL == "" || r.Credential == "" || r.KeyFile == "":
		fmt.Fprintln(c.Stderr, "esign admin credential create: --csc-url, --csc-credential and --csc-key-file go together")
		return c.usage(adminUsage)
	case label != "":
		fmt.Fprintln(c.Stderr, "esign admin credential create: --key-label is for HSM keys, not with --csc-url")
		return c.usage(adminUsage)
	case mode != string(store.ActivationNone):
		fmt.Fprintln(c.Stderr, "esign admin credential create: a remote key's activation is checked by its service; leave --activation none")
		return c.usage(adminUsage)
	}
	if err := r.Validate(); err != nil {
		return err
	}
	abs, err := filepath.Abs(r.KeyFile)
	if err != nil {
		return err
	}
	key, err := readlimit.File(abs, 4096)
	if err != nil {
		return fmt.Errorf("CSC API key file: %w", err)
	}
	if strings.TrimSpace(string(key)) == "" {
		return fmt.Errorf("CSC API key file %s is empty", abs)
	}
	r.KeyFile = abs
	cred := store.Credential{Name: name, KeyLabel: cscclient.LabelPrefix + r.Credential, Activation: store.ActivationNone,
		DisplayName: display, Position: position}
	if chain != "" {
		if cred.ChainPEM, err = readlimit.File(chain, maxChainFile); err != nil {
			return fmt.Errorf("certificate chain: %w", err)
		}
	}
	if err := st.CreateCredential(ctx, cred); err != nil {
		return err
	}
	if err := cscclient.Register(ctx, st, name, r); err != nil {
		return err
	}
	fmt.Fprintf(c.Stderr, "credential %s created: key %s at %s (API key read from %s when signing)\n", name, r.Credential, r.URL, abs)
	return nil
}

func (c Command) credentialList(ctx context.Context, st *store.Store, args []string) error {
	if _, err := c.parse(flag.NewFlagSet("credential list", flag.ContinueOnError), args, 0, 0); err != nil {
		return err
	}
	cs, err := st.ListCredentials(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	w := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tSTATUS\tACTIVATION\tENROLLED\tLOCKED UNTIL\tKEY LABEL\tCERTIFICATE\tDISPLAY NAME\tPOSITION")
	for _, cr := range cs {
		enrolled := map[store.ActivationMode]bool{store.ActivationNone: true, store.ActivationPIN: cr.HasPIN, store.ActivationTOTP: cr.HasTOTP}[cr.Activation]
		locked := "-"
		if now.Before(cr.LockedUntil) {
			locked = fmtTime(cr.LockedUntil)
		}
		cert := "(on token)"
		if chain, err := cr.Chain(); err != nil {
			cert = "(unreadable)"
		} else if len(chain) > 0 {
			cert = chain[0].Subject.CommonName
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cr.Name, status(cr.Disabled), cr.Activation,
			map[bool]string{true: "yes", false: "NO"}[enrolled], locked, cr.KeyLabel, cert, orDash(cr.DisplayName), orDash(cr.Position))
	}
	return w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// readPIN reads the PIN from $ESIGN_ADMIN_PIN_FILE, or else the first
// line of standard input. One trailing line ending is removed.
func (c Command) readPIN() ([]byte, error) {
	var raw []byte
	if path := c.Getenv("ESIGN_ADMIN_PIN_FILE"); path != "" {
		b, err := readlimit.File(path, store.MaxPINLen+2)
		if err != nil {
			return nil, fmt.Errorf("read PIN file: %w", err)
		}
		raw = b
	} else {
		if f, ok := c.Stdin.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				fmt.Fprint(c.Stderr, "new PIN (it will be shown as you type; prefer ESIGN_ADMIN_PIN_FILE): ")
			}
		}
		r := bufio.NewReaderSize(io.LimitReader(c.Stdin, store.MaxPINLen+2), store.MaxPINLen+2)
		line, err := r.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read PIN from standard input: %w", err)
		}
		if errors.Is(err, io.EOF) && len(line) == store.MaxPINLen+2 {
			return nil, fmt.Errorf("%w: the PIN is over %d bytes", store.ErrInvalid, store.MaxPINLen)
		}
		raw = line
	}
	pin := []byte(strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r"))
	if strings.ContainsAny(string(pin), "\r\n") {
		return nil, fmt.Errorf("%w: the PIN must be one line", store.ErrInvalid)
	}
	if len(pin) == 0 {
		return nil, fmt.Errorf("%w: no PIN given (set ESIGN_ADMIN_PIN_FILE or write it to standard input)", store.ErrInvalid)
	}
	return pin, nil
}

func (c Command) credentialSetPIN(ctx context.Context, st *store.Store, args []string) error {
	pos, err := c.parse(flag.NewFlagSet("credential set-pin", flag.ContinueOnError), args, 1, 1)
	if err != nil {
		return err
	}
	// Fail on an unknown credential before asking for the PIN.
	if _, err := st.Credential(ctx, pos[0]); err != nil {
		return err
	}
	pin, err := c.readPIN()
	if err != nil {
		return err
	}
	if err := st.SetPIN(ctx, pos[0], pin); err != nil {
		return err
	}
	fmt.Fprintf(c.Stderr, "PIN set for %s; it now signs only with that PIN\n", pos[0])
	return nil
}

func (c Command) credentialEnrolTOTP(ctx context.Context, st *store.Store, args []string) error {
	fs := flag.NewFlagSet("credential enrol-totp", flag.ContinueOnError)
	issuer := fs.String("issuer", "esign", "service name shown in the authenticator app")
	uriOut := fs.String("uri-out", "", "write the otpauth:// URI to this file instead of stdout")
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	uri, err := activation.EnrolTOTP(ctx, st, pos[0], *issuer, activation.TOTP{})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stderr, "TOTP enrolled for %s: give the signer this URI (as a QR code) for an authenticator app\n", pos[0])
	return c.showSecret("otpauth URI", uri, *uriOut)
}

func (c Command) credentialSetActivation(ctx context.Context, st *store.Store, args []string) error {
	pos, err := c.parse(flag.NewFlagSet("credential set-activation", flag.ContinueOnError), args, 2, 2)
	if err != nil {
		return err
	}
	m, err := store.ParseActivationMode(pos[1])
	if err != nil {
		return err
	}
	if err := st.SetActivationMode(ctx, pos[0], m); err != nil {
		return err
	}
	fmt.Fprintf(c.Stderr, "credential %s now needs activation %s\n", pos[0], m)
	return nil
}

func (c Command) credentialResetLockout(ctx context.Context, st *store.Store, args []string) error {
	pos, err := c.parse(flag.NewFlagSet("credential reset-lockout", flag.ContinueOnError), args, 1, 1)
	if err != nil {
		return err
	}
	if err := st.ResetLockout(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(c.Stderr, "lockout of %s cleared\n", pos[0])
	return nil
}

// Audit runs an `esign audit` command.
func (c Command) Audit(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return c.usage(auditUsage)
	}
	switch args[0] {
	case "verify":
		if len(args) != 1 {
			return c.usage(auditUsage)
		}
		return c.auditVerify(ctx)
	case "list":
		return c.auditList(ctx, args[1:])
	}
	fmt.Fprintf(c.Stderr, "esign audit: unknown command %q\n", args[0])
	return c.usage(auditUsage)
}

func (c Command) openLog(ctx context.Context) (*store.Store, *audit.Log, error) {
	st, err := c.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	l, err := audit.Open(ctx, st, audit.Options{})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, l, nil
}

func (c Command) auditVerify(ctx context.Context) error {
	st, l, err := c.openLog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := l.Verify(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "audit log verified: %d entries, head %s\n", rep.Entries, rep.Head)
	return nil
}

// jsonEntry is an audit entry as `esign audit list` prints it.
type jsonEntry struct {
	Seq          int64  `json:"seq"`
	Time         string `json:"time"`
	RequestID    string `json:"request_id,omitempty"`
	Client       string `json:"client"`
	Credential   string `json:"credential"`
	Batch        string `json:"batch,omitempty"`
	Ref          string `json:"ref,omitempty"`
	Action       string `json:"action,omitempty"`
	Document     string `json:"document_id,omitempty"`
	Reason       string `json:"reason,omitempty"`
	InputSHA256  string `json:"input_sha256,omitempty"`
	OutputSHA256 string `json:"output_sha256,omitempty"`
	Level        string `json:"level,omitempty"`
	Number       string `json:"doc_number,omitempty"`
	Date         string `json:"doc_date,omitempty"`
	Subject      string `json:"subject,omitempty"`
	Urgency      string `json:"urgency,omitempty"`
	Secrecy      string `json:"secrecy,omitempty"`
	Result       string `json:"result"`
	ErrorCode    string `json:"error_code,omitempty"`
	PrevHash     string `json:"prev_hash"`
	Hash         string `json:"hash"`
}

func (c Command) auditList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("audit list", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	after := fs.Int64("after", 0, "list entries after this sequence number")
	limit := fs.Int("limit", 100, "at most this many entries")
	batch := fs.String("batch", "", "list only this batch's entries")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 || *limit <= 0 {
		return c.usage(auditUsage)
	}
	st, l, err := c.openLog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	es, err := l.List(ctx, audit.Filter{After: *after, Batch: *batch}, *limit)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(c.Stdout)
	enc.SetEscapeHTML(false)
	for _, e := range es {
		if err := enc.Encode(jsonEntry{
			Seq: e.Seq, Time: store.FormatTime(e.Time), RequestID: e.RequestID, Client: e.Client, Credential: e.Credential,
			Batch: e.Batch, Ref: e.Ref, Action: string(e.Action), Document: e.Document, Reason: e.Reason,
			InputSHA256: hex.EncodeToString(e.InputSHA256), OutputSHA256: hex.EncodeToString(e.OutputSHA256), Level: e.Level,
			Number: e.Metadata.Number, Date: e.Metadata.Date, Subject: e.Metadata.Subject, Urgency: e.Metadata.Urgency,
			Secrecy: e.Metadata.Secrecy, Result: string(e.Result), ErrorCode: e.ErrorCode, PrevHash: e.PrevHash, Hash: e.Hash,
		}); err != nil {
			return err
		}
	}
	return nil
}

// documentJSON is an issued document as `esign admin document` prints
// it: what the issuing client sees, and who issued it with what.
type documentJSON struct {
	documentapi.View
	Client         string `json:"client"`
	Credential     string `json:"credential"`
	RevisionSHA256 string `json:"revision_sha256"`
	Batch          string `json:"batch,omitempty"`
	Ref            string `json:"ref,omitempty"`
}

func (c Command) printDocument(d *registry.Document) error {
	enc := json.NewEncoder(c.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(documentJSON{
		View: documentapi.ViewOf(d), Client: d.Client, Credential: d.Credential,
		RevisionSHA256: hex.EncodeToString(d.RevisionSHA256), Batch: d.Batch, Ref: d.Ref,
	})
}

func (c Command) documentShow(ctx context.Context, st *store.Store, args []string) error {
	pos, err := c.parse(flag.NewFlagSet("document show", flag.ContinueOnError), args, 1, 1)
	if err != nil {
		return err
	}
	reg, err := registry.Open(ctx, st, registry.Options{})
	if err != nil {
		return err
	}
	d, err := reg.Get(ctx, pos[0])
	if err != nil {
		return fmt.Errorf("document %s: %w", pos[0], err)
	}
	return c.printDocument(d)
}

// documentRevoke revokes a document of any client's, as an operator: the
// audit entry names the operator ("admin:" and $USER), not the issuing
// client.
func (c Command) documentRevoke(ctx context.Context, st *store.Store, args []string) error {
	fs := flag.NewFlagSet("document revoke", flag.ContinueOnError)
	reason := fs.String("reason", "", "why the document is revoked (required)")
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if strings.TrimSpace(*reason) == "" {
		fmt.Fprintln(c.Stderr, "esign admin document revoke: --reason is required")
		return c.usage(adminUsage)
	}
	reg, err := registry.Open(ctx, st, registry.Options{})
	if err != nil {
		return err
	}
	log, err := audit.Open(ctx, st, audit.Options{})
	if err != nil {
		return err
	}
	d, err := documentapi.Revoke(ctx, reg, log, documentapi.Revocation{
		ID: pos[0], Actor: c.actor(), Reason: *reason, RequestID: "esign-admin",
	})
	if err != nil {
		return fmt.Errorf("revoke document %s: %w", pos[0], err)
	}
	fmt.Fprintf(c.Stderr, "document %s revoked; the revocation is in the audit log\n", d.ID)
	return c.printDocument(d)
}

// actor names the operator in the audit log. Client names cannot hold a
// colon, so it is never taken for a client.
func (c Command) actor() string {
	user := c.Getenv("USER")
	if user == "" {
		user = c.Getenv("LOGNAME")
	}
	if user == "" {
		user = "unknown"
	}
	if len(user) > 64 {
		user = user[:64]
	}
	return "admin:" + user
}
