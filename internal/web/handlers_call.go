package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/media"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/visits"
)

// wsConn carries a call's signalling over a WebSocket. It keeps the
// quality reports the page sends, and how the socket ended.
type wsConn struct {
	c       *websocket.Conn
	mu      sync.Mutex
	quality visits.Quality
	readErr error
}

func (w *wsConn) Read(ctx context.Context) (media.Message, error) {
	var m media.Message
	err := wsjson.Read(ctx, w.c, &m)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if w.readErr == nil {
			w.readErr = err
		}
		return m, err
	}
	if m.Type == "stats" && m.Stats != nil {
		st := m.Stats
		w.quality.Add(st.LossPct, st.RTTms, st.JitterMs, st.KbpsIn, st.KbpsOut)
	}
	return m, nil
}

// Write gives up on a participant who does not read for ten seconds.
func (w *wsConn) Write(ctx context.Context, m media.Message) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return wsjson.Write(ctx, w.c, m)
}

// closeReconnect is the close code a page uses when it drops its session
// to reconnect (its network failed), as opposed to hanging up.
const closeReconnect websocket.StatusCode = 4000

// dropped reports whether the socket broke, or the page closed it to
// reconnect, rather than hanging up: the network, not the person.
func (w *wsConn) dropped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.readErr == nil {
		return false
	}
	code := websocket.CloseStatus(w.readErr)
	return code == -1 || code == closeReconnect
}

func (w *wsConn) summary() visits.Quality {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.quality
}

// CallEnded returns the media server's OnEnd hook: it keeps on the visit
// that its call ended for everyone, and why. A call stopped by a shutdown
// of the server is not ended: it can resume.
func CallEnded(vs *visits.Service, log *slog.Logger) func(room, reason string, by media.Info) {
	return func(room, reason string, by media.Info) {
		if reason == media.EndedShutdown {
			return
		}
		if err := vs.CallEnded(context.Background(), room, reason, actorOf(by)); err != nil {
			log.Error("call: record the end", slog.String("visit", room), slog.String("reason", reason), slog.String("error", err.Error()))
		}
	}
}

var errCallsOff = problem.New(problem.Internal, "Calls are not available on this server.")

// seat is who takes part in which visit's call.
type seat struct {
	visit, caseID string
	ends          time.Time // the scheduled end
	id, name      string    // the participant, as the others see them
	role          media.Role
	admitted      bool   // straight in, without the waiting room
	resume        string // the token of an earlier admission, from the page
	recording     string // the recording policy in force
	actor         audit.Actor
}

