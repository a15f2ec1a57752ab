package visits_test

import (
	"context"
	"testing"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/visits"
)

func TestRecordPastVisit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		in := visits.PastInput{Modality: "remote_video", Start: "2020-10-10 10:00", Minutes: 30, Note: "Note of the ambassador"}
		for _, tc := range []struct {
			name string
			edit func(*visits.PastInput)
		}{
			{"no note", func(p *visits.PastInput) { p.Note = " " }},
			{"in the future", func(p *visits.PastInput) { p.Start = "2020-11-16 10:00" }},
			{"not ended", func(p *visits.PastInput) { p.Start = "2020-11-16 07:45" }},
			{"planned", func(p *visits.PastInput) { p.Status = "planned" }},
			{"no modality", func(p *visits.PastInput) { p.Modality = "" }},
			{"no length", func(p *visits.PastInput) { p.Minutes = 0 }},
		} {
			bad := in
			tc.edit(&bad)
			if _, err := fx.visits.RecordPast(ctx, fx.as("barton"), fx.caseID, bad); problem.KindOf(err) != problem.Invalid {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
		if _, err := fx.visits.RecordPast(ctx, fx.as("tehran"), fx.caseID, in); problem.KindOf(err) != problem.NotFound {
			t.Errorf("officer of another post: %v", err)
		}
		list, _ := fx.visits.ForCase(ctx, fx.as("barton"), fx.caseID)
		if len(list) != 0 {
			t.Fatalf("refused records left %d visits", len(list))
		}
		v, err := fx.visits.RecordPast(ctx, fx.as("barton"), fx.caseID, in)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != "held" || v.Ends.Sub(v.Starts).Minutes() != 30 || v.Starts.UTC().Format("2006-01-02 15:04") != "2020-10-10 02:00" {
			t.Errorf("visit %+v", v)
		}
		ca, err := fx.access.ForCase(ctx, fx.as("barton"), fx.caseID, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(ca.Contacts) != 1 || ca.Contacts[0].Mode != "remote_video" {
			t.Errorf("the past visit is not a consular contact: %+v", ca.Contacts)
		}
	})
}
