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
	"github.com/attache-org/attache/internal/edate"
	"github.com/attache-org/attache/internal/problem"
)

// PortalCase is what a family member sees of one case: the detainee's
// name and the consulate always (they know whose relative they are), and
// for each category only what the detainee's consent lets them see. A
// category without consent leaves its fields empty: no hint of its content.
type PortalCase struct {
	CaseID      string `json:"case_id"`
	ContactID   string `json:"contact_id"`
	ContactName string `json:"contact_name"`
	Detainee    string `json:"detainee"` // display name
	Post        string `json:"post"`
	// Shared lists the categories the consent covers for this contact.
	Shared []Category `json:"shared"`
	// NextVisit is the next planned or confirmed consular visit (category
	// visits), nil if none or not shared.
	NextVisit *NextVisit `json:"next_visit,omitempty"`
	// Messages are the family member's messages to the detainee and the
	// released messages from the detainee (category messages).
	Messages []PortalMessage `json:"messages,omitempty"`
	// CanWrite says whether they may write to the detainee.
	CanWrite bool `json:"can_write"`
	// Summaries are the updates written for them whose every category is
	// shared, newest first.
	Summaries []PortalSummary `json:"summaries,omitempty"`
}

// NextVisit is the start of the next visit: in the facility's time zone
// when the family member may know the detainee's location, else in UTC.
type NextVisit struct {
	Starts time.Time `json:"starts"`
	Zone   string    `json:"zone"`
}

// PortalMessage is a message as its family member sees it.
type PortalMessage struct {
	ID        string    `json:"id"`
	Direction Direction `json:"direction"`
	Text      string    `json:"text"`
	// Status is waiting, delivered or not_delivered for their messages,
	// released for the detainee's.
	Status string `json:"status"`
	// Written is when they wrote it, or when the detainee's was recorded.
	Written time.Time `json:"written"`
	// Decided is when it was delivered, found undeliverable, or released.
	Decided time.Time `json:"decided,omitzero"`
	Reason  string    `json:"reason,omitempty"` // why it was not delivered
}

// PortalSummary is an update written for the family.
type PortalSummary struct {
	ID         string     `json:"id"`
	Categories []Category `json:"categories"`
	Text       string     `json:"text"`
	Written    time.Time  `json:"written"`
}

// Portal returns what a family member may see of each case they are a
// (non-archived) contact of, and audits what was disclosed to them.
func (s *Service) Portal(ctx context.Context, a cases.Actor) ([]PortalCase, error) {
	if !s.policy.Can(a.User, auth.FamilyPortal, nil) {
		return nil, problem.New(problem.Forbidden, "These pages are for family members.")
	}
	var out []PortalCase
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+contactColumns+` FROM family_contacts WHERE user_id = $1 AND archived_at IS NULL ORDER BY created_at, id`, a.User.ID)
		if err != nil {
			return fmt.Errorf("read contacts: %w", err)
		}
		var contacts []*Contact
		for rows.Next() {
			c, err := scanContact(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("read contacts: %w", err)
			}
			contacts = append(contacts, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read contacts: %w", err)
		}
		for _, c := range contacts {
			pc, err := s.portalCase(ctx, tx, a, c, "family.portal_view")
			if err != nil {
				return err
			}
			out = append(out, *pc)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PortalCase is Portal for one case. Any case the family member is not a
// contact of is NotFound, whether it exists or not.
func (s *Service) PortalCase(ctx context.Context, a cases.Actor, caseID string) (*PortalCase, error) {
	var pc *PortalCase
	var refused error
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := s.familyContact(ctx, tx, a, caseID)
		if problem.Is(err, problem.NotFound) {
			refused = err
			return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.denied", ObjectType: "case", ObjectID: caseID,
				Detail: "view case: " + err.Error()})
		}
		if err != nil {
			return err
		}
		pc, err = s.portalCase(ctx, tx, a, c, "family.portal_view")
		return err
	})
	if err != nil {
		return nil, err
	}
	return pc, refused
}

