// Package config is Attaché's typed configuration: defaults, flags, their
// ATTACHE_* environment variables, and validation with messages that say
// what to fix.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/db"
)

// Config is everything the program can be told. It is built once at start
// and passed down as a value.
type Config struct {
	Addr          string        // listen address, HOST:PORT
	DataDir       string        // SQLite file, certificates, later recordings
	DatabaseURL   string        // postgres://… to use PostgreSQL; empty for SQLite in DataDir
	Demo          bool          // load demo data at start
	LogFormat     string        // text or json
	LogLevel      slog.Level    // debug, info, warn, error
	TLSCert       string        // PEM certificate file
	TLSKey        string        // PEM key file
	TLSSelfSigned bool          // make (once) and use a self-signed certificate in DataDir
	BaseURL       string        // public URL for printed links; derived from Addr when empty
	SessionIdle   time.Duration // a session unused this long ends
	SessionMax    time.Duration // every session ends this long after sign-in
	// TrustedProxies are reverse proxies whose X-Forwarded-For names the client.
	TrustedProxies []netip.Prefix
	// SendingState is the state whose consular service runs this system
	// (ISO 3166-1 alpha-2); agreement profiles are between it and each
	// detaining state.
	SendingState string
	// MediaUDP is the one UDP address all call media goes through.
	MediaUDP string
	// MediaTCP is the TCP address for ICE over TCP, the fallback for
	// networks that block UDP: empty for the same address as MediaUDP,
	// "off" for none.
	MediaTCP string
	// TURN is the optional embedded TURN server, for participants whose
	// networks block the media ports: off while TURNUDP is empty.
	TURNUDP, TURNTCP string
	TURNRelayIP      string // the public IP announced for relayed addresses
	TURNRelayPorts   string // MIN-MAX UDP ports for relayed addresses, or empty for any
	TURNSecret       string // signs the per-participant credentials (keep it in the environment)
	// RecordingKey is the age identity file that encrypts and decrypts
	// recordings (kept apart from the data); Recordings is their directory.
	RecordingKey string
	Recordings   string // default: DataDir/recordings
	// VisitOpensBefore is how long before a visit's start its room and
	// join links open; VisitGrace how long the call may run past the end.
	VisitOpensBefore time.Duration
	VisitGrace       time.Duration
	// MediaPublicIPs are announced to browsers instead of the host's own
	// addresses, when the server sits behind 1:1 NAT.
	MediaPublicIPs []string
	// SMTP is the mail server, HOST:PORT; empty writes every mail as a file
	// into MailDir instead (development and demos).
	SMTP         string
	SMTPFrom     string // the sender's address, e.g. "Consular Services <attache@example.org>"
	SMTPUser     string
	SMTPPassword string // keep it in ATTACHE_SMTP_PASSWORD
	SMTPTLS      string // starttls (default), tls (implicit, port 465), none (loopback only)
	MailDir      string // default: DataDir/outbox, used when SMTP is empty
	// PDFFonts are TrueType files for PDF exports, for scripts the built-in
	// fonts lack (e.g. Noto Sans SC for Chinese names).
	PDFFonts []string
	// NodeID names this node among several on one PostgreSQL database
	// (default: made once and kept in DataDir); NodeURL is where the other
	// nodes reach it (default: from Addr); NodeTimeout is how long a node
	// whose heartbeat stopped counts as alive.
	NodeID      string
	NodeURL     string
	NodeTimeout time.Duration
	// MetricsAddr, when set, is the only address /metrics is served on (for
	// a Prometheus on an internal network); otherwise the main address
	// serves it to loopback clients only.
	MetricsAddr string
	// OIDCConfig is the JSON file that sets up single sign-on with the
	// ministry's OpenID Connect provider (docs/sso.md); empty for none.
	OIDCConfig string
}

