package notify

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/problem"
)

// fast tunes a queue for tests: quick polling and retries.
func fast(o Options) Options {
	o.PollInterval = cmp.Or(o.PollInterval, 20*time.Millisecond)
	o.RetryBase = cmp.Or(o.RetryBase, 20*time.Millisecond)
	o.testOnly = true
	return o
}

// newQueue migrates River on d and returns a queue delivering through
// mailer, stopped when the test ends. It does not start it.
func newQueue(t *testing.T, d *db.DB, mailer Mailer, log *slog.Logger, o Options) *Queue {
	t.Helper()
	if err := Migrate(context.Background(), d); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if log == nil {
		log, _ = testLogger()
	}
	q, err := New(d, mailer, log, fast(o))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return q
}

func start(t *testing.T, q *Queue) {
	t.Helper()
	if err := q.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

// smtpMailer returns a mailer for srv.
func smtpMailer(t *testing.T, addr string) *SMTP {
	t.Helper()
	m, err := NewSMTP(SMTPConfig{Addr: addr, From: sender, TLS: TLSNone, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func send(t *testing.T, d *db.DB, q *Queue, m Mail) {
	t.Helper()
	if err := d.InTx(context.Background(), func(tx *sql.Tx) error { return q.Send(context.Background(), tx, m) }); err != nil {
		t.Fatalf("Send: %v", err)
	}
}

func pending(t *testing.T, q *Queue) int {
	t.Helper()
	n, err := q.Pending(context.Background())
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	return n
}

// mailJobs returns the queue's mail jobs to to, in every state.
func mailJobs(t *testing.T, q *Queue, to string) []*rivertype.JobRow {
	t.Helper()
	var out []*rivertype.JobRow
	for _, j := range listJobs(t, q, "notify.mail") {
		var a mailArgs
		if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
			t.Fatal(err)
		}
		if a.Mail.To == to {
			out = append(out, j)
		}
	}
	return out
}

// settle waits until the n jobs of mail to to are finished (completed,
// cancelled or discarded), then a little longer, so that a mail that would
// arrive twice has the time to. It returns the jobs.
func settle(t *testing.T, q *Queue, to string, n int) []*rivertype.JobRow {
	t.Helper()
	eventually(t, 10*time.Second, fmt.Sprintf("the jobs of mail to %s did not finish", to), func() bool {
		jobs := mailJobs(t, q, to)
		if len(jobs) != n {
			return false
		}
		for _, j := range jobs {
			if j.FinalizedAt == nil {
				return false
			}
		}
		return true
	})
	time.Sleep(150 * time.Millisecond)
	return mailJobs(t, q, to)
}

func mailTo(to string) Mail {
	return Mail{Kind: FamilyMessage, To: to, Name: "Zoë Ünal", Subject: "Un nouveau message", Text: "Vous avez un nouveau message de la famille."}
}

// TestQueue runs one queue on one database, as the application does, and
// checks each behaviour with mail to its own recipient. The test SMTP
// server answers by recipient: retry@ gets 451 twice, refused@ 550, down@
// 451 for ever.
func TestQueue(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		t.Parallel()
		srv := startSMTP(t, smtpOptions{tls: TLSNone, reply: func(to string, n int) error {
			switch to {
			case "retry@example.org":
				return reply451(2)(to, n)
			case "refused@example.org":
				return reply550(to, n)
			case "down@example.org":
				return reply451(1000)(to, n)
			}
			return nil
		}})
		log, logs := testLogger()
		// The queue's clock runs an hour behind, so that the time of Send
		// cannot be mistaken for the time of delivery.
		behind := func() time.Time { return time.Now().Add(-time.Hour) }
		rem := &fakeReminders{current: map[string]int{"current": 1, "moved": 2}}
		q := newQueue(t, d, smtpMailer(t, srv.addr), log, Options{Now: behind, MaxAttempts: 4, Reminders: rem})
		start(t, q)

		t.Run("delivers", func(t *testing.T) {
			t.Parallel()
			user := addUser(t, d, "zoe@example.org")
			m := Mail{Kind: VisitScheduled, UserID: user, To: "zoe@example.org", Name: "Zoë Ünal", Subject: "Visite prévue",
				Text: "Corps secret du message", Invite: sampleInvite()}
			before := behind().Truncate(time.Second)
			send(t, d, q, m)
			after := behind()
			msgs := srv.wait(t, m.To, 1, 10*time.Second)
			jobs := settle(t, q, m.To, 1)
			if got := len(srv.messages(m.To)); got != 1 || jobs[0].State != rivertype.JobStateCompleted {
				t.Fatalf("%d messages arrived, job %v; want 1, completed", got, jobStates(jobs))
			}
			h, parts, _ := parseMessage(t, msgs[0].data)
			if got, _ := h.Date(); got.Before(before) || got.After(after) {
				t.Errorf("Date = %v, want the time of Send, between %v and %v", got, before, after)
			}
			if len(parts) != 3 {
				t.Fatalf("%d parts, want 3", len(parts))
			}
			cal, err := ical.NewDecoder(bytes.NewReader(parts[2].body)).Decode()
			if err != nil {
				t.Fatal(err)
			}
			stamp, err := cal.Events()[0].Props.Get(ical.PropDateTimeStamp).DateTime(time.UTC)
			if err != nil || stamp.Before(before) || stamp.After(after) {
				t.Errorf("DTSTAMP = %v, %v; want the time of Send, between %v and %v", stamp, err, before, after)
			}
			var line string
			for l := range strings.Lines(logs.String()) {
				if strings.Contains(l, `"msg":"mail delivered"`) && strings.Contains(l, user) {
					line = l
				}
			}
			if !strings.Contains(line, `"kind":"visit.scheduled"`) || !strings.Contains(line, fmt.Sprintf(`"job_id":%d`, jobs[0].ID)) ||
				!strings.Contains(line, `"user_id":"`+user+`"`) {
				t.Errorf("delivery not logged with kind, job and user: %q", line)
			}
			if out := logs.String(); strings.Contains(out, "Corps secret") || strings.Contains(out, "zoe@example.org") {
				t.Errorf("the log holds the body or the address:\n%s", out)
			}
		})

		t.Run("retries temporary failures", func(t *testing.T) {
			t.Parallel()
			to := "retry@example.org"
			send(t, d, q, mailTo(to))
			srv.wait(t, to, 1, 10*time.Second)
			jobs := settle(t, q, to, 1)
			if got := len(srv.messages(to)); got != 1 {
				t.Errorf("%d messages arrived, want exactly 1", got)
			}
			if got := srv.dataAttempts(to); got != 3 || jobs[0].Attempt != 3 || jobs[0].State != rivertype.JobStateCompleted {
				t.Errorf("%d attempts, job %v after %d; want 3 (two refused, one accepted)", got, jobStates(jobs), jobs[0].Attempt)
			}
		})

		t.Run("does not retry a 550", func(t *testing.T) {
			t.Parallel()
			to := "refused@example.org"
			send(t, d, q, mailTo(to))
			jobs := settle(t, q, to, 1)
			time.Sleep(100 * time.Millisecond) // several retry periods
			if got := srv.dataAttempts(to); got != 1 || jobs[0].State != rivertype.JobStateCancelled {
				t.Errorf("%d attempts, job %v; want 1 attempt, cancelled", got, jobStates(jobs))
			}
			if !strings.Contains(logs.String(), fmt.Sprintf(`"msg":"mail refused; not retrying","kind":"family.message","job_id":%d`, jobs[0].ID)) {
				t.Errorf("refusal not logged:\n%s", logs.String())
			}
		})

		t.Run("gives up after MaxAttempts", func(t *testing.T) {
			t.Parallel()
			to := "down@example.org"
			send(t, d, q, mailTo(to))
			jobs := settle(t, q, to, 1)
			if got := srv.dataAttempts(to); got != 4 || jobs[0].State != rivertype.JobStateDiscarded {
				t.Errorf("%d attempts, job %v; want MaxAttempts = 4, discarded", got, jobStates(jobs))
			}
		})

		t.Run("key sends once", func(t *testing.T) {
			t.Parallel()
			to := "supervisor@example.org"
			m := mailTo(to)
			m.Kind, m.Key = Escalation, "escalation:r1:health:"+to
			send(t, d, q, m)
			send(t, d, q, m)
			other := m // twice in one transaction
			other.Key = "escalation:r1:minor:" + to
			err := d.InTx(context.Background(), func(tx *sql.Tx) error {
				if err := q.Send(context.Background(), tx, other); err != nil {
					return err
				}
				return q.Send(context.Background(), tx, other)
			})
			if err != nil {
				t.Fatal(err)
			}
			settle(t, q, to, 2)
			send(t, d, q, m) // and after delivery
			if got := len(mailJobs(t, q, to)); got != 2 {
				t.Errorf("%d jobs, want 2 (one per key)", got)
			}
			if got := len(srv.messages(to)); got != 2 {
				t.Errorf("%d messages arrived, want 2 (one per key)", got)
			}
		})

		t.Run("rollback queues nothing", func(t *testing.T) {
			t.Parallel()
			to := "rollback@example.org"
			m := mailTo(to)
			m.Key = "family:m1:" + to
			boom := errors.New("the change failed")
			err := d.InTx(context.Background(), func(tx *sql.Tx) error {
				if err := q.Send(context.Background(), tx, m); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("InTx = %v", err)
			}
			if got := len(mailJobs(t, q, to)); got != 0 {
				t.Fatalf("%d jobs after rollback, want 0", got)
			}
			m.Subject = "committed"
			send(t, d, q, m) // the key of the rolled-back mail is still free
			msgs := srv.wait(t, to, 1, 10*time.Second)
			settle(t, q, to, 1)
			if h, _, _ := parseMessage(t, msgs[0].data); len(srv.messages(to)) != 1 || h.Get("Subject") != "committed" {
				t.Errorf("%d messages, first %q; want only the committed one", len(srv.messages(to)), h.Get("Subject"))
			}
		})

		t.Run("preferences", func(t *testing.T) {
			t.Parallel()
			to := "prefs@example.org"
			user := addUser(t, d, to)
			err := d.InTx(context.Background(), func(tx *sql.Tx) error {
				return SetPreferences(context.Background(), tx, user, map[Kind]bool{VisitChanged: false, Escalation: false})
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []Kind{VisitChanged, Escalation, VisitScheduled} {
				m := mailTo(to)
				m.Kind, m.UserID, m.Subject = k, user, string(k)
				send(t, d, q, m)
			}
			// Without an account there are no preferences to consult.
			anon := mailTo("anon@example.org")
			anon.Kind, anon.Subject = VisitChanged, string(VisitChanged)
			send(t, d, q, anon)
			settle(t, q, anon.To, 1)
			settle(t, q, to, 2)
			var got []string
			for _, m := range append(srv.messages(to), srv.messages(anon.To)...) {
				h, _, _ := parseMessage(t, m.data)
				got = append(got, m.to[0]+" "+h.Get("Subject"))
			}
			slices.Sort(got)
			want := []string{
				"anon@example.org visit.changed",      // no account, no preferences
				"prefs@example.org report.escalation", // cannot be turned off
				"prefs@example.org visit.scheduled",
			}
			if !slices.Equal(got, want) {
				t.Errorf("delivered %q, want %q", got, want)
			}
		})

		t.Run("reminders", func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			// The 1 h reminder is due in 300 ms; the 24 h one is past.
			starts := time.Now().Add(time.Hour + 300*time.Millisecond)
			err := d.InTx(ctx, func(tx *sql.Tx) error {
				if err := q.ScheduleReminders(ctx, tx, "current", 1, starts); err != nil {
					return err
				}
				return q.ScheduleReminders(ctx, tx, "moved", 1, starts) // moved since: stale
			})
			if err != nil {
				t.Fatal(err)
			}
			msgs := srv.wait(t, "remind@example.org", 1, 15*time.Second)
			eventually(t, 10*time.Second, "reminder jobs not finished", func() bool {
				jobs := listJobs(t, q, "notify.reminder")
				return len(jobs) == 2 && jobs[0].FinalizedAt != nil && jobs[1].FinalizedAt != nil
			})
			settle(t, q, "remind@example.org", 1)
			if h, _, _ := parseMessage(t, msgs[0].data); len(srv.messages("remind@example.org")) != 1 || !strings.Contains(h.Get("Subject"), "current") {
				t.Errorf("%d reminders, first %q; want only the current visit's", len(srv.messages("remind@example.org")), h.Get("Subject"))
			}
			calls := rem.called()
			slices.Sort(calls)
			if want := []string{"current/1/1h", "moved/1/1h"}; !slices.Equal(calls, want) {
				t.Errorf("Reminders called for %q, want %q", calls, want)
			}
		})
	})
}

// TestStore checks what happens in the database without a running queue:
// River's migrations, validation, preferences and reminder scheduling.
func TestStore(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		t.Parallel()
		ctx := context.Background()

		// River's migrations: several processes at once, then again.
		errs := make(chan error, 4)
		for range 4 {
			go func() { errs <- Migrate(ctx, d) }()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Fatalf("concurrent Migrate: %v", err)
			}
		}
		var versions, again int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM river_migration`).Scan(&versions); err != nil || versions == 0 {
			t.Fatalf("river_migration: %d rows, %v", versions, err)
		}
		if err := Migrate(ctx, d); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM river_migration`).Scan(&again); err != nil || again != versions {
			t.Errorf("river_migration went from %d to %d rows", versions, again)
		}

		t.Run("validation", func(t *testing.T) {
			t.Parallel()
			q := newQueue(t, d, &recorder{}, nil, Options{})
			badInvite := sampleInvite()
			badInvite.Method = "PUBLISH"
			tests := []struct {
				name  string
				edit  func(*Mail)
				field string
			}{
				{"no address", func(m *Mail) { m.To = "" }, "to"},
				{"not an address", func(m *Mail) { m.To = "zoe at example.org" }, "to"},
				{"address with a name", func(m *Mail) { m.To = "Zoë <zoe@example.org>" }, "to"},
				{"two addresses", func(m *Mail) { m.To = "zoe@example.org, jj@example.org" }, "to"},
				{"unknown kind", func(m *Mail) { m.Kind = "visit.teleported" }, "kind"},
				{"no subject", func(m *Mail) { m.Subject = "  " }, "subject"},
				{"bad invite", func(m *Mail) { m.Invite = badInvite }, "invite.method"},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					m := mailTo("valid@example.org")
					tc.edit(&m)
					err := d.InTx(ctx, func(tx *sql.Tx) error { return q.Send(ctx, tx, m) })
					pe, ok := problem.As(err)
					if !ok || pe.Kind != problem.Invalid || pe.Fields[tc.field] == "" {
						t.Fatalf("Send = %v, want an Invalid error on %s", err, tc.field)
					}
					if got := len(mailJobs(t, q, m.To)); got != 0 {
						t.Errorf("%d jobs queued", got)
					}
				})
			}
		})

		t.Run("preferences", func(t *testing.T) {
			t.Parallel()
			user := addUser(t, d, "zoe@example.org")
			set := func(on map[Kind]bool) error {
				return d.InTx(ctx, func(tx *sql.Tx) error { return SetPreferences(ctx, tx, user, on) })
			}
			check := func(off ...Kind) {
				t.Helper()
				got, err := Preferences(ctx, d, user)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(Kinds) {
					t.Errorf("%d kinds, want every one of %d", len(got), len(Kinds))
				}
				for _, k := range Kinds {
					if want := !slices.Contains(off, k.Kind); got[k.Kind] != want {
						t.Errorf("%s = %v, want %v", k.Kind, got[k.Kind], want)
					}
				}
			}
			check() // all on by default
			if err := set(map[Kind]bool{VisitChanged: false, FamilyMessage: false, Escalation: false, VisitReminder: true}); err != nil {
				t.Fatal(err)
			}
			check(VisitChanged, FamilyMessage) // escalations stay on
			if err := set(map[Kind]bool{FamilyMessage: true}); err != nil {
				t.Fatal(err)
			}
			check(VisitChanged) // kinds not named keep their setting
			err := set(map[Kind]bool{VisitScheduled: false, "visit.teleported": false})
			if pe, ok := problem.As(err); !ok || pe.Fields["kind"] == "" {
				t.Fatalf("unknown kind: %v, want a field error on kind", err)
			}
			check(VisitChanged) // nothing changed
			other, err := Preferences(ctx, d, addUser(t, d, "jj@example.org"))
			if err != nil || !other[VisitChanged] {
				t.Errorf("another user's preferences: %v, %v", other, err)
			}
		})

		t.Run("schedule reminders", func(t *testing.T) {
			t.Parallel()
			now := time.Now().UTC().Truncate(time.Millisecond)
			q := newQueue(t, d, &recorder{}, nil, Options{Now: func() time.Time { return now }, Reminders: &fakeReminders{}})
			tests := []struct {
				visit  string
				starts time.Time
				leads  int
			}{
				{"far", now.Add(72 * time.Hour), 2},
				{"tomorrow", now.Add(20 * time.Hour), 1}, // the 24 h reminder is past
				{"soon", now.Add(30 * time.Minute), 0},
				{"past", now.Add(-time.Hour), 0},
			}
			startsOf := map[string]time.Time{}
			for _, tc := range tests {
				startsOf[tc.visit] = tc.starts
				for range 2 { // scheduling twice adds nothing
					err := d.InTx(ctx, func(tx *sql.Tx) error { return q.ScheduleReminders(ctx, tx, tc.visit, 3, tc.starts) })
					if err != nil {
						t.Fatalf("ScheduleReminders(%s): %v", tc.visit, err)
					}
				}
			}
			got := map[string]int{}
			for _, j := range listJobs(t, q, "notify.reminder") {
				var a reminderArgs
				if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
					t.Fatal(err)
				}
				if _, ok := startsOf[a.VisitID]; !ok {
					continue // another subtest's
				}
				if a.Sequence != 3 || j.State != rivertype.JobStateScheduled {
					t.Errorf("job %+v in state %s", a, j.State)
				}
				if want := startsOf[a.VisitID].Add(-a.Lead); !j.ScheduledAt.Equal(want) {
					t.Errorf("%s %s reminder scheduled at %v, want %v", a.VisitID, leadName(a.Lead), j.ScheduledAt, want)
				}
				got[a.VisitID]++
			}
			for _, tc := range tests {
				if got[tc.visit] != tc.leads {
					t.Errorf("%s: %d reminders, want %d", tc.visit, got[tc.visit], tc.leads)
				}
			}
			noReminders := newQueue(t, d, &recorder{}, nil, Options{})
			err := d.InTx(ctx, func(tx *sql.Tx) error { return noReminders.ScheduleReminders(ctx, tx, "v", 0, now.Add(48*time.Hour)) })
			if err == nil {
				t.Error("ScheduleReminders without Reminders succeeded")
			}
		})

		// A reminder job run twice, as River does after a crash, queues its
		// mail once.
		t.Run("reminder retry", func(t *testing.T) {
			t.Parallel()
			q := newQueue(t, d, &recorder{}, nil, Options{Reminders: &fakeReminders{current: map[string]int{"v": 0}}})
			w := &reminderWorker{q: q}
			job := &river.Job[reminderArgs]{JobRow: &rivertype.JobRow{ID: 1}, Args: reminderArgs{VisitID: "v", Sequence: 0, Lead: 24 * time.Hour}}
			for range 2 {
				if err := w.Work(ctx, job); err != nil {
					t.Fatalf("Work: %v", err)
				}
			}
			if got := len(mailJobs(t, q, "remind@example.org")); got != 1 {
				t.Errorf("%d mails queued, want 1", got)
			}
		})
	})
}

