package visits

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
)

// LinkRoles are the people who join by link rather than with an account.
var LinkRoles = cases.Vocab{
	{Code: "detainee", Label: "Detainee terminal"}, {Code: "monitor", Label: "Detaining state's monitor"},
	{Code: "interpreter", Label: "Interpreter"},
}

// Link is a join link (its secret is shown once, at creation).
type Link struct {
	ID        string    `json:"id"`
	VisitID   string    `json:"visit_id"`
	Role      string    `json:"role"`
	Name      string    `json:"name"`
	Revoked   bool      `json:"revoked"`
	Lang      string    `json:"lang"` // the holder's language (BCP 47), "" for the browser's
	LastUsed  time.Time `json:"last_used,omitzero"`
	CreatedAt time.Time `json:"created_at"`
}

func hashLink(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateLink makes a join link for a visit and returns its secret token.
//
// lang is the language of the person the link is for (BCP 47); empty
// picks it: the detainee's first recorded language for the terminal, the
// detaining state's main language (CLDR's likely language) for the
// monitor, and the holder's browser's for an interpreter.
func (s *Service) CreateLink(ctx context.Context, a cases.Actor, caseID, visitID, role, name, lang string) (string, *Link, error) {
	name = strings.TrimSpace(name)
	lang = strings.TrimSpace(lang)
	f := problem.Fields{}
	if lang != "" {
		tag, err := language.Parse(lang)
		if err != nil {
			f.Add("lang", "Choose a language from the list.")
		} else {
			base, _ := tag.Base()
			lang = base.String()
		}
	}
	if !LinkRoles.Has(role) {
		f.Add("role", "Choose who the link is for: the detainee terminal, the monitor or an interpreter.")
	}
	if name == "" {
		f.Add("name", "Name the person or terminal the link is for (it is shown to everyone in the call).")
	}
	if err := f.Err(); err != nil {
		return "", nil, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("make token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	l := &Link{ID: db.NewID(), VisitID: visitID, Role: role, Name: name, Lang: lang, CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		if l.Lang == "" {
			detainee, state, err := s.cases.Languages(ctx, tx, caseID)
			if err != nil {
				return err
			}
			l.Lang = defaultLinkLang(role, detainee, state)
		}
		var status string
		err := tx.QueryRowContext(ctx, `SELECT status FROM visits WHERE id = $1 AND case_id = $2`, visitID, caseID).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return problem.New(problem.NotFound, "No such visit.")
		}
		if err != nil {
			return fmt.Errorf("read visit: %w", err)
		}
		if status != "planned" && status != "confirmed" && status != "in_progress" {
			return problem.New(problem.Conflict, "The visit is over or cancelled: no new links.")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO visit_links (id, visit_id, role, name, token_hash, created_by, created_at, lang) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			l.ID, visitID, role, name, hashLink(token), a.User.DisplayName, db.Instant(l.CreatedAt), l.Lang); err != nil {
			return fmt.Errorf("create link: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "visit.link_create", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("visit=%s link=%s role=%s name=%q lang=%s", visitID, l.ID, role, name, l.Lang)})
	})
	if err != nil {
		return "", nil, err
	}
	return token, l, nil
}

// RevokeLink ends a link at once.
func (s *Service) RevokeLink(ctx context.Context, a cases.Actor, caseID, visitID, linkID string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE visit_links SET revoked_at = $4 WHERE id = $1 AND visit_id = $2 AND revoked_at IS NULL
			AND visit_id IN (SELECT id FROM visits WHERE case_id = $3)`, linkID, visitID, caseID, db.Instant(s.now()))
		if err != nil {
			return fmt.Errorf("revoke link: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.New(problem.NotFound, "No such link.")
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "visit.link_revoke", ObjectType: "case", ObjectID: caseID, Detail: linkID})
	})
}

// Links lists a visit's links.
func (s *Service) Links(ctx context.Context, a cases.Actor, caseID, visitID string) ([]Link, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.ReadCase, caseID); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT l.id, l.role, l.name, l.revoked_at IS NOT NULL, l.last_used, l.created_at, l.lang FROM visit_links l
		JOIN visits v ON v.id = l.visit_id WHERE l.visit_id = $1 AND v.case_id = $2 ORDER BY l.created_at`, visitID, caseID)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	defer rows.Close()
	var out []Link
	for rows.Next() {
		l := Link{VisitID: visitID}
		var used sql.NullInt64
		var created int64
		if err := rows.Scan(&l.ID, &l.Role, &l.Name, &l.Revoked, &used, &created, &l.Lang); err != nil {
			return nil, fmt.Errorf("list links: %w", err)
		}
		l.LastUsed, l.CreatedAt = db.NullTime(used), db.Time(created)
		out = append(out, l)
	}
	return out, rows.Err()
}

