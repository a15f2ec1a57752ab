package visits

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
)

// RecordedFile is one recorded track of a visit's call: one participant's
// audio or video from a start of the recording to its stop, in one
// encrypted file.
type RecordedFile struct {
	ID          string    `json:"id"`
	VisitID     string    `json:"visit_id"`
	Recording   string    `json:"recording"` // the files of one recording play together
	Participant string    `json:"participant"`
	Name        string    `json:"name"`
	Role        string    `json:"role"`
	Kind        string    `json:"kind"` // audio or video
	Codec       string    `json:"codec"`
	File        string    `json:"-"` // relative to the recordings directory
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	Frames      int       `json:"frames"`
	StartMS     int64     `json:"start_ms"`
	DurationMS  int64     `json:"duration_ms"`
	StartedAt   time.Time `json:"started_at"`
	ClosedAt    time.Time `json:"closed_at"`
	PurgeAfter  time.Time `json:"purge_after"` // the purge deletes it (file and row) after this
}

// CallPolicy returns a visit's case and the recording policy in force for it.
func (s *Service) CallPolicy(ctx context.Context, visitID string) (string, RecordingPolicy, error) {
	var caseID, post, kind string
	err := s.db.QueryRowContext(ctx, `SELECT v.case_id, c.post, v.kind FROM visits v JOIN cases c ON c.id = v.case_id WHERE v.id = $1`, visitID).
		Scan(&caseID, &post, &kind)
	if errors.Is(err, sql.ErrNoRows) {
		return "", RecordingPolicy{}, problem.New(problem.NotFound, "No such visit.")
	}
	if err != nil {
		return "", RecordingPolicy{}, fmt.Errorf("read visit: %w", err)
	}
	rp, err := s.PolicyFor(ctx, post, kind)
	return caseID, rp, err
}

// RecordingEvent audits a step of a visit's recording (start, stop,
// declined) by its actor.
func (s *Service) RecordingEvent(ctx context.Context, visitID, action, detail string, by audit.Actor) error {
	var caseID string
	if err := s.db.QueryRowContext(ctx, `SELECT case_id FROM visits WHERE id = $1`, visitID).Scan(&caseID); err != nil {
		return fmt.Errorf("read visit: %w", err)
	}
	return s.audit.Record(ctx, audit.Entry{Actor: by, Action: action, ObjectType: "case", ObjectID: caseID, Detail: "visit=" + visitID + " " + detail})
}

// SaveRecordedFile keeps a closed recording file, to be purged after the
// retention of the policy in force, and puts its SHA-256 in the audit log.
func (s *Service) SaveRecordedFile(ctx context.Context, f RecordedFile) error {
	caseID, rp, err := s.CallPolicy(ctx, f.VisitID)
	if err != nil {
		return err
	}
	f.ID = db.NewID()
	f.PurgeAfter = f.ClosedAt.AddDate(0, 0, rp.RetentionDays)
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO recordings (id, visit_id, recording, participant, name, role, kind, codec, file, size, sha256, frames,
			start_ms, duration_ms, started_at, closed_at, purge_after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			f.ID, f.VisitID, f.Recording, f.Participant, f.Name, f.Role, f.Kind, f.Codec, f.File, f.Size, f.SHA256, f.Frames, f.StartMS, f.DurationMS,
			db.Instant(f.StartedAt), db.Instant(f.ClosedAt), db.Instant(f.PurgeAfter)); err != nil {
			return fmt.Errorf("save recording file: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: audit.System, Action: "recording.file", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("visit=%s recording=%s file=%s sha256=%s size=%d participant=%s kind=%s", f.VisitID, f.Recording, f.File, f.SHA256, f.Size,
				f.Participant, f.Kind)})
	})
}

// recordingsOf reads the recorded files of a case's visits, by visit.
func (s *Service) recordingsOf(ctx context.Context, caseID string) (map[string][]RecordedFile, error) {
	list, err := s.recordedFiles(ctx, `v.case_id = $1 ORDER BY r.started_at, r.role, r.name, r.kind`, caseID)
	if err != nil {
		return nil, err
	}
	out := map[string][]RecordedFile{}
	for _, f := range list {
		out[f.VisitID] = append(out[f.VisitID], f)
	}
	return out, nil
}

