package demo

import (
	"context"
	"fmt"

	"github.com/attache-org/attache/internal/access"
	"github.com/attache-org/attache/internal/cases"
)

// The seed cases: Michael Kovrig and Michael Spavor, detained in China on
// 10 December 2018, as far as the public record goes. What the record does
// not say (dates of birth, the exact places of detention, the charges'
// original wording) is left unknown.

func loadCases(ctx context.Context, env Env) error {
	if done, err := env.Cases.HasPersonNamed(ctx, "Michael Kovrig"); err != nil || done {
		return err
	}
	// The China desk opens the seed cases: administrators manage accounts
	// and settings, and read no case outside need-to-know.
	hq, err := env.Auth.UserByName(ctx, "hq")
	if err != nil {
		return err
	}
	barton, err := env.Auth.UserByName(ctx, "barton")
	if err != nil {
		return err
	}
	a := cases.Actor{User: hq}

	beijing, err := env.Cases.CreateFacility(ctx, a, cases.FacilityInput{
		Names: []cases.FacilityName{
			{Lang: "en", Value: "Place of detention in Beijing (not disclosed)"},
			{Lang: "zh", Value: "北京（地点未公开）"},
		},
		Country: "CN", City: "Beijing", TimeZone: "Asia/Shanghai", Kind: "residential surveillance at a designated location", Post: "Beijing",
	})
	if err != nil {
		return err
	}
	dandong, err := env.Cases.CreateFacility(ctx, a, cases.FacilityInput{
		Names: []cases.FacilityName{
			{Lang: "en", Value: "Place of detention in Dandong (not disclosed)"},
			{Lang: "zh", Value: "丹东（地点未公开）"},
		},
		Country: "CN", City: "Dandong", TimeZone: "Asia/Shanghai", Kind: "residential surveillance at a designated location", Post: "Beijing",
	})
	if err != nil {
		return err
	}
	position := "Considers the detention arbitrary and calls for immediate release."
	base := cases.CaseInput{Status: "open", LegalStatus: "pretrial", DetainingState: "CN", DetentionType: "rsdl",
		Position: position, Priority: "urgent", HighProfile: true, Classification: "protected_b", Post: "Beijing", Desk: "China",
		Team: []string{barton.ID}}

	kin := base
	kin.FacilityID, kin.DetainingAuthority = beijing.ID, "Beijing State Security Bureau"
	kin.Arrested, kin.Notified = "~2018-12-10 22:00", "2018-12-12 16:00"
	kin.Summary = "Former Canadian diplomat, detained in Beijing on 10 December 2018, days after Canada arrested Meng Wanzhou at the request of the United States. Charged with espionage in June 2020."
	kovrig, err := env.Cases.OpenCase(ctx, a, "", &cases.PersonInput{
		Names: []cases.Name{
			{Value: "Michael Kovrig", Script: "Latn", Lang: "en", Kind: "legal", Display: true},
			{Value: "康明凯", Script: "Hans", Lang: "zh", Kind: "local_chosen", Source: "Chinese-language media"},
			{Value: "康明凱", Script: "Hant", Lang: "zh", Kind: "local_chosen", Source: "Chinese-language media (traditional characters)"},
			{Value: "Kang Mingkai", Script: "Latn", Kind: "romanization", Source: "machine translation of a Chinese report (November 2020)"},
			{Value: "Mingkai", Script: "Latn", Kind: "misspelling", Source: "the same report, for his surname"},
		},
		Sex: "male", Languages: []string{"en", "zh"}, Nationalities: []cases.Nationality{{Country: "CA", Recognised: "yes"}},
	}, kin)
	if err != nil {
		return err
	}
	sin := base
	sin.FacilityID, sin.DetainingAuthority = dandong.ID, "Dandong State Security Bureau"
	sin.Arrested = "2018-12-10"
	sin.Summary = "Businessman working on North Korea, detained in Dandong on 10 December 2018, the same day as Michael Kovrig. Charged with espionage in June 2020."
	spavor, err := env.Cases.OpenCase(ctx, a, "", &cases.PersonInput{
		Names: []cases.Name{
			{Value: "Michael Spavor", Script: "Latn", Lang: "en", Kind: "legal", Display: true},
			{Value: "斯帕弗", Script: "Hans", Lang: "zh", Kind: "romanization", Source: "Chinese-language media"},
			{Value: "斯派佛", Script: "Hans", Lang: "zh", Kind: "romanization", Source: "Chinese-language media"},
		},
		Sex: "male", Languages: []string{"en"}, Nationalities: []cases.Nationality{{Country: "CA", Recognised: "yes"}},
	}, sin)
	if err != nil {
		return err
	}

	for _, c := range []*cases.Case{kovrig, spavor} {
		if _, err := env.Cases.AddCharge(ctx, a, c.ID, cases.ChargeInput{Translation: "Espionage (the wording of the charge was not made public)",
			Charged: "2020-06"}); err != nil {
			return err
		}
		if err := env.Cases.AddLink(ctx, a, c.ID, cases.LinkInput{
			OtherLabel: "Meng Wanzhou, CFO of Huawei, arrested in Vancouver on 1 December 2018 at the request of the United States",
			Relation:   "Detained days after the arrest of"}); err != nil {
			return err
		}
	}
	if err := env.Cases.AddLink(ctx, a, kovrig.ID, cases.LinkInput{OtherReference: spavor.Reference, Relation: "Detained the same day as"}); err != nil {
		return err
	}

	press := "Public reporting"
	gac := "Global Affairs Canada statement"
	canada := "The Government of Canada is deeply concerned about the arbitrary detention of two Canadian citizens and continues to call for their immediate release."
	meng := "What the Canadian authorities did to Meng Wanzhou was arbitrary detention."
	suspension := "China suspends all consular visits, citing the COVID-19 epidemic"
	common := []cases.TimelineInput{
		{Happened: "2018-12-01", Zone: "America/Vancouver", Kind: "other", Title: "Meng Wanzhou arrested in Vancouver at the request of the United States", SourceKind: "press", SourceRef: "AFP"},
		{Happened: "2020-01", Kind: "other", Title: suspension, SourceKind: "press", SourceRef: press},
		{Happened: "2020-06", Kind: "charge", Title: "Charged with espionage", SourceKind: "press", SourceRef: press},
		{Happened: "~2020-11-05", Zone: "Asia/Shanghai", Kind: "statement_detaining", Title: "Chinese foreign ministry spokesperson rejects the charge of arbitrary detention", Body: meng, SourceKind: "government_statement", SourceRef: "Ministry of Foreign Affairs of the People's Republic of China, regular press conference, early November 2020"},
		{Happened: "2020-11", Kind: "statement_sending", Title: "Canada calls for the immediate release of both men", Body: canada, SourceKind: "government_statement", SourceRef: gac},
	}
	events := map[*cases.Case][]cases.TimelineInput{
		kovrig: {
			{Happened: "~2018-12-10 22:00", Zone: "Asia/Shanghai", Kind: "arrest", Title: "Detained in Beijing", SourceKind: "press", SourceRef: press},
			{Happened: "2018-12-12 16:00", Zone: "Asia/Shanghai", Kind: "notification", Title: "China formally notifies Canada of the detention, two days later", SourceKind: "press", SourceRef: press},
			{Happened: "2020-11", Kind: "family_contact", Title: "His wife, Vina Nadjibulla, tells the Canadian press of his first video visit", Body: "When her husband received his first consular visit in October, he was relieved to be informed by his family and the outside world, but also surprised by the extent of the outbreak.", SourceKind: "press", SourceRef: "Canadian press, as reported in November 2020"},
		},
		spavor: {
			{Happened: "2018-12-10", Zone: "Asia/Shanghai", Kind: "arrest", Title: "Detained in Dandong", SourceKind: "press", SourceRef: press},
		},
	}
	// The consular contacts of the public record; each also goes on the timeline.
	contacts := map[*cases.Case][]access.ContactInput{
		kovrig: {
			{Happened: "2018-12-14", Mode: "in_person", Notes: "First consular access: the ambassador and two diplomats, 30 minutes, at a police station.", SourceRef: press},
			{Happened: "2019-01-10", Mode: "in_person", Notes: "Second consular visit.", SourceRef: press},
			{Happened: "2019-02", Mode: "in_person", Notes: "Third consular visit.", SourceRef: press},
			{Happened: "2019-10-25", Mode: "in_person", Notes: "First consular visit led by Ambassador Dominic Barton.", SourceRef: gac},
			{Happened: "2020-01-14", Mode: "in_person", Notes: "Last in-person consular access before the suspension.", SourceRef: gac},
			{Happened: "2020-10-10", Mode: "remote_video", Notes: "Virtual consular access.", SourceRef: gac},
			{Happened: "2020-11-19", Mode: "onsite_video", Notes: "Video consular access by Ambassador Barton (on-site virtual).", SourceRef: gac},
		},
		spavor: {
			{Happened: "2018-12-16", Mode: "in_person", Notes: "First consular access.", SourceRef: press},
			{Happened: "2019-10-28", Mode: "in_person", Notes: "First consular visit led by Ambassador Dominic Barton.", SourceRef: gac},
			{Happened: "2020-01-13", Mode: "in_person", Notes: "Last in-person consular access before the suspension.", SourceRef: gac},
			{Happened: "2020-10-09", Mode: "remote_video", Notes: "Virtual consular access.", SourceRef: gac},
			{Happened: "2020-11-10", Mode: "onsite_video", Notes: "Video consular access by Ambassador Barton (on-site virtual).", SourceRef: gac},
		},
	}
	for c, list := range events {
		for _, ev := range append(common, list...) {
			if _, err := env.Cases.AddEvent(ctx, a, c.ID, ev); err != nil {
				return fmt.Errorf("timeline of %s, %q: %w", c.Reference, ev.Title, err)
			}
		}
	}
	for c, list := range contacts {
		for _, ct := range list {
			if ct.Zone == "" && len(ct.Happened) > 7 {
				ct.Zone = "Asia/Shanghai"
			}
			if _, err := env.Access.AddContact(ctx, a, c.ID, ct); err != nil {
				return fmt.Errorf("contacts of %s, %s: %w", c.Reference, ct.Happened, err)
			}
		}
		if err := env.Access.SaveNotification(ctx, a, c.ID, access.NotificationInput{LearnedVia: "host_notification", Assistance: "accepted",
			FirstContact: list[0].Happened, FirstContactZone: "Asia/Shanghai", FirstContactChannel: "in_person"}); err != nil {
			return err
		}
	}
	if _, err := env.Access.AddSuspension(ctx, a, access.SuspensionInput{DetainingState: "CN", Modes: []string{"in_person"},
		Reason: "COVID-19 epidemic (\"New Crown epidemic\")", Starts: "2020-01", SourceRef: press}); err != nil {
		return err
	}
	fmt.Fprintln(env.Out, env.Words.T("Demo cases: %s (Michael Kovrig) and %s (Michael Spavor).", kovrig.Reference, spavor.Reference))
	return nil
}
