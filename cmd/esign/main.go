// Package main is esign, the operators' command-line tool.
//
//	esign sign    [flags] IN.pdf OUT.pdf   sign locally with the service's configuration
//	esign verify  [-json] FILE.pdf         validate; exit status 0 only for TOTAL-PASSED
//	esign extend  [-level B-LTA] IN.pdf OUT.pdf   bring a signed PDF to B-LT or B-LTA
//	esign renew   [-within 8760h] [-level B-LTA] [-dry-run] FILE_OR_DIR…   renew an archive in place
//	esign keys    generate|csr|import-cert|list
//	esign admin   client …|credential …
//	esign batch   sign|status|cancel        many PDFs through a server's batch API
//	esign audit   verify|list
//	esign dev     init
//
// Configuration comes from the environment, as for esignd; PINs and keys
// are never taken from arguments. `esign batch` is a client of a running
// service instead: its address comes from -server or $ESIGN_SERVER, its
// API key from -key-file or $ESIGN_API_KEY_FILE.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"esign/admincli"
	"esign/batchcli"
)

const usage = `usage: esign <command> [arguments]

commands:
  sign     sign a PDF locally (esign sign -h for flags)
  verify   validate the signatures of a PDF (-json for the report)
  extend   bring a signed PDF to B-LT or B-LTA (esign extend -h for flags)
  renew    renew the document timestamps of an archive in place (esign renew -h)
  keys     manage HSM keys: generate, csr, import-cert, list
  admin    manage API clients and signer credentials (esign admin help)
  batch    sign many PDFs through a server's batch API: sign, status, cancel (esign batch help)
  audit    verify or list the audit log: esign audit verify
  dev      development stack: init
`

// errUsage marks errors that come with the usage text already printed.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) && !errors.Is(err, errNotPassed) {
			fmt.Fprintln(os.Stderr, "esign:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "sign":
		return cmdSign(ctx, args[1:], stdout, stderr, getenv)
	case "verify":
		return cmdVerify(ctx, args[1:], stdout, stderr, getenv)
	case "extend":
		return cmdExtend(ctx, args[1:], stdout, stderr, getenv)
	case "renew":
		return cmdRenew(ctx, args[1:], stdout, stderr, getenv)
	case "keys":
		return cmdKeys(ctx, args[1:], stdout, stderr, getenv)
	case "admin":
		return usageErr(admincli.Run(ctx, args[1:], stdout, stderr, getenv))
	case "audit":
		return usageErr(admincli.RunAudit(ctx, args[1:], stdout, stderr, getenv))
	case "batch":
		return usageErr(batchcli.Run(ctx, args[1:], stdout, stderr, getenv))
	case "dev":
		return cmdDev(ctx, args[1:], stdout, stderr, getenv)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "esign: unknown command %q\n%s", args[0], usage)
	return errUsage
}

// usageErr maps the subcommand packages' usage errors onto ours: the
// text is printed.
func usageErr(err error) error {
	if errors.Is(err, admincli.ErrUsage) || errors.Is(err, batchcli.ErrUsage) {
		return errUsage
	}
	return err
}
