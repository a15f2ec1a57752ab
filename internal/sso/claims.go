package sso

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/attache-org/attache/internal/problem"
)

// Identity is who the provider signed in, mapped to Attaché's terms.
type Identity struct {
	// Issuer and Subject identify the person at the provider, for good: the
	// caller links the account to this pair, not to the user name.
	Issuer, Subject string
	// Username is the username claim in lower case, with '@' turned into
	// '.', checked against Attaché's rule for user names.
	Username string
	// Name is the name claim, or Username when the provider sends none.
	Name string
	// Email is the e-mail claim, possibly empty.
	Email string
	// Role is the Attaché role the role claim maps to, or "" when no value
	// maps (the caller refuses the sign-in).
	Role string
	// Post and Desk are the post and desk claims, empty when not configured
	// or not sent.
	Post, Desk string
	// AMR is the token's amr claim: the methods the provider used, such as
	// "pwd", "otp", "hwk", "mfa".
	AMR []string
	// AuthTime is when the provider last authenticated the user (auth_time),
	// or zero when the token does not say.
	AuthTime time.Time
	// IDToken is the raw ID token, kept with the session for sign-out.
	IDToken string
}

// usernameRE is Attaché's rule for user names (auth.usernameRE).
var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,62}$`)

// NormalizeUsername turns a provider's user name into an Attaché one: lower
// case, with '@' mapped to '.' (so "Anna.Berger@Ministry.example" becomes
// "anna.berger.ministry.example"). It reports false when the result still
// breaks the rule (2 to 63 letters, digits, dots, dashes or underscores,
// starting with a letter or digit): other characters are refused rather
// than replaced, so that two different names never become one.
func NormalizeUsername(s string) (string, bool) {
	s = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "@", ".")
	return s, usernameRE.MatchString(s)
}

// identity maps the verified ID token's claims, completed from the userinfo
// endpoint when the token lacks some configured claim.
func (c *Client) identity(ctx context.Context, idt *oidc.IDToken, rawID string, tok *oauth2.Token) (*Identity, error) {
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("single sign-on: read the ID token's claims: %w", err)
	}
	m := c.cfg.Mapping
	wanted := []string{m.UsernameClaim, m.NameClaim, m.EmailClaim, m.RoleClaim, m.PostClaim, m.DeskClaim}
	missing := slices.ContainsFunc(wanted, func(name string) bool {
		if name == "" {
			return false
		}
		_, ok := lookup(claims, name)
		return !ok
	})
	if missing && c.provider.UserInfoEndpoint() != "" && tok.AccessToken != "" {
		ui, err := c.provider.UserInfo(oidc.ClientContext(ctx, c.http), oauth2.StaticTokenSource(tok))
		if err != nil {
			return nil, fmt.Errorf("single sign-on: read the userinfo endpoint of %s: %w", c.cfg.Issuer, err)
		}
		if ui.Subject != idt.Subject {
			return nil, c.refuse(ctx, problem.New(problem.Unauthorized, "The identity provider sent the details of another account. Please sign in again."),
				"the userinfo subject differs from the ID token's", slog.String("subject", idt.Subject), slog.String("userinfo_subject", truncate(ui.Subject, 200)))
		}
		extra := map[string]any{}
		if err := ui.Claims(&extra); err != nil {
			return nil, fmt.Errorf("single sign-on: read the userinfo claims: %w", err)
		}
		for k, v := range extra {
			if _, ok := claims[k]; !ok {
				claims[k] = v
			}
		}
	}

	id := &Identity{
		Issuer:  idt.Issuer,
		Subject: idt.Subject,
		Name:    strings.TrimSpace(claimString(claims, m.NameClaim)),
		Email:   strings.TrimSpace(claimString(claims, m.EmailClaim)),
		Post:    strings.TrimSpace(claimString(claims, m.PostClaim)),
		Desk:    strings.TrimSpace(claimString(claims, m.DeskClaim)),
		AMR:     claimStrings(claims, "amr"),
		IDToken: rawID,
	}
	if at, ok := claims["auth_time"].(float64); ok && at > 0 {
		id.AuthTime = time.Unix(int64(at), 0).UTC()
	}

	raw := claimString(claims, m.UsernameClaim)
	if strings.TrimSpace(raw) == "" {
		return nil, c.refuse(ctx, problem.New(problem.Unauthorized, "The identity provider did not send a user name. Ask an administrator to check the single sign-on configuration."),
			"no username claim", slog.String("subject", id.Subject), slog.String("claim", m.UsernameClaim))
	}
	username, ok := NormalizeUsername(raw)
	if !ok {
		return nil, c.refuse(ctx, problem.New(problem.Unauthorized, "The user name the identity provider sent cannot be used in Attaché: it must be 2 to 63 letters, digits, dots, dashes or underscores. Ask an administrator to check the single sign-on configuration."),
			"the username claim breaks the rule for user names", slog.String("subject", id.Subject), slog.String("username", truncate(raw, 100)))
	}
	id.Username = username
	if id.Name == "" {
		id.Name = username
	}

	var roles []string
	for _, v := range claimStrings(claims, m.RoleClaim) {
		if r, ok := m.Roles[v]; ok && !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	switch len(roles) {
	case 0:
		c.log.InfoContext(ctx, "single sign-on: no value of the role claim maps to an Attaché role",
			slog.String("subject", id.Subject), slog.String("claim", m.RoleClaim))
	case 1:
		id.Role = roles[0]
	default:
		slices.Sort(roles)
		return nil, c.refuse(ctx, problem.New(problem.Unauthorized, "Your account at the identity provider is in groups for more than one Attaché role. Ask an administrator to leave it in one only."),
			"the role claim maps to several roles", slog.String("subject", id.Subject), slog.Any("roles", roles))
	}
	return id, nil
}

// lookup finds a claim by name, or else by a dotted path into nested
// objects ("realm_access.roles").
func lookup(claims map[string]any, name string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, true
	}
	if !strings.Contains(name, ".") {
		return nil, false
	}
	var cur any = claims
	for part := range strings.SplitSeq(name, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// claimString reads a claim that should be one string: a string, a number,
// or an array whose first element is one of these.
func claimString(claims map[string]any, name string) string {
	if name == "" {
		return ""
	}
	v, _ := lookup(claims, name)
	if a, ok := v.([]any); ok {
		if len(a) == 0 {
			return ""
		}
		v = a[0]
	}
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// claimStrings reads a claim that is a string or an array of strings;
// elements that are not strings are skipped.
func claimStrings(claims map[string]any, name string) []string {
	v, _ := lookup(claims, name)
	switch v := v.(type) {
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
