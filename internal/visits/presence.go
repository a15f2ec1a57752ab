package visits

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
)

// Outcomes say why a session in a call ended, or how the call ended.
var Outcomes = cases.Vocab{
	{Code: "left", Label: "Left"}, {Code: "network", Label: "Connection lost"}, {Code: "reconnected", Label: "Reconnected"},
	{Code: "removed", Label: "Removed by the officer"}, {Code: "host", Label: "Ended by the officer"},
	{Code: "monitor", Label: "Cut by the monitor"}, {Code: "time", Label: "Time up"}, {Code: "server", Label: "Server stopped"},
	{Code: "node", Label: "Server lost"}, {Code: "error", Label: "Failed"},
}

// Presence is one session of one participant in a visit's call. A
// reconnect is a new session of the same participant.
type Presence struct {
	ID          string     `json:"id"`
	Participant string     `json:"participant"` // "user:<id>" or "link:<id>"
	Name        string     `json:"name"`
	Role        string     `json:"role"`
	Joined      time.Time  `json:"joined"`
	Left        *time.Time `json:"left,omitempty"` // nil while in the call
	// Reason is why the session ended: left, network, reconnected,
	// removed, host, monitor, time, server, node (the server that held
	// the call was lost; the call went on on another).
	Reason  string  `json:"reason,omitempty"`
	Quality Quality `json:"quality"`
}

// Minutes is how long the session lasted (so far), to the nearest minute.
func (p Presence) Minutes(now time.Time) int {
	end := now
	if p.Left != nil {
		end = *p.Left
	}
	return int(math.Round(end.Sub(p.Joined).Minutes()))
}

// Quality summarises the connection statistics a participant's page
// reported during a session: means, and the worst round trip.
type Quality struct {
	Samples  int     `json:"samples"`
	LossPct  float64 `json:"loss_pct"`
	RTTms    float64 `json:"rtt_ms"`
	RTTMaxMs float64 `json:"rtt_max_ms"`
	JitterMs float64 `json:"jitter_ms"`
	KbpsIn   float64 `json:"kbps_in"`
	KbpsOut  float64 `json:"kbps_out"`
}

// Add takes one report into the summary. Reports with impossible values
// (negative, NaN, a loss over 100 %) are ignored: they come from a page.
func (q *Quality) Add(lossPct, rttMs, jitterMs, kbpsIn, kbpsOut float64) {
	for _, v := range []float64{lossPct, rttMs, jitterMs, kbpsIn, kbpsOut} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e6 {
			return
		}
	}
	if lossPct > 100 {
		return
	}
	n := float64(q.Samples)
	mean := func(old, v float64) float64 { return (old*n + v) / (n + 1) }
	q.LossPct, q.RTTms, q.JitterMs = mean(q.LossPct, lossPct), mean(q.RTTms, rttMs), mean(q.JitterMs, jitterMs)
	q.KbpsIn, q.KbpsOut = mean(q.KbpsIn, kbpsIn), mean(q.KbpsOut, kbpsOut)
	q.RTTMaxMs = max(q.RTTMaxMs, rttMs)
	q.Samples++
}

// Grade is the summary in one word: good, fair or poor (or "" without
// reports), by the loss and the round trip.
func (q Quality) Grade() string {
	switch {
	case q.Samples == 0:
		return ""
	case q.LossPct >= 5 || q.RTTms >= 400:
		return "poor"
	case q.LossPct >= 1 || q.RTTms >= 150:
		return "fair"
	}
	return "good"
}

// Seat is someone in a visit's call, for the presence record.
type Seat struct {
	VisitID, CaseID string
	Participant     string // "user:<id>" or "link:<id>"
	Name, Role      string
	Actor           audit.Actor
	Node            string // the node that holds the call
}

