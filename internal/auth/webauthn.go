package auth

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
)

// Passkeys and security keys, through go-webauthn. A ceremony's challenge
// is kept in the database for the session that asked for it, so that any
// node can finish it, and is used once.

// ceremonyLife is how long a browser has to answer a WebAuthn challenge.
const ceremonyLife = 5 * time.Minute

// NewWebAuthn returns the relying party of the server at baseURL (its
// host is the RP ID: passkeys work on a name, not on an IP address).
func NewWebAuthn(baseURL, displayName string) (*webauthn.WebAuthn, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("passkeys need the server's public URL (--base-url), not %q", baseURL)
	}
	if net.ParseIP(u.Hostname()) != nil {
		return nil, fmt.Errorf("passkeys need a host name in the public URL (--base-url), not the IP address %s", u.Hostname())
	}
	w, err := webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: displayName, RPOrigins: []string{u.Scheme + "://" + u.Host}})
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	return w, nil
}

// keyUser is an account as go-webauthn sees it.
type keyUser struct {
	u     *User
	creds []webauthn.Credential
}

func (k keyUser) WebAuthnID() []byte                         { return []byte(k.u.ID) }
func (k keyUser) WebAuthnName() string                       { return k.u.Username }
func (k keyUser) WebAuthnDisplayName() string                { return k.u.DisplayName }
func (k keyUser) WebAuthnCredentials() []webauthn.Credential { return k.creds }

func (s *Service) keyUser(ctx context.Context, q db.Querier, u *User) (keyUser, error) {
	rows, err := q.QueryContext(ctx, `SELECT credential FROM webauthn_credentials WHERE user_id = $1`, u.ID)
	if err != nil {
		return keyUser{}, fmt.Errorf("read security keys: %w", err)
	}
	defer rows.Close()
	k := keyUser{u: u}
	for rows.Next() {
		var raw string
		var c webauthn.Credential
		if err := rows.Scan(&raw); err != nil {
			return keyUser{}, fmt.Errorf("read security keys: %w", err)
		}
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			return keyUser{}, fmt.Errorf("read security key: %w", err)
		}
		k.creds = append(k.creds, c)
	}
	return k, rows.Err()
}

var errNoPasskeys = problem.New(problem.Conflict, "Passkeys are not available on this server: it needs its public address (--base-url) with a host name.")

// BeginKeyRegistration starts adding a passkey or security key to u's
// account from sess, and returns the options for navigator.credentials.create.
func (s *Service) BeginKeyRegistration(ctx context.Context, u *User, sess *Session) ([]byte, error) {
	if s.WebAuthn == nil {
		return nil, errNoPasskeys
	}
	k, err := s.keyUser(ctx, s.db, u)
	if err != nil {
		return nil, err
	}
	creation, data, err := s.WebAuthn.BeginRegistration(k,
		webauthn.WithExclusions(webauthn.Credentials(k.creds).CredentialDescriptors()),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementPreferred))
	if err != nil {
		return nil, fmt.Errorf("begin key registration: %w", err)
	}
	if err := s.keepCeremony(ctx, sess, "register", data); err != nil {
		return nil, err
	}
	return json.Marshal(creation)
}

// FinishKeyRegistration checks the browser's answer to the registration
// and keeps the new key under name. Like a first authenticator app, it
// returns recovery codes when u has none left.
func (s *Service) FinishKeyRegistration(ctx context.Context, u *User, sess *Session, name string, body []byte, address string) ([]string, error) {
	if s.WebAuthn == nil {
		return nil, errNoPasskeys
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Security key"
	}
	if len(name) > 100 {
		return nil, problem.Field("name", "Use at most 100 characters.")
	}
	data, err := s.takeCeremony(ctx, sess, "register")
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, problem.New(problem.Invalid, "The security key's answer could not be read. Try again.")
	}
	k, err := s.keyUser(ctx, s.db, u)
	if err != nil {
		return nil, err
	}
	cred, err := s.WebAuthn.CreateCredential(k, *data, parsed)
	if err != nil {
		s.log.Info("security key refused", "user", u.Username, "error", err.Error())
		return nil, problem.New(problem.Invalid, "The security key's answer was refused. Try again.")
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return nil, fmt.Errorf("keep security key: %w", err)
	}
	var codes []string
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webauthn_credentials (id, user_id, name, credential_id, credential, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			db.NewID(), u.ID, name, base64.RawURLEncoding.EncodeToString(cred.ID), string(raw), db.Instant(s.now()))
		if db.IsUniqueViolation(err) {
			return problem.New(problem.Conflict, "This security key is registered already.")
		}
		if err != nil {
			return fmt.Errorf("keep security key: %w", err)
		}
		if codes, err = s.ensureRecoveryCodes(ctx, tx, u.ID); err != nil {
			return err
		}
		if err := s.verified(ctx, tx, sess, "webauthn"); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: u.Actor(address), Action: "mfa.key_added", ObjectType: "user", ObjectID: u.ID, Detail: name})
	})
	return codes, err
}

