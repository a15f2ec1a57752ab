package family_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/family"
	"github.com/attache-org/attache/internal/notify"
	"github.com/attache-org/attache/internal/problem"
)

func TestContacts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := fx.ctx
		alice, err := fx.fam.AddContact(ctx, fx.as("barton"), fx.caseA, family.ContactInput{Name: " Alice Kovrig ", Relationship: "spouse",
			Languages: []string{"en", "fr", "en"}, Email: "alice@example.net", Phone: "+1 613 555 0100", Designated: true})
		if err != nil {
			t.Fatal(err)
		}
		if alice.Name != "Alice Kovrig" || !slices.Equal(alice.Languages, []string{"en", "fr"}) || !alice.Designated {
			t.Errorf("contact %+v", alice)
		}
		// Bad input is refused on its field, and nothing is added.
		for _, tc := range []struct {
			name  string
			in    family.ContactInput
			field string
			words string
		}{
			{"no name", family.ContactInput{Relationship: "parent"}, "name", "name"},
			{"unknown relationship", family.ContactInput{Name: "X", Relationship: "cousin"}, "relationship", "relationship"},
			{"bad e-mail", family.ContactInput{Name: "X", Relationship: "parent", Email: "x at example.org"}, "email", "e-mail"},
			{"bad phone", family.ContactInput{Name: "X", Relationship: "parent", Phone: "call me"}, "phone", "telephone"},
			{"bad language", family.ContactInput{Name: "X", Relationship: "parent", Languages: []string{"not a language!"}}, "languages", "code"},
			{"second designated contact", family.ContactInput{Name: "Tom Kovrig", Relationship: "sibling", Designated: true}, "designated", "Alice Kovrig is the designated contact"},
		} {
			_, err := fx.fam.AddContact(ctx, fx.as("barton"), fx.caseA, tc.in)
			pe, ok := problem.As(err)
			if !ok || pe.Kind != problem.Invalid || !strings.Contains(pe.Fields[tc.field], tc.words) {
				t.Errorf("%s: %v, want invalid %s mentioning %q", tc.name, err, tc.field, tc.words)
			}
		}
		if n := fx.count(`SELECT COUNT(*) FROM family_contacts`); n != 1 {
			t.Fatalf("%d contacts after refused input, want 1", n)
		}
		// Officers without need-to-know: not found, nothing added or shown.
		for _, who := range []string{"tehran", "auditor"} {
			_, err := fx.fam.AddContact(ctx, fx.as(who), fx.caseA, family.ContactInput{Name: "Y", Relationship: "friend"})
			wantProblem(t, who+" adds", err, problem.NotFound, "No such case")
			list, err := fx.fam.Contacts(ctx, fx.as(who), fx.caseA, true)
			wantProblem(t, who+" lists", err, problem.NotFound, "No such case")
			if list != nil {
				t.Errorf("%s sees %+v", who, list)
			}
		}
		if n := fx.count(`SELECT COUNT(*) FROM family_contacts`); n != 1 {
			t.Fatalf("%d contacts, want 1", n)
		}
		tom, err := fx.fam.AddContact(ctx, fx.as("consul"), fx.caseA, family.ContactInput{Name: "Tom Kovrig", Relationship: "sibling"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fx.fam.UpdateContact(ctx, fx.as("barton"), fx.caseA, tom.ID, family.ContactInput{Name: "Tom Kovrig", Relationship: "sibling", Designated: true}); !problem.Is(err, problem.Invalid) {
			t.Errorf("second designated contact by update: %v", err)
		}
		// An edit keeps what the contact was.
		upd, err := fx.fam.UpdateContact(ctx, fx.as("barton"), fx.caseA, alice.ID, family.ContactInput{Name: "Alice Kovrig", Relationship: "spouse",
			Languages: []string{"en"}, Email: "alice@example.net", Phone: "+1 613 555 0199", Designated: true})
		if err != nil || upd.Phone != "+1 613 555 0199" {
			t.Fatalf("update: %+v %v", upd, err)
		}
		hist, err := fx.fam.ContactHistory(ctx, fx.as("consul"), fx.caseA, alice.ID)
		if err != nil || len(hist) != 1 || hist[0].Phone != "+1 613 555 0100" || hist[0].ChangedBy != "Dominic Barton" {
			t.Errorf("history %+v %v", hist, err)
		}
		if e := fx.last(fx.caseA, "family.contact_update"); !strings.Contains(e.Detail, "changed=languages,phone") || strings.Contains(e.Detail, "0199") {
			t.Errorf("audit of the update: %q", e.Detail)
		}
		// A contact of case A does not exist in case B.
		if _, err := fx.fam.UpdateContact(ctx, fx.as("barton"), fx.caseB, alice.ID, family.ContactInput{Name: "A", Relationship: "spouse"}); !problem.Is(err, problem.NotFound) {
			t.Errorf("update through another case: %v", err)
		}
		// Removing archives: the contact is kept, and a new designated contact may follow.
		if err := fx.fam.ArchiveContact(ctx, fx.as("barton"), fx.caseA, alice.ID, "Divorced"); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, "archive twice", fx.fam.ArchiveContact(ctx, fx.as("barton"), fx.caseA, alice.ID, ""), problem.NotFound, "No such contact")
		_, err = fx.fam.UpdateContact(ctx, fx.as("barton"), fx.caseA, alice.ID, family.ContactInput{Name: "Alice", Relationship: "spouse"})
		wantProblem(t, "edit archived", err, problem.Conflict, "archived")
		if _, err := fx.fam.UpdateContact(ctx, fx.as("barton"), fx.caseA, tom.ID, family.ContactInput{Name: "Tom Kovrig", Relationship: "sibling", Designated: true}); err != nil {
			t.Errorf("designate after the first is archived: %v", err)
		}
		active, err := fx.fam.Contacts(ctx, fx.as("desk"), fx.caseA, false)
		if err != nil || len(active) != 1 || active[0].ID != tom.ID {
			t.Errorf("active contacts %+v %v", active, err)
		}
		all, err := fx.fam.Contacts(ctx, fx.as("barton"), fx.caseA, true)
		if err != nil || len(all) != 2 || all[1].ID != alice.ID || all[1].Archived.IsZero() || all[1].ArchiveReason != "Divorced" {
			t.Errorf("all contacts %+v %v", all, err)
		}
		fx.last(fx.caseA, "case.family_contacts_view")
		fx.last(fx.caseA, "family.contact_archive")
	})
}

