package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/export"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/reports"
	"github.com/attache-org/attache/internal/visits"
)

// reportFlashes are the messages shown after a report page's change.
var reportFlashes = map[string]string{
	"report-created":    "The report was started from the visit's details. Write it, save it, and submit it for approval.",
	"report-saved":      "The draft was saved.",
	"report-submitted":  "The report was submitted; the supervisors of the case are told.",
	"report-approved":   "The report is approved. It can no longer change; corrections are amendments.",
	"report-returned":   "The report was returned to its author with your comments.",
	"report-amended":    "The amendment was added; the original report is unchanged.",
	"followup-added":    "The follow-up was added.",
	"allegation-raised": "It is recorded that the allegation was raised with the authorities.",
	"followup-done":     "The follow-up is done.",
	"escalation-ack":    "The escalation is acknowledged.",
}

// reportVocabularies are the report form's choices, for the templates.
var reportVocabularies = map[string]cases.Vocab{
	"report_states": reports.Vocab.States, "report_flags": reports.Vocab.Flags, "tristate": reports.Vocab.TriState,
	"permissions": reports.Vocab.Permissions, "permission_ways": reports.Vocab.PermissionWays, "lawyer_access": reports.Vocab.LawyerAccess,
	"opposable": reports.Vocab.Opposable, "report_sections": reports.Vocab.Sections,
}

// reportRoutes are the visit report pages and API.
func (s *Server) reportRoutes() []Route {
	return []Route{
		{"GET", "/cases/{id}/visits/{visit}", auth.ReadCase, false, s.visitPage},
		{"GET", "/cases/{id}/visits/{visit}/report", auth.ReadCase, false, s.reportPage},
		{"GET", "/cases/{id}/visits/{visit}/report.pdf", auth.ReadCase, false, s.reportPDF},
		{"POST", "/cases/{id}/visits/{visit}/report", auth.UpdateCase, false, s.createReport},
		{"POST", "/cases/{id}/visits/{visit}/report/save", auth.UpdateCase, false, s.saveReport},
		{"POST", "/cases/{id}/visits/{visit}/report/approve", auth.ApproveReport, false, s.approveReport},
		{"POST", "/cases/{id}/visits/{visit}/report/return", auth.ApproveReport, false, s.returnReport},
		{"POST", "/cases/{id}/visits/{visit}/report/amendments", auth.UpdateCase, false, s.amendReport},
		{"POST", "/cases/{id}/visits/{visit}/report/followups", auth.UpdateCase, false, s.addFollowUp},
		{"POST", "/cases/{id}/visits/{visit}/report/raise", auth.UpdateCase, false, s.raiseAllegation},
		{"POST", "/cases/{id}/followups/{item}/done", auth.UpdateCase, false, s.completeFollowUp},
		{"POST", "/escalations/{item}/acknowledge", auth.ApproveReport, false, s.acknowledgeEscalation},

		{"GET", "/api/v1/cases/{id}/reports", auth.ReadCase, true, s.apiCaseReports},
		{"GET", "/api/v1/cases/{id}/visits/{visit}/report", auth.ReadCase, true, s.apiReport},
		{"POST", "/api/v1/cases/{id}/visits/{visit}/report", auth.UpdateCase, true, s.apiCreateReport},
		{"PUT", "/api/v1/cases/{id}/visits/{visit}/report", auth.UpdateCase, true, s.apiSaveReport},
		{"POST", "/api/v1/cases/{id}/visits/{visit}/report/submit", auth.UpdateCase, true, s.apiSubmitReport},
		{"POST", "/api/v1/cases/{id}/visits/{visit}/report/approve", auth.ApproveReport, true, s.apiApproveReport},
		{"POST", "/api/v1/cases/{id}/visits/{visit}/report/return", auth.ApproveReport, true, s.apiReturnReport},
		{"POST", "/api/v1/cases/{id}/visits/{visit}/report/amendments", auth.UpdateCase, true, s.apiAmendReport},
		{"POST", "/api/v1/cases/{id}/visits/{visit}/report/followups", auth.UpdateCase, true, s.apiAddFollowUp},
		{"POST", "/api/v1/cases/{id}/visits/{visit}/report/raise", auth.UpdateCase, true, s.apiRaiseAllegation},
		{"POST", "/api/v1/cases/{id}/followups/{item}/done", auth.UpdateCase, true, s.apiCompleteFollowUp},
		{"GET", "/api/v1/reports/pending", auth.ApproveReport, true, s.apiPendingReports},
		{"GET", "/api/v1/escalations", auth.ReadCase, true, s.apiEscalations},
		{"POST", "/api/v1/escalations/{item}/acknowledge", auth.ApproveReport, true, s.apiAcknowledge},
		{"GET", "/api/v1/followups/due", auth.ReadCase, true, s.apiDueFollowUps},
	}
}

