package cli_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attache-org/attache/internal/servertest"
	"github.com/attache-org/attache/internal/sso/ssotest"
)

// TestSingleSignOn runs attache serve with --oidc-config against a real
// OpenID provider (zitadel's) on loopback and signs in through it as a
// browser would: the account is made from the claims, its role, post and
// desk follow them, a subject without a mapped role is refused, step-up
// signs in again at the provider, and signing out ends the provider's
// session too.
func TestSingleSignOn(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	p := ssotest.Start(t, base+"/login/sso/callback")
	p.AddUser(ssotest.User{Username: "anna.berger", Name: "Anna Berger", Email: "anna@example.org", Groups: []string{"consular-beijing"}, Post: "Beijing"})
	p.AddUser(ssotest.User{Username: "visitor", Name: "A visitor", Groups: []string{"staff-canteen"}})

	dir := t.TempDir()
	secret := filepath.Join(dir, "oidc-secret")
	if err := os.WriteFile(secret, []byte(p.ClientSecret()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"issuer": p.URL, "client_id": p.ClientID(), "client_secret_file": secret, "redirect_url": base + "/login/sso/callback",
		"label": "Sign in with the ministry account",
		"mapping": map[string]any{"role_claim": "groups", "post_claim": "post", "desk_claim": "desk",
			"roles": map[string]string{"consular-beijing": "consular_officer", "hq-china": "hq_officer"}},
	}
	raw, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "oidc.json")
	if err := os.WriteFile(cfgFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := servertest.Start(t, "--data", filepath.Join(dir, "data"), "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--oidc-config", cfgFile)

	browser := ssotest.NewBrowser()
	noFollow := *browser
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(u string) *http.Response {
		t.Helper()
		res, err := noFollow.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	body := func(res *http.Response) string {
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	// signIn goes from our button to the provider and back.
	signIn := func(path, username string) *http.Response {
		t.Helper()
		res := get(srv.URL + path)
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), p.URL) {
			t.Fatalf("GET %s: %d %q", path, res.StatusCode, res.Header.Get("Location"))
		}
		callback := p.Login(t, browser, res.Header.Get("Location"), username, ssotest.DefaultPassword)
		if !strings.HasPrefix(callback.String(), base+"/login/sso/callback?") {
			t.Fatalf("the provider sent the browser to %s", callback)
		}
		return get(callback.String())
	}

	if page := body(get(srv.URL + "/login")); !strings.Contains(page, "Sign in with the ministry account") {
		t.Fatal("the sign-in page has no single sign-on button")
	}
	// No role in Attaché: refused, on the sign-in page, with the reason.
	res := signIn("/login/sso", "visitor")
	if page := body(res); res.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "no role in Attaché") {
		t.Fatalf("unmapped subject: %d %s", res.StatusCode, page)
	}

	res = signIn("/login/sso?next=%2Fcases", "anna.berger")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/cases" {
		t.Fatalf("callback: %d %q %s", res.StatusCode, res.Header.Get("Location"), body(res))
	}
	if res := get(srv.URL + "/cases"); res.StatusCode != http.StatusOK {
		t.Fatalf("cases after single sign-on: %d", res.StatusCode)
	}
	account := body(get(srv.URL + "/account"))
	for _, want := range []string{"Anna Berger", "Ministry sign-in"} {
		if !strings.Contains(account, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
	// A replayed callback does nothing.
	res = get(srv.URL + "/login/sso/callback?code=x&state=y")
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged callback: %d", res.StatusCode)
	}

	// Step-up: the provider is asked to authenticate again.
	res = get(srv.URL + "/login/sso?step=1&next=%2Fcases.csv")
	authURL, _ := url.Parse(res.Header.Get("Location"))
	if q := authURL.Query(); q.Get("prompt") != "login" || q.Get("max_age") != "0" {
		t.Fatalf("step-up does not force a new sign-in: %s", authURL)
	}
	callback := p.Login(t, browser, authURL.String(), "anna.berger", ssotest.DefaultPassword)
	if res := get(callback.String()); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/cases.csv" {
		t.Fatalf("step-up callback: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res := get(srv.URL + "/cases.csv"); res.StatusCode != http.StatusOK {
		t.Fatalf("export after step-up: %d", res.StatusCode)
	}

	// Signing out ends the session here and at the provider.
	form := url.Values{"csrf": {csrfOf(t, account)}}
	res, err = noFollow.PostForm(srv.URL+"/logout", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, p.URL) || !strings.Contains(loc, "id_token_hint=") {
		t.Fatalf("sign-out: %d %q", res.StatusCode, loc)
	}
	if after := p.Follow(t, browser, res.Header.Get("Location")); after.String() != base+"/login" {
		t.Fatalf("the provider sent the browser to %s after sign-out", after)
	}
	if res := get(srv.URL + "/cases"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("still signed in after sign-out: %d", res.StatusCode)
	}

	// The claims change at the provider: the account follows at the next
	// sign-in; the local password sign-in is refused for it.
	p.AddUser(ssotest.User{Username: "anna.berger", Name: "Anna Berger", Email: "anna@example.org", Groups: []string{"hq-china"}, Desk: "China"})
	if res := signIn("/login/sso", "anna.berger"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("second sign-in: %d", res.StatusCode)
	}
	if page := body(get(srv.URL + "/")); !strings.Contains(page, "HQ case officer") {
		t.Error("the role did not follow the claims")
	}
	local, err := ssotest.NewBrowser().PostForm(srv.URL+"/login", url.Values{"username": {"anna.berger"}, "password": {ssotest.DefaultPassword}})
	if err != nil {
		t.Fatal(err)
	}
	local.Body.Close()
	if local.StatusCode != http.StatusUnauthorized {
		t.Fatalf("password sign-in of a single sign-on account: %d", local.StatusCode)
	}
}

// csrfOf reads the CSRF token of a page's forms.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, `name="csrf" value="`)
	if !ok {
		t.Fatal("no CSRF token on the page")
	}
	token, _, _ := strings.Cut(rest, `"`)
	return token
}
