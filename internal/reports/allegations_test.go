package reports_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/reports"
)

// approvedWith writes, submits and approves the report of visitID with
// this allegation.
func approvedWith(t *testing.T, fx *fixture, visitID string, al reports.Allegation) {
	t.Helper()
	b := complete()
	b.Allegation = al
	approved(t, fx, visitID, b)
}

// approved writes, submits and approves the report of visitID with body b.
func approved(t *testing.T, fx *fixture, visitID string, b reports.Body) {
	t.Helper()
	ctx := context.Background()
	r, err := fx.reports.Create(ctx, fx.as("barton"), fx.caseID, visitID)
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.reports.SaveDraft(ctx, fx.as("barton"), fx.caseID, visitID, b, r.Version); err != nil {
		t.Fatal(err)
	}
	if err := fx.reports.Submit(ctx, fx.as("barton"), fx.caseID, visitID, r.Version+1); err != nil {
		t.Fatal(err)
	}
	if err := fx.reports.Approve(ctx, fx.as("sup"), fx.caseID, visitID, r.Version+2); err != nil {
		t.Fatal(err)
	}
}

// TestAllegationRaisedOnlyWithPermission: an allegation is raised with the
// authorities only from an approved report that records the detainee's
// permission; a refusal is audited and records nothing.
func TestAllegationRaisedOnlyWithPermission(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		raise := reports.RaiseInput{With: "Beijing State Security Bureau, note verbale 2020/114"}

		// A draft, even with permission, is not raised: its text may change.
		r, err := fx.reports.Create(ctx, fx.as("barton"), fx.caseID, fx.visitID)
		if err != nil {
			t.Fatal(err)
		}
		b := complete()
		b.Allegation = reports.Allegation{Alleged: true, Narrative: "Interrogated at night.", Permission: "yes", PermissionAt: "2020-11-19", PermissionHow: "verbal"}
		if err := fx.reports.SaveDraft(ctx, fx.as("barton"), fx.caseID, fx.visitID, b, r.Version); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.reports.RaiseAllegation(ctx, fx.as("barton"), fx.caseID, fx.visitID, raise); !problem.Is(err, problem.Conflict) {
			t.Errorf("raising from a draft: %v", err)
		}

		// Approved, but the detainee refused or was not asked.
		for i, perm := range []string{"no", "not_asked"} {
			v := fx.heldVisit(t, fx.caseID, "held", time.Date(2020, 11, 10+i, 2, 0, 0, 0, time.UTC))
			al := reports.Allegation{Alleged: true, Narrative: "Beaten.", Permission: perm}
			if perm == "no" {
				al.PermissionAt, al.PermissionHow = "2020-11-10", "verbal"
			}
			approvedWith(t, fx, v, al)
			if _, err := fx.reports.RaiseAllegation(ctx, fx.as("barton"), fx.caseID, v, raise); !problem.Is(err, problem.Forbidden) {
				t.Errorf("raising with permission %q: %v", perm, err)
			}
		}
		if n := fx.audits(t, "report.allegation_raise_refused", "barton", fx.caseID); n != 2 {
			t.Errorf("refusals audited: %d", n)
		}
		// No allegation at all.
		none := fx.heldVisit(t, fx.caseID, "held", time.Date(2020, 11, 5, 2, 0, 0, 0, time.UTC))
		approvedWith(t, fx, none, reports.Allegation{})
		if _, err := fx.reports.RaiseAllegation(ctx, fx.as("barton"), fx.caseID, none, raise); !problem.Is(err, problem.Conflict) {
			t.Errorf("raising when no allegation is recorded: %v", err)
		}

		// Approved with permission: recorded, with the permission's evidence.
		yes := fx.heldVisit(t, fx.caseID, "held", time.Date(2020, 11, 3, 2, 0, 0, 0, time.UTC))
		approvedWith(t, fx, yes, reports.Allegation{Alleged: true, Narrative: "Deprived of sleep.", Permission: "yes", PermissionAt: "2020-11-03", PermissionHow: "written"})
		if _, err := fx.reports.RaiseAllegation(ctx, fx.as("barton"), fx.caseID, yes, reports.RaiseInput{With: " "}); !problem.Is(err, problem.Invalid) {
			t.Errorf("raising without saying with whom: %v", err)
		}
		if _, err := fx.reports.RaiseAllegation(ctx, fx.as("tehran"), fx.caseID, yes, raise); !problem.Is(err, problem.NotFound) {
			t.Errorf("an officer of another post raises it: %v", err)
		}
		got, _ := fx.reports.Get(ctx, fx.as("barton"), fx.caseID, yes)
		if len(got.Raised) != 0 {
			t.Fatalf("refused raises were recorded: %+v", got.Raised)
		}
		if _, err := fx.reports.RaiseAllegation(ctx, fx.as("barton"), fx.caseID, yes, raise); err != nil {
			t.Fatal(err)
		}
		got, _ = fx.reports.Get(ctx, fx.as("barton"), fx.caseID, yes)
		if len(got.Raised) != 1 || got.Raised[0].With != raise.With || got.Raised[0].RaisedName != "Dominic Barton" ||
			got.Raised[0].PermissionAt != "2020-11-03" || got.Raised[0].PermissionHow != "written" {
			t.Errorf("raised: %+v", got.Raised)
		}
		if n := fx.audits(t, "report.allegation_raise", "barton", fx.caseID); n != 1 {
			t.Errorf("raise audited %d times", n)
		}

		// An amendment of the allegation may take the permission back: the
		// report no longer serves to raise it. An amendment elsewhere does
		// not matter.
		amended := fx.heldVisit(t, fx.caseID, "held", time.Date(2020, 11, 1, 2, 0, 0, 0, time.UTC))
		approvedWith(t, fx, amended, reports.Allegation{Alleged: true, Narrative: "Kept in a cold cell.", Permission: "yes", PermissionAt: "2020-11-01", PermissionHow: "verbal"})
		if _, err := fx.reports.Amend(ctx, fx.as("barton"), fx.caseID, amended, reports.AmendmentInput{Section: "needs",
			Corrected: "Warm clothes, not books.", Reason: "Misheard."}); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.reports.RaiseAllegation(ctx, fx.as("barton"), fx.caseID, amended, raise); err != nil {
			t.Errorf("raising after an amendment of another section: %v", err)
		}
		if _, err := fx.reports.Amend(ctx, fx.as("barton"), fx.caseID, amended, reports.AmendmentInput{Section: "allegation",
			Corrected: "He asked us not to raise it before his trial.", Reason: "The interpreter mistranslated his answer."}); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.reports.RaiseAllegation(ctx, fx.as("barton"), fx.caseID, amended, raise); !problem.Is(err, problem.Conflict) ||
			!strings.Contains(err.Error(), "were amended on") {
			t.Errorf("raising after the allegation was amended: %v", err)
		}
		if got, _ := fx.reports.Get(ctx, fx.as("barton"), fx.caseID, amended); len(got.Raised) != 1 || !got.AllegationAmended() {
			t.Errorf("raised %d times (once before the amendment), amended %v", len(got.Raised), got.AllegationAmended())
		}
		// The wishes say what the allegation does not: amended, or opposing
		// in the approved text itself.
		wishes := fx.heldVisit(t, fx.caseID, "held", time.Date(2020, 10, 28, 2, 0, 0, 0, time.UTC))
		approvedWith(t, fx, wishes, reports.Allegation{Alleged: true, Narrative: "Shackled.", Permission: "yes", PermissionAt: "2020-10-28", PermissionHow: "verbal"})
		if _, err := fx.reports.Amend(ctx, fx.as("barton"), fx.caseID, wishes, reports.AmendmentInput{Section: "wishes",
			Corrected: "He opposes raising it with the authorities.", Reason: "Noted after the visit."}); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.reports.RaiseAllegation(ctx, fx.as("barton"), fx.caseID, wishes, raise); !problem.Is(err, problem.Conflict) {
			t.Errorf("raising after the wishes were amended: %v", err)
		}
		opposed := fx.heldVisit(t, fx.caseID, "held", time.Date(2020, 10, 27, 2, 0, 0, 0, time.UTC))
		b2 := complete()
		b2.Allegation = reports.Allegation{Alleged: true, Narrative: "Shackled.", Permission: "yes", PermissionAt: "2020-10-27", PermissionHow: "verbal"}
		b2.Wishes.Opposes = append(b2.Wishes.Opposes, "raising_mistreatment")
		approved(t, fx, opposed, b2)
		if _, err := fx.reports.RaiseAllegation(ctx, fx.as("barton"), fx.caseID, opposed, raise); !problem.Is(err, problem.Forbidden) {
			t.Errorf("raising what the wishes oppose: %v", err)
		}
		if n := fx.audits(t, "report.allegation_raise_refused", "barton", fx.caseID); n != 5 {
			t.Errorf("refusals audited: %d, want 5", n)
		}
	})
}
