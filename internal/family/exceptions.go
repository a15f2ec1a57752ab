package family

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
)

// An Exception lets a category of information go to a contact without the
// detainee's consent, for one of the reasons the privacy policy defines
// (ExceptionReasons). A supervisor of the case authorises it, with a
// justification, for a few days at most; anyone who may change the case can
// end it sooner. It never overrides the detainee's own "no": a category
// whose consent the detainee withdrew for that contact stays withheld.
// Messages are the detainee's own words and are never covered.
type Exception struct {
	ID            string     `json:"id"`
	CaseID        string     `json:"case_id"`
	ContactID     string     `json:"contact_id"`
	ContactName   string     `json:"contact_name"`
	Categories    []Category `json:"categories"`
	Reason        string     `json:"reason"` // ExceptionReasons
	Justification string     `json:"justification"`
	AuthorisedBy  string     `json:"authorised_by"`
	Authorised    time.Time  `json:"authorised"`
	Expires       time.Time  `json:"expires"`
	Ended         time.Time  `json:"ended,omitzero"`
	EndedBy       string     `json:"ended_by,omitempty"`
	EndNote       string     `json:"end_note,omitempty"`
	// State is ExceptionActive, ExceptionVoid, ExceptionEnded,
	// ExceptionExpired or ExceptionLapsed, as of when it was read.
	State string `json:"state"`
	// Allows are the categories it lets through now (active only): those
	// it covers but for any the detainee has since withdrawn.
	Allows []Category `json:"allows,omitempty"`
}

// The states of an exception.
const (
	ExceptionActive  = "active"
	ExceptionEnded   = "ended"   // ended by someone of the case team
	ExceptionExpired = "expired" // its time ran out
	ExceptionLapsed  = "lapsed"  // not_yet_met, and the detainee has since been in contact
	// ExceptionVoid is an exception still in time that lets nothing
	// through: its contact was archived, or the detainee withdrew consent
	// for everything it covers.
	ExceptionVoid = "void"
)

// ExceptionReasons are the reasons for a disclosure without consent.
var ExceptionReasons = cases.Vocab{
	{Code: "not_yet_met", Label: "The detainee has not yet been able to speak with a consular officer, so could not be asked"},
	{Code: "incapacity", Label: "The detainee cannot give or refuse consent (illness, injury, mental state), and disclosure is in their interest"},
	{Code: "risk_to_life", Label: "A risk to the life, health or safety of the detainee or of another person"},
}

// ExceptionCategories are the categories an exception may cover.
var ExceptionCategories = []Category{Visits, Location, Health, Legal}

// MaxExceptionDays is the longest an exception may last.
const MaxExceptionDays = 30

// ExceptionInput is what a supervisor authorises.
type ExceptionInput struct {
	ContactID     string
	Categories    []Category
	Reason        string
	Justification string
	Days          int // 1 to MaxExceptionDays
}

