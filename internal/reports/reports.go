// Package reports keeps the report an officer writes after each consular
// visit that was held: who was present, the detainee's wishes, health,
// treatment, allegations of mistreatment, legal situation, needs and
// messages. A report goes from draft to submitted to approved, or back to
// its author with a supervisor's comments; an approved report never changes
// and is corrected by amendments beside it. Reports raise escalations
// (mistreatment, health emergency, access denied, a minor or an elderly
// detainee, a high-profile case) that reach supervisors and HQ once, and
// carry follow-ups with an owner and a due date. Every read and change goes
// through the case's need-to-know rule and into the audit log.
package reports

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/i18n"
	"github.com/attache-org/attache/internal/notify"
	"github.com/attache-org/attache/internal/problem"
)

// Options configure the service.
type Options struct {
	// BaseURL is where users reach Attaché (e.g. https://attache.example.org),
	// for the links in notices.
	BaseURL string
	// Catalog writes each notice in its recipient's language; nil writes
	// English.
	Catalog *i18n.Catalog
}

// Service writes, approves and lists visit reports.
type Service struct {
	db     *db.DB
	audit  *audit.Log
	cases  *cases.Service
	sender notify.Sender
	opts   Options
	policy auth.Policy
	now    func() time.Time
}

// NewService returns the report service. sender queues notices inside each
// change's transaction; nil sends none.
func NewService(d *db.DB, a *audit.Log, c *cases.Service, sender notify.Sender, opts Options) *Service {
	return &Service{db: d, audit: a, cases: c, sender: sender, opts: opts, now: time.Now}
}

// SetClock replaces the clock, for tests.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Report is a visit report with its history, amendments, follow-ups and
// escalations.
type Report struct {
	ID        string
	CaseID    string
	Reference string // the case's
	VisitID   string
	Visit     VisitInfo
	State     string // Vocab.States
	Body      Body
	// Version is the version of the report the reader saw; SaveDraft,
	// Submit, Approve and Return refuse a stale one.
	Version      int
	AuthorID     string
	AuthorName   string
	SubmittedAt  time.Time
	ApprovedBy   string // user id
	ApproverName string
	ApprovedAt   time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// ReturnComment is the supervisor's comment when the report is returned.
	ReturnComment string
	Events        []Event
	Amendments    []Amendment
	FollowUps     []FollowUp
	Escalations   []Escalation
	// Raised lists when the allegation was raised with the authorities.
	Raised []Raise
}

// VisitInfo is what the report shows of its visit.
type VisitInfo struct {
	Starts   time.Time
	Ends     time.Time
	Modality string
	Status   string
}

// Event is a change of a report's state.
type Event struct {
	At        time.Time
	ActorID   string
	ActorName string
	From      string // "" when the report was created
	To        string
	Comment   string
}

// AllegationAmended reports whether an amendment corrects the allegation
// or the detainee's wishes: the report then no longer serves to raise it
// (RaiseAllegation).
func (r *Report) AllegationAmended() bool {
	for _, m := range r.Amendments {
		if m.Section == "allegation" || m.Section == "wishes" {
			return true
		}
	}
	return false
}

// Amendment corrects a section of an approved report.
type Amendment struct {
	ID         string
	AuthorID   string
	AuthorName string
	CreatedAt  time.Time
	Section    string // Vocab.Sections
	Corrected  string
	Reason     string
}

// Summary is a report in a list.
type Summary struct {
	ID          string
	CaseID      string
	Reference   string
	PersonName  string
	VisitID     string
	VisitStarts time.Time
	State       string
	Version     int
	AuthorID    string
	AuthorName  string
	SubmittedAt time.Time
	ApprovedAt  time.Time
	UpdatedAt   time.Time
	Flags       []string // escalations raised
}

// ---- reading ----

// row is a report as stored.
type row struct {
	id, caseID, visitID, state, body, authorID, authorName string
	version                                                int
	approvedBy                                             sql.NullString
	submitted, approved                                    sql.NullInt64
	created, updated                                       int64
}

var errNoReport = problem.New(problem.NotFound, "This visit has no report yet.")

