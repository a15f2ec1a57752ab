package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/visits"
)

func (s *Server) actor(r *http.Request) cases.Actor {
	st := stateOf(r)
	return cases.Actor{User: st.user, Address: st.address}
}

// caseFilter reads the list's filter from the query string.
func caseFilter(q url.Values) cases.Filter {
	f := cases.Filter{Status: q.Get("status"), DetainingState: q.Get("state"), FacilityID: q.Get("facility"),
		Post: q.Get("post"), OfficerID: q.Get("officer"), LegalStatus: q.Get("legal_status"),
		HighProfile: q.Get("high_profile"), Sort: q.Get("sort")}
	f.Limit, _ = strconv.Atoi(q.Get("limit"))
	f.Offset, _ = strconv.Atoi(q.Get("offset"))
	return f
}

func (s *Server) casesPage(w http.ResponseWriter, r *http.Request) error {
	f := caseFilter(r.URL.Query())
	list, err := s.Cases.Cases(r.Context(), s.actor(r), f)
	if err != nil {
		return err
	}
	facilities, err := s.Cases.Facilities(r.Context(), s.actor(r))
	if err != nil {
		return err
	}
	officers, err := s.Auth.Officers(r.Context())
	if err != nil {
		return err
	}
	v := s.view(r, "Cases")
	for _, k := range []string{"status", "state", "facility", "post", "officer", "legal_status", "high_profile", "sort"} {
		v.Form.Values[k] = r.URL.Query().Get(k)
	}
	v.Data = map[string]any{"Cases": list, "Facilities": facilities, "Officers": officers, "CSV": (&url.URL{Path: "/cases.csv", RawQuery: r.URL.RawQuery}).String(),
		"BreakGlass": s.policy.CanBreakGlass(stateOf(r).user, &auth.Scope{})}
	return s.render(w, "cases", v)
}

// personFromForm reads the person block of the new-case form: up to
// maxNameRows name rows and the person's details.
const maxNameRows = 4

// recognition reads whether the detaining state recognises a nationality
// as typed on the page: the code (yes, no, unknown) or its word in the
// page's language (oui, non, inconnue).
func (s *Server) recognition(r *http.Request, word string) string {
	tr := s.tr(r)
	for _, t := range cases.Recognition {
		if strings.EqualFold(word, t.Code) || strings.EqualFold(word, tr(t.Code)) {
			return t.Code
		}
	}
	return word // refused with the reason by cases
}

func (s *Server) personFromForm(r *http.Request) cases.PersonInput {
	p := cases.PersonInput{
		Sex:             r.PostFormValue("sex"),
		Birth:           r.PostFormValue("birth"),
		Languages:       strings.Fields(r.PostFormValue("languages")),
		Vulnerabilities: r.PostForm["vulnerabilities"],
		Notes:           r.PostFormValue("notes"),
	}
	display, _ := strconv.Atoi(r.PostFormValue("display"))
	for i := range maxNameRows {
		n := cases.Name{
			Value:  r.PostFormValue(fmt.Sprintf("names.%d.value", i)),
			Script: r.PostFormValue(fmt.Sprintf("names.%d.script", i)),
			Lang:   r.PostFormValue(fmt.Sprintf("names.%d.lang", i)),
			Kind:   r.PostFormValue(fmt.Sprintf("names.%d.kind", i)),
			Source: r.PostFormValue(fmt.Sprintf("names.%d.source", i)),
		}
		if strings.TrimSpace(n.Value) == "" && i > 0 {
			continue
		}
		n.Display = i == display
		p.Names = append(p.Names, n)
	}
	for _, line := range strings.Split(r.PostFormValue("nationalities"), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		n := cases.Nationality{Country: fields[0], Recognised: "unknown"}
		if len(fields) > 1 {
			n.Recognised = s.recognition(r, fields[1])
		}
		if len(fields) > 2 {
			n.Evidence = strings.Join(fields[2:], " ")
		}
		p.Nationalities = append(p.Nationalities, n)
	}
	for _, line := range strings.Split(r.PostFormValue("passports"), "\n") {
		fields := strings.Fields(line)
		switch len(fields) {
		case 0:
		case 1:
			p.Passports = append(p.Passports, cases.Passport{Number: fields[0]})
		default:
			p.Passports = append(p.Passports, cases.Passport{Country: fields[0], Number: strings.Join(fields[1:], "")})
		}
	}
	return p
}

