package access

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/edate"
	"github.com/attache-org/attache/internal/problem"
)

// RequestInput is a new request for access.
type RequestInput struct {
	Mode       string
	Channel    string
	NoteNumber string
	Level      string
	Wanted     string // the dates asked for
	Send       bool   // sent at once, or kept as a draft
}

// Warning is advice given with a request that was still recorded: the mode
// asked is suspended, and these modes are open.
type Warning struct {
	Message      string
	Alternatives []string
}

// CreateRequest records a request for access. Asking for a mode the
// detaining state or facility has suspended is recorded with a warning that
// names the modes still open.
func (s *Service) CreateRequest(ctx context.Context, a cases.Actor, caseID string, in RequestInput) (*Request, *Warning, error) {
	f := problem.Fields{}
	in.NoteNumber, in.Wanted = strings.TrimSpace(in.NoteNumber), strings.TrimSpace(in.Wanted)
	if !Modes.Has(in.Mode) {
		f.Add("mode", "Choose the mode of access asked for.")
	}
	if !Channels.Has(in.Channel) {
		f.Add("channel", "Choose the channel of the request.")
	}
	if in.Level == "" {
		in.Level = "post"
	}
	if !Levels.Has(in.Level) {
		f.Add("level", "Choose the level: post, headquarters or minister.")
	}
	if in.Channel == "diplomatic_note" && in.Send && in.NoteNumber == "" {
		f.Add("note_number", "Give the diplomatic note's number.")
	}
	if err := f.Err(); err != nil {
		return nil, nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	r := &Request{ID: db.NewID(), CaseID: caseID, Mode: in.Mode, Channel: in.Channel, NoteNumber: in.NoteNumber, Level: in.Level,
		Wanted: in.Wanted, Status: "draft", StatusAt: now, CreatedBy: a.User.DisplayName, CreatedAt: now}
	var warn *Warning
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		var state string
		var facility sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT detaining_state, facility_id FROM cases WHERE id = $1`, caseID).Scan(&state, &facility); err != nil {
			return fmt.Errorf("read case: %w", err)
		}
		sus, err := s.suspensionsInForce(ctx, tx, state, facility.String, now)
		if err != nil {
			return err
		}
		warn = suspensionWarning(sus, in.Mode)
		_, err = tx.ExecContext(ctx, `INSERT INTO access_requests (id, case_id, mode, channel, note_number, level, wanted, status, status_at, created_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'draft', $8, $9, $8)`, r.ID, caseID, r.Mode, r.Channel, r.NoteNumber, r.Level, r.Wanted, db.Instant(now), r.CreatedBy)
		if err != nil {
			return fmt.Errorf("insert request: %w", err)
		}
		if err := s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "access.request_create", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("request=%s mode=%s channel=%s", r.ID, r.Mode, r.Channel)}); err != nil {
			return err
		}
		if in.Send {
			return s.transition(ctx, tx, a, r, TransitionInput{To: "sent"})
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return r, warn, nil
}

// suspensionWarning says whether mode is suspended and which modes are open.
func suspensionWarning(in []Suspension, mode string) *Warning {
	closed := map[string]bool{}
	var reasons []string
	for _, s := range in {
		for _, m := range s.Modes {
			closed[m] = true
		}
		if slices.Contains(s.Modes, mode) {
			reasons = append(reasons, s.Reason)
		}
	}
	if !closed[mode] {
		return nil
	}
	w := &Warning{Message: fmt.Sprintf("%s access is suspended (%s).", Modes.Label(mode), strings.Join(reasons, "; "))}
	for _, m := range Modes {
		if !closed[m.Code] {
			w.Alternatives = append(w.Alternatives, m.Code)
		}
	}
	return w
}

// TransitionInput moves a request to a new status with what came with it.
type TransitionInput struct {
	To         string
	Note       string
	NoteNumber string // a note sent with the change (escalation, sending)
	Level      string // a new level on escalation
	Answer     string // the detaining state's answer
	Reason     string // the reason given for a denial
	Conditions Conditions
}

// Transition moves a request to a new status. Moves the state machine does
// not allow are refused with a message; each move is dated, audited and put
// on the case's timeline.
func (s *Service) Transition(ctx context.Context, a cases.Actor, caseID, requestID string, in TransitionInput) (*Request, error) {
	var r *Request
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		if err := s.db.Lock(ctx, tx, "access.request."+requestID); err != nil {
			return err
		}
		list, err := s.requests(ctx, tx, caseID, requestID)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			return problem.New(problem.NotFound, "No such request.")
		}
		r = &list[0]
		return s.transition(ctx, tx, a, r, in)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Service) transition(ctx context.Context, tx *sql.Tx, a cases.Actor, r *Request, in TransitionInput) error {
	if !Statuses.Has(in.To) {
		return problem.Field("to", "Choose a status from the list.")
	}
	if !slices.Contains(transitions[r.Status], in.To) {
		next := transitions[r.Status]
		from, to := problem.Textf(Statuses.Label(r.Status)), problem.Textf(Statuses.Label(in.To))
		if len(next) == 0 {
			return problem.Fieldf("to", "A request that is “%s” cannot become “%s”: it is closed.", from, to)
		}
		var can problem.List
		for _, n := range next {
			can = append(can, problem.Textf(Statuses.Label(n)))
		}
		return problem.Fieldf("to", "A request that is “%s” cannot become “%s”. It can become: %s.", from, to, can)
	}
	f := problem.Fields{}
	c := in.Conditions
	c.Language, c.Topics = strings.TrimSpace(c.Language), strings.TrimSpace(c.Topics)
	switch in.To {
	case "denied":
		if strings.TrimSpace(in.Reason) == "" {
			f.Add("reason", "Record the reason the detaining state gave (or \"none given\").")
		}
	case "granted_with_conditions":
		if c.TimeLimitMinutes == 0 && c.OfficialsPresent == "" && c.Language == "" && c.Topics == "" {
			f.Add("conditions", "Record at least one condition: a time limit, officials present, a language, topics.")
		}
	case "sent":
		if r.Channel == "diplomatic_note" && r.NoteNumber == "" && strings.TrimSpace(in.NoteNumber) == "" {
			f.Add("note_number", "Give the diplomatic note's number.")
		}
	case "escalated":
		if in.Level != "" && !Levels.Has(in.Level) {
			f.Add("level", "Choose the level: post, headquarters or minister.")
		}
	}
	if c.TimeLimitMinutes < 0 || c.TimeLimitMinutes > 24*60 {
		f.Add("time_limit", "Give the time limit in minutes.")
	}
	if c.OfficialsPresent != "" && c.OfficialsPresent != "yes" && c.OfficialsPresent != "no" && c.OfficialsPresent != "unknown" {
		f.Add("officials_present", "Use yes, no or unknown.")
	}
	if err := f.Err(); err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	from := r.Status
	r.Status, r.StatusAt = in.To, now
	stepNote := strings.TrimSpace(in.NoteNumber)
	if stepNote == "" && in.To == "sent" {
		stepNote = r.NoteNumber
	}
	if r.NoteNumber == "" {
		r.NoteNumber = stepNote // the request's own note is the first one sent
	}
	if in.To == "sent" {
		r.SentAt = now
	}
	if in.To == "escalated" && in.Level != "" {
		r.Level = in.Level
	}
	if v := strings.TrimSpace(in.Answer); v != "" {
		r.Answer = v
	}
	if v := strings.TrimSpace(in.Reason); v != "" {
		r.Reason = v
	}
	if in.To == "granted_with_conditions" {
		r.Conditions = c
	}
	_, err := tx.ExecContext(ctx, `UPDATE access_requests SET status = $2, status_at = $3, sent_at = $4, note_number = $5, level = $6,
		answer = $7, reason = $8, time_limit_min = $9, officials_present = $10, language = $11, topics = $12 WHERE id = $1`,
		r.ID, r.Status, db.Instant(now), db.NullInstant(r.SentAt), r.NoteNumber, r.Level, r.Answer, r.Reason,
		nullInt(r.Conditions.TimeLimitMinutes), r.Conditions.OfficialsPresent, r.Conditions.Language, r.Conditions.Topics)
	if err != nil {
		return fmt.Errorf("update request: %w", err)
	}
	note := strings.TrimSpace(in.Note)
	if _, err := tx.ExecContext(ctx, `INSERT INTO access_request_events (id, request_id, at, from_status, to_status, note_number, note, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		db.NewID(), r.ID, db.Instant(now), from, in.To, stepNote, note, a.User.DisplayName); err != nil {
		return fmt.Errorf("record transition: %w", err)
	}
	r.History = append(r.History, Transition{At: now, From: from, To: in.To, NoteNumber: stepNote, Note: note, Actor: a.User.DisplayName})
	title := problem.Textf("Request for access (%s): %s", problem.Textf(Modes.Label(r.Mode)), problem.Textf(Statuses.Label(in.To)))
	var body problem.Lines
	for _, part := range []problem.Text{problem.Verbatim(r.Answer), reasonLine(in.To, r.Reason), conditionsLine(in.To, r.Conditions), problem.Verbatim(note)} {
		if part.String() != "" {
			body = append(body, part)
		}
	}
	source := stepNote
	if source == "" {
		source = Channels.Label(r.Channel)
	}
	today := edate.Date{Precision: edate.Minute, Year: now.Year(), Month: now.Month(), Day: now.Day(), Hour: now.Hour(), Minute: now.Minute()}
	if err := s.cases.RecordEvent(ctx, tx, a, r.CaseID, today, "access_request", title, problem.Textf("%s", body), "officer", source); err != nil {
		return err
	}
	return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "access.request_" + in.To, ObjectType: "case", ObjectID: r.CaseID,
		Detail: fmt.Sprintf("request=%s %s→%s", r.ID, from, in.To)})
}

