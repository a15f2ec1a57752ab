package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/attache-org/attache/internal/db"
)

// ThrottleRules slow down repeated failed sign-ins, per account and per
// client address. After Free failures in a row, each further attempt must
// wait 1 s, then 2 s, 4 s… up to Cap; attempts refused while waiting do not
// count. Failures are forgotten after Quiet without one, and the account's
// count on a successful sign-in. A browser that signed in to the account
// before is held only by a count of its own (with the account's rules), not
// by the account's nor its address's, so that neither an attacker
// hammering the account nor others failing behind the same address can
// lock its owner out.
type ThrottleRules struct {
	AccountFree, AddressFree int
	AccountCap, AddressCap   time.Duration
	Quiet                    time.Duration
}

// DefaultThrottleRules are used in production.
var DefaultThrottleRules = ThrottleRules{
	AccountFree: 5, AccountCap: 5 * time.Minute,
	AddressFree: 20, AddressCap: 15 * time.Minute,
	Quiet: 30 * time.Minute,
}

type throttleKey struct {
	key  string
	free int
	cap  time.Duration
}

func (k throttleKey) delay(failures int) time.Duration {
	if failures < k.free {
		return 0
	}
	n := failures - k.free
	if n > 30 {
		return k.cap
	}
	return min(time.Second<<n, k.cap)
}

// reserve counts an attempt against every key before its password is
// checked, in one transaction that holds the keys' locks, so that attempts
// made in parallel (on one node or several) cannot all pass a throttle that
// has not yet counted them. It returns how long the caller must wait
// instead, counting nothing. An attempt that turns out not to be a failure
// is taken back with unreserve.
func (s *Service) reserve(ctx context.Context, keys []throttleKey, now time.Time) (time.Duration, error) {
	var wait time.Duration
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			if err := s.db.Lock(ctx, tx, "attache.throttle."+k.key); err != nil {
				return err
			}
		}
		var err error
		if wait, err = s.throttled(ctx, tx, keys, now); err != nil || wait > 0 {
			return err
		}
		return s.recordFailure(ctx, tx, keys, now)
	})
	return wait, err
}

// unreserve takes back an attempt counted by reserve that was no failure
// (the password was right, or it was never checked).
func (s *Service) unreserve(ctx context.Context, keys []throttleKey) error {
	for _, k := range keys {
		if _, err := s.db.ExecContext(ctx, `UPDATE login_throttle SET failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END WHERE key = $1`,
			k.key); err != nil {
			return fmt.Errorf("take back a sign-in attempt: %w", err)
		}
	}
	return nil
}

// throttled returns how long the caller must wait before trying again.
func (s *Service) throttled(ctx context.Context, q db.Querier, keys []throttleKey, now time.Time) (time.Duration, error) {
	var wait time.Duration
	for _, k := range keys {
		var failures int
		var last int64
		err := q.QueryRowContext(ctx, `SELECT failures, last_failure_at FROM login_throttle WHERE key = $1`, k.key).Scan(&failures, &last)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read throttle: %w", err)
		}
		lastAt := db.Time(last)
		if now.Sub(lastAt) >= s.Throttle.Quiet {
			continue
		}
		if until := lastAt.Add(k.delay(failures)); until.After(now) {
			wait = max(wait, until.Sub(now))
		}
	}
	return wait, nil
}

func (s *Service) recordFailure(ctx context.Context, q db.Querier, keys []throttleKey, now time.Time) error {
	quiet := s.Throttle.Quiet.Microseconds()
	for _, k := range keys {
		_, err := q.ExecContext(ctx, `INSERT INTO login_throttle (key, failures, last_failure_at) VALUES ($1, 1, $2)
			ON CONFLICT (key) DO UPDATE SET
				failures = CASE WHEN excluded.last_failure_at - login_throttle.last_failure_at >= $3 THEN 1 ELSE login_throttle.failures + 1 END,
				last_failure_at = excluded.last_failure_at`, k.key, db.Instant(now), quiet)
		if err != nil {
			return fmt.Errorf("record failed sign-in: %w", err)
		}
	}
	return nil
}
