// Package ssotest runs a real OpenID provider on loopback for tests: zitadel's
// (github.com/zitadel/oidc/v3/pkg/op) with zitadel's example in-memory
// storage, wrapped to add the ministry's claims (groups, post, desk) to the
// tokens it issues and, on request, to issue an ID token with the wrong nonce
// or audience.
//
// The provider serves a small login page in the style of zitadel's example
// login UI, which works in a real browser as well as with Login:
//
//	GET  /login/username?authRequestID=ID   the login page
//	POST /login/username                    the form: id (hidden), username, password
//
// The form is form[method=POST][action="/login/username"] with the inputs
// input[name=id] (hidden), input#username[name=username],
// input#password[name=password][type=password] and the button
// button#login[type=submit]. A right password redirects (302) to the
// provider's /authorize/callback, which redirects the browser to the
// client's redirect URI with code and state. A wrong one shows the login
// page again, with status 401 Unauthorized and the message in p#error.
//
// The provider keeps no session of its own: every authorization request
// asks for the password again (and prompt=none always fails with
// login_required). Its end_session_endpoint accepts the post-logout redirect
// URIs described at Start; without one it sends the browser to /logged-out,
// a page saying the user signed out.
//
// The provider listens on 127.0.0.1 only, and Login, Follow and NewBrowser
// never connect anywhere but to loopback addresses.
package ssotest

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/attache-org/attache/internal/sso"
)

const (
	// ClientID is the client id of the one client the provider knows.
	ClientID = "attache"
	// DefaultPassword is the password of a User added without one.
	DefaultPassword = "correct horse battery staple"
	// DefaultRedirectPath is the path, on the provider's own host, of the
	// redirect URI that Start registers when given none. The provider never
	// serves it: Login stops at it.
	DefaultRedirectPath = "/attache" + sso.CallbackPath
	// OtherAudience is the client an ID token is issued to while
	// TamperAudience is on.
	OtherAudience = "another-application"
	// LoginPath is the path of the provider's login page.
	LoginPath = "/login/username"
	// LoggedOutPath is where the provider sends the browser after a sign-out
	// without a post-logout redirect URI.
	LoggedOutPath = "/logged-out"
)

// Provider is a real OpenID provider (zitadel's) on loopback, for tests. Its
// methods are safe for concurrent use.
type Provider struct {
	// URL is the issuer: http://127.0.0.1:PORT, without a trailing slash.
	// The discovery document is at URL/.well-known/openid-configuration.
	URL string

	host         string // 127.0.0.1:PORT
	secret       string
	redirectURIs []string
	postLogout   []string
	store        *store
}

// Start starts a provider on 127.0.0.1 and stops it when t's test ends.
//
// The provider knows one confidential client, ClientID with the secret
// ClientSecret() (HTTP Basic or form post at the token endpoint), for the
// authorization code flow with PKCE (S256) or without. The client may use
// redirectURIs, exactly as given (absolute http or https URLs; the provider
// never contacts them); with none, it may use URL+DefaultRedirectPath. Its
// post-logout redirect URIs are the same origins' /login: for the redirect
// URI http://127.0.0.1:8080/login/sso/callback, the post-logout redirect
// URI http://127.0.0.1:8080/login.
//
// The provider has no users until AddUser.
func Start(t testing.TB, redirectURIs ...string) *Provider {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ssotest: listen on 127.0.0.1: %v", err)
	}
	p := &Provider{URL: "http://" + l.Addr().String(), host: l.Addr().String(), secret: rand.Text()}
	if len(redirectURIs) == 0 {
		redirectURIs = []string{p.URL + DefaultRedirectPath}
	}
	for _, r := range redirectURIs {
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
			l.Close()
			t.Fatalf("ssotest: redirect URI %q: want an absolute http or https URL without a fragment", r)
		}
		p.redirectURIs = append(p.redirectURIs, r)
		if logout := u.Scheme + "://" + u.Host + "/login"; !slices.Contains(p.postLogout, logout) {
			p.postLogout = append(p.postLogout, logout)
		}
	}

	clients := map[string]*storage.Client{ClientID: storage.WebClient(ClientID, p.secret, p.redirectURIs...)}
	users := &userStore{byID: map[string]*account{}}
	p.store = &store{Storage: storage.NewStorageWithClients(users, clients), users: users, postLogout: p.postLogout}

	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		l.Close()
		t.Fatal(err)
	}
	prov, err := op.NewProvider(&op.Config{
		CryptoKey:                key,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		DefaultLogoutRedirectURI: LoggedOutPath,
	}, p.store, op.StaticIssuer(p.URL), op.WithAllowInsecure())
	if err != nil {
		l.Close()
		t.Fatalf("ssotest: start the OpenID provider: %v", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+LoginPath, func(w http.ResponseWriter, r *http.Request) {
		renderLogin(w, http.StatusOK, r.URL.Query().Get("authRequestID"), "")
	})
	callback := op.AuthCallbackURL(prov)
	mux.Handle("POST "+LoginPath, op.NewIssuerInterceptor(prov.IssuerFromRequest).HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PostFormValue("id")
		if err := p.store.CheckUsernamePassword(r.PostFormValue("username"), r.PostFormValue("password"), id); err != nil {
			msg := "Wrong user name or password."
			if strings.Contains(err.Error(), "request not found") {
				msg = "This sign-in is unknown or has expired; go back to the application and start again."
			}
			renderLogin(w, http.StatusUnauthorized, id, msg)
			return
		}
		http.Redirect(w, r, callback(r.Context(), id), http.StatusFound)
	}))
	mux.HandleFunc("GET "+LoggedOutPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, loggedOutPage)
	})
	mux.Handle("/", prov)

	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	srv.Start()
	t.Cleanup(srv.Close)
	return p
}

