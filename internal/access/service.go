package access

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
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

//go:embed profiles.json
var seedProfiles []byte

// Service records and reads consular access under the same policy and
// audit as the case file.
type Service struct {
	db     *db.DB
	q      db.Querier // reads of the dashboard; a test counts them
	audit  *audit.Log
	cases  *cases.Service
	policy auth.Policy
	now    func() time.Time
	// SendingState is the state whose consulates use this system (ISO 3166).
	SendingState string
}

// NewService returns the access service for the sending state.
func NewService(d *db.DB, a *audit.Log, c *cases.Service, sendingState string) *Service {
	return &Service{db: d, q: d, audit: a, cases: c, now: time.Now, SendingState: sendingState}
}

// SetClock replaces the clock, for tests.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// SetQuerier replaces the reader of the dashboard, for tests that count queries.
func (s *Service) SetQuerier(q db.Querier) { s.q = q }

// ---- agreement profiles ----

type profileJSON struct {
	DetainingState        string `json:"detaining_state"`
	Name                  string `json:"name"`
	MandatoryNotification bool   `json:"mandatory_notification"`
	NotificationHours     *int   `json:"notification_hours"`
	FirstContactHours     *int   `json:"first_contact_hours"`
	FirstVisitDays        *int   `json:"first_visit_days"`
	VisitEveryDays        *int   `json:"visit_every_days"`
	TrialAttendance       bool   `json:"trial_attendance"`
	DualNationalRule      string `json:"dual_national_rule"`
	Citation              string `json:"citation"`
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// SeedProfiles adds the profiles of the embedded seed file that the
// database lacks; profiles already there, perhaps edited, are left alone.
func (s *Service) SeedProfiles(ctx context.Context) error {
	var seeds []profileJSON
	if err := json.Unmarshal(seedProfiles, &seeds); err != nil {
		return fmt.Errorf("seed profiles: %w", err)
	}
	for _, p := range seeds {
		_, err := s.db.ExecContext(ctx, `INSERT INTO agreement_profiles (id, sending_state, detaining_state, name, mandatory_notification,
			notification_hours, first_contact_hours, first_visit_days, visit_every_days, trial_attendance, dual_national_rule, citation, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (sending_state, detaining_state) DO NOTHING`,
			db.NewID(), s.SendingState, p.DetainingState, p.Name, p.MandatoryNotification, nullInt(deref(p.NotificationHours)),
			nullInt(deref(p.FirstContactHours)), nullInt(deref(p.FirstVisitDays)), nullInt(deref(p.VisitEveryDays)),
			p.TrialAttendance, p.DualNationalRule, p.Citation, db.Instant(s.now()))
		if err != nil {
			return fmt.Errorf("seed profile %q: %w", p.Name, err)
		}
	}
	return nil
}

func nullInt(n int) sql.NullInt64 { return sql.NullInt64{Int64: int64(n), Valid: n > 0} }

const profileColumns = `id, sending_state, detaining_state, name, mandatory_notification, notification_hours, first_contact_hours,
	first_visit_days, visit_every_days, trial_attendance, dual_national_rule, citation`

func scanProfile(r interface{ Scan(...any) error }) (Profile, error) {
	var p Profile
	var nh, fc, fv, ve sql.NullInt64
	err := r.Scan(&p.ID, &p.SendingState, &p.DetainingState, &p.Name, &p.MandatoryNotification, &nh, &fc, &fv, &ve,
		&p.TrialAttendance, &p.DualNationalRule, &p.Citation)
	p.NotificationHours, p.FirstContactHours, p.FirstVisitDays, p.VisitEveryDays = int(nh.Int64), int(fc.Int64), int(fv.Int64), int(ve.Int64)
	return p, err
}

// Profiles lists the agreement profiles of the sending state, the default first.
func (s *Service) Profiles(ctx context.Context) ([]Profile, error) {
	return s.profiles(ctx, s.db)
}

func (s *Service) profiles(ctx context.Context, q db.Querier) ([]Profile, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+profileColumns+` FROM agreement_profiles WHERE sending_state = $1 ORDER BY detaining_state`, s.SendingState)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	defer rows.Close()
	var out []Profile
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("list profiles: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// profileFor picks the profile of a detaining state from a list, or the default.
func profileFor(list []Profile, state string) Profile {
	var def Profile
	for _, p := range list {
		if p.DetainingState == state {
			return p
		}
		if p.DetainingState == "" {
			def = p
		}
	}
	return def
}

// ProfileInput is what an administrator enters for a profile.
type ProfileInput struct {
	DetainingState        string
	Name                  string
	MandatoryNotification bool
	NotificationHours     int
	FirstContactHours     int
	FirstVisitDays        int
	VisitEveryDays        int
	TrialAttendance       bool
	DualNationalRule      string
	Citation              string
}

// SaveProfile creates (id "") or changes a profile; administrators only.
func (s *Service) SaveProfile(ctx context.Context, a cases.Actor, id string, in ProfileInput) (Profile, error) {
	if !s.policy.Can(a.User, auth.ManageAgreements, nil) {
		return Profile{}, problem.New(problem.Forbidden, "Only administrators change agreement profiles.")
	}
	f := problem.Fields{}
	in.DetainingState, in.Name = strings.ToUpper(strings.TrimSpace(in.DetainingState)), strings.TrimSpace(in.Name)
	if in.DetainingState != "" {
		if _, ok := cases.CountryName(in.DetainingState); !ok {
			f.Add("detaining_state", "Choose a detaining state, or none for the default profile.")
		}
	}
	if in.Name == "" {
		f.Add("name", "Name the agreement.")
	}
	for field, n := range map[string]int{"notification_hours": in.NotificationHours, "first_contact_hours": in.FirstContactHours,
		"first_visit_days": in.FirstVisitDays, "visit_every_days": in.VisitEveryDays} {
		if n < 0 || n > 3650 {
			f.Add(field, "Give a number from 0 (no deadline) to 3650.")
		}
	}
	if in.MandatoryNotification && in.NotificationHours == 0 {
		f.Add("notification_hours", "Mandatory notification needs its deadline in hours.")
	}
	if err := f.Err(); err != nil {
		return Profile{}, err
	}
	p := Profile{ID: id, SendingState: s.SendingState, DetainingState: in.DetainingState, Name: in.Name,
		MandatoryNotification: in.MandatoryNotification, NotificationHours: in.NotificationHours, FirstContactHours: in.FirstContactHours,
		FirstVisitDays: in.FirstVisitDays, VisitEveryDays: in.VisitEveryDays, TrialAttendance: in.TrialAttendance,
		DualNationalRule: strings.TrimSpace(in.DualNationalRule), Citation: strings.TrimSpace(in.Citation)}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		if id == "" {
			p.ID = db.NewID()
			res, err = tx.ExecContext(ctx, `INSERT INTO agreement_profiles (`+profileColumns+`, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
				p.ID, p.SendingState, p.DetainingState, p.Name, p.MandatoryNotification, nullInt(p.NotificationHours), nullInt(p.FirstContactHours),
				nullInt(p.FirstVisitDays), nullInt(p.VisitEveryDays), p.TrialAttendance, p.DualNationalRule, p.Citation, db.Instant(s.now()))
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE agreement_profiles SET detaining_state = $2, name = $3, mandatory_notification = $4,
				notification_hours = $5, first_contact_hours = $6, first_visit_days = $7, visit_every_days = $8, trial_attendance = $9,
				dual_national_rule = $10, citation = $11, updated_at = $12 WHERE id = $1 AND sending_state = $13`,
				id, p.DetainingState, p.Name, p.MandatoryNotification, nullInt(p.NotificationHours), nullInt(p.FirstContactHours),
				nullInt(p.FirstVisitDays), nullInt(p.VisitEveryDays), p.TrialAttendance, p.DualNationalRule, p.Citation, db.Instant(s.now()), s.SendingState)
		}
		if db.IsUniqueViolation(err) {
			return problem.Field("detaining_state", "There is a profile for this detaining state already.")
		}
		if err != nil {
			return fmt.Errorf("save profile: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.New(problem.NotFound, "No such profile.")
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "profile.save", ObjectType: "agreement_profile",
			ObjectID: p.ID, Detail: fmt.Sprintf("%s: visit every %d days, notification %d h", p.Name, p.VisitEveryDays, p.NotificationHours)})
	})
	return p, err
}

