// Package calls is the use case of a visit's video call, between the
// delivery layer and the media server: who may enter and with which role,
// the seats, admission from the waiting room, the recording policy, the
// presence record and how a call ends; and, with several nodes on one
// PostgreSQL database, which node holds each call (a lease), how a
// participant whose connection reaches another node is relayed to it, and
// how a call moves when its node stops or is lost.
//
// The web layer authenticates, upgrades the WebSocket and hands it to
// Serve; the media server forwards media and knows nothing of visits.
package calls

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/cluster"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/media"
	"github.com/attache-org/attache/internal/turn"
	"github.com/attache-org/attache/internal/visits"
)

// Deps are what the calls need.
type Deps struct {
	DB     *db.DB
	Visits *visits.Service
	Auth   *auth.Service
	// Cluster is this node's membership; nil holds every call in this
	// process (tests of one server).
	Cluster *cluster.Cluster
	// Recorder records calls as their policy allows; nil records nothing.
	Recorder *Recorder
	Log      *slog.Logger
}

// Service runs the calls of this node.
type Service struct {
	db       *db.DB
	visits   *visits.Service
	auth     *auth.Service
	cluster  *cluster.Cluster
	recorder *Recorder
	log      *slog.Logger
	media    *media.Server
	turn     *turn.Server
	client   *http.Client // to other nodes

	draining atomic.Bool
	stopping chan struct{} // closed when the node drains: relays end
	stopOnce sync.Once
	wg       sync.WaitGroup // sessions and relays running

	mu       sync.Mutex
	sessions map[*session]struct{} // held here
	beats    int
}

// session is a participant's session held by this node.
type session struct {
	seat Seat
}

// New starts the media server with mc (its hooks are the Service's) and
// returns the calls of this node.
func New(d Deps, mc media.Config) (*Service, error) {
	s := &Service{db: d.DB, visits: d.Visits, auth: d.Auth, cluster: d.Cluster, recorder: d.Recorder, log: d.Log,
		client: &http.Client{Timeout: 0}, stopping: make(chan struct{}), sessions: map[*session]struct{}{}}
	mc.OnEnd = s.ended
	mc.Ledger = s
	if d.Recorder != nil {
		mc.Recorder = d.Recorder
	}
	ms, err := media.New(mc, d.Log)
	if err != nil {
		return nil, err
	}
	s.media = ms
	if d.Recorder != nil {
		d.Recorder.calls = s
	}
	if s.cluster != nil {
		s.cluster.Subscribe(s.onEvent)
		s.cluster.OnFenced(s.releaseAll)
	}
	return s, nil
}

// Media is the media server.
func (s *Service) Media() *media.Server { return s.media }

// Recorder records calls, or is nil.
func (s *Service) Recorder() *Recorder { return s.recorder }

// SetTURN gives the participants' pages this relay, for their visit only.
func (s *Service) SetTURN(t *turn.Server) { s.turn = t }

// node is this node's id ("" without a cluster).
func (s *Service) node() string {
	if s.cluster == nil {
		return ""
	}
	return s.cluster.ID()
}

