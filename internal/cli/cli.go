// Package cli is Attaché's command line and composition root: it parses the
// subcommand and its configuration, wires the packages together and runs.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/attache-org/attache/internal/access"
	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/config"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/i18n"
	"github.com/attache-org/attache/internal/names"
	"github.com/attache-org/attache/internal/notify"
	"github.com/attache-org/attache/internal/problem"
)

// IO is the program's standard streams and environment.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string

	// The messages' catalog and language (LC_ALL, LC_MESSAGES, LANG), set
	// by Run.
	catalog *i18n.Catalog
	lang    string
}

// T is msg in the language of the environment (English without one the
// catalog has).
func (s IO) T(msg string, args ...any) string { return s.catalog.T(s.lang, msg, args...) }

// say writes msg to standard output, in the environment's language, on a
// line of its own.
func (s IO) say(msg string, args ...any) { fmt.Fprintln(s.Stdout, s.T(msg, args...)) }

// envLang is the language of the locale the environment names (POSIX:
// LC_ALL, then LC_MESSAGES, then LANG; "fr_CA.UTF-8" is French).
func envLang(getenv func(string) string) string {
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if l := getenv(v); l != "" {
			base, _, _ := strings.Cut(strings.ToLower(l), "_")
			base, _, _ = strings.Cut(base, ".")
			base, _, _ = strings.Cut(base, "@")
			return base
		}
	}
	return ""
}

// Version is set at build time with -ldflags "-X …/internal/cli.Version=v1.2.3";
// otherwise the VCS revision the binary was built from is shown.
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			if dirty {
				rev += "+dirty"
			}
			return "dev-" + rev
		}
	}
	return "dev"
}

const usage = `Attaché: consular access for nationals detained abroad.

Usage:
  attache serve [--addr HOST:PORT] [--data DIR] [--database URL] [--demo] [flags]
  attache migrate                      apply database migrations
  attache user add --username NAME --role ROLE [--name "Full Name"] [--post P] [--desk D] [--password-stdin]
  attache user passwd NAME [--password-stdin]
  attache user list
  attache token create --user NAME [--name LABEL]
  attache audit verify                 check the audit log's hash chain
  attache backup FILE                  consistent copy of the SQLite database, safe while serving
  attache nodes [--json]               the nodes serving this database, their state and calls
  attache bench search [--people N] [--queries N] [--database URL]
                                       time the name search on generated people (empty database)
  attache recording verify --recording-key FILE [--sha256 HEX] FILE...
                                       check recordings: fingerprint, decryption, format
  attache recording purge              delete the recordings past their retention (not under legal hold)
  attache loadtest [--visits N] [--duration D] [--video-kbps K] [--pin] [--cpuprofile FILE]
                                       load-test the media server with two-party visits on 127.0.0.1
  attache version

Every flag but the load test's can also be set with an ATTACHE_* environment variable
(--database is ATTACHE_DATABASE). Run "attache COMMAND -h" for a command's flags.
`

// errUsage marks errors that are the caller's mistake in calling; they are
// printed with a hint instead of as failures.
type errUsage struct{ msg problem.Text }

func (e errUsage) Error() string { return e.msg.String() }

func usageErr(format string, args ...any) errUsage { return errUsage{problem.Textf(format, args...)} }

// Run runs the program with args (without the program name) and returns the
// exit code: 0 on success, 1 on failure, 2 on a usage error.
func Run(ctx context.Context, args []string, stdio IO) int {
	if stdio.Getenv == nil {
		stdio.Getenv = func(string) string { return "" }
	}
	if c, err := i18n.Load(); err == nil { // the embedded catalogs, checked by the tests
		stdio.catalog, stdio.lang = c, c.Match(envLang(stdio.Getenv), "")
	}
	err := run(ctx, args, stdio)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	var ue errUsage
	if errors.As(err, &ue) {
		fmt.Fprintf(stdio.Stderr, "attache: %s\n%s\n", ue.msg.Localize(stdio.T), stdio.T("Run \"attache help\" for usage."))
		return 2
	}
	fmt.Fprintf(stdio.Stderr, "attache: %s\n", strings.ReplaceAll(explain(stdio, err).Error(), "\n", "\n  "))
	return 1
}

func run(ctx context.Context, args []string, stdio IO) error {
	if len(args) == 0 {
		fmt.Fprint(stdio.Stderr, usage)
		return usageErr("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdio)
	case "migrate":
		return migrate(ctx, rest, stdio)
	case "user":
		return user(ctx, rest, stdio)
	case "token":
		return token(ctx, rest, stdio)
	case "audit":
		return auditCmd(ctx, rest, stdio)
	case "backup":
		return backup(ctx, rest, stdio)
	case "nodes":
		return nodesCmd(ctx, rest, stdio)
	case "bench":
		return bench(ctx, rest, stdio)
	case "loadtest":
		return loadtestCmd(ctx, rest, stdio)
	case "recording":
		return recordingCmd(ctx, rest, stdio)
	case loadtestServerCmd: // hidden: the load test's server process
		return loadtestServer(ctx, rest, stdio)
	case "version":
		fmt.Fprintf(stdio.Stdout, "attache %s\n", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdio.Stdout, usage)
		return nil
	}
	return usageErr("unknown command %q", cmd)
}

// parse reads a subcommand's configuration; extra binds its own flags.
func parse(name string, scope config.Scope, args []string, stdio IO, extra func(fs *flag.FlagSet)) (config.Config, []string, error) {
	cfg := config.Default()
	fs := cfg.FlagSet("attache "+name, scope, stdio.Stderr)
	if extra != nil {
		extra(fs)
	}
	rest, err := cfg.Parse(fs, args, stdio.Getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, nil, err
		}
		return cfg, nil, fmt.Errorf("configuration: %w", err)
	}
	return cfg, rest, nil
}

// services are the pieces every subcommand that touches data needs.
type services struct {
	db     *db.DB
	audit  *audit.Log
	auth   *auth.Service
	cases  *cases.Service
	access *access.Service
	log    *slog.Logger
}

func open(ctx context.Context, cfg config.Config, stdio IO) (*services, error) {
	log := cfg.Logger(stdio.Stderr)
	d, err := db.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if err := notify.Migrate(ctx, d); err != nil {
		d.Close()
		return nil, err
	}
	a := audit.New(d)
	as := auth.NewService(d, a, log)
	as.SessionIdle, as.SessionMax = cfg.SessionIdle, cfg.SessionMax
	if w, err := auth.NewWebAuthn(cfg.PublicURL(), "Attaché"); err != nil {
		log.Warn("security keys and passkeys are off", slog.String("reason", err.Error()))
	} else {
		as.WebAuthn = w
	}
	folder, err := names.NewFolder()
	if err != nil {
		d.Close()
		return nil, err
	}
	cs := cases.NewService(d, a, folder)
	acc := access.NewService(d, a, cs, cfg.SendingState)
	if err := acc.SeedProfiles(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return &services{db: d, audit: a, auth: as, cases: cs, access: acc, log: log}, nil
}

func (s *services) close() { s.db.Close() }

// readPassword reads one line from stdin, for --password-stdin.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input")
	}
	return line, nil
}