// ---- notification and first contact ----

// NotificationInput is what an officer records about how the consulate
// learned of the arrest and what the detainee wants.
type NotificationInput struct {
	LearnedVia          string
	Assistance          string
	RefusedWhat         string
	FirstContact        string
	FirstContactZone    string
	FirstContactChannel string
}

// SaveNotification records how the consulate learned of the arrest, the
// detainee's wishes and the first contact.
func (s *Service) SaveNotification(ctx context.Context, a cases.Actor, caseID string, in NotificationInput) error {
	f := problem.Fields{}
	if !LearnedVia.Has(in.LearnedVia) {
		f.Add("learned_via", "Say how the consulate learned of the arrest.")
	}
	if in.Assistance == "" {
		in.Assistance = "unknown"
	}
	if !Assistance.Has(in.Assistance) {
		f.Add("assistance", "Choose what the detainee wants from the list.")
	}
	in.RefusedWhat = strings.TrimSpace(in.RefusedWhat)
	if in.Assistance == "partly_refused" && in.RefusedWhat == "" {
		f.Add("refused_what", "Say what the detainee refused (e.g. that the family be told).")
	}
	first, err := edate.Parse(in.FirstContact, in.FirstContactZone)
	if err != nil {
		f.AddErr("first_contact", err)
	}
	if in.FirstContactChannel != "" && !Modes.Has(in.FirstContactChannel) {
		f.Add("first_contact_channel", "Choose how the first contact happened.")
	}
	if err := f.Err(); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO case_notifications (case_id, learned_via, assistance, refused_what, first_contact,
			first_contact_latest, first_contact_channel, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (case_id) DO UPDATE SET learned_via = excluded.learned_via, assistance = excluded.assistance,
			refused_what = excluded.refused_what, first_contact = excluded.first_contact, first_contact_latest = excluded.first_contact_latest,
			first_contact_channel = excluded.first_contact_channel, updated_at = excluded.updated_at`,
			caseID, in.LearnedVia, in.Assistance, in.RefusedWhat, first.String(), db.NullInstant(first.Latest()), in.FirstContactChannel, db.Instant(s.now()))
		if err != nil {
			return fmt.Errorf("save notification: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "case.notification_save", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("learned_via=%s assistance=%s first_contact=%s", in.LearnedVia, in.Assistance, first)})
	})
}

func (s *Service) notification(ctx context.Context, q db.Querier, caseID string) (*Notification, error) {
	var n Notification
	var first string
	err := q.QueryRowContext(ctx, `SELECT learned_via, assistance, refused_what, first_contact, first_contact_channel FROM case_notifications WHERE case_id = $1`, caseID).
		Scan(&n.LearnedVia, &n.Assistance, &n.RefusedWhat, &first, &n.FirstContactChannel)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read notification: %w", err)
	}
	n.FirstContact, _ = edate.Decode(first)
	return &n, nil
}

// ---- contacts ----

// ContactInput is a consular contact to record.
type ContactInput struct {
	Happened  string
	Zone      string
	Mode      string
	Notes     string
	SourceRef string
	// Title names the contact on the case's timeline, when another domain
	// records it ("Visit (remote video): held"); by default "Consular
	// contact: <mode>".
	Title problem.Text
}

// AddContact records a consular contact that happened, and puts it on the
// case's timeline. A date without a zone is in the facility's.
func (s *Service) AddContact(ctx context.Context, a cases.Actor, caseID string, in ContactInput) (*Contact, error) {
	var c *Contact
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = s.AddContactTx(ctx, tx, a, caseID, in)
		return err
	})
	return c, err
}

// AddContactTx is AddContact inside the caller's transaction (a visit held).
func (s *Service) AddContactTx(ctx context.Context, tx *sql.Tx, a cases.Actor, caseID string, in ContactInput) (*Contact, error) {
	if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
		return nil, err
	}
	if in.Zone == "" && !strings.Contains(in.Happened, "[") {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(f.time_zone, '') FROM cases c LEFT JOIN facilities f ON f.id = c.facility_id WHERE c.id = $1`,
			caseID).Scan(&in.Zone); err != nil {
			return nil, fmt.Errorf("read facility zone: %w", err)
		}
	}
	f := problem.Fields{}
	c := Contact{ID: db.NewID(), CaseID: caseID, Mode: in.Mode, Notes: strings.TrimSpace(in.Notes), SourceRef: strings.TrimSpace(in.SourceRef), CreatedBy: a.User.DisplayName}
	var err error
	if c.Happened, err = edate.Parse(in.Happened, in.Zone); err != nil {
		field := "happened"
		if errors.Is(err, edate.ErrUnknownZone) {
			field = "zone"
		}
		f.AddErr(field, err)
	} else if c.Happened.IsZero() {
		f.Add("happened", "Give the date of the contact.")
	} else if c.Happened.Earliest().After(s.now()) {
		f.Add("happened", "A contact is recorded once it happened; plan visits in the schedule.")
	}
	if !Modes.Has(c.Mode) {
		f.Add("mode", "Choose how the contact happened.")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO consular_contacts (id, case_id, happened, earliest, latest, mode, notes, source_ref, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, c.ID, caseID, c.Happened.String(), db.Instant(c.Happened.Earliest()),
		db.Instant(c.Happened.Latest()), c.Mode, c.Notes, c.SourceRef, c.CreatedBy, db.Instant(s.now()))
	if err != nil {
		return nil, fmt.Errorf("insert contact: %w", err)
	}
	if err := s.summarize(ctx, tx, caseID); err != nil {
		return nil, err
	}
	kind := "visit"
	if !IsVisit(c.Mode) {
		kind = "other"
	}
	title := in.Title
	if title.IsZero() {
		title = problem.Textf("Consular contact: %s", problem.Textf(Modes.Label(c.Mode)))
	}
	if err := s.cases.RecordEvent(ctx, tx, a, caseID, c.Happened, kind, title, problem.Verbatim(c.Notes), "officer", c.SourceRef); err != nil {
		return nil, err
	}
	if err := s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "case.contact_add", ObjectType: "case", ObjectID: caseID,
		Detail: fmt.Sprintf("%s %s", c.Happened, c.Mode)}); err != nil {
		return nil, err
	}
	return &c, nil
}