// UpdateFor is what an officer may pass on to a contact outside the family
// pages (a printed or mailed update): exactly what the contact's own pages
// would show them, under the same consent, audited as a disclosure to that
// contact (family.update_export). The officer must be able to change the
// case; an archived contact gets nothing.
func (s *Service) UpdateFor(ctx context.Context, a cases.Actor, caseID, contactID string) (*PortalCase, error) {
	var pc *PortalCase
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		c, err := contact(ctx, tx, caseID, contactID)
		if err != nil {
			return err
		}
		if !c.Archived.IsZero() {
			return problem.New(problem.Conflict, "%s is archived: nothing is shared with them.", c.Name)
		}
		pc, err = s.portalCase(ctx, tx, a, c, "family.update_export")
		return err
	})
	if err != nil {
		return nil, err
	}
	return pc, nil
}

// ReadMessage returns one message of the family member's, if they may see
// it now: theirs to the detainee, or the detainee's released to them, and
// only while consent covers messages. Anything else is NotFound.
func (s *Service) ReadMessage(ctx context.Context, a cases.Actor, caseID, msgID string) (*PortalMessage, error) {
	var pm *PortalMessage
	var refused error
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		deny := func(why error, detail string) error {
			refused = why
			return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.denied", ObjectType: "case", ObjectID: caseID,
				Detail: detail + ": " + why.Error()})
		}
		c, err := s.familyContact(ctx, tx, a, caseID)
		if problem.Is(err, problem.NotFound) {
			return deny(err, "read message="+msgID)
		}
		if err != nil {
			return err
		}
		d, err := s.check(ctx, tx, caseID, c.ID, Messages)
		if err != nil {
			return err
		}
		if !d.Allowed {
			refused = problem.New(problem.NotFound, "No such message.")
			return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.message_refused", ObjectType: "case", ObjectID: caseID,
				Detail: fmt.Sprintf("read message=%s contact=%s category=messages consent=%s: %s", msgID, c.ID, d.ConsentID, d.Reason)})
		}
		list, err := familyMessages(ctx, tx, c.ID, msgID)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			return deny(problem.New(problem.NotFound, "No such message."), fmt.Sprintf("read message=%s contact=%s", msgID, c.ID))
		}
		pm = &list[0]
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.message_read", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("message=%s contact=%s consent=%s disclosed=messages", msgID, c.ID, d.ConsentID)})
	})
	if err != nil {
		return nil, err
	}
	return pm, refused
}