const rowColumns = `id, case_id, visit_id, state, body, author_id, author_name, version, approved_by, submitted_at, approved_at, created_at, updated_at`

func scanRow(sc interface{ Scan(...any) error }) (*row, error) {
	r := &row{}
	err := sc.Scan(&r.id, &r.caseID, &r.visitID, &r.state, &r.body, &r.authorID, &r.authorName, &r.version, &r.approvedBy,
		&r.submitted, &r.approved, &r.created, &r.updated)
	return r, err
}

// readRow reads the report of a visit of a case.
func readRow(ctx context.Context, q db.Querier, caseID, visitID string) (*row, error) {
	r, err := scanRow(q.QueryRowContext(ctx, `SELECT `+rowColumns+` FROM reports WHERE case_id = $1 AND visit_id = $2`, caseID, visitID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoReport
	}
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	return r, nil
}

func (r *row) decode() (Body, error) {
	var b Body
	if err := json.Unmarshal([]byte(r.body), &b); err != nil {
		return b, fmt.Errorf("report %s: decode body: %w", r.id, err)
	}
	return b, nil
}

// Get returns the report of a visit, with its history, amendments,
// follow-ups and escalations. The read is audited.
func (s *Service) Get(ctx context.Context, a cases.Actor, caseID, visitID string) (*Report, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.ReadCase, caseID); err != nil {
		return nil, err
	}
	rep, err := s.load(ctx, s.db, caseID, visitID)
	if err != nil {
		return nil, err
	}
	return rep, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "report.view", ObjectType: "case", ObjectID: caseID,
		Detail: fmt.Sprintf("report=%s visit=%s version=%d", rep.ID, visitID, rep.Version)})
}

func (s *Service) load(ctx context.Context, q db.Querier, caseID, visitID string) (*Report, error) {
	r, err := readRow(ctx, q, caseID, visitID)
	if err != nil {
		return nil, err
	}
	body, err := r.decode()
	if err != nil {
		return nil, err
	}
	rep := &Report{ID: r.id, CaseID: r.caseID, VisitID: r.visitID, State: r.state, Body: body, Version: r.version,
		AuthorID: r.authorID, AuthorName: r.authorName, SubmittedAt: db.NullTime(r.submitted), ApprovedBy: r.approvedBy.String,
		ApprovedAt: db.NullTime(r.approved), CreatedAt: db.Time(r.created), UpdatedAt: db.Time(r.updated)}
	var st, en int64
	err = q.QueryRowContext(ctx, `SELECT c.reference, v.starts, v.ends, v.modality, v.status, COALESCE(u.display_name, '')
		FROM reports r JOIN cases c ON c.id = r.case_id JOIN visits v ON v.id = r.visit_id LEFT JOIN users u ON u.id = r.approved_by
		WHERE r.id = $1`, r.id).Scan(&rep.Reference, &st, &en, &rep.Visit.Modality, &rep.Visit.Status, &rep.ApproverName)
	if err != nil {
		return nil, fmt.Errorf("read report's visit: %w", err)
	}
	rep.Visit.Starts, rep.Visit.Ends = db.Time(st), db.Time(en)
	if rep.Events, err = events(ctx, q, r.id); err != nil {
		return nil, err
	}
	if r.state == Returned {
		for _, e := range rep.Events {
			if e.To == Returned {
				rep.ReturnComment = e.Comment
			}
		}
	}
	if rep.Amendments, err = amendments(ctx, q, r.id); err != nil {
		return nil, err
	}
	if rep.FollowUps, err = s.followUps(ctx, q, `f.report_id = $1`, r.id); err != nil {
		return nil, err
	}
	if rep.Escalations, err = escalations(ctx, q, `e.report_id = $1`, r.id); err != nil {
		return nil, err
	}
	if rep.Raised, err = raises(ctx, q, r.id); err != nil {
		return nil, err
	}
	return rep, nil
}

