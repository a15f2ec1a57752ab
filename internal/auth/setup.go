package auth

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
)

// setupKey is the settings row that holds the hash of the one-time setup
// token and its expiry.
const setupKey = "setup_token"

// SetupTokenLifetime is how long a printed setup link works.
const SetupTokenLifetime = 24 * time.Hour

// NewSetupToken returns a fresh one-time token for creating the first
// administrator, replacing any earlier one, or "" when accounts exist.
func (s *Service) NewSetupToken(ctx context.Context) (string, error) {
	token := randomToken(24)
	var issued bool
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.db.Lock(ctx, tx, "attache.setup"); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
			return fmt.Errorf("count users: %w", err)
		}
		if n > 0 {
			return nil
		}
		value := fmt.Sprintf("%s %d", hashToken(token), db.Instant(s.now().Add(SetupTokenLifetime)))
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, setupKey, value, db.Instant(s.now()))
		issued = err == nil
		return err
	})
	if err != nil || !issued {
		return "", err
	}
	return token, nil
}

var errBadSetup = problem.New(problem.NotFound, "This setup link is not valid: it was used, replaced or has expired. Restart the server for a new one, or use \"attache user add\".")

// SetupOpen reports whether token is the live setup token.
func (s *Service) SetupOpen(ctx context.Context, token string) error {
	return s.checkSetupToken(ctx, s.db, token)
}

func (s *Service) checkSetupToken(ctx context.Context, q db.Querier, token string) error {
	var value string
	err := q.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = $1`, setupKey).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return errBadSetup
	}
	if err != nil {
		return fmt.Errorf("read setup token: %w", err)
	}
	var hash string
	var expires int64
	if _, err := fmt.Sscanf(value, "%s %d", &hash, &expires); err != nil {
		return errBadSetup
	}
	if subtle.ConstantTimeCompare([]byte(hash), []byte(hashToken(token))) != 1 || !s.now().Before(db.Time(expires)) {
		return errBadSetup
	}
	return nil
}

// CompleteSetup creates the first administrator with the setup token, which
// it then destroys. It fails once any account exists.
func (s *Service) CompleteSetup(ctx context.Context, token, address string, in UserInput, password string) (*User, error) {
	in.Role = RoleAdmin
	f := problem.Fields{}
	in.validate(f)
	if msg := checkPasswordRules(in.Username, password); !msg.IsZero() {
		f.AddText("password", msg)
	}
	if err := s.checkSetupToken(ctx, s.db, token); err != nil {
		return nil, err
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := &User{ID: db.NewID(), Username: in.Username, DisplayName: in.DisplayName, Email: in.Email, Role: RoleAdmin, CreatedAt: now, UpdatedAt: now}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.db.Lock(ctx, tx, "attache.setup"); err != nil {
			return err
		}
		if err := s.checkSetupToken(ctx, tx, token); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
			return fmt.Errorf("count users: %w", err)
		}
		if n > 0 {
			return errBadSetup
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM settings WHERE key = $1`, setupKey); err != nil {
			return fmt.Errorf("destroy setup token: %w", err)
		}
		if err := insertUser(ctx, tx, u, HashPassword(password, s.Params)); err != nil {
			return fmt.Errorf("create first administrator: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: audit.Actor{ID: u.ID, Name: u.Username, Address: address},
			Action: "user.create", ObjectType: "user", ObjectID: u.ID, Detail: "first administrator, by setup link"})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
