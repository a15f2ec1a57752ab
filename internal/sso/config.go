package sso

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// SecretEnv is the environment variable that holds the client secret. It
// takes precedence over client_secret_file.
const SecretEnv = "ATTACHE_OIDC_CLIENT_SECRET"

// CallbackPath is the path of the redirect URL that Attaché serves and that
// the operator registers at the identity provider.
const CallbackPath = "/login/sso/callback"

// roleNames are the ministry roles a claim value may map to. They mirror
// auth.Roles (a test checks that they agree); this package does not import
// auth so that auth may import it.
var roleNames = []string{"admin", "hq_officer", "consular_officer", "supervisor", "auditor"}

// Mapping says how the provider's claims become an Attaché account.
//
// A claim name may be a dotted path into nested objects, such as
// "realm_access.roles" for Keycloak's realm roles; a claim whose name itself
// contains dots is found first.
type Mapping struct {
	// UsernameClaim holds the user name; default "preferred_username".
	UsernameClaim string `json:"username_claim"`
	// NameClaim holds the name shown to other users; default "name".
	NameClaim string `json:"name_claim"`
	// EmailClaim holds the e-mail address; default "email".
	EmailClaim string `json:"email_claim"`
	// RoleClaim holds a string or an array of strings (e.g. "groups") whose
	// values Roles maps to Attaché roles. Required.
	RoleClaim string `json:"role_claim"`
	// Roles maps a RoleClaim value to an Attaché role: admin, auditor,
	// supervisor, hq_officer or consular_officer.
	Roles map[string]string `json:"roles"`
	// PostClaim holds the user's post (embassy or consulate); optional.
	PostClaim string `json:"post_claim"`
	// DeskClaim holds the user's desk; optional.
	DeskClaim string `json:"desk_claim"`
}

// Config is the single sign-on configuration: the JSON file named by
// --oidc-config, with the client secret from the environment or a file of
// its own.
type Config struct {
	// Issuer is the provider's issuer URL, exactly as its discovery document
	// (ISSUER/.well-known/openid-configuration) states it.
	Issuer string `json:"issuer"`
	// ClientID is Attaché's client id at the provider.
	ClientID string `json:"client_id"`
	// ClientSecret is never read from the configuration file: it comes from
	// ATTACHE_OIDC_CLIENT_SECRET or from ClientSecretFile. Empty for a public
	// client (PKCE only).
	ClientSecret string `json:"-"`
	// ClientSecretFile names a file holding the client secret; a relative
	// name is relative to the configuration file's directory.
	ClientSecretFile string `json:"client_secret_file"`
	// RedirectURL is Attaché's callback, e.g.
	// https://attache.example.org/login/sso/callback.
	RedirectURL string `json:"redirect_url"`
	// Scopes requested; default openid profile email ("openid" is always
	// requested).
	Scopes []string `json:"scopes"`
	// Label is the sign-in button's text.
	Label string `json:"label"`
	// Mapping turns claims into an account.
	Mapping Mapping `json:"mapping"`
}

// LoadConfig reads the JSON configuration file at path, takes the client
// secret from getenv(SecretEnv) or from client_secret_file, applies the
// defaults and validates the result, saying what to fix. Unknown fields are
// refused so that a misspelt key is not silently ignored.
func LoadConfig(path string, getenv func(string) string) (Config, error) {
	var cfg Config
	raw, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read single sign-on configuration: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		if strings.Contains(err.Error(), `unknown field "client_secret"`) {
			return Config{}, fmt.Errorf("single sign-on configuration %s: client_secret does not belong in this file: "+
				"set the environment variable %s, or name a file that holds the secret in client_secret_file", path, SecretEnv)
		}
		return Config{}, fmt.Errorf("single sign-on configuration %s: %w", path, describeJSONError(raw, err))
	}
	if dec.More() || !atEOF(dec) {
		return Config{}, fmt.Errorf("single sign-on configuration %s: the file must hold one JSON object only", path)
	}
	if secret := strings.TrimSpace(getenv(SecretEnv)); secret != "" {
		cfg.ClientSecret = secret
	} else if cfg.ClientSecretFile != "" {
		name := cfg.ClientSecretFile
		if !filepath.IsAbs(name) {
			name = filepath.Join(filepath.Dir(path), name)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return Config{}, fmt.Errorf("single sign-on configuration %s: read client_secret_file: %w", path, err)
		}
		cfg.ClientSecret = strings.TrimSpace(string(b))
		if cfg.ClientSecret == "" {
			return Config{}, fmt.Errorf("single sign-on configuration %s: client_secret_file %s is empty", path, name)
		}
	}
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		return Config{}, fmt.Errorf("single sign-on configuration %s: %w", path, err)
	}
	return cfg, nil
}

