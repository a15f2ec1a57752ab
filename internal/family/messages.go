package family

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/notify"
	"github.com/attache-org/attache/internal/problem"
)

// Direction is which way a message goes.
type Direction string

// The directions.
const (
	ToDetainee   Direction = "to_detainee"   // written by a family member
	FromDetainee Direction = "from_detainee" // recorded by an officer
)

// MessageStatuses: a message to the detainee waits, then is delivered or
// not (once); a message from the detainee is held until an officer
// releases it to the family (once).
var MessageStatuses = cases.Vocab{
	{Code: "waiting", Label: "Waiting to be delivered"}, {Code: "delivered", Label: "Delivered"},
	{Code: "not_delivered", Label: "Not delivered"}, {Code: "held", Label: "Held by the consulate"},
	{Code: "released", Label: "Released to the family"},
}

// Message is a message relayed by the consulate, as officers see it.
type Message struct {
	ID          string    `json:"id"`
	CaseID      string    `json:"case_id"`
	ContactID   string    `json:"contact_id"`
	ContactName string    `json:"contact_name"`
	Direction   Direction `json:"direction"`
	Text        string    `json:"text"`
	Status      string    `json:"status"` // MessageStatuses
	WrittenBy   string    `json:"written_by"`
	Created     time.Time `json:"created"`
	// VisitID is the visit it was delivered at (to the detainee) or
	// recorded at (from the detainee).
	VisitID   string    `json:"visit_id,omitempty"`
	How       string    `json:"how,omitempty"`    // DeliveryMethods
	Reason    string    `json:"reason,omitempty"` // why it was not delivered
	DecidedBy string    `json:"decided_by,omitempty"`
	Decided   time.Time `json:"decided,omitzero"` // delivered, not delivered or released
}

// MessageFilter selects messages; empty fields select all.
type MessageFilter struct {
	Direction Direction
	Status    string
	ContactID string
	VisitID   string
}

var errNoMessage = problem.New(problem.NotFound, "No such message in this case.")

func (s *Service) checkBody(text string) (string, error) {
	text = strings.TrimSpace(text)
	f := problem.Fields{}
	checkText(f, "text", text, true, s.opts.MaxMessage, true, "Write the message.")
	return text, f.Err()
}

// familyContact returns the family member's own, active contact in a case.
// Any other case does not exist for them; asking for one is audited.
func (s *Service) familyContact(ctx context.Context, tx *sql.Tx, a cases.Actor, caseID string) (*Contact, error) {
	if !s.policy.Can(a.User, auth.FamilyPortal, nil) {
		return nil, problem.New(problem.Forbidden, "These pages are for family members.")
	}
	c, err := scanContact(tx.QueryRowContext(ctx, `SELECT `+contactColumns+` FROM family_contacts WHERE user_id = $1 AND case_id = $2 AND archived_at IS NULL`,
		a.User.ID, caseID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoCase
	}
	if err != nil {
		return nil, fmt.Errorf("read contact: %w", err)
	}
	return c, nil
}

// denied audits a family member's request for a case or message that is
// not theirs, or that consent keeps from them.
func (s *Service) denied(ctx context.Context, a cases.Actor, action, caseID string, why error, detail string) error {
	if aerr := s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: action, ObjectType: "case", ObjectID: caseID,
		Detail: strings.TrimSpace(detail + " " + why.Error())}); aerr != nil {
		return aerr
	}
	return why
}

// WriteMessage is a family member writing to the detainee, when the
// detainee's consent covers messages with them; otherwise it is refused
// with the reason. The case's officers are told that a message is waiting.
func (s *Service) WriteMessage(ctx context.Context, a cases.Actor, caseID, text string) (*Message, error) {
	text, verr := s.checkBody(text)
	now := s.now().UTC().Truncate(time.Microsecond)
	m := &Message{ID: db.NewID(), CaseID: caseID, Direction: ToDetainee, Text: text, Status: "waiting", WrittenBy: a.User.DisplayName, Created: now}
	var refused error
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		ct, err := s.familyContact(ctx, tx, a, caseID)
		if err != nil {
			if problem.Is(err, problem.NotFound) {
				refused = err
				return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.denied", ObjectType: "case", ObjectID: caseID,
					Detail: "write message: " + err.Error()})
			}
			return err
		}
		if verr != nil {
			return verr
		}
		if err := s.lockCase(ctx, tx, caseID); err != nil {
			return err
		}
		d, err := s.check(ctx, tx, caseID, ct.ID, Messages)
		if err != nil {
			return err
		}
		if !d.Allowed {
			refused = problem.NewText(problem.Forbidden, ForFamily(Messages, ct.Name))
			return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.message_refused", ObjectType: "case", ObjectID: caseID,
				Detail: fmt.Sprintf("contact=%s category=messages consent=%s: %s", ct.ID, d.ConsentID, d.Reason)})
		}
		m.ContactID, m.ContactName = ct.ID, ct.Name
		if _, err := tx.ExecContext(ctx, `INSERT INTO family_messages (id, case_id, contact_id, direction, body, status, written_by, written_by_name, created_at, consent_id)
			VALUES ($1, $2, $3, $4, $5, 'waiting', $6, $7, $8, $9)`, m.ID, caseID, ct.ID, string(ToDetainee), text, a.User.ID, a.User.DisplayName,
			db.Instant(now), d.ConsentID); err != nil {
			return fmt.Errorf("write message: %w", err)
		}
		if err := s.tellOfficers(ctx, tx, caseID, m.ID); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.message_write", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("message=%s contact=%s consent=%s chars=%d", m.ID, ct.ID, d.ConsentID, utf8.RuneCountInString(text))})
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	return m, nil
}

