package calls

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"path/filepath"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/recording"
	"github.com/attache-org/attache/internal/visits"
)

// partOpened keeps that this node writes a recorded file.
func (s *Service) partOpened(part string, f visits.RecordedFile) error {
	ctx, cancel := context.WithTimeout(context.Background(), ledgerTimeout)
	defer cancel()
	_, err := s.db.ExecContext(ctx, `INSERT INTO recording_parts (file, visit_id, recording, participant, name, role, kind, started_at, node_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, part, f.VisitID, f.Recording, f.Participant, f.Name, f.Role, f.Kind, db.Instant(f.StartedAt), s.node())
	if err != nil {
		return fmt.Errorf("keep a file being written: %w", err)
	}
	return nil
}

// partClosed forgets a file once it is finished (or held nothing).
func (s *Service) partClosed(part string) {
	ctx, cancel := context.WithTimeout(context.Background(), ledgerTimeout)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM recording_parts WHERE file = $1`, part); err != nil {
		s.log.Error("recording: forget a finished file", slog.String("file", part), slog.String("error", err.Error()))
	}
}

// salvage finishes the recorded files that a node left being written when
// it died: this node's own (at start, before it records anything), or
// those of lost nodes whose live files this node reaches (a shared
// recordings directory). What was written up to the last complete cluster
// is kept with the visit like any finished file.
func (s *Service) salvage(ctx context.Context, own bool) {
	if s.recorder == nil {
		return
	}
	q := `SELECT file, visit_id, recording, participant, name, role, kind, started_at, node_id FROM recording_parts WHERE `
	args := []any{s.node()}
	if own {
		q += `node_id = $1`
	} else {
		q += `node_id <> $1 AND node_id IN (SELECT id FROM nodes WHERE stopped_at IS NOT NULL)`
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		s.log.Error("recording: read the files left being written", slog.String("error", err.Error()))
		return
	}
	type left struct {
		part, node string
		f          visits.RecordedFile
	}
	var parts []left
	for rows.Next() {
		var l left
		var started int64
		if err := rows.Scan(&l.part, &l.f.VisitID, &l.f.Recording, &l.f.Participant, &l.f.Name, &l.f.Role, &l.f.Kind, &started, &l.node); err != nil {
			rows.Close()
			s.log.Error("recording: read the files left being written", slog.String("error", err.Error()))
			return
		}
		l.f.StartedAt = db.Time(started)
		parts = append(parts, l)
	}
	rows.Close()
	for _, l := range parts {
		dir, name := path.Split(l.part)
		dir = filepath.Join(s.recorder.Dir, filepath.FromSlash(path.Clean(dir)))
		if !recording.Live(dir, name) {
			if own {
				s.partClosed(l.part) // finished before the stop, or never written
			}
			continue // on another node's disk
		}
		// Claimed first, so that two nodes do not finish the same file.
		res, err := s.db.ExecContext(ctx, `UPDATE recording_parts SET node_id = $3 WHERE file = $1 AND node_id = $2`, l.part, l.node, s.node())
		if err != nil {
			s.log.Error("recording: claim a file left being written", slog.String("file", l.part), slog.String("error", err.Error()))
			continue
		}
		if n, _ := res.RowsAffected(); n != 1 {
			continue
		}
		out, err := recording.Recover(dir, name, s.recorder.Keys)
		switch {
		case errors.Is(err, recording.ErrNoMedia):
			s.log.Info("recording: a file left being written held nothing", slog.String("file", l.part))
		case err != nil:
			s.log.Error("recording: finish a file left being written", slog.String("file", l.part), slog.String("error", err.Error()))
			continue // kept, claimed by this node: it tries again at its next start
		default:
			s.log.Warn("recording: finished a file its node left when it died", slog.String("file", l.part), slog.String("node", l.node),
				slog.Int("frames", out.Frames), slog.Duration("duration", out.Duration))
			s.recorder.keep(l.f, out)
		}
		s.partClosed(l.part)
	}
}