// Default returns the defaults.
func Default() Config {
	return Config{
		Addr:             ":8080",
		DataDir:          "./attache-data",
		LogFormat:        "text",
		LogLevel:         slog.LevelInfo,
		SendingState:     "CA",
		SessionIdle:      2 * time.Hour,
		SessionMax:       12 * time.Hour,
		MediaUDP:         ":10000",
		SMTPTLS:          "starttls",
		VisitOpensBefore: 15 * time.Minute,
		VisitGrace:       2 * time.Minute,
		NodeTimeout:      10 * time.Second,
	}
}

// EnvPrefix starts every environment variable: --tls-cert is ATTACHE_TLS_CERT.
const EnvPrefix = "ATTACHE_"

// EnvName returns the environment variable of a flag.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Scope says which flags a subcommand takes.
type Scope int

// The scopes: Storage flags (database, data directory, logging) for every
// subcommand, Server flags too for serve.
const (
	Storage Scope = iota
	Server
)

// FlagSet binds c's fields to a new flag set for the named subcommand.
func (c *Config) FlagSet(name string, scope Scope, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.DataDir, "data", c.DataDir, "directory for the SQLite database and other data")
	fs.StringVar(&c.DatabaseURL, "database", c.DatabaseURL, "PostgreSQL URL (postgres://…); empty for SQLite in the data directory")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json")
	fs.TextVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	fs.StringVar(&c.SendingState, "sending-state", c.SendingState, "the state whose consular service runs this system (ISO 3166 code)")
	if scope == Server {
		fs.StringVar(&c.Addr, "addr", c.Addr, "listen address, HOST:PORT")
		fs.BoolVar(&c.Demo, "demo", c.Demo, "load demo users and data (idempotent) and print their credentials")
		fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "TLS certificate file (PEM)")
		fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "TLS private key file (PEM)")
		fs.BoolVar(&c.TLSSelfSigned, "tls-self-signed", c.TLSSelfSigned, "serve HTTPS with a self-signed certificate kept in the data directory (development)")
		fs.StringVar(&c.BaseURL, "base-url", c.BaseURL, "public URL of this server, for printed links (default from --addr)")
		fs.StringVar(&c.MediaUDP, "media-udp", c.MediaUDP, "UDP address, HOST:PORT, that carries all call media (open it in the firewall)")
		fs.StringVar(&c.MediaTCP, "media-tcp", c.MediaTCP, "TCP address, HOST:PORT, for call media when a network blocks UDP (ICE-TCP); default: the --media-udp address; off: none")
		fs.StringVar(&c.TURNUDP, "turn-udp", c.TURNUDP, "UDP address, HOST:PORT, of the embedded TURN server, e.g. :3478; empty leaves TURN off")
		fs.StringVar(&c.TURNTCP, "turn-tcp", c.TURNTCP, "TCP address of the embedded TURN server (TURN over TCP), e.g. :3478")
		fs.StringVar(&c.TURNRelayIP, "turn-relay-ip", c.TURNRelayIP, "public IP address announced for TURN relays (default: the first --media-public-ip)")
		fs.StringVar(&c.TURNRelayPorts, "turn-relay-ports", c.TURNRelayPorts, "UDP port range MIN-MAX for TURN relays, to open in the firewall (default: any)")
		fs.StringVar(&c.TURNSecret, "turn-secret", c.TURNSecret, "shared secret (16+ characters) that signs TURN credentials; set ATTACHE_TURN_SECRET rather than the flag (default: random at each start)")
		fs.StringVar(&c.RecordingKey, "recording-key", c.RecordingKey, "age identity file (age-keygen) that encrypts recordings; keep it apart from the data and its backups; without it nothing is recorded")
		fs.StringVar(&c.Recordings, "recordings", c.Recordings, "directory of the encrypted recordings (default: recordings in --data)")
		fs.DurationVar(&c.VisitOpensBefore, "visit-opens-before", c.VisitOpensBefore, "how long before a visit's start its waiting room and join links open")
		fs.DurationVar(&c.VisitGrace, "visit-grace", c.VisitGrace, "how long a call may run past the visit's scheduled end before it is cut")
		fs.Func("media-public-ip", "comma-separated public IP addresses to announce for call media (behind 1:1 NAT)", func(v string) error {
			c.MediaPublicIPs = nil
			for _, part := range strings.Split(v, ",") {
				if part = strings.TrimSpace(part); part == "" {
					continue
				}
				if _, err := netip.ParseAddr(part); err != nil {
					return fmt.Errorf("%q is not an IP address", part)
				}
				c.MediaPublicIPs = append(c.MediaPublicIPs, part)
			}
			return nil
		})
		fs.StringVar(&c.SMTP, "smtp", c.SMTP, "mail server HOST:PORT for notices; empty writes them as .eml files into --mail-dir")
		fs.StringVar(&c.SMTPFrom, "smtp-from", c.SMTPFrom, "sender of notices, e.g. \"Consular Services <attache@example.org>\"")
		fs.StringVar(&c.SMTPUser, "smtp-user", c.SMTPUser, "user name for the mail server (PLAIN over TLS)")
		fs.StringVar(&c.SMTPPassword, "smtp-password", c.SMTPPassword, "password for the mail server; set ATTACHE_SMTP_PASSWORD rather than the flag")
		fs.StringVar(&c.SMTPTLS, "smtp-tls", c.SMTPTLS, "starttls (required), tls (implicit TLS, port 465) or none (a mail relay on loopback only)")
		fs.StringVar(&c.MailDir, "mail-dir", c.MailDir, "directory where notices are written as .eml files when --smtp is empty (default: outbox in --data)")
		fs.Func("pdf-font", "comma-separated TrueType font files for PDF exports, for scripts the built-in fonts lack (e.g. Chinese)", func(v string) error {
			c.PDFFonts = nil
			for _, part := range strings.Split(v, ",") {
				if part = strings.TrimSpace(part); part != "" {
					c.PDFFonts = append(c.PDFFonts, part)
				}
			}
			return nil
		})
		fs.StringVar(&c.OIDCConfig, "oidc-config", c.OIDCConfig, "JSON file that sets up single sign-on with an OpenID Connect provider (see docs/sso.md); the client secret goes in ATTACHE_OIDC_CLIENT_SECRET")
		fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "address, HOST:PORT, that serves /metrics (default: the main address, to loopback clients only)")
		fs.StringVar(&c.NodeID, "node-id", c.NodeID, "this node's name among several on one PostgreSQL database (default: made once and kept in --data)")
		fs.StringVar(&c.NodeURL, "node-url", c.NodeURL, "URL at which the other nodes reach this one, e.g. http://10.0.0.5:8080 (default: from --addr, with this host's name when --addr names no host)")
		fs.DurationVar(&c.NodeTimeout, "node-timeout", c.NodeTimeout, "how long a node whose heartbeat stopped counts as alive; its calls then move to another node")
		fs.DurationVar(&c.SessionIdle, "session-idle", c.SessionIdle, "end sessions unused for this long")
		fs.DurationVar(&c.SessionMax, "session-max", c.SessionMax, "end every session this long after sign-in")
		fs.Func("trusted-proxies", "comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed", func(v string) error {
			c.TrustedProxies = nil
			for _, part := range strings.Split(v, ",") {
				part = strings.TrimSpace(part)
				if part == "" {
					continue
				}
				if !strings.Contains(part, "/") {
					a, err := netip.ParseAddr(part)
					if err != nil {
						return fmt.Errorf("%q is not an IP address or CIDR range", part)
					}
					part = netip.PrefixFrom(a, a.BitLen()).String()
				}
				p, err := netip.ParsePrefix(part)
				if err != nil {
					return fmt.Errorf("%q is not an IP address or CIDR range", part)
				}
				c.TrustedProxies = append(c.TrustedProxies, p.Masked())
			}
			return nil
		})
	}
	return fs
}

