package access

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
	"github.com/attache-org/attache/internal/edate"
	"github.com/attache-org/attache/internal/problem"
)

// SuspensionInput is a suspension to record.
type SuspensionInput struct {
	DetainingState string
	FacilityID     string
	Modes          []string
	Reason         string
	Starts         string
	Zone           string // of Starts; default the facility's, else UTC
	SourceRef      string
}

// AddSuspension records that a detaining state (or one facility) suspended
// some modes of access from a date. The registry is reference data that
// case workers keep, like the facilities.
func (s *Service) AddSuspension(ctx context.Context, a cases.Actor, in SuspensionInput) (*Suspension, error) {
	if !s.policy.Can(a.User, auth.ManageFacility, nil) {
		return nil, problem.New(problem.Forbidden, "You may not record suspensions.")
	}
	post, err := s.suspensionPost(ctx, a, in.FacilityID)
	if err != nil {
		return nil, err
	}
	f := problem.Fields{}
	sp := Suspension{ID: db.NewID(), DetainingState: strings.ToUpper(strings.TrimSpace(in.DetainingState)), FacilityID: in.FacilityID,
		Reason: strings.TrimSpace(in.Reason), SourceRef: strings.TrimSpace(in.SourceRef)}
	if _, ok := cases.CountryName(sp.DetainingState); !ok {
		f.Add("detaining_state", "Choose the detaining state.")
	}
	for _, m := range in.Modes {
		if !Modes.Has(m) {
			f.Add("modes", "Choose modes from the list.")
		} else if !slicesContains(sp.Modes, m) {
			sp.Modes = append(sp.Modes, m)
		}
	}
	if len(sp.Modes) == 0 {
		f.Add("modes", "Choose at least one suspended mode.")
	}
	if sp.Reason == "" {
		f.Add("reason", "Give the reason the detaining state gave (e.g. the COVID-19 epidemic).")
	}
	if in.Zone == "" && sp.FacilityID != "" {
		if err := s.db.QueryRowContext(ctx, `SELECT time_zone FROM facilities WHERE id = $1`, sp.FacilityID).Scan(&in.Zone); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("read facility: %w", err)
		}
	}
	if sp.Starts, err = edate.Parse(in.Starts, in.Zone); err != nil {
		field := "starts"
		if errors.Is(err, edate.ErrUnknownZone) {
			field = "zone"
		}
		f.AddErr(field, err)
	} else if sp.Starts.IsZero() {
		f.Add("starts", "Give the date it starts.")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if sp.FacilityID != "" {
			var country string
			err := tx.QueryRowContext(ctx, `SELECT country FROM facilities WHERE id = $1`, sp.FacilityID).Scan(&country)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && country != sp.DetainingState) {
				return problem.Field("facility_id", "Choose a facility of the detaining state, or none for the whole state.")
			}
			if err != nil {
				return fmt.Errorf("read facility: %w", err)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO suspensions (id, detaining_state, facility_id, modes, reason, starts, starts_earliest, source_ref, created_by, created_at, post)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, sp.ID, sp.DetainingState, nullStr(sp.FacilityID), strings.Join(sp.Modes, " "),
			sp.Reason, sp.Starts.String(), db.Instant(sp.Starts.Earliest()), sp.SourceRef, a.User.DisplayName, db.Instant(s.now()), post)
		if err != nil {
			return fmt.Errorf("insert suspension: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "suspension.create", ObjectType: "suspension", ObjectID: sp.ID,
			Detail: fmt.Sprintf("%s %s from %s: %s", sp.DetainingState, strings.Join(sp.Modes, ","), sp.Starts, sp.Reason)})
	})
	if err != nil {
		return nil, err
	}
	return &sp, nil
}

func slicesContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func nullStr(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// suspensionPost is the post that keeps a suspension a records: the
// facility's post, or for a suspension by the whole detaining state, a's
// own (HQ's when a has none). It fails when a may not keep it.
func (s *Service) suspensionPost(ctx context.Context, a cases.Actor, facility string) (string, error) {
	if facility == "" {
		return a.User.Post, nil
	}
	post, err := s.cases.FacilityPost(ctx, facility)
	if problem.Is(err, problem.NotFound) {
		return "", problem.Field("facility_id", "Choose a facility from the list, or none.")
	}
	if err != nil {
		return "", err
	}
	return post, s.maySuspend(a, post)
}

// maySuspend says whether a may record or lift a suspension kept by post.
func (s *Service) maySuspend(a cases.Actor, post string) error {
	if s.policy.CanManageFacility(a.User, post) {
		return nil
	}
	if post == "" {
		return problem.New(problem.Forbidden, "HQ recorded this suspension: ask the desk to change it.")
	}
	return problem.New(problem.Forbidden, "The post in %s keeps this suspension: its officers change it.", post)
}

// MayLift reports whether a may record the end of sp.
func (s *Service) MayLift(a cases.Actor, sp Suspension) bool { return s.maySuspend(a, sp.Post) == nil }

// LiftSuspension records the date a suspension ended, in the zone of its
// start.
func (s *Service) LiftSuspension(ctx context.Context, a cases.Actor, id, ends string) error {
	if !s.policy.Can(a.User, auth.ManageFacility, nil) {
		return problem.New(problem.Forbidden, "You may not record suspensions.")
	}
	var startsText string
	var post string
	if err := s.db.QueryRowContext(ctx, `SELECT starts, post FROM suspensions WHERE id = $1`, id).Scan(&startsText, &post); errors.Is(err, sql.ErrNoRows) {
		return problem.New(problem.NotFound, "No such suspension.")
	} else if err != nil {
		return fmt.Errorf("read suspension: %w", err)
	}
	if err := s.maySuspend(a, post); err != nil {
		return err
	}
	started, _ := edate.Decode(startsText)
	end, err := edate.Parse(ends, started.Zone)
	if err != nil {
		return problem.FieldErr("ends", err)
	}
	if end.IsZero() {
		return problem.Field("ends", "Give the date it was lifted.")
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var starts int64
		err := tx.QueryRowContext(ctx, `SELECT starts_earliest FROM suspensions WHERE id = $1`, id).Scan(&starts)
		if errors.Is(err, sql.ErrNoRows) {
			return problem.New(problem.NotFound, "No such suspension.")
		}
		if err != nil {
			return fmt.Errorf("read suspension: %w", err)
		}
		if end.Latest().Before(db.Time(starts)) {
			return problem.Field("ends", "A suspension cannot end before it starts.")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE suspensions SET ends = $2, ends_latest = $3 WHERE id = $1`, id, end.String(), db.Instant(end.Latest())); err != nil {
			return fmt.Errorf("lift suspension: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "suspension.lift", ObjectType: "suspension", ObjectID: id, Detail: end.String()})
	})
}

// Suspensions lists every suspension, newest first.
func (s *Service) Suspensions(ctx context.Context, a cases.Actor) ([]Suspension, error) {
	if !s.policy.Can(a.User, auth.ReadFacility, nil) {
		return nil, problem.New(problem.Forbidden, "You may not see suspensions.")
	}
	return s.loadSuspensions(ctx, s.db, "", "", time.Time{})
}

func (s *Service) suspensionsInForce(ctx context.Context, q db.Querier, state, facilityID string, at time.Time) ([]Suspension, error) {
	all, err := s.loadSuspensions(ctx, q, state, facilityID, at)
	if err != nil {
		return nil, err
	}
	var out []Suspension
	for _, sp := range all {
		if sp.InForce(at) {
			out = append(out, sp)
		}
	}
	return out, nil
}

// loadSuspensions reads suspensions; with state set, those of the state as
// a whole and of facilityID; with at set, those not ended before at.
func (s *Service) loadSuspensions(ctx context.Context, q db.Querier, state, facilityID string, at time.Time) ([]Suspension, error) {
	var cutoff int64
	if !at.IsZero() {
		cutoff = db.Instant(at)
	}
	rows, err := q.QueryContext(ctx, `SELECT s.id, s.detaining_state, COALESCE(s.facility_id, ''),
		COALESCE((SELECT n.value FROM facility_names n WHERE n.facility_id = s.facility_id AND n.position = 0), ''),
		s.modes, s.reason, s.starts, s.ends, s.source_ref, s.post FROM suspensions s
		WHERE ($1 = '' OR (s.detaining_state = $1 AND (s.facility_id IS NULL OR s.facility_id = $2)))
		AND (CAST($3 AS BIGINT) = 0 OR s.ends_latest IS NULL OR s.ends_latest >= $3) ORDER BY s.starts_earliest DESC`, state, facilityID, cutoff)
	if err != nil {
		return nil, fmt.Errorf("read suspensions: %w", err)
	}
	defer rows.Close()
	var out []Suspension
	for rows.Next() {
		var sp Suspension
		var modes, starts, ends string
		if err := rows.Scan(&sp.ID, &sp.DetainingState, &sp.FacilityID, &sp.FacilityName, &modes, &sp.Reason, &starts, &ends, &sp.SourceRef, &sp.Post); err != nil {
			return nil, fmt.Errorf("read suspensions: %w", err)
		}
		sp.Modes = strings.Fields(modes)
		sp.Starts, _ = edate.Decode(starts)
		sp.Ends, _ = edate.Decode(ends)
		out = append(out, sp)
	}
	return out, rows.Err()
}

// InForce returns the suspensions in force at t for a detaining state as a
// whole and for one of its facilities (facilityID may be empty).
func (s *Service) InForce(ctx context.Context, state, facilityID string, t time.Time) ([]Suspension, error) {
	return s.suspensionsInForce(ctx, s.db, state, facilityID, t)
}
