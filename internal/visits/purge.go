package visits

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
)

// SetLegalHold puts a visit's recordings under legal hold, or lifts it;
// with visitID "" it is the whole case's. Held recordings are never purged.
// Audited.
func (s *Service) SetLegalHold(ctx context.Context, a cases.Actor, caseID, visitID string, hold bool, reason string) error {
	if reason == "" {
		return problem.Field("reason", "Say why (the proceedings or request).")
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		// The purge takes the same lock: a hold is never overtaken.
		if err := s.db.Lock(ctx, tx, "recordings.hold."+caseID); err != nil {
			return err
		}
		var res sql.Result
		var err error
		if visitID == "" {
			res, err = tx.ExecContext(ctx, `UPDATE cases SET legal_hold = $2 WHERE id = $1`, caseID, hold)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE visits SET legal_hold = $3 WHERE id = $1 AND case_id = $2`, visitID, caseID, hold)
		}
		if err != nil {
			return fmt.Errorf("legal hold: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.New(problem.NotFound, "No such visit.")
		}
		action := "recording.hold"
		if !hold {
			action = "recording.release"
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: action, ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("visit=%s: %s", visitID, reason)})
	})
}

// Purged is one recorded file the purge deleted.
type Purged struct {
	File   string
	SHA256 string
	CaseID string
}

// PurgeRecordings deletes the recorded files whose retention is over,
// unless their visit or case is under legal hold: remove deletes the file
// (a file already gone is fine), then its row goes, and the audit log keeps
// what was deleted. A file that cannot be deleted does not stop the others:
// it returns what it deleted, and the failures joined.
func (s *Service) PurgeRecordings(ctx context.Context, remove func(file string) error) ([]Purged, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT r.id, r.file, r.sha256, v.case_id FROM recordings r JOIN visits v ON v.id = r.visit_id JOIN cases c ON c.id = v.case_id
		WHERE r.purge_after <= $1 AND NOT v.legal_hold AND NOT c.legal_hold ORDER BY r.purge_after`, db.Instant(s.now()))
	if err != nil {
		return nil, fmt.Errorf("find recordings to purge: %w", err)
	}
	type due struct{ id, file, sha, caseID string }
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.file, &d.sha, &d.caseID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find recordings to purge: %w", err)
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var done []Purged
	var failed []error
	for _, d := range list {
		purged := false
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			if err := s.db.Lock(ctx, tx, "recordings.hold."+d.caseID); err != nil {
				return err
			}
			// Put under hold since it was found due? Then it stays.
			var held bool
			err := tx.QueryRowContext(ctx, `SELECT v.legal_hold OR c.legal_hold FROM recordings r JOIN visits v ON v.id = r.visit_id
				JOIN cases c ON c.id = v.case_id WHERE r.id = $1`, d.id).Scan(&held)
			if errors.Is(err, sql.ErrNoRows) || held {
				return nil
			}
			if err != nil {
				return fmt.Errorf("purge %s: %w", d.file, err)
			}
			if err := remove(d.file); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("purge %s: %w", d.file, err)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM recordings WHERE id = $1`, d.id); err != nil {
				return fmt.Errorf("purge %s: %w", d.file, err)
			}
			purged = true
			return s.audit.Append(ctx, tx, audit.Entry{Actor: audit.System, Action: "recording.purge", ObjectType: "case", ObjectID: d.caseID,
				Detail: fmt.Sprintf("file=%s sha256=%s", d.file, d.sha)})
		})
		if err != nil {
			failed = append(failed, err)
			continue
		}
		if purged {
			done = append(done, Purged{File: d.file, SHA256: d.sha, CaseID: d.caseID})
		}
	}
	return done, errors.Join(failed...)
}
