// Package sso signs users in with a ministry's OpenID Connect identity
// provider: the authorization code flow with PKCE (S256), a nonce, and a
// state bound to the browser by a cookie.
//
// A sign-in begun on one server node may be finished on another: Begin keeps
// the state (as its SHA-256), the PKCE verifier and the nonce in the
// oidc_logins table for ten minutes, and Finish takes the row out again,
// once, whether the sign-in then succeeds or not.
//
// The package only speaks the protocol and maps claims to an Identity; the
// caller creates or updates the account, opens the session and audits it.
package sso

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
)

// LoginLifetime is how long a sign-in may take between Begin and Finish.
const LoginLifetime = 10 * time.Minute

// Client signs users in with one identity provider. It is safe for
// concurrent use, apart from SetClock.
type Client struct {
	cfg        Config
	db         *db.DB
	log        *slog.Logger
	http       *http.Client
	provider   *oidc.Provider
	oauth      oauth2.Config
	endSession *url.URL // nil when the provider has no end_session_endpoint
	now        func() time.Time
}

// New discovers the provider at cfg.Issuer (its
// /.well-known/openid-configuration) and returns a Client that keeps its
// sign-ins under way in d. cfg is checked as LoadConfig checks it. httpClient
// makes every request to the provider; nil means http.DefaultClient.
func New(ctx context.Context, cfg Config, d *db.DB, log *slog.Logger, httpClient *http.Client) (*Client, error) {
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("single sign-on configuration: %w", err)
	}
	if d == nil {
		return nil, errors.New("single sign-on: no database")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, httpClient), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("single sign-on: discover the identity provider %s: %w", cfg.Issuer, err)
	}
	var meta struct {
		EndSession       string   `json:"end_session_endpoint"`
		ChallengeMethods []string `json:"code_challenge_methods_supported"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("single sign-on: read the discovery document of %s: %w", cfg.Issuer, err)
	}
	c := &Client{
		cfg:      cfg,
		db:       d,
		log:      log.With(slog.String("issuer", cfg.Issuer)),
		http:     httpClient,
		provider: provider,
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     provider.Endpoint(),
			RedirectURL:  cfg.RedirectURL,
			Scopes:       slices.Clone(cfg.Scopes),
		},
		now: time.Now,
	}
	if meta.EndSession != "" {
		if u, err := url.Parse(meta.EndSession); err == nil && checkURL(u.Scheme+"://"+u.Host+u.Path) == nil {
			c.endSession = u
		} else {
			c.log.WarnContext(ctx, "single sign-on: ignoring the provider's end_session_endpoint, which is not an https URL",
				slog.String("end_session_endpoint", meta.EndSession))
		}
	}
	if len(meta.ChallengeMethods) > 0 && !slices.Contains(meta.ChallengeMethods, "S256") {
		c.log.WarnContext(ctx, "single sign-on: the provider does not announce PKCE with S256; sign-ins may fail",
			slog.Any("code_challenge_methods_supported", meta.ChallengeMethods))
	}
	if cfg.ClientSecret == "" {
		c.log.InfoContext(ctx, "single sign-on: no client secret ("+SecretEnv+" or client_secret_file): signing in as a public client with PKCE")
	}
	return c, nil
}

// SetClock replaces the clock that dates and expires sign-ins and checks
// token lifetimes. It is for tests, and must be called before the Client is
// used from several goroutines.
func (c *Client) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	c.now = now
}

// Label is the sign-in button's text.
func (c *Client) Label() string { return c.cfg.Label }

// Begin starts a sign-in: it stores the state (hashed), a PKCE verifier and a
// nonce for LoginLifetime and returns the provider's authorization URL, to
// redirect the browser to, and the state, which the caller puts in a
// short-lived cookie to bind the flow to the browser. next is where to go
// after the sign-in, stored as given ("" becomes "/"); the caller sanitises
// it. forceLogin asks the provider to authenticate the user again
// (prompt=login, max_age=0), for step-up; the caller then checks
// Identity.AuthTime.
func (c *Client) Begin(ctx context.Context, next string, forceLogin bool) (authURL, state string, err error) {
	state = rand.Text()
	nonce := rand.Text()
	verifier := oauth2.GenerateVerifier()
	if next == "" {
		next = "/"
	}
	now := c.now()
	if _, err := c.db.ExecContext(ctx,
		`INSERT INTO oidc_logins (state_hash, verifier, nonce, next, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		hashState(state), verifier, nonce, next, db.Instant(now), db.Instant(now.Add(LoginLifetime))); err != nil {
		return "", "", fmt.Errorf("single sign-on: store the sign-in under way: %w", err)
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)}
	if forceLogin {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0"))
	}
	c.log.DebugContext(ctx, "single sign-on begun", slog.Bool("force_login", forceLogin))
	return c.oauth.AuthCodeURL(state, opts...), state, nil
}

