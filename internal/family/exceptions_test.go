package family_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/family"
	"github.com/attache-org/attache/internal/problem"
)

// user adds a user of a role, post and desk to the fixture.
func (fx *fixture) user(username string, role auth.Role, post, desk string) {
	fx.t.Helper()
	u, err := fx.users.CreateUser(fx.ctx, audit.System, auth.UserInput{Username: username, DisplayName: "User " + username,
		Email: username + "@example.org", Role: role, Post: post, Desk: desk}, password, false)
	if err != nil {
		fx.t.Fatal(err)
	}
	fx.staff[username] = u
}

// A disclosure without consent: only a supervisor of the case authorises
// it, for a listed reason with a justification and a few days; it lets the
// family see the categories it names while it counts, never messages, and
// never against the detainee's withdrawal; it ends by itself, by hand, or
// (for a detainee not yet met) at the first consular contact.
func TestDisclosureExceptions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := fx.ctx
		fx.user("chief", auth.RoleSupervisor, "Beijing", "")
		fx.user("farsi", auth.RoleSupervisor, "Tehran", "")
		fx.user("deskchief", auth.RoleSupervisor, "", "China")
		fx.user("root", auth.RoleAdmin, "", "")
		// An administrator reads a case only from its team.
		if _, err := fx.d.ExecContext(ctx, `INSERT INTO case_officers (case_id, user_id) VALUES ($1, $2)`, fx.caseA, fx.staff["root"].ID); err != nil {
			t.Fatal(err)
		}
		alice := fx.contact(fx.caseA, "Alice Kovrig", "alice@example.net")
		tom := fx.contact(fx.caseA, "Tom Kovrig", "tom@example.net")
		gone := fx.contact(fx.caseA, "Old Friend", "")
		peter := fx.contact(fx.caseB, "Peter Spavor", "")
		if err := fx.fam.ArchiveContact(ctx, fx.as("barton"), fx.caseA, gone, "moved away"); err != nil {
			t.Fatal(err)
		}
		visits := fx.consent(fx.caseA, []string{alice}, family.Visits)
		withdrawn := fx.consent(fx.caseA, []string{tom}, family.Legal)
		if err := fx.fam.WithdrawConsent(ctx, fx.as("barton"), fx.caseA, withdrawn, family.Withdrawal{Date: "2026-04-16", Method: "written"}); err != nil {
			t.Fatal(err)
		}
		rows := func() int { return fx.count(`SELECT COUNT(*) FROM family_disclosure_exceptions`) }
		good := family.ExceptionInput{ContactID: alice, Categories: []family.Category{family.Health, family.Location}, Reason: "risk_to_life",
			Justification: "He collapsed in his cell on 18 April; his wife must know which hospital.", Days: 7}
		with := func(change func(*family.ExceptionInput)) family.ExceptionInput {
			in := good
			in.Categories = slices.Clone(good.Categories)
			change(&in)
			return in
		}

		// Who may not: an officer of the case, a supervisor elsewhere,
		// an auditor, a family member.
		ua := fx.account(fx.caseA, alice, "alice")
		for _, tc := range []struct {
			name  string
			actor string
			kind  problem.Kind
		}{
			{"officer of the case", "barton", problem.Forbidden},
			{"supervisor of another post", "farsi", problem.NotFound},
			{"auditor", "auditor", problem.NotFound},
		} {
			_, err := fx.fam.AuthorizeException(ctx, fx.as(tc.actor), fx.caseA, good)
			if !problem.Is(err, tc.kind) {
				t.Errorf("%s: %v, want %s", tc.name, err, tc.kind)
			}
		}
		if _, err := fx.fam.AuthorizeException(ctx, member(ua), fx.caseA, good); !problem.Is(err, problem.NotFound) {
			t.Errorf("family member: %v", err)
		}

		// Bad input: a clear error on the field, and nothing recorded.
		for _, tc := range []struct {
			name, field, says string
			in                family.ExceptionInput
		}{
			{"no category", "categories", "Choose what may be shared", with(func(in *family.ExceptionInput) { in.Categories = nil })},
			{"messages", "categories", "Messages are the detainee's own", with(func(in *family.ExceptionInput) {
				in.Categories = append(in.Categories, family.Messages)
			})},
			{"unknown category", "categories", "Choose categories from the list", with(func(in *family.ExceptionInput) {
				in.Categories = []family.Category{"shoe_size"}
			})},
			{"consented already", "categories", "consented to share the dates of visits with Alice Kovrig already", with(func(in *family.ExceptionInput) {
				in.Categories = []family.Category{family.Visits}
			})},
			{"withdrawn by the detainee", "categories", "does not override the detainee's refusal", with(func(in *family.ExceptionInput) {
				in.ContactID, in.Categories = tom, []family.Category{family.Legal}
			})},
			{"no reason", "reason", "Choose the reason", with(func(in *family.ExceptionInput) { in.Reason = "" })},
			{"unknown reason", "reason", "Choose the reason", with(func(in *family.ExceptionInput) { in.Reason = "curiosity" })},
			{"no justification", "justification", "Say why the family must be told", with(func(in *family.ExceptionInput) { in.Justification = "  " })},
			{"a word of justification", "justification", "in a sentence or two", with(func(in *family.ExceptionInput) { in.Justification = "urgent" })},
			{"no days", "days", "from 1 to 30", with(func(in *family.ExceptionInput) { in.Days = 0 })},
			{"too many days", "days", "from 1 to 30", with(func(in *family.ExceptionInput) { in.Days = 31 })},
			{"archived contact", "contact_id", "not archived", with(func(in *family.ExceptionInput) { in.ContactID = gone })},
			{"contact of another case", "contact_id", "not archived", with(func(in *family.ExceptionInput) { in.ContactID = peter })},
		} {
			_, err := fx.fam.AuthorizeException(ctx, fx.as("chief"), fx.caseA, tc.in)
			pe, ok := problem.As(err)
			if !ok || pe.Kind != problem.Invalid || !strings.Contains(pe.Fields[tc.field], tc.says) {
				t.Errorf("%s: %v, want %s saying %q", tc.name, err, tc.field, tc.says)
			}
		}
		if n := rows(); n != 0 {
			t.Fatalf("%d exceptions recorded by refused requests", n)
		}
		if dec := fx.fam.Check(ctx, nil, fx.caseA, alice, family.Health); dec.Allowed {
			t.Fatal("health allowed before any exception")
		}

		// The supervisor authorises: the family member sees health and the
		// facility's time zone (location) while it counts.
		next := time.Date(2026, 4, 23, 2, 0, 0, 0, time.UTC)
		fx.visit(fx.caseA, next, "planned", "consular")
		e, err := fx.fam.AuthorizeException(ctx, fx.as("chief"), fx.caseA, good)
		if err != nil {
			t.Fatal(err)
		}
		if e.State != family.ExceptionActive || !e.Expires.Equal(fx.clock.Now().Add(7*24*time.Hour)) || e.ContactName != "Alice Kovrig" {
			t.Errorf("exception %+v", e)
		}
		if dec := fx.fam.Check(ctx, nil, fx.caseA, alice, family.Health); !dec.Allowed || dec.ExceptionID != e.ID || dec.ConsentID != "" {
			t.Errorf("health under the exception: %+v", dec)
		}
		if dec := fx.fam.Check(ctx, nil, fx.caseA, alice, family.Visits); !dec.Allowed || dec.ExceptionID != "" || dec.Basis() != "consent="+visits {
			t.Errorf("visits stay under the consent: %+v", dec)
		}
		for _, c := range []family.Category{family.Legal, family.Messages} {
			if dec := fx.fam.Check(ctx, nil, fx.caseA, alice, c); dec.Allowed {
				t.Errorf("%s allowed, beyond the exception", c)
			}
		}
		if dec := fx.fam.Check(ctx, nil, fx.caseA, tom, family.Health); dec.Allowed {
			t.Error("the exception reaches another contact")
		}
		pc, err := fx.fam.Portal(ctx, member(ua))
		if err != nil || len(pc) != 1 {
			t.Fatalf("portal: %v %v", pc, err)
		}
		if want := []family.Category{family.Visits, family.Location, family.Health}; !slices.Equal(pc[0].Shared, want) {
			t.Errorf("shared %v, want %v", pc[0].Shared, want)
		}
		if pc[0].NextVisit == nil || pc[0].NextVisit.Zone != "Asia/Shanghai" {
			t.Errorf("next visit %+v, want in the facility's zone", pc[0].NextVisit)
		}
		if v := fx.last(fx.caseA, "family.portal_view"); !strings.Contains(v.Detail, "exceptions="+e.ID) || !strings.Contains(v.Detail, "disclosed=visits,location,health") {
			t.Errorf("the portal view audited %q", v.Detail)
		}
		if v := fx.last(fx.caseA, "family.exception_authorise"); v.Actor.ID != fx.staff["chief"].ID || !strings.Contains(v.Detail, "reason=risk_to_life") ||
			strings.Contains(v.Detail, "collapsed") {
			t.Errorf("the authorisation audited %+v", v)
		}

		// One exception at a time per contact and category.
		_, err = fx.fam.AuthorizeException(ctx, fx.as("chief"), fx.caseA, with(func(in *family.ExceptionInput) {
			in.Categories = []family.Category{family.Health}
		}))
		if pe, ok := problem.As(err); !ok || !strings.Contains(pe.Fields["categories"], "covers health information for Alice Kovrig until") {
			t.Errorf("an overlapping exception: %v", err)
		}

		// The withdrawal of a consent the detainee gives later stands
		// against the exception.
		legal, err := fx.fam.AuthorizeException(ctx, fx.as("chief"), fx.caseA, with(func(in *family.ExceptionInput) {
			in.Categories = []family.Category{family.Legal}
		}))
		if err != nil {
			t.Fatal(err)
		}
		if dec := fx.fam.Check(ctx, nil, fx.caseA, alice, family.Legal); !dec.Allowed || dec.ExceptionID != legal.ID {
			t.Errorf("legal under the second exception: %+v", dec)
		}
		c := fx.consent(fx.caseA, []string{alice}, family.Legal)
		if err := fx.fam.WithdrawConsent(ctx, fx.as("barton"), fx.caseA, c, family.Withdrawal{Date: "2026-04-20", Method: "written"}); err != nil {
			t.Fatal(err)
		}
		if dec := fx.fam.Check(ctx, nil, fx.caseA, alice, family.Legal); dec.Allowed || !strings.Contains(dec.Reason.String(), "withdrawn") {
			t.Errorf("legal after the detainee's withdrawal: %+v", dec)
		}

		// Ended by hand: by an officer of the case, once.
		if err := fx.fam.EndException(ctx, fx.as("tehran"), fx.caseA, e.ID, ""); !problem.Is(err, problem.NotFound) {
			t.Errorf("ended by another post: %v", err)
		}
		if err := fx.fam.EndException(ctx, fx.as("barton"), fx.caseA, "nope", ""); !problem.Is(err, problem.NotFound) {
			t.Errorf("ending an unknown exception: %v", err)
		}
		if err := fx.fam.EndException(ctx, fx.as("barton"), fx.caseB, e.ID, ""); !problem.Is(err, problem.NotFound) {
			t.Errorf("ending through another case: %v", err)
		}
		if err := fx.fam.EndException(ctx, fx.as("barton"), fx.caseA, e.ID, "He is back from hospital and can decide."); err != nil {
			t.Fatal(err)
		}
		if err := fx.fam.EndException(ctx, fx.as("barton"), fx.caseA, e.ID, ""); !problem.Is(err, problem.Conflict) {
			t.Errorf("ending twice: %v", err)
		}
		if dec := fx.fam.Check(ctx, nil, fx.caseA, alice, family.Health); dec.Allowed {
			t.Error("health still allowed after the end")
		}

		// Expired by time.
		short, err := fx.fam.AuthorizeException(ctx, fx.as("chief"), fx.caseA, with(func(in *family.ExceptionInput) {
			in.ContactID, in.Categories, in.Reason, in.Days = tom, []family.Category{family.Health}, "incapacity", 2
		}))
		if err != nil {
			t.Fatal(err)
		}
		if dec := fx.fam.Check(ctx, nil, fx.caseA, tom, family.Health); !dec.Allowed {
			t.Error("Tom's health exception does not count")
		}
		// What it allows reaches Tom: an invitation and a summary, each
		// audited with the exception.
		if _, _, err := fx.fam.Invite(ctx, fx.as("barton"), fx.caseA, tom); err != nil {
			t.Errorf("inviting Tom under the exception: %v", err)
		} else if v := fx.last(fx.caseA, "family.invite"); !strings.Contains(v.Detail, "shared=health:exception="+short.ID) {
			t.Errorf("the invitation audited %q", v.Detail)
		}
		sm, err := fx.fam.WriteSummary(ctx, fx.as("barton"), fx.caseA, family.SummaryInput{ContactID: tom, Categories: []family.Category{family.Health},
			Text: "He is in the prison hospital and is being treated."})
		if err != nil || len(sm.Reaches) != 1 || sm.Reaches[0].ContactID != tom {
			t.Errorf("a summary under the exception: %+v %v", sm, err)
		} else if v := fx.last(fx.caseA, "family.summary_write"); !strings.Contains(v.Detail, tom+"[health:exception="+short.ID+"]") {
			t.Errorf("the summary audited %q", v.Detail)
		}
		fx.clock.Add(48*time.Hour - time.Second)
		if dec := fx.fam.Check(ctx, nil, fx.caseA, tom, family.Health); !dec.Allowed {
			t.Error("the exception stopped before its time")
		}
		fx.clock.Add(time.Second)
		if dec := fx.fam.Check(ctx, nil, fx.caseA, tom, family.Health); dec.Allowed {
			t.Error("the exception counts after it expired")
		}

		// Not yet met: it counts until the first consular contact, and
		// cannot be authorised after it.
		unmet, err := fx.fam.AuthorizeException(ctx, fx.as("chief"), fx.caseA, with(func(in *family.ExceptionInput) {
			in.ContactID, in.Categories, in.Reason = tom, []family.Category{family.Visits}, "not_yet_met"
		}))
		if err != nil {
			t.Fatal(err)
		}
		if dec := fx.fam.Check(ctx, nil, fx.caseA, tom, family.Visits); !dec.Allowed || dec.ExceptionID != unmet.ID {
			t.Errorf("not yet met: %+v", dec)
		}
		if _, err := d.ExecContext(ctx, `INSERT INTO consular_contacts (id, case_id, happened, earliest, latest, mode, created_by, created_at)
			VALUES ($1, $2, '2026-04-22', 0, 0, 'phone', 'test', 0)`, db.NewID(), fx.caseA); err != nil {
			t.Fatal(err)
		}
		if dec := fx.fam.Check(ctx, nil, fx.caseA, tom, family.Visits); dec.Allowed {
			t.Error("a not-yet-met exception counts after the first contact")
		}
		_, err = fx.fam.AuthorizeException(ctx, fx.as("chief"), fx.caseA, with(func(in *family.ExceptionInput) {
			in.ContactID, in.Categories, in.Reason = tom, []family.Category{family.Location}, "not_yet_met"
		}))
		if pe, ok := problem.As(err); !ok || !strings.Contains(pe.Fields["reason"], "ask them for their consent") {
			t.Errorf("not yet met after a contact: %v", err)
		}

		sec, err := fx.fam.Section(ctx, fx.as("barton"), fx.caseA)
		if err != nil {
			t.Fatal(err)
		}
		states := map[string]string{}
		for _, x := range sec.Exceptions {
			states[x.ID] = x.State
		}
		want := map[string]string{e.ID: family.ExceptionEnded, legal.ID: family.ExceptionVoid, short.ID: family.ExceptionExpired, unmet.ID: family.ExceptionLapsed}
		if !maps.Equal(states, want) {
			t.Errorf("states %v, want %v", states, want)
		}
		if n := len(sec.Exceptions); n != 4 || sec.Exceptions[0].ID != unmet.ID {
			t.Errorf("the section lists %d exceptions, newest first: %+v", n, sec.Exceptions)
		}
		if v := fx.last(fx.caseA, "family.exception_end"); v.Actor.ID != fx.staff["barton"].ID || !strings.Contains(v.Detail, e.ID) {
			t.Errorf("the end audited %+v", v)
		}

		// A supervisor of the desk may authorise too, and an administrator
		// on the case's team (outside it, they do not see the case);
		// archiving the contact voids what they authorised.
		sam := fx.contact(fx.caseA, "Sam Kovrig", "")
		if _, err := fx.fam.AuthorizeException(ctx, fx.as("root"), fx.caseB, with(func(in *family.ExceptionInput) { in.ContactID = sam })); !problem.Is(err, problem.NotFound) {
			t.Fatalf("an administrator outside the team authorises: %v", err)
		}
		for _, who := range []string{"deskchief", "root"} {
			x, err := fx.fam.AuthorizeException(ctx, fx.as(who), fx.caseA, with(func(in *family.ExceptionInput) {
				in.ContactID, in.Categories = sam, []family.Category{family.Location}
				if who == "root" {
					in.Categories = []family.Category{family.Legal}
				}
			}))
			if err != nil || x.AuthorisedBy != "User "+who {
				t.Fatalf("%s authorises: %+v %v", who, x, err)
			}
		}
		if err := fx.fam.ArchiveContact(ctx, fx.as("barton"), fx.caseA, sam, "no longer in touch"); err != nil {
			t.Fatal(err)
		}
		list, err := fx.fam.Exceptions(ctx, fx.as("barton"), fx.caseA)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range list {
			if x.ContactID == sam && (x.State != family.ExceptionVoid || len(x.Allows) != 0) {
				t.Errorf("an exception for an archived contact is %s, allowing %v", x.State, x.Allows)
			}
		}
		if dec := fx.fam.Check(ctx, nil, fx.caseA, sam, family.Location); dec.Allowed {
			t.Error("an archived contact is shared with")
		}
	})
}
