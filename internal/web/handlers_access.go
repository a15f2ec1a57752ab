package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/access"
	"github.com/attache-org/attache/internal/problem"
)

// accessAction runs a change of the access record and returns to the case
// page's access section, or shows the page with the form's errors.
func (s *Server) accessAction(w http.ResponseWriter, r *http.Request, flash string, change func() error) error {
	return s.caseAction(w, r, "access", flash, change)
}

func (s *Server) saveNotification(w http.ResponseWriter, r *http.Request) error {
	return s.accessAction(w, r, "case-saved", func() error {
		return s.Access.SaveNotification(r.Context(), s.actor(r), r.PathValue("id"), access.NotificationInput{
			LearnedVia: r.PostFormValue("learned_via"), Assistance: r.PostFormValue("assistance"), RefusedWhat: r.PostFormValue("refused_what"),
			FirstContact: r.PostFormValue("first_contact"), FirstContactZone: r.PostFormValue("first_contact_zone"),
			FirstContactChannel: r.PostFormValue("first_contact_channel")})
	})
}

func (s *Server) addContact(w http.ResponseWriter, r *http.Request) error {
	return s.accessAction(w, r, "contact-added", func() error {
		_, err := s.Access.AddContact(r.Context(), s.actor(r), r.PathValue("id"), access.ContactInput{Happened: r.PostFormValue("happened"),
			Zone: r.PostFormValue("zone"), Mode: r.PostFormValue("mode"), Notes: r.PostFormValue("notes"), SourceRef: r.PostFormValue("source_ref")})
		return err
	})
}

// createRequest records a request; when the mode asked is suspended the
// page says so and proposes the open modes, the request being kept.
func (s *Server) createRequest(w http.ResponseWriter, r *http.Request) error {
	_, warn, err := s.Access.CreateRequest(r.Context(), s.actor(r), r.PathValue("id"), access.RequestInput{Mode: r.PostFormValue("mode"),
		Channel: r.PostFormValue("channel"), NoteNumber: r.PostFormValue("note_number"), Level: r.PostFormValue("level"),
		Wanted: r.PostFormValue("wanted"), Send: r.PostFormValue("send") == "on"})
	if err == nil && warn != nil {
		v := s.view(r, "Case")
		var alts []string
		for _, m := range warn.Alternatives {
			alts = append(alts, v.T(access.Modes.Label(m)))
		}
		v.Form.Error = v.T("The request was recorded, but: %s Modes still open: %s.", warn.Message, strings.Join(alts, ", "))
		return s.renderCase(w, r, http.StatusCreated, v, "access")
	}
	return s.accessAction(w, r, "request-saved", func() error { return err })
}

func (s *Server) transitionRequest(w http.ResponseWriter, r *http.Request) error {
	return s.accessAction(w, r, "request-saved", func() error {
		limit := 0
		if v := strings.TrimSpace(r.PostFormValue("time_limit")); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return problem.Field("time_limit", "Give the time limit in minutes.")
			}
			limit = n
		}
		_, err := s.Access.Transition(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("req"), access.TransitionInput{
			To: r.PostFormValue("to"), Note: r.PostFormValue("note"), NoteNumber: r.PostFormValue("note_number"), Level: r.PostFormValue("level"),
			Answer: r.PostFormValue("answer"), Reason: r.PostFormValue("reason"),
			Conditions: access.Conditions{TimeLimitMinutes: limit, OfficialsPresent: r.PostFormValue("officials_present"),
				Language: r.PostFormValue("language"), Topics: r.PostFormValue("topics")}})
		return err
	})
}

func (s *Server) suspensionsPage(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Access.Suspensions(r.Context(), s.actor(r))
	if err != nil {
		return err
	}
	facilities, err := s.Cases.Facilities(r.Context(), s.actor(r))
	if err != nil {
		return err
	}
	v := s.view(r, "Suspensions of access")
	lift := map[string]bool{}
	for _, sp := range list {
		lift[sp.ID] = s.Access.MayLift(s.actor(r), sp)
	}
	v.Data = map[string]any{"Suspensions": list, "Facilities": facilities, "Now": time.Now(), "MayLift": lift}
	return s.render(w, "suspensions", v)
}