func TestConsentCheck(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := fx.ctx
		alice := fx.contact(fx.caseA, "Alice Kovrig", "alice@example.net")
		tom := fx.contact(fx.caseA, "Tom Kovrig", "")
		peter := fx.contact(fx.caseB, "Peter Spavor", "")
		first := fx.consent(fx.caseA, []string{alice}, family.Visits, family.Messages)

		check := func(caseID, contactID string, c family.Category) family.Decision {
			return fx.fam.Check(ctx, nil, caseID, contactID, c)
		}
		if dec := check(fx.caseA, alice, family.Visits); !dec.Allowed || dec.ConsentID != first || !dec.Reason.IsZero() {
			t.Errorf("named contact, named category: %+v", dec)
		}
		for _, tc := range []struct {
			name            string
			caseID, contact string
			cat             family.Category
			reason          string
		}{
			{"category outside the scope", fx.caseA, alice, family.Health, "The detainee has not consented to share health information with Alice Kovrig."},
			{"contact outside the scope", fx.caseA, tom, family.Visits, "The detainee has not consented to share the dates of visits with Tom Kovrig."},
			{"messages outside the scope", fx.caseA, tom, family.Messages, "The detainee has not consented to exchange messages with Tom Kovrig."},
			{"contact of another case", fx.caseB, alice, family.Visits, "No such contact in this case."},
			{"no category", fx.caseA, alice, family.Category("gossip"), `"gossip" is not a category of information.`},
		} {
			if dec := check(tc.caseID, tc.contact, tc.cat); dec.Allowed || dec.Reason.String() != tc.reason {
				t.Errorf("%s: %+v, want refused: %s", tc.name, dec, tc.reason)
			}
		}
		all, err := fx.fam.Allowed(ctx, fx.caseA, alice)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range family.AllCategories {
			if want := c == family.Visits || c == family.Messages; all[c].Allowed != want {
				t.Errorf("Allowed[%s] = %+v, want %t", c, all[c], want)
			}
		}
		if _, err := fx.fam.Allowed(ctx, fx.caseB, alice); !problem.Is(err, problem.NotFound) {
			t.Errorf("Allowed through another case: %v", err)
		}

		// Bad consents are refused with a clear message and nothing is recorded.
		past := fx.visit(fx.caseA, fx.clock.Now().Add(-48*time.Hour), "held", "consular")
		otherVisit := fx.visit(fx.caseB, fx.clock.Now().Add(-48*time.Hour), "held", "consular")
		ok := family.ConsentInput{Recipients: []string{alice}, Categories: []family.Category{family.Health}, Given: "2026-04-18", Method: "written"}
		for _, tc := range []struct {
			name  string
			edit  func(in *family.ConsentInput)
			field string
			words string
		}{
			{"no category", func(in *family.ConsentInput) { in.Categories = nil }, "categories", "withdraw their consents instead"},
			{"unknown category", func(in *family.ConsentInput) { in.Categories = []family.Category{"gossip"} }, "categories", "from the list"},
			{"no recipient", func(in *family.ConsentInput) { in.Recipients = nil }, "recipients", "at least one contact"},
			{"contact of another case", func(in *family.ConsentInput) { in.Recipients = []string{peter} }, "recipients", "contacts of this case"},
			{"in the future", func(in *family.ConsentInput) { in.Given = "2026-04-21" }, "given", "future"},
			{"month only", func(in *family.ConsentInput) { in.Given = "2026-04" }, "given", "YYYY-MM-DD"},
			{"no date", func(in *family.ConsentInput) { in.Given = "" }, "given", "Give the day"},
			{"unknown method", func(in *family.ConsentInput) { in.Method = "telepathy" }, "method", "from the list"},
			{"other without saying how", func(in *family.ConsentInput) { in.Method = "other" }, "method_note", "how"},
			{"verbal at a visit without the visit", func(in *family.ConsentInput) { in.Method = "verbal_visit" }, "visit_id", "visit"},
			{"visit of another case", func(in *family.ConsentInput) { in.Method, in.VisitID = "verbal_visit", otherVisit }, "visit_id", "this case's visits"},
		} {
			in := ok
			in.Recipients, in.Categories = slices.Clone(ok.Recipients), slices.Clone(ok.Categories)
			tc.edit(&in)
			_, err := fx.fam.RecordConsent(ctx, fx.as("barton"), fx.caseA, in)
			pe, isProblem := problem.As(err)
			if !isProblem || pe.Kind != problem.Invalid || !strings.Contains(pe.Fields[tc.field], tc.words) {
				t.Errorf("%s: %v, want invalid %s mentioning %q", tc.name, err, tc.field, tc.words)
			}
		}
		_, err = fx.fam.RecordConsent(ctx, fx.as("tehran"), fx.caseA, ok)
		wantProblem(t, "officer of another post", err, problem.NotFound, "No such case")
		if n := fx.count(`SELECT COUNT(*) FROM family_consents`); n != 1 {
			t.Fatalf("%d consents after refusals, want 1", n)
		}
		if !check(fx.caseA, alice, family.Visits).Allowed || check(fx.caseA, alice, family.Health).Allowed {
			t.Fatal("refused consents changed the decisions")
		}

		// A second record, given verbally at a visit, for two contacts.
		fx.clock.Add(time.Minute)
		second, err := fx.fam.RecordConsent(ctx, fx.as("consul"), fx.caseA, family.ConsentInput{Recipients: []string{alice, tom, alice},
			Categories: []family.Category{family.Health, family.Visits}, Given: "2026-04-18", Method: "verbal_visit", VisitID: past})
		if err != nil {
			t.Fatal(err)
		}
		if len(second.Recipients) != 2 || !slices.Equal(second.Categories, []family.Category{family.Visits, family.Health}) {
			t.Errorf("consent %+v", second)
		}
		if dec := check(fx.caseA, alice, family.Health); !dec.Allowed || dec.ConsentID != second.ID {
			t.Errorf("health after the second consent: %+v", dec)
		}
		if dec := check(fx.caseA, tom, family.Visits); !dec.Allowed {
			t.Errorf("Tom's visits: %+v", dec)
		}
		// Withdrawal: it no longer counts; other records still do.
		w := family.Withdrawal{Date: "2026-04-19", Method: "letter", Note: "Letter of 19 April"}
		wantProblem(t, "withdrawn before given", fx.fam.WithdrawConsent(ctx, fx.as("barton"), fx.caseA, second.ID,
			family.Withdrawal{Date: "2026-04-10", Method: "letter"}), problem.Invalid, "given on 2026-04-18")
		wantProblem(t, "withdrawal without method", fx.fam.WithdrawConsent(ctx, fx.as("barton"), fx.caseA, second.ID,
			family.Withdrawal{Date: "2026-04-19"}), problem.Invalid, "")
		wantProblem(t, "withdrawal by another post", fx.fam.WithdrawConsent(ctx, fx.as("tehran"), fx.caseA, second.ID, w), problem.NotFound, "No such case")
		wantProblem(t, "withdrawal through another case", fx.fam.WithdrawConsent(ctx, fx.as("barton"), fx.caseB, second.ID, w), problem.NotFound, "No such consent")
		if !check(fx.caseA, alice, family.Health).Allowed {
			t.Fatal("a refused withdrawal took effect")
		}
		if err := fx.fam.WithdrawConsent(ctx, fx.as("barton"), fx.caseA, second.ID, w); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, "withdraw twice", fx.fam.WithdrawConsent(ctx, fx.as("barton"), fx.caseA, second.ID, w), problem.Conflict, "withdrawn on 2026-04-19 already")
		for _, who := range []string{alice, tom} {
			cat := family.Health
			if who == tom {
				cat = family.Visits
			}
			dec := check(fx.caseA, who, cat)
			if dec.Allowed || !strings.HasPrefix(dec.Reason.String(), "Consent withdrawn on 2026-04-19:") || dec.ConsentID != second.ID {
				t.Errorf("%s after withdrawal: %+v", cat, dec)
			}
		}
		if dec := check(fx.caseA, alice, family.Visits); !dec.Allowed || dec.ConsentID != first {
			t.Errorf("visits still consented by the first record: %+v", dec)
		}
		list, err := fx.fam.Consents(ctx, fx.as("desk"), fx.caseA)
		if err != nil || len(list) != 2 || list[0].ID != second.ID || list[0].Active() || list[0].Withdrawal.Method != "letter" ||
			list[0].Withdrawal.RecordedBy != "Dominic Barton" || !list[1].Active() || list[1].Recipients[0].Name != "Alice Kovrig" {
			t.Errorf("consents %+v %v", list, err)
		}
		// Refusing all family contact: withdraw everything.
		n, err := fx.fam.WithdrawAll(ctx, fx.as("barton"), fx.caseA, family.Withdrawal{Date: "2026-04-20", Method: "verbal_phone", Note: "Wants no contact with anyone"})
		if err != nil || n != 1 {
			t.Fatalf("withdraw all: %d %v", n, err)
		}
		all, err = fx.fam.Allowed(ctx, fx.caseA, alice)
		if err != nil {
			t.Fatal(err)
		}
		for c, dec := range all {
			if dec.Allowed || !strings.Contains(dec.Reason.String(), "withdrawn") && !strings.Contains(dec.Reason.String(), "not consented") {
				t.Errorf("%s after withdrawing all: %+v", c, dec)
			}
		}
		if e := fx.last(fx.caseA, "family.consent_withdraw_all"); !strings.Contains(e.Detail, first) {
			t.Errorf("audit of withdraw all: %q", e.Detail)
		}
		// An archived contact gets nothing, whatever the records say.
		fx.consent(fx.caseA, []string{tom}, family.Legal)
		if err := fx.fam.ArchiveContact(ctx, fx.as("barton"), fx.caseA, tom, ""); err != nil {
			t.Fatal(err)
		}
		if dec := check(fx.caseA, tom, family.Legal); dec.Allowed || dec.Reason.String() != "Tom Kovrig is no longer a contact of this case." {
			t.Errorf("archived contact: %+v", dec)
		}
	})
}