func events(ctx context.Context, q db.Querier, reportID string) ([]Event, error) {
	rows, err := q.QueryContext(ctx, `SELECT at, actor_id, actor_name, from_state, to_state, comment FROM report_events
		WHERE report_id = $1 ORDER BY version`, reportID)
	if err != nil {
		return nil, fmt.Errorf("read report history: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at int64
		if err := rows.Scan(&at, &e.ActorID, &e.ActorName, &e.From, &e.To, &e.Comment); err != nil {
			return nil, fmt.Errorf("read report history: %w", err)
		}
		e.At = db.Time(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

func amendments(ctx context.Context, q db.Querier, reportID string) ([]Amendment, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, author_id, author_name, created_at, section, corrected, reason FROM report_amendments
		WHERE report_id = $1 ORDER BY created_at, id`, reportID)
	if err != nil {
		return nil, fmt.Errorf("read amendments: %w", err)
	}
	defer rows.Close()
	var out []Amendment
	for rows.Next() {
		var m Amendment
		var at int64
		if err := rows.Scan(&m.ID, &m.AuthorID, &m.AuthorName, &at, &m.Section, &m.Corrected, &m.Reason); err != nil {
			return nil, fmt.Errorf("read amendments: %w", err)
		}
		m.CreatedAt = db.Time(at)
		out = append(out, m)
	}
	return out, rows.Err()
}

// summaries lists reports matching cond (on reports r, cases c), with the
// flags they raised.
func summaries(ctx context.Context, q db.Querier, cond string, args ...any) ([]Summary, error) {
	rows, err := q.QueryContext(ctx, `SELECT r.id, r.case_id, c.reference, p.display_name, r.visit_id, v.starts, r.state, r.version,
		r.author_id, r.author_name, r.submitted_at, r.approved_at, r.updated_at
		FROM reports r JOIN cases c ON c.id = r.case_id JOIN people p ON p.id = c.person_id JOIN visits v ON v.id = r.visit_id
		WHERE `+cond+` ORDER BY v.starts DESC, r.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list reports: %w", err)
	}
	var out []Summary
	index := map[string]int{}
	for rows.Next() {
		var m Summary
		var starts, updated int64
		var submitted, approved sql.NullInt64
		if err := rows.Scan(&m.ID, &m.CaseID, &m.Reference, &m.PersonName, &m.VisitID, &starts, &m.State, &m.Version,
			&m.AuthorID, &m.AuthorName, &submitted, &approved, &updated); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list reports: %w", err)
		}
		m.VisitStarts, m.SubmittedAt, m.ApprovedAt, m.UpdatedAt = db.Time(starts), db.NullTime(submitted), db.NullTime(approved), db.Time(updated)
		index[m.ID] = len(out)
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list reports: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	rows, err = q.QueryContext(ctx, `SELECT e.report_id, e.flag FROM report_escalations e JOIN reports r ON r.id = e.report_id
		JOIN cases c ON c.id = r.case_id JOIN visits v ON v.id = r.visit_id WHERE `+cond+` ORDER BY e.raised_at, e.flag`, args...)
	if err != nil {
		return nil, fmt.Errorf("list report flags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, flag string
		if err := rows.Scan(&id, &flag); err != nil {
			return nil, fmt.Errorf("list report flags: %w", err)
		}
		if i, ok := index[id]; ok {
			out[i].Flags = append(out[i].Flags, flag)
		}
	}
	return out, rows.Err()
}

// ForCase lists a case's reports, latest visit first. The read is audited.
func (s *Service) ForCase(ctx context.Context, a cases.Actor, caseID string) ([]Summary, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.ReadCase, caseID); err != nil {
		return nil, err
	}
	out, err := summaries(ctx, s.db, `r.case_id = $1`, caseID)
	if err != nil {
		return nil, err
	}
	return out, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "report.list", ObjectType: "case", ObjectID: caseID,
		Detail: fmt.Sprintf("reports=%d", len(out))})
}

// PendingApproval lists the submitted reports this user may approve, in
// the cases they may see, leaving out those they wrote or submitted (they
// may not approve them). A user who approves nothing gets an empty list.
func (s *Service) PendingApproval(ctx context.Context, a cases.Actor) ([]Summary, error) {
	v := s.policy.Visibility(a.User, auth.ApproveReport)
	if v.None {
		return nil, nil
	}
	cond, args := cases.VisibleSQL(v, "c", 2)
	args = append([]any{a.User.ID}, args...)
	out, err := summaries(ctx, s.db, `r.state = 'submitted' AND r.author_id <> $1
		AND NOT EXISTS (SELECT 1 FROM report_editors w WHERE w.report_id = r.id AND w.user_id = $1) AND `+cond, args...)
	if err != nil {
		return nil, err
	}
	// Oldest submission first: it has waited longest.
	sort.SliceStable(out, func(i, j int) bool { return out[i].SubmittedAt.Before(out[j].SubmittedAt) })
	return out, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "report.pending_view", ObjectType: "case",
		Detail: fmt.Sprintf("reports=%d", len(out))})
}

