package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
)

// Token is a personal API token; its secret is shown once, at creation.
type Token struct {
	ID         string
	UserID     string
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// TokenPrefix starts every API token, so that leaked ones are easy to spot.
const TokenPrefix = "att_"

// CreateToken makes a new API token for the user and returns its secret.
func (s *Service) CreateToken(ctx context.Context, actor audit.Actor, userID, name string) (string, *Token, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", nil, problem.Field("name", "Name the token after what will use it, e.g. \"reporting script\".")
	}
	if len(name) > 100 {
		return "", nil, problem.Field("name", "Use at most 100 characters.")
	}
	secret := TokenPrefix + randomToken(32)
	now := s.now().UTC().Truncate(time.Microsecond)
	t := &Token{ID: db.NewID(), UserID: userID, Name: name, CreatedAt: now}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := getUser(ctx, tx, `id = $1`, userID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
			t.ID, userID, name, hashToken(secret), db.Instant(now))
		if err != nil {
			return fmt.Errorf("create token: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: actor, Action: "token.create", ObjectType: "api_token", ObjectID: t.ID,
			Detail: fmt.Sprintf("user=%s name=%q", userID, name)})
	})
	if err != nil {
		return "", nil, err
	}
	return secret, t, nil
}

// Tokens lists a user's tokens, newest first, revoked ones included.
func (s *Service) Tokens(ctx context.Context, userID string) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t := Token{UserID: userID}
		var created int64
		var used, revoked sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Name, &created, &used, &revoked); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		t.CreatedAt, t.LastUsedAt, t.RevokedAt = db.Time(created), db.NullTime(used), db.NullTime(revoked)
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes one of the user's tokens; another user's token is
// "not found".
func (s *Service) RevokeToken(ctx context.Context, actor audit.Actor, userID, tokenID string) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`,
			tokenID, userID, db.Instant(s.now()))
		if err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.New(problem.NotFound, "No such token.")
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: actor, Action: "token.revoke", ObjectType: "api_token", ObjectID: tokenID})
	})
	if err == nil {
		s.revoked(ctx)
	}
	return err
}

var errBadToken = problem.New(problem.Unauthorized, "The API token is missing, unknown or revoked.")

// TokenUser returns the user of a live API token.
func (s *Service) TokenUser(ctx context.Context, secret string) (*User, error) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return nil, errBadToken
	}
	var id, userID string
	var used sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT id, user_id, last_used_at FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL`, hashToken(secret)).
		Scan(&id, &userID, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, fmt.Errorf("read token: %w", err)
	}
	u, err := s.User(ctx, userID)
	if problem.Is(err, problem.NotFound) || (err == nil && u.Disabled) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !used.Valid || now.Sub(db.Time(used.Int64)) > time.Minute {
		if _, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, id, db.Instant(now)); err != nil {
			return nil, fmt.Errorf("touch token: %w", err)
		}
	}
	return u, nil
}
