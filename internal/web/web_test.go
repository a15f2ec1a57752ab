package web_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/config"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/i18n"
	"github.com/attache-org/attache/internal/web"
)

func TestSignInAndOut(t *testing.T) {
	h := onSQLite(t)
	c := h.anonymous()

	res := c.get("/")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next=%2F" {
		t.Fatalf("anonymous home: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res := c.get("/login"); res.StatusCode != 200 || !strings.Contains(readBody(t, res), `name="password"`) {
		t.Fatal("no sign-in form")
	}

	for _, tc := range []struct{ name, user, pw string }{
		{"wrong password", "consular_officer", "not the password"},
		{"unknown user", "nobody", testPassword},
	} {
		res := c.post("/login", url.Values{"username": {tc.user}, "password": {tc.pw}})
		body := readBody(t, res)
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong username or password.") {
			t.Errorf("%s: status %d", tc.name, res.StatusCode)
		}
		if _, ok := c.cookies["attache_session"]; ok {
			t.Errorf("%s: a session cookie was set", tc.name)
		}
	}
	res = c.post("/login", url.Values{"username": {""}, "password": {""}})
	if body := readBody(t, res); res.StatusCode != 400 || !strings.Contains(body, "Enter your username.") {
		t.Fatalf("empty form: %d", res.StatusCode)
	}

	res = c.post("/login", url.Values{"username": {"Consular_Officer"}, "password": {testPassword}, "next": {"//evil.example/"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("sign-in: %d to %q (an off-site next must become /)", res.StatusCode, res.Header.Get("Location"))
	}
	var sessionCookie *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "attache_session" {
			sessionCookie = ck
		}
	}
	if sessionCookie == nil || !sessionCookie.HttpOnly || sessionCookie.SameSite != http.SameSiteLaxMode || sessionCookie.Path != "/" {
		t.Fatalf("session cookie %+v", sessionCookie)
	}
	res = c.get("/")
	if body := readBody(t, res); res.StatusCode != 200 || !strings.Contains(body, "Welcome, The consular_officer") {
		t.Fatalf("home after sign-in: %d", res.StatusCode)
	}
	// Signed in, the sign-in page sends you on.
	if res := c.get("/login?next=/account"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account" {
		t.Fatalf("sign-in page when signed in: %d %q", res.StatusCode, res.Header.Get("Location"))
	}

	// The CSRF token is in the page; read it as a browser would.
	sess := c.cookies["attache_session"]
	_, s, err := h.auth.SessionUser(context.Background(), sess)
	if err != nil {
		t.Fatal(err)
	}
	c.csrf = s.CSRF
	res = c.post("/logout", nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	c.cookies["attache_session"] = sess // a copy of the old cookie is dead
	if res := c.get("/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after logout: %d", res.StatusCode)
	}
	got := h.auditActions(t)
	if got["session.login"] != 1 || got["session.login_failed"] != 2 || got["session.logout"] != 1 {
		t.Fatalf("audit: %v", got)
	}
}

func TestExpiredSession(t *testing.T) {
	h := onSQLite(t)
	c := h.as(auth.RoleAdmin)
	if res := c.get("/"); res.StatusCode != 200 {
		t.Fatalf("fresh session: %d", res.StatusCode)
	}
	h.clock.Add(h.auth.SessionIdle + 1)
	if res := c.get("/admin/users"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login?next=%2Fadmin%2Fusers") {
		t.Fatalf("expired session, page: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res := c.api("GET", "/api/v1/me", ""); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("expired session, API: %d", res.StatusCode)
	}
	// A form posted with an expired session changes nothing.
	res := c.post("/account/tokens", url.Values{"name": {"late"}})
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("expired session, form: %d", res.StatusCode)
	}
	if toks, _ := h.auth.Tokens(context.Background(), h.users[auth.RoleAdmin].ID); len(toks) != 0 {
		t.Fatal("a token was created on an expired session")
	}
}

