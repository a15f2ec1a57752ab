package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/attache-org/attache/internal/i18n"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/visits"
)

func (s *Server) scheduleVisit(w http.ResponseWriter, r *http.Request) error {
	minutes, _ := strconv.Atoi(r.PostFormValue("minutes"))
	in := visits.ScheduleInput{Modality: r.PostFormValue("modality"), Kind: r.PostFormValue("kind"), Start: r.PostFormValue("start"), Zone: r.PostFormValue("start_zone"),
		Minutes: minutes, TerminalID: r.PostFormValue("terminal_id"), OfficerIDs: r.PostForm["officers"], Monitor: r.PostFormValue("monitor"),
		Conditions: r.PostFormValue("conditions")}
	if name := strings.TrimSpace(r.PostFormValue("interpreter")); name != "" {
		in.Interpreter = &visits.Participant{Name: name, Language: r.PostFormValue("interpreter_language")}
	}
	_, warn, err := s.Visits.Schedule(r.Context(), s.actor(r), r.PathValue("id"), in)
	if err == nil && warn != nil {
		v := s.view(r, "Case")
		v.Form.Error = v.T("The visit was booked, but: %s", warn.Message)
		return s.renderCase(w, r, http.StatusCreated, v, "visits")
	}
	if problem.Is(err, problem.Conflict) {
		v := s.view(r, "Case")
		for k, vals := range r.PostForm {
			if k != csrfField && len(vals) > 0 {
				v.Form.Values[k] = vals[0]
			}
		}
		pe, _ := problem.As(err)
		v.Form.Errors["start"] = pe.Message
		return s.renderCase(w, r, http.StatusConflict, v, "visits")
	}
	return s.caseAction(w, r, "visits", "visit-saved", func() error { return err })
}

func (s *Server) visitStatus(w http.ResponseWriter, r *http.Request) error {
	return s.caseAction(w, r, "visits", "visit-saved", func() error {
		to := r.PostFormValue("to")
		if to == "cancelled" {
			return s.Visits.Cancel(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), r.PostFormValue("by"), r.PostFormValue("reason"))
		}
		// The form's one text field is the cancellation's reason or the change's note.
		return s.Visits.SetStatus(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), to, r.PostFormValue("reason"))
	})
}

func (s *Server) moveVisit(w http.ResponseWriter, r *http.Request) error {
	return s.caseAction(w, r, "visits", "visit-moved", func() error {
		minutes, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("minutes")))
		if err != nil {
			return problem.Field("minutes", "Give the length in whole minutes.")
		}
		_, err = s.Visits.Reschedule(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), r.PostFormValue("start"), minutes, r.PostFormValue("reason"))
		return err
	})
}

// recordPastVisit records a visit that took place without being booked.
// Its form's fields are named past_… so that its errors do not show on the
// booking form of the same page.
func (s *Server) recordPastVisit(w http.ResponseWriter, r *http.Request) error {
	return s.caseAction(w, r, "visits", "visit-recorded", func() error {
		minutes, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("past_minutes")))
		if err != nil {
			return problem.Field("past_minutes", "Give the length in whole minutes.")
		}
		_, err = s.Visits.RecordPast(r.Context(), s.actor(r), r.PathValue("id"), visits.PastInput{Modality: r.PostFormValue("past_modality"),
			Kind: r.PostFormValue("past_kind"), Start: r.PostFormValue("past_start"), Minutes: minutes, Status: r.PostFormValue("past_status"),
			Officers: r.PostForm["past_officers"], Note: r.PostFormValue("past_note")})
		if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
			return pe.Prefixed("past_")
		}
		return err
	})
}

func (s *Server) addTerminal(w http.ResponseWriter, r *http.Request) error {
	_, err := s.Visits.AddTerminal(r.Context(), s.actor(r), r.PathValue("id"), r.PostFormValue("name"))
	return s.facilityAction(w, r, err)
}

// parseWindows reads lines such as "Mon 09:00-12:00" (the day in the
// page's language or in English: "lun 09:00-12:00").
func parseWindows(l *i18n.Locale, text string) ([]visits.Window, error) {
	var out []visits.Window
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		span := strings.Split(strings.Join(f[1:], ""), "-")
		d, ok := l.ParseWeekday(f[0])
		if !ok || len(f) < 2 || len(span) != 2 {
			return nil, problem.Fieldf("windows", "Write each window as a day and hours, e.g. \"Mon 09:00-12:00\" (not %q).", line)
		}
		out = append(out, visits.Window{Weekday: d, Opens: span[0], Closes: span[1]})
	}
	return out, nil
}

func (s *Server) saveWindows(w http.ResponseWriter, r *http.Request) error {
	ws, err := parseWindows(s.Catalog.Locale(stateOf(r).lang), r.PostFormValue("windows"))
	if err == nil {
		err = s.Visits.SetWindows(r.Context(), s.actor(r), r.PathValue("id"), ws, strings.Fields(r.PostFormValue("excluded")))
	}
	return s.facilityAction(w, r, err)
}

// facilityAction returns to the facility page, or shows it with the error.
func (s *Server) facilityAction(w http.ResponseWriter, r *http.Request, err error) error {
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
		v := s.view(r, "Facility")
		v.Form.Error = pe.Localize(v.T)
		for _, m := range pe.LocalizeFields(v.T) {
			v.Form.Error += " " + m
		}
		return s.renderFacility(w, r, v, http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	s.redirectFlash(w, r, "/facilities/"+r.PathValue("id"), "facility-saved")
	return nil
}
