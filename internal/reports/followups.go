package reports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/edate"
	"github.com/attache-org/attache/internal/problem"
)

// FollowUp is something to do after a visit, by someone, by a day.
type FollowUp struct {
	ID          string
	ReportID    string
	CaseID      string
	VisitID     string
	Reference   string // the case's
	Description string
	OwnerID     string
	OwnerName   string
	// Due is the day (YYYY-MM-DD) local to the case's facility, UTC without
	// one; DueStarts and DueEnds are its first and its end instant.
	Due        string
	DueStarts  time.Time
	DueEnds    time.Time
	CreatedBy  string
	CreatedAt  time.Time
	DoneAt     time.Time // zero while open
	DoneBy     string    // user id
	DoneByName string
	// Overdue says the follow-up is open after its due day, when read.
	Overdue bool
}

// FollowUpInput is what a form gives for a follow-up.
type FollowUpInput struct {
	Description string
	OwnerID     string // an officer who may change the case
	Due         string // YYYY-MM-DD
}

// AddFollowUp adds a follow-up to the report of a visit, in whatever state
// the report is (follow-ups are work, not part of the approved text). The
// owner must be an active user who may change the case.
func (s *Service) AddFollowUp(ctx context.Context, a cases.Actor, caseID, visitID string, in FollowUpInput) (*FollowUp, error) {
	in.Description, in.OwnerID, in.Due = strings.TrimSpace(in.Description), strings.TrimSpace(in.OwnerID), strings.TrimSpace(in.Due)
	f := problem.Fields{}
	if in.Description == "" {
		f.Add("description", "Say what is to be done.")
	}
	checkText(f, "description", in.Description, 2000)
	if in.OwnerID == "" {
		f.Add("owner_id", "Choose who will do it.")
	}
	if in.Due == "" {
		f.Add("due", "Give the day it is due, as YYYY-MM-DD.")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	var fu *FollowUp
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		r, err := readRow(ctx, tx, caseID, visitID)
		if err != nil {
			return err
		}
		var zone, ref string
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(f.time_zone, ''), c.reference FROM cases c LEFT JOIN facilities f ON f.id = c.facility_id
			WHERE c.id = $1`, caseID).Scan(&zone, &ref); err != nil {
			return fmt.Errorf("read case zone: %w", err)
		}
		due, err := edate.Parse(in.Due, zone)
		switch {
		case err != nil:
			f.AddErr("due", err)
		case due.Precision != edate.Day || due.Approx:
			f.Add("due", "Give the day it is due, as YYYY-MM-DD.")
		case !due.Latest().After(s.now()):
			f.Add("due", "The due day is past.")
		}
		scope, err := s.cases.Scope(ctx, tx, caseID)
		if err != nil {
			return err
		}
		owner := &auth.User{ID: in.OwnerID}
		var role string
		err = tx.QueryRowContext(ctx, `SELECT display_name, role, post, desk, disabled FROM users WHERE id = $1`, in.OwnerID).
			Scan(&owner.DisplayName, &role, &owner.Post, &owner.Desk, &owner.Disabled)
		owner.Role = auth.Role(role)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !s.policy.Can(owner, auth.UpdateCase, scope)) {
			f.Add("owner_id", "Choose an active officer who works on this case.")
		} else if err != nil {
			return fmt.Errorf("read owner: %w", err)
		}
		if err := f.Err(); err != nil {
			return err
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		fu = &FollowUp{ID: db.NewID(), ReportID: r.id, CaseID: caseID, VisitID: visitID, Reference: ref, Description: in.Description,
			OwnerID: owner.ID, OwnerName: owner.DisplayName, Due: due.Value(), DueStarts: due.Earliest(), DueEnds: due.Latest().Add(time.Microsecond),
			CreatedBy: a.User.DisplayName, CreatedAt: now}
		if _, err := tx.ExecContext(ctx, `INSERT INTO report_follow_ups (id, report_id, case_id, description, owner_id, due, due_starts, due_ends, created_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, fu.ID, r.id, caseID, fu.Description, fu.OwnerID, fu.Due,
			db.Instant(fu.DueStarts), db.Instant(fu.DueEnds), fu.CreatedBy, db.Instant(now)); err != nil {
			return fmt.Errorf("add follow-up: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "report.followup_add", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("report=%s followup=%s owner=%s due=%s", r.id, fu.ID, fu.OwnerID, fu.Due)})
	})
	if err != nil {
		return nil, err
	}
	return fu, nil
}

// CompleteFollowUp marks a follow-up of the case done. A follow-up is done
// once: completing it again is a conflict.
func (s *Service) CompleteFollowUp(ctx context.Context, a cases.Actor, caseID, followUpID string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE report_follow_ups SET done_at = $3, done_by = $4 WHERE id = $1 AND case_id = $2 AND done_at IS NULL`,
			followUpID, caseID, db.Instant(s.now()), a.User.ID)
		if err != nil {
			return fmt.Errorf("complete follow-up: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			var done sql.NullInt64
			err := tx.QueryRowContext(ctx, `SELECT done_at FROM report_follow_ups WHERE id = $1 AND case_id = $2`, followUpID, caseID).Scan(&done)
			if errors.Is(err, sql.ErrNoRows) {
				return problem.New(problem.NotFound, "No such follow-up in this case.")
			}
			if err != nil {
				return fmt.Errorf("read follow-up: %w", err)
			}
			return problem.New(problem.Conflict, "This follow-up was marked done already, on %s.", db.NullTime(done).Format("2006-01-02 15:04 MST"))
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "report.followup_done", ObjectType: "case", ObjectID: caseID,
			Detail: "followup=" + followUpID})
	})
}

// followUps lists the follow-ups matching cond (on report_follow_ups f,
// cases c), by due day.
func (s *Service) followUps(ctx context.Context, q db.Querier, cond string, args ...any) ([]FollowUp, error) {
	rows, err := q.QueryContext(ctx, `SELECT f.id, f.report_id, f.case_id, r.visit_id, c.reference, f.description, f.owner_id, o.display_name,
		f.due, f.due_starts, f.due_ends, f.created_by, f.created_at, f.done_at, COALESCE(f.done_by, ''), COALESCE(d.display_name, '')
		FROM report_follow_ups f JOIN reports r ON r.id = f.report_id JOIN cases c ON c.id = f.case_id JOIN users o ON o.id = f.owner_id
		LEFT JOIN users d ON d.id = f.done_by WHERE `+cond+` ORDER BY f.due_starts, f.created_at, f.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list follow-ups: %w", err)
	}
	defer rows.Close()
	now := s.now()
	var out []FollowUp
	for rows.Next() {
		var fu FollowUp
		var starts, ends, created int64
		var done sql.NullInt64
		if err := rows.Scan(&fu.ID, &fu.ReportID, &fu.CaseID, &fu.VisitID, &fu.Reference, &fu.Description, &fu.OwnerID, &fu.OwnerName,
			&fu.Due, &starts, &ends, &fu.CreatedBy, &created, &done, &fu.DoneBy, &fu.DoneByName); err != nil {
			return nil, fmt.Errorf("list follow-ups: %w", err)
		}
		fu.DueStarts, fu.DueEnds, fu.CreatedAt, fu.DoneAt = db.Time(starts), db.Time(ends), db.Time(created), db.NullTime(done)
		fu.Overdue = !done.Valid && !now.Before(fu.DueEnds)
		out = append(out, fu)
	}
	return out, rows.Err()
}