func caseFromForm(r *http.Request) cases.CaseInput {
	return cases.CaseInput{
		Status: r.PostFormValue("status"), LegalStatus: r.PostFormValue("legal_status"),
		DetainingState: r.PostFormValue("detaining_state"), DetainingAuthority: r.PostFormValue("detaining_authority"),
		DetentionType: r.PostFormValue("detention_type"), FacilityID: r.PostFormValue("facility_id"),
		Arrested: r.PostFormValue("arrested"), ArrestedZone: r.PostFormValue("arrested_zone"),
		Notified: r.PostFormValue("notified"), NotifiedZone: r.PostFormValue("notified_zone"),
		Lawyer: r.PostFormValue("lawyer"), Position: r.PostFormValue("position"), Priority: r.PostFormValue("priority"),
		HighProfile: r.PostFormValue("high_profile") == "on", Classification: r.PostFormValue("classification"),
		Post: r.PostFormValue("post"), Desk: r.PostFormValue("desk"), Summary: r.PostFormValue("summary"),
		Team: r.PostForm["team"],
	}
}

// caseFormData is what the case forms need to offer choices.
func (s *Server) caseFormData(r *http.Request, data map[string]any) (map[string]any, error) {
	facilities, err := s.Cases.Facilities(r.Context(), s.actor(r))
	if err != nil {
		return nil, err
	}
	officers, err := s.Auth.Officers(r.Context())
	if err != nil {
		return nil, err
	}
	if data == nil {
		data = map[string]any{}
	}
	data["Facilities"], data["Officers"], data["NameRows"] = facilities, officers, []int{0, 1, 2, 3}
	for _, k := range []string{"Team", "Vulnerable"} {
		if _, ok := data[k]; !ok {
			data[k] = map[string]bool{}
		}
	}
	return data, nil
}

func (s *Server) newCasePage(w http.ResponseWriter, r *http.Request) error {
	v := s.view(r, "Open a case")
	u := stateOf(r).user
	v.Form.Values = map[string]string{"status": "open", "priority": "normal", "classification": "protected_b",
		"legal_status": "arrested_not_charged", "sex": "unknown", "post": u.Post, "desk": u.Desk, "display": "0", "names.0.script": "Latn",
		"names.0.kind": "legal", "names.1.script": "Hans", "names.1.kind": "local_chosen"}
	data, err := s.caseFormData(r, nil)
	if err != nil {
		return err
	}
	v.Data = data
	return s.render(w, "case_new", v)
}

// createCase opens a case. Before a new person is entered, people with
// matching names are shown first; the officer either opens the case for one
// of them or confirms that this is someone new.
func (s *Server) createCase(w http.ResponseWriter, r *http.Request) error {
	v := s.view(r, "Open a case")
	for k, vals := range r.PostForm {
		if k != csrfField && len(vals) > 0 {
			v.Form.Values[k] = vals[0]
		}
	}
	teamSel := map[string]bool{}
	for _, id := range r.PostForm["team"] {
		teamSel[id] = true
	}
	vulnSel := map[string]bool{}
	for _, c := range r.PostForm["vulnerabilities"] {
		vulnSel[c] = true
	}
	data, err := s.caseFormData(r, map[string]any{"Team": teamSel, "Vulnerable": vulnSel})
	if err != nil {
		return err
	}
	v.Data = data
	personID := r.PostFormValue("person_id")
	person := s.personFromForm(r)
	in := caseFromForm(r)
	if personID == "" && r.PostFormValue("new_person") != "on" {
		var candidates []string
		for _, n := range person.Names {
			candidates = append(candidates, n.Value)
		}
		matches, err := s.Cases.LikelyDuplicates(r.Context(), s.actor(r), candidates)
		if err != nil {
			return err
		}
		if len(matches) > 0 {
			data["Matches"] = matches
			v.Form.Error = "People with similar names are already on file. Open the case for one of them, or confirm that this is someone new."
			return s.renderStatus(w, http.StatusConflict, "case_new", v)
		}
	}
	var c *cases.Case
	if personID != "" {
		c, err = s.Cases.OpenCase(r.Context(), s.actor(r), personID, nil, in)
	} else {
		c, err = s.Cases.OpenCase(r.Context(), s.actor(r), "", &person, in)
	}
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
		v.Form.Errors = pe.LocalizeFields(v.T)
		return s.renderStatus(w, http.StatusBadRequest, "case_new", v)
	}
	if err != nil {
		return err
	}
	s.redirectFlash(w, r, "/cases/"+c.ID, "case-opened")
	return nil
}

func (s *Server) casePage(w http.ResponseWriter, r *http.Request) error {
	return s.renderCase(w, r, http.StatusOK, s.view(r, "Case"), "")
}