func TestInvitations(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := fx.ctx
		familyUsers := func() int { return fx.count(`SELECT COUNT(*) FROM users WHERE role = 'family'`) }
		alice := fx.contact(fx.caseA, "Alice Kovrig", "alice@example.net")
		tom := fx.contact(fx.caseA, "Tom Kovrig", "")

		// No consent: no invitation, no mail; the refusal is audited.
		_, _, err := fx.fam.Invite(ctx, fx.as("barton"), fx.caseA, alice)
		wantProblem(t, "without consent", err, problem.Forbidden, "not consented to share anything with Alice Kovrig")
		if n := fx.count(`SELECT COUNT(*) FROM family_invitations`); n != 0 || len(fx.mail.all(t)) != 0 {
			t.Fatalf("refused invitation left %d invitations, %d mails", n, len(fx.mail.all(t)))
		}
		fx.last(fx.caseA, "family.invite_refused")
		fx.consent(fx.caseA, []string{alice, tom}, family.Visits)
		_, _, err = fx.fam.Invite(ctx, fx.as("barton"), fx.caseA, tom)
		wantProblem(t, "without e-mail", err, problem.Invalid, "")
		for _, who := range []string{"tehran", "auditor"} {
			_, _, err := fx.fam.Invite(ctx, fx.as(who), fx.caseA, alice)
			wantProblem(t, who, err, problem.NotFound, "No such case")
		}

		path, inv, err := fx.fam.Invite(ctx, fx.as("barton"), fx.caseA, alice)
		if err != nil {
			t.Fatal(err)
		}
		token, found := strings.CutPrefix(path, "/family/invite/")
		if !found || len(token) < 43 {
			t.Fatalf("link %q", path)
		}
		if !inv.Expires.Equal(fx.clock.Now().Add(7 * 24 * time.Hour)) {
			t.Errorf("expires %v", inv.Expires)
		}
		sum := sha256.Sum256([]byte(token))
		if fx.count(`SELECT COUNT(*) FROM family_invitations WHERE token_hash = $1`, token) != 0 ||
			fx.count(`SELECT COUNT(*) FROM family_invitations WHERE token_hash = $1`, hex.EncodeToString(sum[:])) != 1 {
			t.Error("the token is not stored as its SHA-256 only")
		}
		mails := fx.mail.all(t)
		if len(mails) != 1 || mails[0].To != "alice@example.net" || mails[0].Kind != notify.FamilyMessage || mails[0].UserID != "" ||
			!strings.Contains(mails[0].Text, "https://attache.example.org/family/invite/"+token) {
			t.Fatalf("invitation mail %+v", mails)
		}
		if strings.Contains(mails[0].Text, "Michael") || strings.Contains(mails[0].Text, "Beijing") || strings.Contains(mails[0].Subject, "Michael") {
			t.Errorf("the invitation mail tells of the case: %q", mails[0].Text)
		}
		info, err := fx.fam.Invitation(ctx, token, "198.51.100.7")
		if err != nil || info.ContactName != "Alice Kovrig" || info.Post != "Beijing" {
			t.Fatalf("invitation %+v %v", info, err)
		}
		if e := fx.last(fx.caseA, "family.invite_view"); e.Actor.ID != "invite:"+inv.ID || e.Actor.Address != "198.51.100.7" {
			t.Errorf("audit of the look: %+v", e)
		}

		// A bad password creates nothing and leaves the invitation usable.
		_, err = fx.fam.Accept(ctx, token, "alice", "short", "en", "198.51.100.7")
		wantProblem(t, "short password", err, problem.Invalid, "password")
		if familyUsers() != 0 || fx.count(`SELECT COUNT(*) FROM family_invitations WHERE used_at IS NOT NULL`) != 0 {
			t.Fatal("a refused acceptance created something")
		}
		u, err := fx.fam.Accept(ctx, token, "alice", password, "fr", "198.51.100.7")
		if err != nil {
			t.Fatal(err)
		}
		if u.Role != auth.RoleFamily || u.DisplayName != "Alice Kovrig" || u.Email != "alice@example.net" || u.Lang != "fr" || u.Post != "" {
			t.Errorf("account %+v", u)
		}
		if familyUsers() != 1 || fx.count(`SELECT COUNT(*) FROM family_contacts WHERE id = $1 AND user_id = $2`, alice, u.ID) != 1 {
			t.Fatal("the account is not linked to the contact")
		}
		if e := fx.last(fx.caseA, "family.invite_accept"); e.Actor.ID != "invite:"+inv.ID || !strings.Contains(e.Detail, u.ID) {
			t.Errorf("audit of the acceptance: %+v", e)
		}
		// Used: refused, nothing more created.
		_, err = fx.fam.Accept(ctx, token, "alice2", password, "en", "")
		wantProblem(t, "reuse", err, problem.Forbidden, "used already")
		_, err = fx.fam.Invitation(ctx, token, "")
		wantProblem(t, "look at a used invitation", err, problem.Forbidden, "used already")
		if familyUsers() != 1 {
			t.Fatal("reuse created an account")
		}
		_, _, err = fx.fam.Invite(ctx, fx.as("barton"), fx.caseA, alice)
		wantProblem(t, "invite a contact with an account", err, problem.Conflict, "has an account already")
		// The account never reads the case file.
		wantProblem(t, "family account through cases", fx.cases.Authorize(ctx, nil, u, auth.ReadCase, fx.caseA), problem.NotFound, "No such case")
		if _, err := fx.cases.Case(ctx, member(u), fx.caseA); !problem.Is(err, problem.NotFound) {
			t.Errorf("family account reads the case: %v", err)
		}
		// The account signs in.
		if _, err := fx.users.Login(ctx, auth.LoginRequest{Username: "alice", Password: password, Address: "198.51.100.7"}); err != nil {
			t.Errorf("sign in: %v", err)
		}

		// Expired: refused, nothing created.
		bob := fx.contact(fx.caseA, "Bob Kovrig", "bob@example.net")
		fx.consent(fx.caseA, []string{bob}, family.Messages)
		fx.clock.Add(time.Minute)
		path, _, err = fx.fam.Invite(ctx, fx.as("barton"), fx.caseA, bob)
		if err != nil {
			t.Fatal(err)
		}
		fx.clock.Add(7*24*time.Hour + time.Minute)
		_, err = fx.fam.Accept(ctx, strings.TrimPrefix(path, family.InvitePath), "bob", password, "en", "")
		wantProblem(t, "expired", err, problem.Forbidden, "expired on 2026-04-27")
		if familyUsers() != 1 {
			t.Fatal("an expired invitation created an account")
		}
		// Revoked: refused, nothing created.
		path, revoked, err := fx.fam.Invite(ctx, fx.as("barton"), fx.caseA, bob)
		if err != nil {
			t.Fatal(err)
		}
		wantProblem(t, "revoke by another post", fx.fam.RevokeInvitation(ctx, fx.as("tehran"), fx.caseA, revoked.ID), problem.NotFound, "No such case")
		if err := fx.fam.RevokeInvitation(ctx, fx.as("consul"), fx.caseA, revoked.ID); err != nil {
			t.Fatal(err)
		}
		_, err = fx.fam.Accept(ctx, strings.TrimPrefix(path, family.InvitePath), "bob", password, "en", "")
		wantProblem(t, "revoked", err, problem.Forbidden, "withdrawn by the consulate")
		// A new invitation revokes the one before.
		fx.clock.Add(time.Minute)
		older, _, err := fx.fam.Invite(ctx, fx.as("barton"), fx.caseA, bob)
		if err != nil {
			t.Fatal(err)
		}
		fx.clock.Add(time.Minute)
		newer, _, err := fx.fam.Invite(ctx, fx.as("barton"), fx.caseA, bob)
		if err != nil {
			t.Fatal(err)
		}
		_, err = fx.fam.Accept(ctx, strings.TrimPrefix(older, family.InvitePath), "bob", password, "en", "")
		wantProblem(t, "superseded", err, problem.Forbidden, "withdrawn by the consulate")
		_, err = fx.fam.Accept(ctx, "not-a-token", "bob", password, "en", "")
		wantProblem(t, "unknown token", err, problem.NotFound, "not valid")
		if familyUsers() != 1 {
			t.Fatal("a refused invitation created an account")
		}
		if _, err := fx.fam.Accept(ctx, strings.TrimPrefix(newer, family.InvitePath), "bob", password, "", ""); err != nil {
			t.Fatal(err)
		}
		if familyUsers() != 2 {
			t.Fatal("the newest invitation made no account")
		}
		list, err := fx.fam.Invitations(ctx, fx.as("barton"), fx.caseA)
		if err != nil || len(list) != 5 {
			t.Fatalf("invitations %d %v", len(list), err)
		}
		var states []string
		for _, i := range list {
			states = append(states, i.State(fx.clock.Now()))
		}
		if want := []string{"used", "revoked", "revoked", "revoked", "used"}; !slices.Equal(states, want) {
			t.Errorf("states %v, want %v", states, want)
		}
		refusals := 0
		for _, e := range fx.entries(fx.caseA) {
			if e.Action == "family.invite_refused" {
				refusals++
			}
		}
		if refusals < 6 {
			t.Errorf("%d refusals audited, want at least 6", refusals)
		}
	})
}

