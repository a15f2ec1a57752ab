package cli_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/cli"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/servertest"
)

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), args, cli.IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }})
	return result{code, out.String(), errb.String()}
}

func TestBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad flag value", nil, []string{"serve", "--addr", "nonsense"}, "--addr"},
		{"unknown flag", nil, []string{"serve", "--colour", "blue"}, "flag provided but not defined"},
		{"bad environment", map[string]string{"ATTACHE_LOG_FORMAT": "xml"}, []string{"serve"}, "--log-format"},
		{"unreachable database", nil, []string{"serve", "--data", dir, "--database", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"}, "cannot reach the database"},
		{"unknown command", nil, []string{"frobnicate"}, "unknown command"},
		{"no command", nil, nil, "no command"},
		{"port taken", nil, []string{"serve", "--data", dir, "--addr", "PORT"}, "cannot listen"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.args != nil && tc.args[len(tc.args)-1] == "PORT" {
				ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				tc.args[len(tc.args)-1] = ln.Addr().String()
			}
			r := run(t, tc.env, "", tc.args...)
			if r.code == 0 {
				t.Fatalf("exit code 0, want non-zero; stderr %q", r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("stderr %q does not mention %q", r.stderr, tc.want)
			}
			if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
				t.Fatalf("stack trace on stderr: %s", r.stderr)
			}
		})
	}
}

func TestServeDemoAndSignIn(t *testing.T) {
	dir := t.TempDir()
	srv := servertest.Start(t, "--data", dir, "--demo")
	base := srv.URL
	password := srv.DemoPassword(t, "officer")
	for _, p := range []string{"/healthz", "/readyz"} {
		res, err := http.Get(base + p)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, res, err)
		}
		res.Body.Close()
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	res, err := browser.PostForm(base+"/login", url.Values{"username": {"officer"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "Demo consular officer") {
		t.Fatalf("after sign-in: %d\n%s", res.StatusCode, body)
	}
	// The home page is the officer's: no user administration in the menu.
	if strings.Contains(string(body), `href="/admin/users"`) {
		t.Error("an officer's menu shows user administration")
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(body))
	if csrf == nil {
		t.Fatal("no CSRF token in the page")
	}
	res, err = browser.PostForm(base+"/logout", url.Values{"csrf": {csrf[1]}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "You have signed out.") {
		t.Fatalf("after sign-out: %d\n%s", res.StatusCode, body)
	}
}

func TestDemoIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"ATTACHE_DATA": dir}
	first := servertest.Start(t, "--data", dir, "--demo")
	list1 := run(t, env, "", "user", "list")
	// SQLite is the one-machine setup: a second server on the same file is
	// refused, saying why, and changes nothing.
	refused := run(t, env, "", "serve", "--addr", "127.0.0.1:0", "--media-udp", "127.0.0.1:0", "--media-tcp", "off", "--demo")
	if refused.code != 1 || !strings.Contains(refused.stderr, "another attache serve is running on this SQLite database") ||
		!strings.Contains(refused.stderr, "PostgreSQL") {
		t.Fatalf("a second server on the same SQLite file: %d %s", refused.code, refused.stderr)
	}
	if first.Out.String() == "" || strings.Contains(refused.stdout, "is running at") {
		t.Fatalf("the refused server started: %s", refused.stdout)
	}
	first.Stop()
	second := servertest.Start(t, "--data", dir, "--demo")
	if !strings.Contains(second.Out.String(), "already exist") {
		t.Fatalf("second demo load: %s", second.Out.String())
	}
	list2 := run(t, env, "", "user", "list")
	if list1.stdout != list2.stdout || strings.Count(list1.stdout, "\n") != 8 {
		t.Fatalf("demo load changed the users:\n%s\n%s", list1.stdout, list2.stdout)
	}
}