// TestQueueResumes: mail queued while the mail server is down, or while no
// queue runs, is delivered by a new Queue on the same database.
func TestQueueResumes(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		t.Parallel()
		ctx := context.Background()
		// The mail server is down: its port takes connections and drops
		// them at once. The port stays held until the server comes up, so
		// no other test's listener takes it meanwhile.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()

		first := newQueue(t, d, smtpMailer(t, addr), nil, Options{RetryBase: 50 * time.Millisecond})
		start(t, first)
		send(t, d, first, mailTo("zoe@example.org"))
		eventually(t, 10*time.Second, "the first delivery never failed", func() bool {
			jobs := listJobs(t, first, "notify.mail")
			return len(jobs) == 1 && len(jobs[0].Errors) > 0
		})
		if err := first.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		send(t, d, first, mailTo("jj@example.org")) // while no queue runs
		if got := pending(t, first); got != 2 {
			t.Fatalf("Pending = %d, want 2", got)
		}

		l.Close()
		srv := startSMTP(t, smtpOptions{tls: TLSNone, addr: addr})
		second := newQueue(t, d, smtpMailer(t, addr), nil, Options{})
		start(t, second)
		srv.wait(t, "", 2, 10*time.Second)
		eventually(t, 10*time.Second, "jobs still pending", func() bool { return pending(t, second) == 0 })
		time.Sleep(150 * time.Millisecond)
		var to []string
		for _, m := range srv.messages("") {
			to = append(to, m.to...)
		}
		slices.Sort(to)
		if !slices.Equal(to, []string{"jj@example.org", "zoe@example.org"}) {
			t.Errorf("delivered to %q, want each address once", to)
		}
	})
}

