package notify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"log/slog"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/attache-org/attache/internal/db"
)

// received is one message the test SMTP server accepted.
type received struct {
	from string
	to   []string
	data []byte
}

// smtpServer is a real SMTP server on 127.0.0.1 that keeps what it is sent.
type smtpServer struct {
	addr string
	pool *x509.CertPool // trusts the server's certificate

	mu       sync.Mutex
	msgs     []received
	attempts map[string]int // DATA commands seen, by recipient
	arrived  chan struct{}
}

type smtpOptions struct {
	tls        string // "none", "starttls" or "tls"
	user, pass string // required credentials, or none
	// reply answers the n-th DATA command (from 0) for a recipient: nil
	// accepts the mail.
	reply func(to string, n int) error
	// addr listens on a given address instead of 127.0.0.1:0.
	addr string
}

func startSMTP(t *testing.T, o smtpOptions) *smtpServer {
	t.Helper()
	s := &smtpServer{arrived: make(chan struct{}, 1), attempts: map[string]int{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{s: s, o: o}, nil
	}))
	srv.Domain = "mx.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	addr := o.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s.addr = l.Addr().String()
	if o.tls == TLSStartTLS || o.tls == TLSImplicit {
		cert, pool := selfSigned(t)
		s.pool = pool
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if o.tls == TLSImplicit {
			l = tls.NewListener(l, cfg)
		} else {
			srv.TLSConfig = cfg
		}
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return s
}

// messages returns a copy of what arrived so far for to, or for anyone
// when to is "".
func (s *smtpServer) messages(to string) []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []received
	for _, m := range s.msgs {
		if to == "" || slices.Contains(m.to, to) {
			out = append(out, m)
		}
	}
	return out
}

// dataAttempts counts the DATA commands for to, or for anyone.
func (s *smtpServer) dataAttempts(to string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for rcpt, a := range s.attempts {
		if to == "" || rcpt == to {
			n += a
		}
	}
	return n
}

// wait waits until n messages have arrived for to (or anyone, with "").
func (s *smtpServer) wait(t *testing.T, to string, n int, timeout time.Duration) []received {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if msgs := s.messages(to); len(msgs) >= n {
			return msgs
		}
		select {
		case <-s.arrived:
		case <-time.After(20 * time.Millisecond): // several waiters share arrived
		case <-deadline:
			t.Fatalf("after %s: %d messages arrived for %q, want %d (DATA attempts: %d)", timeout, len(s.messages(to)), to, n, s.dataAttempts(to))
		}
	}
}

type session struct {
	s      *smtpServer
	o      smtpOptions
	authed bool
	from   string
	to     []string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if ss.o.user == "" || user != ss.o.user || pass != ss.o.pass {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.o.user != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := ss.s
	to := strings.Join(ss.to, ",")
	s.mu.Lock()
	n := s.attempts[to]
	s.attempts[to]++
	s.mu.Unlock()
	if ss.o.reply != nil {
		if err := ss.o.reply(to, n); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, received{from: ss.from, to: ss.to, data: data})
	s.mu.Unlock()
	select {
	case s.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// reply451 answers "try again later" to the first n DATA commands.
func reply451(n int) func(string, int) error {
	return func(_ string, i int) error {
		if i < n {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
		}
		return nil
	}
}

func reply550(string, int) error {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox"}
}

// selfSigned returns a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// part is one leaf of a parsed MIME message, its body decoded.
type part struct {
	mediaType string
	params    map[string]string
	header    map[string][]string
	body      []byte
}

// parseMessage parses an RFC 5322 message with net/mail and mime/multipart
// and returns its header and its leaves in order, with the media types of
// the containers they sit in as a path ("multipart/mixed/multipart/alternative").
func parseMessage(t *testing.T, data []byte) (mail.Header, []part, []string) {
	t.Helper()
	if i := bytes.IndexByte(bytes.ReplaceAll(data, []byte("\r\n"), nil), '\n'); i >= 0 {
		t.Errorf("message has a bare LF: %q", data)
	}
	if i := bytes.IndexByte(bytes.ReplaceAll(data, []byte("\r\n"), nil), '\r'); i >= 0 {
		t.Errorf("message has a bare CR: %q", data)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, data)
	}
	var parts []part
	var paths []string
	var walk func(h map[string][]string, body io.Reader, path string)
	walk = func(h map[string][]string, body io.Reader, path string) {
		ct := first(h, "Content-Type")
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("Content-Type %q: %v", ct, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if errors.Is(err, io.EOF) {
					return
				}
				if err != nil {
					t.Fatalf("read %s part: %v", mt, err)
				}
				walk(p.Header, p, path+mt+"/")
			}
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		var dec []byte
		switch cte := strings.ToLower(first(h, "Content-Transfer-Encoding")); cte {
		case "quoted-printable":
			dec, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
		case "base64":
			dec, err = base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(raw)))
		default:
			t.Errorf("%s part has Content-Transfer-Encoding %q", mt, cte)
			dec = raw
		}
		if err != nil {
			t.Fatalf("decode %s part: %v", mt, err)
		}
		parts = append(parts, part{mediaType: mt, params: params, header: h, body: dec})
		paths = append(paths, path+mt)
	}
	walk(msg.Header, msg.Body, "")
	return msg.Header, parts, paths
}

func first(h map[string][]string, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// testLogger returns a JSON logger into a buffer.
func testLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// addUser adds an account and returns its id.
func addUser(t *testing.T, d *db.DB, email string) string {
	t.Helper()
	id := db.NewID()
	now := db.Instant(time.Now())
	_, err := d.ExecContext(context.Background(), `INSERT INTO users (id, username, display_name, email, role, password_hash, created_at, updated_at, password_changed_at)
		VALUES ($1, $2, $3, $4, 'consular_officer', 'x', $5, $5, $5)`, id, "u"+id, "Zoë Ünal", email, now)
	if err != nil {
		t.Fatalf("add user: %v", err)
	}
	return id
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