func TestFirstRunPrintsSetupLink(t *testing.T) {
	srv := servertest.Start(t, "--data", t.TempDir())
	base, out := srv.URL, srv.Out
	m := regexp.MustCompile(`(http://\S+/setup\?token=\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no setup link:\n%s", out.String())
	}
	if !strings.HasPrefix(m[1], base) {
		t.Fatalf("setup link %s is not on %s", m[1], base)
	}
	res, err := http.Get(m[1])
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("setup link: %v %v", res, err)
	}
	res.Body.Close()
}

func TestUserTokenAndAuditCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"ATTACHE_DATA": dir}
	if r := run(t, env, "", "user", "add", "--username", "root", "--role", "admin"); r.code != 0 || !strings.Contains(r.stdout, "Temporary password: ") {
		t.Fatalf("user add: %+v", r)
	}
	r := run(t, env, "", "user", "add", "--username", "x", "--role", "consular_officer")
	if r.code == 0 || !strings.Contains(r.stderr, "--post") {
		t.Fatalf("user add without post: %+v", r)
	}
	if r := run(t, env, "", "user", "add", "--username", "root", "--role", "admin"); r.code == 0 || !strings.Contains(r.stderr, "taken") {
		t.Fatalf("duplicate user add: %+v", r)
	}
	if r := run(t, env, "my chosen password\n", "user", "passwd", "--password-stdin", "root"); r.code != 0 {
		t.Fatalf("passwd: %+v", r)
	}
	if r := run(t, env, "short\n", "user", "passwd", "--password-stdin", "root"); r.code == 0 || !strings.Contains(r.stderr, "12 characters") {
		t.Fatalf("short password: %+v", r)
	}
	if r := run(t, env, "", "user", "passwd", "ghost"); r.code == 0 {
		t.Fatalf("passwd of unknown user: %+v", r)
	}
	r = run(t, env, "", "token", "create", "--user", "root", "--name", "backup script")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "att_") {
		t.Fatalf("token create: %+v", r)
	}
	if r := run(t, env, "", "token", "create"); r.code != 2 {
		t.Fatalf("token create without user: %+v", r)
	}
	r = run(t, env, "", "audit", "verify")
	if r.code != 0 || !strings.Contains(r.stdout, "Audit log whole") {
		t.Fatalf("verify: %+v", r)
	}
	if r := run(t, env, "", "migrate"); r.code != 0 || !strings.Contains(r.stdout, "up to date") {
		t.Fatalf("migrate: %+v", r)
	}
	if r := run(t, env, "", "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "attache ") {
		t.Fatalf("version: %+v", r)
	}

	// Edit an entry behind the program's back: verify names it and fails.
	d, err := db.Connect(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.ExecContext(context.Background(), `UPDATE audit_log SET actor = 'someone else' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	r = run(t, env, "", "audit", "verify")
	if r.code != 1 || !strings.Contains(r.stderr, "broken at entry 2") {
		t.Fatalf("verify after tampering: %+v", r)
	}
}

func TestBackupWhileWritingAndRestore(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"ATTACHE_DATA": dir}
	if r := run(t, env, "", "migrate"); r.code != 0 {
		t.Fatal(r)
	}
	live, err := db.Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	log := audit.New(live)
	// A writer keeps appending while the backup runs.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := log.Record(context.Background(), audit.Entry{Actor: audit.System, Action: "test.write", ObjectID: fmt.Sprint(i)}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	time.Sleep(100 * time.Millisecond)
	file := filepath.Join(t.TempDir(), "copy.db")
	r := run(t, env, "", "backup", file)
	close(stop)
	wg.Wait()
	if r.code != 0 {
		t.Fatalf("backup: %+v", r)
	}
	if r := run(t, env, "", "backup", file); r.code == 0 || !strings.Contains(r.stderr, "exists") {
		t.Fatalf("backup over an existing file: %+v", r)
	}
	// Restore: the copy opens as a database of its own, whole.
	restored := t.TempDir()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored, db.SQLiteFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	rd, err := db.Open(context.Background(), "", restored)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	rep, err := audit.New(rd).Verify(context.Background())
	if err != nil || !rep.OK() || rep.Entries == 0 {
		t.Fatalf("restored copy: %+v %v", rep, err)
	}
	if r := run(t, map[string]string{"ATTACHE_DATA": restored}, "", "audit", "verify"); r.code != 0 {
		t.Fatalf("verify on the restored copy: %+v", r)
	}
}