func TestCSRF(t *testing.T) {
	h := onSQLite(t)
	c := h.as(auth.RoleAuditor)
	uid := h.users[auth.RoleAuditor].ID
	count := func() int {
		toks, err := h.auth.Tokens(context.Background(), uid)
		if err != nil {
			t.Fatal(err)
		}
		return len(toks)
	}
	for _, tc := range []struct {
		name string
		form url.Values
	}{
		{"missing token", url.Values{"name": {"x"}, "csrf": {""}}},
		{"wrong token", url.Values{"name": {"x"}, "csrf": {"not-the-token"}}},
	} {
		res := c.post("/account/tokens", tc.form)
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tc.name, res.StatusCode)
		}
	}
	// JSON with the session cookie but no header.
	res := c.request("POST", "/api/v1/tokens", strings.NewReader(`{"name":"x"}`), "application/json")
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("API without CSRF header: %d", res.StatusCode)
	}
	// A cross-site form post is refused even with the right token.
	c.header.Set("Sec-Fetch-Site", "cross-site")
	res = c.post("/account/tokens", url.Values{"name": {"x"}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: %d", res.StatusCode)
	}
	c.header.Del("Sec-Fetch-Site")
	if n := count(); n != 0 {
		t.Fatalf("%d tokens created by refused requests", n)
	}
	res = c.post("/account/tokens", url.Values{"name": {"ok"}})
	if body := readBody(t, res); res.StatusCode != http.StatusCreated || !strings.Contains(body, auth.TokenPrefix) {
		t.Fatalf("with token: %d", res.StatusCode)
	}
	if count() != 1 {
		t.Fatal("token not created")
	}
}