// renderCase shows the case page; a form that failed comes back with its
// errors in its own section (section names it).
func (s *Server) renderCase(w http.ResponseWriter, r *http.Request, code int, v *view, section string) error {
	c, timeline, err := s.Cases.CaseFile(r.Context(), s.actor(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	acc, err := s.Access.ForCase(r.Context(), s.actor(r), c.ID, r.URL.Query().Get("since"))
	if err != nil {
		return err
	}
	booked, err := s.Visits.ForCase(r.Context(), s.actor(r), c.ID)
	if err != nil {
		return err
	}
	links := map[string][]visits.Link{}
	for _, bv := range booked {
		if links[bv.ID], err = s.Visits.Links(r.Context(), s.actor(r), c.ID, bv.ID); err != nil {
			return err
		}
	}
	var terminals []visits.Terminal
	if c.Facility != nil {
		if terminals, err = s.Visits.Terminals(r.Context(), s.actor(r), c.Facility.ID); err != nil {
			return err
		}
	}
	officers, err := s.Auth.Officers(r.Context())
	if err != nil {
		return err
	}
	fam, err := s.caseFamily(r, c, booked)
	if err != nil {
		return err
	}
	glass, err := s.Cases.CaseBreakGlass(r.Context(), s.actor(r), c.ID)
	if err != nil {
		return err
	}
	v.Title = c.Reference
	v.Data = map[string]any{"Case": c, "Timeline": timeline, "BreakGlass": glass, "Now": s.Auth.Now(), "Section": section, "Access": acc, "Since": r.URL.Query().Get("since"),
		"Visits": booked, "Terminals": terminals, "Officers": officers, "Links": links, "LinkLanguages": s.Catalog.Languages(),
		"CanEdit": s.policy.Can(stateOf(r).user, auth.UpdateCase, c.Scope()), "Family": fam}
	return s.renderStatus(w, code, "case", v)
}

// caseAction runs a change on the case page and returns to the page, or
// shows the page again with the form's errors.
func (s *Server) caseAction(w http.ResponseWriter, r *http.Request, section, flash string, change func() error) error {
	err := change()
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
		v := s.view(r, "Case")
		for k, vals := range r.PostForm {
			if k != csrfField && len(vals) > 0 {
				v.Form.Values[k] = vals[0]
			}
		}
		v.Form.Errors = pe.LocalizeFields(v.T)
		return s.renderCase(w, r, http.StatusBadRequest, v, section)
	}
	if err != nil {
		return err
	}
	s.redirectFlash(w, r, "/cases/"+r.PathValue("id")+"#"+section, flash)
	return nil
}

func (s *Server) editCasePage(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Cases.Case(r.Context(), s.actor(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	if !s.policy.Can(stateOf(r).user, auth.UpdateCase, c.Scope()) {
		return errForbidden
	}
	v := s.view(r, "Edit case")
	facility := ""
	if c.Facility != nil {
		facility = c.Facility.ID
	}
	v.Form.Values = map[string]string{"status": c.Status, "legal_status": c.LegalStatus, "detaining_state": c.DetainingState,
		"detaining_authority": c.DetainingAuthority, "detention_type": c.DetentionType, "facility_id": facility,
		"arrested": c.Arrested.Value(), "arrested_zone": c.Arrested.Zone, "notified": c.Notified.Value(), "notified_zone": c.Notified.Zone,
		"lawyer": c.Lawyer, "position": c.Position, "priority": c.Priority, "classification": c.Classification,
		"post": c.Post, "desk": c.Desk, "summary": c.Summary}
	if c.HighProfile {
		v.Form.Values["high_profile"] = "on"
	}
	team := map[string]bool{}
	for _, m := range c.Team {
		team[m.UserID] = true
	}
	data, err := s.caseFormData(r, map[string]any{"Case": c, "Team": team})
	if err != nil {
		return err
	}
	v.Data = data
	return s.render(w, "case_edit", v)
}

func (s *Server) updateCase(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	_, err := s.Cases.UpdateCase(r.Context(), s.actor(r), id, caseFromForm(r))
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
		c, err := s.Cases.Case(r.Context(), s.actor(r), id)
		if err != nil {
			return err
		}
		v := s.view(r, "Edit case")
		for k, vals := range r.PostForm {
			if k != csrfField && len(vals) > 0 {
				v.Form.Values[k] = vals[0]
			}
		}
		v.Form.Errors = pe.LocalizeFields(v.T)
		team := map[string]bool{}
		for _, uid := range r.PostForm["team"] {
			team[uid] = true
		}
		data, err := s.caseFormData(r, map[string]any{"Case": c, "Team": team})
		if err != nil {
			return err
		}
		v.Data = data
		return s.renderStatus(w, http.StatusBadRequest, "case_edit", v)
	}
	if err != nil {
		return err
	}
	s.redirectFlash(w, r, "/cases/"+id, "case-saved")
	return nil
}

// personOf finds the person of the case in the path, for changes.
func (s *Server) personOf(r *http.Request) (string, error) {
	return s.Cases.PersonOfCase(r.Context(), stateOf(r).user, auth.UpdateCase, r.PathValue("id"))
}

func (s *Server) updatePerson(w http.ResponseWriter, r *http.Request) error {
	return s.caseAction(w, r, "person", "case-saved", func() error {
		pid, err := s.personOf(r)
		if err != nil {
			return err
		}
		p := s.personFromForm(r)
		p.Names = nil
		_, err = s.Cases.UpdatePerson(r.Context(), s.actor(r), pid, p)
		return err
	})
}

func (s *Server) addName(w http.ResponseWriter, r *http.Request) error {
	return s.caseAction(w, r, "names", "name-added", func() error {
		pid, err := s.personOf(r)
		if err != nil {
			return err
		}
		_, err = s.Cases.AddName(r.Context(), s.actor(r), pid, cases.Name{Value: r.PostFormValue("value"), Script: r.PostFormValue("script"),
			Lang: r.PostFormValue("lang"), Kind: r.PostFormValue("kind"), Source: r.PostFormValue("source"), Display: r.PostFormValue("display") == "on"})
		return err
	})
}

func (s *Server) displayName(w http.ResponseWriter, r *http.Request) error {
	return s.caseAction(w, r, "names", "case-saved", func() error {
		pid, err := s.personOf(r)
		if err != nil {
			return err
		}
		return s.Cases.SetDisplayName(r.Context(), s.actor(r), pid, r.PathValue("name"))
	})
}

func (s *Server) deleteName(w http.ResponseWriter, r *http.Request) error {
	return s.caseAction(w, r, "names", "removed", func() error {
		pid, err := s.personOf(r)
		if err != nil {
			return err
		}
		return s.Cases.DeleteName(r.Context(), s.actor(r), pid, r.PathValue("name"))
	})
}

func (s *Server) addCharge(w http.ResponseWriter, r *http.Request) error {
	return s.caseAction(w, r, "charges", "case-saved", func() error {
		_, err := s.Cases.AddCharge(r.Context(), s.actor(r), r.PathValue("id"), cases.ChargeInput{Original: r.PostFormValue("original"),
			OriginalLang: r.PostFormValue("original_lang"), Translation: r.PostFormValue("translation"),
			Charged: r.PostFormValue("charged"), Zone: r.PostFormValue("charged_zone")})
		return err
	})
}

func (s *Server) deleteCharge(w http.ResponseWriter, r *http.Request) error {
	return s.caseAction(w, r, "charges", "removed", func() error {
		return s.Cases.DeleteCharge(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("item"))
	})
}

func (s *Server) addLink(w http.ResponseWriter, r *http.Request) error {
	return s.caseAction(w, r, "links", "case-saved", func() error {
		return s.Cases.AddLink(r.Context(), s.actor(r), r.PathValue("id"), cases.LinkInput{OtherReference: r.PostFormValue("other_reference"),
			OtherLabel: r.PostFormValue("other_label"), Relation: r.PostFormValue("relation")})
	})
}

func (s *Server) deleteLink(w http.ResponseWriter, r *http.Request) error {
	return s.caseAction(w, r, "links", "removed", func() error {
		return s.Cases.DeleteLink(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("item"))
	})
}

func timelineFromForm(r *http.Request) cases.TimelineInput {
	return cases.TimelineInput{Happened: r.PostFormValue("happened"), Zone: r.PostFormValue("zone"), Kind: r.PostFormValue("kind"),
		Title: r.PostFormValue("title"), Body: r.PostFormValue("body"), SourceKind: r.PostFormValue("source_kind"),
		SourceRef: r.PostFormValue("source_ref")}
}

func (s *Server) addEvent(w http.ResponseWriter, r *http.Request) error {
	return s.caseAction(w, r, "timeline", "event-added", func() error {
		_, err := s.Cases.AddEvent(r.Context(), s.actor(r), r.PathValue("id"), timelineFromForm(r))
		return err
	})
}

func (s *Server) deleteEvent(w http.ResponseWriter, r *http.Request) error {
	return s.caseAction(w, r, "timeline", "removed", func() error {
		return s.Cases.DeleteEvent(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("item"))
	})
}

func (s *Server) searchPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query().Get("q")
	v := s.view(r, "Find a person")
	v.Form.Values["q"] = q
	var matches []cases.Match
	if strings.TrimSpace(q) != "" {
		var err error
		if matches, err = s.Cases.SearchPeople(r.Context(), s.actor(r), q, 30); err != nil {
			return err
		}
	}
	v.Data = map[string]any{"Matches": matches, "Searched": strings.TrimSpace(q) != ""}
	return s.render(w, "search", v)
}

// ---- facilities ----

func facilityFromForm(r *http.Request) cases.FacilityInput {
	in := cases.FacilityInput{Country: r.PostFormValue("country"), City: r.PostFormValue("city"), TimeZone: r.PostFormValue("time_zone"),
		Address: r.PostFormValue("address"), Kind: r.PostFormValue("kind"), Post: r.PostFormValue("post")}
	for i := range 4 {
		in.Names = append(in.Names, cases.FacilityName{Lang: r.PostFormValue(fmt.Sprintf("names.%d.lang", i)), Value: r.PostFormValue(fmt.Sprintf("names.%d.value", i))})
	}
	return in
}

func (s *Server) facilitiesPage(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Cases.Facilities(r.Context(), s.actor(r))
	if err != nil {
		return err
	}
	v := s.view(r, "Facilities")
	v.Data = list
	return s.render(w, "facilities", v)
}

func (s *Server) newFacilityPage(w http.ResponseWriter, r *http.Request) error {
	v := s.view(r, "New facility")
	v.Form.Values["names.0.lang"], v.Form.Values["names.1.lang"] = "en", "zh"
	v.Form.Values["post"] = stateOf(r).user.Post
	v.Data = map[string]any{"NameRows": []int{0, 1, 2, 3}, "CanManage": s.policy.Can(stateOf(r).user, auth.ManageFacility, nil)}
	return s.render(w, "facility", v)
}

func (s *Server) facilityPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderFacility(w, r, s.view(r, "Facility"), http.StatusOK)
}

