package visits_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
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
	"github.com/attache-org/attache/internal/visits"
)

var folder = func() *names.Folder {
	f, err := names.NewFolder()
	if err != nil {
		panic(err)
	}
	return f
}()

type fixture struct {
	visits   *visits.Service
	access   *access.Service
	users    map[string]*auth.User
	caseID   string
	terminal string
	facility string
	clock    *testenv.Clock
	cases    *cases.Service
}

func (fx *fixture) as(name string) cases.Actor {
	return cases.Actor{User: fx.users[name], Address: "192.0.2.1"}
}

// newFixture makes a case at a Beijing facility whose video terminal takes
// visits on weekdays from 09:00 to 12:00, Beijing time. The clock stands on
// Monday 16 November 2020, 08:00 in Beijing.
func newFixture(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2020, 11, 16, 0, 0, 0, 0, time.UTC))
	a := audit.New(d)
	as := auth.NewService(d, a, slog.New(slog.NewTextHandler(io.Discard, nil)))
	as.Params = auth.TestPasswordParams
	cs := cases.NewService(d, a, folder)
	cs.SetClock(clock.Now)
	acc := access.NewService(d, a, cs, "CA")
	acc.SetClock(clock.Now)
	vs := visits.NewService(d, a, cs, acc)
	vs.SetClock(clock.Now)
	fx := &fixture{visits: vs, access: acc, users: map[string]*auth.User{}, clock: clock, cases: cs}
	for _, u := range []auth.UserInput{
		{Username: "barton", DisplayName: "Dominic Barton", Role: auth.RoleConsularOfficer, Post: "Beijing"},
		{Username: "consul", DisplayName: "Consul", Role: auth.RoleConsularOfficer, Post: "Beijing"},
		{Username: "tehran", DisplayName: "Officer in Tehran", Role: auth.RoleConsularOfficer, Post: "Tehran"},
		{Username: "auditor", DisplayName: "Auditor", Role: auth.RoleAuditor},
		{Username: "admin", DisplayName: "Administrator", Role: auth.RoleAdmin},
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
	c, err := cs.OpenCase(ctx, fx.as("barton"), "", &cases.PersonInput{Names: []cases.Name{{Value: "Michael Kovrig", Script: "Latn", Kind: "legal"}}},
		cases.CaseInput{LegalStatus: "pretrial", DetainingState: "CN", DetentionType: "criminal_detention", FacilityID: fac.ID, Post: "Beijing", Desk: "China"})
	if err != nil {
		t.Fatal(err)
	}
	fx.caseID = c.ID
	if fx.terminal, err = vs.AddTerminal(ctx, fx.as("barton"), fac.ID, "Video room 1"); err != nil {
		t.Fatal(err)
	}
	var windows []visits.Window
	for d := time.Monday; d <= time.Friday; d++ {
		windows = append(windows, visits.Window{Weekday: d, Opens: "09:00", Closes: "12:00"})
	}
	if err := vs.SetWindows(ctx, fx.as("barton"), fac.ID, windows, []string{"2020-11-18"}); err != nil {
		t.Fatal(err)
	}
	return fx
}

func (fx *fixture) book(who, start string, minutes int) (*visits.Visit, *visits.Warning, error) {
	return fx.visits.Schedule(context.Background(), fx.as(who), fx.caseID, visits.ScheduleInput{Modality: "onsite_video", Start: start,
		Minutes: minutes, TerminalID: fx.terminal, Monitor: "Ministry of State Security official",
		Interpreter: &visits.Participant{Name: "Li Na", Language: "zh"}})
}