// CallEntered records that someone is in the call, and starts the visit
// (planned or confirmed → in progress) when they are the first. It returns
// the presence record's id, for CallLeft.
func (s *Service) CallEntered(ctx context.Context, st Seat) (string, error) {
	id := db.NewID()
	now := s.now()
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO visit_presence (id, visit_id, participant, name, role, joined_at, node_id) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			id, st.VisitID, st.Participant, st.Name, st.Role, db.Instant(now), st.Node); err != nil {
			return fmt.Errorf("record presence: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE visits SET status = 'in_progress', updated_at = $3 WHERE id = $1 AND case_id = $2 AND status IN ('planned', 'confirmed')`,
			st.VisitID, st.CaseID, db.Instant(now))
		if err != nil {
			return fmt.Errorf("start visit: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if err := s.audit.Append(ctx, tx, audit.Entry{Actor: st.Actor, Action: "visit.in_progress", ObjectType: "case", ObjectID: st.CaseID,
				Detail: fmt.Sprintf("visit=%s the call started", st.VisitID)}); err != nil {
				return err
			}
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: st.Actor, Action: "visit.call_join", ObjectType: "case", ObjectID: st.CaseID,
			Detail: fmt.Sprintf("visit=%s role=%s", st.VisitID, st.Role)})
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// CallLeft closes a presence record: when, why, and the quality summary.
func (s *Service) CallLeft(ctx context.Context, st Seat, presenceID, reason string, q Quality) error {
	now := s.now()
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var joined int64
		err := tx.QueryRowContext(ctx, `SELECT joined_at FROM visit_presence WHERE id = $1 AND visit_id = $2 AND left_at IS NULL`, presenceID, st.VisitID).Scan(&joined)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // closed already (the server stopped meanwhile)
		}
		if err != nil {
			return fmt.Errorf("read presence: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE visit_presence SET left_at = $2, reason = $3, samples = $4, loss_pct = $5, rtt_ms = $6, rtt_max_ms = $7,
			jitter_ms = $8, kbps_in = $9, kbps_out = $10 WHERE id = $1`,
			presenceID, db.Instant(now), reason, q.Samples, q.LossPct, q.RTTms, q.RTTMaxMs, q.JitterMs, q.KbpsIn, q.KbpsOut); err != nil {
			return fmt.Errorf("close presence: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: st.Actor, Action: "visit.call_leave", ObjectType: "case", ObjectID: st.CaseID,
			Detail: fmt.Sprintf("visit=%s role=%s seconds=%d reason=%s loss=%.2f%% rtt=%.0fms", st.VisitID, st.Role,
				int(now.Sub(db.Time(joined)).Seconds()), reason, q.LossPct, q.RTTms)})
	})
}

// CallEnded records, once, that a visit's call ended for everyone and why
// (host, monitor, time): an ended call cannot be entered again, even after
// a restart of the server.
func (s *Service) CallEnded(ctx context.Context, visitID, reason string, by audit.Actor) error {
	now := s.now()
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var caseID string
		err := tx.QueryRowContext(ctx, `UPDATE visits SET call_ended = $2, call_end_reason = $3, updated_at = $2 WHERE id = $1 AND call_ended IS NULL RETURNING case_id`,
			visitID, db.Instant(now), reason).Scan(&caseID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // ended before, or no such visit
		}
		if err != nil {
			return fmt.Errorf("end call: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: by, Action: "visit.call_end", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("visit=%s reason=%s", visitID, reason)})
	})
}

// CallOver reports whether a visit's call was ended for everyone, and why.
func (s *Service) CallOver(ctx context.Context, visitID string) (bool, string, error) {
	var ended sql.NullInt64
	var why string
	err := s.db.QueryRowContext(ctx, `SELECT call_ended, call_end_reason FROM visits WHERE id = $1`, visitID).Scan(&ended, &why)
	if errors.Is(err, sql.ErrNoRows) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("read visit: %w", err)
	}
	return ended.Valid, why, nil
}

// CloseStalePresence closes the sessions that this node left open when it
// last stopped (and those of servers from before nodes had names): they
// ended when it stopped, at the latest. It runs at start, before any call.
// Sessions held by other nodes are theirs.
func (s *Service) CloseStalePresence(ctx context.Context, node string) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE visit_presence SET left_at = $1, reason = 'server' WHERE left_at IS NULL AND node_id IN ($2, '')`,
		db.Instant(s.now()), node)
	if err != nil {
		return 0, fmt.Errorf("close stale presence: %w", err)
	}
	return res.RowsAffected()
}

