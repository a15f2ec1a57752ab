package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
)

// FactorNames name the ways a session's holder proved who they are.
var FactorNames = map[string]string{
	"password": "Password", "totp": "Authenticator app", "webauthn": "Passkey or security key",
	"recovery": "Recovery code", "oidc": "Ministry sign-in",
}

// Session is a signed-in browser.
type Session struct {
	ID         string // SHA-256 of the cookie token
	UserID     string
	CSRF       string // the token every state-changing form must carry
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	Address    string
	UserAgent  string
	// Factors are how its holder proved who they are ("password", "totp",
	// "webauthn", "recovery", "oidc"), in the order they were used.
	Factors []string
	// VerifiedAt is when its holder last proved themselves with their
	// strongest factor: the sign-in, or a step-up since.
	VerifiedAt time.Time
	// Pending: the password was right, the second factor is still to come;
	// the session opens nothing but the page that asks for it.
	Pending bool
	// Enrol: the account's role requires a second factor and it has none;
	// the session opens nothing but the pages that set one up.
	Enrol bool
	// IDToken is the identity provider's ID token of a single sign-on
	// session, for signing out there too.
	IDToken string
}

// LoginRequest is a sign-in attempt.
type LoginRequest struct {
	Username    string
	Password    string
	Address     string
	UserAgent   string
	DeviceToken string // the browser's known-device cookie, if any
}

// LoginResult is a successful sign-in (of the password: Session.Pending
// says whether a second factor must follow).
type LoginResult struct {
	User         *User
	SessionToken string // for the session cookie
	Session      *Session
	DeviceToken  string // for the known-device cookie (the same one or a new one)
}

// errBadLogin is the one answer to a wrong username, a wrong password and a
// disabled account, so that none of them can be told apart.
var errBadLogin = problem.New(problem.Unauthorized, "Wrong username or password.")

