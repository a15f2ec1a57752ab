// Package visits schedules consular visits: the terminals and visit windows
// of facilities, and visits with their participants, refusing bookings
// outside the windows (with the next free slots proposed) and double
// bookings of a terminal or an officer, even under concurrency.
package visits

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/access"
	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/edate"
	"github.com/attache-org/attache/internal/notify"
	"github.com/attache-org/attache/internal/problem"
)

// Modalities of a visit.
var Modalities = cases.Vocab{
	{Code: "remote_video", Label: "Remote video"}, {Code: "onsite_video", Label: "Video from the facility (on-site)"},
	{Code: "in_person", Label: "In person"}, {Code: "phone", Label: "Telephone"},
}

// Statuses of a visit.
var Statuses = cases.Vocab{
	{Code: "planned", Label: "Planned"}, {Code: "confirmed", Label: "Confirmed by the host"}, {Code: "in_progress", Label: "In progress"},
	{Code: "held", Label: "Held"}, {Code: "cut_short", Label: "Cut short"}, {Code: "cancelled", Label: "Cancelled"},
	{Code: "refused_by_detainee", Label: "Refused by the detainee"}, {Code: "no_show", Label: "No-show"},
}

// visitTitle names a visit that took place on the case's timeline, in
// its reader's language: "Visit (Remote video): Held".
func visitTitle(modality, status string) problem.Text {
	return problem.Textf("Visit (%s): %s", problem.Textf(Modalities.Label(modality)), problem.Textf(Statuses.Label(status)))
}

// ParticipantRoles are the parts people take in a visit.
var ParticipantRoles = cases.Vocab{
	{Code: "host", Label: "Host"}, {Code: "officer", Label: "Officer"}, {Code: "interpreter", Label: "Interpreter"},
	{Code: "detainee", Label: "Detainee"}, {Code: "monitor", Label: "Detaining state's monitor"},
}

// booked are the statuses that hold a terminal and the officers.
const booked = `('planned', 'confirmed', 'in_progress')`

// Participant is someone in a visit.
type Participant struct {
	Role     string `json:"role"` // host, officer, interpreter, detainee, monitor
	UserID   string `json:"user_id,omitempty"`
	Name     string `json:"name"`
	Language string `json:"language,omitempty"`
}

// Visit is a scheduled visit.
type Visit struct {
	ID           string        `json:"id"`
	CaseID       string        `json:"case_id"`
	FacilityID   string        `json:"facility_id,omitempty"`
	TerminalID   string        `json:"terminal_id,omitempty"`
	Modality     string        `json:"modality"`
	Kind         string        `json:"kind"` // consular, legal, family
	Starts       time.Time     `json:"starts"`
	Ends         time.Time     `json:"ends"`
	Zone         string        `json:"zone"` // the facility's, for showing local times
	Status       string        `json:"status"`
	RequestID    string        `json:"request_id,omitempty"`
	Conditions   string        `json:"conditions,omitempty"`
	CancelledBy  string        `json:"cancelled_by,omitempty"`
	CancelReason string        `json:"cancel_reason,omitempty"`
	Participants []Participant `json:"participants"`
	// CallEnded is when the call ended for everyone, and CallEndReason why
	// (host, monitor, time); Presence is who was in the call when.
	CallEnded     *time.Time `json:"call_ended,omitempty"`
	CallEndReason string     `json:"call_end_reason,omitempty"`
	Presence      []Presence `json:"presence,omitempty"`
	// Recording is the recording policy in force for the visit, and
	// Recordings the files recorded.
	Recording  RecordingPolicy `json:"recording"`
	Recordings []RecordedFile  `json:"recordings,omitempty"`
	// LegalHold keeps its recordings past their retention (CaseHold: the
	// whole case's).
	LegalHold bool `json:"legal_hold"`
	CaseHold  bool `json:"case_hold"`
}

// Service schedules visits.
type Service struct {
	db      *db.DB
	audit   *audit.Log
	cases   *cases.Service
	access  *access.Service
	policy  auth.Policy
	times   Times
	notices Notices
	now     func() time.Time
}

// NewService returns the visit scheduler, with the default Times.
func NewService(d *db.DB, a *audit.Log, c *cases.Service, acc *access.Service) *Service {
	return &Service{db: d, audit: a, cases: c, access: acc, times: DefaultTimes, now: time.Now}
}

// SetClock replaces the clock, for tests.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// ---- facility setup ----