// AuthorizeException records a disclosure without consent. The user must
// be a supervisor of the case (auth.AuthorizeDisclosure on it). It is
// refused for a category the detainee consented to already (no exception
// is needed), or whose consent they withdrew for that contact (their "no"
// stands), and with reason not_yet_met once the case has a consular
// contact (ask the detainee).
func (s *Service) AuthorizeException(ctx context.Context, a cases.Actor, caseID string, in ExceptionInput) (*Exception, error) {
	f := problem.Fields{}
	in.ContactID, in.Reason, in.Justification = clean(in.ContactID), clean(in.Reason), clean(in.Justification)
	if len(in.Categories) == 0 {
		f.Add("categories", "Choose what may be shared.")
	}
	cats := normCategories(f, "categories", in.Categories)
	if slices.Contains(cats, Messages) {
		f.Add("categories", "Messages are the detainee's own: they are exchanged only with the detainee's consent.")
	}
	if !ExceptionReasons.Has(in.Reason) {
		f.Add("reason", "Choose the reason from the list.")
	}
	checkText(f, "justification", in.Justification, true, 2000, true, "Say why the family must be told without the detainee's consent.")
	if in.Justification != "" && len([]rune(in.Justification)) < 20 {
		f.Add("justification", "Say why in a sentence or two: the justification is what the file keeps of this decision.")
	}
	if in.Days < 1 || in.Days > MaxExceptionDays {
		f.Addf("days", "Give a number of days from 1 to %d.", MaxExceptionDays)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	e := &Exception{ID: db.NewID(), CaseID: caseID, ContactID: in.ContactID, Categories: cats, Reason: in.Reason, Justification: in.Justification,
		AuthorisedBy: a.User.DisplayName, Authorised: now, Expires: now.Add(time.Duration(in.Days) * 24 * time.Hour), State: ExceptionActive}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.ReadCase, caseID); err != nil {
			return err
		}
		scope, err := s.cases.Scope(ctx, tx, caseID)
		if err != nil {
			return err
		}
		if !s.policy.Can(a.User, auth.AuthorizeDisclosure, scope) {
			return problem.New(problem.Forbidden, "Only a supervisor of this case may authorise a disclosure without consent.")
		}
		if err := s.lockCase(ctx, tx, caseID); err != nil {
			return err
		}
		ct, err := contact(ctx, tx, caseID, in.ContactID)
		switch {
		case problem.Is(err, problem.NotFound) || (err == nil && !ct.Archived.IsZero()):
			f.Add("contact_id", "Choose a contact of this case that is not archived.")
		case err != nil:
			return err
		default:
			e.ContactName = ct.Name
			ds, err := s.consentDecisions(ctx, tx, caseID, ct)
			if err != nil {
				return err
			}
			for _, c := range cats {
				switch d := ds[c]; {
				case d.Allowed:
					f.Addf("categories", "The detainee has consented to share %s with %s already: no exception is needed.", c.phrase(), ct.Name)
				case d.ConsentID != "":
					f.Addf("categories", "%s An exception does not override the detainee's refusal.", d.Reason)
				}
			}
		}
		if e.ContactName != "" {
			list, err := exceptions(ctx, tx, caseID, now)
			if err != nil {
				return err
			}
			for _, x := range list {
				if x.ContactID != e.ContactID || x.State != ExceptionActive {
					continue
				}
				for _, c := range cats {
					if slices.Contains(x.Categories, c) {
						f.Addf("categories", "An exception authorised on %s covers %s for %s until %s already: end it first to authorise another.",
							x.Authorised.Format("2006-01-02"), c.phrase(), e.ContactName, x.Expires.Format("2006-01-02 15:04 MST"))
					}
				}
			}
		}
		if in.Reason == "not_yet_met" {
			met, err := hadContact(ctx, tx, caseID)
			if err != nil {
				return err
			}
			if met {
				f.Add("reason", "The detainee has been in contact with the consulate: ask them for their consent.")
			}
		}
		if err := f.Err(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO family_disclosure_exceptions (id, case_id, contact_id, categories, reason, justification,
			authorised_by, authorised_by_name, authorised_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			e.ID, caseID, e.ContactID, joinCategories(cats), e.Reason, e.Justification, a.User.ID, a.User.DisplayName,
			db.Instant(now), db.Instant(e.Expires)); err != nil {
			return fmt.Errorf("record exception: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.exception_authorise", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("exception=%s contact=%s categories=%s reason=%s days=%d", e.ID, e.ContactID, categoryList(cats), e.Reason, in.Days)})
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// EndException ends an exception before it expires: from then on the
// categories it covered are withheld again, unless the detainee consents.
// Anyone who may change the case may end one (it only narrows what is
// shared). note says why; it may be empty.
func (s *Service) EndException(ctx context.Context, a cases.Actor, caseID, exceptionID, note string) error {
	f := problem.Fields{}
	note = clean(note)
	checkText(f, "note", note, false, 1000, false, "")
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		if err := f.Err(); err != nil {
			return err
		}
		list, err := exceptions(ctx, tx, caseID, s.now())
		if err != nil {
			return err
		}
		i := slices.IndexFunc(list, func(e Exception) bool { return e.ID == exceptionID })
		if i < 0 {
			return problem.New(problem.NotFound, "No such exception in this case.")
		}
		if st := list[i].State; st != ExceptionActive {
			return problem.New(problem.Conflict, "This exception no longer counts (%s).", st)
		}
		res, err := tx.ExecContext(ctx, `UPDATE family_disclosure_exceptions SET ended_at = $3, ended_by = $4, ended_by_name = $5, end_note = $6
			WHERE id = $1 AND case_id = $2 AND ended_at IS NULL`, exceptionID, caseID, db.Instant(s.now()), a.User.ID, a.User.DisplayName, note)
		if err != nil {
			return fmt.Errorf("end exception: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return problem.New(problem.Conflict, "This exception was ended meanwhile.")
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.exception_end", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("exception=%s contact=%s", exceptionID, list[i].ContactID)})
	})
}

// hadContact reports whether the case has any consular contact recorded.
func hadContact(ctx context.Context, q db.Querier, caseID string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM consular_contacts WHERE case_id = $1`, caseID).Scan(&n); err != nil {
		return false, fmt.Errorf("read consular contacts: %w", err)
	}
	return n > 0, nil
}

// exceptions reads a case's exceptions, newest first, with their state
// at now.
func exceptions(ctx context.Context, q db.Querier, caseID string, now time.Time) ([]Exception, error) {
	rows, err := q.QueryContext(ctx, `SELECT e.id, e.contact_id, k.name, e.categories, e.reason, e.justification, e.authorised_by_name, e.authorised_at,
		e.expires_at, e.ended_at, e.ended_by_name, e.end_note FROM family_disclosure_exceptions e JOIN family_contacts k ON k.id = e.contact_id
		WHERE e.case_id = $1 ORDER BY e.authorised_at DESC, e.id DESC`, caseID)
	if err != nil {
		return nil, fmt.Errorf("list exceptions: %w", err)
	}
	var out []Exception
	for rows.Next() {
		e := Exception{CaseID: caseID}
		var cats string
		var authorised, expires int64
		var ended sql.NullInt64
		if err := rows.Scan(&e.ID, &e.ContactID, &e.ContactName, &cats, &e.Reason, &e.Justification, &e.AuthorisedBy, &authorised,
			&expires, &ended, &e.EndedBy, &e.EndNote); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list exceptions: %w", err)
		}
		e.Categories, e.Authorised, e.Expires, e.Ended = splitCategories(cats), db.Time(authorised), db.Time(expires), db.NullTime(ended)
		out = append(out, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list exceptions: %w", err)
	}
	var met, asked bool
	for i := range out {
		e := &out[i]
		switch {
		case !e.Ended.IsZero():
			e.State = ExceptionEnded
		case !now.Before(e.Expires):
			e.State = ExceptionExpired
		case e.Reason == "not_yet_met":
			if !asked {
				if met, err = hadContact(ctx, q, caseID); err != nil {
					return nil, err
				}
				asked = true
			}
			e.State = ExceptionActive
			if met {
				e.State = ExceptionLapsed
			}
		default:
			e.State = ExceptionActive
		}
	}
	return out, nil
}

// Exceptions lists a case's disclosures without consent, newest first,
// with their state now, for the case team.
func (s *Service) Exceptions(ctx context.Context, a cases.Actor, caseID string) ([]Exception, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.ReadCase, caseID); err != nil {
		return nil, err
	}
	out, err := s.withEffect(ctx, caseID)
	if err != nil {
		return nil, err
	}
	return out, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "case.family_exceptions_view", ObjectType: "case", ObjectID: caseID,
		Detail: fmt.Sprintf("exceptions=%d", len(out))})
}

// withEffect reads a case's exceptions and what each active one lets
// through now: an active one that lets nothing through is void.
func (s *Service) withEffect(ctx context.Context, caseID string) ([]Exception, error) {
	list, err := exceptions(ctx, s.db, caseID, s.now())
	if err != nil {
		return nil, err
	}
	decided := map[string]map[Category]Decision{}
	for i := range list {
		e := &list[i]
		if e.State != ExceptionActive {
			continue
		}
		ds, ok := decided[e.ContactID]
		if !ok {
			if ds, err = s.decide(ctx, s.db, caseID, e.ContactID); err != nil {
				return nil, err
			}
			decided[e.ContactID] = ds
		}
		for _, c := range e.Categories {
			if ds[c].ExceptionID == e.ID {
				e.Allows = append(e.Allows, c)
			}
		}
		if len(e.Allows) == 0 {
			e.State = ExceptionVoid
		}
	}
	return list, nil
}