// Login checks a username and password under the throttling rules and, when
// they match, starts a session.
func (s *Service) Login(ctx context.Context, req LoginRequest) (*LoginResult, error) {
	username := NormalizeUsername(req.Username)
	now := s.now()
	anon := audit.Actor{ID: "anonymous", Name: username, Address: req.Address}

	var userID, hash string
	var disabled bool
	err := s.db.QueryRowContext(ctx, `SELECT id, password_hash, disabled FROM users WHERE username = $1`, username).Scan(&userID, &hash, &disabled)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read user %s: %w", username, err)
	}
	knownDevice := userID != "" && s.isKnownDevice(ctx, userID, req.DeviceToken)

	// A browser that signed in to this account before is held only by its
	// own count: neither an attacker hammering the account nor others
	// failing behind the same address (a facility's or a ministry's NAT)
	// lock its owner out.
	keys := []throttleKey{{"addr:" + req.Address, s.Throttle.AddressFree, s.Throttle.AddressCap},
		{"user:" + username, s.Throttle.AccountFree, s.Throttle.AccountCap}}
	if knownDevice {
		keys = []throttleKey{{"device:" + hashToken(req.DeviceToken), s.Throttle.AccountFree, s.Throttle.AccountCap}}
	}
	if wait, err := s.reserve(ctx, keys, now); err != nil {
		return nil, err
	} else if wait > 0 {
		s.log.Warn("sign-in throttled", slog.String("username", username), slog.String("address", req.Address), slog.Duration("retry_after", wait))
		secs := int((wait + time.Second - 1) / time.Second)
		e := problem.New(problem.RateLimited, "Too many failed sign-ins. Try again in %d seconds.", secs)
		e.RetryAfter = secs
		return nil, e
	}

	// The attempt counts from here: a check that does not run, or a right
	// password, takes it back.
	ok := false
	encoded := func() string { return hash }
	external := userID != "" && hash == "" // signs in through the identity provider only
	if userID == "" || external {
		encoded = s.dummyHash // an unknown user takes as long to refuse as a wrong password
	}
	ok, err = s.checkPassword(ctx, req.Password, encoded)
	if problem.Is(err, problem.RateLimited) || ctx.Err() != nil {
		if uerr := s.unreserve(context.WithoutCancel(ctx), keys); uerr != nil {
			s.log.Error("sign-in: take back an attempt", slog.String("error", uerr.Error()))
		}
		return nil, err
	}
	if err != nil && userID != "" {
		return nil, fmt.Errorf("check password of %s: %w", username, err)
	}
	ok = ok && userID != "" && !external
	if !ok || disabled {
		why := "wrong password"
		switch {
		case external:
			why = "single sign-on account"
		case userID == "":
			why = "unknown user"
		case ok && disabled:
			why = "account disabled"
		}
		s.log.Info("sign-in failed", slog.String("username", username), slog.String("address", req.Address), slog.String("why", why))
		if err := s.audit.Record(ctx, audit.Entry{Actor: anon, Action: "session.login_failed", ObjectType: "user", ObjectID: userID, Detail: why}); err != nil {
			return nil, err
		}
		return nil, errBadLogin
	}

	u, err := s.User(ctx, userID)
	if err != nil {
		return nil, err
	}
	if err := s.unreserve(ctx, keys); err != nil {
		return nil, err
	}
	res := &LoginResult{User: u, DeviceToken: req.DeviceToken}
	second, err := s.hasSecondFactor(ctx, s.db, u.ID)
	if err != nil {
		return nil, err
	}
	required, err := s.MFARequired(ctx, u.Role)
	if err != nil {
		return nil, err
	}
	start := sessionStart{factors: []string{"password"}, pending: second, enrol: required && !second}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_throttle WHERE key IN ($1, $2)`, "user:"+username, "device:"+hashToken(req.DeviceToken)); err != nil {
			return fmt.Errorf("clear throttle: %w", err)
		}
		if knownDevice {
			if _, err := tx.ExecContext(ctx, `UPDATE known_devices SET last_used_at = $2 WHERE token_hash = $1`, hashToken(req.DeviceToken), db.Instant(now)); err != nil {
				return fmt.Errorf("touch device: %w", err)
			}
		} else {
			res.DeviceToken = randomToken(32)
			if _, err := tx.ExecContext(ctx, `INSERT INTO known_devices (token_hash, user_id, created_at, last_used_at) VALUES ($1, $2, $3, $3)`,
				hashToken(res.DeviceToken), u.ID, db.Instant(now)); err != nil {
				return fmt.Errorf("remember device: %w", err)
			}
		}
		res.SessionToken, res.Session, err = s.startSession(ctx, tx, u, req.Address, req.UserAgent, start)
		if err != nil {
			return err
		}
		detail := "password"
		if second {
			detail = "password; second factor to follow"
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: u.Actor(req.Address), Action: "session.login", ObjectType: "user", ObjectID: u.ID, Detail: detail})
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// StartSession signs u in on a new session without a password, after the
// caller has established who they are in the session it replaces (a
// password change: from carries over its factors), or for the first time
// (the setup page: from is nil).
func (s *Service) StartSession(ctx context.Context, u *User, address, userAgent string, from *Session) (string, *Session, error) {
	start := sessionStart{factors: []string{"password"}}
	if from != nil {
		start = sessionStart{factors: from.Factors, verifiedAt: from.VerifiedAt, pending: from.Pending, enrol: from.Enrol, idToken: from.IDToken}
	} else {
		required, err := s.MFARequired(ctx, u.Role)
		if err != nil {
			return "", nil, err
		}
		second, err := s.hasSecondFactor(ctx, s.db, u.ID)
		if err != nil {
			return "", nil, err
		}
		start.pending, start.enrol = second, required && !second
	}
	var token string
	var sess *Session
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		token, sess, err = s.startSession(ctx, tx, u, address, userAgent, start)
		return err
	})
	return token, sess, err
}

// sessionStart is what a new session begins with.
type sessionStart struct {
	factors        []string
	verifiedAt     time.Time // zero for now
	pending, enrol bool
	idToken        string
}

func (s *Service) startSession(ctx context.Context, tx *sql.Tx, u *User, address, userAgent string, st sessionStart) (string, *Session, error) {
	token := randomToken(32)
	now := s.now().UTC().Truncate(time.Microsecond)
	verified := st.verifiedAt
	if verified.IsZero() {
		verified = now
	}
	if st.pending {
		verified = time.Time{} // proved nothing yet
	}
	sess := &Session{ID: hashToken(token), UserID: u.ID, CSRF: randomToken(32), CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(s.SessionMax), Address: address, UserAgent: truncate(userAgent, 300),
		Factors: st.factors, VerifiedAt: verified, Pending: st.pending, Enrol: st.enrol, IDToken: st.idToken}
	_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, user_id, csrf_token, created_at, last_seen_at, expires_at, address, user_agent,
			factors, verified_at, pending, enrol, id_token)
		VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, sess.ID, u.ID, sess.CSRF, db.Instant(now), db.Instant(sess.ExpiresAt), address, sess.UserAgent,
		strings.Join(st.factors, " "), instantOrZero(verified), st.pending, st.enrol, st.idToken)
	if err != nil {
		return "", nil, fmt.Errorf("create session: %w", err)
	}
	return token, sess, nil
}

// instantOrZero stores a zero time as 0.
func instantOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return db.Instant(t)
}

// timeOrZero reads what instantOrZero stored.
func timeOrZero(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return db.Time(us)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// errNoSession is returned for a missing, unknown, expired or idle session.
var errNoSession = problem.New(problem.Unauthorized, "Your session has ended. Please sign in again.")

// SessionUser returns the user and session of a session cookie's token. It
// refuses sessions past their lifetime or idle too long, and accounts that
// were disabled, and deletes the dead session.
func (s *Service) SessionUser(ctx context.Context, token string) (*User, *Session, error) {
	if token == "" {
		return nil, nil, errNoSession
	}
	id := hashToken(token)
	var sess Session
	var created, seen, expires, verified int64
	var factors string
	row := s.db.QueryRowContext(ctx, `SELECT s.user_id, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at, s.address, s.user_agent,
		s.factors, s.verified_at, s.pending, s.enrol, s.id_token, `+
		prefixed("u.", userColumns)+` FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1`, id)
	u, err := scanUser(scanPrefix{row, []any{&sess.UserID, &sess.CSRF, &created, &seen, &expires, &sess.Address, &sess.UserAgent,
		&factors, &verified, &sess.Pending, &sess.Enrol, &sess.IDToken}})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, errNoSession
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read session: %w", err)
	}
	sess.ID, sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = id, db.Time(created), db.Time(seen), db.Time(expires)
	sess.Factors, sess.VerifiedAt = strings.Fields(factors), timeOrZero(verified)
	now := s.now()
	if u.Disabled || !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.SessionIdle {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1`, id); err != nil {
			return nil, nil, fmt.Errorf("delete dead session: %w", err)
		}
		return nil, nil, errNoSession
	}
	// Note activity at most once a minute, to keep reads from writing.
	if now.Sub(sess.LastSeenAt) > time.Minute {
		if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id = $1`, id, db.Instant(now)); err != nil {
			return nil, nil, fmt.Errorf("touch session: %w", err)
		}
		sess.LastSeenAt = now.UTC()
	}
	return u, &sess, nil
}

// Logout ends the session of this cookie token.
func (s *Service) Logout(ctx context.Context, u *User, sessionID, address string) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1 AND user_id = $2`, sessionID, u.ID); err != nil {
			return fmt.Errorf("end session: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: u.Actor(address), Action: "session.logout", ObjectType: "user", ObjectID: u.ID})
	})
	if err == nil {
		s.revoked(ctx)
	}
	return err
}