// Parse fills c from the environment, then from args (flags win), and
// validates the result. It returns the remaining arguments.
func (c *Config) Parse(fs *flag.FlagSet, args []string, getenv func(string) string) ([]string, error) {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := EnvName(f.Name)
		if v := getenv(name); v != "" && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("environment variable %s=%q: %v", name, v, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return fs.Args(), c.Validate()
}

// Validate checks the configuration and says what is wrong, all at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if host, port, err := net.SplitHostPort(c.Addr); err != nil {
		bad("--addr %q: want HOST:PORT, e.g. :8080 or 127.0.0.1:8080", c.Addr)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("--addr %q: the port must be a number from 0 to 65535", c.Addr)
	} else if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		bad("--addr %q: the host must be an IP address, localhost, or empty for all interfaces", c.Addr)
	}
	for _, m := range []struct{ flag, addr string }{{"--media-udp", c.MediaUDP}, {"--media-tcp", c.MediaTCP}} {
		if m.flag == "--media-tcp" && (m.addr == "" || m.addr == "off") {
			continue // like --media-udp, or no ICE-TCP
		}
		if host, port, err := net.SplitHostPort(m.addr); err != nil {
			bad("%s %q: want HOST:PORT, e.g. :10000", m.flag, m.addr)
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			bad("%s %q: the port must be a number from 0 to 65535", m.flag, m.addr)
		} else if host != "" && net.ParseIP(host) == nil {
			bad("%s %q: the host must be an IP address or empty for all interfaces", m.flag, m.addr)
		}
	}
	if c.TURNUDP != "" {
		if _, _, err := net.SplitHostPort(c.TURNUDP); err != nil {
			bad("--turn-udp %q: want HOST:PORT, e.g. :3478", c.TURNUDP)
		}
		if c.TURNTCP != "" {
			if _, _, err := net.SplitHostPort(c.TURNTCP); err != nil {
				bad("--turn-tcp %q: want HOST:PORT, e.g. :3478", c.TURNTCP)
			}
		}
		if c.TURNRelayIP != "" {
			if _, err := netip.ParseAddr(c.TURNRelayIP); err != nil {
				bad("--turn-relay-ip %q is not an IP address", c.TURNRelayIP)
			}
		}
		if _, _, err := c.TURNPorts(); err != nil {
			bad("--turn-relay-ports %q: %v", c.TURNRelayPorts, err)
		}
		if c.TURNSecret != "" && len(c.TURNSecret) < 16 {
			bad("--turn-secret is too short: use at least 16 random characters")
		}
	} else if c.TURNTCP != "" || c.TURNRelayIP != "" || c.TURNRelayPorts != "" {
		bad("--turn-tcp, --turn-relay-ip and --turn-relay-ports need --turn-udp")
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			bad("--metrics-addr %q: want HOST:PORT, e.g. 10.0.0.5:9090", c.MetricsAddr)
		}
	}
	if c.NodeTimeout < 500*time.Millisecond || c.NodeTimeout > 5*time.Minute {
		bad("--node-timeout %s: want a duration from 500ms to 5m, e.g. 10s", c.NodeTimeout)
	}
	if c.NodeURL != "" {
		if u, err := url.Parse(c.NodeURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			bad("--node-url %q: want http://HOST:PORT or https://HOST:PORT", c.NodeURL)
		}
	}
	if c.NodeID != "" && strings.IndexFunc(c.NodeID, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_' && r != '.'
	}) >= 0 {
		bad("--node-id %q: use letters, digits, '-', '_' and '.' only", c.NodeID)
	}
	if c.VisitOpensBefore < 0 || c.VisitOpensBefore > 24*time.Hour {
		bad("--visit-opens-before %s: want a duration from 0 to 24h, e.g. 15m", c.VisitOpensBefore)
	}
	if c.VisitGrace < 0 || c.VisitGrace > time.Hour {
		bad("--visit-grace %s: want a duration from 0 to 1h, e.g. 2m", c.VisitGrace)
	}
	switch c.SMTPTLS {
	case "starttls", "tls":
	case "none":
		if host, _, err := net.SplitHostPort(c.SMTP); c.SMTP != "" && (err != nil || !isLoopback(host)) {
			bad("--smtp-tls none sends mail and password in clear: only for a mail relay on loopback (127.0.0.1, ::1, localhost)")
		}
	default:
		bad("--smtp-tls %q: want starttls, tls or none", c.SMTPTLS)
	}
	if c.SMTP != "" {
		if _, port, err := net.SplitHostPort(c.SMTP); err != nil || port == "" {
			bad("--smtp %q: want HOST:PORT, e.g. mail.example.org:587", c.SMTP)
		}
		if !strings.Contains(c.SMTPFrom, "@") {
			bad("--smtp-from: say who notices come from, e.g. \"Consular Services <attache@example.org>\"")
		}
	}
	if (c.SMTPUser == "") != (c.SMTPPassword == "") {
		bad("--smtp-user and the password (ATTACHE_SMTP_PASSWORD) go together: give both or neither")
	}
	for _, f := range c.PDFFonts {
		if _, err := os.Stat(f); err != nil {
			bad("--pdf-font %q: %v", f, err)
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("--data must name a directory")
	} else if fi, err := os.Stat(c.DataDir); err == nil && !fi.IsDir() {
		bad("--data %q is a file, not a directory", c.DataDir)
	}
	switch u := c.DatabaseURL; {
	case u == "", strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
	case strings.HasPrefix(u, "sqlite:"):
		if strings.TrimPrefix(u, "sqlite:") == "" {
			bad("--database sqlite: needs a file path, e.g. sqlite:/var/lib/attache/attache.db")
		}
	default:
		bad("--database %q: want a postgres://… URL, sqlite:PATH, or nothing for SQLite in the data directory", db.Redact(u))
	}
	if len(c.SendingState) != 2 || strings.ToUpper(c.SendingState) != c.SendingState {
		bad("--sending-state %q: want a two-letter ISO 3166 country code in capitals, e.g. CA", c.SendingState)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("--log-format %q: want text or json", c.LogFormat)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("--tls-cert and --tls-key go together: give both or neither")
	}
	if c.TLSCert != "" && c.TLSSelfSigned {
		bad("--tls-self-signed and --tls-cert exclude each other: choose one")
	}
	for _, f := range []struct{ flag, path string }{{"--tls-cert", c.TLSCert}, {"--tls-key", c.TLSKey}} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				bad("%s %q: cannot read the file: %v", f.flag, f.path, errors.Unwrap(err))
			}
		}
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("--base-url %q: want an absolute http:// or https:// URL", c.BaseURL)
		}
	}
	if c.SessionIdle <= 0 || c.SessionMax <= 0 {
		bad("--session-idle and --session-max must be positive durations, e.g. 2h")
	} else if c.SessionIdle > c.SessionMax {
		bad("--session-idle (%s) cannot be longer than --session-max (%s)", c.SessionIdle, c.SessionMax)
	}
	return errors.Join(errs...)
}

