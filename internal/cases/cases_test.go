package cases_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/names"
	"github.com/attache-org/attache/internal/problem"
)

var folder = func() *names.Folder {
	f, err := names.NewFolder()
	if err != nil {
		panic(err)
	}
	return f
}()

type fixture struct {
	svc   *cases.Service
	auth  *auth.Service
	audit *audit.Log
	db    *db.DB
	users map[string]*auth.User
}

func (fx *fixture) as(name string) cases.Actor {
	return cases.Actor{User: fx.users[name], Address: "192.0.2.1"}
}

func newFixture(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	a := audit.New(d)
	as := auth.NewService(d, a, slog.New(slog.NewTextHandler(io.Discard, nil)))
	as.Params = auth.TestPasswordParams
	fx := &fixture{svc: cases.NewService(d, a, folder), auth: as, audit: a, db: d, users: map[string]*auth.User{}}
	for _, u := range []auth.UserInput{
		{Username: "admin", DisplayName: "Admin", Role: auth.RoleAdmin},
		{Username: "beijing", DisplayName: "Officer in Beijing", Role: auth.RoleConsularOfficer, Post: "Beijing"},
		{Username: "shanghai", DisplayName: "Officer in Shanghai", Role: auth.RoleConsularOfficer, Post: "Shanghai"},
		{Username: "chinadesk", DisplayName: "HQ China desk", Role: auth.RoleHQOfficer, Desk: "China"},
		{Username: "irandesk", DisplayName: "HQ Iran desk", Role: auth.RoleHQOfficer, Desk: "Iran"},
		{Username: "auditor", DisplayName: "Auditor", Role: auth.RoleAuditor},
	} {
		created, err := as.CreateUser(context.Background(), audit.System, u, "correct horse battery", false)
		if err != nil {
			t.Fatal(err)
		}
		fx.users[u.Username] = created
	}
	return fx
}

func kovrigInput() cases.PersonInput {
	return cases.PersonInput{
		Names: []cases.Name{
			{Value: "Michael Kovrig", Script: "Latn", Lang: "en", Kind: "legal", Display: true},
			{Value: "康明凯", Script: "Hans", Lang: "zh", Kind: "local_chosen", Source: "Chinese media"},
			{Value: "康明凱", Script: "Hant", Lang: "zh", Kind: "local_chosen"},
			{Value: "Kang Mingkai", Script: "Latn", Kind: "misspelling", Source: "machine-translated press"},
		},
		Sex: "male", Nationalities: []cases.Nationality{{Country: "CA", Recognised: "yes"}},
		Languages: []string{"en", "zh"},
	}
}

func beijingCase() cases.CaseInput {
	return cases.CaseInput{LegalStatus: "pretrial", DetainingState: "CN", DetainingAuthority: "Ministry of State Security",
		DetentionType: "rsdl", Arrested: "2018-12-10 22:00", ArrestedZone: "Asia/Shanghai", Notified: "2018-12-12",
		Post: "Beijing", Desk: "China", Priority: "urgent", HighProfile: true}
}

func openCase(t *testing.T, fx *fixture, who string, p cases.PersonInput, in cases.CaseInput) *cases.Case {
	t.Helper()
	c, err := fx.svc.OpenCase(context.Background(), fx.as(who), "", &p, in)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOpenAndReadCase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		c := openCase(t, fx, "chinadesk", kovrigInput(), beijingCase())
		if c.Reference != "CN-2018-0001" || c.Person.DisplayName != "Michael Kovrig" || len(c.Person.Names) != 4 {
			t.Fatalf("opened %+v", c)
		}
		if got := c.Arrested.Earliest(); !got.Equal(time.Date(2018, 12, 10, 14, 0, 0, 0, time.UTC)) {
			t.Errorf("arrest instant %v: the time was Beijing's", got)
		}
		if len(c.Team) != 1 || c.Team[0].UserID != fx.users["chinadesk"].ID {
			t.Errorf("the officer who opened the case is not on its team: %+v", c.Team)
		}
		second := openCase(t, fx, "beijing", cases.PersonInput{Names: []cases.Name{{Value: "Michael Spavor", Script: "Latn", Kind: "legal"}}}, beijingCase())
		if second.Reference != "CN-2018-0002" {
			t.Errorf("second reference %s", second.Reference)
		}
		got, err := fx.svc.Case(ctx, fx.as("beijing"), c.ID)
		if err != nil || got.Person.Names[0].Display != true {
			t.Fatalf("read: %v", err)
		}
		entries, _ := fx.audit.List(ctx, audit.Filter{ObjectType: "case", ObjectID: c.ID})
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.Action)
		}
		if !slices.Contains(actions, "case.create") || !slices.Contains(actions, "case.view") {
			t.Errorf("audit of the case: %v", actions)
		}
	})
}

