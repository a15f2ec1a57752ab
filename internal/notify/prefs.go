package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
)

// always reports whether k is a kind that cannot be turned off.
func (k Kind) always() bool {
	for _, i := range Kinds {
		if i.Kind == k {
			return i.Always
		}
	}
	return false
}

// Preferences returns, for every kind, whether userID gets it by e-mail: on
// unless they turned it off, and always on for Always kinds.
func Preferences(ctx context.Context, q db.Querier, userID string) (map[Kind]bool, error) {
	out := make(map[Kind]bool, len(Kinds))
	for _, i := range Kinds {
		out[i.Kind] = true
	}
	rows, err := q.QueryContext(ctx, `SELECT kind, email FROM notification_prefs WHERE user_id = $1`, userID)
	if err != nil {
		return nil, fmt.Errorf("read notification preferences: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind string
		var on bool
		if err := rows.Scan(&kind, &on); err != nil {
			return nil, fmt.Errorf("read notification preferences: %w", err)
		}
		if k := Kind(kind); k.Known() && !k.always() {
			out[k] = on
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read notification preferences: %w", err)
	}
	return out, nil
}

// SetPreferences records which kinds userID gets by e-mail. Kinds missing
// from on keep their setting; Always kinds stay on whatever on says; an
// unknown kind is refused and nothing is changed.
func SetPreferences(ctx context.Context, tx *sql.Tx, userID string, on map[Kind]bool) error {
	for k := range on {
		if !k.Known() {
			return problem.Fieldf("kind", "There is no kind of notice %q.", string(k))
		}
	}
	now := db.Instant(time.Now())
	for _, i := range Kinds {
		v, ok := on[i.Kind]
		if !ok {
			continue
		}
		if i.Always {
			v = true
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO notification_prefs (user_id, kind, email, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (user_id, kind) DO UPDATE SET email = excluded.email, updated_at = excluded.updated_at`,
			userID, string(i.Kind), v, now); err != nil {
			return fmt.Errorf("set notification preference %s: %w", i.Kind, err)
		}
	}
	return nil
}

// wants reports whether userID gets mail of kind k (always true without a
// user, and for Always kinds).
func wants(ctx context.Context, q db.Querier, userID string, k Kind) (bool, error) {
	if userID == "" || k.always() {
		return true, nil
	}
	var on bool
	err := q.QueryRowContext(ctx, `SELECT email FROM notification_prefs WHERE user_id = $1 AND kind = $2`, userID, string(k)).Scan(&on)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read notification preference: %w", err)
	}
	return on, nil
}