// reportsDashboard adds to the home page what waits on reports: open
// escalations (first, in red), reports waiting for this supervisor's
// approval, and follow-ups due.
func (s *Server) reportsDashboard(r *http.Request, data map[string]any) error {
	ctx, a := r.Context(), s.actor(r)
	esc, err := s.Reports.OpenEscalations(ctx, a)
	if err != nil {
		return err
	}
	data["Escalations"] = esc
	data["CanAcknowledge"] = s.policy.Can(a.User, auth.ApproveReport, nil)
	if s.policy.Can(a.User, auth.ApproveReport, nil) {
		if data["Pending"], err = s.Reports.PendingApproval(ctx, a); err != nil {
			return err
		}
	}
	data["FollowUps"], err = s.Reports.DueFollowUps(ctx, a)
	return err
}

// visitOf finds one visit of a case (the case's visits are read with
// need-to-know and audited).
func (s *Server) visitOf(r *http.Request) (*visits.Visit, error) {
	list, err := s.Visits.ForCase(r.Context(), s.actor(r), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].ID == r.PathValue("visit") {
			return &list[i], nil
		}
	}
	return nil, problem.New(problem.NotFound, "No such visit in this case.")
}

// visitPage is one visit: its details, people, call record, report and
// follow-ups.
func (s *Server) visitPage(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Cases.Case(r.Context(), s.actor(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	vis, err := s.visitOf(r)
	if err != nil {
		return err
	}
	rep, err := s.Reports.Get(r.Context(), s.actor(r), c.ID, vis.ID)
	if err != nil && !problem.Is(err, problem.NotFound) {
		return err
	}
	v := s.view(r, "Visit")
	v.Title = c.Reference
	data := map[string]any{"Case": c, "Visit": vis, "Report": rep, "CanEdit": s.policy.Can(stateOf(r).user, auth.UpdateCase, c.Scope()),
		"Reportable": vis.Status == "held" || vis.Status == "cut_short"}
	if more, err := s.visitFamily(r, c.ID, vis.ID); err != nil {
		return err
	} else {
		for k, x := range more {
			data[k] = x
		}
	}
	v.Data = data
	return s.render(w, "visit", v)
}

// visitFamily is what the visit page shows of the family channel: the
// messages waiting for the detainee, to deliver at this visit.
func (s *Server) visitFamily(r *http.Request, caseID, visitID string) (map[string]any, error) {
	queue, err := s.Family.Queue(r.Context(), s.actor(r), caseID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Queue": queue}, nil
}

func (s *Server) reportPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderReport(w, r, http.StatusOK, s.view(r, "Visit report"), nil)
}

// renderReport shows a report: the form while it is a draft (or returned)
// and the reader may change the case, else the report as it stands, with
// the actions the reader may take. body, when not nil, is a form that
// failed, shown again as it was typed.
func (s *Server) renderReport(w http.ResponseWriter, r *http.Request, code int, v *view, body *reports.Body) error {
	ctx, a := r.Context(), s.actor(r)
	c, err := s.Cases.Case(ctx, a, r.PathValue("id"))
	if err != nil {
		return err
	}
	rep, err := s.Reports.Get(ctx, a, c.ID, r.PathValue("visit"))
	if err != nil {
		return err
	}
	u := stateOf(r).user
	canEdit := s.policy.Can(u, auth.UpdateCase, c.Scope())
	editing := canEdit && (rep.State == reports.Draft || rep.State == reports.Returned)
	shown := rep.Body
	if body != nil {
		shown = *body
	} else if editing {
		for k, x := range bodyValues(shown) {
			v.Form.Values[k] = x
		}
	}
	var officers []*auth.User
	if canEdit {
		all, err := s.Auth.Officers(ctx)
		if err != nil {
			return err
		}
		for _, o := range all {
			if s.policy.Can(o, auth.UpdateCase, c.Scope()) {
				officers = append(officers, o)
			}
		}
	}
	v.Title = c.Reference
	v.Data = map[string]any{"Case": c, "Report": rep, "Body": shown, "Editing": editing, "CanEdit": canEdit,
		"CanDecide": rep.State == reports.Submitted && s.policy.Can(u, auth.ApproveReport, c.Scope()),
		"Vocab":     reports.Vocab, "Officers": officers, "Zone": zoneOf(c)}
	return s.renderStatus(w, code, "report", v)
}

func hearingsText(hs []reports.Hearing) string {
	var b strings.Builder
	for _, h := range hs {
		b.WriteString(h.Date + " " + h.Description + "\n")
	}
	return b.String()
}

// bodyValues is the report form filled with b, the inverse of bodyFromForm.
func bodyValues(b reports.Body) map[string]string {
	on := func(x bool) string {
		if x {
			return "on"
		}
		return ""
	}
	dur := ""
	if b.DurationMinutes > 0 {
		dur = strconv.Itoa(b.DurationMinutes)
	}
	return map[string]string{
		"duration_minutes": dur, "present.our_officials": strings.Join(b.Present.OurOfficials, "\n"),
		"present.host_officials": strings.Join(b.Present.HostOfficials, "\n"), "present.interpreter": b.Present.Interpreter,
		"present.others": strings.Join(b.Present.Others, "\n"), "location": b.Location, "setting": b.Setting, "monitored": b.Monitored,
		"restrictions.topics": b.Restrictions.Topics, "restrictions.language": b.Restrictions.Language, "restrictions.time": b.Restrictions.Time,
		"wishes.accepts_assistance": b.Wishes.AcceptsAssistance, "wishes.opposes_note": b.Wishes.OpposesNote, "wishes.consent_changes": b.Wishes.ConsentChanges,
		"health.physical": b.Health.Physical, "health.mental": b.Health.Mental, "health.medication": b.Health.Medication, "health.medical_needs": b.Health.MedicalNeeds,
		"conditions.guards": b.Conditions.Guards, "conditions.inmates": b.Conditions.Inmates, "conditions.cell": b.Conditions.Cell, "conditions.food": b.Conditions.Food,
		"conditions.light": b.Conditions.Light, "conditions.exercise": b.Conditions.Exercise, "conditions.solitary": b.Conditions.Solitary,
		"conditions.solitary_note": b.Conditions.SolitaryNote, "conditions.other": b.Conditions.Other,
		"allegation.alleged": on(b.Allegation.Alleged), "allegation.narrative": b.Allegation.Narrative, "allegation.signs_observed": b.Allegation.SignsObserved,
		"allegation.permission": b.Allegation.Permission, "allegation.permission_at": b.Allegation.PermissionAt, "allegation.permission_how": b.Allegation.PermissionHow,
		"legal.status": b.Legal.Status, "legal.status_code": b.Legal.StatusCode, "legal.lawyer_name": b.Legal.LawyerName, "legal.lawyer_contact": b.Legal.LawyerContact,
		"legal.lawyer_access": b.Legal.LawyerAccess, "legal.hearings": hearingsText(b.Legal.Hearings),
		"needs.medicine": b.Needs.Medicine, "needs.money": b.Needs.Money, "needs.books": b.Needs.Books, "needs.other": b.Needs.Other,
		"advice_given": b.AdviceGiven, "family_messages.to_family": b.FamilyMessages.ToFamily, "family_messages.from_family": b.FamilyMessages.FromFamily,
		"summary": b.Summary, "factual_only": on(b.FactualOnly), "health_emergency": on(b.HealthEmergency), "access_denied": on(b.AccessDenied),
	}
}

// lines splits a textarea into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// bodyFromForm reads the report form. Its fields are named as the
// service names them in its errors (health.physical…), so each error shows
// next to its field.
func bodyFromForm(r *http.Request) (reports.Body, problem.Fields) {
	f := problem.Fields{}
	g := func(k string) string { return r.PostFormValue(k) }
	var b reports.Body
	if d := strings.TrimSpace(g("duration_minutes")); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil {
			f.Add("duration_minutes", "Give the duration in whole minutes.")
		}
		b.DurationMinutes = n
	}
	b.Present = reports.Present{OurOfficials: lines(g("present.our_officials")), HostOfficials: lines(g("present.host_officials")),
		Interpreter: g("present.interpreter"), Others: lines(g("present.others"))}
	b.Location, b.Setting, b.Monitored = g("location"), g("setting"), g("monitored")
	b.Restrictions = reports.Restrictions{Topics: g("restrictions.topics"), Language: g("restrictions.language"), Time: g("restrictions.time")}
	b.Wishes = reports.Wishes{AcceptsAssistance: g("wishes.accepts_assistance"), Opposes: r.PostForm["wishes.opposes"],
		OpposesNote: g("wishes.opposes_note"), ConsentChanges: g("wishes.consent_changes")}
	b.Health = reports.Health{Physical: g("health.physical"), Mental: g("health.mental"), Medication: g("health.medication"), MedicalNeeds: g("health.medical_needs")}
	b.Conditions = reports.Conditions{Guards: g("conditions.guards"), Inmates: g("conditions.inmates"), Cell: g("conditions.cell"), Food: g("conditions.food"),
		Light: g("conditions.light"), Exercise: g("conditions.exercise"), Solitary: g("conditions.solitary"), SolitaryNote: g("conditions.solitary_note"),
		Other: g("conditions.other")}
	b.Allegation = reports.Allegation{Alleged: g("allegation.alleged") == "on", Narrative: g("allegation.narrative"), SignsObserved: g("allegation.signs_observed"),
		Permission: g("allegation.permission"), PermissionAt: g("allegation.permission_at"), PermissionHow: g("allegation.permission_how")}
	b.Legal = reports.Legal{Status: g("legal.status"), StatusCode: g("legal.status_code"), LawyerName: g("legal.lawyer_name"),
		LawyerContact: g("legal.lawyer_contact"), LawyerAccess: g("legal.lawyer_access")}
	for _, l := range lines(g("legal.hearings")) {
		date, desc, _ := strings.Cut(l, " ")
		b.Legal.Hearings = append(b.Legal.Hearings, reports.Hearing{Date: date, Description: strings.TrimSpace(desc)})
	}
	b.Needs = reports.Needs{Medicine: g("needs.medicine"), Money: g("needs.money"), Books: g("needs.books"), Other: g("needs.other")}
	b.AdviceGiven = g("advice_given")
	b.FamilyMessages = reports.FamilyMessages{ToFamily: g("family_messages.to_family"), FromFamily: g("family_messages.from_family")}
	b.Summary = g("summary")
	b.FactualOnly = g("factual_only") == "on"
	b.HealthEmergency = g("health_emergency") == "on"
	b.AccessDenied = g("access_denied") == "on"
	return b, f
}

func formVersion(r *http.Request) int {
	n, err := strconv.Atoi(r.PostFormValue("version"))
	if err != nil {
		return -1 // matches no report: refused as stale
	}
	return n
}

// reportAction runs a change on the report page and returns to it, or shows
// it again with the error: field errors next to their fields, others
// (a stale version, a state that forbids it) at the top.
func (s *Server) reportAction(w http.ResponseWriter, r *http.Request, flash string, body *reports.Body, change func() error) error {
	err := change()
	if pe, ok := problem.As(err); ok && (pe.Kind == problem.Invalid || pe.Kind == problem.Conflict || pe.Kind == problem.Forbidden) {
		v := s.view(r, "Visit report")
		for k, vals := range r.PostForm {
			if k != csrfField && len(vals) > 0 {
				v.Form.Values[k] = vals[0]
			}
		}
		v.Form.Errors = pe.LocalizeFields(v.T)
		v.Form.Error = pe.Localize(v.T)
		status := map[problem.Kind]int{problem.Invalid: http.StatusBadRequest, problem.Conflict: http.StatusConflict, problem.Forbidden: http.StatusForbidden}[pe.Kind]
		return s.renderReport(w, r, status, v, body)
	}
	if err != nil {
		return err
	}
	s.redirectFlash(w, r, "/cases/"+r.PathValue("id")+"/visits/"+r.PathValue("visit")+"/report", flash)
	return nil
}

func (s *Server) createReport(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.Reports.Create(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit")); err != nil {
		return err // already written, or the visit was not held: the error page says which
	}
	s.redirectFlash(w, r, "/cases/"+r.PathValue("id")+"/visits/"+r.PathValue("visit")+"/report", "report-created")
	return nil
}

func (s *Server) saveReport(w http.ResponseWriter, r *http.Request) error {
	b, ferr := bodyFromForm(r)
	flash := "report-saved"
	if r.PostFormValue("action") == "submit" {
		flash = "report-submitted"
	}
	return s.reportAction(w, r, flash, &b, func() error {
		if err := ferr.Err(); err != nil {
			return err
		}
		ctx, a, id, visit, version := r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), formVersion(r)
		if err := s.Reports.SaveDraft(ctx, a, id, visit, b, version); err != nil {
			return err
		}
		if flash == "report-submitted" {
			return s.Reports.Submit(ctx, a, id, visit, version+1)
		}
		return nil
	})
}