// ---- writing ----

// Create starts the report of a visit that was held (or cut short), with
// who was present, the location and the scheduled length filled in from
// the visit. The user who creates it is its author. A visit has one report:
// creating a second is a conflict (open the existing one with Get).
func (s *Service) Create(ctx context.Context, a cases.Actor, caseID, visitID string) (*Report, error) {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		if err := s.db.Lock(ctx, tx, "reports.visit."+visitID); err != nil {
			return err
		}
		var status, facilityName string
		var starts, ends int64
		err := tx.QueryRowContext(ctx, `SELECT v.status, v.starts, v.ends,
			COALESCE((SELECT fn.value FROM facility_names fn WHERE fn.facility_id = v.facility_id ORDER BY fn.position LIMIT 1), '')
			FROM visits v WHERE v.id = $1 AND v.case_id = $2`, visitID, caseID).Scan(&status, &starts, &ends, &facilityName)
		if errors.Is(err, sql.ErrNoRows) {
			return problem.New(problem.NotFound, "No such visit in this case.")
		}
		if err != nil {
			return fmt.Errorf("read visit: %w", err)
		}
		if status != "held" && status != "cut_short" {
			return problem.New(problem.Conflict, "Only a visit that was held (or cut short) has a report; this one is %s.", strings.ReplaceAll(status, "_", " "))
		}
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM reports WHERE visit_id = $1`, visitID).Scan(&exists); err != nil {
			return fmt.Errorf("check report: %w", err)
		}
		if exists > 0 {
			return problem.New(problem.Conflict, "This visit has a report already: open it instead.")
		}
		b, err := prefill(ctx, tx, visitID)
		if err != nil {
			return err
		}
		b.Location = facilityName
		b.DurationMinutes = int(db.Time(ends).Sub(db.Time(starts)) / time.Minute)
		b.normalize()
		text, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("encode report: %w", err)
		}
		id, now := db.NewID(), db.Instant(s.now())
		_, err = tx.ExecContext(ctx, `INSERT INTO reports (id, case_id, visit_id, state, body, version, author_id, author_name, created_at, updated_at)
			VALUES ($1, $2, $3, 'draft', $4, 1, $5, $6, $7, $7)`, id, caseID, visitID, string(text), a.User.ID, a.User.DisplayName, now)
		if db.IsUniqueViolation(err) {
			return problem.New(problem.Conflict, "This visit has a report already: open it instead.")
		}
		if err != nil {
			return fmt.Errorf("insert report: %w", err)
		}
		if err := s.addEditor(ctx, tx, id, a.User.ID); err != nil {
			return err
		}
		if _, err := s.event(ctx, tx, a, id, 1, "", Draft, ""); err != nil {
			return err
		}
		if err := s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "report.create", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("report=%s visit=%s", id, visitID)}); err != nil {
			return err
		}
		return s.escalate(ctx, tx, a, id, b)
	})
	if err != nil {
		return nil, err
	}
	return s.load(ctx, s.db, caseID, visitID)
}

// prefill fills who was present from the visit's participants.
func prefill(ctx context.Context, q db.Querier, visitID string) (Body, error) {
	var b Body
	rows, err := q.QueryContext(ctx, `SELECT role, name FROM visit_participants WHERE visit_id = $1 ORDER BY role, name`, visitID)
	if err != nil {
		return b, fmt.Errorf("read participants: %w", err)
	}
	defer rows.Close()
	monitored := false
	for rows.Next() {
		var role, name string
		if err := rows.Scan(&role, &name); err != nil {
			return b, fmt.Errorf("read participants: %w", err)
		}
		switch role {
		case "host", "officer":
			b.Present.OurOfficials = append(b.Present.OurOfficials, name)
		case "interpreter":
			b.Present.Interpreter = name
		case "monitor":
			b.Present.HostOfficials = append(b.Present.HostOfficials, name)
			monitored = true
		}
	}
	if monitored {
		b.Monitored = "yes"
	}
	return b, rows.Err()
}

// lockRow takes the report's lock and reads it, inside tx.
func (s *Service) lockRow(ctx context.Context, tx *sql.Tx, caseID, visitID string) (*row, error) {
	if err := s.db.Lock(ctx, tx, "reports.visit."+visitID); err != nil {
		return nil, err
	}
	return readRow(ctx, tx, caseID, visitID)
}

// notEditable explains why a report in state cannot be edited or submitted.
func notEditable(state string) error {
	switch state {
	case Submitted:
		return problem.New(problem.Conflict, "The report is submitted for approval and cannot change until a supervisor returns it.")
	case Approved:
		return problem.New(problem.Conflict, "The report is approved and can no longer change: add an amendment instead.")
	}
	return problem.New(problem.Conflict, "The report cannot change in its present state (%s).", state)
}

var errStale = problem.New(problem.Conflict, "Someone changed the report since you opened it: reload it and make your changes again.")

// whyNotEditable explains why the report r, read under its lock, cannot be
// saved or submitted at version; nil when it can.
func whyNotEditable(r *row, version int) error {
	if r.state != Draft && r.state != Returned {
		return notEditable(r.state)
	}
	if r.version != version {
		return errStale
	}
	return nil
}

// changed checks that a guarded update changed the report's row; when it
// did not, why says why.
func changed(res sql.Result, why func() error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n == 1 {
		return nil
	}
	if err := why(); err != nil {
		return err
	}
	return errStale
}

// SaveDraft replaces the text of a draft or returned report. version is the
// version the editor loaded: if the report changed since, nothing is saved
// and the answer is a conflict. Submitted and approved reports cannot be
// saved. Saving raises any new escalation.
func (s *Service) SaveDraft(ctx context.Context, a cases.Actor, caseID, visitID string, b Body, version int) error {
	b.normalize()
	if err := b.validate().Err(); err != nil {
		return err
	}
	text, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		r, err := s.lockRow(ctx, tx, caseID, visitID)
		if err != nil {
			return err
		}
		old, err := r.decode()
		if err != nil {
			return err
		}
		// The update is the guard: only an editable report at the version
		// the editor loaded changes.
		res, err := tx.ExecContext(ctx, `UPDATE reports SET body = $2, version = version + 1, updated_at = $3
			WHERE id = $1 AND version = $4 AND state IN ('draft', 'returned')`, r.id, string(text), db.Instant(s.now()), version)
		if err != nil {
			return fmt.Errorf("save report: %w", err)
		}
		if err := changed(res, func() error { return whyNotEditable(r, version) }); err != nil {
			return err
		}
		if err := s.addEditor(ctx, tx, r.id, a.User.ID); err != nil {
			return err
		}
		if err := s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "report.save", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("report=%s version=%d changed=%s", r.id, version+1, strings.Join(changedSections(old, b), ","))}); err != nil {
			return err
		}
		return s.escalate(ctx, tx, a, r.id, b)
	})
}

// Submit sends a draft or returned report for approval, once it is
// complete (a duration, a summary, the statement that it is factual, and
// for an allegation its narrative and the detainee's permission). The
// supervisors who may see the case are told, except anyone who wrote it.
func (s *Service) Submit(ctx context.Context, a cases.Actor, caseID, visitID string, version int) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		r, err := s.lockRow(ctx, tx, caseID, visitID)
		if err != nil {
			return err
		}
		b, err := r.decode()
		if err != nil {
			return err
		}
		b.normalize()
		if whyNotEditable(r, version) == nil {
			if err := b.complete().Err(); err != nil {
				return err
			}
		}
		now := db.Instant(s.now())
		res, err := tx.ExecContext(ctx, `UPDATE reports SET state = 'submitted', version = version + 1, submitted_at = $2, updated_at = $2
			WHERE id = $1 AND version = $3 AND state IN ('draft', 'returned')`, r.id, now, version)
		if err != nil {
			return fmt.Errorf("submit report: %w", err)
		}
		if err := changed(res, func() error { return whyNotEditable(r, version) }); err != nil {
			return err
		}
		// Whoever submits vouches for the text: they may not approve it either.
		if err := s.addEditor(ctx, tx, r.id, a.User.ID); err != nil {
			return err
		}
		eventID, err := s.event(ctx, tx, a, r.id, version+1, r.state, Submitted, "")
		if err != nil {
			return err
		}
		if err := s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "report.submit", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("report=%s %s→submitted", r.id, r.state)}); err != nil {
			return err
		}
		if err := s.escalate(ctx, tx, a, r.id, b); err != nil {
			return err
		}
		return s.noticeSubmitted(ctx, tx, r, eventID)
	})
}

// decider checks that a may approve or return reports of the case: they
// must see it (or it does not exist for them), hold ApproveReport on it, and
// not have written or submitted the report (four eyes).
func (s *Service) decider(ctx context.Context, tx *sql.Tx, a cases.Actor, caseID string, r *row) error {
	scope, err := s.cases.Scope(ctx, tx, caseID)
	if err != nil {
		return err
	}
	if !s.policy.Can(a.User, auth.ApproveReport, scope) {
		return problem.New(problem.Forbidden, "Only a supervisor of this case may approve or return its reports.")
	}
	var wrote int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM report_editors WHERE report_id = $1 AND user_id = $2`, r.id, a.User.ID).Scan(&wrote); err != nil {
		return fmt.Errorf("check editors: %w", err)
	}
	if r.authorID == a.User.ID || wrote > 0 {
		return problem.New(problem.Forbidden, "You wrote or submitted this report: another supervisor must approve or return it.")
	}
	return nil
}

