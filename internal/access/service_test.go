package access_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/access"
	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/names"
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

type fixture struct {
	db     *db.DB
	cases  *cases.Service
	access *access.Service
	audit  *audit.Log
	users  map[string]*auth.User
	clock  *testenv.Clock
}

func (fx *fixture) as(name string) cases.Actor {
	return cases.Actor{User: fx.users[name], Address: "192.0.2.1"}
}

func newFixture(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2020, 11, 25, 3, 0, 0, 0, time.UTC))
	a := audit.New(d)
	as := auth.NewService(d, a, slog.New(slog.NewTextHandler(io.Discard, nil)))
	as.Params = auth.TestPasswordParams
	cs := cases.NewService(d, a, folder)
	cs.SetClock(clock.Now)
	acc := access.NewService(d, a, cs, "CA")
	acc.SetClock(clock.Now)
	if err := acc.SeedProfiles(ctx); err != nil {
		t.Fatal(err)
	}
	fx := &fixture{db: d, cases: cs, access: acc, audit: a, users: map[string]*auth.User{}, clock: clock}
	for _, u := range []auth.UserInput{
		{Username: "admin", DisplayName: "Admin", Role: auth.RoleAdmin},
		{Username: "beijing", DisplayName: "Officer in Beijing", Role: auth.RoleConsularOfficer, Post: "Beijing"},
		{Username: "tehran", DisplayName: "Officer in Tehran", Role: auth.RoleConsularOfficer, Post: "Tehran"},
	} {
		created, err := as.CreateUser(ctx, audit.System, u, "correct horse battery", false)
		if err != nil {
			t.Fatal(err)
		}
		fx.users[u.Username] = created
	}
	return fx
}

func (fx *fixture) openCase(t *testing.T, name, state, notified string) string {
	t.Helper()
	c, err := fx.cases.OpenCase(context.Background(), fx.as("beijing"), "", &cases.PersonInput{Names: []cases.Name{{Value: name, Script: "Latn", Kind: "legal"}}},
		cases.CaseInput{LegalStatus: "pretrial", DetainingState: state, DetentionType: "criminal_detention", Arrested: "2018-12-10",
			ArrestedZone: "Asia/Shanghai", Notified: notified, NotifiedZone: "Asia/Shanghai", Post: "Beijing", Desk: "China"})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func TestRequestLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		id := fx.openCase(t, "Michael Kovrig", "CN", "2018-12-12")
		a := fx.as("beijing")
		if _, _, err := fx.access.CreateRequest(ctx, a, id, access.RequestInput{Mode: "in_person", Channel: "diplomatic_note", Send: true}); !problem.Is(err, problem.Invalid) {
			t.Fatalf("a sent note without its number: %v", err)
		}
		r, warn, err := fx.access.CreateRequest(ctx, a, id, access.RequestInput{Mode: "in_person", Channel: "diplomatic_note", NoteNumber: "No. 2020-117", Send: true})
		if err != nil || warn != nil || r.Status != "sent" {
			t.Fatalf("create: %+v %+v %v", r, warn, err)
		}
		steps := []struct {
			in    access.TransitionInput
			field string // "" for allowed
		}{
			{access.TransitionInput{To: "draft"}, "to"},
			{access.TransitionInput{To: "denied"}, "reason"},
			{access.TransitionInput{To: "denied", Reason: "COVID-19 epidemic"}, ""},
			{access.TransitionInput{To: "granted"}, "to"},
			{access.TransitionInput{To: "escalated", Level: "minister", NoteNumber: "No. 2020-140"}, ""},
			{access.TransitionInput{To: "granted_with_conditions"}, "conditions"},
			{access.TransitionInput{To: "granted_with_conditions", Conditions: access.Conditions{TimeLimitMinutes: 30, OfficialsPresent: "yes", Language: "English"}}, ""},
			{access.TransitionInput{To: "withdrawn"}, "to"},
			{access.TransitionInput{To: "victory"}, "to"},
		}
		for _, st := range steps {
			got, err := fx.access.Transition(ctx, a, id, r.ID, st.in)
			if st.field == "" {
				if err != nil {
					t.Fatalf("%s: %v", st.in.To, err)
				}
				r = got
				continue
			}
			pe, ok := problem.As(err)
			if !ok || pe.Fields[st.field] == "" {
				t.Errorf("%s: err = %v, want a message on %q", st.in.To, err, st.field)
			}
		}
		ca, err := fx.access.ForCase(ctx, a, id, "")
		if err != nil {
			t.Fatal(err)
		}
		got := ca.Requests[0]
		if got.Status != "granted_with_conditions" || got.Level != "minister" || got.Reason != "COVID-19 epidemic" || got.Conditions.TimeLimitMinutes != 30 {
			t.Fatalf("request %+v", got)
		}
		var path []string
		for _, h := range got.History {
			path = append(path, h.To)
		}
		if strings.Join(path, ">") != "sent>denied>escalated>granted_with_conditions" {
			t.Errorf("history %v", path)
		}
		if got.NoteNumber != "No. 2020-117" || got.History[0].NoteNumber != "No. 2020-117" || got.History[2].NoteNumber != "No. 2020-140" {
			t.Errorf("note numbers: request %q, history %+v", got.NoteNumber, got.History)
		}
		if ca.Clock.Denials != 1 || len(ca.Clock.Pending) != 0 {
			t.Errorf("clock: denials %d pending %v", ca.Clock.Denials, ca.Clock.Pending)
		}
		tl, _ := fx.cases.Timeline(ctx, a, id)
		n := 0
		for _, e := range tl {
			if e.Kind == "access_request" {
				n++
			}
		}
		if n != 4 {
			t.Errorf("%d access entries on the timeline, want 4", n)
		}
		// Outsiders neither see nor change access.
		o := fx.as("tehran")
		if _, err := fx.access.ForCase(ctx, o, id, ""); !problem.Is(err, problem.NotFound) {
			t.Errorf("outsider reads access: %v", err)
		}
		if _, _, err := fx.access.CreateRequest(ctx, o, id, access.RequestInput{Mode: "phone", Channel: "call"}); !problem.Is(err, problem.NotFound) {
			t.Errorf("outsider asks for access: %v", err)
		}
		if _, err := fx.access.AddContact(ctx, o, id, access.ContactInput{Happened: "2020-11-19", Mode: "phone"}); !problem.Is(err, problem.NotFound) {
			t.Errorf("outsider records a contact: %v", err)
		}
	})
}