// atEOF reports whether nothing but white space follows the decoded value.
func atEOF(dec *json.Decoder) bool {
	_, err := dec.Token()
	return errors.Is(err, io.EOF)
}

// describeJSONError adds the line number to a JSON syntax or type error.
func describeJSONError(raw []byte, err error) error {
	var offset int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		offset = se.Offset
	case errors.As(err, &te):
		offset = te.Offset
	}
	if offset < 0 || offset > int64(len(raw)) {
		return err
	}
	line := 1 + bytes.Count(raw[:offset], []byte("\n"))
	return fmt.Errorf("line %d: %w", line, err)
}

// applyDefaults fills in what the file may leave out.
func (c *Config) applyDefaults() {
	c.Issuer = strings.TrimSpace(c.Issuer)
	c.ClientID = strings.TrimSpace(c.ClientID)
	c.RedirectURL = strings.TrimSpace(c.RedirectURL)
	c.Label = strings.TrimSpace(c.Label)
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"openid", "profile", "email"}
	} else if !slices.Contains(c.Scopes, "openid") {
		c.Scopes = append([]string{"openid"}, c.Scopes...)
	}
	if c.Label == "" {
		c.Label = "Sign in with the ministry account"
	}
	m := &c.Mapping
	if m.UsernameClaim == "" {
		m.UsernameClaim = "preferred_username"
	}
	if m.NameClaim == "" {
		m.NameClaim = "name"
	}
	if m.EmailClaim == "" {
		m.EmailClaim = "email"
	}
}

// validate says everything that is wrong, all at once.
func (c *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.Issuer == "" {
		bad(`issuer is missing: give the provider's issuer URL, e.g. "https://login.example.org/realms/ministry"`)
	} else if err := checkURL(c.Issuer); err != nil {
		bad("issuer %q: %v", c.Issuer, err)
	}
	if c.ClientID == "" {
		bad("client_id is missing: give the client id that the provider assigned to Attaché")
	}
	if c.RedirectURL == "" {
		bad(`redirect_url is missing: give Attaché's public address followed by %s, e.g. "https://attache.example.org%s"`, CallbackPath, CallbackPath)
	} else if err := checkURL(c.RedirectURL); err != nil {
		bad("redirect_url %q: %v", c.RedirectURL, err)
	} else if u, _ := url.Parse(c.RedirectURL); !strings.HasSuffix(u.Path, CallbackPath) {
		bad("redirect_url %q: the path must end in %s, the page where Attaché finishes the sign-in", c.RedirectURL, CallbackPath)
	}
	for _, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			bad("scopes: %q is not a scope: list each scope as a string of its own, without spaces", s)
		}
	}
	m := c.Mapping
	if strings.TrimSpace(m.RoleClaim) == "" {
		bad(`mapping.role_claim is missing: name the claim that carries the user's groups or roles, e.g. "groups"`)
	}
	if len(m.Roles) == 0 {
		bad(`mapping.roles is empty: map at least one value of the role claim to an Attaché role, e.g. {"attache-officers": "consular_officer"}`)
	}
	values := make([]string, 0, len(m.Roles))
	for v := range m.Roles {
		values = append(values, v)
	}
	slices.Sort(values)
	for _, v := range values {
		role := m.Roles[v]
		if v == "" {
			bad("mapping.roles: a claim value is empty")
		}
		if !slices.Contains(roleNames, role) {
			bad("mapping.roles: %q maps to %q, which is not an Attaché role: use one of %s", v, role, strings.Join(roleNames, ", "))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}

// checkURL accepts an absolute https URL, or http on a loopback host (for a
// provider on the same machine, or tests), without query or fragment.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("not an absolute URL: want https://HOST/PATH")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return errors.New("use https: plain http is allowed only on a loopback host (localhost, 127.0.0.1, ::1)")
		}
	default:
		return errors.New("want an https:// URL")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("remove the query, fragment or user name")
	}
	return nil
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
