package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/names"
	"github.com/attache-org/attache/internal/problem"
)

// Break-glass: an administrator or an HQ case officer may open a case
// outside their need-to-know, by its reference, with a stated reason, for
// a few hours, to read it. Each opening is audited with its reason, shown
// on the case to everyone who reads it, and listed for auditors.

// MaxBreakGlass is the longest a break-glass opening lasts.
const MaxBreakGlass = 8 * time.Hour

var errNoBreakGlass = problem.New(problem.Forbidden, "Your role may not open cases outside your need-to-know.")

// BreakGlassInput is the form that opens a case by break-glass.
type BreakGlassInput struct {
	Reference string
	Reason    string
	Hours     int // 1 to 8
}

// BreakGlassEntry is one opening of a case by break-glass.
type BreakGlassEntry struct {
	ID        string
	CaseID    string
	Reference string
	UserID    string
	UserName  string
	Reason    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Active reports whether the opening still lets its user read the case.
func (e BreakGlassEntry) Active(now time.Time) bool { return now.Before(e.ExpiresAt) }

// BreakGlass opens the case with this reference to a.User, who may not
// read it otherwise, for in.Hours, and returns its id.
func (s *Service) BreakGlass(ctx context.Context, a Actor, in BreakGlassInput) (string, error) {
	if !s.policy.CanBreakGlass(a.User, &auth.Scope{}) {
		return "", errNoBreakGlass
	}
	f := problem.Fields{}
	in.Reason = clean(in.Reason)
	if len([]rune(in.Reason)) < 20 {
		f.Add("reason", "State the reason in a full sentence (at least 20 characters): it is shown to the case's team and to auditors.")
	}
	if len(in.Reason) > 1000 {
		f.Add("reason", "Use at most 1000 characters.")
	}
	if names.Misleading(in.Reason) {
		f.Add("reason", "The text has an invisible control character: type it again.")
	}
	if in.Hours < 1 || time.Duration(in.Hours)*time.Hour > MaxBreakGlass {
		f.Add("hours", "Choose from 1 to 8 hours.")
	}
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT id FROM cases WHERE reference = $1`, strings.ToUpper(clean(in.Reference))).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		f.Add("reference", "No case has this reference.")
	case err != nil:
		return "", fmt.Errorf("find case: %w", err)
	}
	if err := f.Err(); err != nil {
		return "", err
	}
	sc, err := s.scope(ctx, s.db, id)
	if err != nil {
		return "", err
	}
	if s.policy.Can(a.User, auth.ReadCase, sc) {
		return id, nil // nothing to break: the user may read it already
	}
	if !s.policy.CanBreakGlass(a.User, sc) {
		return "", errNoBreakGlass
	}
	now := s.now().UTC()
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO case_break_glass (id, case_id, user_id, reason, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			db.NewID(), id, a.User.ID, in.Reason, db.Instant(now), db.Instant(now.Add(time.Duration(in.Hours)*time.Hour))); err != nil {
			return fmt.Errorf("open case by break-glass: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.audit(), Action: "case.break_glass", ObjectType: "case", ObjectID: id,
			Reason: in.Reason, Detail: fmt.Sprintf("read access for %d h", in.Hours)})
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// breakGlassUsers lists who reads the case by break-glass now.
func (s *Service) breakGlassUsers(ctx context.Context, q db.Querier, caseID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT user_id FROM case_break_glass WHERE case_id = $1 AND expires_at > $2`, caseID, db.Instant(s.now()))
	if err != nil {
		return nil, fmt.Errorf("read break-glass access: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read break-glass access: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// CaseBreakGlass lists the break-glass openings of a case the user may
// read, newest first: the team sees who looked, when and why.
func (s *Service) CaseBreakGlass(ctx context.Context, a Actor, caseID string) ([]BreakGlassEntry, error) {
	if err := s.authorize(ctx, s.db, a.User, auth.ReadCase, caseID); err != nil {
		return nil, err
	}
	return s.breakGlassList(ctx, `WHERE g.case_id = $1`, caseID)
}

// BreakGlassLog lists every break-glass opening, newest first, for
// auditors (the route asks the policy whether the caller reads the audit
// log).
func (s *Service) BreakGlassLog(ctx context.Context) ([]BreakGlassEntry, error) {
	return s.breakGlassList(ctx, `WHERE $1 = ''`, "")
}

func (s *Service) breakGlassList(ctx context.Context, where string, arg any) ([]BreakGlassEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT g.id, g.case_id, c.reference, g.user_id, u.display_name, g.reason, g.created_at, g.expires_at
		FROM case_break_glass g JOIN cases c ON c.id = g.case_id JOIN users u ON u.id = g.user_id `+where+`
		ORDER BY g.created_at DESC LIMIT 500`, arg)
	if err != nil {
		return nil, fmt.Errorf("list break-glass access: %w", err)
	}
	defer rows.Close()
	out := []BreakGlassEntry{}
	for rows.Next() {
		var e BreakGlassEntry
		var c, x int64
		if err := rows.Scan(&e.ID, &e.CaseID, &e.Reference, &e.UserID, &e.UserName, &e.Reason, &c, &x); err != nil {
			return nil, fmt.Errorf("list break-glass access: %w", err)
		}
		e.CreatedAt, e.ExpiresAt = db.Time(c), db.Time(x)
		out = append(out, e)
	}
	return out, rows.Err()
}