// Admission is what a valid link lets its holder into.
type Admission struct {
	LinkID   string
	VisitID  string
	CaseID   string
	Role     string
	Name     string
	Starts   time.Time
	Ends     time.Time
	Zone     string
	Modality string
	// State is "waiting" (too early: opens at Starts-OpensBefore), "open"
	// or "over".
	State string
	Opens time.Time
	// Kind is the kind of visit, and Recording the recording policy in
	// force for it: shown to the holder before they join.
	Kind      string
	Recording RecordingPolicy
	// Lang is the holder's language, as the link's maker chose it.
	Lang string
}

// defaultLinkLang is the language a link opens in when its maker chose
// none: the detainee's first recorded language for the terminal, the
// detaining state's likely language (CLDR) for the monitor.
func defaultLinkLang(role string, detainee []string, state string) string {
	switch role {
	case "detainee":
		if len(detainee) > 0 {
			if t, err := language.Parse(detainee[0]); err == nil {
				b, _ := t.Base()
				return b.String()
			}
		}
		fallthrough
	case "monitor":
		if r, err := language.ParseRegion(state); err == nil {
			b, conf := language.Make("und-" + r.String()).Base()
			if conf != language.No {
				return b.String()
			}
		}
	}
	return ""
}

// Errors a link holder is shown: what went wrong, in their words.
var (
	ErrLinkUnknown = problem.New(problem.NotFound, "This link is not valid. Ask the consulate for a new one.")
	ErrLinkRevoked = problem.New(problem.Forbidden, "This link was withdrawn by the consulate.")
	ErrVisitOver   = problem.New(problem.Forbidden, "This visit is over.")
	ErrVisitOff    = problem.New(problem.Forbidden, "This visit was cancelled.")
)

// Admit checks a link's token for its visit and says whether the room is
// open. Every use is audited with the holder as the actor.
func (s *Service) Admit(ctx context.Context, token, address string) (*Admission, error) {
	var ad Admission
	var revoked, ended sql.NullInt64
	var status, post string
	var st, en int64
	err := s.db.QueryRowContext(ctx, `SELECT l.id, l.visit_id, v.case_id, l.role, l.name, l.revoked_at, v.status, v.starts, v.ends, v.modality, COALESCE(f.time_zone, ''), v.call_ended, v.kind, c.post, l.lang
		FROM visit_links l JOIN visits v ON v.id = l.visit_id JOIN cases c ON c.id = v.case_id LEFT JOIN facilities f ON f.id = v.facility_id
		WHERE l.token_hash = $1`, hashLink(token)).
		Scan(&ad.LinkID, &ad.VisitID, &ad.CaseID, &ad.Role, &ad.Name, &revoked, &status, &st, &en, &ad.Modality, &ad.Zone, &ended, &ad.Kind, &post, &ad.Lang)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrLinkUnknown
	}
	if err != nil {
		return nil, fmt.Errorf("read link: %w", err)
	}
	ad.Starts, ad.Ends = db.Time(st), db.Time(en)
	ad.Opens = ad.Starts.Add(-s.times.OpensBefore)
	if ad.Recording, err = s.PolicyFor(ctx, post, ad.Kind); err != nil {
		return nil, err
	}
	now := s.now()
	switch {
	case revoked.Valid:
		return nil, ErrLinkRevoked
	case status == "cancelled" || status == "refused_by_detainee" || status == "no_show":
		return nil, ErrVisitOff
	case status == "held" || status == "cut_short" || ended.Valid || !now.Before(ad.Ends):
		ad.State = "over"
	case now.Before(ad.Opens):
		ad.State = "waiting"
	default:
		ad.State = "open"
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE visit_links SET last_used = $2 WHERE id = $1`, ad.LinkID, db.Instant(now)); err != nil {
			return fmt.Errorf("touch link: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: audit.Actor{ID: "link:" + ad.LinkID, Name: ad.Name, Address: address},
			Action: "visit.link_use", ObjectType: "case", ObjectID: ad.CaseID, Detail: fmt.Sprintf("visit=%s role=%s state=%s", ad.VisitID, ad.Role, ad.State)})
	})
	if err != nil {
		return nil, err
	}
	if ad.State == "over" {
		return &ad, ErrVisitOver
	}
	return &ad, nil
}

// LinkLive reports whether a link still lets its holder in (not withdrawn).
func (s *Service) LinkLive(ctx context.Context, linkID string) (bool, error) {
	var revoked sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT revoked_at FROM visit_links WHERE id = $1`, linkID).Scan(&revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read link: %w", err)
	}
	return !revoked.Valid, nil
}
