package family

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/notify"
	"github.com/attache-org/attache/internal/problem"
)

// Invitation is an invitation for a contact to open a family account. Its
// token is shown once, when it is made, and sent to the contact's e-mail.
type Invitation struct {
	ID          string    `json:"id"`
	CaseID      string    `json:"case_id"`
	ContactID   string    `json:"contact_id"`
	ContactName string    `json:"contact_name"`
	Email       string    `json:"email"`
	CreatedBy   string    `json:"created_by"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
	Used        time.Time `json:"used,omitzero"`
	UserID      string    `json:"user_id,omitempty"` // the account made from it
	Revoked     time.Time `json:"revoked,omitzero"`
}

// State is "used", "revoked", "expired" or "pending".
func (i *Invitation) State(now time.Time) string {
	switch {
	case !i.Used.IsZero():
		return "used"
	case !i.Revoked.IsZero():
		return "revoked"
	case !now.Before(i.Expires):
		return "expired"
	}
	return "pending"
}

// InvitationInfo is what the holder of an invitation is shown before they
// accept it: their own name and the post that invites them, nothing of the
// case.
type InvitationInfo struct {
	ContactName string    `json:"contact_name"`
	Post        string    `json:"post"`
	Expires     time.Time `json:"expires"`
}

// Errors the holder of an invitation link is shown.
var (
	ErrInviteUnknown = problem.New(problem.NotFound, "This invitation link is not valid. Ask the consulate for a new one.")
	ErrInviteRevoked = problem.New(problem.Forbidden, "This invitation was withdrawn by the consulate. Ask them for a new one if you need it.")
	ErrInviteUsed    = problem.New(problem.Forbidden, "This invitation has been used already: sign in with the account made from it.")
)

func errInviteExpired(at time.Time) error {
	return problem.New(problem.Forbidden, "This invitation expired on %s. Ask the consulate for a new one.", at.UTC().Format("2006-01-02"))
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Invite makes a single-use invitation for a contact with an e-mail address
// and no account yet, to whom something may be disclosed (an active consent
// or exception names them), and mails them the link.
// Earlier pending invitations of the contact are revoked. It returns the
// link's path (InvitePath and the token: the token is not kept).
func (s *Service) Invite(ctx context.Context, a cases.Actor, caseID, contactID string) (string, *Invitation, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("make invitation token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.now().UTC().Truncate(time.Microsecond)
	inv := &Invitation{ID: db.NewID(), CaseID: caseID, ContactID: contactID, CreatedBy: a.User.DisplayName, Created: now, Expires: now.Add(s.opts.InviteTTL)}
	var refused error
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		if err := s.lockCase(ctx, tx, caseID); err != nil {
			return err
		}
		ct, err := contact(ctx, tx, caseID, contactID)
		if err != nil {
			return err
		}
		switch {
		case !ct.Archived.IsZero():
			return problem.New(problem.Conflict, "%s is archived: nothing is shared with them.", ct.Name)
		case ct.Email == "":
			return problem.Field("email", "Add the contact's e-mail address first: the invitation is sent there.")
		case ct.UserID != "":
			return problem.New(problem.Conflict, "%s has an account already.", ct.Name)
		}
		ds, err := s.decide(ctx, tx, caseID, contactID)
		if err != nil {
			return err
		}
		if len(allowedList(ds)) == 0 {
			refused = problem.New(problem.Forbidden, "The detainee has not consented to share anything with %s: record their consent before inviting them.", ct.Name)
			return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.invite_refused", ObjectType: "case", ObjectID: caseID,
				Detail: fmt.Sprintf("contact=%s nothing may be disclosed (no active consent or exception)", contactID)})
		}
		inv.ContactName, inv.Email = ct.Name, ct.Email
		if _, err := tx.ExecContext(ctx, `UPDATE family_invitations SET revoked_at = $2, revoked_by = $3 WHERE contact_id = $1 AND used_at IS NULL AND revoked_at IS NULL`,
			contactID, db.Instant(now), a.User.DisplayName); err != nil {
			return fmt.Errorf("revoke earlier invitations: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO family_invitations (id, case_id, contact_id, token_hash, email, created_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, inv.ID, caseID, contactID, hashToken(token), inv.Email, inv.CreatedBy,
			db.Instant(now), db.Instant(inv.Expires)); err != nil {
			return fmt.Errorf("create invitation: %w", err)
		}
		// The invitation is written in the contact's first language that
		// Attaché has, and its link opens the pages in it.
		w := s.opts.Catalog.In(ct.Languages...)
		err = s.send(ctx, tx, notify.Mail{Kind: notify.FamilyMessage, To: ct.Email, Name: ct.Name, Key: "family-invite:" + inv.ID,
			Subject: w.T("Your invitation to the consulate's family pages"),
			Text: w.T("Hello %s,", ct.Name) + "\n\n" + w.T("The consulate invites you to open an account on its family pages.") + "\n\n" +
				w.T("Open this link to choose a username and a password. It works once, until %s:", w.DateTime(inv.Expires, "UTC")) + "\n" +
				s.opts.BaseURL + InvitePath + token + "?lang=" + w.Lang + "\n\n" + w.T("If you did not expect this message, ignore it.") + "\n"})
		if err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.invite", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("contact=%s invitation=%s expires=%s shared=%s", contactID, inv.ID, inv.Expires.Format(time.RFC3339), bases(ds, nil))})
	})
	if err != nil {
		return "", nil, err
	}
	if refused != nil {
		return "", nil, refused
	}
	return InvitePath + token, inv, nil
}

// RevokeInvitation withdraws a pending invitation.
func (s *Service) RevokeInvitation(ctx context.Context, a cases.Actor, caseID, invitationID string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE family_invitations SET revoked_at = $3, revoked_by = $4
			WHERE id = $1 AND case_id = $2 AND used_at IS NULL AND revoked_at IS NULL`, invitationID, caseID, db.Instant(s.now()), a.User.DisplayName)
		if err != nil {
			return fmt.Errorf("revoke invitation: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.New(problem.NotFound, "No pending invitation with this id.")
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "family.invite_revoke", ObjectType: "case", ObjectID: caseID,
			Detail: "invitation=" + invitationID})
	})
}