// renderFacility shows a facility with its terminals and visit windows.
func (s *Server) renderFacility(w http.ResponseWriter, r *http.Request, v *view, code int) error {
	f, err := s.Cases.Facility(r.Context(), s.actor(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	terminals, err := s.Visits.Terminals(r.Context(), s.actor(r), f.ID)
	if err != nil {
		return err
	}
	windows, excluded, err := s.Visits.Windows(r.Context(), s.actor(r), f.ID)
	if err != nil {
		return err
	}
	v.Title = f.Name()
	v.Form.Values = map[string]string{"country": f.Country, "city": f.City, "time_zone": f.TimeZone, "address": f.Address, "kind": f.Kind, "post": f.Post}
	for i, n := range f.Names {
		v.Form.Values[fmt.Sprintf("names.%d.lang", i)], v.Form.Values[fmt.Sprintf("names.%d.value", i)] = n.Lang, n.Value
	}
	var lines []string
	for _, w := range windows {
		lines = append(lines, fmt.Sprintf("%s %s-%s", s.Catalog.Locale(v.Lang).Weekday(w.Weekday), w.Opens, w.Closes))
	}
	v.Form.Values["windows"], v.Form.Values["excluded"] = strings.Join(lines, "\n"), strings.Join(excluded, " ")
	manage := s.Cases.MayManageFacility(r.Context(), s.actor(r), f.ID)
	if manage != nil && !problem.Is(manage, problem.Forbidden) {
		return manage
	}
	v.Data = map[string]any{"Facility": f, "NameRows": []int{0, 1, 2, 3}, "Terminals": terminals, "CanManage": manage == nil}
	return s.renderStatus(w, code, "facility", v)
}

func (s *Server) saveFacility(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	in := facilityFromForm(r)
	var f *cases.Facility
	var err error
	if id == "" {
		f, err = s.Cases.CreateFacility(r.Context(), s.actor(r), in)
	} else {
		f, err = s.Cases.UpdateFacility(r.Context(), s.actor(r), id, in)
	}
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
		v := s.view(r, "Facility")
		for k, vals := range r.PostForm {
			if k != csrfField && len(vals) > 0 {
				v.Form.Values[k] = vals[0]
			}
		}
		v.Form.Errors = pe.LocalizeFields(v.T)
		data := map[string]any{"NameRows": []int{0, 1, 2, 3}, "CanManage": true}
		if id != "" {
			data["Facility"] = &cases.Facility{ID: id}
		}
		v.Data = data
		return s.renderStatus(w, http.StatusBadRequest, "facility", v)
	}
	if err != nil {
		return err
	}
	s.redirectFlash(w, r, "/facilities/"+f.ID, "facility-saved")
	return nil
}