func TestScheduleWindowsAndConflicts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		v, warn, err := fx.book("barton", "2020-11-19 10:00", 30)
		if err != nil || warn != nil {
			t.Fatalf("book: %v %v", err, warn)
		}
		if !v.Starts.Equal(time.Date(2020, 11, 19, 2, 0, 0, 0, time.UTC)) || len(v.Participants) != 4 {
			t.Fatalf("visit %+v", v)
		}
		for _, tc := range []struct {
			name, start string
			minutes     int
			kind        problem.Kind
			words       string
		}{
			{"overlap on the terminal", "2020-11-19 10:15", 30, problem.Conflict, "terminal is booked"},
			{"after the window closes", "2020-11-19 11:45", 30, problem.Invalid, "Next free: 2020-11-19 09:00 CST, 2020-11-19 09:30 CST, 2020-11-19 10:30 CST"},
			{"weekend", "2020-11-21 10:00", 30, problem.Invalid, "Next free: 2020-11-23 09:00"},
			{"excluded day", "2020-11-18 10:00", 30, problem.Invalid, "takes no visits"},
			{"in the past", "2020-11-13 10:00", 30, problem.Invalid, "past"},
			{"day only", "2020-11-20", 30, problem.Invalid, "HH:MM"},
			{"too long", "2020-11-20 09:00", 600, problem.Invalid, "240"},
		} {
			_, _, err := fx.book("consul", tc.start, tc.minutes)
			if !problem.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.words) {
				t.Errorf("%s: %v, want %s mentioning %q", tc.name, err, tc.kind, tc.words)
			}
		}
		// The detainee cannot be in two visits at once, even on another terminal;
		// nor can an officer, even for another case.
		other, err := fx.visits.AddTerminal(context.Background(), fx.as("barton"), fx.facility, "Video room 2")
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = fx.visits.Schedule(context.Background(), fx.as("consul"), fx.caseID, visits.ScheduleInput{Modality: "onsite_video",
			Start: "2020-11-19 10:00", Minutes: 30, TerminalID: other})
		if !problem.Is(err, problem.Conflict) || !strings.Contains(err.Error(), "detainee has another visit") {
			t.Errorf("detainee in two visits: %v", err)
		}
		second, err := fx.cases.OpenCase(context.Background(), fx.as("barton"), "", &cases.PersonInput{Names: []cases.Name{{Value: "Michael Spavor", Script: "Latn", Kind: "legal"}}},
			cases.CaseInput{LegalStatus: "pretrial", DetainingState: "CN", DetentionType: "criminal_detention", FacilityID: fx.facility, Post: "Beijing", Desk: "China"})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = fx.visits.Schedule(context.Background(), fx.as("barton"), second.ID, visits.ScheduleInput{Modality: "onsite_video",
			Start: "2020-11-19 10:00", Minutes: 30, TerminalID: other})
		if !problem.Is(err, problem.Conflict) || !strings.Contains(err.Error(), "Dominic Barton") {
			t.Errorf("officer in two visits: %v", err)
		}
		// Proposed slots avoid the officer's other visits: Barton is busy
		// 10:00-10:30 on the 19th, so a request at 11:45 that day proposes
		// 09:00, 09:30 and 10:30 for the second case too.
		_, _, err = fx.visits.Schedule(context.Background(), fx.as("barton"), second.ID, visits.ScheduleInput{Modality: "onsite_video",
			Start: "2020-11-19 11:45", Minutes: 30, TerminalID: other})
		if !problem.Is(err, problem.Invalid) || !strings.Contains(err.Error(), "Next free: 2020-11-19 09:00 CST, 2020-11-19 09:30 CST, 2020-11-19 10:30 CST") {
			t.Errorf("proposals around the officer's visit: %v", err)
		}
		// Officers who may not see the case cannot be booked into its visit.
		_, _, err = fx.visits.Schedule(context.Background(), fx.as("barton"), second.ID, visits.ScheduleInput{Modality: "onsite_video",
			Start: "2020-11-20 11:00", Minutes: 30, OfficerIDs: []string{fx.users["tehran"].ID}})
		if !problem.Is(err, problem.Invalid) {
			t.Errorf("an officer from another post booked: %v", err)
		}
		// Cancelling frees the slot.
		if err := fx.visits.Cancel(context.Background(), fx.as("barton"), fx.caseID, v.ID, "detaining_state", "epidemic measures"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := fx.book("consul", "2020-11-19 10:15", 30); err != nil {
			t.Errorf("the cancelled visit still holds the terminal: %v", err)
		}
		list, err := fx.visits.ForCase(context.Background(), fx.as("consul"), fx.caseID)
		if err != nil || len(list) != 2 || list[0].Status != "cancelled" || list[0].CancelReason != "epidemic measures" {
			t.Fatalf("visits: %+v %v", list, err)
		}
		roles := map[string]bool{}
		for _, p := range list[1].Participants {
			roles[p.Role] = true
		}
		if !roles["monitor"] || !roles["interpreter"] || !roles["detainee"] || !roles["host"] {
			t.Errorf("participants %+v", list[1].Participants)
		}
	})
}