// ClientID is the client's id, ClientID.
func (p *Provider) ClientID() string { return ClientID }

// ClientSecret is the client's secret, random for each provider.
func (p *Provider) ClientSecret() string { return p.secret }

// RedirectURIs are the redirect URIs the client may use.
func (p *Provider) RedirectURIs() []string { return slices.Clone(p.redirectURIs) }

// PostLogoutRedirectURIs are the post-logout redirect URIs the client may
// use: the redirect URIs' origins followed by /login.
func (p *Provider) PostLogoutRedirectURIs() []string { return slices.Clone(p.postLogout) }

// Config is Attaché's single sign-on configuration for this provider and
// its client: the secret filled in, the redirect URL redirectURL (the first
// of RedirectURIs when ""), and the mapping of the claims the provider
// sends: role_claim "groups" with roles (a groups value → an Attaché role),
// post_claim "post" and desk_claim "desk". Scopes and Label are left to
// their defaults.
func (p *Provider) Config(redirectURL string, roles map[string]string) sso.Config {
	if redirectURL == "" {
		redirectURL = p.redirectURIs[0]
	}
	return sso.Config{
		Issuer:       p.URL,
		ClientID:     ClientID,
		ClientSecret: p.secret,
		RedirectURL:  redirectURL,
		Mapping: sso.Mapping{
			RoleClaim: "groups",
			Roles:     roles,
			PostClaim: "post",
			DeskClaim: "desk",
		},
	}
}

// TamperNonce makes the provider, while on, sign ID tokens whose nonce is
// not the one of the sign-in. It applies when the code is redeemed at the
// token endpoint.
func (p *Provider) TamperNonce(on bool) { p.store.tamperNonce.Store(on) }

// TamperAudience makes the provider, while on, issue ID tokens to
// OtherAudience instead of the client: their aud and azp name only
// OtherAudience. It applies when the code is redeemed at the token endpoint
// (and to every other look-up of the client meanwhile).
func (p *Provider) TamperAudience(on bool) { p.store.tamperAudience.Store(on) }

// NewBrowser returns an http.Client for Login and Follow: it keeps cookies,
// gives up after 10 seconds, uses no proxy, and refuses to connect
// anywhere but to a loopback address. It follows redirects like any client;
// Login and Follow do not (they use a copy of it).
func NewBrowser() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		panic(err) // cookiejar.New never fails without options
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: loopbackOnly}
	return &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         dialer.DialContext,
			ForceAttemptHTTP2:   false,
			MaxIdleConnsPerHost: 4,
		},
	}
}

// loopbackOnly refuses a connection to anything but a loopback address.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("ssotest: refusing to connect to %s, which is not a loopback address", address)
	}
	return nil
}