// AddTerminal registers a video terminal of a facility.
func (s *Service) AddTerminal(ctx context.Context, a cases.Actor, facilityID, name string) (string, error) {
	if !s.policy.Can(a.User, auth.ManageFacility, nil) {
		return "", problem.New(problem.Forbidden, "You may not change facilities.")
	}
	if err := s.cases.MayManageFacility(ctx, a, facilityID); err != nil {
		return "", err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return "", problem.Field("name", "Name the terminal (e.g. \"Video room 1\").")
	}
	id := db.NewID()
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO terminals (id, facility_id, name, active, created_at) VALUES ($1, $2, $3, TRUE, $4)`,
			id, facilityID, name, db.Instant(s.now()))
		switch {
		case db.IsUniqueViolation(err):
			return problem.Field("name", "The facility has a terminal of this name already.")
		case err != nil && strings.Contains(strings.ToLower(err.Error()), "foreign key"):
			return problem.New(problem.NotFound, "No such facility.")
		case err != nil:
			return fmt.Errorf("add terminal: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "facility.terminal_add", ObjectType: "facility", ObjectID: facilityID, Detail: name})
	})
	return id, err
}

// Window is a weekly visit window in the facility's local time.
type Window struct {
	Weekday time.Weekday
	Opens   string // HH:MM
	Closes  string // HH:MM
}

func minutesOf(hhmm string) (int, bool) {
	var h, m int
	if len(hhmm) != 5 || hhmm[2] != ':' {
		return 0, false
	}
	if _, err := fmt.Sscanf(hhmm, "%02d:%02d", &h, &m); err != nil || h > 23 || m > 59 {
		return 0, false
	}
	return h*60 + m, true
}

// SetWindows replaces a facility's weekly visit windows and excluded days
// (local dates YYYY-MM-DD).
func (s *Service) SetWindows(ctx context.Context, a cases.Actor, facilityID string, windows []Window, excluded []string) error {
	if !s.policy.Can(a.User, auth.ManageFacility, nil) {
		return problem.New(problem.Forbidden, "You may not change facilities.")
	}
	if err := s.cases.MayManageFacility(ctx, a, facilityID); err != nil {
		return err
	}
	f := problem.Fields{}
	for _, w := range windows {
		o, ok1 := minutesOf(w.Opens)
		c, ok2 := minutesOf(w.Closes)
		if !ok1 || !ok2 || c <= o || w.Weekday < time.Sunday || w.Weekday > time.Saturday {
			f.Add("windows", "Give each window as a weekday and HH:MM to HH:MM, closing after it opens.")
		}
	}
	for _, d := range excluded {
		if dd, err := edate.Parse(d, ""); err != nil || dd.Precision != edate.Day {
			f.Add("excluded", "Give excluded days as YYYY-MM-DD.")
		}
	}
	if err := f.Err(); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM visit_windows WHERE facility_id = $1`, `DELETE FROM visit_exclusions WHERE facility_id = $1`} {
			if _, err := tx.ExecContext(ctx, q, facilityID); err != nil {
				return fmt.Errorf("replace windows: %w", err)
			}
		}
		for _, w := range windows {
			if _, err := tx.ExecContext(ctx, `INSERT INTO visit_windows (id, facility_id, weekday, opens, closes) VALUES ($1, $2, $3, $4, $5)`,
				db.NewID(), facilityID, int(w.Weekday), w.Opens, w.Closes); err != nil {
				return fmt.Errorf("add window: %w", err)
			}
		}
		for _, d := range excluded {
			if _, err := tx.ExecContext(ctx, `INSERT INTO visit_exclusions (facility_id, day) VALUES ($1, $2) ON CONFLICT DO NOTHING`, facilityID, d); err != nil {
				return fmt.Errorf("add exclusion: %w", err)
			}
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "facility.windows_set", ObjectType: "facility", ObjectID: facilityID,
			Detail: fmt.Sprintf("%d windows, %d excluded days", len(windows), len(excluded))})
	})
}

type calendar struct {
	loc      *time.Location
	windows  []Window
	excluded map[string]bool
}

func (s *Service) calendar(ctx context.Context, q db.Querier, facilityID, zone string) (*calendar, error) {
	loc, err := edate.LoadZone(zone)
	if err != nil {
		loc = time.UTC
	}
	c := &calendar{loc: loc, excluded: map[string]bool{}}
	rows, err := q.QueryContext(ctx, `SELECT weekday, opens, closes FROM visit_windows WHERE facility_id = $1`, facilityID)
	if err != nil {
		return nil, fmt.Errorf("read windows: %w", err)
	}
	for rows.Next() {
		var w Window
		var wd int
		if err := rows.Scan(&wd, &w.Opens, &w.Closes); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read windows: %w", err)
		}
		w.Weekday = time.Weekday(wd)
		c.windows = append(c.windows, w)
	}
	rows.Close()
	rows, err = q.QueryContext(ctx, `SELECT day FROM visit_exclusions WHERE facility_id = $1`, facilityID)
	if err != nil {
		return nil, fmt.Errorf("read exclusions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("read exclusions: %w", err)
		}
		c.excluded[d] = true
	}
	return c, rows.Err()
}