func TestAcceptOnceUnderConcurrency(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		alice := fx.contact(fx.caseA, "Alice Kovrig", "alice@example.net")
		fx.consent(fx.caseA, []string{alice}, family.Messages)
		path, _, err := fx.fam.Invite(fx.ctx, fx.as("barton"), fx.caseA, alice)
		if err != nil {
			t.Fatal(err)
		}
		token := strings.TrimPrefix(path, family.InvitePath)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := fx.fam.Accept(fx.ctx, token, fmt.Sprintf("alice%d", i), password, "en", "")
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					ok++
				} else if !problem.Is(err, problem.Forbidden) {
					t.Errorf("accept %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		if ok != 1 || fx.count(`SELECT COUNT(*) FROM users WHERE role = 'family'`) != 1 {
			t.Errorf("%d acceptances succeeded, %d family accounts", ok, fx.count(`SELECT COUNT(*) FROM users WHERE role = 'family'`))
		}
	})
}

func TestPortalShowsOnlyWhatConsentAllows(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := fx.ctx
		alice := fx.contact(fx.caseA, "Alice Kovrig", "alice@example.net")
		tom := fx.contact(fx.caseA, "Tom Kovrig", "tom@example.net")
		peter := fx.contact(fx.caseB, "Peter Spavor", "peter@example.net")
		fx.consent(fx.caseA, []string{alice}, family.Visits, family.Messages)
		fx.consent(fx.caseA, []string{tom}, family.Legal)
		fx.consent(fx.caseB, []string{peter}, family.Visits, family.Messages, family.Health)
		ua, ut, up := fx.account(fx.caseA, alice, "alice"), fx.account(fx.caseA, tom, "tom"), fx.account(fx.caseB, peter, "peter")

		// 23 April 2026, 10:00 in Beijing is the next consular visit.
		next := time.Date(2026, 4, 23, 2, 0, 0, 0, time.UTC)
		fx.visit(fx.caseA, fx.clock.Now().Add(-72*time.Hour), "held", "consular")
		fx.visit(fx.caseA, next.Add(-24*time.Hour), "cancelled", "consular")
		fx.visit(fx.caseA, next.Add(-12*time.Hour), "planned", "legal")
		fx.visit(fx.caseA, next.Add(7*24*time.Hour), "confirmed", "consular")
		fx.visit(fx.caseA, next, "planned", "consular")
		fx.visit(fx.caseB, next.Add(-36*time.Hour), "planned", "consular")

		if _, err := fx.fam.WriteSummary(ctx, fx.as("barton"), fx.caseA, family.SummaryInput{ContactID: alice,
			Categories: []family.Category{family.Visits}, Text: "The visit of 17 April went ahead."}); err != nil {
			t.Fatal(err)
		}
		legal, err := fx.fam.WriteSummary(ctx, fx.as("barton"), fx.caseA, family.SummaryInput{Categories: []family.Category{family.Legal},
			Text: "The pre-trial phase continues."})
		if err != nil {
			t.Fatal(err)
		}
		if len(legal.Reaches) != 1 || legal.Reaches[0].ContactID != tom {
			t.Errorf("a summary for everyone reaches %+v, want Tom only", legal.Reaches)
		}
		if _, err := fx.fam.WriteSummary(ctx, fx.as("barton"), fx.caseA, family.SummaryInput{ContactID: tom,
			Categories: []family.Category{family.Legal, family.Health}, Text: "Hearing set; he saw a doctor."}); !problem.Is(err, problem.Forbidden) {
			t.Fatalf("summary beyond consent: %v", err)
		}
		mine, err := fx.fam.WriteMessage(ctx, member(ua), fx.caseA, "We think of you every day.")
		if err != nil {
			t.Fatal(err)
		}
		held, err := fx.fam.RecordFromDetainee(ctx, fx.as("barton"), fx.caseA, alice, "", "Tell the children I am well.")
		if err != nil {
			t.Fatal(err)
		}

		pa, err := fx.fam.Portal(ctx, member(ua))
		if err != nil || len(pa) != 1 {
			t.Fatalf("Alice's portal: %+v %v", pa, err)
		}
		p := pa[0]
		if p.CaseID != fx.caseA || p.Detainee != "Michael Kovrig" || p.Post != "Beijing" || p.ContactName != "Alice Kovrig" ||
			!slices.Equal(p.Shared, []family.Category{family.Visits, family.Messages}) || !p.CanWrite {
			t.Errorf("Alice's case %+v", p)
		}
		// Without consent to share the location, not even the facility's
		// time zone is shown (it tells the region): the time is in UTC.
		if p.NextVisit == nil || !p.NextVisit.Starts.Equal(next) || p.NextVisit.Zone != "UTC" || p.NextVisit.Starts.Format("2006-01-02 15:04") != "2026-04-23 02:00" {
			t.Errorf("next visit %+v, want 2026-04-23 02:00 UTC", p.NextVisit)
		}
		if len(p.Messages) != 1 || p.Messages[0].ID != mine.ID || p.Messages[0].Status != "waiting" {
			t.Errorf("Alice's messages %+v (the held one must not show)", p.Messages)
		}
		if len(p.Summaries) != 1 || p.Summaries[0].Text != "The visit of 17 April went ahead." {
			t.Errorf("Alice's summaries %+v", p.Summaries)
		}
		// Portal and Check agree, category by category.
		for _, c := range family.AllCategories {
			if got := fx.fam.Check(ctx, nil, fx.caseA, alice, c).Allowed; got != slices.Contains(p.Shared, c) {
				t.Errorf("Check(%s) = %t, portal shares %v", c, got, p.Shared)
			}
		}
		e := fx.last(fx.caseA, "family.portal_view")
		if e.Actor.ID != ua.ID || !strings.Contains(e.Detail, "disclosed=visits,messages") || !strings.Contains(e.Detail, "withheld=location,health,legal") {
			t.Errorf("audit of the page: %+v", e)
		}
		if _, err := fx.fam.ReadMessage(ctx, member(ua), fx.caseA, held.ID); !problem.Is(err, problem.NotFound) {
			t.Errorf("held message read: %v", err)
		}

		// Tom: legal status only. No visit date, no messages, no hint.
		pt, err := fx.fam.PortalCase(ctx, member(ut), fx.caseA)
		if err != nil {
			t.Fatal(err)
		}
		if pt.NextVisit != nil || pt.Messages != nil || pt.CanWrite || !slices.Equal(pt.Shared, []family.Category{family.Legal}) {
			t.Errorf("Tom sees %+v", pt)
		}
		if len(pt.Summaries) != 1 || pt.Summaries[0].ID != legal.ID {
			t.Errorf("Tom's summaries %+v", pt.Summaries)
		}
		before := fx.count(`SELECT COUNT(*) FROM family_messages`)
		_, err = fx.fam.WriteMessage(ctx, member(ut), fx.caseA, "Hello")
		wantProblem(t, "Tom writes", err, problem.Forbidden, "The detainee has not consented to exchange messages with Tom Kovrig.")
		if e := fx.last(fx.caseA, "family.message_refused"); e.Actor.ID != ut.ID || !strings.Contains(e.Detail, "category=messages") {
			t.Errorf("audit of the refusal: %+v", e)
		}

		// Peter, of case B, sees nothing of case A, and cannot tell whether a case exists.
		_, errA := fx.fam.PortalCase(ctx, member(up), fx.caseA)
		_, errNone := fx.fam.PortalCase(ctx, member(up), "no-such-case")
		_, errT := fx.fam.PortalCase(ctx, member(up), fx.caseT)
		for _, err := range []error{errA, errNone, errT} {
			if !problem.Is(err, problem.NotFound) || err.Error() != "No such case." {
				t.Errorf("another case: %v", err)
			}
		}
		_, err = fx.fam.WriteMessage(ctx, member(up), fx.caseA, "Hello from Peter")
		wantProblem(t, "Peter writes to case A", err, problem.NotFound, "No such case.")
		_, err = fx.fam.ReadMessage(ctx, member(up), fx.caseA, mine.ID)
		wantProblem(t, "Peter reads case A's message", err, problem.NotFound, "No such case.")
		_, err = fx.fam.ReadMessage(ctx, member(up), fx.caseB, mine.ID)
		wantProblem(t, "Peter reads case A's message through case B", err, problem.NotFound, "No such message")
		if after := fx.count(`SELECT COUNT(*) FROM family_messages`); after != before {
			t.Errorf("refused writes added %d messages", after-before)
		}
		pp, err := fx.fam.Portal(ctx, member(up))
		if err != nil || len(pp) != 1 || pp[0].CaseID != fx.caseB || len(pp[0].Messages) != 0 || pp[0].NextVisit == nil || !pp[0].NextVisit.Starts.Equal(next.Add(-36*time.Hour)) {
			t.Errorf("Peter's portal %+v %v", pp, err)
		}
		if e := fx.last(fx.caseA, "family.denied"); e.Actor.ID != up.ID {
			t.Errorf("audit of the probe: %+v", e)
		}

		// Family members never reach staff functions, nor staff the family pages.
		_, err = fx.fam.Queue(ctx, member(ua), fx.caseA)
		wantProblem(t, "family reads the queue", err, problem.NotFound, "No such case")
		_, err = fx.fam.Contacts(ctx, member(ua), fx.caseA, false)
		wantProblem(t, "family lists contacts", err, problem.NotFound, "No such case")
		for _, who := range []string{"tehran", "auditor"} {
			q, err := fx.fam.Queue(ctx, fx.as(who), fx.caseA)
			wantProblem(t, who+" reads the queue", err, problem.NotFound, "No such case")
			if q != nil {
				t.Errorf("%s sees %+v", who, q)
			}
		}
		_, err = fx.fam.Portal(ctx, fx.as("barton"))
		wantProblem(t, "staff portal", err, problem.Forbidden, "family members")

		// An archived contact's account sees nothing any more.
		if err := fx.fam.ArchiveContact(ctx, fx.as("barton"), fx.caseA, tom, "At the detainee's request"); err != nil {
			t.Fatal(err)
		}
		if list, err := fx.fam.Portal(ctx, member(ut)); err != nil || len(list) != 0 {
			t.Errorf("archived contact's portal %+v %v", list, err)
		}
		_, err = fx.fam.PortalCase(ctx, member(ut), fx.caseA)
		wantProblem(t, "archived contact's case", err, problem.NotFound, "No such case.")
	})
}

