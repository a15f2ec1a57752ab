package access

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/edate"
	"github.com/attache-org/attache/internal/problem"
)

// CaseAccess is the access side of one case.
type CaseAccess struct {
	Profile      Profile
	Notification *Notification
	Contacts     []Contact
	Requests     []Request
	Suspensions  []Suspension // in force for the case's state or facility
	Clock        Clock
}

// ForCase gathers a case's access record and clock, counting the contacts
// since a date (edate form, in the case's zone; "" for none), and records
// the view.
func (s *Service) ForCase(ctx context.Context, a cases.Actor, caseID, since string) (*CaseAccess, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.ReadCase, caseID); err != nil {
		return nil, err
	}
	var state, status, arrested, notified, zone string
	var facility string
	err := s.db.QueryRowContext(ctx, `SELECT c.detaining_state, c.status, c.arrested, c.notified, COALESCE(c.facility_id, ''), COALESCE(f.time_zone, '')
		FROM cases c LEFT JOIN facilities f ON f.id = c.facility_id WHERE c.id = $1`, caseID).Scan(&state, &status, &arrested, &notified, &facility, &zone)
	if err != nil {
		return nil, fmt.Errorf("read case: %w", err)
	}
	ca := &CaseAccess{}
	profiles, err := s.profiles(ctx, s.db)
	if err != nil {
		return nil, err
	}
	ca.Profile = profileFor(profiles, state)
	if ca.Notification, err = s.notification(ctx, s.db, caseID); err != nil {
		return nil, err
	}
	if ca.Contacts, err = s.contacts(ctx, s.db, caseID); err != nil {
		return nil, err
	}
	if ca.Requests, err = s.requests(ctx, s.db, caseID, ""); err != nil {
		return nil, err
	}
	now := s.now()
	if ca.Suspensions, err = s.suspensionsInForce(ctx, s.db, state, facility, now); err != nil {
		return nil, err
	}
	arr, _ := edate.Decode(arrested)
	not, _ := edate.Decode(notified)
	loc := zoneOf(zone, arr, not)
	var window time.Time
	if since != "" {
		d, err := edate.Parse(since, loc.String())
		if err != nil {
			return nil, problem.FieldErr("since", err)
		}
		window = d.Earliest()
	}
	ca.Clock = ComputeClock(ClockInput{Now: now, Zone: loc, Profile: ca.Profile, CaseOpen: isOpen(status),
		Arrested: arr, Notified: not, Notification: ca.Notification, Contacts: ca.Contacts, Requests: ca.Requests, Window: window})
	for _, sp := range ca.Suspensions {
		ca.Clock.SuspendedModes = append(ca.Clock.SuspendedModes, sp.Modes...)
	}
	return ca, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "case.access_view", ObjectType: "case", ObjectID: caseID})
}

func isOpen(status string) bool { return status == "open" || status == "monitoring" }

// zoneOf is the zone in which a case's days are counted: the facility's,
// else the zone of its arrest or notification date, else UTC.
func zoneOf(facilityZone string, dates ...edate.Date) *time.Location {
	names := []string{facilityZone}
	for _, d := range dates {
		names = append(names, d.Zone)
	}
	for _, n := range names {
		if n == "" {
			continue
		}
		if loc, err := edate.LoadZone(n); err == nil {
			return loc
		}
	}
	return time.UTC
}

// Row is one case on the dashboard.
type Row struct {
	CaseID      string
	Reference   string
	PersonName  string
	LegalStatus string
	State       string
	Post        string
	Desk        string
	HighProfile bool
	NextHearing edate.Date
	Clock       Clock
}

// Dashboard is the home page of officers: open cases, most urgent first.
type Dashboard struct {
	Rows        []Row
	Suspensions []Suspension // in force
	Waiting     []WaitingRequest
}

// WaitingRequest is a request unanswered for too long.
type WaitingRequest struct {
	CaseID     string         `json:"case_id"`
	Reference  string         `json:"reference"`
	PersonName string         `json:"person_name"`
	Pending    PendingRequest `json:"pending"`
}

