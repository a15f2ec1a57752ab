package reports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/notify"
	"github.com/attache-org/attache/internal/problem"
)

// Escalation is a flag a report raised, and its acknowledgement by a
// supervisor.
type Escalation struct {
	ID               string
	ReportID         string
	CaseID           string
	VisitID          string
	Reference        string // the case's
	Flag             string // Vocab.Flags
	Label            string
	RaisedAt         time.Time
	RaisedBy         string // the name of the user whose save raised it
	AcknowledgedAt   time.Time
	AcknowledgedBy   string // user id
	AcknowledgerName string
	Note             string
}

// personFlags are the flags the detainee and the case raise whatever the
// report says: a minor or someone over 65 at the time of the visit (from
// the date of birth, or the vulnerabilities recorded), a high-profile case.
//
// A date of birth known only to a year or a month counts as a minor if the
// youngest birthday it allows is under 18 at the visit, and as over 65 if
// the oldest is 65 or more: an escalation that turns out unnecessary costs
// a supervisor a minute, one missed can cost a child its protection.
func personFlags(birthEarliest, birthLatest sql.NullInt64, vulnerabilities string, highProfile bool, visit time.Time) []string {
	var out []string
	vulns := strings.Fields(vulnerabilities)
	if slices.Contains(vulns, FlagMinor) ||
		(birthLatest.Valid && visit.Before(db.Time(birthLatest.Int64).Truncate(24*time.Hour).AddDate(18, 0, 0))) {
		out = append(out, FlagMinor)
	}
	if slices.Contains(vulns, FlagOver65) || (birthEarliest.Valid && !visit.Before(db.Time(birthEarliest.Int64).AddDate(65, 0, 0))) {
		out = append(out, FlagOver65)
	}
	if highProfile {
		out = append(out, FlagHighProfile)
	}
	return out
}

// escalate records each flag the report raises that it had not raised
// before and, in the same transaction, tells every supervisor and HQ
// officer who may see the case, once: a flag raised again (the report saved
// ten times) inserts nothing and sends nothing. A flag the officer later
// clears stays raised until a supervisor acknowledges it.
func (s *Service) escalate(ctx context.Context, tx *sql.Tx, a cases.Actor, reportID string, b Body) error {
	var caseID, visitID, ref, vulns string
	var highProfile bool
	var earliest, latest sql.NullInt64
	var starts int64
	err := tx.QueryRowContext(ctx, `SELECT r.case_id, r.visit_id, c.reference, c.high_profile, p.birth_earliest, p.birth_latest, p.vulnerabilities, v.starts
		FROM reports r JOIN cases c ON c.id = r.case_id JOIN people p ON p.id = c.person_id JOIN visits v ON v.id = r.visit_id
		WHERE r.id = $1`, reportID).Scan(&caseID, &visitID, &ref, &highProfile, &earliest, &latest, &vulns, &starts)
	if err != nil {
		return fmt.Errorf("read report for escalations: %w", err)
	}
	flags := append(b.flags(), personFlags(earliest, latest, vulns, highProfile, db.Time(starts))...)
	var recipients []notify.Recipient
	loaded := false
	for _, flag := range flags {
		var id string
		err := tx.QueryRowContext(ctx, `INSERT INTO report_escalations (id, report_id, case_id, flag, raised_at, raised_by)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (report_id, flag) DO NOTHING RETURNING id`,
			db.NewID(), reportID, caseID, flag, db.Instant(s.now()), a.User.DisplayName).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			continue // raised before
		}
		if err != nil {
			return fmt.Errorf("raise escalation: %w", err)
		}
		if err := s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "report.escalate", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("report=%s escalation=%s flag=%s", reportID, id, flag)}); err != nil {
			return err
		}
		if s.sender == nil {
			continue
		}
		if !loaded {
			scope, err := s.cases.Scope(ctx, tx, caseID)
			if err != nil {
				return err
			}
			if recipients, err = notify.Recipients(ctx, tx, scope, auth.RoleSupervisor, auth.RoleHQOfficer); err != nil {
				return err
			}
			loaded = true
		}
		for _, p := range recipients {
			// The mail names the case by its reference, nothing more:
			// mail leaves need-to-know, and even the kind of escalation
			// (a minor, mistreatment, a health emergency) is case data.
			w := s.opts.Catalog.In(p.Lang)
			if err := s.send(ctx, tx, notify.Mail{Kind: notify.Escalation, UserID: p.UserID, To: p.Email, Name: p.Name,
				Subject: w.T("Escalation on case %s", ref),
				Text: w.T("A visit report in case %s raises an escalation that needs a supervisor now.", ref) + "\n\n" +
					w.T("Open the report: %s", s.link(caseID, visitID)) + "\n\n" +
					w.T("This notice carries no detail of the case; sign in to read the report and acknowledge the escalation.") + "\n",
				Key: "escalation:" + reportID + ":" + flag + ":" + p.UserID}); err != nil {
				return err
			}
		}
	}
	return nil
}

