package auth

import (
	"bytes"
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
)

// Second factors: an authenticator app (TOTP, RFC 6238), passkeys and
// security keys (WebAuthn), and single-use recovery codes for the day the
// device is lost. A role may require one (administrators decide, the
// default is required outside the demo); a session records the factors
// its holder used, and when they last proved themselves, for step-up.

// totpOpts are the only TOTP parameters Attaché issues and accepts: the
// ones every authenticator app understands. Skew 1 accepts the code of the
// step before and after, for clocks a little apart.
var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// recoveryCodeCount is how many recovery codes a user gets at a time.
const recoveryCodeCount = 10

// StepUpWindow is how long a proof of identity counts for the most
// sensitive actions.
const StepUpWindow = 10 * time.Minute

// SecondFactors is what an account has set up.
type SecondFactors struct {
	TOTP         bool // a confirmed authenticator app
	TOTPPending  bool // a secret shown, not yet confirmed by a code
	Keys         []SecurityKey
	RecoveryLeft int // unused recovery codes
}

// Any reports whether the account has a second factor it can sign in with.
func (f *SecondFactors) Any() bool { return f.TOTP || len(f.Keys) > 0 }

// SecurityKey is a registered passkey or security key.
type SecurityKey struct {
	ID         string
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// SecondFactors returns what userID has set up.
func (s *Service) SecondFactors(ctx context.Context, userID string) (*SecondFactors, error) {
	f := &SecondFactors{}
	var confirmed bool
	err := s.db.QueryRowContext(ctx, `SELECT confirmed FROM totp_secrets WHERE user_id = $1`, userID).Scan(&confirmed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("read authenticator app: %w", err)
	default:
		f.TOTP, f.TOTPPending = confirmed, !confirmed
	}
	if f.Keys, err = s.securityKeys(ctx, userID); err != nil {
		return nil, err
	}
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, userID).Scan(&f.RecoveryLeft); err != nil {
		return nil, fmt.Errorf("count recovery codes: %w", err)
	}
	return f, nil
}

func (s *Service) securityKeys(ctx context.Context, userID string) ([]SecurityKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, created_at, last_used_at FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at`, userID)
	if err != nil {
		return nil, fmt.Errorf("list security keys: %w", err)
	}
	defer rows.Close()
	var out []SecurityKey
	for rows.Next() {
		var k SecurityKey
		var c, l int64
		if err := rows.Scan(&k.ID, &k.Name, &c, &l); err != nil {
			return nil, fmt.Errorf("list security keys: %w", err)
		}
		k.CreatedAt, k.LastUsedAt = db.Time(c), timeOrZero(l)
		out = append(out, k)
	}
	return out, rows.Err()
}

// hasSecondFactor reports whether userID can sign in with a second factor.
func (s *Service) hasSecondFactor(ctx context.Context, q db.Querier, userID string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM totp_secrets WHERE user_id = $1 AND confirmed)
		+ (SELECT COUNT(*) FROM webauthn_credentials WHERE user_id = $1)`, userID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look for second factors: %w", err)
	}
	return n > 0, nil
}

// MFARequired reports whether accounts of this role must use a second
// factor. Family accounts never must (they may not be able to).
func (s *Service) MFARequired(ctx context.Context, role Role) (bool, error) {
	if role == RoleFamily {
		return false, nil
	}
	var required bool
	err := s.db.QueryRowContext(ctx, `SELECT required FROM mfa_requirements WHERE role = $1`, string(role)).Scan(&required)
	if errors.Is(err, sql.ErrNoRows) {
		return s.MFADefault, nil
	}
	if err != nil {
		return false, fmt.Errorf("read second factor requirement: %w", err)
	}
	return required, nil
}

// MFARequirements returns the requirement of every ministry role.
func (s *Service) MFARequirements(ctx context.Context) (map[Role]bool, error) {
	out := map[Role]bool{}
	for _, r := range Roles {
		req, err := s.MFARequired(ctx, r)
		if err != nil {
			return nil, err
		}
		out[r] = req
	}
	return out, nil
}

