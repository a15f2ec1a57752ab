package visits

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
)

// Kinds of visit. Consular and legal visits are privileged.
var Kinds = cases.Vocab{
	{Code: "consular", Label: "Consular visit"}, {Code: "legal", Label: "Legal visit (the detainee's lawyer attends)"},
	{Code: "family", Label: "Family visit (arranged by the consulate)"},
}

// Privileged reports whether a kind of visit is privileged: its
// conversations are between the detainee and their consul or lawyer.
func Privileged(kind string) bool { return kind == "consular" || kind == "legal" }

// Recording policies: never, with everyone's consent, always.
const (
	RecordNever   = "never"
	RecordConsent = "consent"
	RecordAlways  = "always"
)

// RecordableKinds are the kinds of visit a policy may record: not the
// privileged ones.
var RecordableKinds = func() cases.Vocab {
	var out cases.Vocab
	for _, k := range Kinds {
		if !Privileged(k.Code) {
			out = append(out, k)
		}
	}
	return out
}()

// RecordingPolicies names the policies.
var RecordingPolicies = cases.Vocab{
	{Code: RecordNever, Label: "Never recorded"}, {Code: RecordConsent, Label: "Recorded only with everyone's consent"},
	{Code: RecordAlways, Label: "Always recorded"},
}

// RecordingPolicy is the recording policy in force for one kind of visit at
// one post.
type RecordingPolicy struct {
	Post          string    `json:"post"` // "" for every post
	Kind          string    `json:"kind"`
	Policy        string    `json:"policy"`
	RetentionDays int       `json:"retention_days"`
	Note          string    `json:"note,omitempty"`
	SetBy         string    `json:"set_by,omitempty"`
	SetAt         time.Time `json:"set_at,omitzero"`
	// Default says no administrator set it: the built-in rule applies.
	Default bool `json:"default"`
	// Void says the row cannot apply: it would record a privileged visit
	// (written before such rows were refused, or into the database by
	// hand); the visits it names are never recorded.
	Void bool `json:"void,omitempty"`
}

// Records reports whether the policy lets a recording run at all.
func (p RecordingPolicy) Records() bool { return p.Policy != RecordNever }

// defaultPolicy is the rule when no administrator has set one: privileged
// visits are never recorded, other visits only with everyone's consent,
// kept 30 days.
func defaultPolicy(post, kind string) RecordingPolicy {
	if Privileged(kind) {
		return RecordingPolicy{Post: post, Kind: kind, Policy: RecordNever, Default: true}
	}
	return RecordingPolicy{Post: post, Kind: kind, Policy: RecordConsent, RetentionDays: 30, Default: true}
}

// PolicyFor returns the recording policy in force for a kind of visit at a
// post: the post's own, else the one for every post, else the built-in rule.
// Consular and legal visits are never recorded, whatever a row of the
// database says.
func (s *Service) PolicyFor(ctx context.Context, post, kind string) (RecordingPolicy, error) {
	if Privileged(kind) {
		return defaultPolicy(post, kind), nil
	}
	for _, p := range []string{post, ""} {
		rp := RecordingPolicy{Post: p, Kind: kind}
		var at int64
		err := s.db.QueryRowContext(ctx, `SELECT policy, retention_days, note, set_by, set_at FROM recording_policies WHERE post = $1 AND kind = $2`, p, kind).
			Scan(&rp.Policy, &rp.RetentionDays, &rp.Note, &rp.SetBy, &at)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return RecordingPolicy{}, fmt.Errorf("read recording policy: %w", err)
		}
		rp.SetAt = db.Time(at)
		return rp, nil
	}
	return defaultPolicy(post, kind), nil
}

// ListRecordingPolicies lists the policies administrators set, and the
// built-in rule for each kind of visit, for the policy page.
func (s *Service) ListRecordingPolicies(ctx context.Context, a cases.Actor) ([]RecordingPolicy, error) {
	if !s.policy.Can(a.User, auth.ReadFacility, nil) {
		return nil, problem.New(problem.Forbidden, "You may not see recording policies.")
	}
	rows, err := s.db.QueryContext(ctx, `SELECT post, kind, policy, retention_days, note, set_by, set_at FROM recording_policies ORDER BY post, kind`)
	if err != nil {
		return nil, fmt.Errorf("list recording policies: %w", err)
	}
	defer rows.Close()
	var out []RecordingPolicy
	for rows.Next() {
		var rp RecordingPolicy
		var at int64
		if err := rows.Scan(&rp.Post, &rp.Kind, &rp.Policy, &rp.RetentionDays, &rp.Note, &rp.SetBy, &at); err != nil {
			return nil, fmt.Errorf("list recording policies: %w", err)
		}
		rp.SetAt = db.Time(at)
		rp.Void = Privileged(rp.Kind) && rp.Records()
		out = append(out, rp)
	}
	return out, rows.Err()
}

// PolicyInput is a recording policy an administrator sets.
type PolicyInput struct {
	Post          string
	Kind          string
	Policy        string
	RetentionDays int
	Note          string
}

// SetRecordingPolicy sets (or, with Policy "", removes) the recording policy
// of a kind of visit at a post. Only administrators may; a privileged kind
// cannot be recorded. Audited.
func (s *Service) SetRecordingPolicy(ctx context.Context, a cases.Actor, in PolicyInput) error {
	if !s.policy.Can(a.User, auth.ManageRecording, nil) {
		return problem.New(problem.Forbidden, "Only an administrator may set recording policies.")
	}
	in.Post, in.Note = strings.TrimSpace(in.Post), strings.TrimSpace(in.Note)
	f := problem.Fields{}
	if !Kinds.Has(in.Kind) {
		f.Add("kind", "Choose a kind of visit.")
	}
	if in.Policy != "" && !RecordingPolicies.Has(in.Policy) {
		f.Add("policy", "Choose never, with consent or always.")
	}
	if Privileged(in.Kind) && in.Policy != "" && in.Policy != RecordNever {
		f.Add("kind", "Consular and legal visits are privileged: they are never recorded, whatever the policy.")
	}
	if in.Policy != "" && in.Policy != RecordNever && (in.RetentionDays < 1 || in.RetentionDays > 3650) {
		f.Add("retention_days", "Keep recordings from 1 to 3650 days.")
	}
	if err := f.Err(); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM recording_policies WHERE post = $1 AND kind = $2`, in.Post, in.Kind); err != nil {
			return fmt.Errorf("set recording policy: %w", err)
		}
		detail := fmt.Sprintf("post=%q kind=%s policy=%s retention_days=%d: %s", in.Post, in.Kind, in.Policy, in.RetentionDays, in.Note)
		if in.Policy != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO recording_policies (post, kind, policy, retention_days, note, set_by, set_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				in.Post, in.Kind, in.Policy, in.RetentionDays, in.Note, a.User.DisplayName, db.Instant(s.now())); err != nil {
				return fmt.Errorf("set recording policy: %w", err)
			}
		} else {
			detail = fmt.Sprintf("post=%q kind=%s removed: %s", in.Post, in.Kind, in.Note)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "recording.policy", ObjectType: "recording_policy",
			ObjectID: in.Post + "/" + in.Kind, Detail: detail})
	})
}