// Sessions lists the live sessions of a user, newest first.
func (s *Service) Sessions(ctx context.Context, userID string) ([]Session, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, created_at, last_seen_at, expires_at, address, user_agent, factors, pending FROM sessions
		WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC`, userID, db.Instant(s.now()))
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		var ss Session
		var c, l, e int64
		var factors string
		if err := rows.Scan(&ss.ID, &c, &l, &e, &ss.Address, &ss.UserAgent, &factors, &ss.Pending); err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		ss.Factors = strings.Fields(factors)
		ss.UserID, ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt = userID, db.Time(c), db.Time(l), db.Time(e)
		out = append(out, ss)
	}
	return out, rows.Err()
}

// EndSession ends one of the user's own sessions (a lost laptop).
func (s *Service) EndSession(ctx context.Context, u *User, address, sessionID string) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1 AND user_id = $2`, sessionID, u.ID)
		if err != nil {
			return fmt.Errorf("end session: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.New(problem.NotFound, "No such session.")
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: u.Actor(address), Action: "session.revoke", ObjectType: "user", ObjectID: u.ID})
	})
	if err == nil {
		s.revoked(ctx)
	}
	return err
}

func (s *Service) isKnownDevice(ctx context.Context, userID, token string) bool {
	if token == "" {
		return false
	}
	var owner string
	err := s.db.QueryRowContext(ctx, `SELECT user_id FROM known_devices WHERE token_hash = $1`, hashToken(token)).Scan(&owner)
	return err == nil && owner == userID
}

// SessionLive reports whether a user's session, by its id, still stands:
// not ended or expired, and the account not disabled. A call checks it for
// the officers in it (idleness does not count: the call is the activity).
func (s *Service) SessionLive(ctx context.Context, userID, sessionID string) (bool, error) {
	var expires int64
	var disabled bool
	err := s.db.QueryRowContext(ctx, `SELECT s.expires_at, u.disabled FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND s.user_id = $2`,
		sessionID, userID).Scan(&expires, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read session: %w", err)
	}
	return !disabled && s.now().Before(db.Time(expires)), nil
}
