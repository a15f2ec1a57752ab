package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/attache-org/attache/internal/media"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/visits"
)

// wsConn carries a call's signalling over a WebSocket.
type wsConn struct{ c *websocket.Conn }

func (w wsConn) Read(ctx context.Context) (media.Message, error) {
	var m media.Message
	err := wsjson.Read(ctx, w.c, &m)
	return m, err
}

// Write gives up on a participant who does not read for ten seconds.
func (w wsConn) Write(ctx context.Context, m media.Message) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return wsjson.Write(ctx, w.c, m)
}

var errCallsOff = problem.New(problem.Internal, "Calls are not available on this server.")

// call upgrades the request to the call's signalling WebSocket and runs the
// participant's session until they leave or the call ends. Only the page's
// own origin may open it.
func (s *Server) call(w http.ResponseWriter, r *http.Request, room string, ends time.Time, id, name string, role media.Role) error {
	if s.Media == nil {
		return errCallsOff
	}
	if s.Media.Ended(room) {
		return visits.ErrVisitOver
	}
	// The server's read and write timeouts are for requests, not for a
	// call that lasts an hour.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		s.Log.Debug("call: websocket refused", slog.String("error", err.Error()))
		return nil // Accept has answered
	}
	c.SetReadLimit(256 << 10)
	// The call ends at the scheduled end plus the grace, whoever joined
	// when; everyone is warned five minutes before the scheduled end.
	s.Media.Room(room).Limit(ends.Add(visits.EndGrace), visits.EndWarning+visits.EndGrace)
	err = s.Media.Room(room).Join(r.Context(), id, name, role, wsConn{c})
	if err != nil {
		s.Log.Warn("call: session failed", slog.String("visit", room), slog.String("participant", id), slog.String("error", err.Error()))
		c.Close(websocket.StatusPolicyViolation, truncate(err.Error(), 120))
		return nil
	}
	c.Close(websocket.StatusNormalClosure, "")
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

var errRoomClosed = problem.New(problem.Conflict, "The visit's room is not open yet.")

// joinCall is a link holder's call: the link must be valid, the visit by
// video and its room open. Their role in the call is the link's.
func (s *Server) joinCall(w http.ResponseWriter, r *http.Request) error {
	ad, err := s.admit(r)
	switch {
	case err != nil:
		return err
	case !visits.IsVideo(ad.Modality):
		return visits.ErrNotVideo
	case ad.State != "open":
		return errRoomClosed
	}
	return s.call(w, r, ad.VisitID, ad.Ends, "link:"+ad.LinkID, ad.Name, media.Role(ad.Role))
}

// callPage is an officer's call: the same call page, entered from the case.
func (s *Server) callPage(w http.ResponseWriter, r *http.Request) error {
	visit, err := s.Visits.EnterCall(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"))
	if err != nil {
		return err
	}
	v := s.view(r, "Consular visit")
	v.Data = map[string]any{"Visit": visit, "Publish": true, "CanEnd": true, "Socket": "/cases/" + visit.CaseID + "/visits/" + visit.ID + "/call/ws"}
	return s.render(w, "call", v)
}

func (s *Server) officerCall(w http.ResponseWriter, r *http.Request) error {
	visit, err := s.Visits.EnterCall(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"))
	if err != nil {
		return err
	}
	u := stateOf(r).user
	name := u.DisplayName
	if name == "" {
		name = u.Username
	}
	return s.call(w, r, visit.ID, visit.Ends, "user:"+u.ID, name, media.RoleOfficer)
}
