package calls

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/attache-org/attache/internal/cluster"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/media"
)

// routeTimeout is how long a page's connection waits for a node to hold
// its call (the holder was lost and is not yet declared dead, say) before
// it is told to come back later.
const routeTimeout = 30 * time.Second

// The internal endpoint a node opens on the node that holds a call, to
// relay a page's session there.
const (
	internalSessionPath = "/internal/v1/calls/session"
	seatHeader          = "X-Attache-Seat"
)

// errNotOwner is a node's answer when it does not hold the call (any more).
var errNotOwner = errors.New("calls: that node does not hold the call")

// route serves a page's session where its call is held: here, or on the
// node that holds it, relayed over an internal WebSocket. When the holder
// is lost, the page is told to reconnect; its new connection finds the
// call on the node that took it over.
func (s *Service) route(ctx context.Context, c *websocket.Conn, st Seat) {
	deadline := time.Now().Add(routeTimeout)
	for {
		select {
		case <-s.stopping:
			tell(ctx, c, media.Message{Type: "ended", Reason: media.EndedShutdown}, "the server is stopping")
			return
		default:
		}
		owner, err := s.owner(ctx, st.Visit)
		if err == nil && owner.ID == s.node() {
			s.host(ctx, c, st)
			return
		}
		if err == nil {
			var ic *websocket.Conn
			ic, err = s.dial(ctx, owner, st)
			if err == nil {
				s.relay(ctx, c, ic)
				return
			}
			if !errors.Is(err, errNotOwner) {
				// Unreachable: a node that also stopped beating is lost.
				if dead, derr := s.cluster.Suspect(ctx, owner.ID); derr == nil && dead {
					continue
				}
			}
		}
		if !errors.Is(err, errNoNode) && !errors.Is(err, errNotOwner) {
			s.log.Debug("call: reach the node that holds the call", slog.String("visit", st.Visit), slog.String("error", err.Error()))
		}
		if time.Now().After(deadline) {
			s.log.Warn("call: no node holds the call; the page will try again", slog.String("visit", st.Visit))
			tell(ctx, c, media.Message{Type: "ended", Reason: media.EndedShutdown}, "no server can hold the call now")
			return
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-s.stopping:
		case <-ctx.Done():
			c.CloseNow()
			return
		}
	}
}

// owner returns the live node that holds a visit's call, taking the call
// for this node when nobody holds it or its holder is dead, stopped or
// draining. A draining node takes nothing (errNoNode).
func (s *Service) owner(ctx context.Context, visit string) (cluster.Node, error) {
	var holder string
	self := s.node()
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.db.Lock(ctx, tx, "attache.lease."+visit); err != nil {
			return err
		}
		var epoch int64
		err := tx.QueryRowContext(ctx, `SELECT node_id, epoch FROM call_leases WHERE visit_id = $1`, visit).Scan(&holder, &epoch)
		if errors.Is(err, sql.ErrNoRows) {
			if s.draining.Load() {
				return errNoNode
			}
			holder = self
			_, err = tx.ExecContext(ctx, `INSERT INTO call_leases (visit_id, node_id, epoch, taken_at) VALUES ($1, $2, 1, $3)`, visit, self, db.Instant(time.Now()))
			return err
		}
		if err != nil {
			return fmt.Errorf("read lease: %w", err)
		}
		if holder == self && !s.draining.Load() {
			return nil
		}
		if holder != self {
			n, err := s.cluster.Node(ctx, holder)
			if err != nil && !errors.Is(err, db.ErrNotFound) {
				return err
			}
			if err == nil && s.cluster.Alive(n) {
				return nil
			}
		}
		if s.draining.Load() {
			return errNoNode
		}
		_, err = tx.ExecContext(ctx, `UPDATE call_leases SET node_id = $2, epoch = epoch + 1, taken_at = $3 WHERE visit_id = $1 AND epoch = $4`,
			visit, self, db.Instant(time.Now()), epoch)
		if err != nil {
			return fmt.Errorf("take lease: %w", err)
		}
		s.log.Info("call: taken over", slog.String("visit", visit), slog.String("from", holder))
		holder = self
		return nil
	})
	if err != nil {
		return cluster.Node{}, err
	}
	if holder == self {
		return cluster.Node{ID: self}, nil
	}
	return s.cluster.Node(ctx, holder)
}

