// Package keyscli implements `esign keys`, the operators' commands for the
// signing keys in the HSM: generate, csr, import-cert and list.
//
// The token is chosen by flags or environment variables (flags win):
//
//	--module        ESIGN_PKCS11_MODULE        PKCS#11 module (default hsm.DefaultModulePath)
//	--token         ESIGN_PKCS11_TOKEN         token label
//	--token-serial  ESIGN_PKCS11_TOKEN_SERIAL  token serial number
//	--uri           ESIGN_PKCS11_URI           RFC 7512 URI instead of the three above
//
// The PIN comes only from the environment: ESIGN_PKCS11_PIN_FILE (a file
// holding the PIN) or ESIGN_PKCS11_PIN (the PIN itself), or from the URI's
// pin-source. No flag takes a PIN, so a PIN never shows in a process list or
// a shell history.
package keyscli

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"esign/hsm"
)

// Environment variables read by Run.
const (
	EnvModule      = "ESIGN_PKCS11_MODULE"
	EnvToken       = "ESIGN_PKCS11_TOKEN"
	EnvTokenSerial = "ESIGN_PKCS11_TOKEN_SERIAL"
	EnvURI         = "ESIGN_PKCS11_URI"
	EnvPINFile     = "ESIGN_PKCS11_PIN_FILE"
	EnvPIN         = "ESIGN_PKCS11_PIN"
)

// maxCertFile bounds the certificate file import-cert reads.
const maxCertFile = 1 << 20

const usage = `usage: esign keys <command> [flags]

commands:
  generate     --label L [--alg RSA-3072]          generate a key pair in the token
  csr          --label L --subject-cn CN [--subject-o O] [--subject-ou OU]
               [--subject-c TH] [--out file.csr]    write a PEM certificate request
  import-cert  --label L --cert file.pem           store a certificate beside key L
                                                   (or on its own, e.g. a CA, if no key has label L)
  list                                             list keys and their certificates

token selection (every command): --module, --token, --token-serial or --uri,
or ESIGN_PKCS11_MODULE, ESIGN_PKCS11_TOKEN, ESIGN_PKCS11_TOKEN_SERIAL, ESIGN_PKCS11_URI.
PIN: ESIGN_PKCS11_PIN_FILE or ESIGN_PKCS11_PIN (never a flag), or the URI's pin-source.
Run "esign keys <command> -h" for the flags of a command.
`

// Run executes one `esign keys` command. args excludes "esign keys" itself;
// getenv supplies the environment (os.Getenv in production). Results go to
// stdout, flag errors and usage to stderr. A -h request returns nil.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("keys: missing command")
	}
	cmd, rest := args[0], args[1:]
	var run func(context.Context, *tokenFlags, []string, io.Writer, io.Writer) error
	switch cmd {
	case "generate":
		run = runGenerate
	case "csr":
		run = runCSR
	case "import-cert":
		run = runImportCert
	case "list":
		run = runList
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("keys: unknown command %q (want generate, csr, import-cert or list)", cmd)
	}
	err := run(ctx, &tokenFlags{getenv: getenv}, rest, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("keys %s: %w", cmd, err)
	}
	return nil
}

// tokenFlags are the token selection flags every command has.
type tokenFlags struct {
	getenv                     func(string) string
	module, token, serial, uri string
}

func (t *tokenFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.module, "module", "", "PKCS#11 module path (env "+EnvModule+", default "+hsm.DefaultModulePath+")")
	fs.StringVar(&t.token, "token", "", "token label (env "+EnvToken+")")
	fs.StringVar(&t.serial, "token-serial", "", "token serial number (env "+EnvTokenSerial+")")
	fs.StringVar(&t.uri, "uri", "", "PKCS#11 URI selecting module, token and PIN source (env "+EnvURI+")")
}

