package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
)

// Service manages accounts, sessions and tokens. Every change it makes is
// written to the audit log in the same transaction.
type Service struct {
	db    *db.DB
	audit *audit.Log
	log   *slog.Logger
	now   func() time.Time

	// Params are the password hashing costs.
	Params PasswordParams
	// SessionIdle ends a session nobody used for this long; SessionMax ends
	// every session this long after sign-in.
	SessionIdle, SessionMax time.Duration
	// Throttle slows repeated failed sign-ins.
	Throttle ThrottleRules

	// OnRevoke, when set, is told after a credential stops counting (an
	// account disabled, a session ended, a password changed, a token
	// revoked): calls take out whoever it let in.
	OnRevoke func(context.Context)
	// WebAuthn is the relying party for passkeys and security keys, nil
	// where the server has no host name to bind them to.
	WebAuthn *webauthn.WebAuthn
	// MFADefault is whether a ministry role for which nothing is set in the
	// database requires a second factor: true. (The demo data sets every
	// role optional in the database, so that all nodes agree; tests of
	// other things turn this off.)
	MFADefault bool
	// HashWait is how long a password check waits for one of the slots
	// that bound how many run at once, before the caller is told the
	// server is busy.
	HashWait time.Duration

	dummyHash func() string
	// hashSlots bound the password checks that run at once: each takes the
	// memory of its argon2id cost (64 MiB in production), and anyone can
	// ask for one by signing in.
	hashSlots chan struct{}
}

func (s *Service) revoked(ctx context.Context) {
	if s.OnRevoke != nil {
		s.OnRevoke(ctx)
	}
}

// errBusy answers a sign-in when every password check slot stays taken.
func errBusy() error {
	e := problem.New(problem.RateLimited, "The server is busy signing people in. Try again in a few seconds.")
	e.RetryAfter = 3
	return e
}

// checkPassword checks a password against the hash encoded returns, in
// one of the bounded slots (encoded may itself hash, as the dummy does).
func (s *Service) checkPassword(ctx context.Context, password string, encoded func() string) (bool, error) {
	t := time.NewTimer(s.HashWait)
	defer t.Stop()
	select {
	case s.hashSlots <- struct{}{}:
	case <-t.C:
		s.log.Warn("sign-in refused: every password check slot is busy", slog.Int("slots", cap(s.hashSlots)))
		return false, errBusy()
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-s.hashSlots }()
	return CheckPassword(password, encoded())
}

// NewService returns a Service with production defaults.
func NewService(d *db.DB, a *audit.Log, log *slog.Logger) *Service {
	s := &Service{
		db: d, audit: a, log: log, now: time.Now,
		Params:      DefaultPasswordParams,
		SessionIdle: 2 * time.Hour,
		SessionMax:  12 * time.Hour,
		Throttle:    DefaultThrottleRules,
		HashWait:    3 * time.Second,
		MFADefault:  true,
		hashSlots:   make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
	}
	s.dummyHash = sync.OnceValue(func() string { return HashPassword("attache-dummy-password", s.Params) })
	return s
}

// SetClock replaces the clock, for tests.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Now returns the service's current time.
func (s *Service) Now() time.Time { return s.now() }

// randomToken returns n random bytes, base64url-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is how secrets handed to clients (session cookies, API tokens,
// device cookies, setup links) are stored: their SHA-256, never themselves.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