// notSubmitted explains why a report in state cannot be decided.
func notSubmitted(state string) error {
	switch state {
	case Approved:
		return problem.New(problem.Conflict, "The report is approved already and can no longer change.")
	case Draft, Returned:
		return problem.New(problem.Conflict, "The report is not submitted for approval.")
	}
	return problem.New(problem.Conflict, "The report cannot be decided in its present state (%s).", state)
}

// Approve approves a submitted report. The approver needs ApproveReport on
// the case and must not have written or submitted it. From then on the
// report never changes. Its author is told.
func (s *Service) Approve(ctx context.Context, a cases.Actor, caseID, visitID string, version int) error {
	return s.decide(ctx, a, caseID, visitID, version, Approved, "")
}

// Return sends a submitted report back to its author with the supervisor's
// comments, which are required. Same rights as Approve.
func (s *Service) Return(ctx context.Context, a cases.Actor, caseID, visitID string, version int, comment string) error {
	comment = strings.TrimSpace(comment)
	f := problem.Fields{}
	if comment == "" {
		f.Add("comment", "Say what the author should change.")
	}
	checkText(f, "comment", comment, longText)
	if err := f.Err(); err != nil {
		return err
	}
	return s.decide(ctx, a, caseID, visitID, version, Returned, comment)
}