// CloseLostPresence closes the sessions held by nodes that stopped or were
// lost (reason "node"), as of the node's last beat, each audited. Any live
// node may run it; each session is closed once.
func (s *Service) CloseLostPresence(ctx context.Context) (int, error) {
	n := 0
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE visit_presence SET reason = 'node',
				left_at = (SELECT MAX(n.stopped_at) FROM nodes n WHERE n.id = visit_presence.node_id)
			WHERE left_at IS NULL AND node_id IN (SELECT id FROM nodes WHERE stopped_at IS NOT NULL)
			RETURNING visit_id, participant, name, role, node_id, joined_at, left_at`)
		if err != nil {
			return fmt.Errorf("close lost presence: %w", err)
		}
		type closed struct {
			visit, participant, name, role, node string
			joined, left                         int64
		}
		var all []closed
		for rows.Next() {
			var c closed
			if err := rows.Scan(&c.visit, &c.participant, &c.name, &c.role, &c.node, &c.joined, &c.left); err != nil {
				rows.Close()
				return fmt.Errorf("close lost presence: %w", err)
			}
			all = append(all, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("close lost presence: %w", err)
		}
		for _, c := range all {
			var caseID string
			if err := tx.QueryRowContext(ctx, `SELECT case_id FROM visits WHERE id = $1`, c.visit).Scan(&caseID); err != nil {
				return fmt.Errorf("close lost presence: %w", err)
			}
			if err := s.audit.Append(ctx, tx, audit.Entry{Actor: audit.Actor{ID: c.participant, Name: c.name}, Action: "visit.call_leave", ObjectType: "case",
				ObjectID: caseID, Detail: fmt.Sprintf("visit=%s role=%s seconds=%d reason=node node=%s", c.visit, c.role,
					int(db.Time(c.left).Sub(db.Time(c.joined)).Seconds()), c.node)}); err != nil {
				return err
			}
		}
		n = len(all)
		return nil
	})
	return n, err
}

// presenceOf reads the call records of a case's visits, by visit.
func (s *Service) presenceOf(ctx context.Context, caseID string) (map[string][]Presence, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT p.visit_id, p.id, p.participant, p.name, p.role, p.joined_at, p.left_at, p.reason,
		p.samples, p.loss_pct, p.rtt_ms, p.rtt_max_ms, p.jitter_ms, p.kbps_in, p.kbps_out
		FROM visit_presence p JOIN visits v ON v.id = p.visit_id WHERE v.case_id = $1 ORDER BY p.joined_at, p.id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("read presence: %w", err)
	}
	defer rows.Close()
	out := map[string][]Presence{}
	for rows.Next() {
		var visit string
		var p Presence
		var joined int64
		var left sql.NullInt64
		q := &p.Quality
		if err := rows.Scan(&visit, &p.ID, &p.Participant, &p.Name, &p.Role, &joined, &left, &p.Reason,
			&q.Samples, &q.LossPct, &q.RTTms, &q.RTTMaxMs, &q.JitterMs, &q.KbpsIn, &q.KbpsOut); err != nil {
			return nil, fmt.Errorf("read presence: %w", err)
		}
		p.Joined = db.Time(joined)
		if left.Valid {
			t := db.Time(left.Int64)
			p.Left = &t
		}
		out[visit] = append(out[visit], p)
	}
	return out, rows.Err()
}
