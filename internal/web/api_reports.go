package web

import (
	"net/http"
	"time"

	"github.com/attache-org/attache/internal/reports"
)

// reportJSON is a report as the API shows it.
type reportJSON struct {
	ID            string           `json:"id"`
	CaseID        string           `json:"case_id"`
	Reference     string           `json:"reference"`
	VisitID       string           `json:"visit_id"`
	VisitStarts   time.Time        `json:"visit_starts"`
	State         string           `json:"state"`
	Version       int              `json:"version"`
	Body          reports.Body     `json:"body"`
	AuthorID      string           `json:"author_id"`
	AuthorName    string           `json:"author_name"`
	SubmittedAt   *time.Time       `json:"submitted_at,omitempty"`
	ApprovedBy    string           `json:"approved_by,omitempty"`
	ApprovedAt    *time.Time       `json:"approved_at,omitempty"`
	ReturnComment string           `json:"return_comment,omitempty"`
	Events        []eventJSON      `json:"events"`
	Amendments    []amendmentJSON  `json:"amendments"`
	FollowUps     []followUpJSON   `json:"follow_ups"`
	Escalations   []escalationJSON `json:"escalations"`
	Raised        []raiseJSON      `json:"raised"`
}

// raiseJSON is an allegation raised with the detaining state's authorities.
type raiseJSON struct {
	ID       string    `json:"id"`
	RaisedAt time.Time `json:"raised_at"`
	By       string    `json:"by"`
	With     string    `json:"with"`
	Note     string    `json:"note,omitempty"`
}

type eventJSON struct {
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Comment string    `json:"comment,omitempty"`
}

type amendmentJSON struct {
	ID        string    `json:"id"`
	Author    string    `json:"author"`
	CreatedAt time.Time `json:"created_at"`
	Section   string    `json:"section"`
	Corrected string    `json:"corrected"`
	Reason    string    `json:"reason"`
}

type followUpJSON struct {
	ID          string     `json:"id"`
	CaseID      string     `json:"case_id"`
	VisitID     string     `json:"visit_id"`
	Reference   string     `json:"reference"`
	Description string     `json:"description"`
	OwnerID     string     `json:"owner_id"`
	Owner       string     `json:"owner"`
	Due         string     `json:"due"`
	DoneAt      *time.Time `json:"done_at,omitempty"`
}

