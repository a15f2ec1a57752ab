package ssotest

import (
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// loginPage is the provider's login page, after zitadel's example login UI
// (example/server/exampleop/templates/login.html), with a title, an id on
// the button and an id on the error message.
var loginPage = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<title>Sign in at the test identity provider</title>
</head>
<body style="display: flex; align-items: center; justify-content: center; height: 100vh;">
<form method="POST" action="` + LoginPath + `" style="width: 16rem;">
<input type="hidden" name="id" value="{{.ID}}">
<div>
<label for="username">Username:</label>
<input id="username" name="username" autocomplete="username" style="width: 100%">
</div>
<div>
<label for="password">Password:</label>
<input id="password" name="password" type="password" autocomplete="current-password" style="width: 100%">
</div>
<p id="error" role="alert" style="color: red; min-height: 1rem;">{{.Error}}</p>
<button id="login" type="submit">Login</button>
</form>
</body>
</html>
`))

const loggedOutPage = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="UTF-8"><title>Signed out</title></head>
<body><p id="signed-out">You have signed out of the test identity provider.</p></body>
</html>
`

// renderLogin writes the login page for the authorization request id.
func renderLogin(w http.ResponseWriter, status int, id, errMsg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = loginPage.Execute(w, struct{ ID, Error string }{id, errMsg})
}

// Login signs in at the provider as a browser would, with client's cookies:
// it opens authURL (the authorization URL, on the provider), follows the
// provider's redirects to its login page, posts username and password, and
// follows the redirects again until the provider sends the browser away: to
// a redirect URI with code and state, or with an error. It returns that
// URL without requesting it. client may be nil for a NewBrowser.
//
// Login fails t when authURL is not on the provider, when the provider does
// not show its login page, or when it refuses the password.
func (p *Provider) Login(t testing.TB, client *http.Client, authURL, username, password string) *url.URL {
	t.Helper()
	c := noFollow(client)
	page, away := p.walk(t, c, http.MethodGet, authURL, nil)
	if away != nil {
		t.Fatalf("ssotest: Login: the provider sent the browser to %s instead of showing its login page", away)
	}
	if page.status != http.StatusOK || page.url.Path != LoginPath {
		t.Fatalf("ssotest: Login: want the provider's login page, got %s at %s: %s", page.statusText, page.url, page.text())
	}
	form := url.Values{"id": {page.url.Query().Get("authRequestID")}, "username": {username}, "password": {password}}
	page, away = p.walk(t, c, http.MethodPost, p.URL+LoginPath, form)
	if away == nil {
		t.Fatalf("ssotest: Login as %q: the provider answered %s at %s: %s", username, page.statusText, page.url, page.text())
	}
	return away
}

// Follow requests rawURL, a URL on the provider (an authorization URL, an
// end-session URL), with client's cookies, and follows the provider's
// redirects until it sends the browser away: to a redirect URI or a
// post-logout redirect URI of the client, or to another host. It returns
// that URL without requesting it, and fails t when the provider answers with
// a page instead. client may be nil for a NewBrowser.
//
// For instance, an authorization URL with prompt=none leads to the redirect
// URI with error=login_required, since the provider keeps no session.
func (p *Provider) Follow(t testing.TB, client *http.Client, rawURL string) *url.URL {
	t.Helper()
	page, away := p.walk(t, noFollow(client), http.MethodGet, rawURL, nil)
	if away == nil {
		t.Fatalf("ssotest: Follow %s: the provider answered %s at %s: %s", rawURL, page.statusText, page.url, page.text())
	}
	return away
}

// noFollow is a copy of client (or a NewBrowser) that leaves redirects to
// walk.
func noFollow(client *http.Client) *http.Client {
	if client == nil {
		client = NewBrowser()
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// page is the provider's answer that was not a redirect.
type page struct {
	url        *url.URL
	status     int
	statusText string
	body       string
}

// text is the page's text, roughly, for an error message.
func (pg page) text() string {
	s := pg.body
	if i := strings.Index(s, `id="error"`); i >= 0 { // the login page's message
		s = s[i:]
		if j := strings.Index(s, ">"); j >= 0 {
			s = s[j+1:]
		}
		if j := strings.Index(s, "<"); j >= 0 {
			s = s[:j]
		}
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// walk makes the request and follows the provider's redirects. It returns
// the first URL the provider sends the browser away to, or else the page it
// ends at. It never requests anything off the provider.
func (p *Provider) walk(t testing.TB, c *http.Client, method, rawURL string, form url.Values) (page, *url.URL) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("ssotest: %q is not a URL: %v", rawURL, err)
	}
	if p.away(u) {
		t.Fatalf("ssotest: %s is not a page of the provider at %s", u, p.URL)
	}
	for range 10 {
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(t.Context(), method, u.String(), body)
		if err != nil {
			t.Fatalf("ssotest: %v", err)
		}
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("ssotest: %s %s: %v", method, u, err)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			t.Fatalf("ssotest: %s %s: %v", method, u, err)
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode >= 400 || loc == "" {
			return page{url: u, status: resp.StatusCode, statusText: resp.Status, body: string(b)}, nil
		}
		next, err := u.Parse(loc)
		if err != nil {
			t.Fatalf("ssotest: %s %s: redirect to %q: %v", method, u, loc, err)
		}
		if p.away(next) {
			return page{}, next
		}
		u, method, form = next, http.MethodGet, nil
	}
	t.Fatalf("ssotest: the provider redirected too many times, last to %s", u)
	return page{}, nil
}

// away reports whether u leaves the provider: another host, or one of the
// client's redirect or post-logout redirect URIs (which may be on the
// provider's host).
func (p *Provider) away(u *url.URL) bool {
	if u.Scheme != "http" || u.Host != p.host {
		return true
	}
	bare := *u
	bare.RawQuery, bare.Fragment = "", ""
	s := bare.String()
	return slices.Contains(p.redirectURIs, s) || slices.Contains(p.postLogout, s)
}
