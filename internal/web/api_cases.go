package web

import (
	"net/http"
	"time"

	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/edate"
)

// dateJSON is a date known to a precision.
type dateJSON struct {
	Value     string    `json:"value"`
	Zone      string    `json:"zone,omitempty"`
	Precision string    `json:"precision"`
	Approx    bool      `json:"approx"`
	Earliest  time.Time `json:"earliest"`
	Latest    time.Time `json:"latest"`
	Human     string    `json:"human"`
}

func toDateJSON(d edate.Date) *dateJSON {
	if d.IsZero() {
		return nil
	}
	return &dateJSON{Value: d.Value(), Zone: d.Zone, Precision: d.Precision.String(), Approx: d.Approx,
		Earliest: d.Earliest(), Latest: d.Latest(), Human: d.Human()}
}

type nameJSON struct {
	ID      string `json:"id,omitempty"`
	Value   string `json:"value"`
	Script  string `json:"script"`
	Lang    string `json:"lang,omitempty"`
	Kind    string `json:"kind"`
	Source  string `json:"source,omitempty"`
	Display bool   `json:"display"`
}

func toNames(ns []cases.Name) []nameJSON {
	out := []nameJSON{}
	for _, n := range ns {
		out = append(out, nameJSON{n.ID, n.Value, n.Script, n.Lang, n.Kind, n.Source, n.Display})
	}
	return out
}

func fromNames(ns []nameJSON) []cases.Name {
	var out []cases.Name
	for _, n := range ns {
		out = append(out, cases.Name{Value: n.Value, Script: n.Script, Lang: n.Lang, Kind: n.Kind, Source: n.Source, Display: n.Display})
	}
	return out
}

type nationalityJSON struct {
	Country    string `json:"country"`
	Recognised string `json:"recognised"`
	Evidence   string `json:"evidence,omitempty"`
}

type passportJSON struct {
	Country string `json:"country"`
	Number  string `json:"number"`
}

type personJSON struct {
	ID              string            `json:"id"`
	DisplayName     string            `json:"display_name"`
	Names           []nameJSON        `json:"names"`
	Sex             string            `json:"sex"`
	Birth           *dateJSON         `json:"birth"`
	Nationalities   []nationalityJSON `json:"nationalities"`
	Passports       []passportJSON    `json:"passports"`
	Languages       []string          `json:"languages"`
	Vulnerabilities []string          `json:"vulnerabilities"`
	Notes           string            `json:"notes"`
}

func toPersonJSON(p *cases.Person) personJSON {
	out := personJSON{ID: p.ID, DisplayName: p.DisplayName, Names: toNames(p.Names), Sex: p.Sex, Birth: toDateJSON(p.Birth),
		Nationalities: []nationalityJSON{}, Passports: []passportJSON{}, Languages: append([]string{}, p.Languages...),
		Vulnerabilities: append([]string{}, p.Vulnerabilities...), Notes: p.Notes}
	for _, n := range p.Nationalities {
		out.Nationalities = append(out.Nationalities, nationalityJSON{n.Country, n.Recognised, n.Evidence})
	}
	for _, pp := range p.Passports {
		out.Passports = append(out.Passports, passportJSON{pp.Country, pp.Number})
	}
	return out
}

// personInputJSON is a person in a request.
type personInputJSON struct {
	Names           []nameJSON        `json:"names"`
	Sex             string            `json:"sex"`
	Birth           string            `json:"birth"`
	Nationalities   []nationalityJSON `json:"nationalities"`
	Passports       []passportJSON    `json:"passports"`
	Languages       []string          `json:"languages"`
	Vulnerabilities []string          `json:"vulnerabilities"`
	Notes           string            `json:"notes"`
}