func TestSuspensionWarnsAndProposes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		id := fx.openCase(t, "Michael Spavor", "CN", "2018-12-12")
		a := fx.as("beijing")
		sp, err := fx.access.AddSuspension(ctx, a, access.SuspensionInput{DetainingState: "CN", Modes: []string{"in_person"}, Reason: "COVID-19 epidemic", Starts: "2020-01"})
		if err != nil {
			t.Fatal(err)
		}
		_, warn, err := fx.access.CreateRequest(ctx, a, id, access.RequestInput{Mode: "in_person", Channel: "demarche"})
		if err != nil || warn == nil || !strings.Contains(warn.Message, "COVID-19") || len(warn.Alternatives) != 4 || warn.Alternatives[0] != "onsite_video" {
			t.Fatalf("warning: %+v %v", warn, err)
		}
		if _, warn, _ := fx.access.CreateRequest(ctx, a, id, access.RequestInput{Mode: "onsite_video", Channel: "demarche"}); warn != nil {
			t.Fatalf("an open mode warned: %+v", warn)
		}
		if err := fx.access.LiftSuspension(ctx, a, sp.ID, "2019-06"); !problem.Is(err, problem.Invalid) {
			t.Errorf("lifted before it started: %v", err)
		}
		if err := fx.access.LiftSuspension(ctx, a, sp.ID, "2020-09-30"); err != nil {
			t.Fatal(err)
		}
		if _, warn, _ := fx.access.CreateRequest(ctx, a, id, access.RequestInput{Mode: "in_person", Channel: "demarche"}); warn != nil {
			t.Fatalf("a lifted suspension still warns: %+v", warn)
		}
		for _, bad := range []access.SuspensionInput{
			{DetainingState: "CN", Modes: nil, Reason: "x", Starts: "2020"},
			{DetainingState: "CN", Modes: []string{"teleport"}, Reason: "x", Starts: "2020"},
			{DetainingState: "CN", Modes: []string{"phone"}, Reason: "", Starts: "2020"},
			{DetainingState: "CN", Modes: []string{"phone"}, Reason: "x", Starts: "2020-02-30"},
		} {
			if _, err := fx.access.AddSuspension(ctx, a, bad); !problem.Is(err, problem.Invalid) {
				t.Errorf("suspension %+v accepted: %v", bad, err)
			}
		}
	})
}

// countingQuerier counts the queries the dashboard makes.
type countingQuerier struct {
	db.Querier
	n atomic.Int64
}