// TURNPorts parses TURNRelayPorts: zero and zero for any port.
func (c Config) TURNPorts() (lo, hi uint16, err error) {
	if c.TURNRelayPorts == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(c.TURNRelayPorts, "-")
	x, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	y, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	if !ok || err1 != nil || err2 != nil || x == 0 || x > y {
		return 0, 0, errors.New("want MIN-MAX, e.g. 49160-49200")
	}
	return uint16(x), uint16(y), nil
}

// TLS reports whether the server speaks HTTPS.
func (c Config) TLS() bool { return c.TLSCert != "" || c.TLSSelfSigned }

// PublicURL is the base of links printed for people to open: BaseURL, or
// one derived from the listen address.
func (c Config) PublicURL() string {
	if c.BaseURL != "" {
		return strings.TrimRight(c.BaseURL, "/")
	}
	return c.urlOfAddr("localhost")
}

// InternalURL is where the other nodes reach this one: NodeURL, or one
// derived from the listen address (with this host's name when it names no
// host).
func (c Config) InternalURL() string {
	if c.NodeURL != "" {
		return strings.TrimRight(c.NodeURL, "/")
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return c.urlOfAddr(host)
}

// urlOfAddr is the URL of the listen address, with anyHost for a host
// that listens on every interface.
func (c Config) urlOfAddr(anyHost string) string {
	scheme := "http"
	if c.TLS() {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return scheme + "://localhost"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = anyHost
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// Logger returns the logger the configuration asks for.
func (c Config) Logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
