package family

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

// Summary is an update an officer wrote for the family, with the
// categories of information it touches.
type Summary struct {
	ID     string `json:"id"`
	CaseID string `json:"case_id"`
	// ContactID is the contact it is for; "" for every contact of the case.
	ContactID  string     `json:"contact_id,omitempty"`
	Categories []Category `json:"categories"`
	Text       string     `json:"text"`
	VisitID    string     `json:"visit_id,omitempty"`
	WrittenBy  string     `json:"written_by"`
	Written    time.Time  `json:"written"`
	// Reaches lists the contacts whose consent covered every category when
	// it was written (when read back: now).
	Reaches []Recipient `json:"reaches"`
}

// SummaryInput is what an officer writes for the family.
type SummaryInput struct {
	ContactID  string // "" for every contact of the case
	Categories []Category
	Text       string
	VisitID    string // the visit it reports on, if any
}

// WriteSummary writes an update for one contact, or for every contact of
// the case. It must name the categories it touches (at least one). For one
// contact whose consent does not cover them all, it is refused with the
// reason; for every contact, it is refused when it would reach no one, and
// otherwise reaches those whose consent covers it (checked again each time
// it is shown). Contacts with an account are told something new waits.
func (s *Service) WriteSummary(ctx context.Context, a cases.Actor, caseID string, in SummaryInput) (*Summary, error) {
	f := problem.Fields{}
	text, terr := s.checkBody(in.Text)
	if terr != nil {
		f.Merge(terr)
	}
	if len(in.Categories) == 0 {
		f.Add("categories", "Name the categories of information the summary touches (e.g. health, legal).")
	}
	cats := normCategories(f, "categories", in.Categories)
	in.ContactID, in.VisitID = clean(in.ContactID), clean(in.VisitID)
	now := s.now().UTC().Truncate(time.Microsecond)
	sm := &Summary{ID: db.NewID(), CaseID: caseID, ContactID: in.ContactID, Categories: cats, Text: text, VisitID: in.VisitID,
		WrittenBy: a.User.DisplayName, Written: now}
	var refused error
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		if err := s.lockCase(ctx, tx, caseID); err != nil {
			return err
		}
		var targets []*Contact
		if in.ContactID != "" {
			ct, err := contact(ctx, tx, caseID, in.ContactID)
			if problem.Is(err, problem.NotFound) || (err == nil && !ct.Archived.IsZero()) {
				f.Add("contact_id", "Choose a contact of this case that is not archived.")
			} else if err != nil {
				return err
			} else {
				targets = append(targets, ct)
			}
		} else {
			var err error
			if targets, err = activeContacts(ctx, tx, caseID); err != nil {
				return err
			}
		}
		if err := checkVisit(ctx, tx, f, "visit_id", caseID, in.VisitID); err != nil {
			return err
		}
		if err := f.Err(); err != nil {
			return err
		}
		var reasons problem.Sentences
		var reached []string
		for _, ct := range targets {
			ds, err := s.decide(ctx, tx, caseID, ct.ID)
			if err != nil {
				return err
			}
			if coversAll(ds, cats) {
				sm.Reaches = append(sm.Reaches, Recipient{ContactID: ct.ID, Name: ct.Name})
				reached = append(reached, ct.ID+"["+bases(ds, cats)+"]")
				continue
			}
			for _, c := range cats {
				if r := ds[c].Reason; !ds[c].Allowed && !slices.ContainsFunc(reasons, func(o problem.Text) bool { return o.String() == r.String() }) {
					reasons = append(reasons, r)
				}
			}
		}
		if len(sm.Reaches) == 0 {
			if len(targets) == 0 {
				reasons = append(reasons, problem.Textf("The case has no contacts."))
			}
			refused = problem.New(problem.Forbidden, "%s", reasons)
			return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.summary_refused", ObjectType: "case", ObjectID: caseID,
				Detail: fmt.Sprintf("contact=%s categories=%s: %s", orAll(in.ContactID), categoryList(cats), refused.(*problem.Error).Message)})
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO family_summaries (id, case_id, contact_id, categories, body, visit_id, written_by, written_by_name, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, sm.ID, caseID, nullStr(in.ContactID), joinCategories(cats), text, nullStr(in.VisitID),
			a.User.ID, a.User.DisplayName, db.Instant(now)); err != nil {
			return fmt.Errorf("write summary: %w", err)
		}
		for _, r := range sm.Reaches {
			if err := s.tellFamily(ctx, tx, r.ContactID, "family-summary:"+sm.ID+":"+r.ContactID, "A new update from the consulate",
				"There is a new update for you on the consulate's family pages."); err != nil {
				return err
			}
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.summary_write", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("summary=%s contact=%s categories=%s reaches=%s", sm.ID, orAll(in.ContactID), categoryList(cats), strings.Join(reached, ","))})
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	return sm, nil
}

func orAll(contactID string) string {
	if contactID == "" {
		return "all"
	}
	return contactID
}

func activeContacts(ctx context.Context, q db.Querier, caseID string) ([]*Contact, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+contactColumns+` FROM family_contacts WHERE case_id = $1 AND archived_at IS NULL ORDER BY name, id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("read contacts: %w", err)
	}
	defer rows.Close()
	var out []*Contact
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, fmt.Errorf("read contacts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Summaries lists the updates written for a case's family, newest first,
// each with the contacts it reaches now.
func (s *Service) Summaries(ctx context.Context, a cases.Actor, caseID string) ([]Summary, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.ReadCase, caseID); err != nil {
		return nil, err
	}
	out, err := s.listSummaries(ctx, caseID)
	if err != nil {
		return nil, err
	}
	return out, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "case.family_summaries_view", ObjectType: "case", ObjectID: caseID,
		Detail: fmt.Sprintf("summaries=%d", len(out))})
}

func (s *Service) listSummaries(ctx context.Context, caseID string) ([]Summary, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, COALESCE(contact_id, ''), categories, body, COALESCE(visit_id, ''), written_by_name, created_at
		FROM family_summaries WHERE case_id = $1 ORDER BY created_at DESC, id DESC`, caseID)
	if err != nil {
		return nil, fmt.Errorf("list summaries: %w", err)
	}
	var out []Summary
	for rows.Next() {
		sm := Summary{CaseID: caseID}
		var cats string
		var at int64
		if err := rows.Scan(&sm.ID, &sm.ContactID, &cats, &sm.Text, &sm.VisitID, &sm.WrittenBy, &at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list summaries: %w", err)
		}
		sm.Categories, sm.Written = splitCategories(cats), db.Time(at)
		out = append(out, sm)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list summaries: %w", err)
	}
	contacts, err := activeContacts(ctx, s.db, caseID)
	if err != nil {
		return nil, err
	}
	decisions := map[string]map[Category]Decision{}
	for _, c := range contacts {
		if decisions[c.ID], err = s.decide(ctx, s.db, caseID, c.ID); err != nil {
			return nil, err
		}
	}
	for i := range out {
		for _, c := range contacts {
			if (out[i].ContactID == "" || out[i].ContactID == c.ID) && coversAll(decisions[c.ID], out[i].Categories) {
				out[i].Reaches = append(out[i].Reaches, Recipient{ContactID: c.ID, Name: c.Name})
			}
		}
	}
	return out, nil
}