func (s *Service) decide(ctx context.Context, a cases.Actor, caseID, visitID string, version int, to, comment string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.ReadCase, caseID); err != nil {
			return err
		}
		r, err := s.lockRow(ctx, tx, caseID, visitID)
		if err != nil {
			return err
		}
		if err := s.decider(ctx, tx, a, caseID, r); err != nil {
			return err
		}
		now := db.Instant(s.now())
		var res sql.Result
		if to == Approved {
			res, err = tx.ExecContext(ctx, `UPDATE reports SET state = 'approved', version = version + 1, approved_by = $2, approved_at = $3, updated_at = $3
				WHERE id = $1 AND version = $4 AND state = 'submitted'`, r.id, a.User.ID, now, version)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE reports SET state = 'returned', version = version + 1, updated_at = $2
				WHERE id = $1 AND version = $3 AND state = 'submitted'`, r.id, now, version)
		}
		if err != nil {
			return fmt.Errorf("decide report: %w", err)
		}
		if err := changed(res, func() error {
			if r.state != Submitted {
				return notSubmitted(r.state)
			}
			return errStale
		}); err != nil {
			return err
		}
		eventID, err := s.event(ctx, tx, a, r.id, version+1, Submitted, to, comment)
		if err != nil {
			return err
		}
		action := "report.approve"
		if to == Returned {
			action = "report.return"
		}
		if err := s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: action, ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("report=%s submitted→%s", r.id, to)}); err != nil {
			return err
		}
		return s.noticeDecided(ctx, tx, r, to, eventID)
	})
}

// AmendmentInput corrects one section of an approved report.
type AmendmentInput struct {
	Section   string // Vocab.Sections
	Corrected string // the corrected text
	Reason    string // why the report was wrong
}

// Amend adds a correction to an approved report, which itself stays as it
// was approved. A draft or submitted report is edited (or returned) instead.
func (s *Service) Amend(ctx context.Context, a cases.Actor, caseID, visitID string, in AmendmentInput) (*Amendment, error) {
	in.Section, in.Corrected, in.Reason = strings.TrimSpace(in.Section), strings.TrimSpace(in.Corrected), strings.TrimSpace(in.Reason)
	f := problem.Fields{}
	if !Vocab.Sections.Has(in.Section) {
		f.Add("section", "Choose the section the amendment corrects.")
	}
	if in.Corrected == "" {
		f.Add("corrected", "Write the corrected text.")
	}
	if in.Reason == "" {
		f.Add("reason", "Say why the report needs correcting.")
	}
	checkText(f, "corrected", in.Corrected, longText)
	checkText(f, "reason", in.Reason, 2000)
	if err := f.Err(); err != nil {
		return nil, err
	}
	m := &Amendment{ID: db.NewID(), AuthorID: a.User.ID, AuthorName: a.User.DisplayName, CreatedAt: s.now().UTC().Truncate(time.Microsecond),
		Section: in.Section, Corrected: in.Corrected, Reason: in.Reason}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.cases.Authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		r, err := s.lockRow(ctx, tx, caseID, visitID)
		if err != nil {
			return err
		}
		if r.state != Approved {
			return problem.New(problem.Conflict, "Only an approved report is amended; this one is “%s”: edit it instead.", problem.Textf(Vocab.States.Label(r.state)))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO report_amendments (id, report_id, author_id, author_name, created_at, section, corrected, reason)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, m.ID, r.id, m.AuthorID, m.AuthorName, db.Instant(m.CreatedAt), m.Section, m.Corrected, m.Reason); err != nil {
			return fmt.Errorf("add amendment: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "report.amend", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("report=%s amendment=%s section=%s", r.id, m.ID, m.Section)})
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// ---- helpers ----

func (s *Service) addEditor(ctx context.Context, tx *sql.Tx, reportID, userID string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO report_editors (report_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, reportID, userID); err != nil {
		return fmt.Errorf("record editor: %w", err)
	}
	return nil
}

// event records a change of state that brought the report to version.
func (s *Service) event(ctx context.Context, tx *sql.Tx, a cases.Actor, reportID string, version int, from, to, comment string) (string, error) {
	id := db.NewID()
	_, err := tx.ExecContext(ctx, `INSERT INTO report_events (id, report_id, version, at, actor_id, actor_name, from_state, to_state, comment)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, id, reportID, version, db.Instant(s.now()), a.User.ID, a.User.DisplayName, from, to, comment)
	if err != nil {
		return "", fmt.Errorf("record report event: %w", err)
	}
	return id, nil
}