func (s *Server) suspensionAction(w http.ResponseWriter, r *http.Request, change func() error) error {
	err := change()
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
		list, lerr := s.Access.Suspensions(r.Context(), s.actor(r))
		if lerr != nil {
			return lerr
		}
		facilities, ferr := s.Cases.Facilities(r.Context(), s.actor(r))
		if ferr != nil {
			return ferr
		}
		v := s.view(r, "Suspensions of access")
		for k, vals := range r.PostForm {
			if k != csrfField && len(vals) > 0 {
				v.Form.Values[k] = vals[0]
			}
		}
		v.Form.Errors = pe.LocalizeFields(v.T)
		lift := map[string]bool{}
		for _, sp := range list {
			lift[sp.ID] = s.Access.MayLift(s.actor(r), sp)
		}
		v.Data = map[string]any{"Suspensions": list, "Facilities": facilities, "Now": time.Now(), "MayLift": lift}
		return s.renderStatus(w, http.StatusBadRequest, "suspensions", v)
	}
	if err != nil {
		return err
	}
	s.redirectFlash(w, r, "/suspensions", "suspension-saved")
	return nil
}

func (s *Server) addSuspension(w http.ResponseWriter, r *http.Request) error {
	return s.suspensionAction(w, r, func() error {
		_, err := s.Access.AddSuspension(r.Context(), s.actor(r), access.SuspensionInput{DetainingState: r.PostFormValue("detaining_state"),
			FacilityID: r.PostFormValue("facility_id"), Modes: r.PostForm["modes"], Reason: r.PostFormValue("reason"),
			Starts: r.PostFormValue("starts"), Zone: r.PostFormValue("zone"), SourceRef: r.PostFormValue("source_ref")})
		return err
	})
}

func (s *Server) liftSuspension(w http.ResponseWriter, r *http.Request) error {
	return s.suspensionAction(w, r, func() error {
		return s.Access.LiftSuspension(r.Context(), s.actor(r), r.PathValue("id"), r.PostFormValue("ends"))
	})
}

func (s *Server) agreementsPage(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Access.Profiles(r.Context())
	if err != nil {
		return err
	}
	v := s.view(r, "Agreements")
	v.Data = map[string]any{"Profiles": list, "Sending": s.Access.SendingState}
	return s.render(w, "agreements", v)
}

func profileFromForm(r *http.Request) (access.ProfileInput, error) {
	in := access.ProfileInput{DetainingState: r.PostFormValue("detaining_state"), Name: r.PostFormValue("name"),
		MandatoryNotification: r.PostFormValue("mandatory_notification") == "on", TrialAttendance: r.PostFormValue("trial_attendance") == "on",
		DualNationalRule: r.PostFormValue("dual_national_rule"), Citation: r.PostFormValue("citation")}
	f := problem.Fields{}
	for field, dst := range map[string]*int{"notification_hours": &in.NotificationHours, "first_contact_hours": &in.FirstContactHours,
		"first_visit_days": &in.FirstVisitDays, "visit_every_days": &in.VisitEveryDays} {
		if v := strings.TrimSpace(r.PostFormValue(field)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				f.Add(field, "Give a whole number, or nothing for no deadline.")
			}
			*dst = n
		}
	}
	return in, f.Err()
}

func (s *Server) saveAgreement(w http.ResponseWriter, r *http.Request) error {
	in, err := profileFromForm(r)
	if err == nil {
		_, err = s.Access.SaveProfile(r.Context(), s.actor(r), r.PathValue("id"), in)
	}
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
		list, lerr := s.Access.Profiles(r.Context())
		if lerr != nil {
			return lerr
		}
		v := s.view(r, "Agreements")
		v.Form.Errors = pe.LocalizeFields(v.T)
		v.Form.Error = "The agreement was not saved."
		v.Data = map[string]any{"Profiles": list, "Sending": s.Access.SendingState}
		return s.renderStatus(w, http.StatusBadRequest, "agreements", v)
	}
	if err != nil {
		return err
	}
	s.redirectFlash(w, r, "/agreements", "agreement-saved")
	return nil
}
