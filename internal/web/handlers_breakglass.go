package web

import (
	"net/http"
	"strconv"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/problem"
)

// breakGlassPage is the form that opens a case outside the user's
// need-to-know: its reference, the reason, how long.
func (s *Server) breakGlassPage(w http.ResponseWriter, r *http.Request) error {
	v := s.view(r, "Open a case outside your need-to-know")
	v.Form.Values["reference"] = r.URL.Query().Get("reference")
	v.Form.Values["hours"] = "1"
	return s.renderBreakGlass(w, v, http.StatusOK)
}

func (s *Server) renderBreakGlass(w http.ResponseWriter, v *view, code int) error {
	if !s.policy.CanBreakGlass(v.User, &auth.Scope{}) {
		return problem.New(problem.Forbidden, "Your role may not open cases outside your need-to-know.")
	}
	v.Data = map[string]any{"Hours": []int{1, 2, 4, 8}}
	return s.renderStatus(w, code, "break_glass", v)
}

func (s *Server) breakGlass(w http.ResponseWriter, r *http.Request) error {
	hours, _ := strconv.Atoi(r.PostFormValue("hours"))
	in := cases.BreakGlassInput{Reference: r.PostFormValue("reference"), Reason: r.PostFormValue("reason"), Hours: hours}
	id, err := s.Cases.BreakGlass(r.Context(), s.actor(r), in)
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
		v := s.view(r, "Open a case outside your need-to-know")
		keepForm(v, r, "reference", "reason", "hours")
		v.Form.Errors = pe.LocalizeFields(v.T)
		return s.renderBreakGlass(w, v, http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	s.redirectFlash(w, r, "/cases/"+id, "break-glass")
	return nil
}

// breakGlassLog lists every break-glass opening, for auditors.
func (s *Server) breakGlassLog(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Cases.BreakGlassLog(r.Context())
	if err != nil {
		return err
	}
	v := s.view(r, "Break-glass access")
	v.Data = map[string]any{"Entries": list, "Now": s.Auth.Now()}
	return s.render(w, "break_glass_log", v)
}