// newFlagSet makes a FlagSet for a command with the token flags added.
func newFlagSet(name string, t *tokenFlags, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("esign keys "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	t.register(fs)
	return fs
}

// parse parses args and rejects positional arguments. It points operators
// who try to pass a PIN to the environment variables.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if strings.Contains(err.Error(), "-pin") {
			return fmt.Errorf("%w: PINs are never taken from the command line; set %s or %s", err, EnvPINFile, EnvPIN)
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// config builds the hsm.Config and the key reference given by a URI.
func (t *tokenFlags) config() (hsm.Config, hsm.KeyRef, error) {
	env := t.getenv
	pick := func(flagValue, envName string) string {
		if flagValue != "" {
			return flagValue
		}
		return env(envName)
	}
	module := pick(t.module, EnvModule)
	token := pick(t.token, EnvToken)
	serial := pick(t.serial, EnvTokenSerial)
	uri := pick(t.uri, EnvURI)

	var cfg hsm.Config
	var ref hsm.KeyRef
	if uri != "" {
		var err error
		cfg, ref, err = hsm.ParseURI(uri)
		if err != nil {
			return hsm.Config{}, hsm.KeyRef{}, err
		}
		if token != "" || serial != "" {
			return hsm.Config{}, hsm.KeyRef{}, fmt.Errorf("the token is given twice: by a PKCS#11 URI and by --token/--token-serial or %s/%s; use one", EnvToken, EnvTokenSerial)
		}
		if cfg.TokenLabel == "" && cfg.TokenSerial == "" {
			return hsm.Config{}, hsm.KeyRef{}, errors.New("the PKCS#11 URI names no token: add token=LABEL or serial=SERIAL")
		}
		if module != "" && cfg.ModulePath != "" && module != cfg.ModulePath {
			return hsm.Config{}, hsm.KeyRef{}, fmt.Errorf("module given twice: %s in the URI and %s by --module or %s", cfg.ModulePath, module, EnvModule)
		}
	} else {
		if token == "" && serial == "" {
			return hsm.Config{}, hsm.KeyRef{}, fmt.Errorf("no token selected: use --token, --token-serial or --uri, or set %s, %s or %s", EnvToken, EnvTokenSerial, EnvURI)
		}
		cfg.TokenLabel, cfg.TokenSerial = token, serial
	}
	if cfg.ModulePath == "" {
		cfg.ModulePath = module
	}

	pin, err := t.pin(cfg.PINSource)
	if err != nil {
		return hsm.Config{}, hsm.KeyRef{}, err
	}
	cfg.PIN, cfg.PINSource = pin, ""
	return cfg, ref, nil
}

// pin reads the PIN from the one place it is given.
func (t *tokenFlags) pin(uriSource string) (string, error) {
	var sources []string
	if uriSource != "" {
		sources = append(sources, "the URI's pin-source")
	}
	pinFile, pinValue := t.getenv(EnvPINFile), t.getenv(EnvPIN)
	if pinFile != "" {
		sources = append(sources, EnvPINFile)
	}
	if pinValue != "" {
		sources = append(sources, EnvPIN)
	}
	switch {
	case len(sources) == 0:
		return "", fmt.Errorf("no PIN: set %s to a file holding the PIN, or %s", EnvPINFile, EnvPIN)
	case len(sources) > 1:
		return "", fmt.Errorf("PIN given by %s: set only one", strings.Join(sources, " and "))
	}
	switch {
	case uriSource != "":
		if name, ok := strings.CutPrefix(uriSource, "env:"); ok {
			// Read through getenv, not the process environment.
			v := strings.TrimRight(t.getenv(name), "\r\n")
			if v == "" {
				return "", fmt.Errorf("PIN source: environment variable %s is unset or empty", name)
			}
			return v, nil
		}
		return hsm.ReadPIN(uriSource)
	case pinFile != "":
		return hsm.ReadPIN("file:" + pinFile)
	default:
		v := strings.TrimRight(pinValue, "\r\n")
		if v == "" {
			return "", fmt.Errorf("%s is empty", EnvPIN)
		}
		return v, nil
	}
}

// open opens the KeyManager and works out the key label: --label, else the
// URI's object.
func (t *tokenFlags) open(ctx context.Context, label string, needLabel bool) (*hsm.KeyManager, hsm.Config, hsm.KeyRef, error) {
	cfg, ref, err := t.config()
	if err != nil {
		return nil, cfg, ref, err
	}
	if label != "" {
		ref = hsm.KeyRef{Label: label}
	}
	if needLabel && ref.Label == "" && len(ref.ID) == 0 {
		return nil, cfg, ref, errors.New("--label is required")
	}
	m, err := hsm.Open(ctx, cfg)
	if err != nil {
		return nil, cfg, ref, err
	}
	return m, cfg, ref, nil
}

func tokenName(cfg hsm.Config) string {
	if cfg.TokenLabel != "" {
		return fmt.Sprintf("token %q", cfg.TokenLabel)
	}
	return "token with serial " + cfg.TokenSerial
}

func runGenerate(ctx context.Context, t *tokenFlags, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("generate", t, stderr)
	label := fs.String("label", "", "label (CKA_LABEL) of the new key")
	alg := fs.String("alg", string(hsm.RSA3072), fmt.Sprintf("key algorithm: one of %v", hsm.Algorithms()))
	if err := parse(fs, args); err != nil {
		return err
	}
	m, cfg, ref, err := t.open(ctx, *label, true)
	if err != nil {
		return err
	}
	defer m.Close()
	if ref.Label == "" {
		return errors.New("--label is required: a new key needs a label")
	}
	s, err := m.CreateKey(ctx, ref.Label, hsm.Algorithm(*alg))
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		return fmt.Errorf("encode public key: %w", err)
	}
	id := "?"
	if keys, err := m.List(ctx); err == nil {
		for _, k := range keys {
			if k.Label == ref.Label {
				id = k.ID
			}
		}
	}
	fmt.Fprintf(stdout, "Generated %s key %q (id %s) in %s.\n", *alg, ref.Label, id, tokenName(cfg))
	return pem.Encode(stdout, &pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
}

func runCSR(ctx context.Context, t *tokenFlags, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("csr", t, stderr)
	label := fs.String("label", "", "label of the key to certify")
	cn := fs.String("subject-cn", "", "subject common name (UTF-8, e.g. a Thai name)")
	o := fs.String("subject-o", "", "subject organisation")
	ou := fs.String("subject-ou", "", "subject organisational unit")
	c := fs.String("subject-c", "", "subject country, two letters (e.g. TH)")
	out := fs.String("out", "", `file to write the PEM CSR to (default or "-": standard output)`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cn == "" {
		return errors.New("--subject-cn is required")
	}
	if *c != "" && !isCountryCode(*c) {
		return fmt.Errorf("--subject-c %q: want a two-letter country code such as TH", *c)
	}
	subject := pkix.Name{CommonName: *cn}
	if *o != "" {
		subject.Organization = []string{*o}
	}
	if *ou != "" {
		subject.OrganizationalUnit = []string{*ou}
	}
	if *c != "" {
		subject.Country = []string{strings.ToUpper(*c)}
	}

	m, _, ref, err := t.open(ctx, *label, true)
	if err != nil {
		return err
	}
	defer m.Close()
	s, err := m.Signer(ctx, ref)
	if err != nil {
		return err
	}
	der, err := hsm.CreateCSR(s, subject, nil)
	if err != nil {
		return err
	}
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	if *out == "" || *out == "-" {
		_, err := stdout.Write(block)
		return err
	}
	if err := os.WriteFile(*out, block, 0o644); err != nil {
		return fmt.Errorf("write CSR: %w", err)
	}
	fmt.Fprintf(stdout, "Wrote certificate request for key %s to %s.\n", ref, *out)
	return nil
}

func isCountryCode(s string) bool {
	if len(s) != 2 {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') {
			return false
		}
	}
	return true
}

func runImportCert(ctx context.Context, t *tokenFlags, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import-cert", t, stderr)
	label := fs.String("label", "", "label of the key the certificate belongs to, or of a CA certificate to store on its own")
	certFile := fs.String("cert", "", "certificate file, PEM or DER")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *certFile == "" {
		return errors.New("--cert is required")
	}
	cert, err := readCertificate(*certFile)
	if err != nil {
		return err
	}
	m, _, ref, err := t.open(ctx, *label, true)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.ImportCertificate(ctx, ref, cert); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Stored certificate %q (valid until %s) under %s.\n",
		cert.Subject.String(), cert.NotAfter.UTC().Format("2006-01-02"), ref)
	return nil
}