// WaitingTooLong is how long a request may wait for an answer before the
// dashboard lists it.
const WaitingTooLong = 14

// Dashboard gathers the open cases the user may see with their clocks.
// Its number of queries does not depend on the number of cases.
func (s *Service) Dashboard(ctx context.Context, a cases.Actor) (*Dashboard, error) {
	v := s.policy.Visibility(a.User, auth.ReadCase)
	if v.None {
		return nil, problem.New(problem.Forbidden, "You may not see cases.")
	}
	now := s.now()
	cond, args := cases.VisibleSQL(v, "c", 1)
	open := cond + ` AND c.status IN ('open', 'monitoring')`
	type caseRow struct {
		Row
		zone, status       string
		arrested, notified edate.Date
		notification       *Notification
		contacts           []Contact
		requests           []Request
	}
	// The text columns come joined into one, split here: the pure-Go SQLite
	// driver pays per column read, and this query reads 10,000 rows on a
	// large post (see docs/benchmarks.md). The separator is ASCII's unit
	// separator, which no field holds.
	const sep = "\x1f"
	rows, err := s.q.QueryContext(ctx, `SELECT c.high_profile, c.id || '`+sep+`' || c.reference || '`+sep+`' || p.display_name || '`+sep+`' ||
		c.legal_status || '`+sep+`' || c.detaining_state || '`+sep+`' || c.post || '`+sep+`' || c.desk || '`+sep+`' || c.status || '`+sep+`' ||
		c.arrested || '`+sep+`' || c.notified || '`+sep+`' || COALESCE(f.time_zone, '') || '`+sep+`' ||
		COALESCE(n.learned_via, '') || '`+sep+`' || COALESCE(n.assistance, '') || '`+sep+`' || COALESCE(n.first_contact, '') || '`+sep+`' ||
		COALESCE(a.last_contact, '') || '`+sep+`' || COALESCE(a.first_contact, '') || '`+sep+`' || COALESCE(a.last_visit, '') || '`+sep+`' ||
		COALESCE(a.first_visit, '')
		FROM cases c JOIN people p ON p.id = c.person_id LEFT JOIN facilities f ON f.id = c.facility_id
		LEFT JOIN case_notifications n ON n.case_id = c.id LEFT JOIN access_summaries a ON a.case_id = c.id WHERE `+open, args...)
	if err != nil {
		return nil, fmt.Errorf("dashboard cases: %w", err)
	}
	byID := map[string]*caseRow{}
	var order []*caseRow
	for rows.Next() {
		r := &caseRow{}
		var packed string
		if err := rows.Scan(&r.HighProfile, &packed); err != nil {
			rows.Close()
			return nil, fmt.Errorf("dashboard cases: %w", err)
		}
		f := strings.Split(packed, sep)
		if len(f) != 18 {
			rows.Close()
			return nil, fmt.Errorf("dashboard cases: a row has %d fields, want 18", len(f))
		}
		r.CaseID, r.Reference, r.PersonName, r.LegalStatus, r.State, r.Post, r.Desk, r.status = f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]
		arrested, notified, learned, assistance, first := f[8], f[9], f[11], f[12], f[13]
		r.zone = f[10]
		found := f[14:18]
		r.arrested, _ = edate.Decode(arrested)
		r.notified, _ = edate.Decode(notified)
		if learned != "" {
			fc, _ := edate.Decode(first)
			r.notification = &Notification{LearnedVia: learned, Assistance: assistance, FirstContact: fc}
		}
		seen := map[string]bool{}
		for _, f := range found {
			if f == "" || seen[f] {
				continue
			}
			seen[f] = true
			happened, mode, _ := strings.Cut(f, "|")
			ct := Contact{Mode: mode}
			ct.Happened, _ = edate.Decode(happened)
			r.contacts = append(r.contacts, ct)
		}
		byID[r.CaseID] = r
		order = append(order, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dashboard cases: %w", err)
	}

	// Requests waiting for an answer, and those ever denied.
	rows, err = s.q.QueryContext(ctx, `SELECT r.case_id, r.id, r.mode, r.status, r.sent_at, r.created_at,
			(SELECT COUNT(*) FROM access_request_events e WHERE e.request_id = r.id AND e.to_status = 'denied')
		FROM access_requests r JOIN cases c ON c.id = r.case_id
		WHERE `+open+` AND (r.status IN ('sent', 'acknowledged', 'no_response', 'escalated', 'denied')
			OR EXISTS (SELECT 1 FROM access_request_events e2 WHERE e2.request_id = r.id AND e2.to_status = 'denied'))`, args...)
	if err != nil {
		return nil, fmt.Errorf("dashboard requests: %w", err)
	}
	for rows.Next() {
		var caseID string
		var req Request
		var sent, created *int64
		var denials int
		if err := rows.Scan(&caseID, &req.ID, &req.Mode, &req.Status, &sent, &created, &denials); err != nil {
			rows.Close()
			return nil, fmt.Errorf("dashboard requests: %w", err)
		}
		if sent != nil {
			req.SentAt = db.Time(*sent)
		}
		if created != nil {
			req.CreatedAt = db.Time(*created)
		}
		if denials > 0 && req.Status != "denied" {
			req.History = []Transition{{To: "denied"}}
		}
		if r := byID[caseID]; r != nil {
			r.requests = append(r.requests, req)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dashboard requests: %w", err)
	}

	// The next scheduled hearing or trial.
	hArgs := append(append([]any{}, args...), db.Instant(now))
	rows, err = s.q.QueryContext(ctx, fmt.Sprintf(`SELECT t.case_id, t.happened FROM timeline t JOIN cases c ON c.id = t.case_id
		WHERE %s AND t.kind IN ('hearing', 'trial') AND t.latest >= $%d ORDER BY t.earliest`, open, len(hArgs)), hArgs...)
	if err != nil {
		return nil, fmt.Errorf("dashboard hearings: %w", err)
	}
	for rows.Next() {
		var caseID, happened string
		if err := rows.Scan(&caseID, &happened); err != nil {
			rows.Close()
			return nil, fmt.Errorf("dashboard hearings: %w", err)
		}
		if r := byID[caseID]; r != nil && r.NextHearing.IsZero() {
			r.NextHearing, _ = edate.Decode(happened)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dashboard hearings: %w", err)
	}

	profiles, err := s.profiles(ctx, s.q)
	if err != nil {
		return nil, err
	}
	all, err := s.loadSuspensions(ctx, s.q, "", "", now)
	if err != nil {
		return nil, err
	}
	d := &Dashboard{}
	for _, sp := range all {
		if sp.InForce(now) {
			d.Suspensions = append(d.Suspensions, sp)
		}
	}
	for _, r := range order {
		r.Clock = ComputeClock(ClockInput{Now: now, Zone: zoneOf(r.zone, r.arrested, r.notified), Profile: profileFor(profiles, r.State),
			CaseOpen: isOpen(r.status), Arrested: r.arrested, Notified: r.notified, Notification: r.notification,
			Contacts: r.contacts, Requests: r.requests})
		for _, p := range r.Clock.Pending {
			if p.AgeDays > WaitingTooLong {
				d.Waiting = append(d.Waiting, WaitingRequest{CaseID: r.CaseID, Reference: r.Reference, PersonName: r.PersonName, Pending: p})
			}
		}
	}
	// Sort pointers with their keys computed once: a Row is large to swap.
	urgency := make(map[*caseRow]int, len(order))
	for _, r := range order {
		urgency[r] = r.Clock.Urgency()
	}
	sort.Slice(order, func(i, j int) bool {
		ui, uj := urgency[order[i]], urgency[order[j]]
		if ui != uj {
			return ui > uj
		}
		return order[i].Reference < order[j].Reference
	})
	d.Rows = make([]Row, len(order))
	for i, r := range order {
		d.Rows[i] = r.Row
	}
	sort.SliceStable(d.Waiting, func(i, j int) bool { return d.Waiting[i].Pending.AgeDays > d.Waiting[j].Pending.AgeDays })
	return d, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "case.dashboard_view", ObjectType: "case",
		Detail: fmt.Sprintf("cases=%d", len(d.Rows))})
}