func TestNeedToKnow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		c := openCase(t, fx, "chinadesk", kovrigInput(), beijingCase())
		for _, who := range []string{"beijing", "chinadesk"} {
			if _, err := fx.svc.Case(ctx, fx.as(who), c.ID); err != nil {
				t.Errorf("%s cannot read the case: %v", who, err)
			}
			list, _ := fx.svc.Cases(ctx, fx.as(who), cases.Filter{})
			if len(list) != 1 {
				t.Errorf("%s lists %d cases", who, len(list))
			}
			ms, _ := fx.svc.SearchPeople(ctx, fx.as(who), "Kovrig", 10)
			if len(ms) != 1 {
				t.Errorf("%s finds %d people", who, len(ms))
			}
		}
		// Administrators manage accounts, not cases: they read none outside
		// need-to-know.
		for _, who := range []string{"shanghai", "irandesk", "admin"} {
			if _, err := fx.svc.Case(ctx, fx.as(who), c.ID); !problem.Is(err, problem.NotFound) {
				t.Errorf("%s reads the case: %v", who, err)
			}
			if _, err := fx.svc.Timeline(ctx, fx.as(who), c.ID); !problem.Is(err, problem.NotFound) {
				t.Errorf("%s reads the timeline: %v", who, err)
			}
			if list, err := fx.svc.Cases(ctx, fx.as(who), cases.Filter{}); err != nil || len(list) != 0 {
				t.Errorf("%s lists %d cases (%v)", who, len(list), err)
			}
			if ms, err := fx.svc.SearchPeople(ctx, fx.as(who), "Kovrig", 10); err != nil || len(ms) != 0 {
				t.Errorf("%s finds %d people (%v)", who, len(ms), err)
			}
			if _, err := fx.svc.AddEvent(ctx, fx.as(who), c.ID, cases.TimelineInput{Happened: "2019", Kind: "other", Title: "x", SourceKind: "officer"}); !problem.Is(err, problem.NotFound) {
				t.Errorf("%s adds to the timeline: %v", who, err)
			}
			if _, err := fx.svc.Person(ctx, fx.as(who), c.Person.ID); !problem.Is(err, problem.NotFound) {
				t.Errorf("%s reads the person: %v", who, err)
			}
			if _, err := fx.svc.OpenCase(ctx, fx.as(who), c.Person.ID, nil, beijingCase()); !problem.Is(err, problem.NotFound) {
				t.Errorf("%s opens a case on a person they cannot see: %v", who, err)
			}
		}
		if _, err := fx.svc.Cases(ctx, fx.as("auditor"), cases.Filter{}); !problem.Is(err, problem.Forbidden) {
			t.Errorf("the auditor lists cases: %v", err)
		}
		// Assigning the Shanghai officer to the team opens the case to them.
		in := beijingCase()
		in.Team = []string{fx.users["shanghai"].ID}
		if _, err := fx.svc.UpdateCase(ctx, fx.as("chinadesk"), c.ID, in); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.svc.Case(ctx, fx.as("shanghai"), c.ID); err != nil {
			t.Errorf("an assigned officer cannot read the case: %v", err)
		}
		list, _ := fx.svc.Cases(ctx, fx.as("shanghai"), cases.Filter{OfficerID: fx.users["shanghai"].ID})
		if len(list) != 1 {
			t.Errorf("officer filter: %d", len(list))
		}
	})
}

func TestInvalidInputChangesNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		count := func() (n int) {
			_ = d.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM cases) + (SELECT COUNT(*) FROM people) + (SELECT COUNT(*) FROM person_names)`).Scan(&n)
			return n
		}
		type tc struct {
			name   string
			person func(*cases.PersonInput)
			kase   func(*cases.CaseInput)
			field  string
		}
		for _, c := range []tc{
			{"impossible date", nil, func(in *cases.CaseInput) { in.Arrested = "2018-02-30" }, "arrested"},
			{"unknown time zone", nil, func(in *cases.CaseInput) { in.ArrestedZone = "Asia/Beijing" }, "arrested_zone"},
			{"unknown legal status", nil, func(in *cases.CaseInput) { in.LegalStatus = "in_limbo" }, "legal_status"},
			{"unknown detaining state", nil, func(in *cases.CaseInput) { in.DetainingState = "XX" }, "detaining_state"},
			{"notified before arrest", nil, func(in *cases.CaseInput) { in.Notified = "2018-11" }, "notified"},
			{"no post", nil, func(in *cases.CaseInput) { in.Post = " " }, "post"},
			{"unknown officer", nil, func(in *cases.CaseInput) { in.Team = []string{"nobody"} }, "team"},
			{"empty name", func(p *cases.PersonInput) { p.Names[0].Value = "  " }, nil, "names.0.value"},
			{"Latin script with Han letters", func(p *cases.PersonInput) { p.Names[0].Script = "Latn"; p.Names[0].Value = "康明凯" }, nil, "names.0.script"},
			{"simplified script with traditional letters", func(p *cases.PersonInput) { p.Names[2].Script = "Hans" }, nil, "names.2.script"},
			{"Cyrillic script with Latin letters", func(p *cases.PersonInput) { p.Names[0].Script = "Cyrl" }, nil, "names.0.script"},
			{"unknown name kind", func(p *cases.PersonInput) { p.Names[0].Kind = "nickname" }, nil, "names.0.kind"},
			{"control character in a name", func(p *cases.PersonInput) { p.Names[0].Value = "Michael\x1fKovrig" }, nil, "names.0.value"},
			{"control character in the post", nil, func(in *cases.CaseInput) { in.Post = "Bei\tjing" }, "post"},
			{"bad birth date", func(p *cases.PersonInput) { p.Birth = "1972-13" }, nil, "birth"},
			{"bad nationality", func(p *cases.PersonInput) { p.Nationalities[0].Country = "Canada" }, nil, "nationalities"},
		} {
			p, in := kovrigInput(), beijingCase()
			if c.person != nil {
				c.person(&p)
			}
			if c.kase != nil {
				c.kase(&in)
			}
			before := count()
			_, err := fx.svc.OpenCase(ctx, fx.as("chinadesk"), "", &p, in)
			pe, ok := problem.As(err)
			if !ok || pe.Kind != problem.Invalid || pe.Fields[c.field] == "" {
				t.Errorf("%s: err = %v, want invalid %q", c.name, err, c.field)
			}
			if after := count(); after != before {
				t.Errorf("%s: rows %d → %d", c.name, before, after)
			}
		}
		// The same checks guard changes to an existing case and its timeline.
		kase := openCase(t, fx, "chinadesk", kovrigInput(), beijingCase())
		bad := beijingCase()
		bad.Arrested = "2018-02-30"
		if _, err := fx.svc.UpdateCase(ctx, fx.as("chinadesk"), kase.ID, bad); !problem.Is(err, problem.Invalid) {
			t.Errorf("update with a bad date: %v", err)
		}
		for _, ev := range []cases.TimelineInput{
			{Happened: "2019-02-29", Kind: "other", Title: "x", SourceKind: "officer"},
			{Happened: "2019", Zone: "Mars/Olympus", Kind: "other", Title: "x", SourceKind: "officer"},
			{Happened: "2020-06-19", Kind: "statement_detaining", Title: "Statement", SourceKind: "government_statement", SourceRef: "MFA"},
			{Happened: "2020-06-19", Kind: "press", Title: "Report", SourceKind: "press"},
			{Happened: "2020", Kind: "rumour", Title: "x", SourceKind: "officer"},
		} {
			if _, err := fx.svc.AddEvent(ctx, fx.as("chinadesk"), kase.ID, ev); !problem.Is(err, problem.Invalid) {
				t.Errorf("event %+v accepted: %v", ev, err)
			}
		}
		if tl, _ := fx.svc.Timeline(ctx, fx.as("chinadesk"), kase.ID); len(tl) != 0 {
			t.Errorf("refused events left %d entries", len(tl))
		}
	})
}

func TestChargesLinksTimeline(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		kovrig := openCase(t, fx, "chinadesk", kovrigInput(), beijingCase())
		spavor := openCase(t, fx, "chinadesk", cases.PersonInput{Names: []cases.Name{{Value: "Michael Spavor", Script: "Latn", Kind: "legal"}}}, beijingCase())
		a := fx.as("chinadesk")
		if _, err := fx.svc.AddCharge(ctx, a, kovrig.ID, cases.ChargeInput{Original: "为境外窃取、刺探、收买、非法提供国家秘密罪", OriginalLang: "zh",
			Translation: "Espionage: stealing and illegally providing state secrets to foreign parties", Charged: "2020-06"}); err != nil {
			t.Fatal(err)
		}
		if err := fx.svc.AddLink(ctx, a, kovrig.ID, cases.LinkInput{OtherReference: spavor.Reference, Relation: "detained the same day"}); err != nil {
			t.Fatal(err)
		}
		if err := fx.svc.AddLink(ctx, a, kovrig.ID, cases.LinkInput{OtherLabel: "Meng Wanzhou, arrested in Vancouver on 2018-12-01", Relation: "detained days after the arrest of"}); err != nil {
			t.Fatal(err)
		}
		if err := fx.svc.AddLink(ctx, a, kovrig.ID, cases.LinkInput{OtherReference: kovrig.Reference, Relation: "self"}); !problem.Is(err, problem.Invalid) {
			t.Errorf("self link: %v", err)
		}
		// Out of order on purpose: the chronology sorts by date, at its precision.
		for _, ev := range []cases.TimelineInput{
			{Happened: "2020-06", Kind: "charge", Title: "Charged with espionage", SourceKind: "press", SourceRef: "https://example.org/charged"},
			{Happened: "2018-12-10 22:00", Zone: "Asia/Shanghai", Kind: "arrest", Title: "Detained in Beijing", SourceKind: "diplomatic_note", SourceRef: "Note 2018-123"},
			{Happened: "2018-12", Kind: "press", Title: "Reports of a detention", SourceKind: "press", SourceRef: "https://example.org/dec"},
		} {
			if _, err := fx.svc.AddEvent(ctx, a, kovrig.ID, ev); err != nil {
				t.Fatal(err)
			}
		}
		c, tl, err := fx.svc.CaseFile(ctx, a, kovrig.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Charges) != 1 || c.Charges[0].Charged.Human() != "June 2020" {
			t.Errorf("charges %+v", c.Charges)
		}
		if len(c.Links) != 2 {
			t.Fatalf("links %+v", c.Links)
		}
		var titles []string
		for _, e := range tl {
			titles = append(titles, e.Title)
		}
		want := []string{"Reports of a detention", "Detained in Beijing", "Charged with espionage"}
		if !slices.Equal(titles, want) {
			t.Errorf("chronology %v, want %v", titles, want)
		}
		// The other side of a link sees it too; someone who cannot see the
		// other case sees only that a link exists.
		other, _ := fx.svc.Case(ctx, a, spavor.ID)
		if len(other.Links) != 1 || other.Links[0].OtherRef != kovrig.Reference {
			t.Errorf("reverse link %+v", other.Links)
		}
		in := beijingCase()
		in.Post, in.Desk = "Shanghai", "Other"
		if _, err := fx.svc.UpdateCase(ctx, a, spavor.ID, in); err != nil {
			t.Fatal(err)
		}
		seen, _ := fx.svc.Case(ctx, fx.as("beijing"), kovrig.ID)
		for _, l := range seen.Links {
			if strings.Contains(l.OtherLabel, "Spavor") || l.OtherRef == spavor.Reference {
				t.Errorf("a link leaks a case the viewer cannot see: %+v", l)
			}
		}
		if err := fx.svc.DeleteCharge(ctx, a, kovrig.ID, c.Charges[0].ID); err != nil {
			t.Fatal(err)
		}
		if err := fx.svc.DeleteCharge(ctx, a, kovrig.ID, c.Charges[0].ID); !problem.Is(err, problem.NotFound) {
			t.Errorf("second delete: %v", err)
		}
	})
}

func TestNames(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		c := openCase(t, fx, "beijing", kovrigInput(), beijingCase())
		a := fx.as("beijing")
		n, err := fx.svc.AddName(ctx, a, c.Person.ID, cases.Name{Value: "Korvig", Script: "Latn", Kind: "misspelling", Source: "wire report"})
		if err != nil {
			t.Fatal(err)
		}
		if err := fx.svc.SetDisplayName(ctx, a, c.Person.ID, n.ID); err != nil {
			t.Fatal(err)
		}
		p, _ := fx.svc.Person(ctx, a, c.Person.ID)
		if p.DisplayName != "Korvig" {
			t.Fatalf("display name %q", p.DisplayName)
		}
		if ms, _ := fx.svc.SearchPeople(ctx, a, "Korvig", 5); len(ms) != 1 || ms[0].Score < 0.99 {
			t.Fatalf("the added name is not searchable: %+v", ms)
		}
		if err := fx.svc.DeleteName(ctx, a, c.Person.ID, n.ID); err != nil {
			t.Fatal(err)
		}
		var left int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM name_keys WHERE name_id = $1`, n.ID).Scan(&left); err != nil || left != 0 {
			t.Fatalf("%d search keys of the deleted name remain (%v)", left, err)
		}
		p, _ = fx.svc.Person(ctx, a, c.Person.ID)
		if p.DisplayName == "Korvig" || !p.Names[0].Display || len(p.Names) != 4 {
			t.Fatalf("after deleting the shown name: %q %+v", p.DisplayName, p.Names)
		}
		for _, other := range p.Names[1:] {
			if err := fx.svc.DeleteName(ctx, a, c.Person.ID, other.ID); err != nil {
				t.Fatal(err)
			}
		}
		if err := fx.svc.DeleteName(ctx, a, c.Person.ID, p.Names[0].ID); !problem.Is(err, problem.Invalid) {
			t.Errorf("deleting the last name: %v", err)
		}
		if _, err := fx.svc.AddName(ctx, fx.as("shanghai"), c.Person.ID, cases.Name{Value: "X", Script: "Latn", Kind: "alias"}); !problem.Is(err, problem.NotFound) {
			t.Errorf("outsider adds a name: %v", err)
		}
	})
}

