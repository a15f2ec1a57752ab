package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cluster"
	"github.com/attache-org/attache/internal/config"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/loadtest"
	"github.com/attache-org/attache/internal/notify"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/searchbench"
)

// cliActor is the audit actor of an operator at the command line.
func cliActor() audit.Actor {
	name := "operator"
	if u := os.Getenv("USER"); u != "" {
		name = u
	}
	return audit.Actor{ID: "cli", Name: name}
}

func migrate(ctx context.Context, args []string, stdio IO) error {
	cfg, _, err := parse("migrate", config.Storage, args, stdio, nil)
	if err != nil {
		return err
	}
	d, err := db.Connect(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	defer d.Close()
	applied, err := d.Apply(ctx)
	if err != nil {
		return err
	}
	// The notice queue's own tables (River's migrations).
	if err := notify.Migrate(ctx, d); err != nil {
		return err
	}
	v, err := d.Version(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		stdio.say("The database is up to date (schema version %d).", v)
	} else {
		stdio.say("Applied migrations %v; schema version %d.", applied, v)
	}
	return nil
}

// explain turns a domain problem into a message for the terminal, in the
// environment's language, each field's message after its flag; other
// errors (failures to report) stay as they are.
func explain(stdio IO, err error) error {
	pe, ok := problem.As(err)
	if !ok {
		return err
	}
	msg := pe.Localize(stdio.T)
	fields := pe.LocalizeFields(stdio.T)
	for _, f := range slices.Sorted(maps.Keys(fields)) {
		msg += fmt.Sprintf("\n--%s: %s", flagName(f), fields[f])
	}
	return errors.New(msg)
}

func flagName(field string) string {
	switch field {
	case "display_name":
		return "name"
	}
	return field
}

func user(ctx context.Context, args []string, stdio IO) error {
	if len(args) == 0 {
		return usageErr("user needs a subcommand: add, passwd or list")
	}
	switch args[0] {
	case "add":
		return userAdd(ctx, args[1:], stdio)
	case "passwd":
		return userPasswd(ctx, args[1:], stdio)
	case "list":
		return userList(ctx, args[1:], stdio)
	}
	return usageErr("unknown user subcommand %q: want add, passwd or list", args[0])
}

func userAdd(ctx context.Context, args []string, stdio IO) error {
	var in auth.UserInput
	var role string
	var fromStdin bool
	cfg, _, err := parse("user add", config.Storage, args, stdio, func(fs *flag.FlagSet) {
		fs.StringVar(&in.Username, "username", "", "username (required)")
		fs.StringVar(&in.DisplayName, "name", "", "full name (default: the username)")
		fs.StringVar(&in.Email, "email", "", "e-mail address")
		fs.StringVar(&role, "role", "", "role: admin, hq_officer, consular_officer, supervisor or auditor (required)")
		fs.StringVar(&in.Post, "post", "", "post (embassy or consulate), for consular officers")
		fs.StringVar(&in.Desk, "desk", "", "HQ desk, for HQ officers and supervisors")
		fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input instead of making a temporary one")
	})
	if err != nil {
		return err
	}
	in.Role = auth.Role(role)
	if in.DisplayName == "" {
		in.DisplayName = in.Username
	}
	password, mustChange, err := choosePassword(fromStdin, stdio)
	if err != nil {
		return err
	}
	s, err := open(ctx, cfg, stdio)
	if err != nil {
		return err
	}
	defer s.close()
	u, err := s.auth.CreateUser(ctx, cliActor(), in, password, mustChange)
	if err != nil {
		return err
	}
	stdio.say("Created %s (%s).", u.Username, u.Role)
	if mustChange {
		printTemporary(stdio, password)
	}
	return nil
}

func userPasswd(ctx context.Context, args []string, stdio IO) error {
	var fromStdin bool
	cfg, rest, err := parse("user passwd", config.Storage, args, stdio, func(fs *flag.FlagSet) {
		fs.BoolVar(&fromStdin, "password-stdin", false, "read the new password from standard input instead of making a temporary one")
	})
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageErr("user passwd takes one username")
	}
	password, mustChange, err := choosePassword(fromStdin, stdio)
	if err != nil {
		return err
	}
	s, err := open(ctx, cfg, stdio)
	if err != nil {
		return err
	}
	defer s.close()
	u, err := s.auth.UserByName(ctx, rest[0])
	if err != nil {
		return fmt.Errorf("user %q: %w", rest[0], err)
	}
	if err := s.auth.SetPassword(ctx, cliActor(), u.ID, password, mustChange); err != nil {
		return err
	}
	stdio.say("Password of %s changed; their sessions were ended.", u.Username)
	if mustChange {
		printTemporary(stdio, password)
	}
	return nil
}