// dial opens the internal session on the node that holds the call.
func (s *Service) dial(ctx context.Context, owner cluster.Node, st Seat) (*websocket.Conn, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	hdr := http.Header{}
	hdr.Set("Authorization", s.cluster.Credential())
	hdr.Set(seatHeader, base64.RawURLEncoding.EncodeToString(b))
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ic, res, err := websocket.Dial(dctx, owner.InternalURL+internalSessionPath, &websocket.DialOptions{HTTPHeader: hdr, HTTPClient: s.client})
	if err != nil {
		if res != nil && res.StatusCode == http.StatusConflict {
			return nil, errNotOwner
		}
		return nil, fmt.Errorf("node %s: %w", owner.ID, err)
	}
	ic.SetReadLimit(256 << 10)
	return ic, nil
}

// relay copies a page's signalling to the node that holds its call and
// back, until either side closes. A page that hangs up hangs up there too;
// a page whose connection broke is reported as a network drop; a holder
// that is lost, or this node draining, tells the page to reconnect.
func (s *Service) relay(ctx context.Context, page, holder *websocket.Conn) {
	s.wg.Add(1)
	defer s.wg.Done()
	up := make(chan struct{})
	go func() {
		defer close(up)
		for {
			typ, b, err := readFrame(ctx, page)
			if err != nil {
				code := websocket.CloseStatus(err)
				switch {
				case errors.Is(err, errNotUTF8):
					code = websocket.StatusInvalidFramePayloadData
				case code == -1:
					code = CloseReconnect
				}
				holder.Close(code, "")
				return
			}
			if err := holder.Write(ctx, typ, b); err != nil {
				page.Close(websocket.StatusGoingAway, "")
				return
			}
		}
	}()
	down := make(chan error, 1)
	go func() {
		for {
			typ, b, err := holder.Read(ctx)
			if err != nil {
				down <- err
				return
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err = page.Write(wctx, typ, b)
			cancel()
			if err != nil {
				holder.Close(CloseReconnect, "")
				down <- nil
				return
			}
		}
	}()
	select {
	case err := <-down:
		var ce websocket.CloseError
		switch {
		case err == nil:
		case errors.As(err, &ce):
			page.Close(ce.Code, ce.Reason)
		default:
			// The holder is gone: the page reconnects and finds the call anew.
			tell(ctx, page, media.Message{Type: "ended", Reason: media.EndedShutdown}, "the call moves")
		}
	case <-s.stopping:
		tell(ctx, page, media.Message{Type: "ended", Reason: media.EndedShutdown}, "the server is stopping")
		holder.Close(CloseReconnect, "")
	}
	select {
	case <-up:
	case <-time.After(5 * time.Second):
		page.CloseNow()
		holder.CloseNow()
	}
}

// InternalHandler serves the other nodes: the sessions they relay to this
// node's calls. Every request shows a live node's credential.
func (s *Service) InternalHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+internalSessionPath, s.internalSession)
	return mux
}

func (s *Service) internalSession(w http.ResponseWriter, r *http.Request) {
	if s.cluster == nil {
		http.NotFound(w, r)
		return
	}
	from, err := s.cluster.Authenticate(r.Context(), r.Header.Get("Authorization"))
	if err != nil {
		s.log.Warn("call: internal request refused", slog.String("address", r.RemoteAddr), slog.String("error", err.Error()))
		http.Error(w, "not a node of this cluster", http.StatusUnauthorized)
		return
	}
	var st Seat
	b, err := base64.RawURLEncoding.DecodeString(r.Header.Get(seatHeader))
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil || st.Visit == "" || st.ID == "" {
		http.Error(w, "bad seat", http.StatusBadRequest)
		return
	}
	var holder string
	err = s.db.QueryRowContext(r.Context(), `SELECT node_id FROM call_leases WHERE visit_id = $1`, st.Visit).Scan(&holder)
	if errors.Is(err, sql.ErrNoRows) || err == nil && (holder != s.node() || s.draining.Load()) {
		http.Error(w, "this node does not hold the call", http.StatusConflict)
		return
	}
	if err != nil {
		http.Error(w, "cannot read the lease", http.StatusServiceUnavailable)
		return
	}
	c, err := Accept(w, r)
	if err != nil {
		return
	}
	s.log.Debug("call: relayed session", slog.String("visit", st.Visit), slog.String("from", from), slog.String("participant", st.ID))
	s.wg.Add(1)
	defer s.wg.Done()
	s.host(context.WithoutCancel(r.Context()), c, st)
}