func TestMessageDelivery(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := fx.ctx
		alice := fx.contact(fx.caseA, "Alice Kovrig", "alice@example.net")
		tom := fx.contact(fx.caseA, "Tom Kovrig", "")
		fx.consent(fx.caseA, []string{alice}, family.Visits, family.Messages)
		ua := fx.account(fx.caseA, alice, "alice")
		visit := fx.visit(fx.caseA, fx.clock.Now().Add(48*time.Hour), "planned", "consular")
		otherVisit := fx.visit(fx.caseB, fx.clock.Now().Add(48*time.Hour), "planned", "consular")

		for _, bad := range []string{"   ", strings.Repeat("x", 2001), "bell\a"} {
			_, err := fx.fam.WriteMessage(ctx, member(ua), fx.caseA, bad)
			wantProblem(t, fmt.Sprintf("message %.10q", bad), err, problem.Invalid, "")
		}
		m, err := fx.fam.WriteMessage(ctx, member(ua), fx.caseA, "  Happy birthday, Michael.\nWe miss you.  ")
		if err != nil {
			t.Fatal(err)
		}
		q, err := fx.fam.Queue(ctx, fx.as("consul"), fx.caseA)
		if err != nil || len(q) != 1 || q[0].ID != m.ID || q[0].Text != "Happy birthday, Michael.\nWe miss you." || q[0].ContactName != "Alice Kovrig" || q[0].Status != "waiting" {
			t.Fatalf("queue %+v %v", q, err)
		}
		fx.last(fx.caseA, "case.family_messages_view")

		// Marking refuses bad input and outsiders, and changes nothing.
		for _, tc := range []struct {
			name        string
			who, caseID string
			msg, visit  string
			how         string
			kind        problem.Kind
			words       string
		}{
			{"read at a visit, no visit", "barton", fx.caseA, m.ID, "", "read_at_visit", problem.Invalid, ""},
			{"unknown way", "barton", fx.caseA, m.ID, visit, "pigeon", problem.Invalid, ""},
			{"visit of another case", "barton", fx.caseA, m.ID, otherVisit, "read_at_visit", problem.Invalid, ""},
			{"no such message", "barton", fx.caseA, "nope", visit, "read_at_visit", problem.NotFound, "No such message"},
			{"message of another case", "barton", fx.caseB, m.ID, "", "via_facility", problem.NotFound, "No such message"},
			{"officer of another post", "tehran", fx.caseA, m.ID, visit, "read_at_visit", problem.NotFound, "No such case"},
		} {
			err := fx.fam.Delivered(ctx, fx.as(tc.who), tc.caseID, tc.msg, tc.visit, tc.how)
			wantProblem(t, tc.name, err, tc.kind, tc.words)
		}
		if q, _ := fx.fam.Queue(ctx, fx.as("barton"), fx.caseA); len(q) != 1 {
			t.Fatal("a refused marking changed the queue")
		}
		if err := fx.fam.Delivered(ctx, fx.as("barton"), fx.caseA, m.ID, visit, "read_at_visit"); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, "delivered twice", fx.fam.Delivered(ctx, fx.as("consul"), fx.caseA, m.ID, visit, "read_at_visit"), problem.Conflict, "“Delivered” already")
		wantProblem(t, "not delivered after delivered", fx.fam.NotDelivered(ctx, fx.as("consul"), fx.caseA, m.ID, "lost"), problem.Conflict, "“Delivered” already")
		if q, _ := fx.fam.Queue(ctx, fx.as("barton"), fx.caseA); len(q) != 0 {
			t.Errorf("queue after delivery %+v", q)
		}
		atVisit, err := fx.fam.Messages(ctx, fx.as("barton"), fx.caseA, family.MessageFilter{VisitID: visit})
		if err != nil || len(atVisit) != 1 || atVisit[0].How != "read_at_visit" || atVisit[0].DecidedBy != "Dominic Barton" {
			t.Errorf("messages of the visit %+v %v", atVisit, err)
		}
		p, err := fx.fam.PortalCase(ctx, member(ua), fx.caseA)
		if err != nil || len(p.Messages) != 1 || p.Messages[0].Status != "delivered" || !p.Messages[0].Decided.Equal(fx.clock.Now()) {
			t.Errorf("family sees %+v %v", p, err)
		}

		// Not delivered needs its reason, which the family sees.
		m2, err := fx.fam.WriteMessage(ctx, member(ua), fx.caseA, "Second letter")
		if err != nil {
			t.Fatal(err)
		}
		wantProblem(t, "no reason", fx.fam.NotDelivered(ctx, fx.as("barton"), fx.caseA, m2.ID, "  "), problem.Invalid, "")
		if q, _ := fx.fam.Queue(ctx, fx.as("barton"), fx.caseA); len(q) != 1 {
			t.Fatal("a refused marking changed the queue")
		}
		if err := fx.fam.NotDelivered(ctx, fx.as("barton"), fx.caseA, m2.ID, "Refused by the facility"); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, "delivered after not delivered", fx.fam.Delivered(ctx, fx.as("barton"), fx.caseA, m2.ID, "", "via_facility"), problem.Conflict, "“Not delivered” already")
		got, err := fx.fam.ReadMessage(ctx, member(ua), fx.caseA, m2.ID)
		if err != nil || got.Status != "not_delivered" || got.Reason != "Refused by the facility" {
			t.Errorf("family sees %+v %v", got, err)
		}

		// From the detainee: held, invisible until released.
		h, err := fx.fam.RecordFromDetainee(ctx, fx.as("barton"), fx.caseA, alice, visit, "I am well. Tell mother.")
		if err != nil {
			t.Fatal(err)
		}
		_, err = fx.fam.RecordFromDetainee(ctx, fx.as("tehran"), fx.caseA, alice, "", "x")
		wantProblem(t, "record by another post", err, problem.NotFound, "No such case")
		_, err = fx.fam.RecordFromDetainee(ctx, fx.as("barton"), fx.caseB, alice, "", "x")
		wantProblem(t, "record for a contact of another case", err, problem.NotFound, "No such contact")
		visible := func(id string) bool {
			p, err := fx.fam.PortalCase(ctx, member(ua), fx.caseA)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range p.Messages {
				if m.ID == id {
					return true
				}
			}
			return false
		}
		if visible(h.ID) {
			t.Fatal("a held message is visible")
		}
		wantProblem(t, "release by another post", fx.fam.Release(ctx, fx.as("tehran"), fx.caseA, h.ID), problem.NotFound, "No such case")
		wantProblem(t, "release a message to the detainee", fx.fam.Release(ctx, fx.as("barton"), fx.caseA, m.ID), problem.NotFound, "No such message")
		if err := fx.fam.Release(ctx, fx.as("consul"), fx.caseA, h.ID); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, "release twice", fx.fam.Release(ctx, fx.as("barton"), fx.caseA, h.ID), problem.Conflict, "“Released to the family” already")
		if !visible(h.ID) {
			t.Fatal("a released message is not visible")
		}
		if got, err := fx.fam.ReadMessage(ctx, member(ua), fx.caseA, h.ID); err != nil || got.Text != "I am well. Tell mother." || got.Direction != family.FromDetainee {
			t.Errorf("released message %+v %v", got, err)
		}
		// A message for a contact without consent stays held.
		ht, err := fx.fam.RecordFromDetainee(ctx, fx.as("barton"), fx.caseA, tom, "", "For Tom")
		if err != nil {
			t.Fatal(err)
		}
		wantProblem(t, "release without consent", fx.fam.Release(ctx, fx.as("barton"), fx.caseA, ht.ID), problem.Forbidden, "not consented to exchange messages with Tom Kovrig")
		if still, _ := fx.fam.Messages(ctx, fx.as("barton"), fx.caseA, family.MessageFilter{Status: "held"}); len(still) != 1 || still[0].ID != ht.ID {
			t.Errorf("held messages %+v", still)
		}
		fx.last(fx.caseA, "family.release_refused")

		// Consent withdrawn: earlier messages are no longer shown, and no new ones go.
		if _, err := fx.fam.WithdrawAll(ctx, fx.as("barton"), fx.caseA, family.Withdrawal{Date: "2026-04-20", Method: "verbal_phone"}); err != nil {
			t.Fatal(err)
		}
		p, err = fx.fam.PortalCase(ctx, member(ua), fx.caseA)
		if err != nil || p.Messages != nil || p.CanWrite || p.NextVisit != nil || len(p.Shared) != 0 || p.Detainee != "Michael Kovrig" {
			t.Errorf("after withdrawal the family sees %+v %v", p, err)
		}
		_, err = fx.fam.ReadMessage(ctx, member(ua), fx.caseA, h.ID)
		wantProblem(t, "read after withdrawal", err, problem.NotFound, "No such message")
		_, err = fx.fam.WriteMessage(ctx, member(ua), fx.caseA, "Are you there?")
		// The family is told there is no consent, not that it was withdrawn
		// (that is the detainee's to tell).
		wantProblem(t, "write after withdrawal", err, problem.Forbidden, "The detainee has not consented to exchange messages with Alice Kovrig.")
		h2, err := fx.fam.RecordFromDetainee(ctx, fx.as("barton"), fx.caseA, alice, "", "Later words")
		if err != nil {
			t.Fatal(err)
		}
		wantProblem(t, "release after withdrawal", fx.fam.Release(ctx, fx.as("barton"), fx.caseA, h2.ID), problem.Forbidden, "withdrawn")

		// Message content stays out of the audit log.
		for _, e := range fx.entries(fx.caseA) {
			for _, text := range []string{"birthday", "I am well", "Second letter", "For Tom", "Later words"} {
				if strings.Contains(e.Detail, text) {
					t.Errorf("audit %s holds message content: %q", e.Action, e.Detail)
				}
			}
		}
	})
}

