package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/db"
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

	dummyHash func() string
}

func (s *Service) revoked(ctx context.Context) {
	if s.OnRevoke != nil {
		s.OnRevoke(ctx)
	}
}

// NewService returns a Service with production defaults.
func NewService(d *db.DB, a *audit.Log, log *slog.Logger) *Service {
	s := &Service{
		db: d, audit: a, log: log, now: time.Now,
		Params:      DefaultPasswordParams,
		SessionIdle: 2 * time.Hour,
		SessionMax:  12 * time.Hour,
		Throttle:    DefaultThrottleRules,
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
