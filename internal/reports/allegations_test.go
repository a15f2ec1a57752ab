package reports_test

import (
	"context"
	"testing"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/reports"
)

// TestAllegationRaisedOnlyWithPermission: an allegation is raised with the
// authorities only when the report records the detainee's permission; a
// refusal is audited and records nothing.
func TestAllegationRaisedOnlyWithPermission(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		r, err := fx.reports.Create(ctx, fx.as("barton"), fx.caseID, fx.visitID)
		if err != nil {
			t.Fatal(err)
		}
		raise := reports.RaiseInput{With: "Beijing State Security Bureau, note verbale 2020/114"}
		if _, err := fx.reports.RaiseAllegation(ctx, fx.as("barton"), fx.caseID, fx.visitID, raise); !problem.Is(err, problem.Conflict) {
			t.Errorf("raising when no allegation is recorded: %v", err)
		}
		b := complete()
		b.Allegation = reports.Allegation{Alleged: true, Narrative: "Interrogated at night.", Permission: "no", PermissionAt: "2020-11-19", PermissionHow: "verbal"}
		if err := fx.reports.SaveDraft(ctx, fx.as("barton"), fx.caseID, fx.visitID, b, r.Version); err != nil {
			t.Fatal(err)
		}
		for _, perm := range []string{"no", "not_asked"} {
			if perm == "not_asked" {
				b.Allegation.Permission, b.Allegation.PermissionAt, b.Allegation.PermissionHow = "not_asked", "", ""
				got, _ := fx.reports.Get(ctx, fx.as("barton"), fx.caseID, fx.visitID)
				if err := fx.reports.SaveDraft(ctx, fx.as("barton"), fx.caseID, fx.visitID, b, got.Version); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := fx.reports.RaiseAllegation(ctx, fx.as("barton"), fx.caseID, fx.visitID, raise); !problem.Is(err, problem.Forbidden) {
				t.Errorf("raising with permission %q: %v", perm, err)
			}
		}
		if n := fx.audits(t, "report.allegation_raise_refused", "barton", fx.caseID); n != 2 {
			t.Errorf("refusals audited: %d", n)
		}
		b.Allegation.Permission, b.Allegation.PermissionAt, b.Allegation.PermissionHow = "yes", "2020-11-19", "written"
		got, _ := fx.reports.Get(ctx, fx.as("barton"), fx.caseID, fx.visitID)
		if err := fx.reports.SaveDraft(ctx, fx.as("barton"), fx.caseID, fx.visitID, b, got.Version); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.reports.RaiseAllegation(ctx, fx.as("barton"), fx.caseID, fx.visitID, reports.RaiseInput{With: " "}); !problem.Is(err, problem.Invalid) {
			t.Errorf("raising without saying with whom: %v", err)
		}
		if _, err := fx.reports.RaiseAllegation(ctx, fx.as("tehran"), fx.caseID, fx.visitID, raise); !problem.Is(err, problem.NotFound) {
			t.Errorf("an officer of another post raises it: %v", err)
		}
		got, _ = fx.reports.Get(ctx, fx.as("barton"), fx.caseID, fx.visitID)
		if len(got.Raised) != 0 {
			t.Fatalf("refused raises were recorded: %+v", got.Raised)
		}
		if _, err := fx.reports.RaiseAllegation(ctx, fx.as("barton"), fx.caseID, fx.visitID, raise); err != nil {
			t.Fatal(err)
		}
		got, _ = fx.reports.Get(ctx, fx.as("barton"), fx.caseID, fx.visitID)
		if len(got.Raised) != 1 || got.Raised[0].With != raise.With || got.Raised[0].RaisedName != "Dominic Barton" {
			t.Errorf("raised: %+v", got.Raised)
		}
		if n := fx.audits(t, "report.allegation_raise", "barton", fx.caseID); n != 1 {
			t.Errorf("raise audited %d times", n)
		}
	})
}
