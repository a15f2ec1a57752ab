package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/visits"
)

func (s *Server) recordingPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderRecording(w, r, http.StatusOK, s.view(r, "Recording policies"))
}

func (s *Server) renderRecording(w http.ResponseWriter, r *http.Request, status int, v *view) error {
	list, err := s.Visits.ListRecordingPolicies(r.Context(), s.actor(r))
	if err != nil {
		return err
	}
	v.Data = map[string]any{"Policies": list}
	return s.renderStatus(w, status, "recording", v)
}

func (s *Server) saveRecordingPolicy(w http.ResponseWriter, r *http.Request) error {
	in := visits.PolicyInput{Post: r.PostFormValue("post"), Kind: r.PostFormValue("kind"), Policy: r.PostFormValue("policy"), Note: r.PostFormValue("note")}
	var err error
	if d := strings.TrimSpace(r.PostFormValue("retention_days")); d != "" {
		if in.RetentionDays, err = strconv.Atoi(d); err != nil {
			err = problem.Field("retention_days", "Give a whole number of days.")
		}
	}
	if err == nil {
		err = s.Visits.SetRecordingPolicy(r.Context(), s.actor(r), in)
	}
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
		v := s.view(r, "Recording policies")
		v.Form.Errors = pe.LocalizeFields(v.T)
		v.Form.Error = "The policy was not saved."
		for _, k := range []string{"post", "kind", "policy", "retention_days", "note"} {
			v.Form.Values[k] = r.PostFormValue(k)
		}
		return s.renderRecording(w, r, http.StatusBadRequest, v)
	}
	if err != nil {
		return err
	}
	s.redirectFlash(w, r, "/recording-policies", "policy-saved")
	return nil
}

func (s *Server) apiRecordingPolicies(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Visits.ListRecordingPolicies(r.Context(), s.actor(r))
	if err != nil {
		return err
	}
	if list == nil {
		list = []visits.RecordingPolicy{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"policies": list})
	return nil
}

func (s *Server) apiSetRecordingPolicy(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Post          string `json:"post"`
		Kind          string `json:"kind"`
		Policy        string `json:"policy"`
		RetentionDays int    `json:"retention_days"`
		Note          string `json:"note"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if err := s.Visits.SetRecordingPolicy(r.Context(), s.actor(r), visits.PolicyInput(in)); err != nil {
		return err
	}
	rp, err := s.Visits.PolicyFor(r.Context(), in.Post, in.Kind)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rp)
	return nil
}
