package sso_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/sso"
	"github.com/attache-org/attache/internal/sso/ssotest"
)

// The test provider is ssotest's: zitadel's OpenID provider with the
// ministry's claims (groups, post, desk), on loopback.

const password = "correct horse battery staple"

var testUsers = []ssotest.User{
	{Subject: "u-anna", Username: "Anna.Berger@Ministry.Example", Name: "Anna Berger", Email: "anna.berger@ministry.example",
		Groups: []string{"staff", "attache-officers"}, Post: "Lyon", Desk: "Consular desk 2"},
	{Subject: "u-bob", Username: "bob", Name: "Bob Meyer", Email: "bob@ministry.example", Groups: []string{"staff"}, Post: "Paris"},
	{Subject: "u-carl", Username: "carl", Name: "Carl Roth", Groups: []string{"attache-admins", "attache-auditors"}},
	// Dora's groups claim is a single string, not an array.
	{Subject: "u-dora", Username: "Dora Müller", Name: "Dora Müller", Claims: map[string]any{"groups": "attache-officers"}},
}

var testRoles = map[string]string{
	"attache-officers": "consular_officer",
	"attache-admins":   "admin",
	"attache-auditors": "auditor",
}

// provider is a running OpenID provider with the test users.
type provider struct {
	*ssotest.Provider
	redirect string // where the provider sends the browser back (never contacted)
}

func startProvider(t *testing.T) *provider {
	t.Helper()
	p := &provider{Provider: ssotest.Start(t)}
	p.redirect = p.RedirectURIs()[0]
	if p.redirect != p.URL+"/attache/login/sso/callback" {
		t.Fatalf("redirect URI %s", p.redirect)
	}
	for _, u := range testUsers {
		u.Password = password
		p.AddUser(u)
	}
	return p
}

// config is Attaché's configuration for the test provider.
func (p *provider) config() sso.Config {
	cfg := p.Config(p.redirect, testRoles)
	cfg.Label = "Sign in with the ministry account"
	return cfg
}