// tellOfficers tells the case's assigned officers that a family message is
// waiting or, when none is assigned (or none has an e-mail address), the
// post's consular officers. The mail says nothing of its content.
func (s *Service) tellOfficers(ctx context.Context, tx *sql.Tx, caseID, msgID string) error {
	if s.sender == nil {
		return nil
	}
	scope, err := s.cases.Scope(ctx, tx, caseID)
	if err != nil {
		return err
	}
	var to []notify.Recipient
	if len(scope.Team) > 0 {
		all, err := notify.Recipients(ctx, tx, scope, auth.Roles...)
		if err != nil {
			return err
		}
		for _, r := range all {
			if slices.Contains(scope.Team, r.UserID) {
				to = append(to, r)
			}
		}
	}
	if len(to) == 0 {
		if to, err = notify.Recipients(ctx, tx, scope, auth.RoleConsularOfficer); err != nil {
			return err
		}
	}
	for _, r := range to {
		w := s.opts.Catalog.In(r.Lang)
		err := s.send(ctx, tx, notify.Mail{Kind: notify.FamilyMessage, UserID: r.UserID, To: r.Email, Name: r.Name,
			Key: "family-message:" + msgID + ":" + r.UserID, Subject: w.T("A new family message is waiting"),
			Text: w.T("A family member has written a new message for a detainee. It waits for delivery:") + "\n" + s.opts.BaseURL + CasePath(caseID) + "\n"})
		if err != nil {
			return err
		}
	}
	return nil
}

// tellFamily tells a contact's family account, if any, that something new
// waits on their pages, in the account's language (else the contact's).
// The mail says nothing of what.
func (s *Service) tellFamily(ctx context.Context, tx *sql.Tx, contactID, key, subject, text string) error {
	if s.sender == nil {
		return nil
	}
	var userID, email, name, lang, langs string
	var disabled bool
	err := tx.QueryRowContext(ctx, `SELECT u.id, u.email, u.display_name, u.disabled, u.lang, k.languages FROM family_contacts k JOIN users u ON u.id = k.user_id
		WHERE k.id = $1 AND k.archived_at IS NULL`, contactID).Scan(&userID, &email, &name, &disabled, &lang, &langs)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // no account: they see it once they have one
	}
	if err != nil {
		return fmt.Errorf("read family account: %w", err)
	}
	if disabled || email == "" {
		return nil
	}
	w := s.opts.Catalog.In(append([]string{lang}, strings.Fields(langs)...)...)
	return s.send(ctx, tx, notify.Mail{Kind: notify.FamilyMessage, UserID: userID, To: email, Name: name, Key: key, Subject: w.T(subject),
		Text: w.T(text) + " " + w.T("Sign in to read it:") + "\n" + s.opts.BaseURL + PortalPath + "\n"})
}

// Queue lists the messages waiting for delivery to the detainee, oldest
// first.
func (s *Service) Queue(ctx context.Context, a cases.Actor, caseID string) ([]Message, error) {
	return s.Messages(ctx, a, caseID, MessageFilter{Direction: ToDetainee, Status: "waiting"})
}

