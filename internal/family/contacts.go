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

// Contact is a person the consulate may keep informed about a detainee.
type Contact struct {
	ID           string   `json:"id"`
	CaseID       string   `json:"case_id"`
	Name         string   `json:"name"`
	Relationship string   `json:"relationship"` // Relationships
	Languages    []string `json:"languages"`
	Email        string   `json:"email,omitempty"`
	Phone        string   `json:"phone,omitempty"`
	// Designated is the detainee's designated contact: at most one a case.
	Designated bool   `json:"designated"`
	Notes      string `json:"notes,omitempty"`
	// UserID is the family account made from an invitation, "" for none.
	UserID        string    `json:"user_id,omitempty"`
	Archived      time.Time `json:"archived,omitzero"`
	ArchivedBy    string    `json:"archived_by,omitempty"`
	ArchiveReason string    `json:"archive_reason,omitempty"`
	CreatedBy     string    `json:"created_by"`
	Created       time.Time `json:"created"`
	Updated       time.Time `json:"updated"`
}

// ContactInput is what a form gives for a contact.
type ContactInput struct {
	Name         string
	Relationship string
	Languages    []string
	Email        string
	Phone        string
	Designated   bool
	Notes        string
}

// ContactRevision is what a contact was before one change.
type ContactRevision struct {
	ContactInput
	ChangedBy string    `json:"changed_by"`
	Changed   time.Time `json:"changed"`
}

func (in *ContactInput) validate() error {
	f := problem.Fields{}
	in.Name, in.Relationship, in.Email, in.Phone, in.Notes = clean(in.Name), clean(in.Relationship), clean(in.Email), clean(in.Phone), clean(in.Notes)
	checkText(f, "name", in.Name, true, 200, false, "Enter the contact's name.")
	if !Relationships.Has(in.Relationship) {
		f.Add("relationship", "Choose the relationship to the detainee from the list.")
	}
	var langs []string
	for _, l := range in.Languages {
		l = clean(l)
		if l == "" || slices.Contains(langs, l) {
			continue
		}
		if !cases.ValidLanguage(l) {
			f.Add("languages", "Give each language as a code such as en or zh.")
		}
		langs = append(langs, l)
	}
	in.Languages = langs
	if in.Email != "" && (len(in.Email) > 254 || strings.Count(in.Email, "@") != 1 || strings.HasPrefix(in.Email, "@") ||
		strings.HasSuffix(in.Email, "@") || strings.ContainsAny(in.Email, " \t\r\n<>,;\"")) {
		f.Add("email", "Enter an e-mail address such as name@example.org, or leave it empty.")
	}
	if len(in.Phone) > 40 || strings.Trim(in.Phone, "+0123456789 ()-./") != "" {
		f.Add("phone", "Enter a telephone number with digits, spaces and + ( ) - only, or leave it empty.")
	}
	checkText(f, "notes", in.Notes, false, 4000, true, "")
	return f.Err()
}

const contactColumns = `id, case_id, name, relationship, languages, email, phone, designated, notes, COALESCE(user_id, ''),
	archived_at, archived_by, archive_reason, created_by, created_at, updated_at`

func scanContact(r interface{ Scan(...any) error }) (*Contact, error) {
	c := &Contact{}
	var langs string
	var archived sql.NullInt64
	var created, updated int64
	if err := r.Scan(&c.ID, &c.CaseID, &c.Name, &c.Relationship, &langs, &c.Email, &c.Phone, &c.Designated, &c.Notes, &c.UserID,
		&archived, &c.ArchivedBy, &c.ArchiveReason, &c.CreatedBy, &created, &updated); err != nil {
		return nil, err
	}
	c.Languages = strings.Fields(langs)
	c.Archived, c.Created, c.Updated = db.NullTime(archived), db.Time(created), db.Time(updated)
	return c, nil
}

var errNoContact = problem.New(problem.NotFound, "No such contact in this case.")

// contact reads one contact of a case, archived or not.
func contact(ctx context.Context, q db.Querier, caseID, contactID string) (*Contact, error) {
	c, err := scanContact(q.QueryRowContext(ctx, `SELECT `+contactColumns+` FROM family_contacts WHERE id = $1 AND case_id = $2`, contactID, caseID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoContact
	}
	if err != nil {
		return nil, fmt.Errorf("read contact: %w", err)
	}
	return c, nil
}

// checkDesignated refuses a second designated contact, naming the first.
func checkDesignated(ctx context.Context, q db.Querier, caseID, exceptID string) error {
	var name string
	err := q.QueryRowContext(ctx, `SELECT name FROM family_contacts WHERE case_id = $1 AND designated = TRUE AND archived_at IS NULL AND id <> $2`,
		caseID, exceptID).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read designated contact: %w", err)
	}
	return problem.Fieldf("designated", "%s is the designated contact already: a case has at most one. Change theirs first.", name)
}