// client is one Attaché node's single sign-on client on d.
func (p *provider) client(t *testing.T, d *db.DB) *sso.Client {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := sso.New(t.Context(), p.config(), d, log, &http.Client{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("sso.New: %v", err)
	}
	return c
}

// callback returns the query of u, where the provider sent the browser,
// which must be Attaché's callback.
func (p *provider) callback(t *testing.T, u *url.URL) url.Values {
	t.Helper()
	if !strings.HasPrefix(u.String(), p.redirect+"?") {
		t.Fatalf("want a redirect to %s, got one to %s", p.redirect, u)
	}
	return u.Query()
}

// signIn drives a browser through the provider's login as user and returns
// the callback's query.
func (p *provider) signIn(t *testing.T, authURL, username string) url.Values {
	t.Helper()
	return p.callback(t, p.Login(t, ssotest.NewBrowser(), authURL, username, password))
}

// underWay reports whether the sign-in with this state is still stored.
func underWay(t *testing.T, d *db.DB, state string) bool {
	t.Helper()
	sum := sha256.Sum256([]byte(state))
	var n int
	if err := d.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM oidc_logins WHERE state_hash = $1`, hex.EncodeToString(sum[:])).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// pending counts the sign-ins under way.
func pending(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM oidc_logins`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSignIn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		p := startProvider(t)
		// Two nodes on one database: the sign-in begins on one and ends on
		// the other.
		nodeA, nodeB := p.client(t, d), p.client(t, d)
		if got := nodeA.Label(); got != "Sign in with the ministry account" {
			t.Errorf("Label = %q", got)
		}

		began := time.Now().Truncate(time.Second)
		authURL, state, err := nodeA.Begin(t.Context(), "/cases/42", false)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		u, err := url.Parse(authURL)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		for k, want := range map[string]string{"client_id": p.ClientID(), "redirect_uri": p.redirect, "response_type": "code",
			"code_challenge_method": "S256", "state": state, "scope": "openid profile email"} {
			if got := q.Get(k); got != want {
				t.Errorf("authorization URL: %s = %q, want %q", k, got, want)
			}
		}
		if q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Has("prompt") || q.Has("max_age") {
			t.Errorf("authorization URL %s: want code_challenge and nonce, no prompt or max_age", authURL)
		}
		if n := pending(t, d); n != 1 {
			t.Fatalf("%d sign-ins under way after Begin, want 1", n)
		}

		query := p.signIn(t, authURL, "Anna.Berger@Ministry.Example")
		id, next, err := nodeB.Finish(t.Context(), query, state)
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		if next != "/cases/42" {
			t.Errorf("next = %q, want /cases/42", next)
		}
		want := sso.Identity{Issuer: p.URL, Subject: "u-anna", Username: "anna.berger.ministry.example", Name: "Anna Berger",
			Email: "anna.berger@ministry.example", Role: "consular_officer", Post: "Lyon", Desk: "Consular desk 2"}
		got := *id
		got.AMR, got.AuthTime, got.IDToken = nil, time.Time{}, ""
		if !equalIdentity(got, want) {
			t.Errorf("identity\n got %+v\nwant %+v", got, want)
		}
		if !slices.Contains(id.AMR, "pwd") {
			t.Errorf("AMR = %v, want pwd", id.AMR)
		}
		if id.AuthTime.Before(began) || id.AuthTime.After(time.Now().Add(time.Second)) {
			t.Errorf("AuthTime = %v, want after %v", id.AuthTime, began)
		}
		if strings.Count(id.IDToken, ".") != 2 {
			t.Errorf("IDToken = %q, want a JWT", id.IDToken)
		}
		if n := pending(t, d); n != 0 {
			t.Errorf("%d sign-ins under way after Finish, want 0", n)
		}

		logout, err := url.Parse(nodeB.LogoutURL(id.IDToken, "https://attache.example.org/login"))
		if err != nil {
			t.Fatal(err)
		}
		lq := logout.Query()
		if logout.Scheme+"://"+logout.Host != p.URL || logout.Path == "" || lq.Get("id_token_hint") != id.IDToken ||
			lq.Get("post_logout_redirect_uri") != "https://attache.example.org/login" || lq.Get("client_id") != p.ClientID() {
			t.Errorf("LogoutURL = %s", logout)
		}
		// The provider accepts the sign-out and sends the browser back.
		back := p.URL + "/login"
		if got := p.Follow(t, nil, nodeB.LogoutURL(id.IDToken, back)); got.String() != back {
			t.Errorf("the provider sent the browser to %s after the sign-out, want %s", got, back)
		}

		t.Run("unmapped role", func(t *testing.T) {
			authURL, state, err := nodeA.Begin(t.Context(), "", false)
			if err != nil {
				t.Fatal(err)
			}
			id, next, err := nodeA.Finish(t.Context(), p.signIn(t, authURL, "bob"), state)
			if err != nil {
				t.Fatalf("Finish: %v", err)
			}
			if id.Role != "" || id.Username != "bob" || id.Post != "Paris" || id.Desk != "" || next != "/" {
				t.Errorf("identity %+v, next %q: want no role, username bob, post Paris, no desk, next /", id, next)
			}
		})
	})
}

func equalIdentity(a, b sso.Identity) bool {
	return a.Issuer == b.Issuer && a.Subject == b.Subject && a.Username == b.Username && a.Name == b.Name &&
		a.Email == b.Email && a.Role == b.Role && a.Post == b.Post && a.Desk == b.Desk
}

func TestStepUp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		p := startProvider(t)
		c := p.client(t, d)
		began := time.Now().Truncate(time.Second)
		authURL, state, err := c.Begin(t.Context(), "/admin", true)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(authURL)
		if u.Query().Get("prompt") != "login" || u.Query().Get("max_age") != "0" {
			t.Fatalf("authorization URL %s: want prompt=login and max_age=0", authURL)
		}
		id, _, err := c.Finish(t.Context(), p.signIn(t, authURL, "Anna.Berger@Ministry.Example"), state)
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		if id.AuthTime.Before(began) {
			t.Errorf("AuthTime = %v, want a fresh authentication after %v", id.AuthTime, began)
		}
	})
}