// BeginKeyLogin asks u's passkeys or security keys to prove sess's holder
// (to finish a sign-in or to step up), returning the options for
// navigator.credentials.get.
func (s *Service) BeginKeyLogin(ctx context.Context, u *User, sess *Session) ([]byte, error) {
	if s.WebAuthn == nil {
		return nil, errNoPasskeys
	}
	k, err := s.keyUser(ctx, s.db, u)
	if err != nil {
		return nil, err
	}
	if len(k.creds) == 0 {
		return nil, problem.New(problem.Conflict, "You have no security key: use your authenticator app or a recovery code.")
	}
	assertion, data, err := s.WebAuthn.BeginLogin(k)
	if err != nil {
		return nil, fmt.Errorf("begin key sign-in: %w", err)
	}
	if err := s.keepCeremony(ctx, sess, "login", data); err != nil {
		return nil, err
	}
	return json.Marshal(assertion)
}

// FinishKeyLogin checks the browser's answer with one of u's keys.
func (s *Service) FinishKeyLogin(ctx context.Context, u *User, sess *Session, body []byte, address string) error {
	if s.WebAuthn == nil {
		return errNoPasskeys
	}
	return s.guessing(ctx, u, address, func() error {
		data, err := s.takeCeremony(ctx, sess, "login")
		if err != nil {
			return err
		}
		parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
		if err != nil {
			return problem.New(problem.Unauthorized, "The security key's answer could not be read. Try again.")
		}
		k, err := s.keyUser(ctx, s.db, u)
		if err != nil {
			return err
		}
		cred, err := s.WebAuthn.ValidateLogin(k, *data, parsed)
		if err != nil {
			s.log.Info("security key sign-in refused", "user", u.Username, "error", err.Error())
			return problem.New(problem.Unauthorized, "The security key's answer was refused. Try again.")
		}
		if cred.Authenticator.CloneWarning {
			s.log.Warn("security key may be cloned: its counter went back", "user", u.Username)
			return problem.New(problem.Unauthorized, "This security key's counter went back, as a copied key's would. Use another factor and tell your administrator.")
		}
		raw, err := json.Marshal(cred)
		if err != nil {
			return fmt.Errorf("keep security key: %w", err)
		}
		return s.db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE webauthn_credentials SET credential = $3, last_used_at = $4 WHERE user_id = $1 AND credential_id = $2`,
				u.ID, base64.RawURLEncoding.EncodeToString(cred.ID), string(raw), db.Instant(s.now())); err != nil {
				return fmt.Errorf("note security key use: %w", err)
			}
			return s.secondFactorUsed(ctx, tx, u, sess, "webauthn", address)
		})
	})
}

func (s *Service) keepCeremony(ctx context.Context, sess *Session, kind string, data *webauthn.SessionData) error {
	if sess == nil {
		return problem.New(problem.Forbidden, "Security keys are used from a signed-in browser.")
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("keep challenge: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO webauthn_ceremonies (session_id, kind, data, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (session_id, kind) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at`,
		sess.ID, kind, string(raw), db.Instant(s.now().Add(ceremonyLife)))
	if err != nil {
		return fmt.Errorf("keep challenge: %w", err)
	}
	return nil
}

var errNoCeremony = problem.New(problem.Unauthorized, "The security key took too long or was asked twice. Try again.")

// takeCeremony returns and deletes the challenge of sess, once.
func (s *Service) takeCeremony(ctx context.Context, sess *Session, kind string) (*webauthn.SessionData, error) {
	if sess == nil {
		return nil, errNoCeremony
	}
	var raw string
	var expires int64
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT data, expires_at FROM webauthn_ceremonies WHERE session_id = $1 AND kind = $2`, sess.ID, kind).Scan(&raw, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoCeremony
		}
		if err != nil {
			return fmt.Errorf("read challenge: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM webauthn_ceremonies WHERE session_id = $1 AND kind = $2 AND expires_at = $3`, sess.ID, kind, expires)
		if err != nil {
			return fmt.Errorf("use challenge: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNoCeremony
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !s.now().Before(db.Time(expires)) {
		return nil, errNoCeremony
	}
	var data webauthn.SessionData
	if err := json.Unmarshal([]byte(raw), &data); err != nil {
		return nil, fmt.Errorf("read challenge: %w", err)
	}
	return &data, nil
}
