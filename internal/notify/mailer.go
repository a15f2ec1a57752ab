package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Mailer delivers one mail now. The queue calls it, and retries it when it
// fails with an error that is not Permanent.
type Mailer interface {
	Deliver(ctx context.Context, m Mail) error
}

// permanentError marks a failure that retrying cannot cure.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent reports whether err is a failure that retrying will not cure: an
// SMTP 5xx reply (mailbox unknown, message refused) or a mail that cannot be
// sent as it is. A 4xx reply, a network error or a timeout is temporary.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	var pe *permanentError
	if errors.As(err, &pe) {
		return true
	}
	var te *textproto.Error
	return errors.As(err, &te) && te.Code >= 500 && te.Code < 600
}

// The TLS modes of an SMTP connection.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS, which the server must offer
	TLSImplicit = "tls"      // TLS from the first byte, usually port 465
	TLSNone     = "none"     // no encryption: only to a server on this machine
)

// SMTPConfig configures the SMTP mailer.
type SMTPConfig struct {
	Addr string // host:port of the submission server
	From Person // the sender of every mail
	// Username and Password, when Username is set, authenticate with
	// PLAIN, which is only ever sent over TLS.
	Username, Password string
	// TLS is "starttls" (the default), "tls" or "none"; "none" is allowed
	// only when Addr is a loopback address.
	TLS string
	// HelloName is the name given in EHLO; default the host name.
	HelloName string
	// Timeout bounds one whole delivery; default 30 s.
	Timeout time.Duration
	// RootCAs verifies the server's certificate; nil: the system's roots.
	RootCAs *x509.CertPool
}

// SMTP delivers mail through a submission server with the standard
// library's SMTP client.
type SMTP struct {
	cfg  SMTPConfig
	host string
}

// NewSMTP checks cfg and returns a mailer for it.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("SMTP address %q: want host:port", cfg.Addr)
	}
	if !addressLike(cfg.From.Email) {
		return nil, fmt.Errorf("SMTP sender %q is not an e-mail address", cfg.From.Email)
	}
	cfg.TLS = strings.ToLower(strings.TrimSpace(cfg.TLS))
	switch cfg.TLS {
	case "":
		cfg.TLS = TLSStartTLS
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if !loopback(host) {
			return nil, fmt.Errorf("SMTP TLS %q is only allowed to a server on this machine, not %s", TLSNone, host)
		}
		if cfg.Username != "" {
			return nil, errors.New("SMTP authentication needs TLS: set TLS to starttls or tls")
		}
	default:
		return nil, fmt.Errorf("SMTP TLS %q: want starttls, tls or none", cfg.TLS)
	}
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
		if h, err := os.Hostname(); err == nil && h != "" {
			cfg.HelloName = h
		}
	}
	if strings.ContainsAny(cfg.HelloName, "\r\n") {
		return nil, errors.New("SMTP hello name must be one line")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &SMTP{cfg: cfg, host: host}, nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Deliver sends m through the server.
func (s *SMTP) Deliver(ctx context.Context, m Mail) error {
	if !addressLike(m.To) {
		return &permanentError{fmt.Errorf("deliver mail: recipient %q is not an e-mail address", m.To)}
	}
	msg, err := render(s.cfg.From, m)
	if err != nil {
		return &permanentError{err}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.send(ctx, m.To, msg); err != nil {
		return fmt.Errorf("deliver mail through %s: %w", s.cfg.Addr, err)
	}
	return nil
}

func (s *SMTP) send(ctx context.Context, to string, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Cancelling ctx unblocks any read or write in progress.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	tlsConfig := &tls.Config{ServerName: s.host, RootCAs: s.cfg.RootCAs, MinVersion: tls.VersionTLS12}
	if s.cfg.TLS == TLSImplicit {
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HelloName); err != nil {
		return err
	}
	if s.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("the server does not offer STARTTLS")
		}
		if err := c.StartTLS(tlsConfig); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if s.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.host)); err != nil {
			// %v, not %w: a refused password is the operator's to fix, and
			// the mail should wait for it rather than be given up as a 5xx.
			return fmt.Errorf("authenticate as %s: %v", s.cfg.Username, err) //nolint:errorlint
		}
	}
	if err := c.Mail(s.cfg.From.Email); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	// The server has taken the mail: a failing QUIT must not cause a retry
	// and a second copy.
	_ = c.Quit()
	return nil
}

// Dir "delivers" mail by writing each message as an RFC 5322 .eml file into
// a folder, for development and the demo. File names sort by time of
// delivery.
type Dir struct {
	dir  string
	from Person
	now  func() time.Time
}

// NewDir returns a mailer writing into dir, which it creates if needed.
func NewDir(dir string, from Person) (*Dir, error) {
	if !addressLike(from.Email) {
		return nil, fmt.Errorf("mail folder sender %q is not an e-mail address", from.Email)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create mail folder: %w", err)
	}
	return &Dir{dir: dir, from: from, now: time.Now}, nil
}

// Deliver writes m atomically: to a temporary file, synced, then renamed.
func (d *Dir) Deliver(ctx context.Context, m Mail) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !addressLike(m.To) {
		return &permanentError{fmt.Errorf("deliver mail: recipient %q is not an e-mail address", m.To)}
	}
	if m.MessageID == "" {
		m.MessageID = newToken()
	}
	msg, err := render(d.from, m)
	if err != nil {
		return &permanentError{err}
	}
	name := d.now().UTC().Format("20060102T150405.000000000Z") + "-" + safeName(m.MessageID) + ".eml"
	if err := writeFileAtomic(filepath.Join(d.dir, name), msg); err != nil {
		return fmt.Errorf("deliver mail to folder: %w", err)
	}
	return nil
}

// safeName keeps the characters of s that are safe in a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// writeFileAtomic writes data to path so that a reader sees the whole file
// or none of it, even across a crash.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*.eml")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename itself durable.
	if df, err := os.Open(dir); err == nil {
		_ = df.Sync()
		df.Close()
	}
	return nil
}