// fits reports whether [start, end) lies inside one window on a day that
// is not excluded. A facility without windows takes any time.
func (c *calendar) fits(start, end time.Time) bool {
	if len(c.windows) == 0 {
		return true
	}
	ls, le := start.In(c.loc), end.In(c.loc)
	if ls.YearDay() != le.Add(-time.Nanosecond).YearDay() || c.excluded[ls.Format("2006-01-02")] {
		return false
	}
	from, to := ls.Hour()*60+ls.Minute(), le.Hour()*60+le.Minute()
	if le.Hour() == 0 && le.Minute() == 0 && !le.Equal(ls) {
		to = 24 * 60
	}
	for _, w := range c.windows {
		o, _ := minutesOf(w.Opens)
		cl, _ := minutesOf(w.Closes)
		if w.Weekday == ls.Weekday() && from >= o && to <= cl {
			return true
		}
	}
	return false
}

// busy is a booked span.
type busy struct{ start, end time.Time }

// nextSlots proposes up to n starts from after, on the half hour, that fit
// the calendar and avoid the busy spans, within two weeks.
func (c *calendar) nextSlots(after time.Time, length time.Duration, taken []busy, n int) []time.Time {
	var out []time.Time
	// Round up to the next half hour of the facility's wall clock (zones
	// such as Asia/Kathmandu are not on the UTC half hour).
	l := after.In(c.loc)
	t := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute()/30*30, 0, 0, c.loc)
	if t.Before(after) {
		t = t.Add(30 * time.Minute)
	}
	for limit := after.Add(14 * 24 * time.Hour); t.Before(limit) && len(out) < n; t = t.Add(30 * time.Minute) {
		end := t.Add(length)
		if !c.fits(t, end) {
			continue
		}
		free := true
		for _, b := range taken {
			if t.Before(b.end) && end.After(b.start) {
				free = false
				break
			}
		}
		if free {
			out = append(out, t)
		}
	}
	return out
}

// ---- scheduling ----

// ScheduleInput is a visit to book.
type ScheduleInput struct {
	Modality    string
	Kind        string // default: consular
	Start       string // YYYY-MM-DD HH:MM, local to Zone
	Zone        string // default: the facility's
	Minutes     int
	TerminalID  string
	HostID      string   // default: the user booking
	OfficerIDs  []string // other officers attending
	Interpreter *Participant
	Monitor     string // the detaining state's monitor, shown to everyone
	RequestID   string
	Conditions  string
}

// Warning is advice with a booking that was made.
type Warning struct {
	Message string `json:"message"`
}

