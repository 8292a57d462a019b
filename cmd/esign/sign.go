package main

import (
	"context"
	"crypto"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"esign/config"
	"esign/internal/atomicfile"
	"esign/signer"
	"esign/store"
)

func cmdSign(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("esign sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: esign sign [flags] IN.pdf OUT.pdf")
		fs.PrintDefaults()
	}
	credName := fs.String("signer", "", "signer credential name (required)")
	level := fs.String("level", "B-LT", "PAdES level: B-B, B-T, B-LT or B-LTA")
	reason := fs.String("reason", "", "reason for signing")
	location := fs.String("location", "", "location of signing")
	contact := fs.String("contact", "", "contact information")
	certify := fs.String("certify", "none", "certify the document: none, 1, 2 or 3 (DocMDP P)")
	field := fs.String("field", "", "signature field name (an existing empty field is filled)")
	hashName := fs.String("hash", "SHA-256", "digest: SHA-256, SHA-384 or SHA-512")
	pss := fs.Bool("pss", false, "RSASSA-PSS instead of PKCS#1 v1.5 for RSA keys")
	dev := fs.Bool("dev", false, "use the development stack in $ESIGN_DATA_DIR")
	activationFile := fs.String("activation-file", "", "file holding the signer's PIN or TOTP code, for credentials that need one")
	passwordFile := fs.String("password-file", "", "file holding the password of an encrypted PDF (user or owner); default the empty user password")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 2 || *credName == "" {
		fs.Usage()
		return errUsage
	}
	in, out := fs.Arg(0), fs.Arg(1)
	if absPath(in) == absPath(out) {
		return errors.New("OUT.pdf must differ from IN.pdf: the input is never overwritten")
	}
	opts := signer.Options{Reason: *reason, Location: *location, ContactInfo: *contact, Field: *field, PSS: *pss}
	var err error
	if opts.Password, err = readPassword(*passwordFile); err != nil {
		return err
	}
	if opts.Level, err = signer.ParseLevel(*level); err != nil {
		return err
	}
	switch *certify {
	case "none", "":
	case "1", "2", "3":
		opts.Certify, _ = strconv.Atoi(*certify)
	default:
		return fmt.Errorf("-certify %q: want none, 1, 2 or 3", *certify)
	}
	switch *hashName {
	case "SHA-256", "sha256":
		opts.Hash = crypto.SHA256
	case "SHA-384", "sha384":
		opts.Hash = crypto.SHA384
	case "SHA-512", "sha512":
		opts.Hash = crypto.SHA512
	default:
		return fmt.Errorf("-hash %q: want SHA-256, SHA-384 or SHA-512", *hashName)
	}

	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	cfg.Dev = cfg.Dev || *dev
	svc, err := openService(ctx, cfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	if svc.Dev != nil {
		// The development certificates point at the service's address for
		// their TSA, OCSP and CRL. When esignd is not running, answer there
		// from this process for as long as the command runs.
		if stopServe, err := serveDevServices(cfg.Addr, svc.API.Handler()); err == nil {
			defer stopServe()
		}
	}
	stored, cred, err := svc.Credential(ctx, *credName)
	if err != nil {
		return err
	}
	// Local signing needs the signer's activation too, when the credential
	// asks for it: from a file, never from the command line.
	if stored.Activation != store.ActivationNone {
		data := ""
		if *activationFile != "" {
			b, err := os.ReadFile(*activationFile)
			if err != nil {
				return fmt.Errorf("activation data: %w", err)
			}
			data = strings.TrimRight(string(b), "\r\n")
		}
		if err := svc.Activator.Activate(ctx, *credName, data); err != nil {
			return fmt.Errorf("credential %q needs its activation data (-activation-file): %w", *credName, err)
		}
	}
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	res, err := svc.Signer.Sign(ctx, f, st.Size(), cred, opts)
	if err != nil {
		return fmt.Errorf("sign %s: %w", in, err)
	}
	if err := atomicfile.WriteFrom(out, 0o644, func(w io.Writer) error {
		_, err := res.Write(w, f)
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "signed %s -> %s (%s, field %s, %d bytes)\n", in, out, res.Level, res.Field, res.Size())
	return nil
}

// readPassword reads an encrypted PDF's password from a file, never from
// the command line, where other users see it: the first line, as typed.
func readPassword(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("password file: %w", err)
	}
	return []byte(strings.TrimRight(string(b), "\r\n")), nil
}

func absPath(p string) string {
	a, _ := filepath.Abs(p)
	return a
}

// serveDevServices serves h on addr if the address is free.
func serveDevServices(addr string, h http.Handler) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return func() { srv.Close() }, nil
}