// Beat is run on each of the node's heartbeats: the calls whose lease this
// node lost (it was cut off, and another node took them) are dropped here,
// the sessions of lost nodes are closed, and every few beats the people in
// this node's calls are checked again.
func (s *Service) Beat(ctx context.Context) {
	rooms := map[string]bool{}
	for _, r := range s.media.Rooms() {
		rooms[r] = true
	}
	held := map[string]bool{}
	var idle []string
	rows, err := s.db.QueryContext(ctx, `SELECT visit_id, taken_at FROM call_leases WHERE node_id = $1`, s.node())
	if err == nil {
		for rows.Next() {
			var v string
			var taken int64
			if rows.Scan(&v, &taken) == nil {
				held[v] = true
				// A call nobody is in any more (they all left, or it ended)
				// is given up, unless it was just taken.
				if !rooms[v] && time.Since(db.Time(taken)) > time.Minute {
					idle = append(idle, v)
				}
			}
		}
		err = rows.Err()
		rows.Close()
	}
	if err == nil {
		for r := range rooms {
			if !held[r] {
				s.log.Warn("call: another node holds this call now; its pages move", slog.String("visit", r))
				s.media.Release(r)
			}
		}
		for _, v := range idle {
			s.releaseLease(ctx, v)
		}
	}
	if n, err := s.visits.CloseLostPresence(ctx); err != nil {
		s.log.Warn("call: close the sessions of lost nodes", slog.String("error", err.Error()))
	} else if n > 0 {
		s.log.Warn("call: sessions of a lost node closed", slog.Int("sessions", n))
	}
	s.mu.Lock()
	s.beats++
	check := s.beats%5 == 0
	s.mu.Unlock()
	if check {
		s.sweep(ctx)
		s.salvage(ctx, false)
	}
}

// releaseAll drops every call held here: this node was declared dead.
func (s *Service) releaseAll() {
	for _, r := range s.media.Rooms() {
		s.media.Release(r)
	}
}

// Drain stops this node taking calls and moves those it holds: each lease
// is given up and the pages told to reconnect, which brings them to
// another node (or back here after a restart, for a single node). Relayed
// pages are told the same. It returns once the sessions have ended or ctx
// is done.
func (s *Service) Drain(ctx context.Context) {
	s.draining.Store(true)
	s.stopOnce.Do(func() { close(s.stopping) })
	if s.cluster != nil {
		if err := s.cluster.Drain(ctx); err != nil {
			s.log.Warn("call: mark the node draining", slog.String("error", err.Error()))
		}
		if _, err := s.db.ExecContext(ctx, `DELETE FROM call_leases WHERE node_id = $1`, s.node()); err != nil {
			s.log.Warn("call: give up the leases", slog.String("error", err.Error()))
		}
	}
	s.releaseAll()
	s.Wait(ctx)
}

// Draining reports whether this node is stopping: it takes no new call.
func (s *Service) Draining() bool { return s.draining.Load() }

// Close drains and stops the media server.
func (s *Service) Close(ctx context.Context) error {
	s.Drain(ctx)
	return s.media.Close()
}

// releaseLease gives up this node's lease of a visit's call.
func (s *Service) releaseLease(ctx context.Context, visit string) {
	if s.cluster == nil {
		return
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM call_leases WHERE visit_id = $1 AND node_id = $2`, visit, s.node()); err != nil {
		s.log.Warn("call: give up a lease", slog.String("visit", visit), slog.String("error", err.Error()))
	}
}