// SetMFARequirements sets which roles must use a second factor; a change
// takes effect at each account's next sign-in.
func (s *Service) SetMFARequirements(ctx context.Context, actor audit.Actor, required map[Role]bool) error {
	old, err := s.MFARequirements(ctx)
	if err != nil {
		return err
	}
	now := db.Instant(s.now())
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var changes []string
		for _, r := range Roles {
			want := required[r]
			if _, err := tx.ExecContext(ctx, `INSERT INTO mfa_requirements (role, required, updated_at, updated_by) VALUES ($1, $2, $3, $4)
				ON CONFLICT (role) DO UPDATE SET required = excluded.required, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
				string(r), want, now, actor.ID); err != nil {
				return fmt.Errorf("set second factor requirement: %w", err)
			}
			if old[r] != want {
				changes = append(changes, fmt.Sprintf("%s: %s", r, map[bool]string{true: "required", false: "optional"}[want]))
			}
		}
		detail := "no change"
		if len(changes) > 0 {
			detail = strings.Join(changes, "; ")
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: actor, Action: "mfa.requirements", ObjectType: "settings", ObjectID: "mfa", Detail: detail})
	})
}

// DefaultMFARequirements sets the requirement of every role that has none
// yet to required (the demo makes them optional); it changes no role
// administrators set.
func (s *Service) DefaultMFARequirements(ctx context.Context, actor audit.Actor, required bool) error {
	now := db.Instant(s.now())
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var set []string
		for _, r := range Roles {
			res, err := tx.ExecContext(ctx, `INSERT INTO mfa_requirements (role, required, updated_at, updated_by) VALUES ($1, $2, $3, $4)
				ON CONFLICT (role) DO NOTHING`, string(r), required, now, actor.ID)
			if err != nil {
				return fmt.Errorf("set second factor requirement: %w", err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				set = append(set, string(r))
			}
		}
		if len(set) == 0 {
			return nil
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: actor, Action: "mfa.requirements", ObjectType: "settings", ObjectID: "mfa",
			Detail: fmt.Sprintf("%s: %s", strings.Join(set, ", "), map[bool]string{true: "required", false: "optional"}[required])})
	})
}

// TOTPSetup is an authenticator app secret waiting for its first code.
type TOTPSetup struct {
	Secret string // base32, for typing into the app
	URL    string // otpauth:// URL
	QR     string // the URL as a QR code, a data: URL of a PNG
}

// StartTOTP makes a new authenticator app secret for u (replacing one not
// yet confirmed) and returns what the app needs. An account that already
// has a confirmed app must remove it first.
func (s *Service) StartTOTP(ctx context.Context, u *User, issuer string) (*TOTPSetup, error) {
	f, err := s.SecondFactors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if f.TOTP {
		return nil, problem.New(problem.Conflict, "An authenticator app is already set up. Remove it first to set up another.")
	}
	key, err := totp.Generate(totpGenerateOpts(issuer, u.Username, nil))
	if err != nil {
		return nil, fmt.Errorf("make authenticator secret: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO totp_secrets (user_id, secret, confirmed, last_step, created_at) VALUES ($1, $2, FALSE, 0, $3)
		ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at WHERE NOT totp_secrets.confirmed`,
		u.ID, key.Secret(), db.Instant(s.now())); err != nil {
		return nil, fmt.Errorf("keep authenticator secret: %w", err)
	}
	return totpSetup(key)
}

// PendingTOTP returns the authenticator app secret u was shown and has not
// confirmed yet, to show it again (a reload of the page).
func (s *Service) PendingTOTP(ctx context.Context, u *User, issuer string) (*TOTPSetup, error) {
	var secret string
	err := s.db.QueryRowContext(ctx, `SELECT secret FROM totp_secrets WHERE user_id = $1 AND NOT confirmed`, u.ID).Scan(&secret)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, problem.New(problem.NotFound, "No authenticator app is being set up.")
	}
	if err != nil {
		return nil, fmt.Errorf("read authenticator secret: %w", err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		return nil, fmt.Errorf("authenticator secret: %w", err)
	}
	key, err := totp.Generate(totpGenerateOpts(issuer, u.Username, raw))
	if err != nil {
		return nil, fmt.Errorf("authenticator secret: %w", err)
	}
	return totpSetup(key)
}

func totpGenerateOpts(issuer, account string, secret []byte) totp.GenerateOpts {
	return totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: totpOpts.Period,
		Digits: totpOpts.Digits, Algorithm: totpOpts.Algorithm, Secret: secret}
}

