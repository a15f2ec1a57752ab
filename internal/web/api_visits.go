package web

import (
	"net/http"
	"time"

	"github.com/attache-org/attache/internal/visits"
)

func (s *Server) apiVisits(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Visits.ForCase(r.Context(), s.actor(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	if list == nil {
		list = []visits.Visit{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"visits": list})
	return nil
}

func (s *Server) apiScheduleVisit(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Modality    string   `json:"modality"`
		Kind        string   `json:"kind"`
		Start       string   `json:"start"`
		Zone        string   `json:"zone"`
		Minutes     int      `json:"minutes"`
		TerminalID  string   `json:"terminal_id"`
		HostID      string   `json:"host_id"`
		OfficerIDs  []string `json:"officer_ids"`
		Interpreter *struct {
			Name     string `json:"name"`
			Language string `json:"language"`
		} `json:"interpreter"`
		Monitor    string `json:"monitor"`
		RequestID  string `json:"request_id"`
		Conditions string `json:"conditions"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	si := visits.ScheduleInput{Modality: in.Modality, Kind: in.Kind, Start: in.Start, Zone: in.Zone, Minutes: in.Minutes, TerminalID: in.TerminalID,
		HostID: in.HostID, OfficerIDs: in.OfficerIDs, Monitor: in.Monitor, RequestID: in.RequestID, Conditions: in.Conditions}
	if in.Interpreter != nil {
		si.Interpreter = &visits.Participant{Name: in.Interpreter.Name, Language: in.Interpreter.Language}
	}
	v, warn, err := s.Visits.Schedule(r.Context(), s.actor(r), r.PathValue("id"), si)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"visit": v, "warning": warn})
	return nil
}

func (s *Server) apiCancelVisit(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		By     string `json:"by"`
		Reason string `json:"reason"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return noContent(w, s.Visits.Cancel(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), in.By, in.Reason))
}

func (s *Server) apiRecordPastVisit(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Modality string   `json:"modality"`
		Kind     string   `json:"kind"`
		Start    string   `json:"start"` // YYYY-MM-DD HH:MM in the facility's time zone (or zone)
		Zone     string   `json:"zone"`
		Minutes  int      `json:"minutes"`
		Status   string   `json:"status"` // held or cut_short
		Officers []string `json:"officers"`
		Note     string   `json:"note"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	v, err := s.Visits.RecordPast(r.Context(), s.actor(r), r.PathValue("id"), visits.PastInput(in))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) apiMoveVisit(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Start   string `json:"start"` // YYYY-MM-DD HH:MM in the facility's time zone
		Minutes int    `json:"minutes"`
		Reason  string `json:"reason"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	v, err := s.Visits.Reschedule(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), in.Start, in.Minutes, in.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) apiVisitStatus(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		To   string `json:"to"`
		Note string `json:"note"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return noContent(w, s.Visits.SetStatus(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), in.To, in.Note))
}

func (s *Server) apiAddTerminal(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	id, err := s.Visits.AddTerminal(r.Context(), s.actor(r), r.PathValue("id"), in.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": id, "name": in.Name})
	return nil
}

func (s *Server) apiSetWindows(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Windows []struct {
			Weekday int    `json:"weekday"`
			Opens   string `json:"opens"`
			Closes  string `json:"closes"`
		} `json:"windows"`
		Excluded []string `json:"excluded"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	var ws []visits.Window
	for _, x := range in.Windows {
		ws = append(ws, visits.Window{Weekday: time.Weekday(x.Weekday), Opens: x.Opens, Closes: x.Closes})
	}
	return noContent(w, s.Visits.SetWindows(r.Context(), s.actor(r), r.PathValue("id"), ws, in.Excluded))
}
