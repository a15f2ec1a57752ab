package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/family"
	"github.com/attache-org/attache/internal/reports"
	"github.com/attache-org/attache/internal/visits"
)

// The first virtual consular access to Michael Kovrig after the suspension
// of visits for the epidemic, on 10 October 2020 (Global Affairs Canada's
// statement of that day), held by the ambassador over the detaining
// state's video link.
const pastVisitStart = "2020-10-10 10:00"

// loadReport records that visit as held, with a report written by the
// ambassador and approved by the supervisor, as the seed article tells it.
func loadReport(ctx context.Context, env Env) error {
	barton, err := env.Auth.UserByName(ctx, "barton")
	if err != nil {
		return err
	}
	supervisor, err := env.Auth.UserByName(ctx, "supervisor")
	if err != nil {
		return err
	}
	a := cases.Actor{User: barton}
	id, err := env.Cases.CaseByReference(ctx, barton, "CN-2018-0001")
	if err != nil {
		return err
	}
	v, err := pastVisit(ctx, env, a, id)
	if err != nil || v != nil {
		return err // already there, or failed
	}
	v, err = env.Visits.RecordPast(ctx, a, id, visits.PastInput{Modality: "remote_video", Start: pastVisitStart, Minutes: 30,
		Note: "Virtual consular access granted by the detaining state (Global Affairs Canada, 10 October 2020)"})
	if err != nil {
		return err
	}
	r, err := env.Reports.Create(ctx, a, id, v.ID)
	if err != nil {
		return err
	}
	b := r.Body
	b.DurationMinutes = 30
	b.Location = "Detaining state's video link (place not disclosed)"
	b.Monitored = "yes"
	b.Present.HostOfficials = []string{"Officials of the detaining state, on the link"}
	b.Restrictions.Topics = "The case itself could not be discussed."
	b.Wishes.AcceptsAssistance = "yes"
	b.Wishes.ConsentChanges = "Agrees that his wife, Vina Nadjibulla, is told the date of the next visit and receives his messages."
	b.Health.Physical = "Appeared in reasonable physical health on the video link."
	b.Health.Mental = "Relieved to hear from his family and the outside world; surprised by the extent of the epidemic outside."
	b.Conditions.Other = "Not discussed on the monitored link."
	b.Legal.StatusCode = "pretrial"
	b.Legal.Status = "Charged with espionage in June 2020; no trial date known."
	b.Legal.LawyerAccess = "denied"
	b.Needs.Books = "Asked for books."
	b.AdviceGiven = "Told him that the government continues to call for his release."
	b.FamilyMessages = reports.FamilyMessages{FromFamily: "Messages from his family were passed on.", ToFamily: "Asked that his family be told he is well."}
	b.Summary = "First consular contact since January 2020, by video, after the detaining state suspended visits for the epidemic. " +
		"The detainee was calm, relieved to hear from his family, and surprised by the extent of the outbreak. The link was monitored and the case could not be discussed."
	b.FactualOnly = true
	if err := env.Reports.SaveDraft(ctx, a, id, v.ID, b, r.Version); err != nil {
		return err
	}
	if err := env.Reports.Submit(ctx, a, id, v.ID, r.Version+1); err != nil {
		return err
	}
	if err := env.Reports.Approve(ctx, cases.Actor{User: supervisor}, id, v.ID, r.Version+2); err != nil {
		return err
	}
	fmt.Fprintln(env.Out, env.Words.T("Demo report: the video visit of CN-2018-0001 on 10 October 2020, approved by the supervisor."))
	return loadFamily(ctx, env, a, id, v.ID)
}

// pastVisit finds the demo's past visit, if loaded already.
func pastVisit(ctx context.Context, env Env, a cases.Actor, caseID string) (*visits.Visit, error) {
	list, err := env.Visits.ForCase(ctx, a, caseID)
	if err != nil {
		return nil, err
	}
	want := time.Date(2020, 10, 10, 2, 0, 0, 0, time.UTC)
	for i := range list {
		if list[i].Starts.Equal(want) {
			return &list[i], nil
		}
	}
	return nil, nil
}

// loadFamily adds the family contact of the seed article, Vina Nadjibulla,
// with the detainee's consent (given at that visit) to see the next visit
// date and to exchange messages, and an account for her.
func loadFamily(ctx context.Context, env Env, a cases.Actor, caseID, visitID string) error {
	c, err := env.Family.AddContact(ctx, a, caseID, family.ContactInput{Name: "Vina Nadjibulla", Relationship: "spouse", Languages: []string{"en"},
		Email: "vina.nadjibulla@example.org", Designated: true, Notes: "His wife; spoke to the Canadian press after the October 2020 visit."})
	if err != nil {
		return err
	}
	if _, err := env.Family.RecordConsent(ctx, a, caseID, family.ConsentInput{Recipients: []string{c.ID},
		Categories: []family.Category{family.Visits, family.Messages}, Given: "2020-10-10", Method: "verbal_visit", VisitID: visitID}); err != nil {
		return err
	}
	path, _, err := env.Family.Invite(ctx, a, caseID, c.ID)
	if err != nil {
		return err
	}
	password := auth.GeneratePassword()
	u, err := env.Family.Accept(ctx, strings.TrimPrefix(path, family.InvitePath), "vina", password, "en", "")
	if err != nil {
		return err
	}
	fa := cases.Actor{User: u}
	if _, err := env.Family.WriteMessage(ctx, fa, caseID, "We think of you every day. The children send their love; we are all well."); err != nil {
		return err
	}
	fmt.Fprintln(env.Out, env.Words.T("Demo family account: Vina Nadjibulla, his wife, who may see the next visit's date and the messages (the password is shown only now):"))
	fmt.Fprintf(env.Out, "  vina  family  %s\n", password)
	return nil
}
