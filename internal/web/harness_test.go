package web_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/attache-org/attache/internal/access"
	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/calls"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/config"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/family"
	"github.com/attache-org/attache/internal/i18n"
	"github.com/attache-org/attache/internal/media"
	"github.com/attache-org/attache/internal/names"
	"github.com/attache-org/attache/internal/notify"
	"github.com/attache-org/attache/internal/recording"
	"github.com/attache-org/attache/internal/reports"
	"github.com/attache-org/attache/internal/testenv"
	"github.com/attache-org/attache/internal/visits"
	"github.com/attache-org/attache/internal/web"
)

var testFolder = func() *names.Folder {
	f, err := names.NewFolder()
	if err != nil {
		panic(err)
	}
	return f
}()

// harness is a server on a test database with one user per role.
type harness struct {
	t       testing.TB
	db      *db.DB
	srv     *web.Server
	h       http.Handler
	auth    *auth.Service
	audit   *audit.Log
	cases   *cases.Service
	access  *access.Service
	clock   *testenv.Clock
	users   map[auth.Role]*auth.User
	calls   *calls.Service
	rec     *calls.Recorder
	visits  *visits.Service
	reports *reports.Service
	family  *family.Service
	outbox  *outbox
}

// outbox keeps the mails the services queue, as a notify.Sender.
type outbox struct {
	mu    sync.Mutex
	mails []notify.Mail
}

func (o *outbox) Send(_ context.Context, _ *sql.Tx, m notify.Mail) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mails = append(o.mails, m)
	return nil
}

// sent returns the mails of kind queued so far.
func (o *outbox) sent(kind notify.Kind) []notify.Mail {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []notify.Mail
	for _, m := range o.mails {
		if m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

const testPassword = "correct horse battery"

func newHarness(t testing.TB, d *db.DB) *harness {
	t.Helper()
	return newHarnessLog(t, d, testLogWriter(t))
}

// newHarnessLog is newHarness logging to w (a fuzz target may not log
// through the testing.F).
func newHarnessLog(t testing.TB, d *db.DB, w io.Writer) *harness {
	t.Helper()
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	return newHarnessCatalog(t, d, w, cat)
}

// newHarnessCatalog is newHarnessLog with the message catalog cat.
func newHarnessCatalog(t testing.TB, d *db.DB, w io.Writer, cat *i18n.Catalog) *harness {
	t.Helper()
	c := testenv.NewClock(time.Now().UTC())
	log := slog.New(slog.NewTextHandler(w, nil))
	a := audit.New(d)
	a.SetClock(c.Now)
	as := auth.NewService(d, a, log)
	as.Params = auth.TestPasswordParams
	as.SetClock(c.Now)
	as.MFADefault = false // the second factor tests ask for it
	cfg := config.Default()
	cs := cases.NewService(d, a, testFolder)
	acc := access.NewService(d, a, cs, "CA")
	if err := acc.SeedProfiles(context.Background()); err != nil {
		t.Fatal(err)
	}
	vs := visits.NewService(d, a, cs, acc)
	recDir := t.TempDir()
	keys, err := recording.GenerateKeyFile(filepath.Join(recDir, "recording.key"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &calls.Recorder{Visits: vs, Keys: keys, Dir: filepath.Join(recDir, "recordings"), Log: log}
	callSvc, err := calls.New(calls.Deps{DB: d, Visits: vs, Auth: as, Recorder: rec, Log: log}, media.Config{UDPAddr: "127.0.0.1:0", Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { callSvc.Media().Close() })
	as.OnRevoke = callSvc.Recheck
	ob := &outbox{}
	vs.SetNotices(visits.Notices{Sender: ob, BaseURL: "http://attache.test"})
	rs := reports.NewService(d, a, cs, ob, reports.Options{BaseURL: "http://attache.test"})
	fs := family.NewService(d, a, cs, as, ob, family.Options{BaseURL: "http://attache.test"})
	srv, err := web.New(web.Deps{Config: cfg, DB: d, Auth: as, Audit: a, Cases: cs, Access: acc, Visits: vs, Catalog: cat, Log: log,
		Registry: prometheus.NewRegistry(), Version: "test", Calls: callSvc, Reports: rs, Family: fs})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: d, srv: srv, h: srv.Handler(), auth: as, audit: a, cases: cs, access: acc, clock: c, users: map[auth.Role]*auth.User{}, calls: callSvc, rec: rec,
		visits: vs, reports: rs, family: fs, outbox: ob}
	for _, r := range auth.Roles {
		u, err := as.CreateUser(context.Background(), audit.System, auth.UserInput{Username: string(r), DisplayName: "The " + string(r),
			Role: r, Post: "Beijing", Desk: "China"}, testPassword, false)
		if err != nil {
			t.Fatal(err)
		}
		h.users[r] = u
	}
	return h
}

// client is a browser (or script) talking to the harness.
type client struct {
	h       *harness
	addr    string // the client's address, HOST:PORT (default: httptest's)
	cookies map[string]string
	csrf    string
	bearer  string
	header  http.Header
}

func (h *harness) anonymous() *client {
	return &client{h: h, cookies: map[string]string{}, header: http.Header{}}
}

// as signs a new browser in as the user of this role.
func (h *harness) as(r auth.Role) *client {
	h.t.Helper()
	return h.asUser(h.users[r])
}

func (h *harness) asUser(u *auth.User) *client {
	h.t.Helper()
	token, sess, err := h.auth.StartSession(context.Background(), u, "192.0.2.1", "test", nil)
	if err != nil {
		h.t.Fatal(err)
	}
	c := h.anonymous()
	c.cookies["attache_session"] = token
	c.csrf = sess.CSRF
	return c
}

func (c *client) request(method, path string, body io.Reader, contentType string) *http.Response {
	c.h.t.Helper()
	req := httptest.NewRequest(method, path, body)
	if c.addr != "" {
		req.RemoteAddr = c.addr
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	rec := httptest.NewRecorder()
	c.h.h.ServeHTTP(rec, req)
	res := rec.Result()
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	return res
}

func (c *client) get(path string) *http.Response { return c.request("GET", path, nil, "") }

// post sends a form, with the session's CSRF token unless the form has one.
func (c *client) post(path string, form url.Values) *http.Response {
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok && c.csrf != "" {
		form.Set("csrf", c.csrf)
	}
	return c.request("POST", path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
}

// api sends JSON with the CSRF header when signed in by cookie.
func (c *client) api(method, path, body string) *http.Response {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	if c.csrf != "" && c.bearer == "" {
		c.header.Set("X-CSRF-Token", c.csrf)
	}
	return c.request(method, path, r, "application/json")
}

func readBody(t testing.TB, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decode(t *testing.T, res *http.Response, v any) {
	t.Helper()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("decode JSON (status %d): %v", res.StatusCode, err)
	}
}

func (h *harness) auditActions(t *testing.T) map[string]int {
	t.Helper()
	entries, err := h.audit.List(context.Background(), audit.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, e := range entries {
		m[e.Action]++
	}
	return m
}

// onSQLite runs fn on a fresh SQLite-backed harness; the HTTP layer is the
// same on both engines, whose stores are tested in their own packages.
func onSQLite(t *testing.T) *harness {
	return newHarness(t, dbtest.Open(t, db.SQLite))
}

// testLogWriter sends the server's log to the test's log, shown on failure.
func testLogWriter(t testing.TB) io.Writer { return logWriter{t} }

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func auditSystem() audit.Actor { return audit.System }
