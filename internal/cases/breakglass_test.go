package cases_test

import (
	"context"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/testenv"
)

func TestBreakGlass(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		clock := testenv.NewClock(time.Now().UTC())
		fx.svc.SetClock(clock.Now)
		c := openCase(t, fx, "chinadesk", kovrigInput(), beijingCase())
		reason := "Family called HQ at night: the China desk cannot be reached"

		bad := []struct {
			name string
			who  string
			in   cases.BreakGlassInput
			kind problem.Kind
		}{
			{"no reason", "irandesk", cases.BreakGlassInput{Reference: c.Reference, Hours: 1}, problem.Invalid},
			{"a word for a reason", "admin", cases.BreakGlassInput{Reference: c.Reference, Reason: "urgent", Hours: 1}, problem.Invalid},
			{"too long", "admin", cases.BreakGlassInput{Reference: c.Reference, Reason: reason, Hours: 9}, problem.Invalid},
			{"no such case", "admin", cases.BreakGlassInput{Reference: "NOPE-1", Reason: reason, Hours: 1}, problem.Invalid},
			{"a consular officer", "shanghai", cases.BreakGlassInput{Reference: c.Reference, Reason: reason, Hours: 1}, problem.Forbidden},
			{"an auditor", "auditor", cases.BreakGlassInput{Reference: c.Reference, Reason: reason, Hours: 1}, problem.Forbidden},
		}
		for _, tc := range bad {
			if _, err := fx.svc.BreakGlass(ctx, fx.as(tc.who), tc.in); !problem.Is(err, tc.kind) {
				t.Errorf("%s: %v, want %s", tc.name, err, tc.kind)
			}
		}
		if list, _ := fx.svc.BreakGlassLog(ctx); len(list) != 0 {
			t.Fatalf("refused openings were kept: %+v", list)
		}
		if _, err := fx.svc.Case(ctx, fx.as("irandesk"), c.ID); !problem.Is(err, problem.NotFound) {
			t.Fatalf("read before break-glass: %v", err)
		}

		id, err := fx.svc.BreakGlass(ctx, fx.as("irandesk"), cases.BreakGlassInput{Reference: c.Reference, Reason: reason, Hours: 2})
		if err != nil || id != c.ID {
			t.Fatalf("break-glass: %q %v", id, err)
		}
		if _, err := fx.svc.Case(ctx, fx.as("irandesk"), c.ID); err != nil {
			t.Fatalf("read by break-glass: %v", err)
		}
		if _, err := fx.svc.AddEvent(ctx, fx.as("irandesk"), c.ID, cases.TimelineInput{Happened: "2019", Kind: "other", Title: "x", SourceKind: "officer"}); !problem.Is(err, problem.Forbidden) {
			t.Fatalf("break-glass changes the case: %v", err)
		}
		// Not in lists: break-glass opens one case, by its reference.
		if list, _ := fx.svc.Cases(ctx, fx.as("irandesk"), cases.Filter{}); len(list) != 0 {
			t.Fatalf("break-glass case in the list: %d", len(list))
		}
		// The team sees it on the case; auditors in the log, with the reason.
		seen, err := fx.svc.CaseBreakGlass(ctx, fx.as("chinadesk"), c.ID)
		if err != nil || len(seen) != 1 || seen[0].Reason != reason || seen[0].UserID != fx.users["irandesk"].ID || !seen[0].Active(clock.Now()) {
			t.Fatalf("on the case: %+v %v", seen, err)
		}
		if _, err := fx.svc.CaseBreakGlass(ctx, fx.as("shanghai"), c.ID); !problem.Is(err, problem.NotFound) {
			t.Fatalf("outsider reads the break-glass list: %v", err)
		}
		entries, _ := fx.audit.List(ctx, audit.Filter{ObjectID: c.ID, ActorID: fx.users["irandesk"].ID})
		found := false
		for _, e := range entries {
			found = found || (e.Action == "case.break_glass" && e.Reason == reason)
		}
		if !found {
			t.Fatalf("break-glass not audited with its reason: %+v", entries)
		}
		// The team needs no glass broken.
		if _, err := fx.svc.BreakGlass(ctx, fx.as("chinadesk"), cases.BreakGlassInput{Reference: c.Reference, Reason: reason, Hours: 1}); err != nil {
			t.Fatal(err)
		}
		if list, _ := fx.svc.BreakGlassLog(ctx); len(list) != 1 {
			t.Fatalf("log has %d openings, want 1", len(list))
		}

		// Two hours on, the case is closed to them again.
		clock.Add(2 * time.Hour)
		if _, err := fx.svc.Case(ctx, fx.as("irandesk"), c.ID); !problem.Is(err, problem.NotFound) {
			t.Fatalf("read after the time: %v", err)
		}
		if seen, _ := fx.svc.CaseBreakGlass(ctx, fx.as("chinadesk"), c.ID); len(seen) != 1 || seen[0].Active(clock.Now()) {
			t.Fatalf("expired opening: %+v", seen)
		}
	})
}