func TestConcurrentOpeningKeepsReferencesUnique(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fx := newFixture(t, d)
		var wg sync.WaitGroup
		refs := make(chan string, 8)
		for i := range 8 {
			wg.Go(func() {
				p := cases.PersonInput{Names: []cases.Name{{Value: "Person " + string(rune('A'+i)), Script: "Latn", Kind: "legal"}}}
				c, err := fx.svc.OpenCase(context.Background(), fx.as("chinadesk"), "", &p, beijingCase())
				if err != nil {
					t.Error(err)
					return
				}
				refs <- c.Reference
			})
		}
		wg.Wait()
		close(refs)
		seen := map[string]bool{}
		for r := range refs {
			if seen[r] {
				t.Errorf("reference %s given twice", r)
			}
			seen[r] = true
		}
		if len(seen) != 8 || !seen["CN-2018-0008"] {
			t.Errorf("references %v", seen)
		}
	})
}

func TestOutsiderChangesNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		c := openCase(t, fx, "beijing", kovrigInput(), beijingCase())
		other := openCase(t, fx, "beijing", cases.PersonInput{Names: []cases.Name{{Value: "Michael Spavor", Script: "Latn", Kind: "legal"}}}, beijingCase())
		a := fx.as("beijing")
		ch, _ := fx.svc.AddCharge(ctx, a, c.ID, cases.ChargeInput{Translation: "Espionage", Charged: "2020-06"})
		if err := fx.svc.AddLink(ctx, a, c.ID, cases.LinkInput{OtherReference: other.Reference, Relation: "same day"}); err != nil {
			t.Fatal(err)
		}
		ev, _ := fx.svc.AddEvent(ctx, a, c.ID, cases.TimelineInput{Happened: "2019", Kind: "other", Title: "x", SourceKind: "officer"})
		full, _ := fx.svc.Case(ctx, a, c.ID)
		link := full.Links[0]
		o := fx.as("shanghai")
		pid, nid := c.Person.ID, c.Person.Names[1].ID
		for name, change := range map[string]func() error{
			"update case":   func() error { _, err := fx.svc.UpdateCase(ctx, o, c.ID, beijingCase()); return err },
			"update person": func() error { _, err := fx.svc.UpdatePerson(ctx, o, pid, cases.PersonInput{Sex: "male"}); return err },
			"display name":  func() error { return fx.svc.SetDisplayName(ctx, o, pid, nid) },
			"delete name":   func() error { return fx.svc.DeleteName(ctx, o, pid, nid) },
			"add charge": func() error {
				_, err := fx.svc.AddCharge(ctx, o, c.ID, cases.ChargeInput{Translation: "x"})
				return err
			},
			"delete charge":  func() error { return fx.svc.DeleteCharge(ctx, o, c.ID, ch.ID) },
			"add link":       func() error { return fx.svc.AddLink(ctx, o, c.ID, cases.LinkInput{OtherLabel: "x", Relation: "y"}) },
			"delete link":    func() error { return fx.svc.DeleteLink(ctx, o, c.ID, link.ID) },
			"delete event":   func() error { return fx.svc.DeleteEvent(ctx, o, c.ID, ev.ID) },
			"case file":      func() error { _, _, err := fx.svc.CaseFile(ctx, o, c.ID); return err },
			"person of case": func() error { _, err := fx.svc.PersonOfCase(ctx, o.User, auth.UpdateCase, c.ID); return err },
		} {
			if err := change(); !problem.Is(err, problem.NotFound) {
				t.Errorf("outsider, %s: %v, want not found", name, err)
			}
		}
		after, _ := fx.svc.Case(ctx, a, c.ID)
		if len(after.Charges) != 1 || len(after.Links) != 1 || len(after.Person.Names) != 4 || after.Person.DisplayName != "Michael Kovrig" {
			t.Fatalf("the outsider changed the case: %+v", after)
		}
		// A link is removed from either of its cases.
		if err := fx.svc.DeleteLink(ctx, a, other.ID, link.ID); err != nil {
			t.Fatalf("removing a link from the other side: %v", err)
		}
	})
}

func TestSearchInOtherScripts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		openCase(t, fx, "chinadesk", cases.PersonInput{Names: []cases.Name{{Value: "Γιώργος Παπαδόπουλος", Script: "Grek", Kind: "legal"},
			{Value: "김민준", Script: "Hang", Kind: "legal"}}}, beijingCase())
		for _, q := range []string{"Γιώργο", "Παπαδόπουλος γιώργος", "김민준", "김민"} {
			ms, err := fx.svc.SearchPeople(ctx, fx.as("chinadesk"), q, 5)
			if err != nil {
				t.Fatalf("%q: %v", q, err)
			}
			if len(ms) != 1 {
				t.Errorf("%q found %d people", q, len(ms))
			}
		}
	})
}
