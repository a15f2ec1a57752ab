package visits

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
)

// Errors an officer is shown on entering a call.
var (
	ErrNotVideo    = problem.New(problem.Conflict, "This visit is not held by video.")
	ErrNotOpenYet  = problem.New(problem.Conflict, "The visit's room opens 15 minutes before its start.")
	ErrNoCallState = problem.New(problem.Conflict, "This visit is not planned or under way: there is no call to enter.")
)

// A call goes on EndGrace after the scheduled end, to finish a sentence,
// then ends; everyone is warned EndWarning before the scheduled end.
const (
	EndGrace   = 2 * time.Minute
	EndWarning = 5 * time.Minute
)

// IsVideo reports whether a modality is held through the media server.
func IsVideo(modality string) bool { return modality == "remote_video" || modality == "onsite_video" }

// EnterCall admits an officer who may work on the case into a visit's
// call: the visit must be by video, planned, confirmed or under way, and
// its room open (from OpensBefore its start to its end). Entering is
// audited.
func (s *Service) EnterCall(ctx context.Context, a cases.Actor, caseID, visitID string) (*Visit, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.UpdateCase, caseID); err != nil {
		return nil, err
	}
	v := Visit{ID: visitID, CaseID: caseID}
	var st, en int64
	err := s.db.QueryRowContext(ctx, `SELECT v.modality, v.starts, v.ends, v.status, COALESCE(f.time_zone, '')
		FROM visits v LEFT JOIN facilities f ON f.id = v.facility_id WHERE v.id = $1 AND v.case_id = $2`, visitID, caseID).
		Scan(&v.Modality, &st, &en, &v.Status, &v.Zone)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, problem.New(problem.NotFound, "No such visit.")
	}
	if err != nil {
		return nil, fmt.Errorf("read visit: %w", err)
	}
	v.Starts, v.Ends = db.Time(st), db.Time(en)
	now := s.now()
	switch {
	case !IsVideo(v.Modality):
		return nil, ErrNotVideo
	case v.Status != "planned" && v.Status != "confirmed" && v.Status != "in_progress":
		return nil, ErrNoCallState
	case !now.Before(v.Ends):
		return nil, ErrVisitOver
	case now.Before(v.Starts.Add(-OpensBefore)):
		return nil, ErrNotOpenYet
	}
	return &v, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "visit.call_enter", ObjectType: "case", ObjectID: caseID,
		Detail: "visit=" + visitID})
}
