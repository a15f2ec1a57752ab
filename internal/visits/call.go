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
	ErrNoCallState = problem.New(problem.Conflict, "This visit is not planned or under way: there is no call to enter.")
)

// Times are the call's clock: the room (with its waiting room) and the
// join links open OpensBefore the start; the call goes on Grace after the
// scheduled end, to finish a sentence, then ends; everyone is warned
// EndWarning before the scheduled end.
type Times struct {
	OpensBefore time.Duration
	Grace       time.Duration
}

// EndWarning is how long before the scheduled end everyone is warned.
const EndWarning = 5 * time.Minute

// DefaultTimes open the room 15 minutes early and allow 2 minutes' grace.
var DefaultTimes = Times{OpensBefore: 15 * time.Minute, Grace: 2 * time.Minute}

// SetTimes changes the call's clock (from the configuration).
func (s *Service) SetTimes(t Times) { s.times = t }

// Times returns the call's clock.
func (s *Service) Times() Times { return s.times }

// errNotOpenYet says when the room opens.
func (s *Service) errNotOpenYet() error {
	return problem.New(problem.Conflict, "The visit's room opens %d minutes before its start.", int(s.times.OpensBefore.Minutes()))
}

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
	var ended sql.NullInt64
	var post string
	err := s.db.QueryRowContext(ctx, `SELECT v.modality, v.starts, v.ends, v.status, COALESCE(f.time_zone, ''), v.call_ended, v.kind, c.post
		FROM visits v JOIN cases c ON c.id = v.case_id LEFT JOIN facilities f ON f.id = v.facility_id WHERE v.id = $1 AND v.case_id = $2`, visitID, caseID).
		Scan(&v.Modality, &st, &en, &v.Status, &v.Zone, &ended, &v.Kind, &post)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, problem.New(problem.NotFound, "No such visit.")
	}
	if err != nil {
		return nil, fmt.Errorf("read visit: %w", err)
	}
	v.Starts, v.Ends = db.Time(st), db.Time(en)
	if v.Recording, err = s.PolicyFor(ctx, post, v.Kind); err != nil {
		return nil, err
	}
	now := s.now()
	switch {
	case !IsVideo(v.Modality):
		return nil, ErrNotVideo
	case v.Status != "planned" && v.Status != "confirmed" && v.Status != "in_progress":
		return nil, ErrNoCallState
	case ended.Valid || !now.Before(v.Ends):
		return nil, ErrVisitOver
	case now.Before(v.Starts.Add(-s.times.OpensBefore)):
		return nil, s.errNotOpenYet()
	}
	return &v, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "visit.call_enter", ObjectType: "case", ObjectID: caseID,
		Detail: "visit=" + visitID})
}
