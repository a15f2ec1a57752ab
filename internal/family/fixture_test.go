package family_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/family"
	"github.com/attache-org/attache/internal/names"
	"github.com/attache-org/attache/internal/notify"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/testenv"
)

var folder = func() *names.Folder {
	f, err := names.NewFolder()
	if err != nil {
		panic(err)
	}
	return f
}()

// mailbox is a notify.Sender that queues in the caller's transaction, as
// the real one does: a mail exists only if the change that sent it
// committed.
type mailbox struct {
	d   *db.DB
	seq atomic.Int64
}

func (m *mailbox) Send(ctx context.Context, tx *sql.Tx, mail notify.Mail) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO test_mail (seq, kind, user_id, addr, name, subject, body, mkey) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		m.seq.Add(1), string(mail.Kind), mail.UserID, mail.To, mail.Name, mail.Subject, mail.Text, mail.Key)
	return err
}

func (m *mailbox) all(t *testing.T) []notify.Mail {
	t.Helper()
	rows, err := m.d.QueryContext(context.Background(), `SELECT kind, user_id, addr, name, subject, body, mkey FROM test_mail ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []notify.Mail
	for rows.Next() {
		var x notify.Mail
		var kind string
		if err := rows.Scan(&kind, &x.UserID, &x.To, &x.Name, &x.Subject, &x.Text, &x.Key); err != nil {
			t.Fatal(err)
		}
		x.Kind = notify.Kind(kind)
		out = append(out, x)
	}
	return out
}

func (m *mailbox) clear(t *testing.T) {
	t.Helper()
	if _, err := m.d.ExecContext(context.Background(), `DELETE FROM test_mail`); err != nil {
		t.Fatal(err)
	}
}

type fixture struct {
	t      *testing.T
	ctx    context.Context
	d      *db.DB
	fam    *family.Service
	cases  *cases.Service
	users  *auth.Service
	audit  *audit.Log
	clock  *testenv.Clock
	mail   *mailbox
	staff  map[string]*auth.User
	caseA  string // Michael Kovrig, Beijing, team: barton and consul
	caseB  string // Michael Spavor, Beijing
	caseT  string // a case of the Tehran post
	facil  string
	params family.Options
}

const password = "correct horse battery"

// newFixture makes two cases at a Beijing facility (Asia/Shanghai) and one
// in Tehran. The clock stands on Monday 20 April 2026, 08:00 UTC.
func newFixture(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	if _, err := d.ExecContext(ctx, `CREATE TABLE test_mail (seq BIGINT PRIMARY KEY, kind TEXT NOT NULL, user_id TEXT NOT NULL, addr TEXT NOT NULL,
		name TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL, mkey TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	clock := testenv.NewClock(time.Date(2026, 4, 20, 8, 0, 0, 0, time.UTC))
	a := audit.New(d)
	a.SetClock(clock.Now)
	us := auth.NewService(d, a, slog.New(slog.NewTextHandler(io.Discard, nil)))
	us.Params = auth.TestPasswordParams
	us.SetClock(clock.Now)
	cs := cases.NewService(d, a, folder)
	cs.SetClock(clock.Now)
	mb := &mailbox{d: d}
	opts := family.Options{BaseURL: "https://attache.example.org/"}
	fs := family.NewService(d, a, cs, us, mb, opts)
	fs.SetClock(clock.Now)
	fx := &fixture{t: t, ctx: ctx, d: d, fam: fs, cases: cs, users: us, audit: a, clock: clock, mail: mb, staff: map[string]*auth.User{}, params: opts}
	for _, u := range []auth.UserInput{
		{Username: "barton", DisplayName: "Dominic Barton", Email: "barton@example.org", Role: auth.RoleConsularOfficer, Post: "Beijing"},
		{Username: "consul", DisplayName: "Consul", Email: "consul@example.org", Role: auth.RoleConsularOfficer, Post: "Beijing"},
		{Username: "third", DisplayName: "Third Secretary", Email: "third@example.org", Role: auth.RoleConsularOfficer, Post: "Beijing"},
		{Username: "tehran", DisplayName: "Officer in Tehran", Email: "tehran@example.org", Role: auth.RoleConsularOfficer, Post: "Tehran"},
		{Username: "desk", DisplayName: "China desk", Email: "desk@example.org", Role: auth.RoleHQOfficer, Desk: "China"},
		{Username: "auditor", DisplayName: "Auditor", Email: "auditor@example.org", Role: auth.RoleAuditor},
	} {
		created, err := us.CreateUser(ctx, audit.System, u, password, false)
		if err != nil {
			t.Fatal(err)
		}
		fx.staff[u.Username] = created
	}
	fac, err := cs.CreateFacility(ctx, fx.as("barton"), cases.FacilityInput{Names: []cases.FacilityName{{Lang: "en", Value: "Beijing detention centre"}},
		Country: "CN", City: "Beijing", TimeZone: "Asia/Shanghai"})
	if err != nil {
		t.Fatal(err)
	}
	fx.facil = fac.ID
	open := func(who, name, state, post, desk, facility string, team ...string) string {
		c, err := cs.OpenCase(ctx, fx.as(who), "", &cases.PersonInput{Names: []cases.Name{{Value: name, Script: "Latn", Kind: "legal"}}},
			cases.CaseInput{LegalStatus: "pretrial", DetainingState: state, DetentionType: "criminal_detention", FacilityID: facility,
				Post: post, Desk: desk, Team: team})
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	fx.caseA = open("barton", "Michael Kovrig", "CN", "Beijing", "China", fac.ID, fx.staff["consul"].ID)
	fx.caseB = open("barton", "Michael Spavor", "CN", "Beijing", "China", fac.ID)
	fx.caseT = open("tehran", "Someone in Evin", "IR", "Tehran", "Iran", "")
	return fx
}

func (fx *fixture) as(name string) cases.Actor {
	return cases.Actor{User: fx.staff[name], Address: "192.0.2.1"}
}

func member(u *auth.User) cases.Actor { return cases.Actor{User: u, Address: "198.51.100.7"} }

// contact adds a contact to a case as barton.
func (fx *fixture) contact(caseID, name, email string) string {
	fx.t.Helper()
	c, err := fx.fam.AddContact(fx.ctx, fx.as("barton"), caseID, family.ContactInput{Name: name, Relationship: "spouse", Languages: []string{"en"}, Email: email})
	if err != nil {
		fx.t.Fatal(err)
	}
	return c.ID
}

// consent records a written consent given on 14 April 2026.
func (fx *fixture) consent(caseID string, recipients []string, cats ...family.Category) string {
	fx.t.Helper()
	c, err := fx.fam.RecordConsent(fx.ctx, fx.as("barton"), caseID, family.ConsentInput{Recipients: recipients, Categories: cats,
		Given: "2026-04-14", Method: "written"})
	if err != nil {
		fx.t.Fatal(err)
	}
	return c.ID
}

// account invites a contact and accepts the invitation as username.
func (fx *fixture) account(caseID, contactID, username string) *auth.User {
	fx.t.Helper()
	path, _, err := fx.fam.Invite(fx.ctx, fx.as("barton"), caseID, contactID)
	if err != nil {
		fx.t.Fatal(err)
	}
	u, err := fx.fam.Accept(fx.ctx, strings.TrimPrefix(path, family.InvitePath), username, password, "en", "198.51.100.7")
	if err != nil {
		fx.t.Fatal(err)
	}
	return u
}

// visit inserts a visit directly (the visits service is not under test).
func (fx *fixture) visit(caseID string, starts time.Time, status, kind string) string {
	fx.t.Helper()
	id := db.NewID()
	_, err := fx.d.ExecContext(fx.ctx, `INSERT INTO visits (id, case_id, facility_id, modality, starts, ends, status, created_by, created_at, updated_at, kind)
		VALUES ($1, $2, $3, 'onsite_video', $4, $5, $6, 'test', $7, $7, $8)`, id, caseID, fx.facil, db.Instant(starts), db.Instant(starts.Add(30*time.Minute)),
		status, db.Instant(fx.clock.Now()), kind)
	if err != nil {
		fx.t.Fatal(err)
	}
	return id
}

// entries returns the audit entries about a case, oldest first.
func (fx *fixture) entries(caseID string) []audit.Entry {
	fx.t.Helper()
	list, err := fx.audit.List(fx.ctx, audit.Filter{ObjectType: "case", ObjectID: caseID, Limit: 1000})
	if err != nil {
		fx.t.Fatal(err)
	}
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list
}

// last returns the newest audit entry of a case with the action, or fails.
func (fx *fixture) last(caseID, action string) audit.Entry {
	fx.t.Helper()
	list := fx.entries(caseID)
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Action == action {
			return list[i]
		}
	}
	fx.t.Fatalf("no %s entry for case %s", action, caseID)
	return audit.Entry{}
}

func (fx *fixture) count(query string, args ...any) int {
	fx.t.Helper()
	var n int
	if err := fx.d.QueryRowContext(fx.ctx, query, args...).Scan(&n); err != nil {
		fx.t.Fatal(err)
	}
	return n
}

// wantProblem fails unless err is a problem of kind whose text has words.
func wantProblem(t *testing.T, what string, err error, kind problem.Kind, words string) {
	t.Helper()
	if !problem.Is(err, kind) || !strings.Contains(err.Error(), words) {
		t.Errorf("%s: %v, want %s mentioning %q", what, err, kind, words)
	}
}