func (s *Service) contacts(ctx context.Context, q db.Querier, caseID string) ([]Contact, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, happened, mode, notes, source_ref, created_by FROM consular_contacts WHERE case_id = $1 ORDER BY latest DESC`, caseID)
	if err != nil {
		return nil, fmt.Errorf("read contacts: %w", err)
	}
	defer rows.Close()
	var out []Contact
	for rows.Next() {
		c := Contact{CaseID: caseID}
		var happened string
		if err := rows.Scan(&c.ID, &happened, &c.Mode, &c.Notes, &c.SourceRef, &c.CreatedBy); err != nil {
			return nil, fmt.Errorf("read contacts: %w", err)
		}
		c.Happened, _ = edate.Decode(happened)
		out = append(out, c)
	}
	return out, rows.Err()
}

// summarize recomputes a case's row of access_summaries from its contacts.
func (s *Service) summarize(ctx context.Context, tx *sql.Tx, caseID string) error {
	pick := func(order, visits string) (string, error) {
		var v sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT happened || '|' || mode FROM consular_contacts WHERE case_id = $1`+visits+
			` ORDER BY latest `+order+`, id LIMIT 1`, caseID).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return v.String, err
	}
	visits := ` AND mode IN ('in_person', 'onsite_video', 'remote_video')`
	var vals [4]string
	for i, q := range [][2]string{{"DESC", ""}, {"", ""}, {"DESC", visits}, {"", visits}} {
		v, err := pick(q[0], q[1])
		if err != nil {
			return fmt.Errorf("summarize contacts: %w", err)
		}
		vals[i] = v
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO access_summaries (case_id, last_contact, first_contact, last_visit, first_visit) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (case_id) DO UPDATE SET last_contact = excluded.last_contact, first_contact = excluded.first_contact,
		last_visit = excluded.last_visit, first_visit = excluded.first_visit`, caseID, vals[0], vals[1], vals[2], vals[3])
	if err != nil {
		return fmt.Errorf("summarize contacts: %w", err)
	}
	return nil
}