func reasonLine(to, reason string) problem.Text {
	if to == "denied" && reason != "" {
		return problem.Textf("Reason given: %s", reason)
	}
	return problem.Text{}
}

func conditionsLine(to string, c Conditions) problem.Text {
	if to != "granted_with_conditions" {
		return problem.Text{}
	}
	var parts problem.List
	if c.TimeLimitMinutes > 0 {
		parts = append(parts, problem.Textf("%d minutes", c.TimeLimitMinutes))
	}
	if c.OfficialsPresent != "" {
		parts = append(parts, problem.Textf("officials present: %s", c.OfficialsPresent))
	}
	if c.Language != "" {
		parts = append(parts, problem.Textf("language: %s", c.Language))
	}
	if c.Topics != "" {
		parts = append(parts, problem.Textf("topics: %s", c.Topics))
	}
	return problem.Textf("Conditions: %s", parts)
}

// requests loads a case's requests (or one, when id is set), newest first,
// with their history.
func (s *Service) requests(ctx context.Context, q db.Querier, caseID, id string) ([]Request, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, mode, channel, note_number, level, wanted, status, status_at, sent_at, answer, reason,
		time_limit_min, officials_present, language, topics, created_by, created_at FROM access_requests
		WHERE case_id = $1 AND ($2 = '' OR id = $2) ORDER BY created_at DESC`, caseID, id)
	if err != nil {
		return nil, fmt.Errorf("read requests: %w", err)
	}
	var out []Request
	for rows.Next() {
		r := Request{CaseID: caseID}
		var statusAt, created int64
		var sent, limit sql.NullInt64
		if err := rows.Scan(&r.ID, &r.Mode, &r.Channel, &r.NoteNumber, &r.Level, &r.Wanted, &r.Status, &statusAt, &sent, &r.Answer, &r.Reason,
			&limit, &r.Conditions.OfficialsPresent, &r.Conditions.Language, &r.Conditions.Topics, &r.CreatedBy, &created); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read requests: %w", err)
		}
		r.StatusAt, r.SentAt, r.CreatedAt, r.Conditions.TimeLimitMinutes = db.Time(statusAt), db.NullTime(sent), db.Time(created), int(limit.Int64)
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read requests: %w", err)
	}
	for i := range out {
		evs, err := q.QueryContext(ctx, `SELECT at, from_status, to_status, note_number, note, actor FROM access_request_events WHERE request_id = $1 ORDER BY at`, out[i].ID)
		if err != nil {
			return nil, fmt.Errorf("read request history: %w", err)
		}
		for evs.Next() {
			var t Transition
			var at int64
			if err := evs.Scan(&at, &t.From, &t.To, &t.NoteNumber, &t.Note, &t.Actor); err != nil {
				evs.Close()
				return nil, fmt.Errorf("read request history: %w", err)
			}
			t.At = db.Time(at)
			out[i].History = append(out[i].History, t)
		}
		evs.Close()
	}
	return out, nil
}
