package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"esign/config"
	"esign/verify"
	"esign/verifyapi"
)

// errNotPassed is the exit status of a document that did not pass; the
// report itself has said why.
var errNotPassed = errors.New("the document did not pass validation")

func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("esign verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: esign verify [-json] [-dev] [-password-file FILE] FILE.pdf")
		fs.PrintDefaults()
	}
	asJSON := fs.Bool("json", false, "print the JSON report, as POST /api/v1/verify returns it")
	dev := fs.Bool("dev", false, "trust the development root in $ESIGN_DATA_DIR/pki")
	passwordFile := fs.String("password-file", "", "file holding the password of an encrypted PDF (user or owner); default the empty user password")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	cfg.Dev = cfg.Dev || *dev
	vc, err := verifyapi.VerifyConfig(cfg)
	if err != nil {
		return err
	}
	if vc.Password, err = readPassword(*passwordFile); err != nil {
		return err
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	rep, err := verify.Verify(ctx, f, st.Size(), vc)
	if err != nil {
		return fmt.Errorf("verify %s: %w", fs.Arg(0), err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(stdout, fs.Arg(0), rep)
	}
	if rep.Document.Indication != verify.TotalPassed {
		return errNotPassed
	}
	return nil
}

func printReport(w io.Writer, name string, rep *verify.Report) {
	d := rep.Document
	fmt.Fprintf(w, "%s: %s", name, d.Indication)
	if d.SubIndication != "" {
		fmt.Fprintf(w, " (%s)", d.SubIndication)
	}
	fmt.Fprintf(w, "\n  %s\n", d.Summary)
	fmt.Fprintf(w, "  %d signature(s), %d document timestamp(s), %d revision(s), certification %s\n",
		d.SignatureCount-d.DocumentTimestampCount, d.DocumentTimestampCount, d.Revisions, d.Certification)
	if d.Encrypted {
		fmt.Fprintf(w, "  encrypted: %s\n", d.Encryption)
	}
	for _, warn := range d.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
	for i, s := range rep.Signatures {
		fmt.Fprintf(w, "\n#%d %s (%s): %s", i+1, s.Field, s.Kind, s.Indication)
		if s.SubIndication != "" {
			fmt.Fprintf(w, " / %s", s.SubIndication)
		}
		fmt.Fprintln(w)
		if s.Signer != nil {
			fmt.Fprintf(w, "  signer:      %s", s.Signer.CommonName)
			if s.Signer.Organization != "" {
				fmt.Fprintf(w, ", %s", s.Signer.Organization)
			}
			fmt.Fprintln(w)
		}
		if s.Level != "" {
			fmt.Fprintf(w, "  level:       %s\n", s.Level)
		}
		if s.SigningTime != nil {
			fmt.Fprintf(w, "  claimed:     %s\n", s.SigningTime.Format(time.RFC3339))
		}
		if s.TimestampTime != nil {
			fmt.Fprintf(w, "  timestamp:   %s (%s)\n", s.TimestampTime.Format(time.RFC3339), s.TSA)
		}
		if s.ProvenTime != nil && s.ProvenBy == verify.ProvenByDocumentTimestamp {
			fmt.Fprintf(w, "  proven:      %s (document timestamp %s)\n", s.ProvenTime.Format(time.RFC3339), s.ProvenByField)
		}
		if len(s.Chain) > 0 {
			fmt.Fprintf(w, "  chain:       %s\n", strings.Join(s.Chain, " → "))
		}
		coverage := "the whole document"
		if !s.CoversWholeDocument {
			coverage = fmt.Sprintf("revision %d of %d", s.Revision, d.Revisions)
		}
		fmt.Fprintf(w, "  covers:      %s\n", coverage)
		for _, m := range s.Modifications {
			fmt.Fprintf(w, "  CHANGED:     %s\n", m.Description)
		}
		for _, e := range s.Errors {
			fmt.Fprintf(w, "  error:       %s\n", e)
		}
		for _, warn := range s.Warnings {
			fmt.Fprintf(w, "  warning:     %s\n", warn)
		}
	}
}