func TestNotices(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := fx.ctx
		alice := fx.contact(fx.caseA, "Alice Kovrig", "alice@example.net")
		tom := fx.contact(fx.caseA, "Tom Kovrig", "tom@example.net")
		fx.consent(fx.caseA, []string{alice}, family.Messages, family.Health)
		fx.consent(fx.caseA, []string{tom}, family.Legal)
		ua, ut := fx.account(fx.caseA, alice, "alice"), fx.account(fx.caseA, tom, "tom")
		noContent := func(mails []notify.Mail, secret string) {
			t.Helper()
			for _, m := range mails {
				if m.Kind != notify.FamilyMessage || strings.Contains(m.Text, secret) || strings.Contains(m.Subject, secret) ||
					strings.Contains(m.Text, "Kovrig") || strings.Contains(m.Subject, "Kovrig") {
					t.Errorf("mail %+v", m)
				}
			}
		}
		users := func(mails []notify.Mail) []string {
			var ids []string
			for _, m := range mails {
				ids = append(ids, m.UserID)
			}
			slices.Sort(ids)
			return ids
		}
		sorted := func(ids ...string) []string { slices.Sort(ids); return ids }

		// A family message: one mail to each officer of the case team.
		fx.mail.clear(t)
		if _, err := fx.fam.WriteMessage(ctx, member(ua), fx.caseA, "Secret words 123"); err != nil {
			t.Fatal(err)
		}
		mails := fx.mail.all(t)
		if got, want := users(mails), sorted(fx.staff["barton"].ID, fx.staff["consul"].ID); !slices.Equal(got, want) {
			t.Fatalf("mailed %v, want the team %v", got, want)
		}
		noContent(mails, "Secret words")
		for _, m := range mails {
			if !strings.Contains(m.Text, "https://attache.example.org/cases/"+fx.caseA+"/family") || (m.To != "barton@example.org" && m.To != "consul@example.org") {
				t.Errorf("mail %+v", m)
			}
		}
		// A refused message sends nothing.
		fx.mail.clear(t)
		if _, err := fx.fam.WriteMessage(ctx, member(ut), fx.caseA, "Refused words"); !problem.Is(err, problem.Forbidden) {
			t.Fatalf("Tom writes: %v", err)
		}
		if mails := fx.mail.all(t); len(mails) != 0 {
			t.Errorf("a refused message mailed %+v", mails)
		}
		// Without a team: the post's consular officers, not other posts or HQ.
		if _, err := d.ExecContext(ctx, `DELETE FROM case_officers WHERE case_id = $1`, fx.caseA); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.fam.WriteMessage(ctx, member(ua), fx.caseA, "Secret words 456"); err != nil {
			t.Fatal(err)
		}
		mails = fx.mail.all(t)
		if got, want := users(mails), sorted(fx.staff["barton"].ID, fx.staff["consul"].ID, fx.staff["third"].ID); !slices.Equal(got, want) {
			t.Errorf("mailed %v, want the post's consular officers %v", got, want)
		}
		noContent(mails, "Secret words")
		// A released message: one mail to the family member's account.
		h, err := fx.fam.RecordFromDetainee(ctx, fx.as("barton"), fx.caseA, alice, "", "Secret reply 789")
		if err != nil {
			t.Fatal(err)
		}
		fx.mail.clear(t)
		if err := fx.fam.Release(ctx, fx.as("barton"), fx.caseA, h.ID); err != nil {
			t.Fatal(err)
		}
		mails = fx.mail.all(t)
		if len(mails) != 1 || mails[0].UserID != ua.ID || mails[0].To != "alice@example.net" || !strings.Contains(mails[0].Text, "https://attache.example.org/family") {
			t.Fatalf("release mailed %+v", mails)
		}
		noContent(mails, "Secret reply")
		// A summary: a mail to each contact it reaches.
		fx.mail.clear(t)
		if _, err := fx.fam.WriteSummary(ctx, fx.as("barton"), fx.caseA, family.SummaryInput{Categories: []family.Category{family.Health},
			Text: "Secret health words"}); err != nil {
			t.Fatal(err)
		}
		mails = fx.mail.all(t)
		if len(mails) != 1 || mails[0].UserID != ua.ID {
			t.Fatalf("summary mailed %+v", mails)
		}
		noContent(mails, "Secret health")
	})
}