// changedSections names the sections of the body that differ, for the audit log.
func changedSections(old, b Body) []string {
	sections := func(b Body) map[string]any {
		return map[string]any{
			"present": b.Present, "duration": b.DurationMinutes, "location": []string{b.Location, b.Setting}, "monitored": b.Monitored,
			"restrictions": b.Restrictions, "wishes": b.Wishes, "health": b.Health, "conditions": b.Conditions,
			"allegation": b.Allegation, "legal": b.Legal, "needs": b.Needs, "advice": b.AdviceGiven,
			"family_messages": b.FamilyMessages, "summary": []any{b.Summary, b.FactualOnly}, "flags": []bool{b.HealthEmergency, b.AccessDenied},
		}
	}
	o, n := sections(old), sections(b)
	var out []string
	for _, t := range Vocab.Sections {
		x, _ := json.Marshal(o[t.Code])
		y, _ := json.Marshal(n[t.Code])
		if string(x) != string(y) {
			out = append(out, t.Code)
		}
	}
	return out
}

// send queues a mail, if the service has a sender.
func (s *Service) send(ctx context.Context, tx *sql.Tx, m notify.Mail) error {
	if s.sender == nil {
		return nil
	}
	return s.sender.Send(ctx, tx, m)
}

// link is the address of a report's page.
func (s *Service) link(caseID, visitID string) string {
	return strings.TrimRight(s.opts.BaseURL, "/") + "/cases/" + caseID + "/visits/" + visitID + "/report"
}