func TestNoDoubleBookingUnderConcurrency(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		// Sixteen officers try to book the same terminal at the same time.
		ctx := context.Background()
		as := auth.NewService(d, audit.New(d), slog.New(slog.NewTextHandler(io.Discard, nil)))
		as.Params = auth.TestPasswordParams
		var officers []*auth.User
		for i := range 16 {
			u, err := as.CreateUser(ctx, audit.System, auth.UserInput{Username: "officer" + string(rune('a'+i)), DisplayName: "O", Role: auth.RoleConsularOfficer, Post: "Beijing"}, "correct horse battery", false)
			if err != nil {
				t.Fatal(err)
			}
			officers = append(officers, u)
		}
		var wg sync.WaitGroup
		results := make(chan error, len(officers))
		for _, u := range officers {
			wg.Go(func() {
				_, _, err := fx.visits.Schedule(ctx, cases.Actor{User: u}, fx.caseID, visits.ScheduleInput{Modality: "onsite_video",
					Start: "2020-11-20 09:30", Minutes: 45, TerminalID: fx.terminal})
				results <- err
			})
		}
		wg.Wait()
		close(results)
		won, conflicts := 0, 0
		for err := range results {
			switch {
			case err == nil:
				won++
			case problem.Is(err, problem.Conflict):
				conflicts++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if won != 1 || conflicts != len(officers)-1 {
			t.Fatalf("%d bookings won and %d conflicted, want exactly 1 and %d", won, conflicts, len(officers)-1)
		}
	})
}

func TestSuspendedModalityWarnsAndOutsidersCannotBook(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := context.Background()
		if _, err := fx.access.AddSuspension(ctx, fx.as("barton"), access.SuspensionInput{DetainingState: "CN", Modes: []string{"in_person"}, Reason: "COVID-19 epidemic", Starts: "2020-01"}); err != nil {
			t.Fatal(err)
		}
		_, warn, err := fx.visits.Schedule(ctx, fx.as("barton"), fx.caseID, visits.ScheduleInput{Modality: "in_person", Start: "2020-11-20 09:00", Minutes: 30})
		if err != nil || warn == nil || !strings.Contains(warn.Message, "suspended") {
			t.Fatalf("suspended modality: %v %+v", err, warn)
		}
		if _, _, err := fx.book("tehran", "2020-11-20 10:30", 30); !problem.Is(err, problem.NotFound) {
			t.Errorf("outsider books: %v", err)
		}
		if _, err := fx.visits.ForCase(ctx, fx.as("tehran"), fx.caseID); !problem.Is(err, problem.NotFound) {
			t.Errorf("outsider lists visits: %v", err)
		}
		if _, err := fx.visits.AddTerminal(ctx, fx.as("auditor"), fx.facility, "x"); !problem.Is(err, problem.Forbidden) {
			t.Errorf("auditor adds a terminal: %v", err)
		}
		if err := fx.visits.SetWindows(ctx, fx.as("barton"), fx.facility, []visits.Window{{Weekday: time.Monday, Opens: "12:00", Closes: "09:00"}}, nil); !problem.Is(err, problem.Invalid) {
			t.Errorf("a window closing before it opens: %v", err)
		}
	})
}

func TestVisitLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := context.Background()
		v, _, err := fx.book("barton", "2020-11-19 10:00", 30)
		if err != nil {
			t.Fatal(err)
		}
		a := fx.as("barton")
		if err := fx.visits.SetStatus(ctx, a, fx.caseID, v.ID, "confirmed", ""); err != nil {
			t.Fatal(err)
		}
		if err := fx.visits.SetStatus(ctx, a, fx.caseID, v.ID, "in_progress", ""); !problem.Is(err, problem.Invalid) {
			t.Errorf("started three days early: %v", err)
		}
		// Two minutes before the start, the call is open: the visit may
		// start, and be held if the conversation took place early.
		fx.clock.Add(3*24*time.Hour + 2*time.Hour - 2*time.Minute) // 19 November, 09:58 in Beijing
		for _, step := range []struct {
			to string
			ok bool
		}{{"held", false}, {"planned", false}, {"in_progress", true}, {"cancelled", false}, {"held", true}, {"cut_short", false}} {
			err := fx.visits.SetStatus(ctx, a, fx.caseID, v.ID, step.to, "went well")
			if (err == nil) != step.ok {
				t.Fatalf("→ %s: %v, want ok=%v", step.to, err, step.ok)
			}
		}
		// A visit held is a consular contact: the clock now runs from it.
		ca, err := fx.access.ForCase(ctx, a, fx.caseID, "")
		if err != nil || ca.Clock.LastVisit == nil || ca.Clock.LastVisit.Mode != "onsite_video" || ca.Clock.LastVisit.Happened.Value() != "2020-11-19 09:58" {
			t.Fatalf("clock after the visit: %+v %v", ca.Clock.LastVisit, err)
		}
		if err := fx.visits.SetStatus(ctx, fx.as("tehran"), fx.caseID, v.ID, "held", ""); !problem.Is(err, problem.NotFound) {
			t.Errorf("outsider: %v", err)
		}
	})
}

