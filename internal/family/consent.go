package family

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
	"github.com/attache-org/attache/internal/problem"
)

// Consent is one record of the detainee's consent to share categories of
// information with named contacts. It is never edited: it counts until it
// is withdrawn.
type Consent struct {
	ID         string      `json:"id"`
	CaseID     string      `json:"case_id"`
	Recipients []Recipient `json:"recipients"`
	Categories []Category  `json:"categories"`
	// Given is the day the detainee gave it (YYYY-MM-DD, local to the
	// facility); Method and MethodNote say how.
	Given      string      `json:"given"`
	Method     string      `json:"method"` // ConsentMethods
	MethodNote string      `json:"method_note,omitempty"`
	VisitID    string      `json:"visit_id,omitempty"`
	RecordedBy string      `json:"recorded_by"`
	Recorded   time.Time   `json:"recorded"`
	Withdrawal *Withdrawal `json:"withdrawal,omitempty"`
}

// Active reports whether the consent counts (it is not withdrawn).
func (c *Consent) Active() bool { return c.Withdrawal == nil }

// Recipient is a contact a consent names.
type Recipient struct {
	ContactID string `json:"contact_id"`
	Name      string `json:"name"`
}

// ConsentInput is what the officer records of a consent.
type ConsentInput struct {
	Recipients []string // contact ids of the case; at least one
	Categories []Category
	Given      string // YYYY-MM-DD
	Method     string // ConsentMethods
	MethodNote string // how, in words (required for "other")
	VisitID    string // the visit it was given at; required for verbal_visit
}

// Withdrawal is the detainee's withdrawal of a consent: the day they said
// so, how, and a note. Once recorded, the consent no longer counts.
type Withdrawal struct {
	Date       string    `json:"date"` // YYYY-MM-DD
	Method     string    `json:"method"`
	Note       string    `json:"note,omitempty"`
	VisitID    string    `json:"visit_id,omitempty"`
	RecordedBy string    `json:"recorded_by,omitempty"` // set when read back
	Recorded   time.Time `json:"recorded,omitzero"`
}

// Decision says whether a category may go to a contact, and why.
type Decision struct {
	Allowed bool
	// Reason says why not, in words fit for the officer and the family
	// member: "The detainee has not consented to share health information
	// with Meng Wanzhou." or "Consent withdrawn on 2026-05-01: …".
	Reason problem.Text
	// ConsentID is the consent that allows it, or the withdrawn one that
	// allowed it last.
	ConsentID string
	// ExceptionID is the disclosure without consent that allows it, when
	// no consent does.
	ExceptionID string
}

// Basis names what allows or last allowed the disclosure, for the audit
// log: "consent=<id>", "exception=<id>" or "consent=" for nothing.
func (d Decision) Basis() string {
	if d.ExceptionID != "" {
		return "exception=" + d.ExceptionID
	}
	return "consent=" + d.ConsentID
}