// portalCase gathers what consent lets contact c see, and audits it as
// action (the family member's view, or an update an officer exports).
func (s *Service) portalCase(ctx context.Context, tx *sql.Tx, a cases.Actor, c *Contact, action string) (*PortalCase, error) {
	pc := &PortalCase{CaseID: c.CaseID, ContactID: c.ID, ContactName: c.Name}
	if err := tx.QueryRowContext(ctx, `SELECT p.display_name, c.post FROM cases c JOIN people p ON p.id = c.person_id WHERE c.id = $1`, c.CaseID).
		Scan(&pc.Detainee, &pc.Post); err != nil {
		return nil, fmt.Errorf("read case: %w", err)
	}
	ds, err := s.decide(ctx, tx, c.CaseID, c.ID)
	if err != nil {
		return nil, err
	}
	pc.Shared = allowedList(ds)
	if ds[Visits].Allowed {
		var starts int64
		var zone string
		err := tx.QueryRowContext(ctx, `SELECT v.starts, COALESCE(f.time_zone, '') FROM visits v LEFT JOIN facilities f ON f.id = v.facility_id
			WHERE v.case_id = $1 AND v.status IN ('planned', 'confirmed') AND v.kind <> 'legal' AND v.starts > $2
			ORDER BY v.starts LIMIT 1`, c.CaseID, db.Instant(s.now())).Scan(&starts, &zone)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, fmt.Errorf("read next visit: %w", err)
		default:
			// The facility's time zone says where the detainee is held
			// (Asia/Urumqi is not Asia/Shanghai): it is shown only with
			// consent to share the location, else the time is in UTC.
			loc, lerr := edate.LoadZone(zone)
			if lerr != nil || !ds[Location].Allowed {
				loc = time.UTC
			}
			pc.NextVisit = &NextVisit{Starts: db.Time(starts).In(loc), Zone: loc.String()}
		}
	}
	if ds[Messages].Allowed {
		pc.CanWrite = true
		if pc.Messages, err = familyMessages(ctx, tx, c.ID, ""); err != nil {
			return nil, err
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, categories, body, created_at FROM family_summaries
		WHERE case_id = $1 AND (contact_id = $2 OR contact_id IS NULL) ORDER BY created_at DESC, id DESC`, c.CaseID, c.ID)
	if err != nil {
		return nil, fmt.Errorf("read summaries: %w", err)
	}
	for rows.Next() {
		var sm PortalSummary
		var cats string
		var at int64
		if err := rows.Scan(&sm.ID, &cats, &sm.Text, &at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read summaries: %w", err)
		}
		sm.Categories, sm.Written = splitCategories(cats), db.Time(at)
		if coversAll(ds, sm.Categories) {
			pc.Summaries = append(pc.Summaries, sm)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read summaries: %w", err)
	}
	var consentIDs, exceptionIDs []string
	for _, cat := range pc.Shared {
		if id := ds[cat].ExceptionID; id != "" && !slices.Contains(exceptionIDs, id) {
			exceptionIDs = append(exceptionIDs, id)
		} else if id := ds[cat].ConsentID; id != "" && !slices.Contains(consentIDs, id) {
			consentIDs = append(consentIDs, id)
		}
	}
	slices.Sort(consentIDs)
	slices.Sort(exceptionIDs)
	err = s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: action, ObjectType: "case", ObjectID: c.CaseID,
		Detail: fmt.Sprintf("contact=%s disclosed=%s withheld=%s consents=%s exceptions=%s next_visit=%t messages=%d summaries=%d", c.ID,
			categoryList(pc.Shared), categoryList(withheldList(ds)), joinOrDash(consentIDs), joinOrDash(exceptionIDs), pc.NextVisit != nil,
			len(pc.Messages), len(pc.Summaries))})
	if err != nil {
		return nil, err
	}
	return pc, nil
}

func joinOrDash(ids []string) string {
	if len(ids) == 0 {
		return "-"
	}
	return strings.Join(ids, ",")
}

// coversAll reports whether every category in cats is allowed.
func coversAll(ds map[Category]Decision, cats []Category) bool {
	if len(cats) == 0 {
		return false
	}
	for _, c := range cats {
		if !ds[c].Allowed {
			return false
		}
	}
	return true
}

// familyMessages reads what a contact may see of their messages (one, with
// msgID): theirs to the detainee, and the detainee's once released.
func familyMessages(ctx context.Context, q db.Querier, contactID, msgID string) ([]PortalMessage, error) {
	cond, args := `contact_id = $1 AND (direction = 'to_detainee' OR status = 'released')`, []any{contactID}
	if msgID != "" {
		cond, args = cond+` AND id = $2`, append(args, msgID)
	}
	rows, err := q.QueryContext(ctx, `SELECT id, direction, body, status, created_at, decided_at, reason FROM family_messages
		WHERE `+cond+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	defer rows.Close()
	var out []PortalMessage
	for rows.Next() {
		var m PortalMessage
		var dir string
		var at int64
		var decided sql.NullInt64
		if err := rows.Scan(&m.ID, &dir, &m.Text, &m.Status, &at, &decided, &m.Reason); err != nil {
			return nil, fmt.Errorf("read messages: %w", err)
		}
		m.Direction, m.Written, m.Decided = Direction(dir), db.Time(at), db.NullTime(decided)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	return out, nil
}
