package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
)

// Single sign-on: an account that a ministry's identity provider vouches
// for. Its role, post and desk come from the provider's claims at every
// sign-in; it has no password here, and the provider asks for its second
// factor.

// ExternalIdentity is who an identity provider says signed in.
type ExternalIdentity struct {
	Issuer, Subject       string
	Username, Name, Email string
	Role                  Role
	Post, Desk            string
	AuthTime              time.Time // when the provider authenticated them
	IDToken               string
}

var errNoRole = problem.New(problem.Unauthorized, "Your ministry account has no role in Attaché. Ask your administrator to give you one at the identity provider.")

// ExternalLogin signs in the account of an identity the provider vouched
// for: made at the first sign-in, and its details, role, post and desk
// brought in line with the claims at each (audited).
func (s *Service) ExternalLogin(ctx context.Context, id ExternalIdentity, address, userAgent string) (*LoginResult, error) {
	if id.Role == "" || !id.Role.Valid() {
		s.log.Info("single sign-on refused: no role", "issuer", id.Issuer, "subject", id.Subject)
		return nil, errNoRole
	}
	in := UserInput{Username: id.Username, DisplayName: id.Name, Email: id.Email, Role: id.Role, Post: id.Post, Desk: id.Desk}
	if in.DisplayName == "" {
		in.DisplayName = id.Username
	}
	f := problem.Fields{}
	in.validate(f)
	if len(f) > 0 {
		var msgs problem.Sentences
		for _, k := range slices.Sorted(maps.Keys(f)) {
			msgs = append(msgs, problem.Textf("%s: %s", k, f[k]))
		}
		err := problem.New(problem.Unauthorized, "Your ministry account's details do not fit Attaché (%s). Ask your administrator.", msgs)
		s.log.Info("single sign-on refused: claims do not make an account", "subject", id.Subject, "problems", err.Message)
		return nil, err
	}
	now := s.now().UTC()
	res := &LoginResult{}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		actor := audit.Actor{ID: "sso", Name: id.Issuer, Address: address}
		var userID string
		err := tx.QueryRowContext(ctx, `SELECT user_id FROM user_identities WHERE issuer = $1 AND subject = $2`, id.Issuer, id.Subject).Scan(&userID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			u := &User{ID: db.NewID(), Username: in.Username, DisplayName: in.DisplayName, Email: in.Email, Role: in.Role,
				Post: in.Post, Desk: in.Desk, CreatedAt: now, UpdatedAt: now}
			err := insertUser(ctx, tx, u, "") // no password here
			if db.IsUniqueViolation(err) {
				return problem.New(problem.Unauthorized, "A local account already has the username %s. Ask your administrator to rename one of them.", in.Username)
			}
			if err != nil {
				return fmt.Errorf("create single sign-on account: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_identities (issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4)`,
				id.Issuer, id.Subject, u.ID, db.Instant(now)); err != nil {
				return fmt.Errorf("link identity: %w", err)
			}
			if err := s.audit.Append(ctx, tx, audit.Entry{Actor: actor, Action: "user.create", ObjectType: "user", ObjectID: u.ID,
				Detail: fmt.Sprintf("single sign-on; username=%s role=%s post=%s desk=%s", u.Username, u.Role, u.Post, u.Desk)}); err != nil {
				return err
			}
			res.User = u
		case err != nil:
			return fmt.Errorf("find single sign-on account: %w", err)
		default:
			old, err := getUser(ctx, tx, `id = $1`, userID)
			if err != nil {
				return err
			}
			if old.Disabled {
				return problem.New(problem.Unauthorized, "Your Attaché account is disabled. Ask your administrator.")
			}
			in.Lang, in.Disabled = old.Lang, false
			u := *old
			u.DisplayName, u.Email, u.Role, u.Post, u.Desk = in.DisplayName, in.Email, in.Role, in.Post, in.Desk
			if changes := describeChange(old, in); changes != "no change" {
				if _, err := tx.ExecContext(ctx, `UPDATE users SET display_name = $2, email = $3, role = $4, post = $5, desk = $6, updated_at = $7 WHERE id = $1`,
					u.ID, u.DisplayName, u.Email, string(u.Role), u.Post, u.Desk, db.Instant(now)); err != nil {
					return fmt.Errorf("update single sign-on account: %w", err)
				}
				if err := s.audit.Append(ctx, tx, audit.Entry{Actor: actor, Action: "user.update", ObjectType: "user", ObjectID: u.ID,
					Detail: "from the identity provider's claims: " + changes}); err != nil {
					return err
				}
			}
			res.User = &u
		}
		var err2 error
		res.SessionToken, res.Session, err2 = s.startSession(ctx, tx, res.User, address, userAgent,
			sessionStart{factors: []string{"oidc"}, verifiedAt: id.AuthTime, idToken: id.IDToken})
		if err2 != nil {
			return err2
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: res.User.Actor(address), Action: "session.login", ObjectType: "user", ObjectID: res.User.ID,
			Detail: "single sign-on: " + id.Issuer})
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// ExternalStepUp counts a fresh authentication at the identity provider
// (asked for with max_age=0) as step-up for sess, when it is the same
// person and the provider authenticated them just now.
func (s *Service) ExternalStepUp(ctx context.Context, u *User, sess *Session, id ExternalIdentity, address string) error {
	var userID string
	err := s.db.QueryRowContext(ctx, `SELECT user_id FROM user_identities WHERE issuer = $1 AND subject = $2`, id.Issuer, id.Subject).Scan(&userID)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && userID != u.ID) {
		return problem.New(problem.Unauthorized, "You confirmed as another person than the one signed in here.")
	}
	if err != nil {
		return fmt.Errorf("find single sign-on account: %w", err)
	}
	if id.AuthTime.IsZero() || s.now().Sub(id.AuthTime) > 5*time.Minute {
		return problem.New(problem.Unauthorized, "The identity provider did not ask you to sign in again. Try again.")
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		return s.secondFactorUsed(ctx, tx, u, sess, "oidc", address)
	})
}

// External reports whether userID signs in through an identity provider
// (and has no password here).
func (s *Service) External(ctx context.Context, userID string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM user_identities WHERE user_id = $1`, userID).Scan(&n); err != nil {
		return false, fmt.Errorf("read identities: %w", err)
	}
	return n > 0, nil
}