// Schedule books a visit for a case. Outside the facility's windows it is
// refused with the next free slots proposed; a terminal or an officer
// already booked at that time is a conflict. A modality the detaining state
// suspended is booked with a warning.
func (s *Service) Schedule(ctx context.Context, a cases.Actor, caseID string, in ScheduleInput) (*Visit, *Warning, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.UpdateCase, caseID); err != nil {
		return nil, nil, err
	}
	var state, personName, facilityID, zone string
	err := s.db.QueryRowContext(ctx, `SELECT c.detaining_state, p.display_name, COALESCE(c.facility_id, ''), COALESCE(f.time_zone, '')
		FROM cases c JOIN people p ON p.id = c.person_id LEFT JOIN facilities f ON f.id = c.facility_id WHERE c.id = $1`, caseID).
		Scan(&state, &personName, &facilityID, &zone)
	if err != nil {
		return nil, nil, fmt.Errorf("read case: %w", err)
	}
	f := problem.Fields{}
	in.Kind = checkKind(f, in.Modality, in.Kind, "Choose how the visit happens.")
	if in.Zone == "" {
		in.Zone = zone
	}
	start := startAt(f, in.Start, in.Zone)
	if !start.IsZero() && !start.After(s.now()) {
		f.Add("start", "The start is in the past.")
	}
	if in.Minutes < 5 || in.Minutes > 240 {
		f.Add("minutes", "A visit lasts from 5 to 240 minutes.")
	}
	if in.HostID == "" {
		in.HostID = a.User.ID
	}
	if err := f.Err(); err != nil {
		return nil, nil, err
	}
	v := &Visit{ID: db.NewID(), CaseID: caseID, FacilityID: facilityID, TerminalID: in.TerminalID, Modality: in.Modality, Kind: in.Kind,
		Starts: start, Zone: zone, Status: "planned", RequestID: in.RequestID, Conditions: strings.TrimSpace(in.Conditions)}
	v.Ends = v.Starts.Add(time.Duration(in.Minutes) * time.Minute)
	var warn *Warning
	sus, err := s.access.InForce(ctx, state, facilityID, v.Starts)
	if err != nil {
		return nil, nil, err
	}
	for _, sp := range sus {
		if slices.Contains(sp.Modes, in.Modality) || (in.Modality == "onsite_video" && slices.Contains(sp.Modes, "onsite_video")) {
			warn = &Warning{Message: fmt.Sprintf("%s visits are suspended since %s (%s).", Modalities.Label(in.Modality), sp.Starts.Human(), sp.Reason)}
		}
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		scope, err := s.cases.Scope(ctx, tx, caseID)
		if err != nil {
			return err
		}
		people, err := s.participants(ctx, tx, in, personName, scope)
		if err != nil {
			return err
		}
		v.Participants = people
		if v.RequestID != "" {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM access_requests WHERE id = $1 AND case_id = $2`, v.RequestID, caseID).Scan(&n); err != nil {
				return fmt.Errorf("read request: %w", err)
			}
			if n == 0 {
				return problem.Field("request_id", "Choose one of this case's access requests.")
			}
		}
		if err := s.book(ctx, tx, caseID, v, people, facilityID, zone, ""); err != nil {
			return err
		}
		now := db.Instant(s.now())
		_, err = tx.ExecContext(ctx, `INSERT INTO visits (id, case_id, facility_id, terminal_id, modality, starts, ends, status, request_id, conditions, created_by, created_at, updated_at, kind)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'planned', $8, $9, $10, $11, $11, $12)`, v.ID, caseID, nullStr(facilityID), nullStr(v.TerminalID), v.Modality,
			db.Instant(v.Starts), db.Instant(v.Ends), nullStr(v.RequestID), v.Conditions, a.User.DisplayName, now, v.Kind)
		if err != nil {
			return fmt.Errorf("insert visit: %w", err)
		}
		for _, p := range people {
			if _, err := tx.ExecContext(ctx, `INSERT INTO visit_participants (id, visit_id, role, user_id, name, language) VALUES ($1, $2, $3, $4, $5, $6)`,
				db.NewID(), v.ID, p.Role, nullStr(p.UserID), p.Name, p.Language); err != nil {
				return fmt.Errorf("insert participant: %w", err)
			}
		}
		if err := s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "visit.schedule", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("visit=%s %s %s–%s terminal=%s", v.ID, v.Modality, v.Starts.Format(time.RFC3339), v.Ends.Format(time.RFC3339), v.TerminalID)}); err != nil {
			return err
		}
		return s.announce(ctx, tx, v.ID, notify.VisitScheduled)
	})
	if err != nil {
		return nil, nil, err
	}
	return v, warn, nil
}

// book checks that v fits the facility's windows and that its terminal,
// the detainee and the officers are free, holding their locks until the
// transaction ends. except is a visit to leave out (the one being moved).
func (s *Service) book(ctx context.Context, tx *sql.Tx, caseID string, v *Visit, people []Participant, facilityID, zone, except string) error {
	// Lock what is booked, in a fixed order (the detainee, the terminal,
	// the officers), then look for overlaps.
	keys := []string{"visits.case." + caseID}
	if v.TerminalID != "" {
		keys = append(keys, "visits.terminal."+v.TerminalID)
	}
	for _, p := range people {
		if p.UserID != "" {
			keys = append(keys, "visits.user."+p.UserID)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := s.db.Lock(ctx, tx, k); err != nil {
			return err
		}
	}
	if facilityID != "" {
		cal, err := s.calendar(ctx, tx, facilityID, zone)
		if err != nil {
			return err
		}
		taken, err := s.terminalBusy(ctx, tx, v.TerminalID, v.Starts, except)
		if err != nil {
			return err
		}
		// Proposed slots also avoid the detainee's and the officers' other visits.
		var users []string
		for _, p := range people {
			if p.UserID != "" {
				users = append(users, p.UserID)
			}
		}
		others, err := s.peopleBusy(ctx, tx, caseID, users, v.Starts, except)
		if err != nil {
			return err
		}
		avoid := append(append([]busy(nil), taken...), others...)
		if !cal.fits(v.Starts, v.Ends) {
			return problem.Field("start", "The facility takes no visits then."+slotsText(cal, v.Starts, s.now(), v.Ends.Sub(v.Starts), avoid))
		}
		if v.TerminalID != "" {
			var tfac string
			var active bool
			err := tx.QueryRowContext(ctx, `SELECT facility_id, active FROM terminals WHERE id = $1`, v.TerminalID).Scan(&tfac, &active)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && (tfac != facilityID || !active)) {
				return problem.Field("terminal_id", "Choose an active terminal of the case's facility.")
			}
			if err != nil {
				return fmt.Errorf("read terminal: %w", err)
			}
			for _, b := range taken {
				if v.Starts.Before(b.end) && v.Ends.After(b.start) {
					return problem.New(problem.Conflict, "The terminal is booked from %s to %s.%s", local(b.start, cal.loc), local(b.end, cal.loc),
						slotsText(cal, v.Starts, s.now(), v.Ends.Sub(v.Starts), avoid))
				}
			}
		}
	} else if v.TerminalID != "" {
		return problem.Field("terminal_id", "The case has no facility, so no terminal.")
	}
	var clash int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM visits WHERE case_id = $1 AND status IN `+booked+` AND starts < $2 AND ends > $3 AND id <> $4`,
		caseID, db.Instant(v.Ends), db.Instant(v.Starts), except).Scan(&clash); err != nil {
		return fmt.Errorf("check detainee: %w", err)
	}
	if clash > 0 {
		return problem.New(problem.Conflict, "The detainee has another visit at that time.")
	}
	for _, p := range people {
		if p.UserID == "" {
			continue
		}
		var n int
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM visits v JOIN visit_participants p ON p.visit_id = v.id
			WHERE p.user_id = $1 AND v.status IN `+booked+` AND v.starts < $2 AND v.ends > $3 AND v.id <> $4`, p.UserID, db.Instant(v.Ends), db.Instant(v.Starts), except).Scan(&n)
		if err != nil {
			return fmt.Errorf("check officer: %w", err)
		}
		if n > 0 {
			return problem.New(problem.Conflict, "%s is in another visit at that time.", p.Name)
		}
	}
	return nil
}

// checkKind checks a visit's modality and kind (consular when empty) and
// returns the kind.
func checkKind(f problem.Fields, modality, kind, modalityMsg string) string {
	if !Modalities.Has(modality) {
		f.Add("modality", modalityMsg)
	}
	if kind == "" {
		kind = "consular"
	}
	if !Kinds.Has(kind) {
		f.Add("kind", "Choose the kind of visit.")
	}
	return kind
}

// startAt reads a visit's start, given to the minute in zone; what is
// wrong goes into f (under "zone" for an unknown zone, else "start") and
// the zero time is returned.
func startAt(f problem.Fields, value, zone string) time.Time {
	at, err := edate.Parse(value, zone)
	switch {
	case err != nil && errors.Is(err, edate.ErrUnknownZone):
		f.AddErr("zone", err)
	case err != nil:
		f.AddErr("start", err)
	case at.Precision != edate.Minute || at.Approx:
		f.Add("start", "Give the day and the time: YYYY-MM-DD HH:MM.")
	default:
		return at.Earliest()
	}
	return time.Time{}
}

func nullStr(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func local(t time.Time, loc *time.Location) string { return t.In(loc).Format("2006-01-02 15:04 MST") }

// slotsText proposes free slots from the start of the asked day (or now,
// if later), so that an earlier time the same day is offered too.
func slotsText(cal *calendar, asked, now time.Time, length time.Duration, taken []busy) string {
	l := asked.In(cal.loc)
	from := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, cal.loc)
	if from.Before(now) {
		from = now
	}
	slots := cal.nextSlots(from, length, taken, 3)
	if len(slots) == 0 {
		return " No free slot in the next two weeks."
	}
	var parts []string
	for _, t := range slots {
		parts = append(parts, local(t, cal.loc))
	}
	return " Next free: " + strings.Join(parts, ", ") + "."
}

// peopleBusy returns the booked visits of the case's detainee and of the
// given officers around from, for slot proposals.
func (s *Service) peopleBusy(ctx context.Context, q db.Querier, caseID string, userIDs []string, from time.Time, except string) ([]busy, error) {
	cond := "v.case_id = $1"
	args := []any{caseID, db.Instant(from.Add(-24 * time.Hour)), db.Instant(from.Add(15 * 24 * time.Hour)), except}
	for _, id := range userIDs {
		args = append(args, id)
		cond += fmt.Sprintf(" OR EXISTS (SELECT 1 FROM visit_participants p WHERE p.visit_id = v.id AND p.user_id = $%d)", len(args))
	}
	rows, err := q.QueryContext(ctx, `SELECT v.starts, v.ends FROM visits v WHERE (`+cond+`) AND v.status IN `+booked+` AND v.ends > $2 AND v.starts < $3 AND v.id <> $4`, args...)
	if err != nil {
		return nil, fmt.Errorf("read bookings: %w", err)
	}
	defer rows.Close()
	var out []busy
	for rows.Next() {
		var a, b int64
		if err := rows.Scan(&a, &b); err != nil {
			return nil, fmt.Errorf("read bookings: %w", err)
		}
		out = append(out, busy{db.Time(a), db.Time(b)})
	}
	return out, rows.Err()
}

func (s *Service) terminalBusy(ctx context.Context, q db.Querier, terminalID string, from time.Time, except string) ([]busy, error) {
	if terminalID == "" {
		return nil, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT starts, ends FROM visits WHERE terminal_id = $1 AND status IN `+booked+` AND ends > $2 AND starts < $3 AND id <> $4`,
		terminalID, db.Instant(from.Add(-24*time.Hour)), db.Instant(from.Add(15*24*time.Hour)), except)
	if err != nil {
		return nil, fmt.Errorf("read bookings: %w", err)
	}
	defer rows.Close()
	var out []busy
	for rows.Next() {
		var a, b int64
		if err := rows.Scan(&a, &b); err != nil {
			return nil, fmt.Errorf("read bookings: %w", err)
		}
		out = append(out, busy{db.Time(a), db.Time(b)})
	}
	return out, rows.Err()
}