func TestJoinLinks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := context.Background()
		v, _, err := fx.book("barton", "2020-11-19 10:00", 30)
		if err != nil {
			t.Fatal(err)
		}
		a := fx.as("barton")
		if _, _, err := fx.visits.CreateLink(ctx, fx.as("tehran"), fx.caseID, v.ID, "detainee", "Terminal 3", ""); !problem.Is(err, problem.NotFound) {
			t.Errorf("outsider makes a link: %v", err)
		}
		if _, _, err := fx.visits.CreateLink(ctx, a, fx.caseID, v.ID, "guest", "x", ""); !problem.Is(err, problem.Invalid) {
			t.Errorf("unknown role: %v", err)
		}
		// Each link opens in the language of the person it is for: chosen,
		// or the detainee's (none recorded here: the detaining state's,
		// CLDR's likely language of CN) and the monitor's (the state's).
		for _, tc := range []struct{ role, lang, want string }{
			{"monitor", "", "zh"}, {"interpreter", "", ""}, {"interpreter", "fr-CA", "fr"}, {"detainee", "en", "en"},
		} {
			_, l, err := fx.visits.CreateLink(ctx, a, fx.caseID, v.ID, tc.role, "Someone", tc.lang)
			if err != nil || l.Lang != tc.want {
				t.Errorf("%s link with language %q: %q %v, want %q", tc.role, tc.lang, l.Lang, err, tc.want)
			}
		}
		if _, _, err := fx.visits.CreateLink(ctx, a, fx.caseID, v.ID, "monitor", "x", "not a language!"); !problem.Is(err, problem.Invalid) {
			t.Errorf("a link in a language that does not exist: %v", err)
		}
		token, link, err := fx.visits.CreateLink(ctx, a, fx.caseID, v.ID, "detainee", "Terminal 3", "")
		if err != nil {
			t.Fatal(err)
		}
		if link.Lang != "zh" {
			t.Errorf("the terminal's link opens in %q, want the detaining state's zh", link.Lang)
		}
		ad, err := fx.visits.Admit(ctx, token, "198.51.100.4")
		if err == nil && ad.Lang != "zh" {
			t.Errorf("the admission carries %q", ad.Lang)
		}
		if err != nil || ad.State != "waiting" || ad.VisitID != v.ID || ad.Role != "detainee" {
			t.Fatalf("three days early: %+v %v", ad, err)
		}
		fx.clock.Add(3*24*time.Hour + 1*time.Hour + 50*time.Minute) // 19 November, 09:50 in Beijing: the room is open
		if ad, err := fx.visits.Admit(ctx, token, "198.51.100.4"); err != nil || ad.State != "open" {
			t.Fatalf("ten minutes before: %+v %v", ad, err)
		}
		if _, err := fx.visits.Admit(ctx, token+"x", "198.51.100.4"); !problem.Is(err, problem.NotFound) {
			t.Errorf("a wrong token: %v", err)
		}
		fx.clock.Add(45 * time.Minute) // 10:35: the visit ended at 10:30
		if _, err := fx.visits.Admit(ctx, token, "198.51.100.4"); err != visits.ErrVisitOver {
			t.Errorf("after the end: %v", err)
		}
		if err := fx.visits.RevokeLink(ctx, a, fx.caseID, v.ID, link.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.visits.Admit(ctx, token, "198.51.100.4"); err != visits.ErrLinkRevoked {
			t.Errorf("a revoked link: %v", err)
		}
		links, _ := fx.visits.Links(ctx, a, fx.caseID, v.ID)
		if len(links) != 5 || !links[4].Revoked || links[4].LastUsed.IsZero() || links[4].Lang != "zh" || links[2].Lang != "fr" {
			t.Errorf("links %+v", links)
		}
	})
}

