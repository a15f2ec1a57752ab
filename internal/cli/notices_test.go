package cli_test

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-smtp"

	_ "modernc.org/sqlite"

	"github.com/attache-org/attache/internal/servertest"
)

// mailbox is a real SMTP server on loopback that keeps every message.
type mailbox struct {
	mu   sync.Mutex
	msgs [][]byte
}

type mailSession struct{ box *mailbox }

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, b)
	s.box.mu.Unlock()
	return nil
}
func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }

func startMailbox(t *testing.T) (*mailbox, string) {
	t.Helper()
	box := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{box}, nil }))
	srv.Domain = "mx.test"
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return box, l.Addr().String()
}

// calendars waits until n of the messages carry a calendar and returns
// those calendars, in the order they arrived, parsed by go-ical. (Other
// mails, such as the demo family's invitation, have none.)
func (b *mailbox) calendars(t *testing.T, n int) []*ical.Calendar {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var out []*ical.Calendar
		b.mu.Lock()
		msgs := append([][]byte(nil), b.msgs...)
		b.mu.Unlock()
		for _, raw := range msgs {
			m, err := mail.ReadMessage(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			ct, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(ct, "multipart/") {
				continue
			}
			if cal := findCalendar(t, multipart.NewReader(m.Body, params["boundary"])); cal != nil {
				out = append(out, cal)
			}
		}
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails with a calendar arrived (of %d), want %d", len(out), len(msgs), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// subjects returns the decoded subjects of the messages received.
func (b *mailbox) subjects(t *testing.T) []string {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, raw := range b.msgs {
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func findCalendar(t *testing.T, r *multipart.Reader) *ical.Calendar {
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, params, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch {
		case strings.HasPrefix(ct, "multipart/"):
			if cal := findCalendar(t, multipart.NewReader(p, params["boundary"])); cal != nil {
				return cal
			}
		case ct == "text/calendar":
			var body io.Reader = p // multipart decodes quoted-printable itself, not base64
			if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
				body = base64.NewDecoder(base64.StdEncoding, p)
			}
			cal, err := ical.NewDecoder(body).Decode()
			if err != nil {
				t.Fatalf("the calendar does not parse: %v", err)
			}
			return cal
		}
	}
}

// TestVisitInvitationsByMail runs the program with a mail server: booking,
// moving and cancelling a visit through the pages send the officer an
// invitation, its update and its cancellation, which an independent
// iCalendar parser reads as one event (same UID) with SEQUENCE 0, 1, 2.
func TestVisitInvitationsByMail(t *testing.T) {
	box, addr := startMailbox(t)
	dir := t.TempDir()
	srv := servertest.Start(t, "--data", dir, "--demo", "--smtp", addr, "--smtp-tls", "none", "--smtp-from", "Consular Services <attache@example.org>")
	d, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "attache.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// Barton reads French: his notices and their calendar entries are
	// written in it.
	if _, err := d.Exec(`UPDATE users SET email = 'barton@example.org', lang = 'fr' WHERE username = 'barton'`); err != nil {
		t.Fatal(err)
	}
	var caseID string
	if err := d.QueryRow(`SELECT id FROM cases WHERE reference = 'CN-2018-0001'`).Scan(&caseID); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	page := func(res *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", res.Request.URL, res.StatusCode, b)
		}
		return string(b)
	}
	body := page(browser.PostForm(srv.URL+"/login", url.Values{"username": {"barton"}, "password": {srv.DemoPassword(t, "barton")}}))
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)[1]
	start := time.Now().UTC().Add(72 * time.Hour).Truncate(time.Minute)
	page(browser.PostForm(srv.URL+"/cases/"+caseID+"/visits", url.Values{"csrf": {csrf}, "modality": {"remote_video"}, "kind": {"consular"},
		"start": {start.Format("2006-01-02 15:04")}, "start_zone": {"UTC"}, "minutes": {"30"}}))
	var visitID string
	if err := d.QueryRow(`SELECT id FROM visits WHERE case_id = $1 AND starts = $2`, caseID, start.UnixMicro()).Scan(&visitID); err != nil {
		t.Fatalf("the visit was not booked: %v", err)
	}
	moved := start.Add(24 * time.Hour)
	page(browser.PostForm(srv.URL+"/cases/"+caseID+"/visits/"+visitID+"/move", url.Values{"csrf": {csrf},
		"start": {moved.In(mustZone(t, "Asia/Shanghai")).Format("2006-01-02 15:04")}, "minutes": {"45"}, "reason": {"the facility asked"}}))
	page(browser.PostForm(srv.URL+"/cases/"+caseID+"/visits/"+visitID+"/status", url.Values{"csrf": {csrf}, "to": {"cancelled"},
		"by": {"detaining_state"}, "reason": {"closed for inspection"}}))

	cals := box.calendars(t, 3)
	subjects := box.subjects(t)
	for _, want := range []string{"Visite prévue : dossier CN-2018-0001, ", "Visite déplacée : dossier CN-2018-0001, ", "Visite annulée : dossier CN-2018-0001, "} {
		if !slices.ContainsFunc(subjects, func(s string) bool { return strings.HasPrefix(s, want) && strings.Contains(s, "(Asia/Shanghai; ") }) {
			t.Errorf("no subject %q… with the facility's zone among %q", want, subjects)
		}
	}
	// The queue's workers deliver in parallel, so the mails may arrive in
	// any order; calendars apply them by SEQUENCE, and so does this test.
	slices.SortFunc(cals, func(a, b *ical.Calendar) int {
		seq := func(c *ical.Calendar) string {
			if ev := c.Events(); len(ev) == 1 {
				if p := ev[0].Props.Get(ical.PropSequence); p != nil {
					return p.Value
				}
			}
			return ""
		}
		return strings.Compare(seq(a), seq(b))
	})
	// The reminders wait in the queue, days ahead: operators see them.
	metrics := page(http.Get(srv.URL + "/metrics"))
	if m := regexp.MustCompile(`(?m)^attache_notices_pending (\d+)$`).FindStringSubmatch(metrics); m == nil || m[1] == "0" {
		t.Errorf("attache_notices_pending: %v", m)
	}
	want := []struct {
		method, status string
		seq            string
		start          time.Time
		minutes        int
	}{{"REQUEST", "CONFIRMED", "0", start, 30}, {"REQUEST", "CONFIRMED", "1", moved, 45}, {"CANCEL", "CANCELLED", "2", moved, 45}}
	uid := ""
	for i, cal := range cals {
		if m := cal.Props.Get(ical.PropMethod); m == nil || m.Value != want[i].method {
			t.Errorf("mail %d: METHOD %v, want %s", i, m, want[i].method)
		}
		ev := cal.Events()
		if len(ev) != 1 {
			t.Fatalf("mail %d: %d events", i, len(ev))
		}
		e := ev[0]
		if got := e.Props.Get(ical.PropSequence).Value; got != want[i].seq {
			t.Errorf("mail %d: SEQUENCE %s, want %s", i, got, want[i].seq)
		}
		if got := e.Props.Get(ical.PropStatus).Value; got != want[i].status {
			t.Errorf("mail %d: STATUS %s", i, got)
		}
		id := e.Props.Get(ical.PropUID).Value
		if uid == "" {
			uid = id
		} else if id != uid {
			t.Errorf("mail %d: UID %s, the first was %s: calendars would make two events", i, id, uid)
		}
		st, err := e.DateTimeStart(time.UTC)
		en, err2 := e.DateTimeEnd(time.UTC)
		if err != nil || err2 != nil || !st.Equal(want[i].start) || en.Sub(st) != time.Duration(want[i].minutes)*time.Minute {
			t.Errorf("mail %d: %v–%v (%v %v), want %v for %d minutes", i, st, en, err, err2, want[i].start, want[i].minutes)
		}
		if summary, _ := e.Props.Text(ical.PropSummary); strings.Contains(summary, "Kovrig") || summary != "Visite consulaire (Vidéo à distance), dossier CN-2018-0001" {
			t.Errorf("mail %d: SUMMARY %q names the detainee, lacks the reference or is not in French", i, summary)
		}
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