// OpenFollowUps lists a case's follow-ups not yet done, soonest due first.
// The read is audited.
func (s *Service) OpenFollowUps(ctx context.Context, a cases.Actor, caseID string) ([]FollowUp, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.ReadCase, caseID); err != nil {
		return nil, err
	}
	out, err := s.followUps(ctx, s.db, `f.case_id = $1 AND f.done_at IS NULL`, caseID)
	if err != nil {
		return nil, err
	}
	return out, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "report.followups_view", ObjectType: "case", ObjectID: caseID,
		Detail: fmt.Sprintf("followups=%d", len(out))})
}

// DueFollowUps lists, for the dashboard, the open follow-ups whose due day
// has begun (due today or overdue), in the cases the user may see, soonest
// due first. A user who sees no case gets an empty list.
func (s *Service) DueFollowUps(ctx context.Context, a cases.Actor) ([]FollowUp, error) {
	v := s.policy.Visibility(a.User, auth.ReadCase)
	if v.None {
		return nil, nil
	}
	cond, args := cases.VisibleSQL(v, "c", 2)
	args = append([]any{db.Instant(s.now())}, args...)
	out, err := s.followUps(ctx, s.db, `f.done_at IS NULL AND f.due_starts <= $1 AND `+cond, args...)
	if err != nil {
		return nil, err
	}
	return out, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "report.followups_due_view", ObjectType: "case",
		Detail: fmt.Sprintf("followups=%d", len(out))})
}