// The call's record: entering starts the visit, each session is kept with
// why it ended and its quality, the end is kept once and closes the call
// for good (links and officers are turned away), and sessions a stopped
// server left open are closed at the next start.
func TestCallRecord(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := context.Background()
		v, _, err := fx.book("barton", "2020-11-19 10:00", 30)
		if err != nil {
			t.Fatal(err)
		}
		a := fx.as("barton")
		token, _, err := fx.visits.CreateLink(ctx, a, fx.caseID, v.ID, "detainee", "Terminal 3", "")
		if err != nil {
			t.Fatal(err)
		}
		fx.visits.SetTimes(visits.Times{OpensBefore: 30 * time.Minute, Grace: time.Minute})
		fx.clock.Add(3*24*time.Hour + 1*time.Hour + 35*time.Minute) // 09:35 in Beijing: open 25 minutes early
		if _, err := fx.visits.EnterCall(ctx, a, fx.caseID, v.ID); err != nil {
			t.Fatalf("the room opens 30 minutes before: %v", err)
		}
		fx.visits.SetTimes(visits.DefaultTimes)
		if _, err := fx.visits.EnterCall(ctx, a, fx.caseID, v.ID); err == nil || !strings.Contains(err.Error(), "opens 15 minutes before") {
			t.Errorf("with the default times at 25 minutes before: %v", err)
		}
		fx.clock.Add(20 * time.Minute) // 09:55

		officer := visits.Seat{VisitID: v.ID, CaseID: fx.caseID, Participant: "user:" + fx.users["barton"].ID, Name: "Dominic Barton", Role: "officer",
			Actor: fx.users["barton"].Actor("192.0.2.1")}
		detainee := visits.Seat{VisitID: v.ID, CaseID: fx.caseID, Participant: "link:1", Name: "Terminal 3", Role: "detainee",
			Actor: audit.Actor{ID: "link:1", Name: "Terminal 3"}}
		p1, err := fx.visits.CallEntered(ctx, officer)
		if err != nil {
			t.Fatal(err)
		}
		fx.clock.Add(time.Second)
		list, _ := fx.visits.ForCase(ctx, a, fx.caseID)
		if list[0].Status != "in_progress" || len(list[0].Presence) != 1 || list[0].Presence[0].Left != nil {
			t.Fatalf("after the officer entered: %+v", list[0])
		}
		p2, _ := fx.visits.CallEntered(ctx, detainee)
		fx.clock.Add(4 * time.Minute)
		if err := fx.visits.CallLeft(ctx, detainee, p2, "network", visits.Quality{}); err != nil {
			t.Fatal(err)
		}
		p3, _ := fx.visits.CallEntered(ctx, detainee) // the terminal reconnects
		var q visits.Quality
		q.Add(1, 80, 4, 900, 1100)
		q.Add(3, 120, 6, 700, 1300)
		q.Add(-1, 10, 1, 1, 1) // nonsense from a page: ignored
		q.Add(200, 10, 1, 1, 1)
		fx.clock.Add(20 * time.Minute)
		if err := fx.visits.CallLeft(ctx, detainee, p3, "host", visits.Quality{}); err != nil {
			t.Fatal(err)
		}
		if err := fx.visits.CallLeft(ctx, officer, p1, "host", q); err != nil {
			t.Fatal(err)
		}
		if err := fx.visits.CallLeft(ctx, officer, p1, "left", visits.Quality{}); err != nil {
			t.Errorf("closing a closed session: %v", err)
		}
		if err := fx.visits.CallEnded(ctx, v.ID, "host", officer.Actor); err != nil {
			t.Fatal(err)
		}
		fx.clock.Add(time.Minute)
		if err := fx.visits.CallEnded(ctx, v.ID, "time", audit.System); err != nil {
			t.Fatal(err)
		}
		if over, why, err := fx.visits.CallOver(ctx, v.ID); !over || why != "host" || err != nil {
			t.Errorf("call over: %v %v", over, err)
		}
		if _, err := fx.visits.EnterCall(ctx, a, fx.caseID, v.ID); err != visits.ErrVisitOver {
			t.Errorf("an officer entering an ended call: %v", err)
		}
		if _, err := fx.visits.Admit(ctx, token, "198.51.100.4"); err != visits.ErrVisitOver {
			t.Errorf("a link to an ended call: %v", err)
		}

		list, err = fx.visits.ForCase(ctx, a, fx.caseID)
		if err != nil {
			t.Fatal(err)
		}
		got := list[0]
		if got.CallEnded == nil || got.CallEndReason != "host" {
			t.Errorf("call end %v %q, want the officer's, kept once", got.CallEnded, got.CallEndReason)
		}
		var rows []string
		for _, p := range got.Presence {
			rows = append(rows, fmt.Sprintf("%s %s %d' %s", p.Name, p.Role, p.Minutes(fx.clock.Now()), p.Reason))
		}
		if want := "Dominic Barton officer 24' host|Terminal 3 detainee 4' network|Terminal 3 detainee 20' host"; strings.Join(rows, "|") != want {
			t.Errorf("presence\n%s\nwant\n%s", strings.Join(rows, "|"), want)
		}
		oq := got.Presence[0].Quality
		if oq.Samples != 2 || oq.LossPct != 2 || oq.RTTms != 100 || oq.RTTMaxMs != 120 || oq.KbpsOut != 1200 || oq.Grade() != "fair" {
			t.Errorf("quality %+v grade %s", oq, oq.Grade())
		}
		if g := got.Presence[1].Quality.Grade(); g != "" {
			t.Errorf("grade without reports: %q", g)
		}

		// A server that stopped mid-call: its open sessions are closed at start.
		v2, _, err := fx.book("barton", "2020-11-20 10:00", 30)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fx.visits.CallEntered(ctx, visits.Seat{VisitID: v2.ID, CaseID: fx.caseID, Participant: "link:2", Name: "T", Role: "detainee",
			Actor: audit.System}); err != nil {
			t.Fatal(err)
		}
		if n, err := fx.visits.CloseStalePresence(ctx, ""); n != 1 || err != nil {
			t.Errorf("stale sessions closed: %d %v", n, err)
		}
		if over, _, _ := fx.visits.CallOver(ctx, v2.ID); over {
			t.Error("a server stop ended the call for good")
		}
	})
}

