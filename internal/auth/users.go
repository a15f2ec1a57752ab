package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/names"
	"github.com/attache-org/attache/internal/problem"
)

// User is an account.
type User struct {
	ID                 string
	Username           string
	DisplayName        string
	Email              string
	Role               Role
	Post               string // the embassy or consulate, for officers at a post
	Desk               string // the HQ desk, e.g. "China"
	Lang               string // preferred language of the interface, "" for the browser's
	MustChangePassword bool
	Disabled           bool
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// Actor returns the audit actor for u acting from address.
func (u *User) Actor(address string) audit.Actor {
	return audit.Actor{ID: u.ID, Name: u.Username, Address: address}
}

// UserInput is what an administrator enters to create or change an account.
type UserInput struct {
	Username    string
	DisplayName string
	Email       string
	Role        Role
	Post        string
	Desk        string
	Lang        string
	Disabled    bool

	family bool // set by CreateFamilyAccount only
}

var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,62}$`)

// NormalizeUsername is how usernames are compared: trimmed and lower case.
func NormalizeUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func (in *UserInput) validate(f problem.Fields) {
	in.Username = NormalizeUsername(in.Username)
	in.DisplayName = strings.TrimSpace(in.DisplayName)
	in.Email = strings.TrimSpace(in.Email)
	in.Post = strings.TrimSpace(in.Post)
	in.Desk = strings.TrimSpace(in.Desk)
	if !usernameRE.MatchString(in.Username) {
		f.Add("username", "Use 2 to 63 lower-case letters, digits, dots, dashes or underscores, starting with a letter or digit.")
	}
	if in.DisplayName == "" {
		f.Add("display_name", "Enter the name shown to other users.")
	}
	if len(in.DisplayName) > 200 {
		f.Add("display_name", "Use at most 200 characters.")
	}
	if names.Misleading(in.DisplayName) {
		f.Add("display_name", "The name has an invisible control character: type it again.")
	}
	if in.Email != "" && (!strings.Contains(in.Email, "@") || strings.ContainsAny(in.Email, " \t\r\n<>")) {
		f.Add("email", "Enter an e-mail address such as name@example.org, or leave it empty.")
	}
	switch in.Role {
	case RoleConsularOfficer:
		if in.Post == "" {
			f.Add("post", "A consular officer belongs to a post: enter it.")
		}
	case RoleHQOfficer:
		if in.Desk == "" {
			f.Add("desk", "An HQ case officer belongs to a desk: enter it.")
		}
	case RoleSupervisor:
		if in.Desk == "" && in.Post == "" {
			f.Add("desk", "A supervisor oversees a desk or a post: enter at least one.")
		}
	case RoleAdmin, RoleAuditor:
	case RoleFamily:
		if in.Post != "" || in.Desk != "" {
			f.Add("role", "A family account belongs to no post or desk.")
		}
		if !in.family {
			f.Add("role", "Family accounts are made from an invitation only.")
		}
	default:
		f.Add("role", "Choose one of the listed roles.")
	}
	// Staff work in the sending state's official languages; a family
	// member may read the family pages in Chinese too.
	if in.Lang != "" && in.Lang != "en" && in.Lang != "fr" && !(in.Lang == "zh" && in.Role == RoleFamily) {
		f.Add("lang", "Choose a language from the list.")
	}
}

// CreateUser creates an account with the given password (checked against
// the password rules) and records it in the audit log.
func (s *Service) CreateUser(ctx context.Context, actor audit.Actor, in UserInput, password string, mustChange bool) (*User, error) {
	f := problem.Fields{}
	in.validate(f)
	if msg := checkPasswordRules(in.Username, password); !msg.IsZero() {
		f.AddText("password", msg)
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := &User{ID: db.NewID(), Username: in.Username, DisplayName: in.DisplayName, Email: in.Email, Role: in.Role,
		Post: in.Post, Desk: in.Desk, Lang: in.Lang, MustChangePassword: mustChange, CreatedAt: now, UpdatedAt: now}
	hash := HashPassword(password, s.Params)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		err := insertUser(ctx, tx, u, hash)
		if db.IsUniqueViolation(err) {
			return problem.Field("username", "This username is taken.")
		}
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: actor, Action: "user.create", ObjectType: "user", ObjectID: u.ID,
			Detail: fmt.Sprintf("username=%s role=%s post=%s desk=%s", u.Username, u.Role, u.Post, u.Desk)})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// insertUser writes a new account with its password hash ("" for an
// account that signs in through an identity provider only). The caller
// maps a taken username to its own answer.
func insertUser(ctx context.Context, tx *sql.Tx, u *User, hash string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO users (id, username, display_name, email, role, post, desk, lang,
		password_hash, must_change_password, disabled, created_at, updated_at, password_changed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, FALSE, $11, $11, $11)`,
		u.ID, u.Username, u.DisplayName, u.Email, string(u.Role), u.Post, u.Desk, u.Lang, hash, u.MustChangePassword, db.Instant(u.CreatedAt))
	return err
}

