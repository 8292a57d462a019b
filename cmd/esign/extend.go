package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"esign/config"
	"esign/extend"
	"esign/internal/atomicfile"
	"esign/renew"
	"esign/service"
	"esign/signer"
)

func cmdExtend(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("esign extend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: esign extend [-level B-LTA] [-password-file FILE] [-dev] IN.pdf OUT.pdf")
		fs.PrintDefaults()
	}
	level := fs.String("level", "B-LTA", "PAdES level to reach: B-LT or B-LTA")
	dev := fs.Bool("dev", false, "use the development stack in $ESIGN_DATA_DIR (its TSA, PKI and root)")
	passwordFile := fs.String("password-file", "", "file holding the password of an encrypted PDF (user or owner); default the empty user password")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errUsage
	}
	lvl, err := extendLevel(*level)
	if err != nil {
		return err
	}
	password, err := readPassword(*passwordFile)
	if err != nil {
		return err
	}
	in, out := fs.Arg(0), fs.Arg(1)
	if absPath(in) == absPath(out) {
		return errors.New("OUT.pdf must differ from IN.pdf: the input is never overwritten (esign renew works in place)")
	}
	svc, stop, err := openExtender(ctx, getenv, *dev)
	if err != nil {
		return err
	}
	defer stop()
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	res, err := svc.Extender.ExtendWith(ctx, f, st.Size(), extend.Options{Level: lvl, Password: password})
	if err != nil {
		return fmt.Errorf("extend %s: %s", in, describe(err))
	}
	if err := atomicfile.WriteFrom(out, 0o644, func(w io.Writer) error {
		_, err := res.Write(w, f)
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "extended %s -> %s (%s, %d bytes)\n", in, out, res.Level, res.Size())
	return nil
}

func cmdRenew(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("esign renew", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: esign renew [-within 8760h] [-level B-LTA] [-dry-run] [-password-file FILE] [-dev] FILE_OR_DIR...")
		fs.PrintDefaults()
	}
	within := fs.Duration("within", renew.DefaultWithin, "renew files whose newest document timestamp's TSA certificate (or, without one, signer certificate) expires within this")
	level := fs.String("level", "B-LTA", "PAdES level to reach: B-LT or B-LTA")
	dryRun := fs.Bool("dry-run", false, "list what would be renewed and why, and change nothing")
	dev := fs.Bool("dev", false, "use the development stack in $ESIGN_DATA_DIR (its TSA, PKI and root)")
	passwordFile := fs.String("password-file", "", "file holding the password of encrypted PDFs (user or owner), tried on every file; default the empty user password")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() == 0 || *within <= 0 {
		fs.Usage()
		return errUsage
	}
	lvl, err := extendLevel(*level)
	if err != nil {
		return err
	}
	files, err := renew.Files(fs.Args())
	if err != nil {
		return err
	}
	password, err := readPassword(*passwordFile)
	if err != nil {
		return err
	}
	opts := renew.Options{Within: *within, Level: lvl, DryRun: *dryRun, Password: password}
	if !*dryRun {
		svc, stop, err := openExtender(ctx, getenv, *dev)
		if err != nil {
			return err
		}
		defer stop()
		opts.Extender = svc.Extender
	}
	p := newRenewProgress(stdout, len(files), *dryRun)
	opts.Progress = p.step
	results, err := renew.Run(ctx, files, opts)
	p.end()
	summarize(stdout, results, *dryRun)
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range results {
		if r.Outcome == renew.Failed {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d file(s) failed", failed, len(results))
	}
	return nil
}

func extendLevel(s string) (signer.Level, error) {
	switch l := signer.Level(s); l {
	case signer.LevelLT, signer.LevelLTA:
		return l, nil
	}
	return "", fmt.Errorf("-level %q: want B-LT or B-LTA", s)
}

// openExtender assembles the service as esign sign does and, in
// development mode, answers for the development services the
// certificates point at while the command runs.
func openExtender(ctx context.Context, getenv func(string) string, dev bool) (*service.Service, func(), error) {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return nil, nil, err
	}
	cfg.Dev = cfg.Dev || dev
	svc, err := openService(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	stop := func() { svc.Close() }
	if svc.Dev != nil {
		if stopServe, err := serveDevServices(cfg.Addr, svc.API.Handler()); err == nil {
			stop = func() { stopServe(); svc.Close() }
		}
	}
	return svc, stop, nil
}

// describe adds the verifier's reasons to a refusal.
func describe(err error) string {
	var ne *extend.NotExtendableError
	if errors.As(err, &ne) {
		return "not extendable:\n  " + strings.Join(ne.Reasons, "\n  ")
	}
	return err.Error()
}

// renewProgress shows a bar on a terminal and, elsewhere, one plain line
// per file, as esign batch does.
type renewProgress struct {
	w      io.Writer
	bar    *progressbar.ProgressBar
	dryRun bool
}

func newRenewProgress(w io.Writer, total int, dryRun bool) *renewProgress {
	p := &renewProgress{w: w, dryRun: dryRun}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && total > 0 {
		desc := "renewing"
		if dryRun {
			desc = "checking"
		}
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("files"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionFullWidth(),
			progressbar.OptionThrottle(100*time.Millisecond),
		)
	}
	return p
}

func (p *renewProgress) step(done, total int, r renew.Result) {
	if p.bar != nil {
		p.bar.Set(done)
		return
	}
	fmt.Fprintf(p.w, "[%d/%d] %s: %s\n", done, total, r.Path, r.Outcome)
}

func (p *renewProgress) end() {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}

// summarize prints the counts, then what is due (in a dry run) or what
// failed, with why.
func summarize(w io.Writer, results []renew.Result, dryRun bool) {
	count := map[renew.Outcome]int{}
	for _, r := range results {
		count[r.Outcome]++
	}
	if dryRun {
		fmt.Fprintf(w, "would renew %d, not due %d, failed %d\n", count[renew.Due], count[renew.NotDue], count[renew.Failed])
	} else {
		fmt.Fprintf(w, "renewed %d, not due %d, failed %d\n", count[renew.Renewed], count[renew.NotDue], count[renew.Failed])
	}
	for _, r := range results {
		switch r.Outcome {
		case renew.Due:
			fmt.Fprintf(w, "would renew %s: %s\n", r.Path, r.Why)
		case renew.Renewed:
			fmt.Fprintf(w, "renewed %s: %s\n", r.Path, r.Why)
		case renew.Failed:
			fmt.Fprintf(w, "failed %s: %s\n", r.Path, describe(r.Err))
		}
	}
}