func (c *countingQuerier) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	c.n.Add(1)
	return c.Querier.QueryContext(ctx, q, args...)
}

func (c *countingQuerier) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	c.n.Add(1)
	return c.Querier.QueryRowContext(ctx, q, args...)
}

func TestDashboard(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		a := fx.as("beijing")
		counter := &countingQuerier{Querier: d}
		fx.access.SetQuerier(counter)
		queries := func() int64 {
			counter.n.Store(0)
			if _, err := fx.access.Dashboard(ctx, a); err != nil {
				t.Fatal(err)
			}
			return counter.n.Load()
		}
		var ids []string
		for i := range 3 {
			ids = append(ids, fx.openCase(t, fmt.Sprintf("Person %c", 'A'+i), "CN", "2020-09-01"))
		}
		// A visited recently, B long ago (overdue on a monthly agreement), C never.
		for _, c := range []struct {
			id, day string
		}{{ids[0], "2020-11-19"}, {ids[1], "2020-06-01"}, {ids[1], "2020-07-01"}} {
			if _, err := fx.access.AddContact(ctx, a, c.id, access.ContactInput{Happened: c.day, Zone: "Asia/Shanghai", Mode: "onsite_video"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := fx.access.CreateRequest(ctx, a, ids[0], access.RequestInput{Mode: "in_person", Channel: "call", Send: true}); err != nil {
			t.Fatal(err)
		}
		small := queries()
		dash, err := fx.access.Dashboard(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if len(dash.Rows) != 3 || dash.Rows[0].CaseID != ids[1] || !dash.Rows[0].Clock.Overdue || dash.Rows[2].CaseID != ids[0] {
			var got []string
			for _, r := range dash.Rows {
				got = append(got, fmt.Sprintf("%s overdue=%v days=%d", r.PersonName, r.Clock.Overdue, r.Clock.DaysSinceContact))
			}
			t.Fatalf("order: %v", got)
		}
		if r := dash.Rows[2]; r.Clock.LastContact == nil || r.Clock.DaysSinceContact != 6 || len(r.Clock.Pending) != 1 {
			t.Errorf("row A: %+v", r.Clock)
		}
		for i := range 27 {
			id := fx.openCase(t, fmt.Sprintf("Other %d", i), "CN", "2020-09-01")
			if _, err := fx.access.AddContact(ctx, a, id, access.ContactInput{Happened: "2020-10-01", Mode: "phone"}); err != nil {
				t.Fatal(err)
			}
		}
		if big := queries(); big != small {
			t.Errorf("the dashboard made %d queries for 3 cases and %d for 30", small, big)
		}
		if dash, _ := fx.access.Dashboard(ctx, fx.as("tehran")); len(dash.Rows) != 0 {
			t.Errorf("an outsider's dashboard shows %d cases", len(dash.Rows))
		}
	})
}

func TestProfilesAreConfiguration(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		list, err := fx.access.Profiles(ctx)
		if err != nil || len(list) != 2 || list[0].DetainingState != "" || list[1].VisitEveryDays != 30 {
			t.Fatalf("seeded profiles: %+v %v", list, err)
		}
		p := list[1]
		in := access.ProfileInput{DetainingState: "CN", Name: p.Name, MandatoryNotification: true, NotificationHours: 48, VisitEveryDays: 30, FirstContactHours: 24}
		if _, err := fx.access.SaveProfile(ctx, fx.as("beijing"), p.ID, in); !problem.Is(err, problem.Forbidden) {
			t.Errorf("an officer edits a profile: %v", err)
		}
		if _, err := fx.access.SaveProfile(ctx, fx.as("admin"), p.ID, in); err != nil {
			t.Fatal(err)
		}
		bad := in
		bad.NotificationHours = 0
		if _, err := fx.access.SaveProfile(ctx, fx.as("admin"), p.ID, bad); !problem.Is(err, problem.Invalid) {
			t.Errorf("mandatory notification without a deadline: %v", err)
		}
		if _, err := fx.access.SaveProfile(ctx, fx.as("admin"), "", in); !problem.Is(err, problem.Invalid) {
			t.Errorf("a second profile for CN: %v", err)
		}
		// Seeding again leaves the edited profile alone.
		if err := fx.access.SeedProfiles(ctx); err != nil {
			t.Fatal(err)
		}
		list, _ = fx.access.Profiles(ctx)
		if list[1].NotificationHours != 48 {
			t.Errorf("seeding overwrote an edited profile: %+v", list[1])
		}
	})
}