// recordedFiles reads the recorded files that match where (a condition on
// r, the recordings, and v, their visits).
func (s *Service) recordedFiles(ctx context.Context, where string, args ...any) ([]RecordedFile, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT r.id, r.visit_id, r.recording, r.participant, r.name, r.role, r.kind, r.codec, r.file, r.size, r.sha256,
		r.frames, r.start_ms, r.duration_ms, r.started_at, r.closed_at, r.purge_after
		FROM recordings r JOIN visits v ON v.id = r.visit_id WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read recordings: %w", err)
	}
	defer rows.Close()
	var out []RecordedFile
	for rows.Next() {
		var f RecordedFile
		var started, closed, purge int64
		if err := rows.Scan(&f.ID, &f.VisitID, &f.Recording, &f.Participant, &f.Name, &f.Role, &f.Kind, &f.Codec, &f.File, &f.Size, &f.SHA256,
			&f.Frames, &f.StartMS, &f.DurationMS, &started, &closed, &purge); err != nil {
			return nil, fmt.Errorf("read recordings: %w", err)
		}
		f.StartedAt, f.ClosedAt, f.PurgeAfter = db.Time(started), db.Time(closed), db.Time(purge)
		out = append(out, f)
	}
	return out, rows.Err()
}

// RecordedSHA256 returns the SHA-256 recorded when a file was closed, found
// by its name (the last part of its path), for checking a copy of it.
func (s *Service) RecordedSHA256(ctx context.Context, name string) (string, error) {
	var sum string
	err := s.db.QueryRowContext(ctx, `SELECT sha256 FROM recordings WHERE file = $1 OR file LIKE $2`, name, "%/"+name).Scan(&sum)
	if errors.Is(err, sql.ErrNoRows) {
		return "", problem.New(problem.NotFound, "No recording of that name is known (purged, or from another server): give --sha256.")
	}
	if err != nil {
		return "", fmt.Errorf("read recording: %w", err)
	}
	return sum, nil
}

// RecordingFiles returns the files of one recording of a visit, for
// playing them together, to someone who may read the case; every playback
// is audited.
func (s *Service) RecordingFiles(ctx context.Context, a cases.Actor, caseID, visitID, rec string) ([]RecordedFile, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.ReadCase, caseID); err != nil {
		return nil, err
	}
	out, err := s.recordedFiles(ctx, `v.case_id = $1 AND r.visit_id = $2 AND r.recording = $3 ORDER BY r.role, r.name, r.kind`, caseID, visitID, rec)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, problem.New(problem.NotFound, "No such recording (it may have been purged).")
	}
	return out, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "recording.play", ObjectType: "case", ObjectID: caseID,
		Detail: "visit=" + visitID + " recording=" + rec})
}

// RecordedFileFor returns one recorded file of a visit to someone who may
// read the case. The caller audits what it does with it (stream, download).
func (s *Service) RecordedFileFor(ctx context.Context, a cases.Actor, caseID, visitID, fileID string) (RecordedFile, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.ReadCase, caseID); err != nil {
		return RecordedFile{}, err
	}
	// One row: the player asks for many ranges of a file.
	list, err := s.recordedFiles(ctx, `v.case_id = $1 AND r.visit_id = $2 AND r.id = $3`, caseID, visitID, fileID)
	if err != nil {
		return RecordedFile{}, err
	}
	if len(list) == 0 {
		return RecordedFile{}, problem.New(problem.NotFound, "No such recording (it may have been purged).")
	}
	return list[0], nil
}

// AuditRecordingAccess records that a recorded file was streamed or
// downloaded.
func (s *Service) AuditRecordingAccess(ctx context.Context, a cases.Actor, caseID string, f RecordedFile, action string) error {
	return s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: action, ObjectType: "case", ObjectID: caseID,
		Detail: fmt.Sprintf("visit=%s file=%s sha256=%s", f.VisitID, f.File, f.SHA256)})
}
