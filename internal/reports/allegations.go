package reports

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
)

// Raise is an allegation of mistreatment raised with the detaining state's
// authorities.
type Raise struct {
	ID         string
	RaisedAt   time.Time
	RaisedBy   string // user id
	RaisedName string
	With       string // the authority, and how
	Note       string
	// PermissionAt and PermissionHow are the detainee's permission as the
	// report recorded it when the allegation was raised.
	PermissionAt, PermissionHow string
}

// RaiseInput is what an officer records when raising an allegation.
type RaiseInput struct {
	With string // the authority, and how (note verbale, meeting)
	Note string
}

// RaiseAllegation records that the allegation of a report was raised with
// the detaining state's authorities. It is refused unless the report is
// approved (its text can no longer change) and records an allegation and
// the detainee's permission to raise it: raising mistreatment without it can
// put the detainee at risk, and the detainee decides. The permission's
// evidence (when, how) is kept with the record.
func (s *Service) RaiseAllegation(ctx context.Context, a cases.Actor, caseID, visitID string, in RaiseInput) (*Raise, error) {
	in.With, in.Note = strings.TrimSpace(in.With), strings.TrimSpace(in.Note)
	f := problem.Fields{}
	if in.With == "" {
		f.Add("with", "Say with which authority the allegation was raised, and how.")
	}
	checkText(f, "with", in.With, shortText)
	checkText(f, "note", in.Note, longText)
	if err := f.Err(); err != nil {
		return nil, err
	}
	rs := &Raise{ID: db.NewID(), RaisedAt: s.now().UTC().Truncate(time.Microsecond), RaisedBy: a.User.ID, RaisedName: a.User.DisplayName,
		With: in.With, Note: in.Note}
	refused := "" // the refusal, audited once the transaction has rolled back
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		r, err := s.lockRow(ctx, tx, caseID, visitID)
		if err != nil {
			return err
		}
		b, err := r.decode()
		if err != nil {
			return err
		}
		switch {
		case r.state != Approved:
			return problem.New(problem.Conflict, "Only the allegation of an approved report is raised with the authorities; this report is “%s”.",
				problem.Textf(Vocab.States.Label(r.state)))
		case !b.Allegation.Alleged:
			return problem.New(problem.Conflict, "This report records no allegation of mistreatment.")
		case b.Allegation.Permission != "yes":
			refused = fmt.Sprintf("report=%s permission=%q", r.id, b.Allegation.Permission)
			return errNoPermission
		case slices.Contains(b.Wishes.Opposes, "raising_mistreatment"):
			// The report says both: the detainee's "no" stands.
			refused = fmt.Sprintf("report=%s opposes raising_mistreatment", r.id)
			return errNoPermission
		}
		// An amendment of the allegation or of the detainee's wishes may
		// correct the permission, in words no program should read as a
		// yes: the permission is then taken again and recorded in a later
		// report.
		var amended sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(created_at) FROM report_amendments WHERE report_id = $1 AND section IN ('allegation', 'wishes')`, r.id).
			Scan(&amended); err != nil {
			return fmt.Errorf("read amendments: %w", err)
		}
		if amended.Valid {
			refused = fmt.Sprintf("report=%s allegation or wishes amended", r.id)
			return problem.New(problem.Conflict, "The allegation or the detainee's wishes in this report were amended on %s: record the detainee's permission in the report of a later visit, and raise it from there.",
				db.Time(amended.Int64).Format("2006-01-02"))
		}
		rs.PermissionAt, rs.PermissionHow = b.Allegation.PermissionAt, b.Allegation.PermissionHow
		if _, err := tx.ExecContext(ctx, `INSERT INTO report_allegation_raises (id, report_id, case_id, raised_at, raised_by, raised_name, raised_with, note,
			permission_at, permission_how) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, rs.ID, r.id, caseID, db.Instant(rs.RaisedAt), rs.RaisedBy,
			rs.RaisedName, rs.With, rs.Note, rs.PermissionAt, rs.PermissionHow); err != nil {
			return fmt.Errorf("record raised allegation: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "report.allegation_raise", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("report=%s raise=%s with=%s", r.id, rs.ID, rs.With)})
	})
	if refused != "" {
		if aerr := s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "report.allegation_raise_refused",
			ObjectType: "case", ObjectID: caseID, Detail: refused}); aerr != nil {
			return nil, aerr
		}
	}
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// errNoPermission refuses to raise an allegation the detainee has not
// allowed to be raised.
var errNoPermission = problem.New(problem.Forbidden,
	"The detainee has not given permission to raise this allegation with the authorities. Record their permission in a report first.")

func raises(ctx context.Context, q db.Querier, reportID string) ([]Raise, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, raised_at, raised_by, raised_name, raised_with, note, permission_at, permission_how FROM report_allegation_raises
		WHERE report_id = $1 ORDER BY raised_at, id`, reportID)
	if err != nil {
		return nil, fmt.Errorf("read raised allegations: %w", err)
	}
	defer rows.Close()
	var out []Raise
	for rows.Next() {
		var r Raise
		var at int64
		if err := rows.Scan(&r.ID, &at, &r.RaisedBy, &r.RaisedName, &r.With, &r.Note, &r.PermissionAt, &r.PermissionHow); err != nil {
			return nil, fmt.Errorf("read raised allegations: %w", err)
		}
		r.RaisedAt = db.Time(at)
		out = append(out, r)
	}
	return out, rows.Err()
}