func TestBackupRefusesPostgres(t *testing.T) {
	_, u := dbtest.ConnectURL(t, db.Postgres)
	r := run(t, map[string]string{"ATTACHE_DATABASE": u}, "", "backup", filepath.Join(t.TempDir(), "x"))
	if r.code == 0 || !strings.Contains(r.stderr, "pg_dump") {
		t.Fatalf("backup on PostgreSQL: %+v", r)
	}
}

// On PostgreSQL the demo starts with a data directory that does not exist
// yet: it is made (it holds the node's id and the demo's recording key).
func TestServeOnPostgres(t *testing.T) {
	_, u := dbtest.ConnectURL(t, db.Postgres)
	srv := servertest.Start(t, "--database", u, "--demo", "--data", filepath.Join(t.TempDir(), "not", "yet"))
	base, out := srv.URL, srv.Out
	if !strings.Contains(out.String(), "database: PostgreSQL") {
		t.Fatalf("not on PostgreSQL: %s", out.String())
	}
	res, err := http.Get(base + "/readyz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", res, err)
	}
	res.Body.Close()
}

// --metrics-addr serves the metrics on an address of their own, and the
// main address no longer does, not even to loopback.
func TestMetricsAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := servertest.Start(t, "--data", t.TempDir(), "--metrics-addr", addr)
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "attache_notices_pending") {
		t.Errorf("metrics address: %d", res.StatusCode)
	}
	res, err = http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the main address: %d, want 404", res.StatusCode)
	}
}

func TestServeSelfSignedTLS(t *testing.T) {
	dir := t.TempDir()
	base := servertest.Start(t, "--data", dir, "--demo", "--tls-self-signed").URL
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("self-signed server at %s", base)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	res, err := client.PostForm(base+"/login", url.Values{"username": {"officer"}, "password": {"wrong password here"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || res.TLS == nil || res.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("over TLS: %d %v", res.StatusCode, res.Header)
	}
	if _, err := os.Stat(filepath.Join(dir, "dev-cert.pem")); err != nil {
		t.Fatal(err)
	}
}

// TestMessagesInTheLocalesLanguage runs commands with a French locale: what
// they print for people (results, refusals, usage errors) is in French;
// with no locale, or one the catalog lacks, in English.
func TestMessagesInTheLocalesLanguage(t *testing.T) {
	dir := t.TempDir()
	fr := map[string]string{"ATTACHE_DATA": dir, "LANG": "fr_CA.UTF-8"}
	cases := []struct {
		name   string
		env    map[string]string
		stdin  string
		args   []string
		code   int
		stream func(result) string
		want   string
	}{
		{"a result", fr, "", []string{"user", "add", "--username", "root", "--role", "admin"}, 0, stdout, "Mot de passe temporaire : "},
		{"a refusal with its flag", fr, "", []string{"user", "add", "--username", "x", "--role", "consular_officer"}, 1, stderr, "--post: "},
		{"a password too short", fr, "court\n", []string{"user", "passwd", "--password-stdin", "root"}, 1, stderr, "12 caractères"},
		{"a usage error", fr, "", []string{"frobnicate"}, 2, stderr, "commande inconnue \"frobnicate\"\nLancez « attache help » pour l'aide."},
		{"a table", fr, "", []string{"user", "list"}, 0, stdout, "NOM D'UTILISATEUR"},
		{"LC_ALL before LANG", map[string]string{"ATTACHE_DATA": dir, "LANG": "fr_CA.UTF-8", "LC_ALL": "C"}, "", []string{"frobnicate"}, 2, stderr, "unknown command \"frobnicate\""},
		{"a language without a catalog", map[string]string{"ATTACHE_DATA": dir, "LANG": "de_DE.UTF-8"}, "", []string{"frobnicate"}, 2, stderr, "Run \"attache help\" for usage."},
	}
	for _, tc := range cases {
		r := run(t, tc.env, tc.stdin, tc.args...)
		if r.code != tc.code || !strings.Contains(tc.stream(r), tc.want) {
			t.Errorf("%s: %d, %q; want %d and %q", tc.name, r.code, tc.stream(r), tc.code, tc.want)
		}
	}
}

func stdout(r result) string { return r.stdout }
func stderr(r result) string { return r.stderr }