// CreateFamilyAccount creates a family member's account inside tx, the
// transaction that also consumes their invitation. It is the only way to
// make an account with the family role.
func (s *Service) CreateFamilyAccount(ctx context.Context, tx *sql.Tx, actor audit.Actor, in UserInput, password string) (*User, error) {
	in.Role, in.Post, in.Desk, in.family = RoleFamily, "", "", true
	f := problem.Fields{}
	in.validate(f)
	if msg := checkPasswordRules(in.Username, password); !msg.IsZero() {
		f.AddText("password", msg)
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := &User{ID: db.NewID(), Username: in.Username, DisplayName: in.DisplayName, Email: in.Email, Role: RoleFamily,
		Lang: in.Lang, CreatedAt: now, UpdatedAt: now}
	err := insertUser(ctx, tx, u, HashPassword(password, s.Params))
	if db.IsUniqueViolation(err) {
		return nil, problem.Field("username", "This username is taken.")
	}
	if err != nil {
		return nil, fmt.Errorf("insert family account: %w", err)
	}
	if err := s.audit.Append(ctx, tx, audit.Entry{Actor: actor, Action: "user.create", ObjectType: "user", ObjectID: u.ID,
		Detail: fmt.Sprintf("username=%s role=family", u.Username)}); err != nil {
		return nil, err
	}
	return u, nil
}

// UpdateUser changes an account's details, role and status. It refuses to
// leave the system without an active administrator. Disabling an account
// ends its sessions.
func (s *Service) UpdateUser(ctx context.Context, actor audit.Actor, id string, in UserInput) (*User, error) {
	f := problem.Fields{}
	in.family = in.Role == RoleFamily // checked against the account below
	in.validate(f)
	delete(f, "username") // the username does not change
	if err := f.Err(); err != nil {
		return nil, err
	}
	var out *User
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		old, err := getUser(ctx, tx, `id = $1`, id)
		if err != nil {
			return err
		}
		if (old.Role == RoleFamily) != (in.Role == RoleFamily) {
			return problem.Field("role", "A family account stays a family account, and no other account becomes one.")
		}
		if old.Role == RoleAdmin && !old.Disabled && (in.Role != RoleAdmin || in.Disabled) {
			var admins int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = FALSE AND id <> $1`, id).Scan(&admins); err != nil {
				return fmt.Errorf("count administrators: %w", err)
			}
			if admins == 0 {
				return problem.Field("role", "This is the last active administrator: make another one first.")
			}
		}
		now := s.now().UTC()
		_, err = tx.ExecContext(ctx, `UPDATE users SET display_name = $2, email = $3, role = $4, post = $5, desk = $6, lang = $7,
			disabled = $8, updated_at = $9 WHERE id = $1`,
			id, in.DisplayName, in.Email, string(in.Role), in.Post, in.Desk, in.Lang, in.Disabled, db.Instant(now))
		if err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		if in.Disabled {
			if err := endCredentials(ctx, tx, id, now); err != nil {
				return err
			}
		}
		detail := describeChange(old, in) // before old becomes the result
		out = old
		out.DisplayName, out.Email, out.Role, out.Post, out.Desk, out.Lang, out.Disabled, out.UpdatedAt =
			in.DisplayName, in.Email, in.Role, in.Post, in.Desk, in.Lang, in.Disabled, now
		return s.audit.Append(ctx, tx, audit.Entry{Actor: actor, Action: "user.update", ObjectType: "user", ObjectID: id,
			Detail: detail})
	})
	if err == nil && in.Disabled {
		s.revoked(ctx)
	}
	return out, err
}

func describeChange(old *User, in UserInput) string {
	var parts []string
	add := func(name, a, b string) {
		if a != b {
			parts = append(parts, fmt.Sprintf("%s: %q→%q", name, a, b))
		}
	}
	add("display_name", old.DisplayName, in.DisplayName)
	add("email", old.Email, in.Email)
	add("role", string(old.Role), string(in.Role))
	add("post", old.Post, in.Post)
	add("desk", old.Desk, in.Desk)
	add("lang", old.Lang, in.Lang)
	add("disabled", fmt.Sprint(old.Disabled), fmt.Sprint(in.Disabled))
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, ", ")
}

// SetPassword replaces a user's password and ends all their sessions. When
// mustChange is set (an administrator's reset), the user must choose a new
// one at next sign-in.
func (s *Service) SetPassword(ctx context.Context, actor audit.Actor, id, password string, mustChange bool) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		u, err := getUser(ctx, tx, `id = $1`, id)
		if err != nil {
			return err
		}
		if msg := checkPasswordRules(u.Username, password); !msg.IsZero() {
			return problem.FieldText("password", msg)
		}
		return s.setPassword(ctx, tx, actor, u, password, mustChange)
	})
	if err == nil {
		s.revoked(ctx)
	}
	return err
}

func (s *Service) setPassword(ctx context.Context, tx *sql.Tx, actor audit.Actor, u *User, password string, mustChange bool) error {
	now := db.Instant(s.now())
	_, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $2, must_change_password = $3, password_changed_at = $4, updated_at = $4 WHERE id = $1`,
		u.ID, HashPassword(password, s.Params), mustChange, now)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if err := endCredentials(ctx, tx, u.ID, s.now()); err != nil {
		return err
	}
	action := "user.password_change"
	if actor.ID != u.ID {
		action = "user.password_reset"
	}
	return s.audit.Append(ctx, tx, audit.Entry{Actor: actor, Action: action, ObjectType: "user", ObjectID: u.ID,
		Detail: "all sessions ended, API tokens revoked"})
}

// endCredentials ends every session of a user and revokes their API tokens:
// a new password or a disabled account leaves nothing signed in.
func endCredentials(ctx context.Context, tx *sql.Tx, userID string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, userID, db.Instant(now)); err != nil {
		return fmt.Errorf("revoke API tokens: %w", err)
	}
	return nil
}