func (s *Server) approveReport(w http.ResponseWriter, r *http.Request) error {
	return s.reportAction(w, r, "report-approved", nil, func() error {
		return s.Reports.Approve(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), formVersion(r))
	})
}

func (s *Server) returnReport(w http.ResponseWriter, r *http.Request) error {
	return s.reportAction(w, r, "report-returned", nil, func() error {
		return s.Reports.Return(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), formVersion(r), r.PostFormValue("comment"))
	})
}

func (s *Server) amendReport(w http.ResponseWriter, r *http.Request) error {
	return s.reportAction(w, r, "report-amended", nil, func() error {
		_, err := s.Reports.Amend(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), reports.AmendmentInput{
			Section: r.PostFormValue("section"), Corrected: r.PostFormValue("corrected"), Reason: r.PostFormValue("reason")})
		return err
	})
}

func (s *Server) raiseAllegation(w http.ResponseWriter, r *http.Request) error {
	return s.reportAction(w, r, "allegation-raised", nil, func() error {
		_, err := s.Reports.RaiseAllegation(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"),
			reports.RaiseInput{With: r.PostFormValue("with"), Note: r.PostFormValue("note")})
		return err
	})
}

func (s *Server) addFollowUp(w http.ResponseWriter, r *http.Request) error {
	return s.reportAction(w, r, "followup-added", nil, func() error {
		_, err := s.Reports.AddFollowUp(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), reports.FollowUpInput{
			Description: r.PostFormValue("description"), OwnerID: r.PostFormValue("owner"), Due: r.PostFormValue("due")})
		return err
	})
}