// TestFinishRefuses checks every way a callback is refused: with an
// Unauthorized problem whose message is a plain sentence, and with the
// sign-in under way gone.
func TestFinishRefuses(t *testing.T) {
	type flow struct {
		query  url.Values
		cookie string
	}
	cases := []struct {
		name string
		user string // signs in at the provider; "" to stop at the authorization URL
		// prepare runs before the browser goes to the provider.
		prepare func(t *testing.T, p *provider, c *sso.Client, authURL string) string
		// alter changes the callback before Finish.
		alter func(t *testing.T, p *provider, c *sso.Client, f *flow)
		want  string
	}{
		{name: "replayed callback", user: "Anna.Berger@Ministry.Example",
			alter: func(t *testing.T, p *provider, c *sso.Client, f *flow) {
				if _, _, err := c.Finish(t.Context(), f.query, f.cookie); err != nil {
					t.Fatalf("first Finish: %v", err)
				}
			},
			want: "unknown or was already used"},
		{name: "wrong cookie", user: "Anna.Berger@Ministry.Example",
			alter: func(t *testing.T, p *provider, c *sso.Client, f *flow) { f.cookie = "state-of-another-sign-in" },
			want:  "another browser or window"},
		{name: "no cookie", user: "Anna.Berger@Ministry.Example",
			alter: func(t *testing.T, p *provider, c *sso.Client, f *flow) { f.cookie = "" },
			want:  "another browser or window"},
		{name: "unknown state", user: "Anna.Berger@Ministry.Example",
			alter: func(t *testing.T, p *provider, c *sso.Client, f *flow) {
				f.query.Set("state", "made-up")
				f.cookie = "made-up"
			},
			want: "unknown or was already used"},
		{name: "no state", user: "Anna.Berger@Ministry.Example",
			alter: func(t *testing.T, p *provider, c *sso.Client, f *flow) { f.query.Del("state") },
			want:  "incomplete"},
		{name: "expired", user: "Anna.Berger@Ministry.Example",
			alter: func(t *testing.T, p *provider, c *sso.Client, f *flow) {
				c.SetClock(func() time.Time { return time.Now().Add(sso.LoginLifetime + time.Second) })
			},
			want: "expired"},
		{name: "provider error", // prompt=none without a session at the provider
			prepare: func(t *testing.T, p *provider, c *sso.Client, authURL string) string {
				u, _ := url.Parse(authURL)
				q := u.Query()
				q.Set("prompt", "none")
				u.RawQuery = q.Encode()
				return u.String()
			},
			want: "did not sign you in"},
		{name: "access denied", user: "Anna.Berger@Ministry.Example",
			alter: func(t *testing.T, p *provider, c *sso.Client, f *flow) {
				f.query = url.Values{"state": {f.query.Get("state")}, "error": {"access_denied"}, "error_description": {"User cancelled"}}
			},
			want: "cancelled or refused"},
		{name: "tampered code", user: "Anna.Berger@Ministry.Example",
			alter: func(t *testing.T, p *provider, c *sso.Client, f *flow) { f.query.Set("code", f.query.Get("code")+"x") },
			want:  "did not accept the sign-in code"},
		{name: "no code", user: "Anna.Berger@Ministry.Example",
			alter: func(t *testing.T, p *provider, c *sso.Client, f *flow) { f.query.Del("code") },
			want:  "no sign-in code"},
		{name: "another issuer", user: "Anna.Berger@Ministry.Example",
			alter: func(t *testing.T, p *provider, c *sso.Client, f *flow) {
				f.query.Set("iss", "https://evil.example.org")
			},
			want: "another identity provider"},
		{name: "nonce differs", user: "Anna.Berger@Ministry.Example",
			alter: func(t *testing.T, p *provider, c *sso.Client, f *flow) { p.TamperNonce(true) },
			want:  "does not belong to this sign-in"},
		{name: "another audience", user: "Anna.Berger@Ministry.Example",
			alter: func(t *testing.T, p *provider, c *sso.Client, f *flow) { p.TamperAudience(true) },
			want:  "could not be verified"},
		{name: "several roles", user: "carl", want: "more than one Attaché role"},
		{name: "unusable username", user: "Dora Müller", want: "cannot be used in Attaché"},
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		p := startProvider(t)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				p.TamperNonce(false)
				p.TamperAudience(false)
				c := p.client(t, d)
				authURL, state, err := c.Begin(t.Context(), "/", false)
				if err != nil {
					t.Fatal(err)
				}
				if tc.prepare != nil {
					authURL = tc.prepare(t, p, c, authURL)
				}
				f := &flow{cookie: state}
				if tc.user != "" {
					f.query = p.signIn(t, authURL, tc.user)
				} else {
					f.query = p.callback(t, p.Follow(t, ssotest.NewBrowser(), authURL))
				}
				if tc.alter != nil {
					tc.alter(t, p, c, f)
				}
				before := pending(t, d)
				id, next, err := c.Finish(t.Context(), f.query, f.cookie)
				if err == nil {
					t.Fatalf("Finish = %+v, %q; want an error", id, next)
				}
				pe, ok := problem.As(err)
				if !ok || pe.Kind != problem.Unauthorized {
					t.Fatalf("Finish: %v (%T), want an Unauthorized problem", err, err)
				}
				if !strings.Contains(pe.Message, tc.want) || err.Error() != pe.Message {
					t.Errorf("Finish: %q, want a sentence with %q and nothing else", err, tc.want)
				}
				if strings.Contains(pe.Message, "oidc") || strings.Contains(pe.Message, "://") {
					t.Errorf("the message shows internals: %q", pe.Message)
				}
				// The sign-in is gone, used up by the refusal, unless the
				// callback never named it; a replay changes nothing.
				kept := tc.name == "unknown state" || tc.name == "no state"
				if got := underWay(t, d, state); got != kept {
					t.Errorf("sign-in still under way after the refusal: %v, want %v", got, kept)
				}
				want := before - 1
				if kept || tc.name == "replayed callback" {
					want = before
				}
				if n := pending(t, d); n != want {
					t.Errorf("%d sign-ins under way after the refusal (%d before), want %d", n, before, want)
				}
				// Whatever was refused cannot be retried with the right cookie.
				if _, _, err := c.Finish(t.Context(), f.query, state); !problem.Is(err, problem.Unauthorized) {
					t.Errorf("retry with the right cookie: %v, want Unauthorized", err)
				}
			})
		}
	})
}

