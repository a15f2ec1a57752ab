package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/attache-org/attache/internal/audit"
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

// seat is who takes part in which visit's call.
type seat struct {
	visit, caseID string
	ends          time.Time // the scheduled end
	id, name      string    // the participant, as the others see them
	role          media.Role
	actor         audit.Actor
}

// call upgrades the request to the call's signalling WebSocket and runs the
// participant's session until they leave or the call ends. Only the page's
// own origin may open it.
func (s *Server) call(w http.ResponseWriter, r *http.Request, st seat) error {
	room := st.visit
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
	rm := s.Media.Room(room)
	rm.Limit(st.ends.Add(visits.EndGrace), visits.EndWarning+visits.EndGrace)
	joined := time.Now()
	err = rm.Join(r.Context(), st.id, st.name, st.role, wsConn{c})
	// Presence: who was in the call, in which role, for how long.
	detail := fmt.Sprintf("visit=%s role=%s seconds=%d", room, st.role, int(time.Since(joined).Seconds()))
	if err != nil {
		detail += " error=" + err.Error()
	}
	if aerr := s.Audit.Record(context.WithoutCancel(r.Context()), audit.Entry{Actor: st.actor, Action: "visit.call_leave", ObjectType: "case", ObjectID: st.caseID, Detail: detail}); aerr != nil {
		s.Log.Error("call: audit the leave", slog.String("visit", room), slog.String("error", aerr.Error()))
	}
	if err != nil {
		s.Log.Warn("call: session failed", slog.String("visit", room), slog.String("participant", st.id), slog.String("error", err.Error()))
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
	return s.call(w, r, seat{visit: ad.VisitID, caseID: ad.CaseID, ends: ad.Ends, id: "link:" + ad.LinkID, name: ad.Name, role: media.Role(ad.Role),
		actor: audit.Actor{ID: "link:" + ad.LinkID, Name: ad.Name, Address: stateOf(r).address}})
}

// callPage is an officer's call: the same call page, entered from the case.
func (s *Server) callPage(w http.ResponseWriter, r *http.Request) error {
	visit, err := s.Visits.EnterCall(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"))
	if err != nil {
		return err
	}
	v := s.view(r, "Consular visit")
	v.Data = map[string]any{"Visit": visit, "Publish": true, "CanEnd": true, "Ends": visit.Ends, "Socket": "/cases/" + visit.CaseID + "/visits/" + visit.ID + "/call/ws"}
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
	return s.call(w, r, seat{visit: visit.ID, caseID: visit.CaseID, ends: visit.Ends, id: "user:" + u.ID, name: name, role: media.RoleOfficer,
		actor: stateOf(r).actor()})
}
