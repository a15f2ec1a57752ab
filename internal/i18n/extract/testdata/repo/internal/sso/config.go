package sso

// Config sets up single sign-on.
type Config struct {
	Issuer string
	Label  string
}

func (c *Config) defaults() {
	if c.Label == "" {
		c.Label = "Sign in with the ministry account"
	}
	if c.Issuer == "" {
		c.Issuer = "https://login.example.org"
	}
}