// readCertificate reads exactly one certificate from a PEM or DER file.
func readCertificate(path string) (*x509.Certificate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCertFile+1))
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	if len(data) > maxCertFile {
		return nil, fmt.Errorf("certificate file %s is larger than %d bytes", path, maxCertFile)
	}
	if !strings.Contains(string(data), "-----BEGIN") {
		cert, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("%s is neither PEM nor a DER certificate: %w", path, err)
		}
		return cert, nil
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d in %s: %w", len(certs)+1, path, err)
		}
		certs = append(certs, cert)
	}
	switch len(certs) {
	case 0:
		return nil, fmt.Errorf("%s holds no CERTIFICATE block", path)
	case 1:
		return certs[0], nil
	}
	return nil, fmt.Errorf("%s holds %d certificates: import one at a time, the chain's CA certificates under labels of their own", path, len(certs))
}

func runList(ctx context.Context, t *tokenFlags, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("list", t, stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	m, cfg, _, err := t.open(ctx, "", false)
	if err != nil {
		return err
	}
	defer m.Close()
	keys, err := m.List(ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		fmt.Fprintf(stdout, "No keys in %s.\n", tokenName(cfg))
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LABEL\tID\tALGORITHM\tCERTIFICATE\tNOT AFTER")
	for _, k := range keys {
		subject, notAfter := "-", "-"
		if k.HasCertificate {
			subject = k.Subject
			notAfter = k.NotAfter.UTC().Format("2006-01-02")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.Label, k.ID, k.Algorithm, subject, notAfter)
	}
	return tw.Flush()
}