// RecordConsent records a consent of the detainee.
func (s *Service) RecordConsent(ctx context.Context, a cases.Actor, caseID string, in ConsentInput) (*Consent, error) {
	f := problem.Fields{}
	in.Method, in.MethodNote, in.VisitID = clean(in.Method), clean(in.MethodNote), clean(in.VisitID)
	if len(in.Categories) == 0 {
		f.Add("categories", "Choose at least one category. If the detainee wants nothing shared with anyone, withdraw their consents instead: without an active consent nothing is shared.")
	}
	cats := normCategories(f, "categories", in.Categories)
	checkMethod(f, "method", "method_note", "visit_id", in.Method, in.MethodNote, in.VisitID)
	var ids []string
	for _, id := range in.Recipients {
		if id = clean(id); id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		f.Add("recipients", "Choose at least one contact the detainee agrees to share with.")
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	c := &Consent{ID: db.NewID(), CaseID: caseID, Categories: cats, Method: in.Method, MethodNote: in.MethodNote, VisitID: in.VisitID,
		RecordedBy: a.User.DisplayName, Recorded: now}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		if err := s.lockCase(ctx, tx, caseID); err != nil {
			return err
		}
		zone, err := caseZone(ctx, tx, caseID)
		if err != nil {
			return err
		}
		given := parseDay(f, "given", in.Given, zone, now, "Give the day the detainee gave their consent.")
		for _, id := range ids {
			ct, err := contact(ctx, tx, caseID, id)
			if problem.Is(err, problem.NotFound) || (err == nil && !ct.Archived.IsZero()) {
				f.Add("recipients", "Choose contacts of this case that are not archived.")
				continue
			}
			if err != nil {
				return err
			}
			c.Recipients = append(c.Recipients, Recipient{ContactID: ct.ID, Name: ct.Name})
		}
		if err := checkVisit(ctx, tx, f, "visit_id", caseID, in.VisitID); err != nil {
			return err
		}
		if err := f.Err(); err != nil {
			return err
		}
		c.Given = given.Value()
		if _, err := tx.ExecContext(ctx, `INSERT INTO family_consents (id, case_id, categories, given, given_earliest, method, method_note, visit_id,
			recorded_by, recorded_by_name, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			c.ID, caseID, joinCategories(cats), c.Given, db.Instant(given.Earliest()), c.Method, c.MethodNote, nullStr(c.VisitID),
			a.User.ID, a.User.DisplayName, db.Instant(now)); err != nil {
			return fmt.Errorf("record consent: %w", err)
		}
		for _, r := range c.Recipients {
			if _, err := tx.ExecContext(ctx, `INSERT INTO family_consent_recipients (consent_id, contact_id) VALUES ($1, $2)`, c.ID, r.ContactID); err != nil {
				return fmt.Errorf("record consent recipient: %w", err)
			}
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.consent_record", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("consent=%s recipients=%s categories=%s given=%s method=%s visit=%s", c.ID, recipientIDs(c.Recipients),
				categoryList(cats), c.Given, c.Method, c.VisitID)})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func recipientIDs(rs []Recipient) string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ContactID
	}
	return strings.Join(ids, ",")
}

func checkMethod(f problem.Fields, field, noteField, visitField, method, note, visitID string) {
	switch {
	case !ConsentMethods.Has(method):
		f.Add(field, "Say how the detainee said so, from the list.")
	case method == "other" && note == "":
		f.Add(noteField, "Say in a few words how the detainee said so.")
	case method == "verbal_visit" && visitID == "":
		f.Add(visitField, "Choose the visit at which the detainee said so.")
	}
	checkText(f, noteField, note, false, 1000, true, "")
}

// WithdrawConsent records the detainee's withdrawal of one consent; from
// then on it no longer counts.
func (s *Service) WithdrawConsent(ctx context.Context, a cases.Actor, caseID, consentID string, w Withdrawal) error {
	_, err := s.withdraw(ctx, a, caseID, consentID, w)
	return err
}

// WithdrawAll withdraws every active consent of the case at once: how the
// detainee's wish that nothing be shared with anyone is recorded. It
// returns how many consents it withdrew (none is not an error).
func (s *Service) WithdrawAll(ctx context.Context, a cases.Actor, caseID string, w Withdrawal) (int, error) {
	return s.withdraw(ctx, a, caseID, "", w)
}

func (s *Service) withdraw(ctx context.Context, a cases.Actor, caseID, consentID string, w Withdrawal) (int, error) {
	f := problem.Fields{}
	w.Method, w.Note, w.VisitID = clean(w.Method), clean(w.Note), clean(w.VisitID)
	checkMethod(f, "method", "note", "visit_id", w.Method, w.Note, w.VisitID)
	var n int
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		if err := s.lockCase(ctx, tx, caseID); err != nil {
			return err
		}
		zone, err := caseZone(ctx, tx, caseID)
		if err != nil {
			return err
		}
		now := s.now()
		day := parseDay(f, "date", w.Date, zone, now, "Give the day the detainee withdrew their consent.")
		if err := checkVisit(ctx, tx, f, "visit_id", caseID, w.VisitID); err != nil {
			return err
		}
		cond, args := `case_id = $1 AND withdrawn_at IS NULL`, []any{caseID}
		if consentID != "" {
			var withdrawn string
			var at sql.NullInt64
			err := tx.QueryRowContext(ctx, `SELECT withdrawn, withdrawn_at FROM family_consents WHERE id = $1 AND case_id = $2`, consentID, caseID).Scan(&withdrawn, &at)
			if errors.Is(err, sql.ErrNoRows) {
				return problem.New(problem.NotFound, "No such consent in this case.")
			}
			if err != nil {
				return fmt.Errorf("read consent: %w", err)
			}
			if at.Valid {
				return problem.New(problem.Conflict, "This consent was withdrawn on %s already.", withdrawn)
			}
			cond, args = cond+` AND id = $2`, append(args, consentID)
		}
		if !day.IsZero() {
			var given string
			err := tx.QueryRowContext(ctx, `SELECT given FROM family_consents WHERE `+cond+` AND given_earliest > $`+fmt.Sprint(len(args)+1)+`
				ORDER BY given_earliest DESC LIMIT 1`, append(args, db.Instant(day.Earliest()))...).Scan(&given)
			if err == nil {
				f.Addf("date", "The consent was given on %s, after this day.", given)
			} else if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("read consent: %w", err)
			}
		}
		if err := f.Err(); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id FROM family_consents WHERE `+cond+` ORDER BY recorded_at, id`, args...)
		if err != nil {
			return fmt.Errorf("read consents: %w", err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("read consents: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read consents: %w", err)
		}
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE family_consents SET withdrawn = $2, withdrawn_earliest = $3, withdrawal_method = $4,
				withdrawal_note = $5, withdrawal_visit_id = $6, withdrawn_by = $7, withdrawn_by_name = $8, withdrawn_at = $9
				WHERE id = $1 AND withdrawn_at IS NULL`, id, day.Value(), db.Instant(day.Earliest()), w.Method, w.Note, nullStr(w.VisitID),
				a.User.ID, a.User.DisplayName, db.Instant(now)); err != nil {
				return fmt.Errorf("withdraw consent: %w", err)
			}
		}
		n = len(ids)
		action := "family.consent_withdraw"
		if consentID == "" {
			action = "family.consent_withdraw_all"
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: action, ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("consents=%s date=%s method=%s visit=%s", strings.Join(ids, ","), day.Value(), w.Method, w.VisitID)})
	})
	return n, err
}

// Consents lists a case's consent records, newest first, withdrawn ones
// included.
func (s *Service) Consents(ctx context.Context, a cases.Actor, caseID string) ([]Consent, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.ReadCase, caseID); err != nil {
		return nil, err
	}
	out, err := consents(ctx, s.db, caseID, "")
	if err != nil {
		return nil, err
	}
	return out, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "case.family_consents_view", ObjectType: "case", ObjectID: caseID,
		Detail: fmt.Sprintf("consents=%d", len(out))})
}

// consents reads the consents of a case, or those naming one contact,
// newest first.
func consents(ctx context.Context, q db.Querier, caseID, contactID string) ([]Consent, error) {
	cond, args := `c.case_id = $1`, []any{caseID}
	if contactID != "" {
		cond, args = cond+` AND c.id IN (SELECT consent_id FROM family_consent_recipients WHERE contact_id = $2)`, append(args, contactID)
	}
	rows, err := q.QueryContext(ctx, `SELECT c.id, c.categories, c.given, c.method, c.method_note, COALESCE(c.visit_id, ''), c.recorded_by_name, c.recorded_at,
		c.withdrawn, c.withdrawal_method, c.withdrawal_note, COALESCE(c.withdrawal_visit_id, ''), c.withdrawn_by_name, c.withdrawn_at
		FROM family_consents c WHERE `+cond+` ORDER BY c.recorded_at DESC, c.id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("list consents: %w", err)
	}
	var out []Consent
	for rows.Next() {
		c := Consent{CaseID: caseID}
		var cats string
		var recorded int64
		var w Withdrawal
		var withdrawnAt sql.NullInt64
		if err := rows.Scan(&c.ID, &cats, &c.Given, &c.Method, &c.MethodNote, &c.VisitID, &c.RecordedBy, &recorded,
			&w.Date, &w.Method, &w.Note, &w.VisitID, &w.RecordedBy, &withdrawnAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list consents: %w", err)
		}
		c.Categories, c.Recorded = splitCategories(cats), db.Time(recorded)
		if withdrawnAt.Valid {
			w.Recorded = db.Time(withdrawnAt.Int64)
			c.Withdrawal = &w
		}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list consents: %w", err)
	}
	for i := range out {
		rows, err := q.QueryContext(ctx, `SELECT r.contact_id, k.name FROM family_consent_recipients r JOIN family_contacts k ON k.id = r.contact_id
			WHERE r.consent_id = $1 ORDER BY k.name, k.id`, out[i].ID)
		if err != nil {
			return nil, fmt.Errorf("list consent recipients: %w", err)
		}
		for rows.Next() {
			var r Recipient
			if err := rows.Scan(&r.ContactID, &r.Name); err != nil {
				rows.Close()
				return nil, fmt.Errorf("list consent recipients: %w", err)
			}
			out[i].Recipients = append(out[i].Recipients, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("list consent recipients: %w", err)
		}
	}
	return out, nil
}

// Check decides whether category may be disclosed to a contact of a case:
// yes when an active consent names the contact and the category, or, where
// no consent decides, an active Exception covers them. Every
// disclosure outside the case team asks it (the family pages and messages
// here; any other sender of family updates). It reads through q (nil for
// the database), so it can run inside the caller's transaction; the caller
// audits the disclosure or the refusal. On a database error it refuses.
func (s *Service) Check(ctx context.Context, q db.Querier, caseID, contactID string, category Category) Decision {
	if q == nil {
		q = s.db
	}
	d, err := s.check(ctx, q, caseID, contactID, category)
	if err != nil {
		return Decision{Reason: problem.Textf("Consent could not be checked: nothing is shared. Try again.")}
	}
	return d
}

// check is Check with the database error, for callers here.
func (s *Service) check(ctx context.Context, q db.Querier, caseID, contactID string, category Category) (Decision, error) {
	if !category.Valid() {
		return Decision{Reason: problem.Textf("%q is not a category of information.", string(category))}, nil
	}
	ds, err := s.decide(ctx, q, caseID, contactID)
	if err != nil {
		return Decision{}, err
	}
	return ds[category], nil
}

// Allowed returns Check's decision for every category, for a contact of a
// case; an unknown contact is NotFound. Like Check, it audits nothing: the
// caller records what it disclosed or refused.
func (s *Service) Allowed(ctx context.Context, caseID, contactID string) (map[Category]Decision, error) {
	if _, err := contact(ctx, s.db, caseID, contactID); err != nil {
		return nil, err
	}
	return s.decide(ctx, s.db, caseID, contactID)
}

// decide is the disclosure rule, for every category at once: what an
// active consent allows, and where none does and the detainee withdrew
// none, what an active exception allows.
func (s *Service) decide(ctx context.Context, q db.Querier, caseID, contactID string) (map[Category]Decision, error) {
	out := map[Category]Decision{}
	refuseAll := func(reason problem.Text) map[Category]Decision {
		for _, c := range AllCategories {
			out[c] = Decision{Reason: reason}
		}
		return out
	}
	ct, err := contact(ctx, q, caseID, contactID)
	if problem.Is(err, problem.NotFound) {
		return refuseAll(problem.Textf("No such contact in this case.")), nil
	}
	if err != nil {
		return nil, err
	}
	if !ct.Archived.IsZero() {
		return refuseAll(problem.Textf("%s is no longer a contact of this case.", ct.Name)), nil
	}
	if out, err = s.consentDecisions(ctx, q, caseID, ct); err != nil {
		return nil, err
	}
	var open []Category
	for _, c := range ExceptionCategories {
		if d := out[c]; !d.Allowed && d.ConsentID == "" {
			open = append(open, c)
		}
	}
	if len(open) == 0 {
		return out, nil
	}
	list, err := exceptions(ctx, q, caseID, s.now())
	if err != nil {
		return nil, err
	}
	for _, e := range list {
		if e.ContactID != ct.ID || e.State != ExceptionActive {
			continue
		}
		for _, c := range open {
			if slices.Contains(e.Categories, c) && !out[c].Allowed {
				out[c] = Decision{Allowed: true, ExceptionID: e.ID}
			}
		}
	}
	return out, nil
}

// consentDecisions is the consent rule alone, for a contact that is not
// archived.
func (s *Service) consentDecisions(ctx context.Context, q db.Querier, caseID string, ct *Contact) (map[Category]Decision, error) {
	out := map[Category]Decision{}
	list, err := consents(ctx, q, caseID, ct.ID)
	if err != nil {
		return nil, err
	}
	for _, cat := range AllCategories {
		var active, withdrawn *Consent
		for i := range list {
			c := &list[i]
			if !slices.Contains(c.Categories, cat) {
				continue
			}
			if c.Active() {
				if active == nil || c.Recorded.Before(active.Recorded) {
					active = c // the oldest active one: the longest-standing basis
				}
			} else if withdrawn == nil || c.Withdrawal.Recorded.After(withdrawn.Withdrawal.Recorded) {
				withdrawn = c
			}
		}
		switch {
		case active != nil:
			out[cat] = Decision{Allowed: true, ConsentID: active.ID}
		case withdrawn != nil:
			out[cat] = Decision{ConsentID: withdrawn.ID,
				Reason: problem.Textf("Consent withdrawn on %s: the detainee no longer agrees to share %s with %s.", withdrawn.Withdrawal.Date, cat.phrase(), ct.Name)}
		case cat == Messages:
			out[cat] = Decision{Reason: problem.Textf("The detainee has not consented to exchange messages with %s.", ct.Name)}
		default:
			out[cat] = Decision{Reason: problem.Textf("The detainee has not consented to share %s with %s.", cat.phrase(), ct.Name)}
		}
	}
	return out, nil
}

// ForFamily is the reason a refusal gives the family member themselves:
// that the detainee has not consented, never when or whether they withdrew
// a consent (that is the detainee's to tell). Staff see Reason.
func ForFamily(cat Category, contactName string) problem.Text {
	if cat == Messages {
		return problem.Textf("The detainee has not consented to exchange messages with %s.", contactName)
	}
	return problem.Textf("The detainee has not consented to share %s with %s.", cat.phrase(), contactName)
}

// bases lists, for the allowed categories among cats (all when cats is
// nil), what allows each, for the audit log: "visits:consent=<id>,health:
// exception=<id>", or "-".
func bases(ds map[Category]Decision, cats []Category) string {
	var parts []string
	for _, c := range AllCategories {
		if (cats == nil || slices.Contains(cats, c)) && ds[c].Allowed {
			parts = append(parts, string(c)+":"+ds[c].Basis())
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

// allowedList lists the allowed categories of decisions, in order.
func allowedList(ds map[Category]Decision) []Category {
	var out []Category
	for _, c := range AllCategories {
		if ds[c].Allowed {
			out = append(out, c)
		}
	}
	return out
}

// withheldList lists the categories decisions refuse, in order.
func withheldList(ds map[Category]Decision) []Category {
	var out []Category
	for _, c := range AllCategories {
		if !ds[c].Allowed {
			out = append(out, c)
		}
	}
	return out
}
