package visits_test

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/i18n"
	"github.com/attache-org/attache/internal/notify"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/visits"
)

// outbox records what the scheduler queues.
type outbox struct {
	mu        sync.Mutex
	mails     []notify.Mail
	reminders []string
}

func (o *outbox) Send(_ context.Context, _ *sql.Tx, m notify.Mail) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mails = append(o.mails, m)
	return nil
}

func (o *outbox) ScheduleReminders(_ context.Context, _ *sql.Tx, visitID string, seq int, starts time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reminders = append(o.reminders, visitID+"@"+starts.UTC().Format(time.RFC3339)+"#"+string(rune('0'+seq)))
	return nil
}

func (o *outbox) take() []notify.Mail {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.mails
	o.mails = nil
	return out
}

func TestVisitNoticesFollowTheVisit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		// The consul reads French; Barton chose no language.
		if _, err := d.ExecContext(ctx, `UPDATE users SET email = username || '@example.org', lang = CASE username WHEN 'consul' THEN 'fr' ELSE '' END
			WHERE username IN ('barton', 'consul')`); err != nil {
			t.Fatal(err)
		}
		catalog, err := i18n.Load()
		if err != nil {
			t.Fatal(err)
		}
		ob := &outbox{}
		fx.visits.SetNotices(visits.Notices{Sender: ob, Reminders: ob, BaseURL: "https://attache.example.org", Catalog: catalog})
		v, _, err := fx.visits.Schedule(ctx, fx.as("barton"), fx.caseID, visits.ScheduleInput{Modality: "onsite_video", Start: "2020-11-19 10:00",
			Minutes: 30, TerminalID: fx.terminal, OfficerIDs: []string{fx.users["consul"].ID}})
		if err != nil {
			t.Fatal(err)
		}
		mails := ob.take()
		if len(mails) != 2 {
			t.Fatalf("scheduled: %d mails, want one per officer with an address: %+v", len(mails), mails)
		}
		for _, m := range mails {
			if m.Kind != notify.VisitScheduled || m.Invite == nil || m.Invite.Method != "REQUEST" || m.Invite.Sequence != 0 ||
				!m.Invite.Start.Equal(v.Starts) || m.Invite.UID != "visit-"+v.ID+"@attache.example.org" || m.UserID == "" {
				t.Errorf("scheduled mail %+v invite %+v", m, m.Invite)
			}
			if strings.Contains(m.Text, "Kovrig") || strings.Contains(m.Subject, "Kovrig") || strings.Contains(m.Invite.Description, "Kovrig") {
				t.Errorf("a notice names the detainee: %q", m.Text)
			}
			// The facility's time, its zone named, and UTC; in the
			// officer's language.
			want := map[string][]string{
				"barton@example.org": {"Visit scheduled: case CN-2020-0001, ", "Scheduled: Consular visit (Video from the facility (on-site)), case CN-2020-0001.",
					"When: November 19, 2020, 10:00 a.m.–10:30 a.m. (Asia/Shanghai; 2:00 a.m.–2:30 a.m. UTC)", "You take part as: Host"},
				"consul@example.org": {"Visite prévue : dossier CN-2020-0001, ", "Prévue : Visite consulaire",
					"Date : 19 novembre 2020, 10 h 00–10 h 30 (Asia/Shanghai; 02 h 00–02 h 30 UTC)", "Vous participez à titre de : Agent"},
			}[m.To]
			if len(want) < 4 || !strings.HasPrefix(m.Subject, want[0]) || !strings.Contains(m.Text, want[1]) || !strings.Contains(m.Text, want[2]) ||
				!strings.Contains(m.Text, want[3]) || !strings.Contains(m.Text, "Beijing detention centre") {
				t.Errorf("notice to %s: %q\n%q\nwant %q", m.To, m.Subject, m.Text, want)
			}
		}
		if mails[0].Invite.Organizer.Email != "barton@example.org" || len(mails[0].Invite.Attendees) != 2 {
			t.Errorf("organizer %+v attendees %+v", mails[0].Invite.Organizer, mails[0].Invite.Attendees)
		}
		if len(ob.reminders) != 1 || !strings.HasSuffix(ob.reminders[0], "#0") {
			t.Errorf("reminders %v", ob.reminders)
		}

		// Moving it: a conflict with another visit changes nothing.
		other, _, err := fx.visits.Schedule(ctx, fx.as("consul"), fx.caseID, visits.ScheduleInput{Modality: "onsite_video", Start: "2020-11-20 10:00",
			Minutes: 30, TerminalID: fx.terminal})
		if err != nil {
			t.Fatal(err)
		}
		ob.take()
		if _, err := fx.visits.Reschedule(ctx, fx.as("barton"), fx.caseID, v.ID, "2020-11-20 10:15", 30, "host asked"); problem.KindOf(err) != problem.Conflict {
			t.Fatalf("move onto another visit: %v", err)
		}
		for _, bad := range []struct{ start, reason string }{{"2020-11-20 13:00", "host asked"}, {"2020-11-01 10:00", "host asked"}, {"2020-11-23 10:00", ""}} {
			if _, err := fx.visits.Reschedule(ctx, fx.as("barton"), fx.caseID, v.ID, bad.start, 30, bad.reason); problem.KindOf(err) != problem.Invalid {
				t.Errorf("move to %s (%q): %v", bad.start, bad.reason, err)
			}
		}
		if _, err := fx.visits.Reschedule(ctx, fx.as("tehran"), fx.caseID, v.ID, "2020-11-23 10:00", 30, "x"); problem.KindOf(err) != problem.NotFound {
			t.Errorf("officer of another post moves a visit: %v", err)
		}
		if got := ob.take(); len(got) != 0 {
			t.Fatalf("refused moves sent %d mails", len(got))
		}
		var seq int
		if err := d.QueryRowContext(ctx, `SELECT sequence FROM visits WHERE id = $1`, v.ID).Scan(&seq); err != nil || seq != 0 {
			t.Fatalf("sequence after refused moves: %d %v", seq, err)
		}
		// Moving it by a few minutes within its own slot is no clash with itself.
		moved, err := fx.visits.Reschedule(ctx, fx.as("barton"), fx.caseID, v.ID, "2020-11-19 10:15", 45, "host asked")
		if err != nil {
			t.Fatal(err)
		}
		if moved.Ends.Sub(moved.Starts) != 45*time.Minute {
			t.Errorf("moved %v–%v", moved.Starts, moved.Ends)
		}
		mails = ob.take()
		if len(mails) != 2 || mails[0].Kind != notify.VisitChanged || mails[0].Invite.Sequence != 1 || mails[0].Invite.Method != "REQUEST" ||
			!mails[0].Invite.Start.Equal(moved.Starts) || strings.Contains(mails[0].Text, "host asked") {
			t.Fatalf("moved: %+v", mails)
		}
		// The reminders of the first time are stale now; the new ones are not.
		if r, err := fx.visits.Reminders(ctx, v.ID, 0, 24*time.Hour); err != nil || len(r) != 0 {
			t.Errorf("stale reminders: %v %v", r, err)
		}
		r, err := fx.visits.Reminders(ctx, v.ID, 1, time.Hour)
		if err != nil || len(r) != 2 || r[0].Kind != notify.VisitReminder || !strings.Contains(r[0].Subject+r[1].Subject, "Reminder: visit in 1 hour, case CN-2020-0001") ||
			!strings.Contains(r[0].Subject+r[1].Subject, "Rappel : visite dans 1 heure, dossier CN-2020-0001") {
			t.Fatalf("reminders: %+v %v", r, err)
		}

		if err := fx.visits.Cancel(ctx, fx.as("barton"), fx.caseID, v.ID, "detaining_state", "closed for inspection"); err != nil {
			t.Fatal(err)
		}
		mails = ob.take()
		if len(mails) != 2 || mails[0].Kind != notify.VisitCancelled || mails[0].Invite.Method != "CANCEL" || mails[0].Invite.Sequence != 2 {
			t.Fatalf("cancelled: %+v", mails)
		}
		if r, err := fx.visits.Reminders(ctx, v.ID, 2, time.Hour); err != nil || len(r) != 0 {
			t.Errorf("a cancelled visit still reminds: %v %v", r, err)
		}
		if _, err := fx.visits.Reschedule(ctx, fx.as("barton"), fx.caseID, v.ID, "2020-11-23 10:00", 30, "again"); problem.KindOf(err) != problem.Conflict {
			t.Errorf("moving a cancelled visit: %v", err)
		}
		_ = other

		// A host without an address: the officer who has one organizes,
		// and booking and cancelling go through.
		if _, err := d.ExecContext(ctx, `UPDATE users SET email = '' WHERE username = 'barton'`); err != nil {
			t.Fatal(err)
		}
		v2, _, err := fx.visits.Schedule(ctx, fx.as("barton"), fx.caseID, visits.ScheduleInput{Modality: "onsite_video", Start: "2020-11-23 10:00",
			Minutes: 30, TerminalID: fx.terminal, OfficerIDs: []string{fx.users["consul"].ID}})
		if err != nil {
			t.Fatalf("booking with a host without an address: %v", err)
		}
		mails = ob.take()
		if len(mails) != 1 || mails[0].To != "consul@example.org" || mails[0].Invite.Organizer.Email != "consul@example.org" {
			t.Fatalf("mails: %+v", mails)
		}
		if err := mails[0].Invite.Validate(); err != nil {
			t.Errorf("the invitation is not valid: %v", err)
		}
		if err := fx.visits.Cancel(ctx, fx.as("barton"), fx.caseID, v2.ID, "sending_state", "no interpreter"); err != nil {
			t.Errorf("cancelling: %v", err)
		}
		ob.take()

		// A visit the detainee refuses leaves the calendars too.
		v3, _, err := fx.visits.Schedule(ctx, fx.as("consul"), fx.caseID, visits.ScheduleInput{Modality: "onsite_video", Start: "2020-11-24 10:00",
			Minutes: 30, TerminalID: fx.terminal})
		if err != nil {
			t.Fatal(err)
		}
		ob.take()
		if err := fx.visits.SetStatus(ctx, fx.as("consul"), fx.caseID, v3.ID, "refused_by_detainee", ""); err != nil {
			t.Fatal(err)
		}
		mails = ob.take()
		if len(mails) != 1 || mails[0].Kind != notify.VisitCancelled || mails[0].Invite.Method != "CANCEL" || mails[0].Invite.Sequence != 1 {
			t.Errorf("refused visit: %+v", mails)
		}
		if r, err := fx.visits.Reminders(ctx, v3.ID, 0, time.Hour); err != nil || len(r) != 0 {
			t.Errorf("a refused visit still reminds: %v %v", r, err)
		}
	})
}