// Invitations lists a case's invitations, newest first.
func (s *Service) Invitations(ctx context.Context, a cases.Actor, caseID string) ([]Invitation, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.ReadCase, caseID); err != nil {
		return nil, err
	}
	out, err := s.listInvitations(ctx, caseID)
	if err != nil {
		return nil, err
	}
	return out, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "case.family_invitations_view", ObjectType: "case", ObjectID: caseID,
		Detail: fmt.Sprintf("invitations=%d", len(out))})
}

func (s *Service) listInvitations(ctx context.Context, caseID string) ([]Invitation, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT i.id, i.contact_id, k.name, i.email, i.created_by, i.created_at, i.expires_at, i.used_at,
		COALESCE(i.user_id, ''), i.revoked_at FROM family_invitations i JOIN family_contacts k ON k.id = i.contact_id
		WHERE i.case_id = $1 ORDER BY i.created_at DESC, i.id DESC`, caseID)
	if err != nil {
		return nil, fmt.Errorf("list invitations: %w", err)
	}
	var out []Invitation
	for rows.Next() {
		i := Invitation{CaseID: caseID}
		var created, expires int64
		var used, revoked sql.NullInt64
		if err := rows.Scan(&i.ID, &i.ContactID, &i.ContactName, &i.Email, &i.CreatedBy, &created, &expires, &used, &i.UserID, &revoked); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list invitations: %w", err)
		}
		i.Created, i.Expires, i.Used, i.Revoked = db.Time(created), db.Time(expires), db.NullTime(used), db.NullTime(revoked)
		out = append(out, i)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list invitations: %w", err)
	}
	return out, nil
}

// pendingInvite is an invitation read by its token.
type pendingInvite struct {
	Invitation
	post     string
	archived bool
}

func (s *Service) inviteByToken(ctx context.Context, q db.Querier, token string) (*pendingInvite, error) {
	var p pendingInvite
	var created, expires int64
	var used, revoked, archived sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT i.id, i.case_id, i.contact_id, k.name, i.email, i.created_at, i.expires_at, i.used_at, i.revoked_at,
		k.archived_at, c.post FROM family_invitations i JOIN family_contacts k ON k.id = i.contact_id JOIN cases c ON c.id = i.case_id
		WHERE i.token_hash = $1`, hashToken(token)).
		Scan(&p.ID, &p.CaseID, &p.ContactID, &p.ContactName, &p.Email, &created, &expires, &used, &revoked, &archived, &p.post)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrInviteUnknown
	}
	if err != nil {
		return nil, fmt.Errorf("read invitation: %w", err)
	}
	p.Created, p.Expires, p.Used, p.Revoked, p.archived = db.Time(created), db.Time(expires), db.NullTime(used), db.NullTime(revoked), archived.Valid
	return &p, nil
}