// ChangeOwnPassword checks the current password, sets the new one and ends
// every session of the user (the caller signs the browser in again).
// errExternalPassword answers a password change of an account that signs
// in through the identity provider, which has no password here.
var errExternalPassword = problem.Field("current", "Your account signs in through your ministry's identity provider: change your password there.")

func (s *Service) ChangeOwnPassword(ctx context.Context, u *User, address, current, next string) error {
	f := problem.Fields{}
	hash, err := s.passwordHash(ctx, u.ID)
	if err != nil {
		return err
	}
	if hash == "" {
		return errExternalPassword
	}
	if ok, err := s.checkPassword(ctx, current, func() string { return hash }); problem.Is(err, problem.RateLimited) {
		return err
	} else if err != nil {
		return fmt.Errorf("check password of %s: %w", u.Username, err)
	} else if !ok {
		f.Add("current", "This is not your current password.")
	}
	if msg := checkPasswordRules(u.Username, next); !msg.IsZero() {
		f.AddText("password", msg)
	} else if next == current {
		f.Add("password", "Choose a password different from the current one.")
	}
	if err := f.Err(); err != nil {
		return err
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		return s.setPassword(ctx, tx, u.Actor(address), u, next, false)
	})
	if err == nil {
		s.revoked(ctx)
	}
	return err
}

func (s *Service) passwordHash(ctx context.Context, id string) (string, error) {
	var hash string
	err := s.db.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = $1`, id).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", problem.New(problem.NotFound, "No such user.")
	}
	if err != nil {
		return "", fmt.Errorf("read password hash: %w", err)
	}
	return hash, nil
}

// User returns the account with this id.
func (s *Service) User(ctx context.Context, id string) (*User, error) {
	return getUser(ctx, s.db, `id = $1`, id)
}

// UserByName returns the account with this username.
func (s *Service) UserByName(ctx context.Context, username string) (*User, error) {
	return getUser(ctx, s.db, `username = $1`, NormalizeUsername(username))
}

// Users lists every account, by username.
func (s *Service) Users(ctx context.Context) ([]*User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// CountUsers returns how many accounts exist.
func (s *Service) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

const userColumns = `id, username, display_name, email, role, post, desk, lang, must_change_password, disabled, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

// scanPrefix scans columns that come before the user's in a joined row.
type scanPrefix struct {
	r      scanner
	before []any
}

func (p scanPrefix) Scan(dest ...any) error { return p.r.Scan(append(p.before, dest...)...) }

// prefixed qualifies a comma-separated column list with a table alias.
func prefixed(alias, columns string) string {
	parts := strings.Split(columns, ", ")
	for i, c := range parts {
		parts[i] = alias + c
	}
	return strings.Join(parts, ", ")
}

func scanUser(r scanner) (*User, error) {
	var u User
	var role string
	var created, updated int64
	err := r.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Email, &role, &u.Post, &u.Desk, &u.Lang,
		&u.MustChangePassword, &u.Disabled, &created, &updated)
	if err != nil {
		return nil, err
	}
	u.Role, u.CreatedAt, u.UpdatedAt = Role(role), db.Time(created), db.Time(updated)
	return &u, nil
}

func getUser(ctx context.Context, q db.Querier, where string, arg any) (*User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, problem.New(problem.NotFound, "No such user.")
	}
	if err != nil {
		return nil, fmt.Errorf("read user: %w", err)
	}
	return u, nil
}

// Officers lists the active accounts that can be assigned to cases, by name.
func (s *Service) Officers(ctx context.Context) ([]*User, error) {
	users, err := s.Users(ctx)
	if err != nil {
		return nil, err
	}
	var out []*User
	for _, u := range users {
		if !u.Disabled && (Policy{}).Can(u, ReadCase, nil) {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DisplayName < out[j].DisplayName })
	return out, nil
}
