package reports_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/names"
	"github.com/attache-org/attache/internal/notify"
	"github.com/attache-org/attache/internal/reports"
	"github.com/attache-org/attache/internal/testenv"
)

var folder = func() *names.Folder {
	f, err := names.NewFolder()
	if err != nil {
		panic(err)
	}
	return f
}()

// outbox is a notify.Sender that writes each mail to a table inside the
// caller's transaction, so that a test sees only the mails of changes that
// committed. It does not drop duplicate keys: the tests count them.
type outbox struct{}

func (outbox) Send(ctx context.Context, tx *sql.Tx, m notify.Mail) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO test_outbox (kind, user_id, address, subject, body, mail_key) VALUES ($1, $2, $3, $4, $5, $6)`,
		string(m.Kind), m.UserID, m.To, m.Subject, m.Text, m.Key)
	return err
}

type mail struct{ kind, userID, address, subject, body, key string }

type fixture struct {
	d       *db.DB
	reports *reports.Service
	cases   *cases.Service
	audit   *audit.Log
	clock   *testenv.Clock
	users   map[string]*auth.User
	// The Kovrig case at the Beijing post (China desk), its facility, and a
	// visit held there on 19 November 2020.
	facility string
	caseID   string
	visitID  string
}

func (fx *fixture) as(name string) cases.Actor {
	return cases.Actor{User: fx.users[name], Address: "192.0.2.1"}
}

// newFixture makes users at two posts and two desks, and the Kovrig case
// with one visit held. The clock stands on Friday 20 November 2020, 00:00 UTC.
func newFixture(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2020, 11, 20, 0, 0, 0, 0, time.UTC))
	a := audit.New(d)
	as := auth.NewService(d, a, slog.New(slog.NewTextHandler(io.Discard, nil)))
	as.Params = auth.TestPasswordParams
	cs := cases.NewService(d, a, folder)
	cs.SetClock(clock.Now)
	rs := reports.NewService(d, a, cs, outbox{}, reports.Options{BaseURL: "https://attache.example.org/"})
	rs.SetClock(clock.Now)
	if _, err := d.ExecContext(ctx, `CREATE TABLE test_outbox (kind TEXT NOT NULL, user_id TEXT NOT NULL, address TEXT NOT NULL,
		subject TEXT NOT NULL, body TEXT NOT NULL, mail_key TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	fx := &fixture{d: d, reports: rs, cases: cs, audit: a, clock: clock, users: map[string]*auth.User{}}
	for _, u := range []auth.UserInput{
		{Username: "barton", DisplayName: "Dominic Barton", Role: auth.RoleConsularOfficer, Post: "Beijing", Email: "barton@example.org"},
		{Username: "consul", DisplayName: "Consul", Role: auth.RoleConsularOfficer, Post: "Beijing", Email: "consul@example.org"},
		{Username: "tehran", DisplayName: "Officer in Tehran", Role: auth.RoleConsularOfficer, Post: "Tehran", Email: "tehran@example.org"},
		{Username: "sup", DisplayName: "Head of consular section, Beijing", Role: auth.RoleSupervisor, Post: "Beijing", Email: "sup@example.org"},
		{Username: "sup2", DisplayName: "China desk supervisor", Role: auth.RoleSupervisor, Desk: "China", Email: "sup2@example.org"},
		{Username: "suptehran", DisplayName: "Tehran supervisor", Role: auth.RoleSupervisor, Post: "Tehran", Desk: "Iran", Email: "supt@example.org"},
		{Username: "hqchina", DisplayName: "China desk officer", Role: auth.RoleHQOfficer, Desk: "China", Email: "hqchina@example.org"},
		{Username: "hqiran", DisplayName: "Iran desk officer", Role: auth.RoleHQOfficer, Desk: "Iran", Email: "hqiran@example.org"},
		{Username: "admin", DisplayName: "Administrator", Role: auth.RoleAdmin, Email: "admin@example.org"},
		{Username: "auditor", DisplayName: "Auditor", Role: auth.RoleAuditor, Email: "auditor@example.org"},
	} {
		created, err := as.CreateUser(ctx, audit.System, u, "correct horse battery", false)
		if err != nil {
			t.Fatal(err)
		}
		fx.users[u.Username] = created
	}
	fac, err := cs.CreateFacility(ctx, fx.as("barton"), cases.FacilityInput{Names: []cases.FacilityName{{Lang: "en", Value: "Beijing detention centre"}},
		Country: "CN", City: "Beijing", TimeZone: "Asia/Shanghai"})
	if err != nil {
		t.Fatal(err)
	}
	fx.facility = fac.ID
	fx.caseID = fx.openCase(t, "Michael Kovrig", "1972-02-02", "Beijing", "China")
	fx.visitID = fx.heldVisit(t, fx.caseID, "held", time.Date(2020, 11, 19, 2, 0, 0, 0, time.UTC))
	return fx
}