func TestMalformedInput(t *testing.T) {
	h := onSQLite(t)
	c := h.as(auth.RoleAdmin)
	users := func() int {
		n, err := h.auth.CountUsers(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := users()
	for _, tc := range []struct {
		name, body, field string
	}{
		{"not JSON", `{"username": "x",`, "body"},
		{"empty", ``, "body"},
		{"wrong type", `{"username": 5, "display_name": "x", "role": "admin"}`, "username"},
		{"unknown field", `{"username": "abc", "nickname": "x"}`, "nickname"},
		{"two objects", `{"username": "abc"} {}`, "body"},
		{"bad role", `{"username": "abc", "display_name": "x", "role": "emperor"}`, "role"},
		{"officer without post", `{"username": "abc", "display_name": "x", "role": "consular_officer"}`, "post"},
		{"short password", `{"username": "abc", "display_name": "x", "role": "admin", "password": "short"}`, "password"},
	} {
		res := c.api("POST", "/api/v1/users", tc.body)
		var e struct {
			Error struct {
				Code   string
				Fields map[string]string
			}
		}
		decode(t, res, &e)
		if res.StatusCode != http.StatusBadRequest || e.Error.Code != "invalid" || e.Error.Fields[tc.field] == "" {
			t.Errorf("%s: status %d, error %+v; want 400 naming %q", tc.name, res.StatusCode, e.Error, tc.field)
		}
	}
	// The same through the form: the page comes back with the message next to the field.
	res := c.post("/admin/users", url.Values{"username": {"new.officer"}, "display_name": {"N"}, "role": {"consular_officer"}})
	body := readBody(t, res)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="e-post"`) || !strings.Contains(body, "A consular officer belongs to a post") {
		t.Fatalf("form with missing post: %d", res.StatusCode)
	}
	if !strings.Contains(body, `value="new.officer"`) {
		t.Error("the form lost what was typed")
	}
	if got := users(); got != before {
		t.Fatalf("refused input created users: %d → %d", before, got)
	}
	// Bad query parameters name the parameter.
	res = c.api("GET", "/api/v1/audit?limit=lots", "")
	if res.StatusCode != 400 || !strings.Contains(readBody(t, res), `"limit"`) {
		t.Errorf("bad limit: %d", res.StatusCode)
	}
}

func TestAdminCreatesUserWhoMustChangePassword(t *testing.T) {
	h := onSQLite(t)
	admin := h.as(auth.RoleAdmin)
	res := admin.api("POST", "/api/v1/users", `{"username":"li.wen","display_name":"Li Wen","role":"consular_officer","post":"Shenyang"}`)
	var created struct {
		User              struct{ ID string }
		TemporaryPassword string `json:"temporary_password"`
	}
	decode(t, res, &created)
	if res.StatusCode != http.StatusCreated || created.TemporaryPassword == "" {
		t.Fatalf("create: %d %+v", res.StatusCode, created)
	}
	c := h.anonymous()
	res = c.post("/login", url.Values{"username": {"li.wen"}, "password": {created.TemporaryPassword}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account#password" {
		t.Fatalf("first sign-in goes to %q", res.Header.Get("Location"))
	}
	if res := c.get("/"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account#password" {
		t.Fatalf("home before the change: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	_, s, _ := h.auth.SessionUser(context.Background(), c.cookies["attache_session"])
	c.csrf = s.CSRF
	if res := c.post("/account/tokens", url.Values{"name": {"x"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("token before the change: %d", res.StatusCode)
	}
	res = c.post("/account/password", url.Values{"current": {created.TemporaryPassword}, "password": {"my own long password"}, "confirm": {"my own long password"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("change: %d %s", res.StatusCode, readBody(t, res))
	}
	if res := c.get("/"); res.StatusCode != 200 {
		t.Fatalf("home after the change: %d", res.StatusCode)
	}
}

func TestPasswordChangeForm(t *testing.T) {
	h := onSQLite(t)
	c := h.as(auth.RoleSupervisor)
	other := h.as(auth.RoleSupervisor)
	for _, tc := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"wrong current", url.Values{"current": {"nope nope nope"}, "password": {"another long password"}, "confirm": {"another long password"}}, "e-current"},
		{"mismatch", url.Values{"current": {testPassword}, "password": {"another long password"}, "confirm": {"another long passwore"}}, "e-confirm"},
		{"too short", url.Values{"current": {testPassword}, "password": {"short"}, "confirm": {"short"}}, "e-password"},
	} {
		res := c.post("/account/password", tc.form)
		body := readBody(t, res)
		if res.StatusCode != 400 || (tc.field != "e-current" && !strings.Contains(body, tc.field)) {
			t.Errorf("%s: %d", tc.name, res.StatusCode)
		}
	}
	res := c.post("/account/password", url.Values{"current": {testPassword}, "password": {"another long password"}, "confirm": {"another long password"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("change: %d", res.StatusCode)
	}
	if res := c.get("/"); res.StatusCode != 200 {
		t.Fatalf("this browser must stay signed in: %d", res.StatusCode)
	}
	if res := other.get("/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the other browser must be signed out: %d", res.StatusCode)
	}
}

func TestAPITokens(t *testing.T) {
	h := onSQLite(t)
	browser := h.as(auth.RoleHQOfficer)
	res := browser.api("POST", "/api/v1/tokens", `{"name":"nightly export"}`)
	var tok struct{ ID, Token string }
	decode(t, res, &tok)
	if res.StatusCode != http.StatusCreated || !strings.HasPrefix(tok.Token, auth.TokenPrefix) {
		t.Fatalf("create token: %d %+v", res.StatusCode, tok)
	}
	script := h.anonymous()
	script.bearer = tok.Token
	res = script.api("GET", "/api/v1/me", "")
	var me struct{ Username string }
	decode(t, res, &me)
	if res.StatusCode != 200 || me.Username != "hq_officer" {
		t.Fatalf("me: %d %+v", res.StatusCode, me)
	}
	// A token holder has its user's rights, no more.
	if res := script.api("GET", "/api/v1/users", ""); res.StatusCode != http.StatusForbidden {
		t.Fatalf("HQ officer listing users: %d", res.StatusCode)
	}
	// Tokens work on the API only, not on pages.
	if res := script.get("/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("token on a page: %d", res.StatusCode)
	}
	// Someone else cannot revoke it.
	if res := h.as(auth.RoleAdmin).api("DELETE", "/api/v1/tokens/"+tok.ID, ""); res.StatusCode != http.StatusNotFound {
		t.Fatalf("revoking another user's token: %d", res.StatusCode)
	}
	if res := browser.api("DELETE", "/api/v1/tokens/"+tok.ID, ""); res.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	if res := script.api("GET", "/api/v1/me", ""); res.StatusCode != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("revoked token: %d", res.StatusCode)
	}
	script.bearer = ""
	script.header.Set("Authorization", "Basic abc")
	if res := script.api("GET", "/api/v1/me", ""); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("basic auth: %d", res.StatusCode)
	}
}

func TestAdminManagesUsers(t *testing.T) {
	h := onSQLite(t)
	admin := h.as(auth.RoleAdmin)
	target := h.users[auth.RoleConsularOfficer]
	victim := h.as(auth.RoleConsularOfficer)

	res := admin.post("/admin/users/"+target.ID, url.Values{"display_name": {"Renamed"}, "role": {"consular_officer"}, "post": {"Shanghai"}, "disabled": {"on"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("update: %d %s", res.StatusCode, readBody(t, res))
	}
	u, _ := h.auth.User(context.Background(), target.ID)
	if u.DisplayName != "Renamed" || u.Post != "Shanghai" || !u.Disabled {
		t.Fatalf("after update: %+v", u)
	}
	if res := victim.get("/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("a disabled user's session still works: %d", res.StatusCode)
	}
	res = admin.post("/admin/users/"+target.ID+"/password", nil)
	if body := readBody(t, res); res.StatusCode != 200 || !strings.Contains(body, "Temporary password") {
		t.Fatalf("reset: %d", res.StatusCode)
	}
	res = admin.api("PATCH", "/api/v1/users/"+target.ID, `{"disabled": false, "desk": "China"}`)
	var got struct {
		Disabled           bool
		Desk               string
		MustChangePassword bool `json:"must_change_password"`
	}
	decode(t, res, &got)
	if res.StatusCode != 200 || got.Disabled || got.Desk != "China" || !got.MustChangePassword {
		t.Fatalf("patch: %d %+v", res.StatusCode, got)
	}
	if res := admin.api("PATCH", "/api/v1/users/nonexistent", `{"desk": "x"}`); res.StatusCode != http.StatusNotFound {
		t.Fatalf("patch unknown: %d", res.StatusCode)
	}
	// The auditor sees the account but no form to change it.
	res = h.as(auth.RoleAuditor).get("/admin/users/" + target.ID)
	if body := readBody(t, res); res.StatusCode != 200 || strings.Contains(body, "/password\"") || strings.Contains(body, `name="display_name"`) {
		t.Fatalf("auditor view: %d", res.StatusCode)
	}
	a := h.auditActions(t)
	if a["user.update"] < 2 || a["user.password_reset"] != 1 {
		t.Fatalf("audit: %v", a)
	}
}

func TestAuditPagesAreAudited(t *testing.T) {
	h := onSQLite(t)
	c := h.as(auth.RoleAuditor)
	if res := c.get("/audit"); res.StatusCode != 200 {
		t.Fatalf("audit page: %d", res.StatusCode)
	}
	res := c.api("POST", "/api/v1/audit/verify", "")
	var rep struct {
		Whole   bool
		Entries int
	}
	decode(t, res, &rep)
	if !rep.Whole || rep.Entries < 6 {
		t.Fatalf("verify: %+v", rep)
	}
	a := h.auditActions(t)
	if a["audit.view"] != 1 || a["audit.verify"] != 1 {
		t.Fatalf("audit of the audit: %v", a)
	}
	// Tampering shows on the page.
	if _, err := h.db.ExecContext(context.Background(), `UPDATE audit_log SET detail = 'x' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	res = c.post("/audit/verify", nil)
	if body := readBody(t, res); !strings.Contains(body, "The chain is broken at entry 2.") {
		t.Fatalf("tampered chain not reported: %d", res.StatusCode)
	}
}

func TestSetupPage(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	h := &harness{t: t}
	*h = *newHarnessNoUsers(t, d)
	token, err := h.auth.NewSetupToken(context.Background())
	if err != nil || token == "" {
		t.Fatal(token, err)
	}
	c := h.anonymous()
	if res := c.get("/setup?token=wrong"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("wrong token: %d", res.StatusCode)
	}
	if res := c.get("/login"); !strings.Contains(readBody(t, res), "No account exists yet") {
		t.Fatal("sign-in page does not explain the first run")
	}
	if res := c.get("/setup?token=" + token); res.StatusCode != 200 {
		t.Fatalf("setup page: %d", res.StatusCode)
	}
	form := url.Values{"token": {token}, "username": {"chief"}, "display_name": {"Chief"}, "password": {testPassword}, "confirm": {"different password"}}
	if res := c.post("/setup", form); res.StatusCode != 400 {
		t.Fatalf("mismatched passwords: %d", res.StatusCode)
	}
	form.Set("confirm", testPassword)
	res := c.post("/setup", form)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("setup: %d %s", res.StatusCode, readBody(t, res))
	}
	if res := c.get("/"); res.StatusCode != 200 {
		t.Fatalf("signed in after setup: %d", res.StatusCode)
	}
	if res := h.anonymous().get("/setup?token=" + token); res.StatusCode != http.StatusNotFound {
		t.Fatalf("setup link reused: %d", res.StatusCode)
	}
}

func newHarnessNoUsers(t *testing.T, d *db.DB) *harness {
	h := newHarness(t, d)
	if _, err := d.ExecContext(context.Background(), `DELETE FROM users`); err != nil {
		t.Fatal(err)
	}
	h.users = nil
	return h
}

func TestHeadersAssetsAndErrors(t *testing.T) {
	h := onSQLite(t)
	c := h.anonymous()
	res := c.get("/login")
	body := readBody(t, res)
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || res.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("headers: %v", res.Header)
	}
	i := strings.Index(body, "/static/app.")
	if i < 0 {
		t.Fatal("no hashed asset link")
	}
	href := body[i : i+strings.Index(body[i:], `"`)]
	res = c.get(href)
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("asset %s: %d", href, res.StatusCode)
	}
	if res := c.get("/static/app.css"); res.StatusCode != 404 {
		t.Fatalf("unhashed asset: %d", res.StatusCode)
	}
	if res := c.get("/no/such/page"); res.StatusCode != 404 || !strings.Contains(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("unknown page: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if res := c.get("/api/v1/nothing"); res.StatusCode != 404 || !strings.Contains(res.Header.Get("Content-Type"), "json") {
		t.Fatalf("unknown API path: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if res := c.api("GET", "/api/v1/me", ""); res.StatusCode != 401 {
		t.Fatalf("anonymous API: %d", res.StatusCode)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	h := newHarness(t, d)
	c := h.anonymous()
	for _, p := range []string{"/healthz", "/readyz"} {
		if res := c.get(p); res.StatusCode != 200 {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
	// The metrics are for a Prometheus on the same host, not for anyone.
	if res := c.get("/metrics"); res.StatusCode != http.StatusNotFound || strings.Contains(readBody(t, res), "attache_http_requests_total") {
		t.Errorf("metrics to a remote client: %d", res.StatusCode)
	}
	local := h.anonymous()
	local.addr = "127.0.0.1:40000"
	res := local.get("/metrics")
	if body := readBody(t, res); !strings.Contains(body, `attache_http_requests_total{code="200",method="GET",route="GET /healthz"} 1`) {
		t.Fatalf("metrics:\n%s", body)
	}
	d.Close()
	if res := c.get("/readyz"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz with the database closed: %d", res.StatusCode)
	}
	if res := c.get("/healthz"); res.StatusCode != 200 {
		t.Errorf("healthz with the database closed: %d", res.StatusCode)
	}
}

func TestAccountPagesAndRevocation(t *testing.T) {
	h := onSQLite(t)
	c := h.as(auth.RoleConsularOfficer)
	other := h.as(auth.RoleConsularOfficer)
	u := h.users[auth.RoleConsularOfficer]
	sessions, _ := h.auth.Sessions(context.Background(), u.ID)
	if len(sessions) != 2 {
		t.Fatalf("%d sessions", len(sessions))
	}
	res := c.get("/account")
	if body := readBody(t, res); res.StatusCode != 200 || !strings.Contains(body, "this browser") {
		t.Fatalf("account page: %d", res.StatusCode)
	}
	var otherID string
	for _, s := range sessions {
		if _, sess, _ := h.auth.SessionUser(context.Background(), other.cookies["attache_session"]); sess != nil && sess.ID == s.ID {
			otherID = s.ID
		}
	}
	if res := h.as(auth.RoleHQOfficer).post("/account/sessions/"+otherID+"/revoke", nil); res.StatusCode != 404 {
		t.Fatalf("ending another user's session: %d", res.StatusCode)
	}
	if res := c.post("/account/sessions/"+otherID+"/revoke", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke session: %d", res.StatusCode)
	}
	if res := other.get("/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoked session still works: %d", res.StatusCode)
	}
	res = c.post("/account/preferences", url.Values{"lang": {"xx"}})
	if res.StatusCode != 400 {
		t.Fatalf("unknown language: %d", res.StatusCode)
	}
	if res := c.post("/account/preferences", url.Values{"lang": {"fr"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("language: %d", res.StatusCode)
	}
	got, _ := h.auth.User(context.Background(), u.ID)
	if got.Lang != "fr" {
		t.Fatalf("lang = %q", got.Lang)
	}
}

func TestAnotherLanguageNeedsNoTemplateChange(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	h := newHarness(t, d)
	cat, err := i18n.LoadFS(fstest.MapFS{"m/fr.json": {Data: []byte(`{
		"Sign in": "Se connecter",
		"Wrong username or password.": "Nom d'utilisateur ou mot de passe erroné.",
		"Welcome, %s": "Bienvenue, %s"}`)}}, "m")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Deps{Config: config.Default(), DB: d, Auth: h.auth, Audit: h.audit, Cases: h.cases, Access: h.access, Catalog: cat,
		Visits: h.visits, Reports: h.reports, Family: h.family, Log: slog.New(slog.NewTextHandler(testLogWriter(t), nil)), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	h.h = srv.Handler()
	c := h.anonymous()
	c.header.Set("Accept-Language", "fr-CA,fr;q=0.9,en;q=0.5")
	body := readBody(t, c.get("/login"))
	if !strings.Contains(body, `<html lang="fr">`) || !strings.Contains(body, "Se connecter") {
		t.Fatal("the sign-in page is not in French")
	}
	res := c.post("/login", url.Values{"username": {"admin"}, "password": {"wrong password"}})
	if body := readBody(t, res); !strings.Contains(body, "Nom d&#39;utilisateur ou mot de passe erroné.") {
		t.Fatal("the domain's error is not translated")
	}
	// A user's own preference wins over the browser's.
	admin := h.as(auth.RoleAdmin)
	admin.header.Set("Accept-Language", "fr")
	if body := readBody(t, admin.get("/")); !strings.Contains(body, "Bienvenue, The admin") {
		t.Fatal("home page not in French")
	}
	if err := h.db.InTx(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(context.Background(), `UPDATE users SET lang = 'en' WHERE username = 'admin'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, admin.get("/")); !strings.Contains(body, "Welcome, The admin") {
		t.Fatal("the user's preference for English was ignored")
	}
}

func TestCookiesOverTLS(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	h := newHarness(t, d)
	cfg := config.Default()
	cfg.TLSSelfSigned = true
	cat, _ := i18n.Load()
	srv, err := web.New(web.Deps{Config: cfg, DB: d, Auth: h.auth, Audit: h.audit, Cases: h.cases, Access: h.access, Catalog: cat,
		Visits: h.visits, Reports: h.reports, Family: h.family, Log: slog.New(slog.NewTextHandler(testLogWriter(t), nil)), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	h.h = srv.Handler()
	res := h.anonymous().post("/login", url.Values{"username": {"admin"}, "password": {testPassword}})
	var session *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "__Host-attache_session" {
			session = ck
		}
	}
	if session == nil || !session.Secure || !session.HttpOnly || session.Path != "/" || session.Domain != "" {
		t.Fatalf("session cookie over TLS: %+v", res.Cookies())
	}
	if res.Header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS over TLS")
	}
}

// A NUL character anywhere a person or a script can put text is refused
// with 400 on both engines, before it reaches the database; a form larger
// than the limit gets 413, not the CSRF error.
func TestNULAndOversizedBodies(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		officer := h.as(auth.RoleConsularOfficer)
		anon := h.anonymous()
		before := caseCount(t, h)
		for _, tc := range []struct {
			name string
			res  func() *http.Response
			code int
		}{
			{"sign-in form", func() *http.Response {
				return anon.post("/login", url.Values{"username": {"officer\x00"}, "password": {"x"}})
			}, http.StatusBadRequest},
			{"case form", func() *http.Response {
				f := kovrigForm()
				f.Set("names.0.value", "Michael\x00Kovrig")
				return officer.post("/cases", f)
			}, http.StatusBadRequest},
			{"query", func() *http.Response { return officer.get("/people?q=Kov%00rig") }, http.StatusBadRequest},
			{"JSON escape", func() *http.Response {
				return officer.api("POST", "/api/v1/cases", `{"names": [{"value": "Michael\u0000Kovrig"}]}`)
			}, http.StatusBadRequest},
			{"oversized form", func() *http.Response {
				f := kovrigForm()
				f.Set("notes", strings.Repeat("x", 2<<20))
				return officer.post("/cases", f)
			}, http.StatusRequestEntityTooLarge},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := tc.res()
				body := readBody(t, res)
				if res.StatusCode != tc.code {
					t.Errorf("%d, want %d: %.200s", res.StatusCode, tc.code, body)
				}
				if want := map[int]string{400: "NUL character", 413: "too large"}[tc.code]; !strings.Contains(body, want) {
					t.Errorf("the answer does not say %q: %.300s", want, body)
				}
			})
		}
		if n := caseCount(t, h); n != before {
			t.Errorf("%d cases, want %d: a refused request changed something", n, before)
		}
	})
}

// tcpProxy forwards 127.0.0.1 connections to to until closed, when it
// stops listening and cuts every connection: the database "goes down".
type tcpProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newTCPProxy(t *testing.T, to string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// While the database cannot be reached, requests answer 503 with a retry
// time, not 500; a request its client abandoned is counted as 499, not as
// a failure of ours.
func TestDatabaseDownAndClientGone(t *testing.T) {
	base, u := dbtest.ConnectURL(t, db.Postgres)
	if err := base.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, parsed.Host)
	parsed.Host = proxy.ln.Addr().String()
	q := parsed.Query()
	q.Set("connect_timeout", "2")
	parsed.RawQuery = q.Encode()
	d, err := db.Connect(context.Background(), parsed.String(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	h := newHarness(t, d)
	officer := h.as(auth.RoleConsularOfficer)
	if res := officer.get("/cases"); res.StatusCode != http.StatusOK {
		t.Fatalf("cases with the database up: %d", res.StatusCode)
	}

	// A client that gives up while its request runs.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/cases", nil).WithContext(ctx)
	req.Header.Set("Cookie", "attache_session="+officer.cookies["attache_session"])
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	if rec.Code != 499 {
		t.Errorf("an abandoned request: %d, want 499", rec.Code)
	}

	proxy.close()
	for _, path := range []string{"/cases", "/api/v1/cases"} {
		res := officer.get(path)
		body := readBody(t, res)
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || !strings.Contains(body, "cannot reach its database") {
			t.Errorf("%s with the database down: %d %q %.200s", path, res.StatusCode, res.Header.Get("Retry-After"), body)
		}
	}
}