func userList(ctx context.Context, args []string, stdio IO) error {
	cfg, _, err := parse("user list", config.Storage, args, stdio, nil)
	if err != nil {
		return err
	}
	s, err := open(ctx, cfg, stdio)
	if err != nil {
		return err
	}
	defer s.close()
	users, err := s.auth.Users(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdio.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join([]string{stdio.T("USERNAME"), stdio.T("ROLE"), stdio.T("POST"), stdio.T("DESK"), stdio.T("STATUS"), stdio.T("NAME")}, "\t"))
	for _, u := range users {
		status := stdio.T("active")
		if u.Disabled {
			status = stdio.T("disabled")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Username, u.Role, u.Post, u.Desk, status, u.DisplayName)
	}
	return tw.Flush()
}

func token(ctx context.Context, args []string, stdio IO) error {
	if len(args) == 0 || args[0] != "create" {
		return usageErr("token needs the subcommand create")
	}
	var username, name string
	cfg, _, err := parse("token create", config.Storage, args[1:], stdio, func(fs *flag.FlagSet) {
		fs.StringVar(&username, "user", "", "the user the token acts as (required)")
		fs.StringVar(&name, "name", "command line", "what the token is for")
	})
	if err != nil {
		return err
	}
	if username == "" {
		return usageErr("token create needs --user")
	}
	s, err := open(ctx, cfg, stdio)
	if err != nil {
		return err
	}
	defer s.close()
	u, err := s.auth.UserByName(ctx, username)
	if err != nil {
		return fmt.Errorf("user %q: %w", username, err)
	}
	secret, _, err := s.auth.CreateToken(ctx, cliActor(), u.ID, name)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdio.Stdout, secret)
	return nil
}

func auditCmd(ctx context.Context, args []string, stdio IO) error {
	if len(args) == 0 || args[0] != "verify" {
		return usageErr("audit needs the subcommand verify")
	}
	cfg, _, err := parse("audit verify", config.Storage, args[1:], stdio, nil)
	if err != nil {
		return err
	}
	s, err := open(ctx, cfg, stdio)
	if err != nil {
		return err
	}
	defer s.close()
	rep, err := s.audit.Verify(ctx)
	if err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("audit log broken at entry %d: %s (%d entries before it are whole)", rep.BrokenAt, rep.Problem, rep.Entries)
	}
	stdio.say("Audit log whole: %d entries, head %s", rep.Entries, rep.Head)
	return s.audit.Record(ctx, audit.Entry{Actor: cliActor(), Action: "audit.verify", ObjectType: "audit_log",
		Detail: fmt.Sprintf("entries=%d whole=true", rep.Entries)})
}

func backup(ctx context.Context, args []string, stdio IO) error {
	cfg, rest, err := parse("backup", config.Storage, args, stdio, nil)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageErr("backup takes one argument: the file to write")
	}
	d, err := db.Connect(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Backup(ctx, rest[0]); err != nil {
		return err
	}
	stdio.say("Backup written to %s", rest[0])
	return nil
}

// choosePassword reads the password from stdin when asked to, or makes a
// temporary one that must be changed at first sign-in.
func choosePassword(fromStdin bool, stdio IO) (password string, mustChange bool, err error) {
	if fromStdin {
		password, err = readPassword(stdio.Stdin)
		return password, false, err
	}
	return auth.GeneratePassword(), true, nil
}