func TestPurge(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		p := startProvider(t)
		c := p.client(t, d)
		t0 := time.Now()
		c.SetClock(func() time.Time { return t0 })
		for range 2 {
			if _, _, err := c.Begin(t.Context(), "/", false); err != nil {
				t.Fatal(err)
			}
		}
		c.SetClock(func() time.Time { return t0.Add(9 * time.Minute) })
		_, state, err := c.Begin(t.Context(), "/", false)
		if err != nil {
			t.Fatal(err)
		}
		c.SetClock(func() time.Time { return t0.Add(sso.LoginLifetime) })
		if err := c.Purge(t.Context()); err != nil {
			t.Fatalf("Purge: %v", err)
		}
		if n := pending(t, d); n != 1 {
			t.Errorf("%d sign-ins under way after Purge, want 1", n)
		}
		// The one left is the one begun last.
		_, _, err = c.Finish(t.Context(), url.Values{"state": {state}, "error": {"access_denied"}}, state)
		if !problem.Is(err, problem.Unauthorized) || !strings.Contains(err.Error(), "cancelled") {
			t.Errorf("Finish of the remaining sign-in: %v", err)
		}
	})
}

func TestNewDiscoveryFails(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	cfg := sso.Config{Issuer: srv.URL, ClientID: "attache", RedirectURL: "https://attache.example.org/login/sso/callback",
		Mapping: sso.Mapping{RoleClaim: "groups", Roles: map[string]string{"a": "admin"}}}
	d := dbtest.Open(t, db.SQLite)
	if _, err := sso.New(t.Context(), cfg, d, nil, srv.Client()); err == nil || !strings.Contains(err.Error(), "discover") {
		t.Errorf("New with no discovery document: %v", err)
	}
	cfg.Mapping.RoleClaim = ""
	if _, err := sso.New(t.Context(), cfg, d, nil, srv.Client()); err == nil || !strings.Contains(err.Error(), "role_claim") {
		t.Errorf("New with no role claim: %v", err)
	}
}

