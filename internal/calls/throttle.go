package calls

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/visits"
)

// An address with joinFailures unknown links in a joinWindow is refused
// until the window ends. The count is in the database, so that spreading
// guesses over several nodes gains nothing.
const (
	joinFailures = 20
	joinWindow   = 10 * time.Minute
)

// Admit checks a join link's token for its visit, slowing addresses that
// guess: an unknown token counts against the address, and an address with
// too many is answered "too many" for unknown tokens until its window
// ends. A valid link always works, whatever its address guessed (a
// facility's terminals may share one address with whoever guesses).
func (s *Service) Admit(ctx context.Context, token, address string) (*visits.Admission, error) {
	now := time.Now()
	ad, err := s.visits.Admit(ctx, token, address)
	if !problem.Is(err, problem.NotFound) {
		return ad, err
	}
	blocked, berr := s.joinBlocked(ctx, address, now)
	if berr != nil {
		return nil, berr
	}
	if blocked {
		e := problem.New(problem.RateLimited, "Too many invalid links from this address. Try again in ten minutes.")
		e.RetryAfter = int(joinWindow.Seconds())
		return nil, e
	}
	if ferr := s.joinFailed(ctx, address, now); ferr != nil {
		return nil, ferr
	}
	return ad, err
}

func (s *Service) joinBlocked(ctx context.Context, address string, now time.Time) (bool, error) {
	var failures int
	var start int64
	err := s.db.QueryRowContext(ctx, `SELECT failures, window_start FROM join_throttle WHERE address = $1`, address).Scan(&failures, &start)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read join throttle: %w", err)
	}
	return now.Sub(db.Time(start)) < joinWindow && failures >= joinFailures, nil
}

// joinFailed counts one unknown link in one statement, so that concurrent
// guesses on several nodes all count; a window that ended starts again.
func (s *Service) joinFailed(ctx context.Context, address string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO join_throttle (address, failures, window_start) VALUES ($1, 1, $2)
		ON CONFLICT (address) DO UPDATE SET
			failures = CASE WHEN excluded.window_start - join_throttle.window_start >= $3 THEN 1 ELSE join_throttle.failures + 1 END,
			window_start = CASE WHEN excluded.window_start - join_throttle.window_start >= $3 THEN excluded.window_start ELSE join_throttle.window_start END`,
		address, db.Instant(now), joinWindow.Microseconds())
	if err != nil {
		return fmt.Errorf("count join failure: %w", err)
	}
	return nil
}