// Finish completes a sign-in from the callback's query (code and state, or
// error and error_description) and the state from the browser's cookie. The
// stored sign-in is taken out once, so it is gone also when Finish fails;
// an expired one is refused; the state must equal the cookie's; the code is
// exchanged with the PKCE verifier; the ID token's signature, issuer,
// audience, expiry and nonce are verified; and the claims are mapped, with
// the userinfo endpoint consulted for claims the ID token lacks.
//
// What the user should be told is a problem.Unauthorized error; the details
// go to the log. It returns the identity and the next value given to Begin.
func (c *Client) Finish(ctx context.Context, query url.Values, cookieState string) (*Identity, string, error) {
	providerError := query.Get("error")
	state := query.Get("state")
	if state == "" || len(query["state"]) > 1 {
		if providerError != "" {
			return nil, "", c.providerRefused(ctx, query)
		}
		return nil, "", c.refuse(ctx, problem.New(problem.Unauthorized, "The answer from the identity provider is incomplete. Please sign in again."),
			"no state in the callback")
	}

	// Take the row out first, so that whatever happens next it serves once.
	var (
		verifier, nonce, next string
		expiresAt             int64
	)
	err := c.db.QueryRowContext(ctx,
		`DELETE FROM oidc_logins WHERE state_hash = $1 RETURNING verifier, nonce, next, expires_at`,
		hashState(state)).Scan(&verifier, &nonce, &next, &expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", c.refuse(ctx, problem.New(problem.Unauthorized, "This sign-in is unknown or was already used. Please sign in again."),
			"unknown or used state")
	}
	if err != nil {
		return nil, "", fmt.Errorf("single sign-on: take the sign-in under way: %w", err)
	}
	now := c.now()
	if !now.Before(db.Time(expiresAt)) {
		return nil, "", c.refuse(ctx, problem.New(problem.Unauthorized, "The sign-in took too long and has expired. Please sign in again."),
			"expired state", slog.Time("expired_at", db.Time(expiresAt)))
	}
	if cookieState == "" || subtle.ConstantTimeCompare([]byte(state), []byte(cookieState)) != 1 {
		return nil, "", c.refuse(ctx, problem.New(problem.Unauthorized, "This sign-in was started in another browser or window. Please sign in again from this one."),
			"the state does not match the browser's cookie", slog.Bool("cookie_present", cookieState != ""))
	}
	if providerError != "" {
		return nil, "", c.providerRefused(ctx, query)
	}
	// RFC 9207: a provider that names itself must be the one we asked.
	if iss := query.Get("iss"); iss != "" && iss != c.cfg.Issuer {
		return nil, "", c.refuse(ctx, problem.New(problem.Unauthorized, "The answer came from another identity provider. Please sign in again."),
			"the callback names another issuer", slog.String("iss", truncate(iss, 200)))
	}
	code := query.Get("code")
	if code == "" || len(query["code"]) > 1 {
		return nil, "", c.refuse(ctx, problem.New(problem.Unauthorized, "The answer from the identity provider has no sign-in code. Please sign in again."),
			"no code in the callback")
	}

	hctx := oidc.ClientContext(ctx, c.http)
	tok, err := c.oauth.Exchange(hctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			return nil, "", c.refuse(ctx, problem.New(problem.Unauthorized, "The identity provider did not accept the sign-in code. Please sign in again."),
				"the token endpoint refused the code", slog.Int("status", re.Response.StatusCode),
				slog.String("error", re.ErrorCode), slog.String("error_description", truncate(re.ErrorDescription, 200)))
		}
		return nil, "", fmt.Errorf("single sign-on: exchange the code at %s: %w", c.oauth.Endpoint.TokenURL, err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, "", c.refuse(ctx, problem.New(problem.Unauthorized, "The identity provider sent no identity token. Ask an administrator to check the single sign-on configuration."),
			"no id_token in the token response")
	}
	verifierCfg := &oidc.Config{ClientID: c.cfg.ClientID, Now: c.now}
	idt, err := c.provider.Verifier(verifierCfg).Verify(hctx, rawID)
	if err != nil {
		return nil, "", c.refuse(ctx, problem.New(problem.Unauthorized, "The identity token from the identity provider could not be verified. Please sign in again."),
			"the ID token failed verification", slog.String("error", err.Error()))
	}
	var azp struct {
		AZP string `json:"azp"`
	}
	if err := idt.Claims(&azp); err != nil {
		return nil, "", fmt.Errorf("single sign-on: read the ID token's claims: %w", err)
	}
	if (len(idt.Audience) > 1 || azp.AZP != "") && azp.AZP != c.cfg.ClientID {
		return nil, "", c.refuse(ctx, problem.New(problem.Unauthorized, "The identity token from the identity provider could not be verified. Please sign in again."),
			"the ID token was issued to another party", slog.String("azp", truncate(azp.AZP, 200)))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, "", c.refuse(ctx, problem.New(problem.Unauthorized, "The identity token does not belong to this sign-in. Please sign in again."),
			"the ID token's nonce differs", slog.String("subject", idt.Subject))
	}
	if idt.AccessTokenHash != "" && tok.AccessToken != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, "", c.refuse(ctx, problem.New(problem.Unauthorized, "The identity token from the identity provider could not be verified. Please sign in again."),
				"the access token does not match the ID token's at_hash", slog.String("error", err.Error()))
		}
	}

	id, err := c.identity(ctx, idt, rawID, tok)
	if err != nil {
		return nil, "", err
	}
	c.log.InfoContext(ctx, "single sign-on finished", slog.String("subject", id.Subject), slog.String("username", id.Username),
		slog.String("role", id.Role), slog.Any("amr", id.AMR))
	return id, next, nil
}