type escalationJSON struct {
	ID             string     `json:"id"`
	CaseID         string     `json:"case_id"`
	VisitID        string     `json:"visit_id"`
	Reference      string     `json:"reference"`
	Flag           string     `json:"flag"`
	Label          string     `json:"label"`
	RaisedAt       time.Time  `json:"raised_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	Note           string     `json:"note,omitempty"`
}

type reportSummaryJSON struct {
	ID          string    `json:"id"`
	CaseID      string    `json:"case_id"`
	Reference   string    `json:"reference"`
	VisitID     string    `json:"visit_id"`
	VisitStarts time.Time `json:"visit_starts"`
	State       string    `json:"state"`
	Version     int       `json:"version"`
	AuthorName  string    `json:"author_name"`
	Flags       []string  `json:"flags"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toFollowUp(f reports.FollowUp) followUpJSON {
	return followUpJSON{f.ID, f.CaseID, f.VisitID, f.Reference, f.Description, f.OwnerID, f.OwnerName, f.Due, timePtr(f.DoneAt)}
}

func toEscalation(e reports.Escalation) escalationJSON {
	return escalationJSON{e.ID, e.CaseID, e.VisitID, e.Reference, e.Flag, e.Label, e.RaisedAt, timePtr(e.AcknowledgedAt), e.Note}
}

func toSummaries(list []reports.Summary) []reportSummaryJSON {
	out := []reportSummaryJSON{}
	for _, s := range list {
		flags := s.Flags
		if flags == nil {
			flags = []string{}
		}
		out = append(out, reportSummaryJSON{s.ID, s.CaseID, s.Reference, s.VisitID, s.VisitStarts, s.State, s.Version, s.AuthorName, flags})
	}
	return out
}

func toReport(r *reports.Report) reportJSON {
	out := reportJSON{ID: r.ID, CaseID: r.CaseID, Reference: r.Reference, VisitID: r.VisitID, VisitStarts: r.Visit.Starts, State: r.State,
		Version: r.Version, Body: r.Body, AuthorID: r.AuthorID, AuthorName: r.AuthorName, SubmittedAt: timePtr(r.SubmittedAt),
		ApprovedBy: r.ApprovedBy, ApprovedAt: timePtr(r.ApprovedAt), ReturnComment: r.ReturnComment,
		Events: []eventJSON{}, Amendments: []amendmentJSON{}, FollowUps: []followUpJSON{}, Escalations: []escalationJSON{}, Raised: []raiseJSON{}}
	for _, x := range r.Raised {
		out.Raised = append(out.Raised, raiseJSON{x.ID, x.RaisedAt, x.RaisedName, x.With, x.Note})
	}
	for _, e := range r.Events {
		out.Events = append(out.Events, eventJSON{e.At, e.ActorName, e.From, e.To, e.Comment})
	}
	for _, a := range r.Amendments {
		out.Amendments = append(out.Amendments, amendmentJSON{a.ID, a.AuthorName, a.CreatedAt, a.Section, a.Corrected, a.Reason})
	}
	for _, f := range r.FollowUps {
		out.FollowUps = append(out.FollowUps, toFollowUp(f))
	}
	for _, e := range r.Escalations {
		out.Escalations = append(out.Escalations, toEscalation(e))
	}
	return out
}

// writeReport answers with the report as it now stands.
func (s *Server) writeReport(w http.ResponseWriter, r *http.Request, status int) error {
	rep, err := s.Reports.Get(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"))
	if err != nil {
		return err
	}
	writeJSON(w, status, toReport(rep))
	return nil
}

func (s *Server) apiCaseReports(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Reports.ForCase(r.Context(), s.actor(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"reports": toSummaries(list)})
	return nil
}

func (s *Server) apiReport(w http.ResponseWriter, r *http.Request) error {
	return s.writeReport(w, r, http.StatusOK)
}

func (s *Server) apiCreateReport(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.Reports.Create(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toReport(rep))
	return nil
}

// apiSaveReport replaces a draft's body; version is the one the client
// read, and a stale one is refused (409).
func (s *Server) apiSaveReport(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Version int          `json:"version"`
		Body    reports.Body `json:"body"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if err := s.Reports.SaveDraft(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), in.Body, in.Version); err != nil {
		return err
	}
	return s.writeReport(w, r, http.StatusOK)
}

type versionIn struct {
	Version int    `json:"version"`
	Comment string `json:"comment"`
}

func (s *Server) apiReportStep(w http.ResponseWriter, r *http.Request, step func(in versionIn) error) error {
	var in versionIn
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if err := step(in); err != nil {
		return err
	}
	return s.writeReport(w, r, http.StatusOK)
}

func (s *Server) apiSubmitReport(w http.ResponseWriter, r *http.Request) error {
	return s.apiReportStep(w, r, func(in versionIn) error {
		return s.Reports.Submit(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), in.Version)
	})
}

func (s *Server) apiApproveReport(w http.ResponseWriter, r *http.Request) error {
	return s.apiReportStep(w, r, func(in versionIn) error {
		return s.Reports.Approve(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), in.Version)
	})
}

func (s *Server) apiReturnReport(w http.ResponseWriter, r *http.Request) error {
	return s.apiReportStep(w, r, func(in versionIn) error {
		return s.Reports.Return(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), in.Version, in.Comment)
	})
}

func (s *Server) apiAmendReport(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Section   string `json:"section"`
		Corrected string `json:"corrected"`
		Reason    string `json:"reason"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	a, err := s.Reports.Amend(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), reports.AmendmentInput(in))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, amendmentJSON{a.ID, a.AuthorName, a.CreatedAt, a.Section, a.Corrected, a.Reason})
	return nil
}

// apiRaiseAllegation records that the report's allegation was raised with
// the authorities: 403 unless the report records the detainee's permission.
func (s *Server) apiRaiseAllegation(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		With string `json:"with"`
		Note string `json:"note"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if _, err := s.Reports.RaiseAllegation(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), reports.RaiseInput(in)); err != nil {
		return err
	}
	return s.writeReport(w, r, http.StatusCreated)
}

func (s *Server) apiAddFollowUp(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Description string `json:"description"`
		OwnerID     string `json:"owner_id"`
		Due         string `json:"due"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	f, err := s.Reports.AddFollowUp(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"),
		reports.FollowUpInput{Description: in.Description, OwnerID: in.OwnerID, Due: in.Due})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toFollowUp(*f))
	return nil
}

func (s *Server) apiCompleteFollowUp(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.Reports.CompleteFollowUp(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("item")))
}

func (s *Server) apiPendingReports(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Reports.PendingApproval(r.Context(), s.actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"reports": toSummaries(list)})
	return nil
}

func (s *Server) apiEscalations(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Reports.OpenEscalations(r.Context(), s.actor(r))
	if err != nil {
		return err
	}
	out := []escalationJSON{}
	for _, e := range list {
		out = append(out, toEscalation(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"escalations": out})
	return nil
}

func (s *Server) apiAcknowledge(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Note string `json:"note"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return noContent(w, s.Reports.Acknowledge(r.Context(), s.actor(r), r.PathValue("item"), in.Note))
}

func (s *Server) apiDueFollowUps(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Reports.DueFollowUps(r.Context(), s.actor(r))
	if err != nil {
		return err
	}
	out := []followUpJSON{}
	for _, f := range list {
		out = append(out, toFollowUp(f))
	}
	writeJSON(w, http.StatusOK, map[string]any{"follow_ups": out})
	return nil
}