func TestSummaries(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := fx.ctx
		alice := fx.contact(fx.caseA, "Alice Kovrig", "")
		tom := fx.contact(fx.caseA, "Tom Kovrig", "")
		peter := fx.contact(fx.caseB, "Peter Spavor", "")
		fx.consent(fx.caseA, []string{alice, tom}, family.Visits)
		fx.consent(fx.caseA, []string{alice}, family.Health)
		for _, tc := range []struct {
			name  string
			in    family.SummaryInput
			kind  problem.Kind
			words string
		}{
			{"no category", family.SummaryInput{ContactID: alice, Text: "x"}, problem.Invalid, ""},
			{"no text", family.SummaryInput{ContactID: alice, Categories: []family.Category{family.Visits}}, problem.Invalid, ""},
			{"contact of another case", family.SummaryInput{ContactID: peter, Categories: []family.Category{family.Visits}, Text: "x"}, problem.Invalid, ""},
			{"beyond the contact's consent", family.SummaryInput{ContactID: tom, Categories: []family.Category{family.Visits, family.Health}, Text: "x"},
				problem.Forbidden, "The detainee has not consented to share health information with Tom Kovrig."},
			{"beyond everyone's consent", family.SummaryInput{Categories: []family.Category{family.Legal}, Text: "x"},
				problem.Forbidden, "not consented to share their legal status with Alice Kovrig."},
		} {
			_, err := fx.fam.WriteSummary(ctx, fx.as("barton"), fx.caseA, tc.in)
			wantProblem(t, tc.name, err, tc.kind, tc.words)
		}
		_, err := fx.fam.WriteSummary(ctx, fx.as("tehran"), fx.caseA, family.SummaryInput{ContactID: alice, Categories: []family.Category{family.Visits}, Text: "x"})
		wantProblem(t, "officer of another post", err, problem.NotFound, "No such case")
		if n := fx.count(`SELECT COUNT(*) FROM family_summaries`); n != 0 {
			t.Fatalf("%d summaries after refusals", n)
		}
		if e := fx.last(fx.caseA, "family.summary_refused"); !strings.Contains(e.Detail, "categories=legal") {
			t.Errorf("audit of the refusal %+v", e)
		}
		both, err := fx.fam.WriteSummary(ctx, fx.as("barton"), fx.caseA, family.SummaryInput{Categories: []family.Category{family.Health, family.Visits},
			Text: "He was seen by a doctor at the visit."})
		if err != nil {
			t.Fatal(err)
		}
		if len(both.Reaches) != 1 || both.Reaches[0].ContactID != alice {
			t.Errorf("reaches %+v, want Alice only", both.Reaches)
		}
		list, err := fx.fam.Summaries(ctx, fx.as("consul"), fx.caseA)
		if err != nil || len(list) != 1 || len(list[0].Reaches) != 1 || list[0].ContactID != "" {
			t.Errorf("summaries %+v %v", list, err)
		}
		if _, err := fx.fam.Summaries(ctx, fx.as("tehran"), fx.caseA); !problem.Is(err, problem.NotFound) {
			t.Errorf("summaries by another post: %v", err)
		}
	})
}