func (in personInputJSON) input() cases.PersonInput {
	p := cases.PersonInput{Names: fromNames(in.Names), Sex: in.Sex, Birth: in.Birth, Languages: in.Languages,
		Vulnerabilities: in.Vulnerabilities, Notes: in.Notes}
	for _, n := range in.Nationalities {
		p.Nationalities = append(p.Nationalities, cases.Nationality{Country: n.Country, Recognised: n.Recognised, Evidence: n.Evidence})
	}
	for _, pp := range in.Passports {
		p.Passports = append(p.Passports, cases.Passport{Country: pp.Country, Number: pp.Number})
	}
	return p
}

type caseInputJSON struct {
	Status             string   `json:"status"`
	LegalStatus        string   `json:"legal_status"`
	DetainingState     string   `json:"detaining_state"`
	DetainingAuthority string   `json:"detaining_authority"`
	DetentionType      string   `json:"detention_type"`
	FacilityID         string   `json:"facility_id"`
	Arrested           string   `json:"arrested"`
	ArrestedZone       string   `json:"arrested_zone"`
	Notified           string   `json:"notified"`
	NotifiedZone       string   `json:"notified_zone"`
	Lawyer             string   `json:"lawyer"`
	Position           string   `json:"position"`
	Priority           string   `json:"priority"`
	HighProfile        bool     `json:"high_profile"`
	Classification     string   `json:"classification"`
	Post               string   `json:"post"`
	Desk               string   `json:"desk"`
	Summary            string   `json:"summary"`
	Team               []string `json:"team"`
}

func (in caseInputJSON) input() cases.CaseInput {
	return cases.CaseInput{Status: in.Status, LegalStatus: in.LegalStatus, DetainingState: in.DetainingState,
		DetainingAuthority: in.DetainingAuthority, DetentionType: in.DetentionType, FacilityID: in.FacilityID,
		Arrested: in.Arrested, ArrestedZone: in.ArrestedZone, Notified: in.Notified, NotifiedZone: in.NotifiedZone,
		Lawyer: in.Lawyer, Position: in.Position, Priority: in.Priority, HighProfile: in.HighProfile,
		Classification: in.Classification, Post: in.Post, Desk: in.Desk, Summary: in.Summary, Team: in.Team}
}

type facilityJSON struct {
	ID       string           `json:"id"`
	Names    []facilityNameJS `json:"names"`
	Country  string           `json:"country"`
	City     string           `json:"city"`
	TimeZone string           `json:"time_zone"`
	Address  string           `json:"address"`
	Kind     string           `json:"kind"`
	Post     string           `json:"post"`
}

type facilityNameJS struct {
	Lang  string `json:"lang"`
	Value string `json:"value"`
}

func toFacilityJSON(f *cases.Facility) *facilityJSON {
	if f == nil {
		return nil
	}
	out := &facilityJSON{ID: f.ID, Country: f.Country, City: f.City, TimeZone: f.TimeZone, Address: f.Address, Kind: f.Kind, Post: f.Post}
	for _, n := range f.Names {
		out.Names = append(out.Names, facilityNameJS{n.Lang, n.Value})
	}
	return out
}

type caseJSON struct {
	ID                 string         `json:"id"`
	Reference          string         `json:"reference"`
	Person             personJSON     `json:"person"`
	Status             string         `json:"status"`
	LegalStatus        string         `json:"legal_status"`
	DetainingState     string         `json:"detaining_state"`
	DetainingAuthority string         `json:"detaining_authority"`
	DetentionType      string         `json:"detention_type"`
	Facility           *facilityJSON  `json:"facility"`
	Arrested           *dateJSON      `json:"arrested"`
	Notified           *dateJSON      `json:"notified"`
	Lawyer             string         `json:"lawyer"`
	Position           string         `json:"position"`
	Priority           string         `json:"priority"`
	HighProfile        bool           `json:"high_profile"`
	Classification     string         `json:"classification"`
	Post               string         `json:"post"`
	Desk               string         `json:"desk"`
	Summary            string         `json:"summary"`
	Team               []teamJSON     `json:"team"`
	Charges            []chargeJSON   `json:"charges"`
	Links              []linkJSON     `json:"links"`
	OpenedAt           time.Time      `json:"opened_at"`
	ClosedAt           *time.Time     `json:"closed_at"`
	UpdatedAt          time.Time      `json:"updated_at"`
	Timeline           []timelineJSON `json:"timeline,omitempty"`
}

