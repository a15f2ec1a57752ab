package visits

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/access"
	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/edate"
	"github.com/attache-org/attache/internal/problem"
)

// PastInput is a visit that took place without being booked here: an
// in-person visit at a police station, a telephone call the facility
// placed, a video visit on the detaining state's own link.
type PastInput struct {
	Modality string
	Kind     string // default: consular
	Start    string // YYYY-MM-DD HH:MM, local to Zone
	Zone     string // default: the facility's
	Minutes  int
	Status   string // held (default) or cut_short
	Officers []string
	Note     string // what the record rests on, e.g. "note of the ambassador, 14 Dec"
}

// RecordPast records a visit that already happened, held or cut short, so
// that it has a report like any other; it is a consular contact, recorded
// as one in the same transaction, like a booked visit that is held.
func (s *Service) RecordPast(ctx context.Context, a cases.Actor, caseID string, in PastInput) (*Visit, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.UpdateCase, caseID); err != nil {
		return nil, err
	}
	var personName, facilityID, zone string
	err := s.db.QueryRowContext(ctx, `SELECT p.display_name, COALESCE(c.facility_id, ''), COALESCE(f.time_zone, '')
		FROM cases c JOIN people p ON p.id = c.person_id LEFT JOIN facilities f ON f.id = c.facility_id WHERE c.id = $1`, caseID).
		Scan(&personName, &facilityID, &zone)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, problem.New(problem.NotFound, "No such case.")
	}
	if err != nil {
		return nil, fmt.Errorf("read case: %w", err)
	}
	f := problem.Fields{}
	in.Kind = checkKind(f, in.Modality, in.Kind, "Choose how the visit happened.")
	if in.Status == "" {
		in.Status = "held"
	}
	if in.Status != "held" && in.Status != "cut_short" {
		f.Add("status", "A past visit was held or cut short.")
	}
	if in.Zone == "" {
		in.Zone = zone
	}
	if in.Zone == "" {
		in.Zone = "UTC"
	}
	start := startAt(f, in.Start, in.Zone)
	if in.Minutes < 1 || in.Minutes > 600 {
		f.Add("minutes", "Give the length in minutes, from 1 to 600.")
	}
	note := strings.TrimSpace(in.Note)
	if note == "" {
		f.Add("note", "Say what the record rests on (whose note, which message).")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	v := &Visit{ID: db.NewID(), CaseID: caseID, FacilityID: facilityID, Modality: in.Modality, Kind: in.Kind, Starts: start,
		Zone: zone, Status: in.Status, Conditions: note}
	v.Ends = v.Starts.Add(time.Duration(in.Minutes) * time.Minute)
	if v.Ends.After(s.now()) {
		return nil, problem.Field("start", "This visit has not ended yet: book it instead.")
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		scope, err := s.cases.Scope(ctx, tx, caseID)
		if err != nil {
			return err
		}
		people, err := s.participants(ctx, tx, ScheduleInput{HostID: a.User.ID, OfficerIDs: in.Officers}, personName, scope)
		if err != nil {
			return err
		}
		v.Participants = people
		now := db.Instant(s.now())
		_, err = tx.ExecContext(ctx, `INSERT INTO visits (id, case_id, facility_id, modality, starts, ends, status, conditions, created_by, created_at, updated_at, kind)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)`, v.ID, caseID, nullStr(facilityID), v.Modality,
			db.Instant(v.Starts), db.Instant(v.Ends), v.Status, note, a.User.DisplayName, now, v.Kind)
		if err != nil {
			return fmt.Errorf("insert visit: %w", err)
		}
		for _, p := range people {
			if _, err := tx.ExecContext(ctx, `INSERT INTO visit_participants (id, visit_id, role, user_id, name, language) VALUES ($1, $2, $3, $4, $5, $6)`,
				db.NewID(), v.ID, p.Role, nullStr(p.UserID), p.Name, p.Language); err != nil {
				return fmt.Errorf("insert participant: %w", err)
			}
		}
		if err := s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "visit.record_past", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("visit=%s %s %s %s–%s: %s", v.ID, v.Status, v.Modality, v.Starts.Format(time.RFC3339), v.Ends.Format(time.RFC3339), note)}); err != nil {
			return err
		}
		loc, lerr := edate.LoadZone(in.Zone)
		if lerr != nil {
			loc = time.UTC
		}
		_, err = s.access.AddContactTx(ctx, tx, a, caseID, access.ContactInput{Happened: v.Starts.In(loc).Format("2006-01-02 15:04"), Zone: loc.String(),
			Mode: v.Modality, Notes: note, SourceRef: "visit " + v.ID, Title: visitTitle(v.Modality, v.Status)})
		return err
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}