func (s *Server) completeFollowUp(w http.ResponseWriter, r *http.Request) error {
	if err := s.Reports.CompleteFollowUp(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("item")); err != nil {
		return err
	}
	// Back to a page of the same case only: never elsewhere (a path such
	// as "/\\evil.example" is another site to a browser).
	back := r.PostFormValue("back")
	if !strings.HasPrefix(back, "/cases/"+r.PathValue("id")+"/") || strings.ContainsAny(back, "\\?") {
		back = "/cases/" + r.PathValue("id")
	}
	s.redirectFlash(w, r, back, "followup-done")
	return nil
}

func (s *Server) acknowledgeEscalation(w http.ResponseWriter, r *http.Request) error {
	if err := s.Reports.Acknowledge(r.Context(), s.actor(r), r.PathValue("item"), r.PostFormValue("note")); err != nil {
		return err
	}
	s.redirectFlash(w, r, "/#escalations", "escalation-ack")
	return nil
}

// reportPDF is a visit report for the file, with its amendments and
// follow-ups.
func (s *Server) reportPDF(w http.ResponseWriter, r *http.Request) error {
	ctx, a := r.Context(), s.actor(r)
	c, err := s.Cases.Case(ctx, a, r.PathValue("id"))
	if err != nil {
		return err
	}
	rep, err := s.Reports.Get(ctx, a, c.ID, r.PathValue("visit"))
	if err != nil {
		return err
	}
	v := s.view(r, "Visit report")
	d := s.pdfDoc(v, v.T("Visit report, case %s", c.Reference), c.Person.DisplayName+" · "+v.Local(rep.Visit.Starts, zoneOf(c))+" · "+
		v.T(reports.Vocab.States.Label(rep.State)), c.Classification)
	d.Sections = reportDocSections(v, rep)
	if err := s.Audit.Record(ctx, auditEntry(stateOf(r), "report.export_pdf", c.ID, "report="+rep.ID)); err != nil {
		return err
	}
	return s.sendPDF(w, d, "report-"+c.Reference+"-"+rep.Visit.Starts.UTC().Format("20060102")+".pdf")
}