func TestAuditTrail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := fx.ctx
		alice := fx.contact(fx.caseA, "Alice Kovrig", "alice@example.net")
		peter := fx.contact(fx.caseB, "Peter Spavor", "peter@example.net")
		consent := fx.consent(fx.caseA, []string{alice}, family.Messages)
		fx.consent(fx.caseB, []string{peter}, family.Visits)
		ua, up := fx.account(fx.caseA, alice, "alice"), fx.account(fx.caseB, peter, "peter")
		m, err := fx.fam.WriteMessage(ctx, member(ua), fx.caseA, "Hello")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fx.fam.Queue(ctx, fx.as("barton"), fx.caseA); err != nil {
			t.Fatal(err)
		}
		if err := fx.fam.Delivered(ctx, fx.as("barton"), fx.caseA, m.ID, "", "via_facility"); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.fam.Consents(ctx, fx.as("barton"), fx.caseA); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.fam.Portal(ctx, member(ua)); err != nil {
			t.Fatal(err)
		}
		fx.fam.PortalCase(ctx, member(up), fx.caseA)
		if _, err := fx.fam.WriteMessage(ctx, member(up), fx.caseB, "Hi"); !problem.Is(err, problem.Forbidden) {
			t.Fatalf("Peter writes without consent: %v", err)
		}
		if err := fx.fam.WithdrawConsent(ctx, fx.as("barton"), fx.caseA, consent, family.Withdrawal{Date: "2026-04-20", Method: "written"}); err != nil {
			t.Fatal(err)
		}

		want := []struct{ caseID, action, actor, detail string }{
			{fx.caseA, "family.contact_add", fx.staff["barton"].ID, "contact=" + alice},
			{fx.caseA, "family.consent_record", fx.staff["barton"].ID, "categories=messages"},
			{fx.caseA, "family.invite", fx.staff["barton"].ID, "contact=" + alice},
			{fx.caseA, "family.invite_accept", "", "user=" + ua.ID},
			{fx.caseA, "family.message_write", ua.ID, "message=" + m.ID},
			{fx.caseA, "case.family_messages_view", fx.staff["barton"].ID, "messages=1"},
			{fx.caseA, "family.message_delivered", fx.staff["barton"].ID, "message=" + m.ID},
			{fx.caseA, "case.family_consents_view", fx.staff["barton"].ID, "consents=1"},
			{fx.caseA, "family.portal_view", ua.ID, "disclosed=messages withheld=visits,location,health,legal"},
			{fx.caseA, "family.denied", up.ID, "No such case."},
			{fx.caseB, "family.message_refused", up.ID, "not consented to exchange messages with Peter Spavor"},
			{fx.caseA, "family.consent_withdraw", fx.staff["barton"].ID, "consents=" + consent},
		}
		for _, w := range want {
			e := fx.last(w.caseID, w.action)
			if (w.actor != "" && e.Actor.ID != w.actor) || !strings.Contains(e.Detail, w.detail) {
				t.Errorf("%s: %+v, want actor %s and %q", w.action, e, w.actor, w.detail)
			}
		}
		r, err := fx.audit.Verify(ctx)
		if err != nil || !r.OK() {
			t.Errorf("audit chain: %+v %v", r, err)
		}
	})
}

// invitedAlice adds Alice to case A with consent and invites her; it
// returns her contact id and the invitation's token.
func invitedAlice(t *testing.T, fx *fixture) (string, string) {
	t.Helper()
	alice := fx.contact(fx.caseA, "Alice Kovrig", "alice@example.net")
	fx.consent(fx.caseA, []string{alice}, family.Visits)
	path, _, err := fx.fam.Invite(fx.ctx, fx.as("barton"), fx.caseA, alice)
	if err != nil {
		t.Fatal(err)
	}
	return alice, strings.TrimPrefix(path, family.InvitePath)
}

// TestEmailChangeRevokesInvitation: an invitation sent to the old address
// of a contact makes no account once the address changes.
func TestEmailChangeRevokesInvitation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := fx.ctx
		alice, token := invitedAlice(t, fx)
		if _, err := fx.fam.UpdateContact(ctx, fx.as("barton"), fx.caseA, alice, family.ContactInput{Name: "Alice Kovrig", Relationship: "spouse",
			Email: "alice.new@example.net"}); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.fam.Accept(ctx, token, "alice", "correct horse battery staple", "", "198.51.100.7"); err == nil {
			t.Fatal("the invitation sent to the old address still makes an account")
		}
		if n := fx.count(`SELECT COUNT(*) FROM users WHERE role = 'family'`); n != 0 {
			t.Errorf("%d family accounts", n)
		}
		if e := fx.last(fx.caseA, "family.contact_update"); !strings.Contains(e.Detail, "invitations_revoked=1") {
			t.Errorf("audit: %q", e.Detail)
		}
	})
}

// TestArchiveDisablesTheAccount: archiving a contact disables their family
// account, unless they are a contact of another case too.
func TestArchiveDisablesTheAccount(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := fx.ctx
		alice, token := invitedAlice(t, fx)
		u, err := fx.fam.Accept(ctx, token, "alice", "correct horse battery staple", "", "198.51.100.7")
		if err != nil {
			t.Fatal(err)
		}
		if err := fx.fam.ArchiveContact(ctx, fx.as("barton"), fx.caseA, alice, "asked to be removed"); err != nil {
			t.Fatal(err)
		}
		if n := fx.count(`SELECT COUNT(*) FROM users WHERE id = $1 AND disabled = TRUE`, u.ID); n != 1 {
			t.Error("the family account of an archived contact is still enabled")
		}
		if e := fx.last(fx.caseA, "family.contact_archive"); !strings.Contains(e.Detail, "account is disabled") {
			t.Errorf("audit: %q", e.Detail)
		}
	})
}

// TestSection: the case page's read of the family channel is need-to-know
// and one audit entry.
func TestSection(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		ctx := fx.ctx
		alice := fx.contact(fx.caseA, "Alice Kovrig", "alice@example.net")
		fx.consent(fx.caseA, []string{alice}, family.Visits, family.Messages)
		if _, err := fx.fam.Section(ctx, fx.as("tehran"), fx.caseA); !problem.Is(err, problem.NotFound) {
			t.Errorf("an officer of another post reads the section: %v", err)
		}
		sec, err := fx.fam.Section(ctx, fx.as("barton"), fx.caseA)
		if err != nil {
			t.Fatal(err)
		}
		if len(sec.Contacts) != 1 || len(sec.Consents) != 1 || len(sec.Messages) != 0 {
			t.Errorf("section %+v", sec)
		}
		if e := fx.last(fx.caseA, "case.family_view"); !strings.Contains(e.Detail, "contacts=1 consents=1") {
			t.Errorf("audit %q", e.Detail)
		}
	})
}
