package reports_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/notify"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/reports"
)

// refused checks that err is a problem of kind whose text mentions words,
// and that the report's row did not change.
func refused(t *testing.T, fx *fixture, visitID, before string, what string, err error, kind problem.Kind, words string) {
	t.Helper()
	if !problem.Is(err, kind) || !strings.Contains(err.Error(), words) {
		t.Errorf("%s: got %v, want %s mentioning %q", what, err, kind, words)
	}
	if after := fx.stored(t, visitID); after != before {
		t.Errorf("%s changed the report:\n before %s\n after  %s", what, before, after)
	}
}

func TestCreateOnlyForHeldVisits(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := context.Background()
		r, err := fx.reports.Create(ctx, fx.as("barton"), fx.caseID, fx.visitID)
		if err != nil {
			t.Fatal(err)
		}
		// The draft starts from what the visit says.
		if r.State != reports.Draft || r.Version != 1 || r.AuthorID != fx.users["barton"].ID || r.Body.DurationMinutes != 30 ||
			r.Body.Location != "Beijing detention centre" || r.Body.Monitored != "yes" || r.Body.Present.Interpreter != "Li Na" ||
			!slices.Equal(r.Body.Present.OurOfficials, []string{"Dominic Barton"}) ||
			!slices.Equal(r.Body.Present.HostOfficials, []string{"Ministry of State Security official"}) {
			t.Errorf("new report %+v", r)
		}
		if len(r.Events) != 1 || r.Events[0].From != "" || r.Events[0].To != reports.Draft {
			t.Errorf("events %+v", r.Events)
		}
		if _, err := fx.reports.Create(ctx, fx.as("consul"), fx.caseID, fx.visitID); !problem.Is(err, problem.Conflict) || !strings.Contains(err.Error(), "has a report already") {
			t.Errorf("second report for the visit: %v", err)
		}
		// A visit that did not take place has no report, whatever its modality.
		for _, status := range []string{"planned", "confirmed", "cancelled", "refused_by_detainee", "no_show", "in_progress"} {
			v := fx.heldVisit(t, fx.caseID, status, time.Date(2020, 11, 10, 2, 0, 0, 0, time.UTC))
			if _, err := fx.reports.Create(ctx, fx.as("barton"), fx.caseID, v); !problem.Is(err, problem.Conflict) || !strings.Contains(err.Error(), "held") {
				t.Errorf("report for a %s visit: %v", status, err)
			}
		}
		cut := fx.heldVisit(t, fx.caseID, "cut_short", time.Date(2020, 11, 12, 2, 0, 0, 0, time.UTC))
		if _, err := fx.reports.Create(ctx, fx.as("consul"), fx.caseID, cut); err != nil {
			t.Errorf("report for a visit cut short: %v", err)
		}
		// A visit of another case, through a case the user may see.
		other := fx.openCase(t, "Michael Spavor", "", "Beijing", "China")
		otherVisit := fx.heldVisit(t, other, "held", time.Date(2020, 11, 12, 2, 0, 0, 0, time.UTC))
		if _, err := fx.reports.Create(ctx, fx.as("barton"), fx.caseID, otherVisit); !problem.Is(err, problem.NotFound) {
			t.Errorf("report for another case's visit: %v", err)
		}
		if _, err := fx.reports.Get(ctx, fx.as("barton"), fx.caseID, otherVisit); !problem.Is(err, problem.NotFound) {
			t.Errorf("get through the wrong case: %v", err)
		}
		var n int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM reports`).Scan(&n); err != nil || n != 2 {
			t.Errorf("reports stored: %d %v, want 2", n, err)
		}
		// Only someone who may change the case creates its report.
		if _, err := fx.reports.Create(ctx, fx.as("auditor"), other, otherVisit); !problem.Is(err, problem.NotFound) {
			t.Errorf("auditor creates a report: %v", err)
		}
	})
}

func TestStateMachine(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := context.Background()
		v := fx.visitID
		if _, err := fx.reports.Create(ctx, fx.as("barton"), fx.caseID, v); err != nil {
			t.Fatal(err)
		}

		// A draft: bad input, an incomplete report, a stale version.
		before := fx.stored(t, v)
		bad := complete()
		bad.Monitored = "maybe"
		bad.Wishes.Opposes = []string{"everything"}
		bad.Legal.Hearings = []reports.Hearing{{Date: "next spring", Description: "trial"}}
		bad.Summary = strings.Repeat("x", 20001)
		err := fx.reports.SaveDraft(ctx, fx.as("barton"), fx.caseID, v, bad, 1)
		refused(t, fx, v, before, "invalid body", err, problem.Invalid, "highlighted")
		if pe, _ := problem.As(err); pe == nil || pe.Fields["monitored"] == "" || pe.Fields["wishes.opposes"] == "" ||
			pe.Fields["legal.hearings.0.date"] == "" || !strings.Contains(pe.Fields["summary"], "20000") {
			t.Errorf("field errors %+v", pe)
		}
		bad = complete()
		bad.Summary = "ok\x00hidden"
		refused(t, fx, v, before, "control character", fx.reports.SaveDraft(ctx, fx.as("barton"), fx.caseID, v, bad, 1), problem.Invalid, "control character")
		refused(t, fx, v, before, "submit an empty draft", fx.reports.Submit(ctx, fx.as("barton"), fx.caseID, v, 1), problem.Invalid, "summary")
		refused(t, fx, v, before, "approve a draft", fx.reports.Approve(ctx, fx.as("sup"), fx.caseID, v, 1), problem.Conflict, "not submitted")
		refused(t, fx, v, before, "return a draft", fx.reports.Return(ctx, fx.as("sup"), fx.caseID, v, 1, "no"), problem.Conflict, "not submitted")
		refused(t, fx, v, before, "amend a draft", amendErr(fx.reports.Amend(ctx, fx.as("barton"), fx.caseID, v, reports.AmendmentInput{Section: "health", Corrected: "x", Reason: "y"})),
			problem.Conflict, "edit it instead")

		half := complete()
		half.FactualOnly = false
		half.Allegation = reports.Allegation{Alleged: true, Permission: "yes"}
		if err := fx.reports.SaveDraft(ctx, fx.as("barton"), fx.caseID, v, half, 1); err != nil {
			t.Fatal(err)
		}
		before = fx.stored(t, v)
		refused(t, fx, v, before, "stale version", fx.reports.SaveDraft(ctx, fx.as("consul"), fx.caseID, v, complete(), 1), problem.Conflict, "changed the report")
		err = fx.reports.Submit(ctx, fx.as("barton"), fx.caseID, v, 2)
		refused(t, fx, v, before, "submit an incomplete report", err, problem.Invalid, "highlighted")
		if pe, _ := problem.As(err); pe == nil || pe.Fields["factual_only"] == "" || pe.Fields["allegation.narrative"] == "" ||
			pe.Fields["allegation.permission_at"] == "" || pe.Fields["allegation.permission_how"] == "" {
			t.Errorf("submit field errors %+v", pe)
		}
		refused(t, fx, v, before, "submit a stale version", fx.reports.Submit(ctx, fx.as("barton"), fx.caseID, v, 1), problem.Conflict, "changed the report")

		// The China-desk supervisor corrects the draft: having written in
		// it, they may not approve it.
		if err := fx.reports.SaveDraft(ctx, fx.as("sup2"), fx.caseID, v, complete(), 2); err != nil {
			t.Fatal(err)
		}
		if err := fx.reports.Submit(ctx, fx.as("barton"), fx.caseID, v, 3); err != nil {
			t.Fatal(err)
		}

		// Submitted: no edits, no second submission; approval only by a
		// supervisor of the case who did not write it.
		before = fx.stored(t, v)
		refused(t, fx, v, before, "save a submitted report", fx.reports.SaveDraft(ctx, fx.as("barton"), fx.caseID, v, complete(), 4), problem.Conflict, "submitted for approval")
		refused(t, fx, v, before, "submit twice", fx.reports.Submit(ctx, fx.as("barton"), fx.caseID, v, 4), problem.Conflict, "submitted for approval")
		refused(t, fx, v, before, "approval by the author", fx.reports.Approve(ctx, fx.as("barton"), fx.caseID, v, 4), problem.Forbidden, "supervisor")
		refused(t, fx, v, before, "approval by a supervisor who edited it", fx.reports.Approve(ctx, fx.as("sup2"), fx.caseID, v, 4), problem.Forbidden, "You wrote")
		refused(t, fx, v, before, "approval by another officer", fx.reports.Approve(ctx, fx.as("consul"), fx.caseID, v, 4), problem.Forbidden, "supervisor")
		refused(t, fx, v, before, "approval by another post's supervisor", fx.reports.Approve(ctx, fx.as("suptehran"), fx.caseID, v, 4), problem.NotFound, "No such case")
		refused(t, fx, v, before, "approval by an auditor", fx.reports.Approve(ctx, fx.as("auditor"), fx.caseID, v, 4), problem.NotFound, "No such case")
		refused(t, fx, v, before, "return without comment", fx.reports.Return(ctx, fx.as("sup"), fx.caseID, v, 4, "  "), problem.Invalid, "highlighted")
		refused(t, fx, v, before, "return of a stale version", fx.reports.Return(ctx, fx.as("sup"), fx.caseID, v, 3, "why"), problem.Conflict, "changed the report")

		// Returned with comments, corrected, submitted again.
		if err := fx.reports.Return(ctx, fx.as("sup"), fx.caseID, v, 4, "Say which lawyer was refused."); err != nil {
			t.Fatal(err)
		}
		r, err := fx.reports.Get(ctx, fx.as("barton"), fx.caseID, v)
		if err != nil || r.State != reports.Returned || r.ReturnComment != "Say which lawyer was refused." || r.Version != 5 {
			t.Fatalf("returned report %+v %v", r, err)
		}
		before = fx.stored(t, v)
		refused(t, fx, v, before, "approve a returned report", fx.reports.Approve(ctx, fx.as("sup"), fx.caseID, v, 5), problem.Conflict, "not submitted")
		fixed := complete()
		fixed.Legal.LawyerName = "Mo Shaoping"
		if err := fx.reports.SaveDraft(ctx, fx.as("barton"), fx.caseID, v, fixed, 5); err != nil {
			t.Fatal(err)
		}
		if err := fx.reports.Submit(ctx, fx.as("barton"), fx.caseID, v, 6); err != nil {
			t.Fatal(err)
		}
		before = fx.stored(t, v)
		refused(t, fx, v, before, "approval of a version not read", fx.reports.Approve(ctx, fx.as("sup"), fx.caseID, v, 5), problem.Conflict, "changed the report")
		if err := fx.reports.Approve(ctx, fx.as("sup"), fx.caseID, v, 7); err != nil {
			t.Fatal(err)
		}

		// Approved: immutable, whatever version the request claims.
		approved := fx.stored(t, v)
		for _, version := range []int{7, 8, 9} {
			refused(t, fx, v, approved, "save an approved report", fx.reports.SaveDraft(ctx, fx.as("barton"), fx.caseID, v, complete(), version), problem.Conflict, "approved")
			refused(t, fx, v, approved, "submit an approved report", fx.reports.Submit(ctx, fx.as("barton"), fx.caseID, v, version), problem.Conflict, "approved")
			refused(t, fx, v, approved, "return an approved report", fx.reports.Return(ctx, fx.as("sup"), fx.caseID, v, version, "again"), problem.Conflict, "approved")
			refused(t, fx, v, approved, "approve twice", fx.reports.Approve(ctx, fx.as("sup"), fx.caseID, v, version), problem.Conflict, "approved")
		}

		// Amendments keep the original body byte for byte.
		bodyOf := func() string {
			var b string
			if err := d.QueryRowContext(ctx, `SELECT body FROM reports WHERE visit_id = $1`, v).Scan(&b); err != nil {
				t.Fatal(err)
			}
			return b
		}
		original := bodyOf()
		for _, tc := range []struct {
			in    reports.AmendmentInput
			field string
		}{
			{reports.AmendmentInput{Section: "weather", Corrected: "x", Reason: "y"}, "section"},
			{reports.AmendmentInput{Section: "legal", Corrected: "x", Reason: " "}, "reason"},
			{reports.AmendmentInput{Section: "legal", Corrected: "", Reason: "y"}, "corrected"},
		} {
			_, err := fx.reports.Amend(ctx, fx.as("barton"), fx.caseID, v, tc.in)
			if pe, ok := problem.As(err); !ok || pe.Kind != problem.Invalid || pe.Fields[tc.field] == "" {
				t.Errorf("amendment %+v: %v, want an error on %s", tc.in, err, tc.field)
			}
		}
		if _, err := fx.reports.Amend(ctx, fx.as("tehran"), fx.caseID, v, reports.AmendmentInput{Section: "legal", Corrected: "x", Reason: "y"}); !problem.Is(err, problem.NotFound) {
			t.Errorf("amendment by another post: %v", err)
		}
		m, err := fx.reports.Amend(ctx, fx.as("consul"), fx.caseID, v, reports.AmendmentInput{Section: "legal",
			Corrected: "The lawyer refused access was Mo Shaoping's associate, not Mo Shaoping.", Reason: "Confirmed by the law firm on 25 November."})
		if err != nil {
			t.Fatal(err)
		}
		if got := bodyOf(); got != original {
			t.Errorf("the amendment changed the approved body:\n%s\n%s", original, got)
		}
		if after := fx.stored(t, v); after != approved {
			t.Errorf("the amendment changed the report row")
		}
		r, err = fx.reports.Get(ctx, fx.as("hqchina"), fx.caseID, v)
		if err != nil {
			t.Fatal(err)
		}
		if r.State != reports.Approved || r.ApprovedBy != fx.users["sup"].ID || r.ApproverName == "" || r.Body.Legal.LawyerName != "Mo Shaoping" ||
			len(r.Amendments) != 1 || r.Amendments[0].ID != m.ID || r.Amendments[0].AuthorID != fx.users["consul"].ID || r.Amendments[0].Reason == "" {
			t.Errorf("approved report %+v", r)
		}
		var moves []string
		for _, e := range r.Events {
			moves = append(moves, e.From+">"+e.To+":"+e.ActorName)
		}
		want := []string{">draft:Dominic Barton", "draft>submitted:Dominic Barton", "submitted>returned:Head of consular section, Beijing",
			"returned>submitted:Dominic Barton", "submitted>approved:Head of consular section, Beijing"}
		if !slices.Equal(moves, want) {
			t.Errorf("history %v, want %v", moves, want)
		}
		if r.Events[2].Comment != "Say which lawyer was refused." {
			t.Errorf("return comment lost: %+v", r.Events[2])
		}

		// Notices: each submission to the supervisors of the case who did not
		// write it; each decision to the author.
		var to []string
		for _, m := range fx.mails(t, notify.ReportSubmitted) {
			to = append(to, m.userID)
			if !strings.Contains(m.body, "https://attache.example.org/cases/"+fx.caseID+"/visits/"+v+"/report") || strings.Contains(m.body, "Kovrig") {
				t.Errorf("submitted notice %+v", m)
			}
		}
		if want := []string{fx.users["sup"].ID, fx.users["sup"].ID}; !slices.Equal(to, want) {
			t.Errorf("submitted notices to %v, want sup twice (not sup2, who edited it, nor Tehran)", to)
		}
		decided := fx.mails(t, notify.ReportDecided)
		if len(decided) != 2 || decided[0].userID != fx.users["barton"].ID || decided[1].userID != fx.users["barton"].ID || decided[0].key == decided[1].key {
			t.Errorf("decision notices %+v", decided)
		}
		subjects := decided[0].subject + decided[1].subject
		if !strings.Contains(subjects, "approved") || !strings.Contains(subjects, "returned") {
			t.Errorf("decision subjects %q", subjects)
		}

		// Lists.
		list, err := fx.reports.ForCase(ctx, fx.as("consul"), fx.caseID)
		if err != nil || len(list) != 1 || list[0].State != reports.Approved || list[0].VisitID != v || list[0].PersonName != "Michael Kovrig" {
			t.Errorf("ForCase %+v %v", list, err)
		}
	})
}

func amendErr(_ *reports.Amendment, err error) error { return err }

func TestFourEyesForTheAuthor(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := context.Background()
		// A supervisor writes and submits the report: they may not approve
		// it, and it does not wait for them.
		if _, err := fx.reports.Create(ctx, fx.as("sup"), fx.caseID, fx.visitID); err != nil {
			t.Fatal(err)
		}
		if err := fx.reports.SaveDraft(ctx, fx.as("sup"), fx.caseID, fx.visitID, complete(), 1); err != nil {
			t.Fatal(err)
		}
		if err := fx.reports.Submit(ctx, fx.as("sup"), fx.caseID, fx.visitID, 2); err != nil {
			t.Fatal(err)
		}
		before := fx.stored(t, fx.visitID)
		refused(t, fx, fx.visitID, before, "approval by the author", fx.reports.Approve(ctx, fx.as("sup"), fx.caseID, fx.visitID, 3), problem.Forbidden, "You wrote")
		refused(t, fx, fx.visitID, before, "return by the author", fx.reports.Return(ctx, fx.as("sup"), fx.caseID, fx.visitID, 3, "hm"), problem.Forbidden, "You wrote")
		for user, want := range map[string]int{"sup": 0, "sup2": 1, "admin": 0, "suptehran": 0, "barton": 0, "auditor": 0} {
			list, err := fx.reports.PendingApproval(ctx, fx.as(user))
			if err != nil || len(list) != want {
				t.Errorf("%s: %d reports pending, want %d (%v)", user, len(list), want, err)
			}
		}
		if err := fx.reports.Approve(ctx, fx.as("sup2"), fx.caseID, fx.visitID, 3); err != nil {
			t.Fatalf("approval by the other supervisor: %v", err)
		}
		if list, _ := fx.reports.PendingApproval(ctx, fx.as("sup2")); len(list) != 0 {
			t.Errorf("approved report still pending: %+v", list)
		}
		// The submission went to the China-desk supervisor only.
		ms := fx.mails(t, notify.ReportSubmitted)
		if len(ms) != 1 || ms[0].userID != fx.users["sup2"].ID {
			t.Errorf("submission notices %+v", ms)
		}

		// A supervisor who submits an officer's report vouches for it: they
		// may not approve it either.
		v := fx.heldVisit(t, fx.caseID, "held", time.Date(2020, 11, 12, 2, 0, 0, 0, time.UTC))
		if _, err := fx.reports.Create(ctx, fx.as("barton"), fx.caseID, v); err != nil {
			t.Fatal(err)
		}
		if err := fx.reports.SaveDraft(ctx, fx.as("barton"), fx.caseID, v, complete(), 1); err != nil {
			t.Fatal(err)
		}
		if err := fx.reports.Submit(ctx, fx.as("sup2"), fx.caseID, v, 2); err != nil {
			t.Fatal(err)
		}
		before = fx.stored(t, v)
		refused(t, fx, v, before, "approval by the submitter", fx.reports.Approve(ctx, fx.as("sup2"), fx.caseID, v, 3), problem.Forbidden, "You wrote or submitted")
		if list, _ := fx.reports.PendingApproval(ctx, fx.as("sup2")); len(list) != 0 {
			t.Errorf("the submitter's pending list: %+v", list)
		}
		if list, _ := fx.reports.PendingApproval(ctx, fx.as("sup")); len(list) != 1 || list[0].VisitID != v || list[0].State != reports.Submitted {
			t.Errorf("the other supervisor's pending list: %+v", list)
		}
		if err := fx.reports.Approve(ctx, fx.as("sup"), fx.caseID, v, 3); err != nil {
			t.Errorf("approval by the other supervisor: %v", err)
		}
	})
}

func TestOtherPostSeesNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := context.Background()
		if _, err := fx.reports.Create(ctx, fx.as("barton"), fx.caseID, fx.visitID); err != nil {
			t.Fatal(err)
		}
		b := complete()
		b.HealthEmergency = true
		if err := fx.reports.SaveDraft(ctx, fx.as("barton"), fx.caseID, fx.visitID, b, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.reports.AddFollowUp(ctx, fx.as("barton"), fx.caseID, fx.visitID, reports.FollowUpInput{Description: "Send books",
			OwnerID: fx.users["barton"].ID, Due: "2020-11-21"}); err != nil {
			t.Fatal(err)
		}
		fx.clock.Add(3 * 24 * time.Hour)
		before := fx.stored(t, fx.visitID)
		for _, who := range []string{"tehran", "hqiran", "auditor"} {
			a := fx.as(who)
			checks := map[string]error{}
			_, checks["get"] = fx.reports.Get(ctx, a, fx.caseID, fx.visitID)
			_, checks["list"] = fx.reports.ForCase(ctx, a, fx.caseID)
			checks["save"] = fx.reports.SaveDraft(ctx, a, fx.caseID, fx.visitID, complete(), 2)
			checks["submit"] = fx.reports.Submit(ctx, a, fx.caseID, fx.visitID, 2)
			_, checks["create"] = fx.reports.Create(ctx, a, fx.caseID, fx.visitID)
			_, checks["follow-ups"] = fx.reports.OpenFollowUps(ctx, a, fx.caseID)
			_, checks["add follow-up"] = fx.reports.AddFollowUp(ctx, a, fx.caseID, fx.visitID, reports.FollowUpInput{Description: "x", OwnerID: a.User.ID, Due: "2020-12-01"})
			for what, err := range checks {
				if !problem.Is(err, problem.NotFound) || strings.Contains(err.Error(), "report") {
					t.Errorf("%s %s: %v, want the case's not-found", who, what, err)
				}
			}
			if after := fx.stored(t, fx.visitID); after != before {
				t.Errorf("%s changed the report", who)
			}
			esc, err := fx.reports.OpenEscalations(ctx, a)
			if err != nil || len(esc) != 0 {
				t.Errorf("%s sees escalations %+v %v", who, esc, err)
			}
			due, err := fx.reports.DueFollowUps(ctx, a)
			if err != nil || len(due) != 0 {
				t.Errorf("%s sees follow-ups %+v %v", who, due, err)
			}
			// Nothing was read, so no read was recorded.
			if n := fx.audits(t, "report.view", who, fx.caseID) + fx.audits(t, "report.list", who, fx.caseID); n != 0 {
				t.Errorf("%s: %d reads audited", who, n)
			}
		}
		// The same calls succeed for the case's own post.
		if esc, err := fx.reports.OpenEscalations(ctx, fx.as("consul")); err != nil || len(esc) != 1 || esc[0].Flag != reports.FlagHealthEmergency {
			t.Errorf("consul's escalations %+v %v", esc, err)
		}
		if due, err := fx.reports.DueFollowUps(ctx, fx.as("consul")); err != nil || len(due) != 1 || !due[0].Overdue {
			t.Errorf("consul's follow-ups %+v %v", due, err)
		}
	})
}

func TestEscalationsAreSentOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := context.Background()
		// A detainee born in March 2004 is 16 at a visit in November 2020.
		minorCase := fx.openCase(t, "Young Detainee", "2004-03", "Beijing", "China")
		v := fx.heldVisit(t, minorCase, "held", time.Date(2020, 11, 19, 2, 0, 0, 0, time.UTC))
		if _, err := fx.reports.Create(ctx, fx.as("barton"), minorCase, v); err != nil {
			t.Fatal(err)
		}
		b := complete()
		b.Allegation = reports.Allegation{Alleged: true, Narrative: "Beaten during interrogation on 2 November.", SignsObserved: "Bruise on left cheek.",
			Permission: "yes", PermissionAt: "2020-11-19", PermissionHow: "verbal"}
		for version := 1; version <= 2; version++ {
			if err := fx.reports.SaveDraft(ctx, fx.as("barton"), minorCase, v, b, version); err != nil {
				t.Fatal(err)
			}
		}
		// Cleared and ticked again: still raised once.
		b.Allegation.Alleged = false
		if err := fx.reports.SaveDraft(ctx, fx.as("consul"), minorCase, v, b, 3); err != nil {
			t.Fatal(err)
		}
		b.Allegation.Alleged = true
		if err := fx.reports.SaveDraft(ctx, fx.as("barton"), minorCase, v, b, 4); err != nil {
			t.Fatal(err)
		}
		if err := fx.reports.Submit(ctx, fx.as("barton"), minorCase, v, 5); err != nil {
			t.Fatal(err)
		}

		mails := fx.mails(t, notify.Escalation)
		got := map[string]int{}
		keys := map[string]int{}
		var ref string
		if err := d.QueryRowContext(ctx, `SELECT reference FROM cases WHERE id = $1`, minorCase).Scan(&ref); err != nil {
			t.Fatal(err)
		}
		for _, m := range mails {
			keys[m.key]++
			for _, flag := range []string{"mistreatment", "minor"} {
				if strings.Contains(m.key, ":"+flag+":") {
					got[m.userID+" "+flag]++
				}
			}
			// No sensitive detail: the reference, the label and the link.
			if !strings.Contains(m.body, ref) || !strings.Contains(m.body, "https://attache.example.org/cases/"+minorCase+"/visits/"+v+"/report") ||
				strings.Contains(m.body, "Young Detainee") || strings.Contains(m.body, "Beaten") || strings.Contains(m.subject, "Young") {
				t.Errorf("escalation mail %+v", m)
			}
		}
		want := map[string]int{}
		for _, u := range []string{"sup", "sup2", "hqchina"} {
			for _, flag := range []string{"mistreatment", "minor"} {
				want[fx.users[u].ID+" "+flag] = 1
			}
		}
		if len(mails) != 6 || len(got) != len(want) {
			t.Errorf("%d escalation mails %v, want one per recipient and flag %v", len(mails), got, want)
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("mails for %s: %d, want %d", k, got[k], n)
			}
		}
		for k, n := range keys {
			if n != 1 || !strings.HasPrefix(k, "escalation:") {
				t.Errorf("mail key %s used %d times", k, n)
			}
		}
		for _, outsider := range []string{"suptehran", "hqiran", "barton", "consul", "admin", "auditor", "tehran"} {
			for _, m := range mails {
				if m.userID == fx.users[outsider].ID {
					t.Errorf("%s, without need-to-know or not a supervisor or HQ officer, was told", outsider)
				}
			}
		}

		// The dashboard and the acknowledgement.
		open, err := fx.reports.OpenEscalations(ctx, fx.as("sup"))
		if err != nil || len(open) != 2 {
			t.Fatalf("open escalations %+v %v", open, err)
		}
		for _, e := range open {
			if e.CaseID != minorCase || e.VisitID != v || e.Reference != ref || e.Label == "" || !slices.Contains([]string{"mistreatment", "minor"}, e.Flag) {
				t.Errorf("escalation %+v", e)
			}
		}
		id := open[0].ID
		for _, tc := range []struct {
			who  string
			kind problem.Kind
		}{{"barton", problem.Forbidden}, {"hqchina", problem.Forbidden}, {"suptehran", problem.NotFound}, {"auditor", problem.NotFound}} {
			if err := fx.reports.Acknowledge(ctx, fx.as(tc.who), id, "seen"); !problem.Is(err, tc.kind) {
				t.Errorf("acknowledgement by %s: %v, want %s", tc.who, err, tc.kind)
			}
		}
		if err := fx.reports.Acknowledge(ctx, fx.as("sup"), "no-such-id", ""); !problem.Is(err, problem.NotFound) {
			t.Errorf("unknown escalation: %v", err)
		}
		if err := fx.reports.Acknowledge(ctx, fx.as("sup"), id, "Raised with the MFA by note verbale."); err != nil {
			t.Fatal(err)
		}
		if err := fx.reports.Acknowledge(ctx, fx.as("sup2"), id, "me too"); !problem.Is(err, problem.Conflict) {
			t.Errorf("second acknowledgement: %v", err)
		}
		if open, _ := fx.reports.OpenEscalations(ctx, fx.as("hqchina")); len(open) != 1 || open[0].ID == id {
			t.Errorf("after acknowledgement %+v", open)
		}
		r, err := fx.reports.Get(ctx, fx.as("sup"), minorCase, v)
		if err != nil || len(r.Escalations) != 2 {
			t.Fatalf("report escalations %+v %v", r, err)
		}
		for _, e := range r.Escalations {
			if e.ID == id && (e.AcknowledgedBy != fx.users["sup"].ID || e.Note != "Raised with the MFA by note verbale." || e.AcknowledgedAt.IsZero()) {
				t.Errorf("acknowledged escalation %+v", e)
			}
		}
		list, err := fx.reports.ForCase(ctx, fx.as("sup"), minorCase)
		if err != nil || len(list) != 1 || len(list[0].Flags) != 2 {
			t.Errorf("ForCase flags %+v %v", list, err)
		}

		// The adult's report raises nothing.
		if _, err := fx.reports.Create(ctx, fx.as("barton"), fx.caseID, fx.visitID); err != nil {
			t.Fatal(err)
		}
		if err := fx.reports.SaveDraft(ctx, fx.as("barton"), fx.caseID, fx.visitID, complete(), 1); err != nil {
			t.Fatal(err)
		}
		if n := len(fx.mails(t, notify.Escalation)); n != 6 {
			t.Errorf("%d escalation mails after the adult's report, want still 6", n)
		}
		// A high-profile case raises its flag on creation.
		hp := fx.openCase(t, "Famous Detainee", "1980", "Beijing", "China")
		if _, err := d.ExecContext(ctx, `UPDATE cases SET high_profile = TRUE WHERE id = $1`, hp); err != nil {
			t.Fatal(err)
		}
		hv := fx.heldVisit(t, hp, "held", time.Date(2020, 11, 18, 2, 0, 0, 0, time.UTC))
		r, err = fx.reports.Create(ctx, fx.as("consul"), hp, hv)
		if err != nil || len(r.Escalations) != 1 || r.Escalations[0].Flag != reports.FlagHighProfile {
			t.Errorf("high-profile report %+v %v", r, err)
		}
		// So does an elderly detainee.
		old := fx.openCase(t, "Elderly Detainee", "1950-06", "Beijing", "China")
		ov := fx.heldVisit(t, old, "held", time.Date(2020, 11, 18, 2, 0, 0, 0, time.UTC))
		r, err = fx.reports.Create(ctx, fx.as("consul"), old, ov)
		if err != nil || len(r.Escalations) != 1 || r.Escalations[0].Flag != reports.FlagOver65 {
			t.Errorf("elderly detainee's report %+v %v", r, err)
		}
	})
}

func TestFollowUps(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := context.Background()
		if _, err := fx.reports.Create(ctx, fx.as("barton"), fx.caseID, fx.visitID); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.reports.AddFollowUp(ctx, fx.as("barton"), fx.caseID, "no-such-visit", reports.FollowUpInput{Description: "x",
			OwnerID: fx.users["barton"].ID, Due: "2020-12-01"}); !problem.Is(err, problem.NotFound) {
			t.Errorf("follow-up without a report: %v", err)
		}
		for _, tc := range []struct {
			name  string
			in    reports.FollowUpInput
			field string
		}{
			{"owner at another post", reports.FollowUpInput{Description: "Send money", OwnerID: fx.users["tehran"].ID, Due: "2020-12-01"}, "owner_id"},
			{"owner who may not change cases", reports.FollowUpInput{Description: "Send money", OwnerID: fx.users["auditor"].ID, Due: "2020-12-01"}, "owner_id"},
			{"unknown owner", reports.FollowUpInput{Description: "Send money", OwnerID: "nobody", Due: "2020-12-01"}, "owner_id"},
			{"no description", reports.FollowUpInput{Description: " ", OwnerID: fx.users["consul"].ID, Due: "2020-12-01"}, "description"},
			{"month only", reports.FollowUpInput{Description: "Send money", OwnerID: fx.users["consul"].ID, Due: "2020-12"}, "due"},
			{"not a date", reports.FollowUpInput{Description: "Send money", OwnerID: fx.users["consul"].ID, Due: "soon"}, "due"},
			{"in the past", reports.FollowUpInput{Description: "Send money", OwnerID: fx.users["consul"].ID, Due: "2020-11-01"}, "due"},
		} {
			_, err := fx.reports.AddFollowUp(ctx, fx.as("barton"), fx.caseID, fx.visitID, tc.in)
			if pe, ok := problem.As(err); !ok || pe.Kind != problem.Invalid || pe.Fields[tc.field] == "" {
				t.Errorf("%s: %v, want an error on %s", tc.name, err, tc.field)
			}
		}
		var n int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM report_follow_ups`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("refused follow-ups stored: %d %v", n, err)
		}
		// Due on Monday 23 November, Beijing time.
		fu, err := fx.reports.AddFollowUp(ctx, fx.as("barton"), fx.caseID, fx.visitID, reports.FollowUpInput{Description: "Deliver English novels",
			OwnerID: fx.users["consul"].ID, Due: "2020-11-23"})
		if err != nil {
			t.Fatal(err)
		}
		if !fu.DueStarts.Equal(time.Date(2020, 11, 22, 16, 0, 0, 0, time.UTC)) || !fu.DueEnds.Equal(time.Date(2020, 11, 23, 16, 0, 0, 0, time.UTC)) || fu.OwnerName != "Consul" {
			t.Errorf("follow-up %+v", fu)
		}
		// The HQ desk officer owns one too: they may change the case.
		if _, err := fx.reports.AddFollowUp(ctx, fx.as("barton"), fx.caseID, fx.visitID, reports.FollowUpInput{Description: "Brief the minister",
			OwnerID: fx.users["hqchina"].ID, Due: "2020-12-15"}); err != nil {
			t.Fatal(err)
		}
		// A follow-up in a Tehran case.
		tc := fx.openCase(t, "Tehran Detainee", "", "Tehran", "Iran")
		tv := fx.heldVisit(t, tc, "held", time.Date(2020, 11, 18, 2, 0, 0, 0, time.UTC))
		if _, err := fx.reports.Create(ctx, fx.as("tehran"), tc, tv); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.reports.AddFollowUp(ctx, fx.as("tehran"), tc, tv, reports.FollowUpInput{Description: "Call the lawyer",
			OwnerID: fx.users["tehran"].ID, Due: "2020-11-21"}); err != nil {
			t.Fatal(err)
		}

		due := func(who string) []string {
			t.Helper()
			list, err := fx.reports.DueFollowUps(ctx, fx.as(who))
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, f := range list {
				s := f.Description
				if f.Overdue {
					s += " (overdue)"
				}
				out = append(out, s)
			}
			return out
		}
		if got := due("barton"); len(got) != 0 {
			t.Errorf("nothing is due yet in Beijing: %v", got)
		}
		// Monday 23 November 00:30 in Beijing: the delivery is due today; the
		// Tehran call (due Saturday) is overdue, for Tehran's eyes only.
		fx.clock.Add(3*24*time.Hour - 8*time.Hour + 30*time.Minute)
		for who, want := range map[string][]string{
			"barton":    {"Deliver English novels"},
			"hqchina":   {"Deliver English novels"},
			"tehran":    {"Call the lawyer (overdue)"},
			"suptehran": {"Call the lawyer (overdue)"},
			"admin":     nil, // administrators read no case outside need-to-know
			"auditor":   nil,
		} {
			if got := due(who); !slices.Equal(got, want) {
				t.Errorf("%s: due %v, want %v", who, got, want)
			}
		}
		fx.clock.Add(24 * time.Hour)
		if got := due("consul"); !slices.Equal(got, []string{"Deliver English novels (overdue)"}) {
			t.Errorf("a day later: %v", got)
		}

		// Done once.
		if err := fx.reports.CompleteFollowUp(ctx, fx.as("tehran"), fx.caseID, fu.ID); !problem.Is(err, problem.NotFound) {
			t.Errorf("completed by another post: %v", err)
		}
		if err := fx.reports.CompleteFollowUp(ctx, fx.as("barton"), tc, fu.ID); !problem.Is(err, problem.NotFound) {
			t.Errorf("completed through another case: %v", err)
		}
		if err := fx.reports.CompleteFollowUp(ctx, fx.as("consul"), fx.caseID, fu.ID); err != nil {
			t.Fatal(err)
		}
		var doneBy string
		if err := d.QueryRowContext(ctx, `SELECT done_by FROM report_follow_ups WHERE id = $1`, fu.ID).Scan(&doneBy); err != nil || doneBy != fx.users["consul"].ID {
			t.Errorf("done by %q %v", doneBy, err)
		}
		fx.clock.Add(time.Hour)
		if err := fx.reports.CompleteFollowUp(ctx, fx.as("barton"), fx.caseID, fu.ID); !problem.Is(err, problem.Conflict) || !strings.Contains(err.Error(), "done already") {
			t.Errorf("completed twice: %v", err)
		}
		if err := d.QueryRowContext(ctx, `SELECT done_by FROM report_follow_ups WHERE id = $1`, fu.ID).Scan(&doneBy); err != nil || doneBy != fx.users["consul"].ID {
			t.Errorf("second completion changed done_by to %q %v", doneBy, err)
		}
		open, err := fx.reports.OpenFollowUps(ctx, fx.as("barton"), fx.caseID)
		if err != nil || len(open) != 1 || open[0].Description != "Brief the minister" {
			t.Errorf("open follow-ups %+v %v", open, err)
		}
		if got := due("barton"); len(got) != 0 {
			t.Errorf("done follow-up still due: %v", got)
		}
		r, err := fx.reports.Get(ctx, fx.as("barton"), fx.caseID, fx.visitID)
		if err != nil || len(r.FollowUps) != 2 || r.FollowUps[0].DoneAt.IsZero() || r.FollowUps[0].DoneByName != "Consul" {
			t.Errorf("report follow-ups %+v %v", r, err)
		}
	})
}