// reportDocSections lays a report out for a document.
func reportDocSections(v *view, rep *reports.Report) []export.Section {
	b := rep.Body
	lab := func(vocab interface{ Label(string) string }, code string) string {
		if code == "" {
			return ""
		}
		return v.T(vocab.Label(code))
	}
	yes := func(x bool) string {
		if x {
			return v.T("Yes")
		}
		return v.T("No")
	}
	status := export.Section{Heading: v.T("Report"), Fields: []export.Field{
		{Key: v.T("State"), Value: lab(reports.Vocab.States, rep.State)},
		{Key: v.T("Written by"), Value: rep.AuthorName},
		{Key: v.T("Visit"), Value: v.T(visits.Modalities.Label(rep.Visit.Modality)) + ", " + v.T(visits.Statuses.Label(rep.Visit.Status))},
	}}
	if !rep.ApprovedAt.IsZero() {
		status.Fields = append(status.Fields, export.Field{Key: v.T("Approved"), Value: rep.ApproverName + ", " + rep.ApprovedAt.UTC().Format("2006-01-02 15:04 UTC")})
	}
	var flags []string
	for _, e := range rep.Escalations {
		flags = append(flags, e.Label)
	}
	if len(flags) > 0 {
		status.Fields = append(status.Fields, export.Field{Key: v.T("Escalations"), Value: strings.Join(flags, ", ")})
	}
	out := []export.Section{status,
		{Heading: v.T("The visit"), Fields: []export.Field{
			{Key: v.T("Our officials"), Value: strings.Join(b.Present.OurOfficials, ", ")},
			{Key: v.T("Host-state officials present"), Value: strings.Join(b.Present.HostOfficials, ", ")},
			{Key: v.T("Interpreter"), Value: b.Present.Interpreter},
			{Key: v.T("Others"), Value: strings.Join(b.Present.Others, ", ")},
			{Key: v.T("Duration"), Value: v.T("%d minutes", b.DurationMinutes)},
			{Key: v.T("Location"), Value: b.Location},
			{Key: v.T("Setting"), Value: b.Setting},
			{Key: v.T("Monitored"), Value: lab(reports.Vocab.TriState, b.Monitored)},
			{Key: v.T("Restricted topics"), Value: b.Restrictions.Topics},
			{Key: v.T("Language restrictions"), Value: b.Restrictions.Language},
			{Key: v.T("Time restrictions"), Value: b.Restrictions.Time},
		}},
	}
	var opposes []string
	for _, o := range b.Wishes.Opposes {
		opposes = append(opposes, lab(reports.Vocab.Opposable, o))
	}
	out = append(out,
		export.Section{Heading: v.T("Wishes and consent"), Fields: []export.Field{
			{Key: v.T("Accepts our assistance"), Value: lab(reports.Vocab.TriState, b.Wishes.AcceptsAssistance)},
			{Key: v.T("Opposes"), Value: strings.Join(opposes, ", ")},
			{Key: v.T("Note"), Value: b.Wishes.OpposesNote},
			{Key: v.T("Consent changes"), Value: b.Wishes.ConsentChanges},
		}},
		export.Section{Heading: v.T("Health"), Fields: []export.Field{
			{Key: v.T("Physical"), Value: b.Health.Physical}, {Key: v.T("Mental"), Value: b.Health.Mental},
			{Key: v.T("Medication"), Value: b.Health.Medication}, {Key: v.T("Medical needs"), Value: b.Health.MedicalNeeds},
			{Key: v.T("Health emergency"), Value: yes(b.HealthEmergency)},
		}},
		export.Section{Heading: v.T("Treatment and conditions"), Fields: []export.Field{
			{Key: v.T("Guards"), Value: b.Conditions.Guards}, {Key: v.T("Other inmates"), Value: b.Conditions.Inmates},
			{Key: v.T("Cell"), Value: b.Conditions.Cell}, {Key: v.T("Food"), Value: b.Conditions.Food}, {Key: v.T("Light"), Value: b.Conditions.Light},
			{Key: v.T("Exercise"), Value: b.Conditions.Exercise},
			{Key: v.T("Solitary confinement"), Value: strings.TrimSpace(lab(reports.Vocab.TriState, b.Conditions.Solitary) + " " + b.Conditions.SolitaryNote)},
			{Key: v.T("Other"), Value: b.Conditions.Other},
		}},
		export.Section{Heading: v.T("Allegation of mistreatment"), Fields: []export.Field{
			{Key: v.T("Alleged"), Value: yes(b.Allegation.Alleged)}, {Key: v.T("In the detainee's words"), Value: b.Allegation.Narrative},
			{Key: v.T("Signs observed"), Value: b.Allegation.SignsObserved},
			{Key: v.T("Permission to raise it"), Value: lab(reports.Vocab.Permissions, b.Allegation.Permission)},
			{Key: v.T("Given or refused"), Value: strings.TrimSpace(b.Allegation.PermissionAt + " " + lab(reports.Vocab.PermissionWays, b.Allegation.PermissionHow))},
		}},
	)
	legal := export.Section{Heading: v.T("Legal situation"), Fields: []export.Field{
		{Key: v.T("Legal status"), Value: strings.TrimSpace(lab(reports.Vocab.LegalStatuses, b.Legal.StatusCode) + " " + b.Legal.Status)},
		{Key: v.T("Lawyer"), Value: strings.TrimSpace(b.Legal.LawyerName + " " + b.Legal.LawyerContact)},
		{Key: v.T("Access to the lawyer"), Value: lab(reports.Vocab.LawyerAccess, b.Legal.LawyerAccess)},
	}}
	if len(b.Legal.Hearings) > 0 {
		legal.Table = &export.Table{Header: []string{v.T("Hearing or trial"), v.T("What")}}
		for _, h := range b.Legal.Hearings {
			legal.Table.Rows = append(legal.Table.Rows, []string{h.Date, h.Description})
		}
	}
	out = append(out, legal,
		export.Section{Heading: v.T("Needs, advice and messages"), Fields: []export.Field{
			{Key: v.T("Medicine"), Value: b.Needs.Medicine}, {Key: v.T("Money"), Value: b.Needs.Money}, {Key: v.T("Books"), Value: b.Needs.Books},
			{Key: v.T("Other needs"), Value: b.Needs.Other}, {Key: v.T("Advice given"), Value: b.AdviceGiven},
			{Key: v.T("Messages to the family"), Value: b.FamilyMessages.ToFamily}, {Key: v.T("Messages from the family"), Value: b.FamilyMessages.FromFamily},
		}},
		export.Section{Heading: v.T("Summary"), Paragraphs: []string{b.Summary}},
	)
	if len(rep.Amendments) > 0 {
		t := &export.Table{Header: []string{v.T("When"), v.T("Section"), v.T("Correction"), v.T("Why"), v.T("By")}}
		for _, am := range rep.Amendments {
			t.Rows = append(t.Rows, []string{am.CreatedAt.UTC().Format("2006-01-02"), lab(reports.Vocab.Sections, am.Section), am.Corrected, am.Reason, am.AuthorName})
		}
		out = append(out, export.Section{Heading: v.T("Amendments"), Paragraphs: []string{v.T("Corrections made after approval; the report above is unchanged.")}, Table: t})
	}
	if len(rep.FollowUps) > 0 {
		t := &export.Table{Header: []string{v.T("Follow-up"), v.T("Owner"), v.T("Due"), v.T("Done")}}
		for _, fu := range rep.FollowUps {
			done := ""
			if !fu.DoneAt.IsZero() {
				done = fu.DoneAt.UTC().Format("2006-01-02")
			}
			t.Rows = append(t.Rows, []string{fu.Description, fu.OwnerName, fu.Due, done})
		}
		out = append(out, export.Section{Heading: v.T("Follow-ups"), Table: t})
	}
	if len(rep.Events) > 0 {
		t := &export.Table{Header: []string{v.T("When (UTC)"), v.T("Who"), v.T("Change"), v.T("Comment")}}
		for _, e := range rep.Events {
			t.Rows = append(t.Rows, []string{e.At.UTC().Format("2006-01-02 15:04"), e.ActorName, lab(reports.Vocab.States, e.From) + " → " + lab(reports.Vocab.States, e.To), e.Comment})
		}
		out = append(out, export.Section{Heading: v.T("History"), Table: t})
	}
	return out
}