func totpSetup(key *otp.Key) (*TOTPSetup, error) {
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, fmt.Errorf("draw QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode QR code: %w", err)
	}
	return &TOTPSetup{Secret: key.Secret(), URL: key.URL(), QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// totpStep returns the time step of code for secret around now, or -1.
func totpStep(secret, code string, now time.Time) int64 {
	code = strings.Join(strings.Fields(code), "")
	if len(code) != 6 {
		return -1
	}
	step := now.Unix() / int64(totpOpts.Period)
	found := int64(-1)
	for _, d := range []int64{-1, 0, 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix((step+d)*int64(totpOpts.Period), 0), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found = step + d
		}
	}
	return found
}

var (
	errBadCode     = problem.Field("code", "The code is wrong or has expired. Enter the code your app shows now.")
	errBadRecovery = problem.Field("code", "The recovery code is wrong or was used already.")
)

// ConfirmTOTP checks the first code of the app being set up. On success
// the app counts as a second factor of u and of this session, and, when u
// has no unused recovery codes, the codes made are returned (to show once).
func (s *Service) ConfirmTOTP(ctx context.Context, u *User, sess *Session, code, address string) ([]string, error) {
	var codes []string
	err := s.guessing(ctx, u, address, func() error {
		return s.db.InTx(ctx, func(tx *sql.Tx) error {
			var secret string
			err := tx.QueryRowContext(ctx, `SELECT secret FROM totp_secrets WHERE user_id = $1 AND NOT confirmed`, u.ID).Scan(&secret)
			if errors.Is(err, sql.ErrNoRows) {
				return problem.New(problem.NotFound, "No authenticator app is being set up. Start again.")
			}
			if err != nil {
				return fmt.Errorf("read authenticator secret: %w", err)
			}
			step := totpStep(secret, code, s.now())
			if step < 0 {
				return errBadCode
			}
			if _, err := tx.ExecContext(ctx, `UPDATE totp_secrets SET confirmed = TRUE, last_step = $2 WHERE user_id = $1`, u.ID, step); err != nil {
				return fmt.Errorf("confirm authenticator: %w", err)
			}
			if codes, err = s.ensureRecoveryCodes(ctx, tx, u.ID); err != nil {
				return err
			}
			if err := s.verified(ctx, tx, sess, "totp"); err != nil {
				return err
			}
			return s.audit.Append(ctx, tx, audit.Entry{Actor: u.Actor(address), Action: "mfa.totp_added", ObjectType: "user", ObjectID: u.ID})
		})
	})
	return codes, err
}

// guessing runs a check of something a user types (a code, a password)
// under the account's throttle: the attempt is counted before the check,
// in a transaction of its own, and taken back when it was right.
func (s *Service) guessing(ctx context.Context, u *User, address string, check func() error) error {
	keys := []throttleKey{{"mfa:" + u.ID, s.Throttle.AccountFree, s.Throttle.AccountCap}}
	wait, err := s.reserve(ctx, keys, s.now())
	if err != nil {
		return err
	}
	if wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		e := problem.New(problem.RateLimited, "Too many wrong codes. Try again in %d seconds.", secs)
		e.RetryAfter = secs
		return e
	}
	err = check()
	if pe, ok := problem.As(err); ok && (pe.Kind == problem.Invalid || pe.Kind == problem.Unauthorized) {
		s.log.Info("second factor refused", slog.String("user", u.Username), slog.String("address", address))
		if aerr := s.audit.Record(ctx, audit.Entry{Actor: u.Actor(address), Action: "session.mfa_failed", ObjectType: "user", ObjectID: u.ID}); aerr != nil {
			return aerr
		}
		return err
	}
	if uerr := s.unreserve(context.WithoutCancel(ctx), keys); uerr != nil {
		return uerr
	}
	return err
}