func printTemporary(stdio IO, password string) {
	stdio.say("Temporary password: %s", password)
	stdio.say("It must be changed at first sign-in.")
}

func bench(ctx context.Context, args []string, stdio IO) error {
	if len(args) == 0 || args[0] != "search" {
		return usageErr("bench needs the subcommand search")
	}
	o := searchbench.Options{}
	cfg, _, err := parse("bench search", config.Storage, args[1:], stdio, func(fs *flag.FlagSet) {
		fs.IntVar(&o.People, "people", 1000000, "people to generate, each with three names and a case")
		fs.IntVar(&o.Queries, "queries", 2000, "searches to time")
		fs.Uint64Var(&o.Seed, "seed", 1, "seed of the generated population")
	})
	if err != nil {
		return err
	}
	if o.People < 1 || o.Queries < 1 {
		return usageErr("--people and --queries must be positive")
	}
	d, err := db.Connect(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	defer d.Close()
	return searchbench.Run(ctx, d, o, stdio.Stdout)
}

// loadtestServerCmd is the hidden subcommand the load test runs its server as.
const loadtestServerCmd = "loadtest-server"

func loadtestCmd(ctx context.Context, args []string, stdio IO) error {
	o := loadtest.DefaultOptions()
	var inProcess bool
	fs := flag.NewFlagSet("attache loadtest", flag.ContinueOnError)
	fs.SetOutput(stdio.Stderr)
	o.Bind(fs)
	fs.BoolVar(&inProcess, "in-process", false, "run the server in this process (its CPU figures then include the clients')")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageErr("%s", err.Error())
	}
	if err := o.Validate(); err != nil {
		return usageErr("%s", err.Error())
	}
	var argv []string
	if !inProcess {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("loadtest: find this program to run its server: %w", err)
		}
		argv = []string{exe, loadtestServerCmd}
	}
	log := slog.New(slog.NewTextHandler(stdio.Stderr, nil))
	return loadtest.Command(ctx, o, argv, stdio.Stdout, stdio.Stderr, log)
}

func loadtestServer(ctx context.Context, args []string, stdio IO) error {
	log := slog.New(slog.NewTextHandler(stdio.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return loadtest.ServeChild(ctx, args, stdio.Stdin, stdio.Stdout, stdio.Stderr, log)
}

// nodesCmd lists the nodes that serve (or served) this database.
func nodesCmd(ctx context.Context, args []string, stdio IO) error {
	var asJSON bool
	var timeout time.Duration
	cfg, _, err := parse("nodes", config.Storage, args, stdio, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
		fs.DurationVar(&timeout, "node-timeout", config.Default().NodeTimeout, "how long a silent node counts as alive (as the nodes were started with)")
	})
	if err != nil {
		return err
	}
	s, err := open(ctx, cfg, stdio)
	if err != nil {
		return err
	}
	defer s.close()
	nodes, err := cluster.List(ctx, s.db)
	if err != nil {
		return err
	}
	now := time.Now()
	if asJSON {
		type row struct {
			cluster.Node
			State string `json:"state"`
		}
		out := make([]row, len(nodes))
		for i, n := range nodes {
			out[i] = row{n, n.State(now, timeout)}
		}
		enc := json.NewEncoder(stdio.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(nodes) == 0 {
		stdio.say("No node has served this database yet.")
		return nil
	}
	tw := tabwriter.NewWriter(stdio.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join([]string{stdio.T("NODE"), stdio.T("STATE"), stdio.T("CALLS"), stdio.T("LAST BEAT"), stdio.T("INTERNAL URL"),
		stdio.T("MEDIA UDP"), stdio.T("MEDIA TCP"), stdio.T("VERSION")}, "\t"))
	for _, n := range nodes {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s ago\t%s\t%s\t%s\t%s\n", n.ID, n.State(now, timeout), n.Calls, now.Sub(n.HeartbeatAt).Round(time.Second),
			n.InternalURL, n.MediaUDP, n.MediaTCP, n.Version)
	}
	return tw.Flush()
}
