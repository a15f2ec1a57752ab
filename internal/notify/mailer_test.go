package notify

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var sender = Person{Name: "Attaché", Email: "noreply@attache.example"}

func TestSMTPDeliver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		tls        string
		user, pass string
	}{
		{"none on loopback", TLSNone, "", ""},
		{"starttls with auth", TLSStartTLS, "mailer", "s3cret"},
		{"starttls by default", "", "", ""},
		{"implicit tls with auth", TLSImplicit, "mailer", "s3cret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			serverTLS := tc.tls
			if serverTLS == "" {
				serverTLS = TLSStartTLS
			}
			srv := startSMTP(t, smtpOptions{tls: serverTLS, user: tc.user, pass: tc.pass})
			mailer, err := NewSMTP(SMTPConfig{Addr: srv.addr, From: sender, Username: tc.user, Password: tc.pass, TLS: tc.tls,
				HelloName: "attache.test", Timeout: 5 * time.Second, RootCAs: srv.pool})
			if err != nil {
				t.Fatal(err)
			}
			m := Mail{Kind: VisitScheduled, To: "zoe@example.org", Name: "Zoë", Subject: "Visite prévue", Text: "Bonjour", Invite: sampleInvite()}
			if err := mailer.Deliver(context.Background(), m); err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			msgs := srv.messages("")
			if len(msgs) != 1 {
				t.Fatalf("%d messages arrived, want 1", len(msgs))
			}
			got := msgs[0]
			if got.from != sender.Email || !slices.Equal(got.to, []string{"zoe@example.org"}) {
				t.Errorf("envelope from %q to %q", got.from, got.to)
			}
			h, parts, _ := parseMessage(t, got.data)
			if s, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject")); s != "Visite prévue" {
				t.Errorf("Subject = %q", s)
			}
			if len(parts) != 3 || parts[1].params["method"] != "REQUEST" {
				t.Errorf("parts %v", parts)
			}
		})
	}
}

func TestSMTPFailures(t *testing.T) {
	t.Parallel()
	closed := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}
	tests := []struct {
		name      string
		server    *smtpOptions // nil: nothing listens
		tls       string
		user      string
		permanent bool
	}{
		{"mailbox unknown (550)", &smtpOptions{tls: TLSNone, reply: reply550}, TLSNone, "", true},
		{"try later (451)", &smtpOptions{tls: TLSNone, reply: reply451(1)}, TLSNone, "", false},
		{"connection refused", nil, TLSNone, "", false},
		{"no STARTTLS offered", &smtpOptions{tls: TLSNone}, TLSStartTLS, "", false},
		{"wrong password", &smtpOptions{tls: TLSStartTLS, user: "mailer", pass: "right"}, TLSStartTLS, "mailer", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := SMTPConfig{From: sender, TLS: tc.tls, Username: tc.user, Password: "wrong", Timeout: 5 * time.Second}
			var srv *smtpServer
			if tc.server != nil {
				srv = startSMTP(t, *tc.server)
				cfg.Addr, cfg.RootCAs = srv.addr, srv.pool
			} else {
				cfg.Addr = closed(t)
			}
			mailer, err := NewSMTP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = mailer.Deliver(context.Background(), Mail{Kind: FamilyMessage, To: "zoe@example.org", Subject: "Hi", Text: "x"})
			if err == nil {
				t.Fatal("Deliver succeeded, want an error")
			}
			if got := Permanent(err); got != tc.permanent {
				t.Errorf("Permanent(%v) = %v, want %v", err, got, tc.permanent)
			}
			if srv != nil && len(srv.messages("")) != 0 {
				t.Errorf("a message arrived")
			}
		})
	}
}

func TestSMTPTimeout(t *testing.T) {
	t.Parallel()
	// A server that accepts and never greets.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	mailer, err := NewSMTP(SMTPConfig{Addr: l.Addr().String(), From: sender, TLS: TLSNone, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = mailer.Deliver(context.Background(), Mail{Kind: FamilyMessage, To: "zoe@example.org", Subject: "Hi"})
	if err == nil || Permanent(err) {
		t.Fatalf("Deliver = %v, want a temporary error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Deliver took %s with a 200ms timeout", d)
	}
}

func TestNewSMTP(t *testing.T) {
	tests := []struct {
		name    string
		cfg     SMTPConfig
		wantErr string
	}{
		{"ok", SMTPConfig{Addr: "smtp.example.org:587", From: sender}, ""},
		{"none on localhost", SMTPConfig{Addr: "localhost:25", From: sender, TLS: "none"}, ""},
		{"none on ::1", SMTPConfig{Addr: "[::1]:25", From: sender, TLS: "none"}, ""},
		{"none to a remote host", SMTPConfig{Addr: "smtp.example.org:25", From: sender, TLS: "none"}, "only allowed"},
		{"none with auth", SMTPConfig{Addr: "127.0.0.1:25", From: sender, TLS: "none", Username: "u"}, "needs TLS"},
		{"unknown tls", SMTPConfig{Addr: "smtp.example.org:25", From: sender, TLS: "ssl"}, "want starttls"},
		{"no port", SMTPConfig{Addr: "smtp.example.org", From: sender}, "host:port"},
		{"bad sender", SMTPConfig{Addr: "smtp.example.org:587", From: Person{Email: "nobody"}}, "not an e-mail address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSMTP(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("NewSMTP = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewSMTP = %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&textproto.Error{Code: 550, Msg: "no such user"}, true},
		{fmt.Errorf("deliver: %w", &textproto.Error{Code: 554, Msg: "refused"}), true},
		{&textproto.Error{Code: 451, Msg: "later"}, false},
		{&textproto.Error{Code: 421, Msg: "closing"}, false},
		{&permanentError{errors.New("bad recipient")}, true},
		{errors.New("connection reset"), false},
		{context.DeadlineExceeded, false},
	}
	for _, tc := range tests {
		if got := Permanent(tc.err); got != tc.want {
			t.Errorf("Permanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "outbox")
	mailer, err := NewDir(dir, sender)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	mailer.now = func() time.Time { clock = clock.Add(time.Millisecond); return clock }
	subjects := []string{"Première", "Deuxième", "Troisième"}
	for i, s := range subjects {
		m := Mail{Kind: FamilyMessage, To: "zoe@example.org", Subject: s, Text: "Bonjour", MessageID: fmt.Sprintf("id%d/../x", i)}
		if i == 1 {
			m.Invite = sampleInvite()
		}
		if err := mailer.Deliver(context.Background(), m); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != len(subjects) {
		t.Fatalf("files %q, want %d .eml files and nothing else", names, len(subjects))
	}
	slices.Sort(names)
	for i, name := range names {
		if !strings.HasSuffix(name, ".eml") || strings.HasPrefix(name, ".") || !strings.Contains(name, fmt.Sprintf("id%d", i)) {
			t.Errorf("file %d is %q", i, name)
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		h, _, _ := parseMessage(t, data)
		if s, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject")); s != subjects[i] {
			t.Errorf("file %s has subject %q, want %q (files must sort by delivery)", name, s, subjects[i])
		}
		if got := h.Get("Message-ID"); !strings.HasPrefix(got, fmt.Sprintf("<id%d", i)) {
			t.Errorf("Message-ID = %q", got)
		}
	}
	err = mailer.Deliver(context.Background(), Mail{Kind: FamilyMessage, To: "not an address", Subject: "x"})
	if !Permanent(err) {
		t.Errorf("bad recipient: %v, want a permanent error", err)
	}
}
