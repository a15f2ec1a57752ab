package web

import (
	"net/http"
	"time"

	"github.com/attache-org/attache/internal/access"
)

type rangeJSON struct {
	Earliest time.Time `json:"earliest"`
	Latest   time.Time `json:"latest"`
}

func toRange(r access.Range) *rangeJSON {
	if r.IsZero() {
		return nil
	}
	return &rangeJSON{r.Earliest, r.Latest}
}

type checkJSON struct {
	State    string     `json:"state"`
	Deadline *rangeJSON `json:"deadline"`
}

type contactJSON struct {
	ID       string    `json:"id,omitempty"`
	Happened *dateJSON `json:"happened"`
	Mode     string    `json:"mode"`
	Notes    string    `json:"notes,omitempty"`
	Source   string    `json:"source_ref,omitempty"`
}

func toContact(c *access.Contact) *contactJSON {
	if c == nil {
		return nil
	}
	return &contactJSON{c.ID, toDateJSON(c.Happened), c.Mode, c.Notes, c.SourceRef}
}

type clockJSON struct {
	LastContact      *contactJSON            `json:"last_contact"`
	LastVisit        *contactJSON            `json:"last_visit"`
	DaysSinceContact int                     `json:"days_since_contact"`
	DaysSinceVisit   int                     `json:"days_since_visit"`
	DaysApprox       bool                    `json:"days_approx"`
	InWindow         map[string]int          `json:"in_window"`
	InWindowTotal    int                     `json:"in_window_total"`
	NextVisitDue     *rangeJSON              `json:"next_visit_due"`
	Overdue          bool                    `json:"overdue"`
	PossiblyOverdue  bool                    `json:"possibly_overdue"`
	DaysOverdue      int                     `json:"days_overdue"`
	Refused          bool                    `json:"refused"`
	Pending          []access.PendingRequest `json:"pending"`
	Denials          int                     `json:"denials"`
	Notification     checkJSON               `json:"notification"`
	FirstContact     checkJSON               `json:"first_contact"`
	FirstVisit       checkJSON               `json:"first_visit"`
	SuspendedModes   []string                `json:"suspended_modes"`
}

func toClock(c access.Clock) clockJSON {
	if c.InWindow == nil {
		c.InWindow = map[string]int{}
	}
	out := clockJSON{LastContact: toContact(c.LastContact), LastVisit: toContact(c.LastVisit), DaysSinceContact: c.DaysSinceContact,
		DaysSinceVisit: c.DaysSinceVisit, DaysApprox: c.DaysApprox, InWindow: c.InWindow, InWindowTotal: c.InWindowTotal,
		NextVisitDue: toRange(c.NextVisitDue), Overdue: c.Overdue, PossiblyOverdue: c.PossiblyOver, DaysOverdue: c.DaysOverdue,
		Refused: c.Refused, Pending: append([]access.PendingRequest{}, c.Pending...), Denials: c.Denials,
		Notification:   checkJSON{c.Notification.State, toRange(c.Notification.Deadline)},
		FirstContact:   checkJSON{c.FirstContact.State, toRange(c.FirstContact.Deadline)},
		FirstVisit:     checkJSON{c.FirstVisit.State, toRange(c.FirstVisit.Deadline)},
		SuspendedModes: append([]string{}, c.SuspendedModes...)}
	return out
}

