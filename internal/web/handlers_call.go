package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/attache-org/attache/internal/calls"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/visits"
)

var errCallsOff = problem.New(problem.Internal, "Calls are not available on this server.")

// callSocket upgrades the request to the call's signalling WebSocket and
// hands it to the calls, which run the participant's session until they
// leave or the call ends. Only the page's own origin may open it.
func (s *Server) callSocket(w http.ResponseWriter, r *http.Request, st calls.Seat, err error) error {
	if s.Calls == nil {
		return errCallsOff
	}
	over := errors.Is(err, visits.ErrVisitOver)
	if err != nil && !over {
		return err
	}
	if !over {
		// Ended for everyone, though its time is not up.
		if over, _, err = s.Calls.Over(r.Context(), st.Visit); err != nil {
			return err
		}
	}
	if over && !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return visits.ErrVisitOver
	}
	c, aerr := calls.Accept(w, r)
	if aerr != nil {
		s.Log.Debug("call: websocket refused", slog.String("error", aerr.Error()))
		return nil // Accept has answered
	}
	// The session ends when the page leaves or the call ends, not when the
	// server starts to shut down: then the calls move or end themselves.
	ctx := context.WithoutCancel(r.Context())
	if over {
		// A page is told how the call ended, so that it stops reconnecting.
		s.Calls.TellOver(ctx, c, st.Visit)
		return nil
	}
	s.Calls.Serve(ctx, c, st)
	return nil
}

var errRoomClosed = problem.New(problem.Conflict, "The visit's room is not open yet.")

// joinCall is a link holder's call: the link must be valid, the visit by
// video and its room open. Their role in the call is the link's.
func (s *Server) joinCall(w http.ResponseWriter, r *http.Request) error {
	if s.Calls == nil {
		return errCallsOff
	}
	ad, err := s.Calls.Admit(r.Context(), r.PathValue("token"), stateOf(r).address)
	switch {
	case errors.Is(err, visits.ErrVisitOver) && ad != nil:
		return s.callSocket(w, r, calls.Seat{Visit: ad.VisitID}, err)
	case err != nil:
		return err
	case !visits.IsVideo(ad.Modality):
		return visits.ErrNotVideo
	case ad.State != "open":
		return errRoomClosed
	}
	return s.callSocket(w, r, calls.LinkSeat(ad, r.URL.Query().Get("resume"), stateOf(r).address), nil)
}

// callPage is an officer's call: the same call page, entered from the case.
func (s *Server) callPage(w http.ResponseWriter, r *http.Request) error {
	visit, err := s.Visits.EnterCall(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"))
	if err != nil {
		return err
	}
	v := s.view(r, "Consular visit")
	v.Data = map[string]any{"Visit": visit, "Publish": true, "Host": true, "CanEnd": true, "Ends": visit.Ends, "Recording": visit.Recording, "Socket": "/cases/" + visit.CaseID + "/visits/" + visit.ID + "/call/ws"}
	return s.render(w, "call", v)
}

func (s *Server) officerCall(w http.ResponseWriter, r *http.Request) error {
	if s.Calls == nil {
		return errCallsOff
	}
	var session string
	if st := stateOf(r); st.session != nil {
		session = st.session.ID
	}
	seat, err := s.Calls.OfficerSeat(r.Context(), s.actor(r), session, r.PathValue("id"), r.PathValue("visit"))
	return s.callSocket(w, r, seat, err)
}