// call upgrades the request to the call's signalling WebSocket and runs the
// participant's session until they leave or the call ends. Only the page's
// own origin may open it. Who was in the call when, why they left and how
// good their connection was are kept on the visit.
func (s *Server) call(w http.ResponseWriter, r *http.Request, st seat) error {
	room := st.visit
	if s.Media == nil {
		return errCallsOff
	}
	over, why, err := s.Visits.CallOver(r.Context(), room)
	if err != nil {
		return err
	}
	if ended := s.Media.EndReason(room); ended != "" {
		over, why = true, ended // it may not be written yet
	}
	if over {
		return s.callOver(w, r, why)
	}
	s.calls.Add(1)
	defer s.calls.Done()
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
	conn := &wsConn{c: c}
	times := s.Visits.Times()
	if s.TURN != nil {
		// The relay for this participant, for this visit only, until a
		// little after the call must have ended. Their name stays out of
		// the TURN username, which travels in clear.
		cred := s.TURN.CredentialsUntil(s.TURN.OpaqueID(room, st.id), st.ends.Add(times.Grace+30*time.Minute))
		ice := media.Message{Type: "ice", ICEServers: []media.ICEServer{{URLs: cred.URLs, Username: cred.Username, Credential: cred.Password}}}
		if err := conn.Write(r.Context(), ice); err != nil {
			c.CloseNow()
			return nil
		}
	}
	// The call ends at the scheduled end plus the grace, whoever joined
	// when; everyone is warned five minutes before the scheduled end.
	rm := s.Media.Room(room)
	rm.Limit(st.ends.Add(times.Grace), visits.EndWarning+times.Grace)
	if st.recording == visits.RecordAlways {
		// Recorded from the start, by policy; everyone was told before joining.
		if err := rm.Record(media.Info{}, true); err != nil {
			s.Log.Warn("call: record by policy", slog.String("visit", room), slog.String("error", err.Error()))
		}
	}
	vs := visits.Seat{VisitID: room, CaseID: st.caseID, Participant: st.id, Name: st.name, Role: string(st.role), Actor: st.actor}
	// The session ends when the page leaves or the call ends, not when the
	// server starts to shut down: then the media server ends every call
	// itself, saying so, and the sessions are recorded before it stops.
	ctx := context.WithoutCancel(r.Context())
	var presence string
	reason, err := rm.Session(ctx, media.Participant{ID: st.id, Name: st.name, Role: st.role, Admitted: st.admitted, Resume: st.resume, Entered: func() {
		id, err := s.Visits.CallEntered(ctx, vs)
		if err != nil {
			s.Log.Error("call: record the entry", slog.String("visit", room), slog.String("error", err.Error()))
		}
		presence = id
	}}, conn)
	if presence != "" {
		if reason == media.LeftLeft && conn.dropped() {
			reason = media.LeftNetwork
		}
		if err != nil {
			reason = "error"
		}
		if lerr := s.Visits.CallLeft(ctx, vs, presence, reason, conn.summary()); lerr != nil {
			s.Log.Error("call: record the leave", slog.String("visit", room), slog.String("error", lerr.Error()))
		}
	}
	if err != nil {
		s.Log.Warn("call: session failed", slog.String("visit", room), slog.String("participant", st.id), slog.String("error", err.Error()))
		c.Close(websocket.StatusPolicyViolation, truncate(err.Error(), 120))
		return nil
	}
	c.Close(websocket.StatusNormalClosure, "")
	return nil
}

// callOver answers a page that comes to a call that is over. A page's
// WebSocket is accepted and told how the call ended, so that it stops
// trying to reconnect and says why; anything else gets the error page.
func (s *Server) callOver(w http.ResponseWriter, r *http.Request, why string) error {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return visits.ErrVisitOver
	}
	if why == "" {
		why = media.EndedTimeUp
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil // Accept has answered (another origin, say)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	_ = wsjson.Write(ctx, c, media.Message{Type: "ended", Reason: why})
	c.Close(websocket.StatusNormalClosure, "the visit is over")
	return nil
}

// WaitCalls waits, until ctx is done, for the calls' sessions to finish
// (the media server was closed first) and record how they ended.
func (s *Server) WaitCalls(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		s.calls.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.Log.Warn("calls still closing at shutdown")
	}
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
	case errors.Is(err, visits.ErrVisitOver) && ad != nil:
		_, why, _ := s.Visits.CallOver(r.Context(), ad.VisitID)
		return s.callOver(w, r, why)
	case err != nil:
		return err
	case !visits.IsVideo(ad.Modality):
		return visits.ErrNotVideo
	case ad.State != "open":
		return errRoomClosed
	}
	return s.call(w, r, seat{visit: ad.VisitID, caseID: ad.CaseID, ends: ad.Ends, id: "link:" + ad.LinkID, name: ad.Name, role: media.Role(ad.Role),
		resume: r.URL.Query().Get("resume"), recording: ad.Recording.Policy,
		actor: audit.Actor{ID: "link:" + ad.LinkID, Name: ad.Name, Address: stateOf(r).address}})
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
	visit, err := s.Visits.EnterCall(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"))
	if errors.Is(err, visits.ErrVisitOver) {
		_, why, _ := s.Visits.CallOver(r.Context(), r.PathValue("visit"))
		return s.callOver(w, r, why)
	}
	if err != nil {
		return err
	}
	u := stateOf(r).user
	name := u.DisplayName
	if name == "" {
		name = u.Username
	}
	return s.call(w, r, seat{visit: visit.ID, caseID: visit.CaseID, ends: visit.Ends, id: "user:" + u.ID, name: name, role: media.RoleOfficer,
		admitted: true, recording: visit.Recording.Policy, actor: stateOf(r).actor()})
}