// Messages lists a case's messages, oldest first: with VisitID, those
// delivered or recorded at that visit.
func (s *Service) Messages(ctx context.Context, a cases.Actor, caseID string, f MessageFilter) ([]Message, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.ReadCase, caseID); err != nil {
		return nil, err
	}
	cond, args := `m.case_id = $1`, []any{caseID}
	add := func(column, value string) {
		if value != "" {
			args = append(args, value)
			cond += fmt.Sprintf(" AND m.%s = $%d", column, len(args))
		}
	}
	add("direction", string(f.Direction))
	add("status", f.Status)
	add("contact_id", f.ContactID)
	add("visit_id", f.VisitID)
	out, err := readMessages(ctx, s.db, cond, args)
	if err != nil {
		return nil, err
	}
	return out, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "case.family_messages_view", ObjectType: "case", ObjectID: caseID,
		Detail: fmt.Sprintf("direction=%s status=%s contact=%s visit=%s messages=%d", f.Direction, f.Status, f.ContactID, f.VisitID, len(out))})
}

func readMessages(ctx context.Context, q db.Querier, cond string, args []any) ([]Message, error) {
	rows, err := q.QueryContext(ctx, `SELECT m.id, m.case_id, m.contact_id, k.name, m.direction, m.body, m.status, m.written_by_name, m.created_at,
		COALESCE(m.visit_id, ''), m.how, m.reason, m.decided_by, m.decided_at
		FROM family_messages m JOIN family_contacts k ON k.id = m.contact_id WHERE `+cond+` ORDER BY m.created_at, m.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var m Message
		var dir string
		var created int64
		var decided sql.NullInt64
		if err := rows.Scan(&m.ID, &m.CaseID, &m.ContactID, &m.ContactName, &dir, &m.Text, &m.Status, &m.WrittenBy, &created,
			&m.VisitID, &m.How, &m.Reason, &m.DecidedBy, &decided); err != nil {
			return nil, fmt.Errorf("list messages: %w", err)
		}
		m.Direction, m.Created, m.Decided = Direction(dir), db.Time(created), db.NullTime(decided)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return out, nil
}

// message reads one message of a case in a direction.
func message(ctx context.Context, q db.Querier, caseID, msgID string, dir Direction) (*Message, error) {
	list, err := readMessages(ctx, q, `m.id = $1 AND m.case_id = $2 AND m.direction = $3`, []any{msgID, caseID, string(dir)})
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, errNoMessage
	}
	return &list[0], nil
}

func decidedAlready(m *Message) error {
	return problem.New(problem.Conflict, "This message is “%s” already (%s, by %s).", problem.Textf(MessageStatuses.Label(m.Status)),
		m.Decided.UTC().Format("2006-01-02 15:04 UTC"), m.DecidedBy)
}

// Delivered marks a waiting message to the detainee as delivered: how, and
// at which visit (required when read out or shown at one). A message is
// marked once.
func (s *Service) Delivered(ctx context.Context, a cases.Actor, caseID, msgID, visitID, how string) error {
	how, visitID = clean(how), clean(visitID)
	f := problem.Fields{}
	if !DeliveryMethods.Has(how) {
		f.Add("how", "Say how the message reached the detainee, from the list.")
	} else if slices.Contains(atVisit, how) && visitID == "" {
		f.Add("visit_id", "Choose the visit at which the message was delivered.")
	}
	return s.decideMessage(ctx, a, caseID, msgID, f, visitID, func(tx *sql.Tx, now int64) (sql.Result, string, error) {
		res, err := tx.ExecContext(ctx, `UPDATE family_messages SET status = 'delivered', visit_id = $3, how = $4, decided_by = $5, decided_at = $6
			WHERE id = $1 AND case_id = $2 AND status = 'waiting'`, msgID, caseID, nullStr(visitID), how, a.User.DisplayName, now)
		return res, "family.message_delivered", err
	}, fmt.Sprintf("how=%s visit=%s", how, visitID))
}

// NotDelivered marks a waiting message to the detainee as not delivered,
// with the reason (shown to the family member: e.g. "refused by the
// facility"). A message is marked once.
func (s *Service) NotDelivered(ctx context.Context, a cases.Actor, caseID, msgID, reason string) error {
	reason = clean(reason)
	f := problem.Fields{}
	checkText(f, "reason", reason, true, 500, false, "Say why the message was not delivered (e.g. refused by the facility).")
	return s.decideMessage(ctx, a, caseID, msgID, f, "", func(tx *sql.Tx, now int64) (sql.Result, string, error) {
		res, err := tx.ExecContext(ctx, `UPDATE family_messages SET status = 'not_delivered', reason = $3, decided_by = $4, decided_at = $5
			WHERE id = $1 AND case_id = $2 AND status = 'waiting'`, msgID, caseID, reason, a.User.DisplayName, now)
		return res, "family.message_not_delivered", err
	}, "reason given")
}

// decideMessage is the common part of Delivered and NotDelivered.
func (s *Service) decideMessage(ctx context.Context, a cases.Actor, caseID, msgID string, f problem.Fields, visitID string,
	update func(tx *sql.Tx, now int64) (sql.Result, string, error), detail string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		if err := s.lockCase(ctx, tx, caseID); err != nil {
			return err
		}
		m, err := message(ctx, tx, caseID, msgID, ToDetainee)
		if err != nil {
			return err
		}
		if m.Status != "waiting" {
			return decidedAlready(m)
		}
		if err := checkVisit(ctx, tx, f, "visit_id", caseID, visitID); err != nil {
			return err
		}
		if err := f.Err(); err != nil {
			return err
		}
		res, action, err := update(tx, db.Instant(s.now()))
		if err != nil {
			return fmt.Errorf("mark message: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.New(problem.Conflict, "The message changed meanwhile: reload the page.")
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: action, ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("message=%s contact=%s %s", msgID, m.ContactID, detail)})
	})
}

// RecordFromDetainee records a message the detainee gave for a contact
// (at a visit, or by letter when visitID is empty). It is held: the family
// sees it only once an officer releases it, and only with consent.
func (s *Service) RecordFromDetainee(ctx context.Context, a cases.Actor, caseID, contactID, visitID, text string) (*Message, error) {
	text, verr := s.checkBody(text)
	visitID = clean(visitID)
	now := s.now().UTC().Truncate(time.Microsecond)
	m := &Message{ID: db.NewID(), CaseID: caseID, ContactID: contactID, Direction: FromDetainee, Text: text, Status: "held",
		WrittenBy: a.User.DisplayName, Created: now, VisitID: visitID}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		ct, err := contact(ctx, tx, caseID, contactID)
		if err != nil {
			return err
		}
		f := problem.Fields{}
		if verr != nil {
			f.Merge(verr)
		}
		if !ct.Archived.IsZero() {
			f.Addf("contact_id", "%s is archived: nothing is passed on to them.", ct.Name)
		}
		if err := checkVisit(ctx, tx, f, "visit_id", caseID, visitID); err != nil {
			return err
		}
		if err := f.Err(); err != nil {
			return err
		}
		m.ContactName = ct.Name
		if _, err := tx.ExecContext(ctx, `INSERT INTO family_messages (id, case_id, contact_id, direction, body, status, written_by, written_by_name, created_at, visit_id)
			VALUES ($1, $2, $3, $4, $5, 'held', $6, $7, $8, $9)`, m.ID, caseID, contactID, string(FromDetainee), text, a.User.ID, a.User.DisplayName,
			db.Instant(now), nullStr(visitID)); err != nil {
			return fmt.Errorf("record message: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.message_from_detainee", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("message=%s contact=%s visit=%s chars=%d", m.ID, contactID, visitID, utf8.RuneCountInString(text))})
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Release passes a held message from the detainee on to its contact, when
// the detainee's consent covers messages with them (otherwise it is refused
// with the reason, and stays held). Their family account is told.
func (s *Service) Release(ctx context.Context, a cases.Actor, caseID, msgID string) error {
	var refused error
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		if err := s.lockCase(ctx, tx, caseID); err != nil {
			return err
		}
		m, err := message(ctx, tx, caseID, msgID, FromDetainee)
		if err != nil {
			return err
		}
		if m.Status != "held" {
			return decidedAlready(m)
		}
		d, err := s.check(ctx, tx, caseID, m.ContactID, Messages)
		if err != nil {
			return err
		}
		if !d.Allowed {
			refused = problem.NewText(problem.Forbidden, d.Reason)
			return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.release_refused", ObjectType: "case", ObjectID: caseID,
				Detail: fmt.Sprintf("message=%s contact=%s category=messages consent=%s: %s", msgID, m.ContactID, d.ConsentID, d.Reason)})
		}
		res, err := tx.ExecContext(ctx, `UPDATE family_messages SET status = 'released', decided_by = $3, decided_at = $4, consent_id = $5
			WHERE id = $1 AND case_id = $2 AND status = 'held'`, msgID, caseID, a.User.DisplayName, db.Instant(s.now()), d.ConsentID)
		if err != nil {
			return fmt.Errorf("release message: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.New(problem.Conflict, "The message changed meanwhile: reload the page.")
		}
		if err := s.tellFamily(ctx, tx, m.ContactID, "family-release:"+msgID, "A new message for you",
			"There is a new message for you on the consulate's family pages."); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.message_release", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("message=%s contact=%s consent=%s disclosed=messages", msgID, m.ContactID, d.ConsentID)})
	})
	if err != nil {
		return err
	}
	return refused
}