func (s *Server) apiAccess(w http.ResponseWriter, r *http.Request) error {
	ca, err := s.Access.ForCase(r.Context(), s.actor(r), r.PathValue("id"), r.URL.Query().Get("since"))
	if err != nil {
		return err
	}
	contacts := []*contactJSON{}
	for i := range ca.Contacts {
		contacts = append(contacts, toContact(&ca.Contacts[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"profile": ca.Profile, "notification": ca.Notification, "contacts": contacts,
		"requests": ca.Requests, "suspensions": ca.Suspensions, "clock": toClock(ca.Clock)})
	return nil
}

func (s *Server) apiSaveNotification(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		LearnedVia          string `json:"learned_via"`
		Assistance          string `json:"assistance"`
		RefusedWhat         string `json:"refused_what"`
		FirstContact        string `json:"first_contact"`
		FirstContactZone    string `json:"first_contact_zone"`
		FirstContactChannel string `json:"first_contact_channel"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return noContent(w, s.Access.SaveNotification(r.Context(), s.actor(r), r.PathValue("id"), access.NotificationInput(in)))
}

func (s *Server) apiAddContact(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Happened  string `json:"happened"`
		Zone      string `json:"zone"`
		Mode      string `json:"mode"`
		Notes     string `json:"notes"`
		SourceRef string `json:"source_ref"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	c, err := s.Access.AddContact(r.Context(), s.actor(r), r.PathValue("id"), access.ContactInput{Happened: in.Happened, Zone: in.Zone, Mode: in.Mode, Notes: in.Notes, SourceRef: in.SourceRef})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toContact(c))
	return nil
}

func (s *Server) apiCreateRequest(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Mode       string `json:"mode"`
		Channel    string `json:"channel"`
		NoteNumber string `json:"note_number"`
		Level      string `json:"level"`
		Wanted     string `json:"wanted"`
		Send       bool   `json:"send"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	req, warn, err := s.Access.CreateRequest(r.Context(), s.actor(r), r.PathValue("id"), access.RequestInput(in))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"request": req, "warning": warn})
	return nil
}

func (s *Server) apiTransition(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		To               string `json:"to"`
		Note             string `json:"note"`
		NoteNumber       string `json:"note_number"`
		Level            string `json:"level"`
		Answer           string `json:"answer"`
		Reason           string `json:"reason"`
		TimeLimitMinutes int    `json:"time_limit_minutes"`
		OfficialsPresent string `json:"officials_present"`
		Language         string `json:"language"`
		Topics           string `json:"topics"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	req, err := s.Access.Transition(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("req"), access.TransitionInput{To: in.To, Note: in.Note,
		NoteNumber: in.NoteNumber, Level: in.Level, Answer: in.Answer, Reason: in.Reason, Conditions: access.Conditions{
			TimeLimitMinutes: in.TimeLimitMinutes, OfficialsPresent: in.OfficialsPresent, Language: in.Language, Topics: in.Topics}})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, req)
	return nil
}

func (s *Server) apiDashboard(w http.ResponseWriter, r *http.Request) error {
	d, err := s.Access.Dashboard(r.Context(), s.actor(r))
	if err != nil {
		return err
	}
	type row struct {
		CaseID      string    `json:"case_id"`
		Reference   string    `json:"reference"`
		PersonName  string    `json:"person_name"`
		LegalStatus string    `json:"legal_status"`
		State       string    `json:"detaining_state"`
		Post        string    `json:"post"`
		Desk        string    `json:"desk"`
		HighProfile bool      `json:"high_profile"`
		NextHearing *dateJSON `json:"next_hearing"`
		Clock       clockJSON `json:"clock"`
	}
	rows := []row{}
	for _, x := range d.Rows {
		rows = append(rows, row{x.CaseID, x.Reference, x.PersonName, x.LegalStatus, x.State, x.Post, x.Desk, x.HighProfile, toDateJSON(x.NextHearing), toClock(x.Clock)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"cases": rows, "suspensions": d.Suspensions, "waiting": d.Waiting})
	return nil
}

func (s *Server) apiSuspensions(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Access.Suspensions(r.Context(), s.actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"suspensions": list})
	return nil
}

func (s *Server) apiAddSuspension(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		DetainingState string   `json:"detaining_state"`
		FacilityID     string   `json:"facility_id"`
		Modes          []string `json:"modes"`
		Reason         string   `json:"reason"`
		Starts         string   `json:"starts"`
		Zone           string   `json:"zone"`
		SourceRef      string   `json:"source_ref"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	sp, err := s.Access.AddSuspension(r.Context(), s.actor(r), access.SuspensionInput(in))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, sp)
	return nil
}

func (s *Server) apiLiftSuspension(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Ends string `json:"ends"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return noContent(w, s.Access.LiftSuspension(r.Context(), s.actor(r), r.PathValue("id"), in.Ends))
}

func (s *Server) apiAgreements(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Access.Profiles(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"sending_state": s.Access.SendingState, "agreements": list})
	return nil
}

func (s *Server) apiSaveAgreement(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		DetainingState        string `json:"detaining_state"`
		Name                  string `json:"name"`
		MandatoryNotification bool   `json:"mandatory_notification"`
		NotificationHours     int    `json:"notification_hours"`
		FirstContactHours     int    `json:"first_contact_hours"`
		FirstVisitDays        int    `json:"first_visit_days"`
		VisitEveryDays        int    `json:"visit_every_days"`
		TrialAttendance       bool   `json:"trial_attendance"`
		DualNationalRule      string `json:"dual_national_rule"`
		Citation              string `json:"citation"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p, err := s.Access.SaveProfile(r.Context(), s.actor(r), r.PathValue("id"), access.ProfileInput(in))
	if err != nil {
		return err
	}
	code := http.StatusOK
	if r.PathValue("id") == "" {
		code = http.StatusCreated
	}
	writeJSON(w, code, p)
	return nil
}