// providerRefused reports the provider's error parameter: the user gets a
// sentence, the log gets the provider's words.
func (c *Client) providerRefused(ctx context.Context, query url.Values) error {
	pe := problem.New(problem.Unauthorized, "The identity provider did not sign you in. Please try again, or ask an administrator if it keeps failing.")
	if query.Get("error") == "access_denied" {
		pe = problem.New(problem.Unauthorized, "The sign-in was cancelled or refused at the identity provider.")
	}
	return c.refuse(ctx, pe, "the provider returned an error",
		slog.String("error", truncate(query.Get("error"), 100)),
		slog.String("error_description", truncate(query.Get("error_description"), 300)))
}

// refuse logs why a sign-in was refused and returns pe, the sentence for
// the user.
func (c *Client) refuse(ctx context.Context, pe *problem.Error, reason string, attrs ...slog.Attr) error {
	c.log.LogAttrs(ctx, slog.LevelWarn, "single sign-on refused: "+reason, attrs...)
	return pe
}

// LogoutURL is the provider's end_session_endpoint with id_token_hint,
// post_logout_redirect_uri and client_id, to send the browser to at
// sign-out so that the provider's session ends too; "" when the provider has
// no such endpoint. Empty arguments are left out.
func (c *Client) LogoutURL(idToken, postLogoutRedirect string) string {
	if c.endSession == nil {
		return ""
	}
	u := *c.endSession
	q := u.Query()
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	if postLogoutRedirect != "" {
		q.Set("post_logout_redirect_uri", postLogoutRedirect)
	}
	q.Set("client_id", c.cfg.ClientID)
	u.RawQuery = q.Encode()
	return u.String()
}

// Purge deletes the sign-ins that expired without being finished. The
// caller runs it now and then.
func (c *Client) Purge(ctx context.Context) error {
	res, err := c.db.ExecContext(ctx, `DELETE FROM oidc_logins WHERE expires_at <= $1`, db.Instant(c.now()))
	if err != nil {
		return fmt.Errorf("single sign-on: purge expired sign-ins: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		c.log.DebugContext(ctx, "single sign-on: purged expired sign-ins", slog.Int64("count", n))
	}
	return nil
}

// hashState is how a state is kept: hex SHA-256, so that reading the table
// does not give the values to put in a callback.
func hashState(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

// truncate shortens s for the log.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