// Start closes the sessions this node left open when it last stopped, and
// gives up the calls it held then (their pages went elsewhere or wait).
func (s *Service) Start(ctx context.Context) (int64, error) {
	n, err := s.visits.CloseStalePresence(ctx, s.node())
	if err != nil {
		return 0, err
	}
	if s.cluster != nil {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM call_leases WHERE node_id = $1`, s.node()); err != nil {
			return n, err
		}
	}
	s.salvage(ctx, true)
	return n, nil
}

// Seat is someone in a visit's call: who, with which role, and what they
// may skip. It travels from the node that authenticated them to the node
// that holds the call.
type Seat struct {
	Visit string    `json:"visit"`
	Case  string    `json:"case"`
	Ends  time.Time `json:"ends"` // the scheduled end
	// ID and Name are the participant as the others see them: "user:<id>"
	// for an officer, "link:<id>" for a link holder.
	ID   string     `json:"id"`
	Name string     `json:"name"`
	Role media.Role `json:"role"`
	// Admitted lets them straight in, without the waiting room (officers).
	Admitted bool `json:"admitted,omitempty"`
	// Resume is the token of an earlier admission, from the page.
	Resume string `json:"resume,omitempty"`
	// Recording is the recording policy in force.
	Recording string      `json:"recording"`
	Actor     audit.Actor `json:"actor"`
	// Session is the officer's session, checked while they are in the
	// call: ended or disabled, they are taken out.
	Session string `json:"session,omitempty"`
}

// OfficerSeat checks that an officer may enter a visit's call (see
// visits.EnterCall) and seats them as a host. A call that is over gives
// visits.ErrVisitOver with the visit's id in the seat.
func (s *Service) OfficerSeat(ctx context.Context, a cases.Actor, sessionID, caseID, visitID string) (Seat, error) {
	v, err := s.visits.EnterCall(ctx, a, caseID, visitID)
	if err != nil {
		return Seat{Visit: visitID}, err
	}
	name := a.User.DisplayName
	if name == "" {
		name = a.User.Username
	}
	return Seat{Visit: v.ID, Case: v.CaseID, Ends: v.Ends, ID: "user:" + a.User.ID, Name: name, Role: media.RoleOfficer, Admitted: true,
		Recording: v.Recording.Policy, Actor: a.User.Actor(a.Address), Session: sessionID}, nil
}

// LinkSeat seats a link holder with the link's role; they wait to be
// admitted unless resume shows an earlier admission.
func LinkSeat(ad *visits.Admission, resume, address string) Seat {
	return Seat{Visit: ad.VisitID, Case: ad.CaseID, Ends: ad.Ends, ID: "link:" + ad.LinkID, Name: ad.Name, Role: media.Role(ad.Role),
		Resume: resume, Recording: ad.Recording.Policy, Actor: audit.Actor{ID: "link:" + ad.LinkID, Name: ad.Name, Address: address}}
}

// Over reports whether a visit's call ended for everyone, and why.
func (s *Service) Over(ctx context.Context, visit string) (bool, string, error) {
	over, why, err := s.visits.CallOver(ctx, visit)
	if err != nil {
		return false, "", err
	}
	if ended := s.media.EndReason(visit); ended != "" {
		over, why = true, ended // it may not be written yet
	}
	return over, why, nil
}

// TellOver tells a page whose call is over how it ended, so that it stops
// trying to reconnect and says why.
func (s *Service) TellOver(ctx context.Context, c *websocket.Conn, visit string) {
	_, why, err := s.Over(ctx, visit)
	if err != nil || why == "" {
		why = media.EndedTimeUp
	}
	tell(ctx, c, media.Message{Type: "ended", Reason: why}, "the visit is over")
}

// Serve runs a participant's session over the page's WebSocket (opened
// with Accept) until they leave or the call ends: here, if this node holds
// the call, or relayed to the node that does. ctx should not end with the
// request.
func (s *Service) Serve(ctx context.Context, c *websocket.Conn, st Seat) {
	s.wg.Add(1)
	defer s.wg.Done()
	over, _, err := s.Over(ctx, st.Visit)
	if err != nil {
		s.log.Error("call: read the visit", slog.String("visit", st.Visit), slog.String("error", err.Error()))
		c.Close(websocket.StatusInternalError, "")
		return
	}
	if over {
		s.TellOver(ctx, c, st.Visit)
		return
	}
	if s.cluster == nil {
		if s.draining.Load() {
			tell(ctx, c, media.Message{Type: "ended", Reason: media.EndedShutdown}, "the server is stopping")
			return
		}
		s.host(ctx, c, st)
		return
	}
	s.route(ctx, c, st)
}

// host runs a session of a call this node holds. Who was in the call when,
// why they left and how good their connection was are kept on the visit.
func (s *Service) host(ctx context.Context, c *websocket.Conn, st Seat) {
	room := st.Visit
	conn := &wsConn{c: c}
	if !st.Admitted {
		ok, err := s.admittedBefore(ctx, room, st.ID, st.Resume)
		if err != nil {
			s.log.Error("call: read an admission", slog.String("visit", room), slog.String("error", err.Error()))
		}
		st.Admitted = ok
	}
	muted, err := s.mutedBefore(ctx, room, st.ID)
	if err != nil {
		s.log.Error("call: read a mute", slog.String("visit", room), slog.String("error", err.Error()))
	}
	times := s.visits.Times()
	if s.turn != nil {
		// The relay for this participant, for this visit only, until a
		// little after the call must have ended. Their name stays out of
		// the TURN username, which travels in clear.
		cred := s.turn.CredentialsUntil(s.turn.OpaqueID(room, st.ID), st.Ends.Add(times.Grace+30*time.Minute))
		ice := media.Message{Type: "ice", ICEServers: []media.ICEServer{{URLs: cred.URLs, Username: cred.Username, Credential: cred.Password}}}
		if err := conn.Write(ctx, ice); err != nil {
			c.CloseNow()
			return
		}
	}
	// The call ends at the scheduled end plus the grace, whoever joined
	// when; everyone is warned five minutes before the scheduled end.
	rm := s.media.Room(room)
	rm.Limit(st.Ends.Add(times.Grace), visits.EndWarning+times.Grace)
	s.resumeRecording(ctx, rm, room)
	if st.Recording == visits.RecordAlways {
		// Recorded from the start, by policy; everyone was told before joining.
		if err := rm.Record(media.Info{}, true); err != nil {
			s.log.Warn("call: record by policy", slog.String("visit", room), slog.String("error", err.Error()))
		}
	}
	se := &session{seat: st}
	s.mu.Lock()
	s.sessions[se] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, se)
		s.mu.Unlock()
	}()
	vs := visits.Seat{VisitID: room, CaseID: st.Case, Participant: st.ID, Name: st.Name, Role: string(st.Role), Actor: st.Actor, Node: s.node()}
	var presence string
	reason, err := rm.Session(ctx, media.Participant{ID: st.ID, Name: st.Name, Role: st.Role, Admitted: st.Admitted, Resume: st.Resume, Muted: muted,
		Entered: func() {
			id, err := s.visits.CallEntered(ctx, vs)
			if err != nil {
				s.log.Error("call: record the entry", slog.String("visit", room), slog.String("error", err.Error()))
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
		if lerr := s.visits.CallLeft(ctx, vs, presence, reason, conn.summary()); lerr != nil {
			s.log.Error("call: record the leave", slog.String("visit", room), slog.String("error", lerr.Error()))
		}
	}
	if err != nil {
		s.log.Warn("call: session failed", slog.String("visit", room), slog.String("participant", st.ID), slog.String("error", err.Error()))
		c.Close(websocket.StatusPolicyViolation, truncate(err.Error(), 120))
		return
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// ended is the media server's OnEnd hook: it keeps on the visit that its
// call ended for everyone, and why. A call stopped because its server
// stops is not ended: it goes on elsewhere, or here later.
func (s *Service) ended(room, reason string, by media.Info) {
	if reason == media.EndedShutdown {
		return
	}
	ctx := context.Background()
	if err := s.visits.CallEnded(ctx, room, reason, actorOf(by)); err != nil {
		s.log.Error("call: record the end", slog.String("visit", room), slog.String("reason", reason), slog.String("error", err.Error()))
	}
	s.releaseLease(ctx, room)
}

// RemoveLink takes the holder of a withdrawn link out of the call at once,
// on whichever node holds it.
func (s *Service) RemoveLink(ctx context.Context, visit, link string) {
	s.publish(ctx, cluster.Event{Kind: cluster.KindRemove, Visit: visit, Participant: "link:" + link})
}

// Recheck has every node check again the accounts and sessions of the
// officers in its calls (one was disabled, a session ended): those who may
// no longer be there are taken out at once.
func (s *Service) Recheck(ctx context.Context) {
	s.publish(ctx, cluster.Event{Kind: cluster.KindRecheck})
}

func (s *Service) publish(ctx context.Context, e cluster.Event) {
	if s.cluster == nil {
		s.onEvent(e)
		return
	}
	if err := s.cluster.Publish(ctx, e); err != nil {
		// This node acted on it; the others find out at their next check.
		s.log.Error("call: tell the other nodes", slog.String("kind", e.Kind), slog.String("error", err.Error()))
	}
}

// onEvent acts on news from any node. It must not block.
func (s *Service) onEvent(e cluster.Event) {
	switch e.Kind {
	case cluster.KindRemove:
		s.media.Remove(e.Visit, e.Participant)
	case cluster.KindRecheck, cluster.KindResync:
		go s.sweep(context.Background())
	}
}

// sweep takes out of this node's calls whoever may no longer be there: a
// withdrawn link's holder, an officer whose account was disabled or whose
// session ended.
func (s *Service) sweep(ctx context.Context) {
	s.mu.Lock()
	seats := make([]Seat, 0, len(s.sessions))
	for se := range s.sessions {
		seats = append(seats, se.seat)
	}
	s.mu.Unlock()
	for _, st := range seats {
		var live bool
		var err error
		switch {
		case strings.HasPrefix(st.ID, "link:"):
			live, err = s.visits.LinkLive(ctx, strings.TrimPrefix(st.ID, "link:"))
		case st.Session != "":
			live, err = s.auth.SessionLive(ctx, strings.TrimPrefix(st.ID, "user:"), st.Session)
		default:
			continue
		}
		if err != nil {
			s.log.Warn("call: check a participant", slog.String("visit", st.Visit), slog.String("error", err.Error()))
			continue
		}
		if !live {
			s.log.Info("call: taken out (link withdrawn, account disabled or session ended)", slog.String("visit", st.Visit), slog.String("participant", st.ID))
			s.media.Remove(st.Visit, st.ID)
		}
	}
}

// Wait waits, until ctx is done, for the sessions and relays to finish
// and record how they ended.
func (s *Service) Wait(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn("calls still closing at shutdown")
	}
}

var errNoNode = errors.New("calls: no live node can hold the call")