// participants resolves the people of a visit: the host and officers (who
// must be active case workers), the interpreter, the detainee and the
// detaining state's monitor.
func (s *Service) participants(ctx context.Context, q db.Querier, in ScheduleInput, detainee string, scope *auth.Scope) ([]Participant, error) {
	var out []Participant
	seen := map[string]bool{}
	addUser := func(role, id string) error {
		if seen[id] {
			return nil
		}
		seen[id] = true
		var name, r, post, desk string
		var disabled bool
		err := q.QueryRowContext(ctx, `SELECT display_name, role, post, desk, disabled FROM users WHERE id = $1`, id).Scan(&name, &r, &post, &desk, &disabled)
		// Only officers who may see the case can be in its visit.
		if errors.Is(err, sql.ErrNoRows) || (err == nil && (disabled || !s.policy.Can(&auth.User{ID: id, Role: auth.Role(r), Post: post, Desk: desk}, auth.ReadCase, scope))) {
			return problem.Field("officers", "Choose active officers who work on this case.")
		}
		if err != nil {
			return fmt.Errorf("read officer: %w", err)
		}
		out = append(out, Participant{Role: role, UserID: id, Name: name})
		return nil
	}
	if err := addUser("host", in.HostID); err != nil {
		return nil, err
	}
	for _, id := range in.OfficerIDs {
		if err := addUser("officer", id); err != nil {
			return nil, err
		}
	}
	if in.Interpreter != nil && strings.TrimSpace(in.Interpreter.Name) != "" {
		if in.Interpreter.Language == "" || !cases.ValidLanguage(in.Interpreter.Language) {
			return nil, problem.Field("interpreter_language", "Give the interpreter's language as a code such as zh.")
		}
		out = append(out, Participant{Role: "interpreter", Name: strings.TrimSpace(in.Interpreter.Name), Language: in.Interpreter.Language})
	}
	out = append(out, Participant{Role: "detainee", Name: detainee})
	if m := strings.TrimSpace(in.Monitor); m != "" {
		out = append(out, Participant{Role: "monitor", Name: m})
	}
	return out, nil
}