// openCase opens a case for a new person at the fixture's facility.
func (fx *fixture) openCase(t *testing.T, name, birth, post, desk string) string {
	t.Helper()
	opener := "barton"
	if post == "Tehran" {
		opener = "tehran"
	}
	c, err := fx.cases.OpenCase(context.Background(), fx.as(opener), "", &cases.PersonInput{Names: []cases.Name{{Value: name, Script: "Latn", Kind: "legal"}},
		Birth: birth}, cases.CaseInput{LegalStatus: "pretrial", DetainingState: "CN", DetentionType: "criminal_detention", FacilityID: fx.facility,
		Post: post, Desk: desk})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// heldVisit records a 30-minute on-site video visit of a case in the given
// status, hosted by Barton with an interpreter and the detaining state's
// monitor. It writes the rows the visits package writes, so that these
// tests do not depend on its scheduling rules.
func (fx *fixture) heldVisit(t *testing.T, caseID, status string, starts time.Time) string {
	t.Helper()
	ctx := context.Background()
	id, now := db.NewID(), db.Instant(fx.clock.Now())
	if _, err := fx.d.ExecContext(ctx, `INSERT INTO visits (id, case_id, facility_id, modality, starts, ends, status, created_by, created_at, updated_at)
		VALUES ($1, $2, $3, 'onsite_video', $4, $5, $6, 'test', $7, $7)`, id, caseID, fx.facility, db.Instant(starts),
		db.Instant(starts.Add(30*time.Minute)), status, now); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ role, userID, name string }{
		{"host", fx.users["barton"].ID, "Dominic Barton"}, {"interpreter", "", "Li Na"},
		{"detainee", "", "the detainee"}, {"monitor", "", "Ministry of State Security official"},
	} {
		if _, err := fx.d.ExecContext(ctx, `INSERT INTO visit_participants (id, visit_id, role, user_id, name) VALUES ($1, $2, $3, $4, $5)`,
			db.NewID(), id, p.role, sql.NullString{String: p.userID, Valid: p.userID != ""}, p.name); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

// stored is a report's row as stored, for checking that a refused change
// changed nothing.
func (fx *fixture) stored(t *testing.T, visitID string) string {
	t.Helper()
	var state, body string
	var version int
	var approvedBy sql.NullString
	var approved sql.NullInt64
	var updated int64
	err := fx.d.QueryRowContext(context.Background(), `SELECT state, version, body, approved_by, approved_at, updated_at FROM reports WHERE visit_id = $1`, visitID).
		Scan(&state, &version, &body, &approvedBy, &approved, &updated)
	if err != nil {
		t.Fatal(err)
	}
	var events, editors int
	if err := fx.d.QueryRowContext(context.Background(), `SELECT (SELECT COUNT(*) FROM report_events e JOIN reports r ON r.id = e.report_id WHERE r.visit_id = $1),
		(SELECT COUNT(*) FROM report_editors e JOIN reports r ON r.id = e.report_id WHERE r.visit_id = $1)`, visitID).Scan(&events, &editors); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("state=%s version=%d approved_by=%s approved_at=%d updated_at=%d events=%d editors=%d body=%s",
		state, version, approvedBy.String, approved.Int64, updated, events, editors, body)
}

// mails returns the mails queued by committed changes, of one kind.
func (fx *fixture) mails(t *testing.T, kind notify.Kind) []mail {
	t.Helper()
	rows, err := fx.d.QueryContext(context.Background(), `SELECT kind, user_id, address, subject, body, mail_key FROM test_outbox WHERE kind = $1 ORDER BY mail_key`, string(kind))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []mail
	for rows.Next() {
		var m mail
		if err := rows.Scan(&m.kind, &m.userID, &m.address, &m.subject, &m.body, &m.key); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// audits counts the audit entries of an action by a user on a case.
func (fx *fixture) audits(t *testing.T, action, user, caseID string) int {
	t.Helper()
	var n int
	if err := fx.d.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM audit_log WHERE action = $1 AND actor_id = $2 AND object_id = $3`,
		action, fx.users[user].ID, caseID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// complete is a report that may be submitted.
func complete() reports.Body {
	return reports.Body{
		Present:         reports.Present{OurOfficials: []string{"Dominic Barton", "Second secretary"}, HostOfficials: []string{"MSS official"}, Interpreter: "Li Na"},
		DurationMinutes: 30,
		Location:        "Beijing detention centre, video room",
		Setting:         "Detainee behind glass, guard present.",
		Monitored:       "yes",
		Restrictions:    reports.Restrictions{Topics: "The case may not be discussed.", Language: "Mandarin or English only", Time: "30 minutes"},
		Wishes:          reports.Wishes{AcceptsAssistance: "yes", Opposes: []string{"media"}, ConsentChanges: "Family may be told of his health."},
		Health:          reports.Health{Physical: "Lost weight; no visible injuries.", Mental: "Tired but lucid.", Medication: "None."},
		Conditions:      reports.Conditions{Light: "Lights on 24 hours.", Solitary: "yes", SolitaryNote: "Since arrest."},
		Legal:           reports.Legal{Status: "Held under RSDL, no charge.", StatusCode: "arrested_not_charged", LawyerAccess: "denied", Hearings: []reports.Hearing{{Date: "2021-03", Description: "Trial expected"}}},
		Needs:           reports.Needs{Books: "English novels."},
		AdviceGiven:     "Explained consular assistance and its limits.",
		FamilyMessages:  reports.FamilyMessages{FromFamily: "Greetings from his sister.", ToFamily: "He is well and thinks of them."},
		Summary:         "Second consular access; detainee in fair health, denied a lawyer.",
		FactualOnly:     true,
	}
}