// Recording policies: privileged visits (consular, legal) are never
// recorded: no policy that records them can be set, and a row that says so
// in the database is void; other visits follow a policy for every post or
// their own.
func TestRecordingPolicy(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := context.Background()
		admin := fx.as("admin")
		policy := func(post, kind string) string {
			t.Helper()
			rp, err := fx.visits.PolicyFor(ctx, post, kind)
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("%s/%d", rp.Policy, rp.RetentionDays)
		}
		for _, tc := range []struct{ post, kind, want string }{
			{"Beijing", "consular", "never/0"}, {"Beijing", "legal", "never/0"}, {"Beijing", "family", "consent/30"},
		} {
			if got := policy(tc.post, tc.kind); got != tc.want {
				t.Errorf("default for %s at %s: %s, want %s", tc.kind, tc.post, got, tc.want)
			}
		}
		for _, tc := range []struct {
			name  string
			who   string
			in    visits.PolicyInput
			field string
			kind  problem.Kind
		}{
			{"an officer", "barton", visits.PolicyInput{Post: "Beijing", Kind: "family", Policy: "always", RetentionDays: 5}, "", problem.Forbidden},
			{"consular for every post", "admin", visits.PolicyInput{Kind: "consular", Policy: "always", RetentionDays: 5, Note: "x"}, "kind", problem.Invalid},
			{"consular at one post, with a reason", "admin", visits.PolicyInput{Post: "Beijing", Kind: "consular", Policy: "consent", RetentionDays: 90, Note: "Instruction 2026-14"}, "kind", problem.Invalid},
			{"legal at one post", "admin", visits.PolicyInput{Post: "Beijing", Kind: "legal", Policy: "always", RetentionDays: 5, Note: "x"}, "kind", problem.Invalid},
			{"unknown kind", "admin", visits.PolicyInput{Post: "Beijing", Kind: "social", Policy: "always", RetentionDays: 5}, "kind", problem.Invalid},
			{"unknown policy", "admin", visits.PolicyInput{Post: "Beijing", Kind: "family", Policy: "sometimes", RetentionDays: 5}, "policy", problem.Invalid},
			{"no retention", "admin", visits.PolicyInput{Post: "Beijing", Kind: "family", Policy: "always"}, "retention_days", problem.Invalid},
		} {
			err := fx.visits.SetRecordingPolicy(ctx, fx.as(tc.who), tc.in)
			pe, ok := problem.As(err)
			if !ok || pe.Kind != tc.kind || (tc.field != "" && pe.Fields[tc.field] == "") {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
		if got := policy("Beijing", "consular"); got != "never/0" {
			t.Fatalf("a refused policy changed things: %s", got)
		}

		set := func(in visits.PolicyInput) {
			t.Helper()
			if err := fx.visits.SetRecordingPolicy(ctx, admin, in); err != nil {
				t.Fatal(err)
			}
		}
		// A row written into the database by hand (or before such rows
		// were refused) records nothing.
		if _, err := d.ExecContext(ctx, `INSERT INTO recording_policies (post, kind, policy, retention_days, note, set_by, set_at)
			VALUES ('Beijing', 'consular', 'always', 90, 'by hand', 'someone', 0)`); err != nil {
			t.Fatal(err)
		}
		set(visits.PolicyInput{Kind: "family", Policy: "never"})
		set(visits.PolicyInput{Post: "Ottawa", Kind: "family", Policy: "always", RetentionDays: 10})
		for _, tc := range []struct{ post, kind, want string }{
			{"Beijing", "consular", "never/0"}, // the row is void
			{"Tehran", "consular", "never/0"},
			{"Beijing", "legal", "never/0"},
			{"Beijing", "family", "never/0"},  // the policy for every post
			{"Ottawa", "family", "always/10"}, // the post's own
		} {
			if got := policy(tc.post, tc.kind); got != tc.want {
				t.Errorf("%s at %s: %s, want %s", tc.kind, tc.post, got, tc.want)
			}
		}
		list, err := fx.visits.ListRecordingPolicies(ctx, admin)
		if err != nil || len(list) != 3 || list[1].Kind != "consular" || !list[1].Void || list[0].Void || list[2].Void {
			t.Errorf("policies %+v %v", list, err)
		}
		set(visits.PolicyInput{Post: "Beijing", Kind: "consular", Note: "instruction withdrawn"}) // removed
		if got := policy("Beijing", "consular"); got != "never/0" {
			t.Errorf("after removal: %s", got)
		}

		// A visit carries its kind, and the policy in force is shown with it.
		v, _, err := fx.visits.Schedule(ctx, fx.as("barton"), fx.caseID, visits.ScheduleInput{Modality: "onsite_video", Kind: "legal", Start: "2020-11-19 10:00",
			Minutes: 30, TerminalID: fx.terminal})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := fx.visits.Schedule(ctx, fx.as("barton"), fx.caseID, visits.ScheduleInput{Modality: "onsite_video", Kind: "party", Start: "2020-11-20 10:00",
			Minutes: 30, TerminalID: fx.terminal}); !problem.Is(err, problem.Invalid) {
			t.Errorf("an unknown kind of visit: %v", err)
		}
		list2, _ := fx.visits.ForCase(ctx, fx.as("barton"), fx.caseID)
		if len(list2) != 1 || list2[0].ID != v.ID || list2[0].Kind != "legal" || list2[0].Recording.Policy != visits.RecordNever {
			t.Errorf("visit %+v", list2)
		}
	})
}