// Cancel cancels a planned or confirmed visit, saying by whom and why.
func (s *Service) Cancel(ctx context.Context, a cases.Actor, caseID, visitID, by, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return problem.Field("reason", "Say why the visit is cancelled.")
	}
	if by != "sending_state" && by != "detaining_state" && by != "detainee" {
		return problem.Field("by", "Say who cancelled: we (sending_state), the detaining state, or the detainee.")
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE visits SET status = 'cancelled', cancelled_by = $3, cancel_reason = $4, updated_at = $5, sequence = sequence + 1
			WHERE id = $1 AND case_id = $2 AND status IN ('planned', 'confirmed')`, visitID, caseID, by, reason, db.Instant(s.now()))
		if err != nil {
			return fmt.Errorf("cancel visit: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.New(problem.NotFound, "No planned visit with this id.")
		}
		if err := s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "visit.cancel", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("visit=%s by=%s: %s", visitID, by, reason)}); err != nil {
			return err
		}
		return s.announce(ctx, tx, visitID, notify.VisitCancelled)
	})
}

// ForCase lists a case's visits, soonest first.
func (s *Service) ForCase(ctx context.Context, a cases.Actor, caseID string) ([]Visit, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.ReadCase, caseID); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT v.id, COALESCE(v.facility_id, ''), COALESCE(v.terminal_id, ''), v.modality, v.starts, v.ends, v.status,
		COALESCE(v.request_id, ''), v.conditions, v.cancelled_by, v.cancel_reason, COALESCE(f.time_zone, ''), v.call_ended, v.call_end_reason, v.kind, v.legal_hold
		FROM visits v LEFT JOIN facilities f ON f.id = v.facility_id WHERE v.case_id = $1 ORDER BY v.starts`, caseID)
	if err != nil {
		return nil, fmt.Errorf("list visits: %w", err)
	}
	var out []Visit
	for rows.Next() {
		v := Visit{CaseID: caseID}
		var st, en int64
		var ended sql.NullInt64
		if err := rows.Scan(&v.ID, &v.FacilityID, &v.TerminalID, &v.Modality, &st, &en, &v.Status, &v.RequestID, &v.Conditions,
			&v.CancelledBy, &v.CancelReason, &v.Zone, &ended, &v.CallEndReason, &v.Kind, &v.LegalHold); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list visits: %w", err)
		}
		v.Starts, v.Ends = db.Time(st), db.Time(en)
		if ended.Valid {
			t := db.Time(ended.Int64)
			v.CallEnded = &t
		}
		out = append(out, v)
	}
	rows.Close()
	presence, err := s.presenceOf(ctx, caseID)
	if err != nil {
		return nil, err
	}
	var post string
	var caseHold bool
	if err := s.db.QueryRowContext(ctx, `SELECT post, legal_hold FROM cases WHERE id = $1`, caseID).Scan(&post, &caseHold); err != nil {
		return nil, fmt.Errorf("read case post: %w", err)
	}
	policies := map[string]RecordingPolicy{}
	files, err := s.recordingsOf(ctx, caseID)
	if err != nil {
		return nil, err
	}
	for i := range out {
		prow, err := s.db.QueryContext(ctx, `SELECT role, COALESCE(user_id, ''), name, language FROM visit_participants WHERE visit_id = $1 ORDER BY role, name`, out[i].ID)
		if err != nil {
			return nil, fmt.Errorf("list participants: %w", err)
		}
		for prow.Next() {
			var p Participant
			if err := prow.Scan(&p.Role, &p.UserID, &p.Name, &p.Language); err != nil {
				prow.Close()
				return nil, fmt.Errorf("list participants: %w", err)
			}
			out[i].Participants = append(out[i].Participants, p)
		}
		prow.Close()
		out[i].Presence = presence[out[i].ID]
		rp, ok := policies[out[i].Kind]
		if !ok {
			if rp, err = s.PolicyFor(ctx, post, out[i].Kind); err != nil {
				return nil, err
			}
			policies[out[i].Kind] = rp
		}
		out[i].Recording = rp
		out[i].Recordings = files[out[i].ID]
		out[i].CaseHold = caseHold
	}
	return out, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "case.visits_view", ObjectType: "case", ObjectID: caseID})
}