func TestNormalizeUsername(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"anna", "anna", true},
		{"  Anna.Berger@Ministry.Example ", "anna.berger.ministry.example", true},
		{"j_doe-2", "j_doe-2", true},
		{"Dora Müller", "dora müller", false},
		{"a", "a", false},
		{".anna", ".anna", false},
		{"anna+tag@example.org", "anna+tag.example.org", false},
		{strings.Repeat("x", 64), strings.Repeat("x", 64), false},
	} {
		got, ok := sso.NormalizeUsername(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("NormalizeUsername(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	const minimal = `{
  "issuer": "https://login.ministry.example/realms/ministry",
  "client_id": "attache",
  "redirect_url": "https://attache.ministry.example/login/sso/callback",
  "mapping": {"role_claim": "groups", "roles": {"attache-officers": "consular_officer"}}
}`
	write := func(t *testing.T, content string) string {
		t.Helper()
		path := filepath.Join(t.TempDir(), "sso.json")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	noEnv := func(string) string { return "" }
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	withField := func(field, value string) string {
		return strings.Replace(minimal, "{\n", "{\n  \""+field+"\": "+value+",\n", 1)
	}

	t.Run("defaults", func(t *testing.T) {
		cfg, err := sso.LoadConfig(write(t, minimal), noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cfg.Scopes, []string{"openid", "profile", "email"}) || cfg.Label == "" || cfg.ClientSecret != "" ||
			cfg.Mapping.UsernameClaim != "preferred_username" || cfg.Mapping.NameClaim != "name" || cfg.Mapping.EmailClaim != "email" {
			t.Errorf("defaults not applied: %+v", cfg)
		}
	})
	t.Run("openid is always requested", func(t *testing.T) {
		cfg, err := sso.LoadConfig(write(t, withField("scopes", `["profile", "groups"]`)), noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cfg.Scopes, []string{"openid", "profile", "groups"}) {
			t.Errorf("Scopes = %v", cfg.Scopes)
		}
	})
	t.Run("secret from the environment", func(t *testing.T) {
		path := write(t, withField("client_secret_file", `"secret.txt"`))
		if err := os.WriteFile(filepath.Join(filepath.Dir(path), "secret.txt"), []byte("from-file\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := sso.LoadConfig(path, env(map[string]string{sso.SecretEnv: "from-env"}))
		if err != nil || cfg.ClientSecret != "from-env" {
			t.Errorf("secret = %q, %v; want from-env", cfg.ClientSecret, err)
		}
		cfg, err = sso.LoadConfig(path, noEnv)
		if err != nil || cfg.ClientSecret != "from-file" {
			t.Errorf("secret = %q, %v; want from-file (the file, relative to the configuration, trimmed)", cfg.ClientSecret, err)
		}
	})
	t.Run("loopback http issuer", func(t *testing.T) {
		for _, issuer := range []string{"http://127.0.0.1:8081/realms/test", "http://localhost:8081", "http://[::1]:8081"} {
			if _, err := sso.LoadConfig(write(t, strings.Replace(minimal, "https://login.ministry.example/realms/ministry", issuer, 1)), noEnv); err != nil {
				t.Errorf("issuer %s: %v", issuer, err)
			}
		}
	})
	// Every ministry role is accepted, and nothing else (family accounts come
	// from invitations only).
	t.Run("every ministry role", func(t *testing.T) {
		for _, r := range auth.AllRoles {
			_, err := sso.LoadConfig(write(t, strings.Replace(minimal, `"consular_officer"`, `"`+string(r)+`"`, 1)), noEnv)
			if (err == nil) != r.Valid() {
				t.Errorf("role %s: %v", r, err)
			}
		}
	})

	for _, tc := range []struct {
		name, content string
		want          []string
	}{
		{"bad role name", strings.Replace(minimal, `"consular_officer"`, `"officer"`, 1),
			[]string{`"attache-officers" maps to "officer", which is not an Attaché role`, "consular_officer"}},
		{"missing role claim", strings.Replace(minimal, `"role_claim": "groups", `, "", 1), []string{"mapping.role_claim is missing"}},
		{"no roles", strings.Replace(minimal, `{"attache-officers": "consular_officer"}`, `{}`, 1), []string{"mapping.roles is empty"}},
		{"http issuer", strings.Replace(minimal, "https://login.ministry.example", "http://login.ministry.example", 1),
			[]string{"issuer", "plain http is allowed only on a loopback host"}},
		{"http redirect", strings.Replace(minimal, "https://attache.ministry.example", "http://attache.ministry.example", 1),
			[]string{"redirect_url", "use https"}},
		{"wrong callback path", strings.Replace(minimal, "/login/sso/callback", "/callback", 1), []string{"must end in /login/sso/callback"}},
		{"secret in the file", withField("client_secret", `"s3cret"`), []string{"client_secret", sso.SecretEnv}},
		{"unknown field", withField("isuer", `"x"`), []string{`unknown field "isuer"`}},
		{"syntax error", strings.Replace(minimal, `"client_id": "attache",`, `"client_id": "attache"`, 1), []string{"line 4"}},
		{"everything at once", `{"mapping": {"roles": {"x": "king"}}}`,
			[]string{"issuer is missing", "client_id is missing", "redirect_url is missing", "role_claim is missing", `"king"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sso.LoadConfig(write(t, tc.content), noEnv)
			if err == nil {
				t.Fatal("LoadConfig succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("LoadConfig: %v\nwant it to say %q", err, w)
				}
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := sso.LoadConfig(filepath.Join(t.TempDir(), "none.json"), noEnv)
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("LoadConfig: %v, want not exist", err)
		}
	})
}