// escalations lists the escalations matching cond (on report_escalations
// e, reports r, cases c).
func escalations(ctx context.Context, q db.Querier, cond string, args ...any) ([]Escalation, error) {
	rows, err := q.QueryContext(ctx, `SELECT e.id, e.report_id, e.case_id, r.visit_id, c.reference, e.flag, e.raised_at, e.raised_by,
		e.acknowledged_at, COALESCE(e.acknowledged_by, ''), COALESCE(u.display_name, ''), e.ack_note
		FROM report_escalations e JOIN reports r ON r.id = e.report_id JOIN cases c ON c.id = e.case_id
		LEFT JOIN users u ON u.id = e.acknowledged_by WHERE `+cond+` ORDER BY e.raised_at, e.flag, e.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list escalations: %w", err)
	}
	defer rows.Close()
	var out []Escalation
	for rows.Next() {
		var e Escalation
		var raised int64
		var acked sql.NullInt64
		if err := rows.Scan(&e.ID, &e.ReportID, &e.CaseID, &e.VisitID, &e.Reference, &e.Flag, &raised, &e.RaisedBy,
			&acked, &e.AcknowledgedBy, &e.AcknowledgerName, &e.Note); err != nil {
			return nil, fmt.Errorf("list escalations: %w", err)
		}
		e.Label = Vocab.Flags.Label(e.Flag)
		e.RaisedAt, e.AcknowledgedAt = db.Time(raised), db.NullTime(acked)
		out = append(out, e)
	}
	return out, rows.Err()
}

// OpenEscalations lists the escalations not yet acknowledged in the cases
// the user may see, oldest first, for the dashboard. A user who sees no
// case gets an empty list.
func (s *Service) OpenEscalations(ctx context.Context, a cases.Actor) ([]Escalation, error) {
	v := s.policy.Visibility(a.User, auth.ReadCase)
	if v.None {
		return nil, nil
	}
	cond, args := cases.VisibleSQL(v, "c", 1)
	out, err := escalations(ctx, s.db, `e.acknowledged_at IS NULL AND `+cond, args...)
	if err != nil {
		return nil, err
	}
	return out, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "report.escalations_view", ObjectType: "case",
		Detail: fmt.Sprintf("escalations=%d", len(out))})
}

var errNoEscalation = problem.New(problem.NotFound, "No such escalation, or it is not yours to see.")

// Acknowledge records that a supervisor (or administrator) with
// ApproveReport on the case has seen an escalation and acted on it, with an
// optional note. An escalation is acknowledged once.
func (s *Service) Acknowledge(ctx context.Context, a cases.Actor, escalationID, note string) error {
	note = strings.TrimSpace(note)
	f := problem.Fields{}
	checkText(f, "note", note, 2000)
	if err := f.Err(); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var caseID, flag string
		err := tx.QueryRowContext(ctx, `SELECT case_id, flag FROM report_escalations WHERE id = $1`, escalationID).Scan(&caseID, &flag)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoEscalation
		}
		if err != nil {
			return fmt.Errorf("read escalation: %w", err)
		}
		if err := s.cases.Authorize(ctx, tx, a.User, auth.ReadCase, caseID); err != nil {
			if problem.Is(err, problem.NotFound) {
				return errNoEscalation
			}
			return err
		}
		scope, err := s.cases.Scope(ctx, tx, caseID)
		if err != nil {
			return err
		}
		if !s.policy.Can(a.User, auth.ApproveReport, scope) {
			return problem.New(problem.Forbidden, "Only a supervisor of this case may acknowledge its escalations.")
		}
		res, err := tx.ExecContext(ctx, `UPDATE report_escalations SET acknowledged_at = $2, acknowledged_by = $3, ack_note = $4
			WHERE id = $1 AND acknowledged_at IS NULL`, escalationID, db.Instant(s.now()), a.User.ID, note)
		if err != nil {
			return fmt.Errorf("acknowledge escalation: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return problem.New(problem.Conflict, "This escalation was acknowledged already.")
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "report.escalation_ack", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("escalation=%s flag=%s", escalationID, flag)})
	})
}