// A recorded file is kept on its visit with its fingerprint, due for purge
// after the retention of the policy in force.
func TestRecordedFiles(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := context.Background()
		if err := fx.visits.SetRecordingPolicy(ctx, fx.as("admin"), visits.PolicyInput{Post: "Beijing", Kind: "family", Policy: "always", RetentionDays: 10}); err != nil {
			t.Fatal(err)
		}
		v, _, err := fx.visits.Schedule(ctx, fx.as("barton"), fx.caseID, visits.ScheduleInput{Modality: "onsite_video", Kind: "family", Start: "2020-11-19 10:00",
			Minutes: 30, TerminalID: fx.terminal})
		if err != nil {
			t.Fatal(err)
		}
		if _, rp, err := fx.visits.CallPolicy(ctx, v.ID); err != nil || rp.Policy != visits.RecordAlways {
			t.Fatalf("policy %+v %v", rp, err)
		}
		if _, _, err := fx.visits.CallPolicy(ctx, "nope"); !problem.Is(err, problem.NotFound) {
			t.Errorf("unknown visit: %v", err)
		}
		closed := time.Date(2020, 11, 19, 2, 30, 0, 0, time.UTC)
		f := visits.RecordedFile{VisitID: v.ID, Recording: "r1", Participant: "link:1", Name: "Terminal", Role: "detainee", Kind: "video", Codec: "VP8",
			File: v.ID + "/r1-link_1-video.webm.age", Size: 1234, SHA256: strings.Repeat("ab", 32), Frames: 900, DurationMS: 30000,
			StartedAt: closed.Add(-30 * time.Second), ClosedAt: closed}
		if err := fx.visits.SaveRecordedFile(ctx, f); err != nil {
			t.Fatal(err)
		}
		list, _ := fx.visits.ForCase(ctx, fx.as("barton"), fx.caseID)
		if len(list) != 1 || len(list[0].Recordings) != 1 {
			t.Fatalf("visits %+v", list)
		}
		got := list[0].Recordings[0]
		if got.SHA256 != f.SHA256 || got.Frames != 900 || !got.PurgeAfter.Equal(closed.AddDate(0, 0, 10)) {
			t.Errorf("recorded file %+v", got)
		}
		var detail string
		if err := d.QueryRowContext(ctx, `SELECT detail FROM audit_log WHERE action = 'recording.file'`).Scan(&detail); err != nil || !strings.Contains(detail, f.SHA256) {
			t.Errorf("audit of the file: %q %v", detail, err)
		}
	})
}

