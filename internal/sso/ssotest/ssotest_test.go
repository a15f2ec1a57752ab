package ssotest_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/attache-org/attache/internal/sso/ssotest"
)

const redirect = "http://127.0.0.1:1/login/sso/callback"

// discovery is the part of the discovery document the test needs.
type discovery struct {
	Issuer     string `json:"issuer"`
	Authorize  string `json:"authorization_endpoint"`
	Token      string `json:"token_endpoint"`
	EndSession string `json:"end_session_endpoint"`
	UserInfo   string `json:"userinfo_endpoint"`
}

func discover(t *testing.T, p *ssotest.Provider) discovery {
	t.Helper()
	resp, err := ssotest.NewBrowser().Get(p.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d discovery
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != p.URL || d.Authorize == "" || d.Token == "" || d.EndSession == "" || d.UserInfo == "" {
		t.Fatalf("discovery document %+v", d)
	}
	return d
}

// authorize returns an authorization URL with PKCE, and its verifier.
func authorize(d discovery, nonce, state string) (authURL, verifier string) {
	verifier = rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {ssotest.ClientID}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {"openid profile email"}, "state": {state}, "nonce": {nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	return d.Authorize + "?" + q.Encode(), verifier
}

// redeem exchanges the code and returns the raw ID token, its claims (not
// verified: the provider is trusted here) and the access token.
func redeem(t *testing.T, p *ssotest.Provider, d discovery, code, verifier string) (string, map[string]any, string) {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, d.Token, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(p.ClientID(), p.ClientSecret())
	resp, err := ssotest.NewBrowser().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token endpoint: %s: %s", resp.Status, body)
	}
	var tok struct {
		IDToken     string `json:"id_token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok.IDToken, ".")
	if len(parts) != 3 {
		t.Fatalf("id_token %q", tok.IDToken)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return tok.IDToken, claims, tok.AccessToken
}

// userinfo returns the claims of the userinfo endpoint.
func userinfo(t *testing.T, d discovery, accessToken string) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, d.UserInfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := ssotest.NewBrowser().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	claims := map[string]any{}
	if err := json.NewDecoder(resp.Body).Decode(&claims); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("userinfo: %s, %v", resp.Status, err)
	}
	return claims
}

func TestProvider(t *testing.T) {
	p := ssotest.Start(t, redirect)
	if !strings.HasPrefix(p.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %s, want loopback", p.URL)
	}
	if got := p.PostLogoutRedirectURIs(); !slices.Equal(got, []string{"http://127.0.0.1:1/login"}) {
		t.Errorf("PostLogoutRedirectURIs = %v", got)
	}
	p.AddUser(ssotest.User{Username: "anna", Password: "pw-anna", Subject: "sub-anna", Name: "Anna Berger",
		Email: "anna@example.org", Groups: []string{"officers"}, Post: "Lyon", Desk: "Desk 2"})
	p.AddUser(ssotest.User{Username: "bob", Claims: map[string]any{"groups": "admins"}})
	d := discover(t, p)

	cfg := p.Config("", map[string]string{"officers": "consular_officer"})
	if cfg.Issuer != p.URL || cfg.ClientID != p.ClientID() || cfg.ClientSecret != p.ClientSecret() || cfg.ClientSecret == "" ||
		cfg.RedirectURL != redirect || cfg.Mapping.RoleClaim != "groups" || cfg.Mapping.PostClaim != "post" ||
		cfg.Mapping.DeskClaim != "desk" || cfg.Mapping.Roles["officers"] != "consular_officer" {
		t.Errorf("Config = %+v", cfg)
	}

	t.Run("sign in", func(t *testing.T) {
		authURL, verifier := authorize(d, "n-1", "s-1")
		back := p.Login(t, ssotest.NewBrowser(), authURL, "anna", "pw-anna")
		if !strings.HasPrefix(back.String(), redirect+"?") || back.Query().Get("state") != "s-1" || back.Query().Get("code") == "" {
			t.Fatalf("Login = %s", back)
		}
		idToken, claims, accessToken := redeem(t, p, d, back.Query().Get("code"), verifier)
		// The ID token has the standard claims of the openid scope and the
		// ministry's; the userinfo endpoint has those of the profile and
		// email scopes too (the provider leaves them out of an ID token
		// issued with an access token).
		for k, want := range map[string]any{"iss": p.URL, "sub": "sub-anna", "aud": []any{ssotest.ClientID}, "nonce": "n-1",
			"groups": []any{"officers"}, "post": "Lyon", "desk": "Desk 2"} {
			if got, _ := json.Marshal(claims[k]); string(got) != mustJSON(t, want) {
				t.Errorf("ID token claim %s = %s, want %s", k, got, mustJSON(t, want))
			}
		}
		ui := userinfo(t, d, accessToken)
		for k, want := range map[string]any{"sub": "sub-anna", "preferred_username": "anna", "name": "Anna Berger",
			"email": "anna@example.org", "email_verified": true, "groups": []any{"officers"}, "post": "Lyon", "desk": "Desk 2"} {
			if got, _ := json.Marshal(ui[k]); string(got) != mustJSON(t, want) {
				t.Errorf("userinfo claim %s = %s, want %s", k, got, mustJSON(t, want))
			}
		}

		// Sign-out, back to the post-logout redirect URI, or to the
		// provider's own page.
		q := url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"http://127.0.0.1:1/login"}}
		if got := p.Follow(t, nil, d.EndSession+"?"+q.Encode()); got.String() != "http://127.0.0.1:1/login" {
			t.Errorf("after the sign-out: %s", got)
		}
		q.Set("post_logout_redirect_uri", "http://127.0.0.1:1/elsewhere")
		if resp, err := ssotest.NewBrowser().Get(d.EndSession + "?" + q.Encode()); err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("sign-out to an unregistered URI: %v, %v", resp, err)
		} else {
			resp.Body.Close()
		}
		resp, err := ssotest.NewBrowser().Get(d.EndSession + "?" + url.Values{"id_token_hint": {idToken}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != ssotest.LoggedOutPath {
			t.Errorf("sign-out without a redirect URI: %s at %s", resp.Status, resp.Request.URL)
		}
	})

	t.Run("subject and password by default, claims replaced", func(t *testing.T) {
		authURL, verifier := authorize(d, "n-2", "s-2")
		back := p.Login(t, nil, authURL, "bob", ssotest.DefaultPassword)
		_, claims, accessToken := redeem(t, p, d, back.Query().Get("code"), verifier)
		if claims["sub"] != "bob" || claims["groups"] != "admins" {
			t.Errorf("ID token claims %v", claims)
		}
		if ui := userinfo(t, d, accessToken); ui["sub"] != "bob" || ui["groups"] != "admins" || ui["preferred_username"] != "bob" ||
			ui["name"] != nil || ui["email"] != nil {
			t.Errorf("userinfo claims %v", ui)
		}
	})

	t.Run("login page", func(t *testing.T) {
		authURL, _ := authorize(d, "n-3", "s-3")
		resp, err := ssotest.NewBrowser().Get(authURL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		login := resp.Request.URL
		if resp.StatusCode != http.StatusOK || login.Path != ssotest.LoginPath {
			t.Fatalf("%s at %s", resp.Status, login)
		}
		id := login.Query().Get("authRequestID")
		for _, want := range []string{`<form method="POST" action="/login/username"`, `<input type="hidden" name="id" value="` + id + `">`,
			`id="username" name="username"`, `id="password" name="password" type="password"`, `<button id="login" type="submit">`} {
			if !strings.Contains(string(body), want) {
				t.Errorf("the login page lacks %s:\n%s", want, body)
			}
		}
		resp, err = ssotest.NewBrowser().PostForm(p.URL+ssotest.LoginPath, url.Values{"id": {id}, "username": {"anna"}, "password": {"wrong"}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "Wrong user name or password.") ||
			!strings.Contains(string(body), `value="`+id+`"`) {
			t.Errorf("wrong password: %s\n%s", resp.Status, body)
		}
	})

	t.Run("prompt none", func(t *testing.T) {
		authURL, _ := authorize(d, "n-4", "s-4")
		back := p.Follow(t, nil, authURL+"&prompt=none")
		if !strings.HasPrefix(back.String(), redirect+"?") || back.Query().Get("error") != "login_required" || back.Query().Get("state") != "s-4" {
			t.Errorf("Follow = %s", back)
		}
	})

	t.Run("tampering", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			tamper func(bool)
			claim  string
			want   any
		}{
			{"nonce", p.TamperNonce, "nonce", "not-the-nonce-of-this-sign-in"},
			{"audience", p.TamperAudience, "aud", []any{ssotest.OtherAudience}},
		} {
			authURL, verifier := authorize(d, "n-5", "s-5")
			back := p.Login(t, nil, authURL, "anna", "pw-anna")
			tc.tamper(true)
			_, claims, _ := redeem(t, p, d, back.Query().Get("code"), verifier)
			tc.tamper(false)
			if got, _ := json.Marshal(claims[tc.claim]); string(got) != mustJSON(t, tc.want) {
				t.Errorf("%s: claim %s = %s, want %s", tc.name, tc.claim, got, mustJSON(t, tc.want))
			}
		}
	})
}

func TestDefaultRedirectURI(t *testing.T) {
	p := ssotest.Start(t)
	if got := p.RedirectURIs(); !slices.Equal(got, []string{p.URL + ssotest.DefaultRedirectPath}) {
		t.Errorf("RedirectURIs = %v", got)
	}
	if got := p.PostLogoutRedirectURIs(); !slices.Equal(got, []string{p.URL + "/login"}) {
		t.Errorf("PostLogoutRedirectURIs = %v", got)
	}
}

func TestNewBrowserStaysOnLoopback(t *testing.T) {
	_, err := ssotest.NewBrowser().Get("http://192.0.2.1/")
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Errorf("Get of a TEST-NET address: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