// verified notes in sess that its holder just proved themselves with
// factor: it is no longer pending (nor must enrol), and counts as fresh
// for step-up.
func (s *Service) verified(ctx context.Context, q db.Querier, sess *Session, factor string) error {
	if sess == nil {
		return nil
	}
	if !slices.Contains(sess.Factors, factor) {
		sess.Factors = append(sess.Factors, factor)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	sess.VerifiedAt, sess.Pending, sess.Enrol = now, false, false
	if _, err := q.ExecContext(ctx, `UPDATE sessions SET factors = $2, verified_at = $3, pending = FALSE, enrol = FALSE WHERE id = $1`,
		sess.ID, strings.Join(sess.Factors, " "), db.Instant(now)); err != nil {
		return fmt.Errorf("note second factor: %w", err)
	}
	return nil
}

// VerifyTOTP checks a code of u's authenticator app for sess: to finish a
// sign-in, or to step up. A code counts once.
func (s *Service) VerifyTOTP(ctx context.Context, u *User, sess *Session, code, address string) error {
	return s.guessing(ctx, u, address, func() error {
		return s.db.InTx(ctx, func(tx *sql.Tx) error {
			var secret string
			var last int64
			err := tx.QueryRowContext(ctx, `SELECT secret, last_step FROM totp_secrets WHERE user_id = $1 AND confirmed`, u.ID).Scan(&secret, &last)
			if errors.Is(err, sql.ErrNoRows) {
				return problem.Field("code", "You have no authenticator app: use a security key or a recovery code.")
			}
			if err != nil {
				return fmt.Errorf("read authenticator secret: %w", err)
			}
			step := totpStep(secret, code, s.now())
			if step < 0 {
				return errBadCode
			}
			// The update holds only if no other request took this step or a
			// later one in the meantime.
			res, err := tx.ExecContext(ctx, `UPDATE totp_secrets SET last_step = $2 WHERE user_id = $1 AND last_step < $2`, u.ID, step)
			if err != nil {
				return fmt.Errorf("use code: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return problem.Field("code", "This code was used already. Wait for the next one.")
			}
			return s.secondFactorUsed(ctx, tx, u, sess, "totp", address)
		})
	})
}

func (s *Service) secondFactorUsed(ctx context.Context, tx *sql.Tx, u *User, sess *Session, factor, address string) error {
	action := "session.mfa"
	if sess != nil && !sess.Pending {
		action = "session.step_up"
	}
	if err := s.verified(ctx, tx, sess, factor); err != nil {
		return err
	}
	return s.audit.Append(ctx, tx, audit.Entry{Actor: u.Actor(address), Action: action, ObjectType: "user", ObjectID: u.ID, Detail: factor})
}

// VerifyRecoveryCode uses one of u's recovery codes for sess.
func (s *Service) VerifyRecoveryCode(ctx context.Context, u *User, sess *Session, code, address string) error {
	return s.guessing(ctx, u, address, func() error {
		return s.db.InTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`,
				u.ID, hashToken(normalizeRecoveryCode(code)), db.Instant(s.now()))
			if err != nil {
				return fmt.Errorf("use recovery code: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return errBadRecovery
			}
			return s.secondFactorUsed(ctx, tx, u, sess, "recovery", address)
		})
	})
}

// normalizeRecoveryCode lets a code be typed with or without its dash,
// spaces and in any case.
func normalizeRecoveryCode(code string) string {
	return strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(code)))
}

// recoveryAlphabet leaves out letters easily taken for others (0/o, 1/l/i).
const recoveryAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

func newRecoveryCode() string {
	b := make([]byte, 10)
	for i, r := range randomToken(30)[:10] {
		b[i] = recoveryAlphabet[int(r)%len(recoveryAlphabet)]
	}
	return string(b[:5]) + "-" + string(b[5:])
}

// ensureRecoveryCodes makes recovery codes for userID when none is left.
func (s *Service) ensureRecoveryCodes(ctx context.Context, tx *sql.Tx, userID string) ([]string, error) {
	var left int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, userID).Scan(&left); err != nil {
		return nil, fmt.Errorf("count recovery codes: %w", err)
	}
	if left > 0 {
		return nil, nil
	}
	return s.replaceRecoveryCodes(ctx, tx, userID)
}

func (s *Service) replaceRecoveryCodes(ctx context.Context, tx *sql.Tx, userID string) ([]string, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return nil, fmt.Errorf("drop recovery codes: %w", err)
	}
	codes := make([]string, recoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)`, userID, hashToken(normalizeRecoveryCode(codes[i]))); err != nil {
			return nil, fmt.Errorf("keep recovery code: %w", err)
		}
	}
	return codes, nil
}

// NewRecoveryCodes replaces u's recovery codes with new ones, returned to
// show once. Only an account with a second factor has them.
func (s *Service) NewRecoveryCodes(ctx context.Context, u *User, address string) ([]string, error) {
	var codes []string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		ok, err := s.hasSecondFactor(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if !ok {
			return problem.New(problem.Conflict, "Set up an authenticator app or a security key first.")
		}
		if codes, err = s.replaceRecoveryCodes(ctx, tx, u.ID); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: u.Actor(address), Action: "mfa.recovery_codes", ObjectType: "user", ObjectID: u.ID})
	})
	return codes, err
}