// The purge deletes exactly the recordings whose retention is over and
// that no legal hold keeps: a held visit's and a held case's stay, and so
// does one not yet due.
func TestPurgeRecordings(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := context.Background()
		a := fx.as("barton")
		if err := fx.visits.SetRecordingPolicy(ctx, fx.as("admin"), visits.PolicyInput{Post: "Beijing", Kind: "family", Policy: "always", RetentionDays: 10}); err != nil {
			t.Fatal(err)
		}
		book := func(day string) string {
			t.Helper()
			v, _, err := fx.visits.Schedule(ctx, a, fx.caseID, visits.ScheduleInput{Modality: "onsite_video", Kind: "family", Start: day + " 10:00",
				Minutes: 30, TerminalID: fx.terminal})
			if err != nil {
				t.Fatal(err)
			}
			return v.ID
		}
		due, held, young := book("2020-11-19"), book("2020-11-20"), book("2020-11-23")
		save := func(visit, name string, closed time.Time) {
			t.Helper()
			if err := fx.visits.SaveRecordedFile(ctx, visits.RecordedFile{VisitID: visit, Recording: "r", Participant: "p", Name: "n", Role: "detainee",
				Kind: "audio", Codec: "opus", File: name, SHA256: name + "-sha", ClosedAt: closed, StartedAt: closed}); err != nil {
				t.Fatal(err)
			}
		}
		day := time.Date(2020, 11, 19, 3, 0, 0, 0, time.UTC)
		save(due, "due.webm.age", day)
		save(held, "held.webm.age", day)
		save(young, "young.webm.age", day.AddDate(0, 0, 5))
		if err := fx.visits.SetLegalHold(ctx, a, fx.caseID, held, true, ""); !problem.Is(err, problem.Invalid) {
			t.Errorf("a hold without a reason: %v", err)
		}
		if err := fx.visits.SetLegalHold(ctx, fx.as("tehran"), fx.caseID, held, true, "court order"); !problem.Is(err, problem.NotFound) {
			t.Errorf("a hold by an outsider: %v", err)
		}
		if err := fx.visits.SetLegalHold(ctx, a, fx.caseID, held, true, "court order 2020/77"); err != nil {
			t.Fatal(err)
		}

		var removed []string
		remove := func(f string) error { removed = append(removed, f); return nil }
		fx.clock.Add(day.AddDate(0, 0, 11).Sub(fx.clock.Now())) // 11 days on: "due" and "held" are past their 10 days
		got, err := fx.visits.PurgeRecordings(ctx, remove)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].File != "due.webm.age" || strings.Join(removed, ",") != "due.webm.age" {
			t.Errorf("purged %+v, removed %v; want due.webm.age only", got, removed)
		}
		var n int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM recordings`).Scan(&n); err != nil || n != 2 {
			t.Errorf("%d rows left, want the held and the young one (%v)", n, err)
		}
		var detail string
		if err := d.QueryRowContext(ctx, `SELECT detail FROM audit_log WHERE action = 'recording.purge'`).Scan(&detail); err != nil || !strings.Contains(detail, "due.webm.age-sha") {
			t.Errorf("purge audit %q %v", detail, err)
		}

		// Lifting the visit's hold but holding the case keeps it still.
		if err := fx.visits.SetLegalHold(ctx, a, fx.caseID, "", true, "appeal"); err != nil {
			t.Fatal(err)
		}
		if err := fx.visits.SetLegalHold(ctx, a, fx.caseID, held, false, "order lifted"); err != nil {
			t.Fatal(err)
		}
		if got, _ := fx.visits.PurgeRecordings(ctx, remove); len(got) != 0 {
			t.Errorf("purged under the case's hold: %+v", got)
		}
		if err := fx.visits.SetLegalHold(ctx, a, fx.caseID, "", false, "appeal decided"); err != nil {
			t.Fatal(err)
		}
		fx.clock.Add(5 * 24 * time.Hour) // the young one too
		if got, _ := fx.visits.PurgeRecordings(ctx, remove); len(got) != 2 {
			t.Errorf("after the holds: purged %+v, want 2", got)
		}
	})
}