// AddContact adds a contact to a case.
func (s *Service) AddContact(ctx context.Context, a cases.Actor, caseID string, in ContactInput) (*Contact, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	c := &Contact{ID: db.NewID(), CaseID: caseID, Name: in.Name, Relationship: in.Relationship, Languages: in.Languages, Email: in.Email,
		Phone: in.Phone, Designated: in.Designated, Notes: in.Notes, CreatedBy: a.User.DisplayName, Created: now, Updated: now}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		if err := s.lockCase(ctx, tx, caseID); err != nil {
			return err
		}
		if c.Designated {
			if err := checkDesignated(ctx, tx, caseID, ""); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO family_contacts (id, case_id, name, relationship, languages, email, phone, designated, notes,
			created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)`,
			c.ID, caseID, c.Name, c.Relationship, strings.Join(c.Languages, " "), c.Email, c.Phone, c.Designated, c.Notes, c.CreatedBy, db.Instant(now))
		if db.IsUniqueViolation(err) {
			return problem.Field("designated", "Another contact is the designated contact already: a case has at most one.")
		}
		if err != nil {
			return fmt.Errorf("add contact: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.contact_add", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("contact=%s relationship=%s designated=%t", c.ID, c.Relationship, c.Designated)})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// UpdateContact changes a contact that is not archived, keeping what it
// was before as a revision.
func (s *Service) UpdateContact(ctx context.Context, a cases.Actor, caseID, contactID string, in ContactInput) (*Contact, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	var c *Contact
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		if err := s.lockCase(ctx, tx, caseID); err != nil {
			return err
		}
		old, err := contact(ctx, tx, caseID, contactID)
		if err != nil {
			return err
		}
		if !old.Archived.IsZero() {
			return problem.New(problem.Conflict, "This contact is archived: add them again instead.")
		}
		if in.Designated && !old.Designated {
			if err := checkDesignated(ctx, tx, caseID, contactID); err != nil {
				return err
			}
		}
		now := s.now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO family_contact_revisions (id, contact_id, name, relationship, languages, email, phone,
			designated, notes, changed_by, changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			db.NewID(), contactID, old.Name, old.Relationship, strings.Join(old.Languages, " "), old.Email, old.Phone, old.Designated, old.Notes,
			a.User.DisplayName, db.Instant(now)); err != nil {
			return fmt.Errorf("keep contact revision: %w", err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE family_contacts SET name = $3, relationship = $4, languages = $5, email = $6, phone = $7,
			designated = $8, notes = $9, updated_at = $10 WHERE id = $1 AND case_id = $2`,
			contactID, caseID, in.Name, in.Relationship, strings.Join(in.Languages, " "), in.Email, in.Phone, in.Designated, in.Notes, db.Instant(now))
		if db.IsUniqueViolation(err) {
			return problem.Field("designated", "Another contact is the designated contact already: a case has at most one.")
		}
		if err != nil {
			return fmt.Errorf("update contact: %w", err)
		}
		if c, err = contact(ctx, tx, caseID, contactID); err != nil {
			return err
		}
		detail := fmt.Sprintf("contact=%s changed=%s", contactID, changedFields(old, in))
		if !strings.EqualFold(old.Email, in.Email) {
			// An invitation sent to the old address must not make an
			// account any more: whoever reads that mailbox now may not
			// be the relative.
			res, err := tx.ExecContext(ctx, `UPDATE family_invitations SET revoked_at = $2, revoked_by = $3
				WHERE contact_id = $1 AND used_at IS NULL AND revoked_at IS NULL`, contactID, db.Instant(now), a.User.DisplayName)
			if err != nil {
				return fmt.Errorf("revoke invitations: %w", err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				detail += fmt.Sprintf(" invitations_revoked=%d", n)
			}
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.contact_update", ObjectType: "case", ObjectID: caseID,
			Detail: detail})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func changedFields(old *Contact, in ContactInput) string {
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("name", old.Name != in.Name)
	add("relationship", old.Relationship != in.Relationship)
	add("languages", strings.Join(old.Languages, " ") != strings.Join(in.Languages, " "))
	add("email", old.Email != in.Email)
	add("phone", old.Phone != in.Phone)
	add("designated", old.Designated != in.Designated)
	add("notes", old.Notes != in.Notes)
	if len(out) == 0 {
		return "nothing"
	}
	return strings.Join(out, ",")
}

// ArchiveContact removes a contact from the case: they are kept, with their
// consents, messages and history, but nothing more is shared with them,
// their pending invitations are revoked, and their family account is
// disabled unless they are a contact of another case.
func (s *Service) ArchiveContact(ctx context.Context, a cases.Actor, caseID, contactID, reason string) error {
	reason = clean(reason)
	f := problem.Fields{}
	checkText(f, "reason", reason, false, 500, false, "")
	if err := f.Err(); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		if err := s.lockCase(ctx, tx, caseID); err != nil {
			return err
		}
		now := db.Instant(s.now())
		res, err := tx.ExecContext(ctx, `UPDATE family_contacts SET archived_at = $3, archived_by = $4, archive_reason = $5, updated_at = $3
			WHERE id = $1 AND case_id = $2 AND archived_at IS NULL`, contactID, caseID, now, a.User.DisplayName, reason)
		if err != nil {
			return fmt.Errorf("archive contact: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNoContact
		}
		if _, err := tx.ExecContext(ctx, `UPDATE family_invitations SET revoked_at = $2, revoked_by = $3
			WHERE contact_id = $1 AND used_at IS NULL AND revoked_at IS NULL`, contactID, now, a.User.DisplayName); err != nil {
			return fmt.Errorf("revoke invitations: %w", err)
		}
		// Their account, if it is a contact of no other case, is disabled
		// and its sessions end: nobody should keep a way in for nothing.
		res, err = tx.ExecContext(ctx, `UPDATE users SET disabled = TRUE, updated_at = $2
			WHERE id = (SELECT user_id FROM family_contacts WHERE id = $1) AND role = 'family' AND disabled = FALSE
			AND NOT EXISTS (SELECT 1 FROM family_contacts k WHERE k.user_id = users.id AND k.archived_at IS NULL)`, contactID, now)
		if err != nil {
			return fmt.Errorf("disable family account: %w", err)
		}
		detail := fmt.Sprintf("contact=%s %s", contactID, reason)
		if n, _ := res.RowsAffected(); n > 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = (SELECT user_id FROM family_contacts WHERE id = $1)`, contactID); err != nil {
				return fmt.Errorf("end family sessions: %w", err)
			}
			detail += " (their account is disabled)"
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.contact_archive", ObjectType: "case", ObjectID: caseID,
			Detail: detail})
	})
}

// Contacts lists a case's contacts, the designated one first, then by
// name; archived contacts only when asked.
func (s *Service) Contacts(ctx context.Context, a cases.Actor, caseID string, withArchived bool) ([]Contact, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.ReadCase, caseID); err != nil {
		return nil, err
	}
	out, err := s.listContacts(ctx, caseID, withArchived)
	if err != nil {
		return nil, err
	}
	return out, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "case.family_contacts_view", ObjectType: "case", ObjectID: caseID,
		Detail: fmt.Sprintf("contacts=%d", len(out))})
}

func (s *Service) listContacts(ctx context.Context, caseID string, withArchived bool) ([]Contact, error) {
	cond := ` AND archived_at IS NULL`
	if withArchived {
		cond = ""
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+contactColumns+` FROM family_contacts WHERE case_id = $1`+cond+`
		ORDER BY archived_at IS NOT NULL, designated DESC, name, id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	var out []Contact
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list contacts: %w", err)
		}
		out = append(out, *c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	return out, nil
}

// ContactHistory lists what a contact was before each change, oldest first.
func (s *Service) ContactHistory(ctx context.Context, a cases.Actor, caseID, contactID string) ([]ContactRevision, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.ReadCase, caseID); err != nil {
		return nil, err
	}
	if _, err := contact(ctx, s.db, caseID, contactID); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name, relationship, languages, email, phone, designated, notes, changed_by, changed_at
		FROM family_contact_revisions WHERE contact_id = $1 ORDER BY changed_at, id`, contactID)
	if err != nil {
		return nil, fmt.Errorf("list contact revisions: %w", err)
	}
	var out []ContactRevision
	for rows.Next() {
		var r ContactRevision
		var langs string
		var at int64
		if err := rows.Scan(&r.Name, &r.Relationship, &langs, &r.Email, &r.Phone, &r.Designated, &r.Notes, &r.ChangedBy, &at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list contact revisions: %w", err)
		}
		r.Languages, r.Changed = strings.Fields(langs), db.Time(at)
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list contact revisions: %w", err)
	}
	return out, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "case.family_contact_history", ObjectType: "case", ObjectID: caseID,
		Detail: "contact=" + contactID})
}