func TestConcurrentSavesOneWins(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := context.Background()
		if _, err := fx.reports.Create(ctx, fx.as("barton"), fx.caseID, fx.visitID); err != nil {
			t.Fatal(err)
		}
		const editors = 8
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, editors)
		for i := range editors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := complete()
				b.Summary = "Version by editor " + string(rune('A'+i))
				who := "barton"
				if i%2 == 1 {
					who = "consul"
				}
				<-start
				errs[i] = fx.reports.SaveDraft(ctx, fx.as(who), fx.caseID, fx.visitID, b, 1)
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Errorf("editors %d and %d both saved version 1", winner, i)
			case !problem.Is(err, problem.Conflict):
				t.Errorf("editor %d: %v, want a conflict", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no editor saved")
		}
		r, err := fx.reports.Get(ctx, fx.as("barton"), fx.caseID, fx.visitID)
		if err != nil || r.Version != 2 || r.Body.Summary != "Version by editor "+string(rune('A'+winner)) {
			t.Errorf("stored %+v %v, want version 2 by editor %d", r, err, winner)
		}
		var saves int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE action = 'report.save'`).Scan(&saves); err != nil || saves != 1 {
			t.Errorf("%d saves audited, want 1 (%v)", saves, err)
		}
	})
}

func TestEveryReadAndWriteIsAudited(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := context.Background()
		c, v := fx.caseID, fx.visitID
		steps := []struct {
			who, action string
			do          func() error
		}{
			{"barton", "report.create", func() error { _, err := fx.reports.Create(ctx, fx.as("barton"), c, v); return err }},
			{"barton", "report.save", func() error {
				b := complete()
				b.AccessDenied = true
				return fx.reports.SaveDraft(ctx, fx.as("barton"), c, v, b, 1)
			}},
			{"barton", "report.escalate", func() error { return nil }}, // raised by the save
			{"consul", "report.view", func() error { _, err := fx.reports.Get(ctx, fx.as("consul"), c, v); return err }},
			{"consul", "report.list", func() error { _, err := fx.reports.ForCase(ctx, fx.as("consul"), c); return err }},
			{"barton", "report.followup_add", func() error {
				_, err := fx.reports.AddFollowUp(ctx, fx.as("barton"), c, v, reports.FollowUpInput{Description: "Visit again", OwnerID: fx.users["barton"].ID, Due: "2020-12-19"})
				return err
			}},
			{"barton", "report.followups_view", func() error { _, err := fx.reports.OpenFollowUps(ctx, fx.as("barton"), c); return err }},
			{"barton", "report.submit", func() error { return fx.reports.Submit(ctx, fx.as("barton"), c, v, 2) }},
			{"sup", "report.return", func() error { return fx.reports.Return(ctx, fx.as("sup"), c, v, 3, "Add the time of the visit.") }},
			{"barton", "report.submit", func() error { return fx.reports.Submit(ctx, fx.as("barton"), c, v, 4) }},
			{"sup", "report.approve", func() error { return fx.reports.Approve(ctx, fx.as("sup"), c, v, 5) }},
			{"consul", "report.amend", func() error {
				_, err := fx.reports.Amend(ctx, fx.as("consul"), c, v, reports.AmendmentInput{Section: "duration", Corrected: "35 minutes", Reason: "Log checked"})
				return err
			}},
		}
		for _, st := range steps {
			if err := st.do(); err != nil {
				t.Fatalf("%s: %v", st.action, err)
			}
		}
		want := map[string]int{"report.create": 1, "report.save": 1, "report.escalate": 1, "report.view": 1, "report.list": 1, "report.followup_add": 1,
			"report.followups_view": 1, "report.submit": 2, "report.return": 1, "report.approve": 1, "report.amend": 1}
		for _, st := range steps {
			if got := fx.audits(t, st.action, st.who, c); got != want[st.action] {
				t.Errorf("%s by %s: %d audit entries, want %d", st.action, st.who, got, want[st.action])
			}
		}
		// Refused changes leave no entry.
		var total int
		count := func() int {
			if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log`).Scan(&total); err != nil {
				t.Fatal(err)
			}
			return total
		}
		before := count()
		_ = fx.reports.SaveDraft(ctx, fx.as("barton"), c, v, complete(), 6)
		_ = fx.reports.Approve(ctx, fx.as("sup"), c, v, 6)
		_ = fx.reports.Submit(ctx, fx.as("tehran"), c, v, 6)
		if after := count(); after != before {
			t.Errorf("refused changes wrote %d audit entries", after-before)
		}
		// Dashboard reads are audited too.
		if _, err := fx.reports.OpenEscalations(ctx, fx.as("sup")); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.reports.DueFollowUps(ctx, fx.as("sup")); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.reports.PendingApproval(ctx, fx.as("sup")); err != nil {
			t.Fatal(err)
		}
		var dash int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE actor_id = $1 AND action IN
			('report.escalations_view', 'report.followups_due_view', 'report.pending_view')`, fx.users["sup"].ID).Scan(&dash); err != nil || dash != 3 {
			t.Errorf("%d dashboard reads audited, want 3 (%v)", dash, err)
		}
		if rep, err := fx.audit.Verify(ctx); err != nil || !rep.OK() {
			t.Errorf("audit chain %+v %v", rep, err)
		}
	})
}