// usable says why an invitation cannot be used, or nil.
func (p *pendingInvite) usable(now time.Time) error {
	switch p.State(now) {
	case "used":
		return ErrInviteUsed
	case "revoked":
		return ErrInviteRevoked
	case "expired":
		return errInviteExpired(p.Expires)
	}
	if p.archived {
		return ErrInviteRevoked
	}
	return nil
}

func inviteActor(p *pendingInvite, address string) audit.Actor {
	if p == nil {
		return audit.Actor{ID: "anonymous", Name: "invitation holder", Address: address}
	}
	return audit.Actor{ID: "invite:" + p.ID, Name: p.ContactName, Address: address}
}

// Invitation shows the holder of a token whom it is for. Every look,
// refused or not, is audited.
func (s *Service) Invitation(ctx context.Context, token, address string) (*InvitationInfo, error) {
	p, err := s.inviteByToken(ctx, s.db, token)
	if err == nil {
		err = p.usable(s.now())
	}
	if err != nil {
		if problem.KindOf(err) == problem.Internal {
			return nil, err
		}
		if aerr := s.audit.Record(ctx, refusedInvite(p, address, err)); aerr != nil {
			return nil, aerr
		}
		return nil, err
	}
	info := &InvitationInfo{ContactName: p.ContactName, Post: p.post, Expires: p.Expires}
	return info, s.audit.Record(ctx, audit.Entry{Actor: inviteActor(p, address), Action: "family.invite_view", ObjectType: "case", ObjectID: p.CaseID,
		Detail: fmt.Sprintf("invitation=%s contact=%s", p.ID, p.ContactID)})
}

func refusedInvite(p *pendingInvite, address string, why error) audit.Entry {
	e := audit.Entry{Actor: inviteActor(p, address), Action: "family.invite_refused", ObjectType: "family_invitation", Detail: why.Error()}
	if p != nil {
		e.ObjectType, e.ObjectID, e.Detail = "case", p.CaseID, fmt.Sprintf("invitation=%s contact=%s: %s", p.ID, p.ContactID, why.Error())
	}
	return e
}

// Accept uses an invitation: it creates the contact's family account
// (named as the contact, with the e-mail the invitation went to), links it
// to the contact and marks the invitation used, all at once. A used,
// expired or revoked invitation is refused and nothing is created; so is an
// invalid username or password, which leaves the invitation usable.
func (s *Service) Accept(ctx context.Context, token, username, password, lang, address string) (*auth.User, error) {
	var u *auth.User
	var p *pendingInvite
	var refused error
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if p, err = s.inviteByToken(ctx, tx, token); err != nil {
			refused = err
			return err
		}
		if err := s.lockCase(ctx, tx, p.CaseID); err != nil {
			return err
		}
		now := s.now()
		if err := p.usable(now); err != nil {
			refused = err
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE family_invitations SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2`,
			p.ID, db.Instant(now))
		if err != nil {
			return fmt.Errorf("use invitation: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			refused = ErrInviteUsed
			return refused
		}
		actor := inviteActor(p, address)
		u, err = s.users.CreateFamilyAccount(ctx, tx, actor, auth.UserInput{Username: username, DisplayName: p.ContactName, Email: p.Email, Lang: lang}, password)
		if err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `UPDATE family_contacts SET user_id = $2 WHERE id = $1 AND user_id IS NULL AND archived_at IS NULL`, p.ContactID, u.ID)
		if err != nil {
			return fmt.Errorf("link account to contact: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			refused = problem.New(problem.Conflict, "%s has an account already: sign in with it.", p.ContactName)
			return refused
		}
		if _, err := tx.ExecContext(ctx, `UPDATE family_invitations SET user_id = $2 WHERE id = $1`, p.ID, u.ID); err != nil {
			return fmt.Errorf("use invitation: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: actor, Action: "family.invite_accept", ObjectType: "case", ObjectID: p.CaseID,
			Detail: fmt.Sprintf("invitation=%s contact=%s user=%s", p.ID, p.ContactID, u.ID)})
	})
	if err != nil {
		if refused != nil {
			if aerr := s.audit.Record(ctx, refusedInvite(p, address, refused)); aerr != nil {
				return nil, aerr
			}
		}
		return nil, err
	}
	return u, nil
}