// fakeReminders answers for visits whose sequence is current.
type fakeReminders struct {
	mu      sync.Mutex
	current map[string]int // visit → sequence
	calls   []string
}

func (f *fakeReminders) Reminders(_ context.Context, visitID string, sequence int, lead time.Duration) ([]Mail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("%s/%d/%s", visitID, sequence, leadName(lead)))
	if seq, ok := f.current[visitID]; !ok || seq != sequence {
		return nil, nil
	}
	m := mailTo("remind@example.org")
	m.Kind, m.Subject = VisitReminder, "Rappel : visite "+visitID+" dans "+leadName(lead)
	return []Mail{m}, nil
}

func (f *fakeReminders) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// recorder is a Mailer that remembers what it delivered.
type recorder struct {
	mu   sync.Mutex
	sent []Mail
}

func (r *recorder) Deliver(_ context.Context, m Mail) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return nil
}

func (r *recorder) kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.sent {
		out = append(out, string(m.Kind)+" "+m.To)
	}
	return out
}

func listJobs(t *testing.T, q *Queue, kind string) []*rivertype.JobRow {
	t.Helper()
	res, err := q.client.JobList(context.Background(), river.NewJobListParams().Kinds(kind).First(1000))
	if err != nil {
		t.Fatalf("JobList: %v", err)
	}
	return res.Jobs
}

func jobStates(jobs []*rivertype.JobRow) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, fmt.Sprintf("%d:%s", j.ID, j.State))
	}
	return out
}

func TestBackoff(t *testing.T) {
	b := &backoff{base: time.Second}
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{1, time.Second}, {2, 2 * time.Second}, {5, 16 * time.Second}, {13, time.Hour}, {40, time.Hour}, {200, time.Hour},
	}
	for _, tc := range tests {
		job := &rivertype.JobRow{Errors: make([]rivertype.AttemptError, tc.failures-1)}
		for range 20 {
			d := time.Until(b.NextRetry(job))
			lo, hi := tc.want*8/10-50*time.Millisecond, tc.want*12/10+50*time.Millisecond
			if d < lo || d > hi {
				t.Errorf("after %d failures: retry in %s, want %s ± 20%%", tc.failures, d, tc.want)
				break
			}
		}
	}
}