type teamJSON struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
}

type chargeJSON struct {
	ID           string    `json:"id"`
	Original     string    `json:"original"`
	OriginalLang string    `json:"original_lang"`
	Translation  string    `json:"translation"`
	Charged      *dateJSON `json:"charged"`
}

type linkJSON struct {
	ID             string `json:"id"`
	OtherID        string `json:"other_id,omitempty"`
	OtherReference string `json:"other_reference,omitempty"`
	OtherLabel     string `json:"other_label"`
	Relation       string `json:"relation"`
}

type timelineJSON struct {
	ID         string    `json:"id"`
	Happened   *dateJSON `json:"happened"`
	Kind       string    `json:"kind"`
	Title      string    `json:"title"`
	Body       string    `json:"body"`
	SourceKind string    `json:"source_kind"`
	SourceRef  string    `json:"source_ref"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
}

func toCaseJSON(c *cases.Case) caseJSON {
	out := caseJSON{ID: c.ID, Reference: c.Reference, Person: toPersonJSON(c.Person), Status: c.Status, LegalStatus: c.LegalStatus,
		DetainingState: c.DetainingState, DetainingAuthority: c.DetainingAuthority, DetentionType: c.DetentionType,
		Facility: toFacilityJSON(c.Facility), Arrested: toDateJSON(c.Arrested), Notified: toDateJSON(c.Notified), Lawyer: c.Lawyer,
		Position: c.Position, Priority: c.Priority, HighProfile: c.HighProfile, Classification: c.Classification, Post: c.Post,
		Desk: c.Desk, Summary: c.Summary, Team: []teamJSON{}, Charges: []chargeJSON{}, Links: []linkJSON{}, OpenedAt: c.OpenedAt,
		ClosedAt: optTime(c.ClosedAt), UpdatedAt: c.UpdatedAt}
	for _, m := range c.Team {
		out.Team = append(out.Team, teamJSON{m.UserID, m.Name})
	}
	for _, ch := range c.Charges {
		out.Charges = append(out.Charges, chargeJSON{ch.ID, ch.Original, ch.OriginalLang, ch.Translation, toDateJSON(ch.Charged)})
	}
	for _, l := range c.Links {
		out.Links = append(out.Links, linkJSON{l.ID, l.OtherID, l.OtherRef, l.OtherLabel, l.Relation})
	}
	return out
}

func toTimelineJSON(tl []cases.TimelineEntry) []timelineJSON {
	out := []timelineJSON{}
	for _, e := range tl {
		out = append(out, timelineJSON{e.ID, toDateJSON(e.Happened), e.Kind, e.Title, e.Body, e.SourceKind, e.SourceRef, e.CreatedBy, e.CreatedAt})
	}
	return out
}

type matchJSON struct {
	ID          string        `json:"id"`
	DisplayName string        `json:"display_name"`
	Names       []nameJSON    `json:"names"`
	Score       float64       `json:"score"`
	Cases       []caseRefJSON `json:"cases"`
}

type caseRefJSON struct {
	ID        string `json:"id"`
	Reference string `json:"reference"`
	Status    string `json:"status"`
}

func toMatches(ms []cases.Match) []matchJSON {
	out := []matchJSON{}
	for _, m := range ms {
		j := matchJSON{ID: m.PersonID, DisplayName: m.DisplayName, Names: toNames(m.Names), Score: float64(int(m.Score*100)) / 100, Cases: []caseRefJSON{}}
		for _, c := range m.Cases {
			j.Cases = append(j.Cases, caseRefJSON{c.ID, c.Reference, c.Status})
		}
		out = append(out, j)
	}
	return out
}

func (s *Server) apiSearchPeople(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.Cases.SearchPeople(r.Context(), s.actor(r), r.URL.Query().Get("q"), 30)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"people": toMatches(ms)})
	return nil
}

func (s *Server) apiPerson(w http.ResponseWriter, r *http.Request) error {
	p, err := s.Cases.Person(r.Context(), s.actor(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toPersonJSON(p))
	return nil
}

func (s *Server) apiUpdatePerson(w http.ResponseWriter, r *http.Request) error {
	var in personInputJSON
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p, err := s.Cases.UpdatePerson(r.Context(), s.actor(r), r.PathValue("id"), in.input())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toPersonJSON(p))
	return nil
}

func (s *Server) apiAddName(w http.ResponseWriter, r *http.Request) error {
	var in nameJSON
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	n, err := s.Cases.AddName(r.Context(), s.actor(r), r.PathValue("id"), fromNames([]nameJSON{in})[0])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toNames([]cases.Name{*n})[0])
	return nil
}

type summaryJSON struct {
	ID             string    `json:"id"`
	Reference      string    `json:"reference"`
	PersonID       string    `json:"person_id"`
	PersonName     string    `json:"person_name"`
	Status         string    `json:"status"`
	LegalStatus    string    `json:"legal_status"`
	DetainingState string    `json:"detaining_state"`
	Facility       string    `json:"facility"`
	Post           string    `json:"post"`
	Desk           string    `json:"desk"`
	Priority       string    `json:"priority"`
	HighProfile    bool      `json:"high_profile"`
	Arrested       *dateJSON `json:"arrested"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func (s *Server) apiCases(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Cases.Cases(r.Context(), s.actor(r), caseFilter(r.URL.Query()))
	if err != nil {
		return err
	}
	out := []summaryJSON{}
	for _, c := range list {
		out = append(out, summaryJSON{c.ID, c.Reference, c.PersonID, c.PersonName, c.Status, c.LegalStatus, c.DetainingState,
			c.FacilityName, c.Post, c.Desk, c.Priority, c.HighProfile, toDateJSON(c.Arrested), c.UpdatedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"cases": out})
	return nil
}

func (s *Server) apiOpenCase(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		PersonID  string           `json:"person_id"`
		Person    *personInputJSON `json:"person"`
		NewPerson bool             `json:"new_person"` // skip the duplicate check: this is someone new
		Case      caseInputJSON    `json:"case"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	var person *cases.PersonInput
	if in.Person != nil && in.PersonID == "" {
		p := in.Person.input()
		person = &p
		if !in.NewPerson {
			var candidates []string
			for _, n := range p.Names {
				candidates = append(candidates, n.Value)
			}
			matches, err := s.Cases.LikelyDuplicates(r.Context(), s.actor(r), candidates)
			if err != nil {
				return err
			}
			if len(matches) > 0 {
				writeJSON(w, http.StatusConflict, map[string]any{
					"error": map[string]string{"code": "conflict", "request_id": stateOf(r).id,
						"message": "People with similar names are already on file: open the case with one's person_id, or send new_person: true."},
					"matches": toMatches(matches)})
				return nil
			}
		}
	}
	c, err := s.Cases.OpenCase(r.Context(), s.actor(r), in.PersonID, person, in.Case.input())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toCaseJSON(c))
	return nil
}

func (s *Server) apiCase(w http.ResponseWriter, r *http.Request) error {
	c, tl, err := s.Cases.CaseFile(r.Context(), s.actor(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := toCaseJSON(c)
	out.Timeline = toTimelineJSON(tl)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiUpdateCase(w http.ResponseWriter, r *http.Request) error {
	var in caseInputJSON
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	c, err := s.Cases.UpdateCase(r.Context(), s.actor(r), r.PathValue("id"), in.input())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toCaseJSON(c))
	return nil
}

func (s *Server) apiAddCharge(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Original     string `json:"original"`
		OriginalLang string `json:"original_lang"`
		Translation  string `json:"translation"`
		Charged      string `json:"charged"`
		ChargedZone  string `json:"charged_zone"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	ch, err := s.Cases.AddCharge(r.Context(), s.actor(r), r.PathValue("id"), cases.ChargeInput{Original: in.Original,
		OriginalLang: in.OriginalLang, Translation: in.Translation, Charged: in.Charged, Zone: in.ChargedZone})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, chargeJSON{ch.ID, ch.Original, ch.OriginalLang, ch.Translation, toDateJSON(ch.Charged)})
	return nil
}

func (s *Server) apiAddLink(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		OtherReference string `json:"other_reference"`
		OtherLabel     string `json:"other_label"`
		Relation       string `json:"relation"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return noContent(w, s.Cases.AddLink(r.Context(), s.actor(r), r.PathValue("id"), cases.LinkInput{OtherReference: in.OtherReference,
		OtherLabel: in.OtherLabel, Relation: in.Relation}))
}

func (s *Server) apiTimeline(w http.ResponseWriter, r *http.Request) error {
	tl, err := s.Cases.Timeline(r.Context(), s.actor(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"timeline": toTimelineJSON(tl)})
	return nil
}

func (s *Server) apiAddEvent(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Happened   string `json:"happened"`
		Zone       string `json:"zone"`
		Kind       string `json:"kind"`
		Title      string `json:"title"`
		Body       string `json:"body"`
		SourceKind string `json:"source_kind"`
		SourceRef  string `json:"source_ref"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	e, err := s.Cases.AddEvent(r.Context(), s.actor(r), r.PathValue("id"), cases.TimelineInput{Happened: in.Happened, Zone: in.Zone,
		Kind: in.Kind, Title: in.Title, Body: in.Body, SourceKind: in.SourceKind, SourceRef: in.SourceRef})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toTimelineJSON([]cases.TimelineEntry{*e})[0])
	return nil
}