// statusMoves lists where a visit may go from each status.
var statusMoves = map[string][]string{
	"planned":             {"confirmed", "cancelled", "refused_by_detainee", "no_show"},
	"confirmed":           {"in_progress", "cancelled", "refused_by_detainee", "no_show"},
	"in_progress":         {"held", "cut_short"},
	"held":                {},
	"cut_short":           {},
	"cancelled":           {},
	"refused_by_detainee": {},
	"no_show":             {},
}

// NextStatuses lists where a visit in status may go.
func NextStatuses(status string) []string { return statusMoves[status] }

// SetStatus moves a visit on: confirmed by the host, started (from the
// time its room opens), held or cut short (from its start), refused by the
// detainee, no-show. A visit held or cut short is a consular contact and is
// recorded as one in the same transaction (so on the timeline and in the
// access clock); cancellations go through Cancel.
func (s *Service) SetStatus(ctx context.Context, a cases.Actor, caseID, visitID, to, note string) error {
	if to == "cancelled" {
		return problem.Field("to", "Cancel a visit with its reason and who cancelled it.")
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		if err := s.db.Lock(ctx, tx, "visits.visit."+visitID); err != nil {
			return err
		}
		var from, modality, zone string
		var starts int64
		err := tx.QueryRowContext(ctx, `SELECT v.status, v.modality, v.starts, COALESCE(f.time_zone, '') FROM visits v
			LEFT JOIN facilities f ON f.id = v.facility_id WHERE v.id = $1 AND v.case_id = $2`, visitID, caseID).Scan(&from, &modality, &starts, &zone)
		if errors.Is(err, sql.ErrNoRows) {
			return problem.New(problem.NotFound, "No such visit.")
		}
		if err != nil {
			return fmt.Errorf("read visit: %w", err)
		}
		if !slices.Contains(statusMoves[from], to) {
			return problem.Fieldf("to", "The visit's status cannot go from “%s” to “%s”.", problem.Textf(Statuses.Label(from)), problem.Textf(Statuses.Label(to)))
		}
		now, start := s.now(), db.Time(starts)
		// A visit starts, and may be held, once its call opens (the
		// officer and the detainee may begin a few minutes early).
		if (to == "in_progress" || to == "held" || to == "cut_short") && now.Before(start.Add(-s.times.OpensBefore)) {
			return problem.Field("to", "The visit has not started yet.")
		}
		// A visit that will not take place (refused, no-show) leaves the
		// officers' calendars like a cancelled one: its sequence goes up.
		off := to == "refused_by_detainee" || to == "no_show"
		res, err := tx.ExecContext(ctx, `UPDATE visits SET status = $3, updated_at = $4, sequence = sequence + CASE WHEN $6 THEN 1 ELSE 0 END
			WHERE id = $1 AND case_id = $2 AND status = $5`, visitID, caseID, to, db.Instant(now), from, off)
		if err != nil {
			return fmt.Errorf("update visit: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.New(problem.Conflict, "The visit changed meanwhile: reload the page.")
		}
		if err := s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "visit." + to, ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("visit=%s %s→%s %s", visitID, from, to, strings.TrimSpace(note))}); err != nil {
			return err
		}
		if off {
			return s.announce(ctx, tx, visitID, notify.VisitCancelled)
		}
		if to != "held" && to != "cut_short" {
			return nil
		}
		loc, lerr := edate.LoadZone(zone)
		if lerr != nil {
			loc = time.UTC
		}
		notes := strings.TrimSpace(note)
		happened := start
		if now.Before(start) { // held early, once its call opened
			happened = now
		}
		_, err = s.access.AddContactTx(ctx, tx, a, caseID, access.ContactInput{Happened: happened.In(loc).Format("2006-01-02 15:04"), Zone: loc.String(),
			Mode: modality, Notes: notes, SourceRef: "visit " + visitID, Title: visitTitle(modality, to)})
		return err
	})
}