func (s *Service) reference(ctx context.Context, q db.Querier, caseID string) (string, error) {
	var ref string
	if err := q.QueryRowContext(ctx, `SELECT reference FROM cases WHERE id = $1`, caseID).Scan(&ref); err != nil {
		return "", fmt.Errorf("read case reference: %w", err)
	}
	return ref, nil
}

// noticeSubmitted tells the supervisors who may see the case that a report
// waits for them, except those who wrote or submitted it.
func (s *Service) noticeSubmitted(ctx context.Context, tx *sql.Tx, r *row, eventID string) error {
	if s.sender == nil {
		return nil
	}
	scope, err := s.cases.Scope(ctx, tx, r.caseID)
	if err != nil {
		return err
	}
	people, err := notify.Recipients(ctx, tx, scope, auth.RoleSupervisor)
	if err != nil {
		return err
	}
	writers := map[string]bool{r.authorID: true}
	rows, err := tx.QueryContext(ctx, `SELECT user_id FROM report_editors WHERE report_id = $1`, r.id)
	if err != nil {
		return fmt.Errorf("read editors: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("read editors: %w", err)
		}
		writers[id] = true
	}
	rows.Close()
	ref, err := s.reference(ctx, tx, r.caseID)
	if err != nil {
		return err
	}
	for _, p := range people {
		if writers[p.UserID] {
			continue
		}
		w := s.opts.Catalog.In(p.Lang)
		if err := s.send(ctx, tx, notify.Mail{Kind: notify.ReportSubmitted, UserID: p.UserID, To: p.Email, Name: p.Name,
			Subject: w.T("Visit report to approve: case %s", ref),
			Text: w.T("A visit report in case %s waits for approval.", ref) + "\n\n" + w.T("Open it: %s", s.link(r.caseID, r.visitID)) + "\n\n" +
				w.T("This notice carries no detail of the case; sign in to read the report.") + "\n",
			Key: "report-submitted:" + r.id + ":" + eventID + ":" + p.UserID}); err != nil {
			return err
		}
	}
	return nil
}

// noticeDecided tells the author that their report was approved or returned.
func (s *Service) noticeDecided(ctx context.Context, tx *sql.Tx, r *row, to, eventID string) error {
	if s.sender == nil {
		return nil
	}
	var name, email, lang string
	err := tx.QueryRowContext(ctx, `SELECT display_name, email, lang FROM users WHERE id = $1 AND disabled = FALSE`, r.authorID).Scan(&name, &email, &lang)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && email == "") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read author: %w", err)
	}
	ref, err := s.reference(ctx, tx, r.caseID)
	if err != nil {
		return err
	}
	w := s.opts.Catalog.In(lang)
	subject, text := w.T("Visit report approved: case %s", ref), w.T("Your visit report in case %s was approved.", ref)
	if to == Returned {
		subject, text = w.T("Visit report returned: case %s", ref), w.T("Your visit report in case %s was returned to you with comments.", ref)
	}
	return s.send(ctx, tx, notify.Mail{Kind: notify.ReportDecided, UserID: r.authorID, To: email, Name: name, Subject: subject,
		Text: text + "\n\n" + w.T("Open it: %s", s.link(r.caseID, r.visitID)) + "\n\n" +
			w.T("This notice carries no detail of the case; sign in to read the report.") + "\n",
		Key: "report-decided:" + r.id + ":" + eventID})
}