// RemoveTOTP removes u's authenticator app, unless it is the last second
// factor of an account whose role requires one.
func (s *Service) RemoveTOTP(ctx context.Context, u *User, address string) error {
	return s.removeFactor(ctx, u, address, "mfa.totp_removed", `DELETE FROM totp_secrets WHERE user_id = $1`, u.ID)
}

// RemoveSecurityKey removes one of u's passkeys or security keys, unless
// it is the last second factor of an account whose role requires one.
func (s *Service) RemoveSecurityKey(ctx context.Context, u *User, id, address string) error {
	return s.removeFactor(ctx, u, address, "mfa.key_removed", `DELETE FROM webauthn_credentials WHERE user_id = $1 AND id = $2`, u.ID, id)
}

func (s *Service) removeFactor(ctx context.Context, u *User, address, action, query string, args ...any) error {
	required, err := s.MFARequired(ctx, u.Role)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("remove second factor: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.New(problem.NotFound, "No such second factor.")
		}
		left, err := s.hasSecondFactor(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if !left && required {
			return problem.New(problem.Conflict, "Your role requires a second factor: set up another before removing this one.")
		}
		if !left {
			if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, u.ID); err != nil {
				return fmt.Errorf("drop recovery codes: %w", err)
			}
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: u.Actor(address), Action: action, ObjectType: "user", ObjectID: u.ID})
	})
}

// ResetSecondFactors removes every second factor and recovery code of an
// account whose owner lost their device, and ends its sessions and API
// tokens: at the next sign-in the owner sets up a new factor.
func (s *Service) ResetSecondFactors(ctx context.Context, actor audit.Actor, userID, reason string) error {
	reason = strings.TrimSpace(reason)
	if len(reason) < 10 {
		return problem.Field("reason", "Say why, in a sentence (for example how the owner's identity was checked).")
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var n int
		for _, q := range []string{`DELETE FROM totp_secrets WHERE user_id = $1`, `DELETE FROM webauthn_credentials WHERE user_id = $1`,
			`DELETE FROM recovery_codes WHERE user_id = $1`} {
			res, err := tx.ExecContext(ctx, q, userID)
			if err != nil {
				return fmt.Errorf("reset second factors: %w", err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		if err := endCredentials(ctx, tx, userID, s.now()); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: actor, Action: "user.mfa_reset", ObjectType: "user", ObjectID: userID,
			Reason: reason, Detail: fmt.Sprintf("%d factors and codes removed; sessions and API tokens ended", n)})
	})
	if err == nil {
		s.revoked(ctx)
	}
	return err
}

// ReauthenticatePassword is step-up for an account without a second
// factor (its role does not require one): the password again.
func (s *Service) ReauthenticatePassword(ctx context.Context, u *User, sess *Session, password, address string) error {
	hash, err := s.passwordHash(ctx, u.ID)
	if err != nil {
		return err
	}
	if hash == "" {
		return problem.Field("password", "Your account signs in through your ministry's identity provider: confirm there.")
	}
	return s.guessing(ctx, u, address, func() error {
		ok, err := s.checkPassword(ctx, password, func() string { return hash })
		if err != nil {
			return err
		}
		if !ok {
			return problem.Field("password", "The password is wrong.")
		}
		return s.db.InTx(ctx, func(tx *sql.Tx) error {
			return s.secondFactorUsed(ctx, tx, u, sess, "password", address)
		})
	})
}

// Fresh reports whether sess's holder proved themselves within the
// step-up window.
func (s *Service) Fresh(sess *Session, window time.Duration) bool {
	return sess != nil && !sess.Pending && !sess.VerifiedAt.IsZero() && s.now().Sub(sess.VerifiedAt) < window
}