// Terminal is a video terminal of a facility.
type Terminal struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Active bool   `json:"active"`
}

// Terminals lists a facility's terminals; the registry is reference data.
func (s *Service) Terminals(ctx context.Context, a cases.Actor, facilityID string) ([]Terminal, error) {
	if !s.policy.Can(a.User, auth.ReadFacility, nil) {
		return nil, problem.New(problem.Forbidden, "You may not see facilities.")
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, active FROM terminals WHERE facility_id = $1 ORDER BY name`, facilityID)
	if err != nil {
		return nil, fmt.Errorf("list terminals: %w", err)
	}
	defer rows.Close()
	var out []Terminal
	for rows.Next() {
		var t Terminal
		if err := rows.Scan(&t.ID, &t.Name, &t.Active); err != nil {
			return nil, fmt.Errorf("list terminals: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Windows returns a facility's weekly windows and excluded days.
func (s *Service) Windows(ctx context.Context, a cases.Actor, facilityID string) ([]Window, []string, error) {
	if !s.policy.Can(a.User, auth.ReadFacility, nil) {
		return nil, nil, problem.New(problem.Forbidden, "You may not see facilities.")
	}
	cal, err := s.calendar(ctx, s.db, facilityID, "UTC")
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(cal.windows, func(i, j int) bool {
		if cal.windows[i].Weekday != cal.windows[j].Weekday {
			return cal.windows[i].Weekday < cal.windows[j].Weekday
		}
		return cal.windows[i].Opens < cal.windows[j].Opens
	})
	var days []string
	for d := range cal.excluded {
		days = append(days, d)
	}
	sort.Strings(days)
	return cal.windows, days, nil
}