type facilityInputJSON struct {
	Names    []facilityNameJS `json:"names"`
	Country  string           `json:"country"`
	City     string           `json:"city"`
	TimeZone string           `json:"time_zone"`
	Address  string           `json:"address"`
	Kind     string           `json:"kind"`
	Post     string           `json:"post"`
}

func (in facilityInputJSON) input() cases.FacilityInput {
	out := cases.FacilityInput{Country: in.Country, City: in.City, TimeZone: in.TimeZone, Address: in.Address, Kind: in.Kind, Post: in.Post}
	for _, n := range in.Names {
		out.Names = append(out.Names, cases.FacilityName{Lang: n.Lang, Value: n.Value})
	}
	return out
}

func (s *Server) apiFacilities(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Cases.Facilities(r.Context(), s.actor(r))
	if err != nil {
		return err
	}
	out := []*facilityJSON{}
	for _, f := range list {
		out = append(out, toFacilityJSON(f))
	}
	writeJSON(w, http.StatusOK, map[string]any{"facilities": out})
	return nil
}

func (s *Server) apiFacility(w http.ResponseWriter, r *http.Request) error {
	f, err := s.Cases.Facility(r.Context(), s.actor(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toFacilityJSON(f))
	return nil
}

func (s *Server) apiCreateFacility(w http.ResponseWriter, r *http.Request) error {
	var in facilityInputJSON
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	f, err := s.Cases.CreateFacility(r.Context(), s.actor(r), in.input())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toFacilityJSON(f))
	return nil
}

func (s *Server) apiUpdateFacility(w http.ResponseWriter, r *http.Request) error {
	var in facilityInputJSON
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	f, err := s.Cases.UpdateFacility(r.Context(), s.actor(r), r.PathValue("id"), in.input())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toFacilityJSON(f))
	return nil
}

// noContent runs a change that returns nothing and answers 204.
func noContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiDisplayName(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.Cases.SetDisplayName(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("name")))
}

func (s *Server) apiDeleteName(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.Cases.DeleteName(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("name")))
}

func (s *Server) apiDeleteCharge(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.Cases.DeleteCharge(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("item")))
}

func (s *Server) apiDeleteLink(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.Cases.DeleteLink(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("item")))
}

func (s *Server) apiDeleteEvent(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.Cases.DeleteEvent(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("item")))
}
