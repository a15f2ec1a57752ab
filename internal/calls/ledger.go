package calls

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/media"
	"github.com/attache-org/attache/internal/visits"
)

// The Service is the media server's Ledger: admissions and mutes are kept
// in the database, so that a call rebuilt on another node keeps them.
var _ media.Ledger = (*Service)(nil)

// ledgerTimeout bounds a ledger write, which a host's action waits for.
const ledgerTimeout = 5 * time.Second

func hashResume(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Admitted keeps that a host let id into room, with the hash of the
// resume token their page is given.
func (s *Service) Admitted(room, id, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), ledgerTimeout)
	defer cancel()
	_, err := s.db.ExecContext(ctx, `INSERT INTO call_admissions (visit_id, participant, token_hash, admitted_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (visit_id, participant) DO UPDATE SET token_hash = excluded.token_hash, admitted_at = excluded.admitted_at`,
		room, id, hashResume(token), db.Instant(time.Now()))
	if err != nil {
		return fmt.Errorf("keep admission: %w", err)
	}
	return nil
}

// Removed forgets an admission: to come back, id must be admitted again.
func (s *Service) Removed(room, id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), ledgerTimeout)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM call_admissions WHERE visit_id = $1 AND participant = $2`, room, id); err != nil {
		return fmt.Errorf("forget admission: %w", err)
	}
	return nil
}

// Muted keeps (or forgets) that a host muted id.
func (s *Service) Muted(room, id string, on bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), ledgerTimeout)
	defer cancel()
	var err error
	if on {
		_, err = s.db.ExecContext(ctx, `INSERT INTO call_mutes (visit_id, participant, muted_at) VALUES ($1, $2, $3) ON CONFLICT (visit_id, participant) DO NOTHING`,
			room, id, db.Instant(time.Now()))
	} else {
		_, err = s.db.ExecContext(ctx, `DELETE FROM call_mutes WHERE visit_id = $1 AND participant = $2`, room, id)
	}
	if err != nil {
		return fmt.Errorf("keep mute: %w", err)
	}
	return nil
}

// admittedBefore reports whether a host admitted id into the call and the
// page shows the resume token it was given then.
func (s *Service) admittedBefore(ctx context.Context, room, id, resume string) (bool, error) {
	if resume == "" {
		return false, nil
	}
	var hash string
	err := s.db.QueryRowContext(ctx, `SELECT token_hash FROM call_admissions WHERE visit_id = $1 AND participant = $2`, room, id).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read admission: %w", err)
	}
	return subtle.ConstantTimeCompare([]byte(hash), []byte(hashResume(resume))) == 1, nil
}

// mutedBefore reports whether a host muted id in the call.
func (s *Service) mutedBefore(ctx context.Context, room, id string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM call_mutes WHERE visit_id = $1 AND participant = $2`, room, id).Scan(&n); err != nil {
		return false, fmt.Errorf("read mute: %w", err)
	}
	return n > 0, nil
}

// Recording keeps the recording running in room (rec), or forgets it (nil).
func (s *Service) Recording(room string, rec *media.RecordingState) error {
	ctx, cancel := context.WithTimeout(context.Background(), ledgerTimeout)
	defer cancel()
	if rec == nil {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM call_recordings WHERE visit_id = $1`, room); err != nil {
			return fmt.Errorf("forget recording: %w", err)
		}
		return nil
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO call_recordings (visit_id, recording_id, state, started_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (visit_id) DO UPDATE SET recording_id = excluded.recording_id, state = excluded.state, started_at = excluded.started_at`,
		room, rec.ID, string(b), db.Instant(rec.Start))
	if err != nil {
		return fmt.Errorf("keep recording: %w", err)
	}
	return nil
}

// resumeRecording continues, in a call rebuilt here, the recording that ran
// in it on another node, unless the policy no longer lets it run (a
// privileged visit is never recorded).
func (s *Service) resumeRecording(ctx context.Context, rm *media.Room, room string) {
	if s.recorder == nil {
		return
	}
	var state string
	err := s.db.QueryRowContext(ctx, `SELECT state FROM call_recordings WHERE visit_id = $1`, room).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return
	}
	if err != nil {
		s.log.Error("call: read the recording's state", slog.String("visit", room), slog.String("error", err.Error()))
		return
	}
	var st media.RecordingState
	if err := json.Unmarshal([]byte(state), &st); err != nil {
		s.log.Error("call: read the recording's state", slog.String("visit", room), slog.String("error", err.Error()))
		return
	}
	_, rp, err := s.visits.CallPolicy(ctx, room)
	if err != nil {
		s.log.Error("call: read the recording policy", slog.String("visit", room), slog.String("error", err.Error()))
		return
	}
	if rp.Policy == visits.RecordNever || visits.Privileged(rp.Kind) {
		_ = s.Recording(room, nil)
		return
	}
	if rm.Resume(st) {
		if err := s.visits.RecordingEvent(ctx, room, "recording.resume", "recording="+st.ID+" node="+s.node(), audit.System); err != nil {
			s.log.Error("call: audit the recording's resumption", slog.String("visit", room), slog.String("error", err.Error()))
		}
	}
}
