package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/web"
)

// signIn posts the sign-in form from a fresh browser.
func signIn(t *testing.T, h *harness, username, next string) (*client, *http.Response) {
	t.Helper()
	c := h.anonymous()
	res := c.post("/login", url.Values{"username": {username}, "password": {testPassword}, "next": {next}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", res.StatusCode, readBody(t, res))
	}
	sess := c.session(t)
	c.csrf = sess.CSRF
	return c, res
}

func (c *client) session(t *testing.T) *auth.Session {
	t.Helper()
	_, sess, err := c.h.auth.SessionUser(t.Context(), c.cookies["attache_session"])
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	return sess
}

var secretRE = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)

func TestSecondFactorPages(t *testing.T) {
	h := onSQLite(t)
	h.auth.MFADefault = true // as outside the demo
	officer := h.users[auth.RoleConsularOfficer]

	// Required and not set up: the session may only set one up.
	c, res := signIn(t, h, officer.Username, "/cases")
	if loc := res.Header.Get("Location"); loc != "/cases" {
		t.Fatalf("sign-in went to %q", loc)
	}
	for _, path := range []string{"/cases", "/", "/account"} {
		if res := c.get(path); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account/security" {
			t.Fatalf("GET %s before enrolment: %d %s", path, res.StatusCode, res.Header.Get("Location"))
		}
	}
	if res := c.api("GET", "/api/v1/cases", ""); res.StatusCode != http.StatusForbidden {
		t.Fatalf("API before enrolment: %d", res.StatusCode)
	}
	if res := c.get("/account/security"); res.StatusCode != http.StatusOK || !strings.Contains(readBody(t, res), "Your role requires a second factor") {
		t.Fatalf("security page: %d", res.StatusCode)
	}

	// Set up an authenticator app (post, redirect, get).
	res = c.post("/account/totp", nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account/totp" {
		t.Fatalf("start TOTP: %d", res.StatusCode)
	}
	page := readBody(t, c.get("/account/totp"))
	m := secretRE.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, `src="data:image/png;base64,`) {
		t.Fatalf("no secret or QR code on the setup page: %s", page)
	}
	secret := m[1]
	if res := c.post("/account/totp/confirm", url.Values{"code": {"123456"}}); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("wrong first code: %d", res.StatusCode)
	}
	code, _ := totp.GenerateCode(secret, h.clock.Now())
	res = c.post("/account/totp/confirm", url.Values{"code": {code}})
	body := readBody(t, res)
	if res.StatusCode != http.StatusCreated || strings.Count(body, "<li>") < 10 || !strings.Contains(body, "recovery-codes") {
		t.Fatalf("confirm: %d %s", res.StatusCode, body)
	}
	codes := regexp.MustCompile(`<li>([a-z0-9]{5}-[a-z0-9]{5})</li>`).FindAllStringSubmatch(body, -1)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes on the page", len(codes))
	}
	// A reload of the confirmation repeats nothing.
	if res := c.post("/account/totp/confirm", url.Values{"code": {code}}); res.StatusCode == http.StatusCreated {
		t.Fatal("the confirmation ran twice")
	}
	if res := c.get("/cases"); res.StatusCode != http.StatusOK {
		t.Fatalf("after enrolment: %d", res.StatusCode)
	}

	// The next sign-in waits for the code, and opens nothing before.
	h.clock.Add(time.Minute)
	c, res = signIn(t, h, officer.Username, "/cases")
	if loc := res.Header.Get("Location"); loc != "/cases" {
		t.Fatalf("sign-in went to %q", loc)
	}
	if res := c.get("/cases"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login/verify?next=%2Fcases" {
		t.Fatalf("pending session on /cases: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res := c.post("/cases", url.Values{}); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("pending session posting: %d", res.StatusCode)
	}
	if res := c.api("GET", "/api/v1/me", ""); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("pending session on the API: %d", res.StatusCode)
	}
	if page := readBody(t, c.get("/login/verify?next=%2Fcases")); strings.Contains(page, `href="/cases"`) {
		t.Fatal("the verify page shows the menu")
	}
	res = c.post("/login/verify", url.Values{"method": {"totp"}, "code": {"000000"}, "next": {"/cases"}})
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("wrong code: %d", res.StatusCode)
	}
	// Without the CSRF token, nothing is checked.
	c.header.Del("X-CSRF-Token")
	if res := c.post("/login/verify", url.Values{"csrf": {"x"}, "method": {"totp"}, "code": {code}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("verify without CSRF: %d %s", res.StatusCode, readBody(t, res))
	}
	code, _ = totp.GenerateCode(secret, h.clock.Now())
	res = c.post("/login/verify", url.Values{"method": {"totp"}, "code": {code}, "next": {"//evil.example/"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("right code: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if got := c.session(t).Factors; strings.Join(got, " ") != "password totp" {
		t.Fatalf("session factors %v", got)
	}
	if res := c.get("/account"); !strings.Contains(readBody(t, res), "Password, Authenticator app") {
		t.Fatal("the account page does not say how the browser signed in")
	}

	// A recovery code instead of the app.
	h.clock.Add(time.Minute)
	c2, _ := signIn(t, h, officer.Username, "/")
	res = c2.post("/login/verify", url.Values{"method": {"recovery"}, "recovery": {strings.ToUpper(codes[0][1])}, "next": {"/"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("recovery code: %d %s", res.StatusCode, readBody(t, res))
	}
	c3, _ := signIn(t, h, officer.Username, "/")
	if res := c3.post("/login/verify", url.Values{"method": {"recovery"}, "recovery": {codes[0][1]}}); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("a used recovery code: %d", res.StatusCode)
	}
	// The password alone is no step-up for an account with a second factor.
	if res := c.post("/login/verify", url.Values{"method": {"password"}, "password": {testPassword}}); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("password as step-up with a factor set up: %d", res.StatusCode)
	}

	// Step-up: ten minutes on, the export waits for a fresh code.
	if res := c.get("/cases.csv"); res.StatusCode != http.StatusOK {
		t.Fatalf("export just after sign-in: %d", res.StatusCode)
	}
	h.clock.Add(auth.StepUpWindow + time.Second)
	res = c.get("/cases.csv")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login/verify?step=1&next=%2Fcases.csv" {
		t.Fatalf("stale export: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res := c.get("/cases"); res.StatusCode != http.StatusOK {
		t.Fatalf("everyday page after the window: %d", res.StatusCode)
	}
	code, _ = totp.GenerateCode(secret, h.clock.Now())
	res = c.post("/login/verify", url.Values{"method": {"totp"}, "code": {code}, "next": {"/cases.csv"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/cases.csv" {
		t.Fatalf("step-up: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res := c.get("/cases.csv"); res.StatusCode != http.StatusOK {
		t.Fatalf("export after step-up: %d", res.StatusCode)
	}
	if h.auditActions(t)["session.step_up"] != 1 {
		t.Fatalf("step-up not audited: %v", h.auditActions(t))
	}
}

func TestStepUpForAdministration(t *testing.T) {
	h := onSQLite(t)
	admin := h.as(auth.RoleAdmin)
	officer := h.users[auth.RoleConsularOfficer]
	h.clock.Add(auth.StepUpWindow + time.Second)

	// A form posted on a stale session changes nothing, and sends the
	// administrator to confirm, then back to the page they came from.
	admin.header.Set("Referer", "http://example.com/admin/users/"+officer.ID)
	res := admin.post("/admin/users/"+officer.ID, url.Values{"display_name": {"Changed"}, "role": {"consular_officer"}, "post": {"Beijing"}})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login/verify?step=1&next=%2Fadmin%2Fusers%2F") {
		t.Fatalf("stale administration: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if u, _ := h.auth.User(t.Context(), officer.ID); u.DisplayName == "Changed" {
		t.Fatal("the change went through without step-up")
	}
	// No second factor set up (optional here): the password again.
	if res := admin.post("/login/verify", url.Values{"method": {"password"}, "password": {"wrong password"}}); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	if res := admin.post("/login/verify", url.Values{"method": {"password"}, "password": {testPassword}, "next": {"/admin/users"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("password step-up: %d", res.StatusCode)
	}
	res = admin.post("/admin/users/"+officer.ID, url.Values{"display_name": {"Changed"}, "role": {"consular_officer"}, "post": {"Beijing"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/users/"+officer.ID {
		t.Fatalf("after step-up: %d %q", res.StatusCode, res.Header.Get("Location"))
	}

	// The API answers 403 on a stale session, and lets an API token through.
	h.clock.Add(auth.StepUpWindow + time.Second)
	if res := admin.api("PATCH", "/api/v1/users/"+officer.ID, `{"display_name":"Again"}`); res.StatusCode != http.StatusForbidden {
		t.Fatalf("stale API session: %d", res.StatusCode)
	}

	// Requirements per role, audited; a lost device reset with a reason.
	admin.post("/login/verify", url.Values{"method": {"password"}, "password": {testPassword}})
	res = admin.post("/admin/security", url.Values{"required": {"admin", "auditor"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save requirements: %d", res.StatusCode)
	}
	if req, _ := h.auth.MFARequirements(t.Context()); !req[auth.RoleAdmin] || req[auth.RoleConsularOfficer] {
		t.Fatalf("requirements %v", req)
	}
	if res := admin.post("/admin/security", url.Values{"required": {"family"}}); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown role: %d", res.StatusCode)
	}
	if res := h.as(auth.RoleAuditor).post("/admin/security", url.Values{"required": {"admin"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("auditor saving requirements: %d", res.StatusCode)
	}
	if res := admin.post("/admin/users/"+officer.ID+"/mfa-reset", url.Values{"reason": {""}}); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("reset without reason: %d", res.StatusCode)
	}
	victim := h.asUser(officer)
	if res := admin.post("/admin/users/"+officer.ID+"/mfa-reset", url.Values{"reason": {"Phone lost; identity checked by video call"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %d", res.StatusCode)
	}
	if res := victim.get("/cases"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("session after reset: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if n := h.auditActions(t)["user.mfa_reset"]; n != 1 {
		t.Fatalf("reset audited %d times", n)
	}
}

// TestStepUpRoutesExist keeps the step-up list in step with the routes: a
// renamed route must not silently lose its step-up.
func TestStepUpRoutesExist(t *testing.T) {
	h := onSQLite(t)
	patterns := map[string]bool{}
	for _, rt := range h.srv.Routes() {
		patterns[rt.Pattern()] = true
	}
	for _, p := range web.StepUpRoutes() {
		if !patterns[p] {
			t.Errorf("step-up names %s, which is not a route", p)
		}
	}
	if len(web.StepUpRoutes()) < 20 {
		t.Errorf("only %d routes ask for step-up", len(web.StepUpRoutes()))
	}
}
