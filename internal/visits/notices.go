package visits

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/edate"
	"github.com/attache-org/attache/internal/i18n"
	"github.com/attache-org/attache/internal/notify"
	"github.com/attache-org/attache/internal/problem"
)

// ReminderScheduler schedules the reminders of a visit, inside the
// transaction that books or moves it.
type ReminderScheduler interface {
	ScheduleReminders(ctx context.Context, tx *sql.Tx, visitID string, sequence int, starts time.Time) error
}

// Notices is how the scheduler tells the officers of a visit: an e-mail
// with a calendar invitation when it is booked, moved or cancelled, and
// reminders before it. The zero value sends nothing.
type Notices struct {
	Sender    notify.Sender
	Reminders ReminderScheduler
	BaseURL   string        // for links in the mails, e.g. https://attache.example.org
	Catalog   *i18n.Catalog // writes each mail in its recipient's language; nil writes English
}

// SetNotices sets how visits are announced.
func (s *Service) SetNotices(n Notices) { s.notices = n }

// visitNotice is what a notice says about a visit. It names the case by its
// reference, never the detainee: mail systems are outside need-to-know.
type visitNotice struct {
	id, caseID, reference, status, modality, kind, facility, zone string
	starts, ends                                                  time.Time
	sequence                                                      int
	people                                                        []notify.Recipient // participants with an account and an address
	roles                                                         map[string]string  // user id → role in the visit
}

func (s *Service) loadNotice(ctx context.Context, q db.Querier, visitID string) (*visitNotice, error) {
	n := &visitNotice{id: visitID, roles: map[string]string{}}
	var st, en int64
	err := q.QueryRowContext(ctx, `SELECT v.case_id, c.reference, v.status, v.modality, v.kind, v.starts, v.ends, v.sequence,
		COALESCE(f.time_zone, ''), COALESCE((SELECT fn.value FROM facility_names fn WHERE fn.facility_id = f.id ORDER BY fn.position LIMIT 1), '')
		FROM visits v JOIN cases c ON c.id = v.case_id LEFT JOIN facilities f ON f.id = v.facility_id WHERE v.id = $1`, visitID).
		Scan(&n.caseID, &n.reference, &n.status, &n.modality, &n.kind, &st, &en, &n.sequence, &n.zone, &n.facility)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, db.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read visit for notice: %w", err)
	}
	n.starts, n.ends = db.Time(st), db.Time(en)
	rows, err := q.QueryContext(ctx, `SELECT u.id, u.display_name, u.email, u.role, u.lang, p.role FROM visit_participants p JOIN users u ON u.id = p.user_id
		WHERE p.visit_id = $1 AND u.disabled = FALSE AND u.email <> '' ORDER BY p.role, u.display_name`, visitID)
	if err != nil {
		return nil, fmt.Errorf("read visit participants: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r notify.Recipient
		var urole, prole string
		if err := rows.Scan(&r.UserID, &r.Name, &r.Email, &urole, &r.Lang, &prole); err != nil {
			return nil, fmt.Errorf("read visit participants: %w", err)
		}
		r.Role = auth.Role(urole)
		n.people = append(n.people, r)
		n.roles[r.UserID] = prole
	}
	return n, rows.Err()
}

// when says when the visit is, in the facility's time (its zone named)
// and in UTC, in w's language: "7 déc. 2026, 09 h 00–10 h 00 (Asia/Shanghai;
// 01 h 00–02 h 00 UTC)".
func (n *visitNotice) when(w i18n.Words) string {
	zone := n.zone
	loc, err := edate.LoadZone(zone)
	if err != nil || zone == "" {
		loc, zone = time.UTC, "UTC"
	}
	start, end := n.starts.In(loc), n.ends.In(loc)
	s := w.LongDate(start) + ", " + w.Time(start) + "–" + w.Time(end) + " (" + zone
	if loc != time.UTC {
		s += "; " + w.Time(n.starts.UTC()) + "–" + w.Time(n.ends.UTC()) + " UTC"
	}
	return s + ")"
}

// title names the visit and its case, in w's language: "Consular visit
// (remote video), case 2026-OTT-0001".
func (n *visitNotice) title(w i18n.Words) string {
	return w.T("%s (%s), case %s", w.T(Kinds.Label(n.kind)), w.T(Modalities.Label(n.modality)), n.reference)
}

func (s *Service) link(path string) string { return strings.TrimRight(s.notices.BaseURL, "/") + path }

// announce queues the notice of kind for every officer of the visit, with
// a calendar invitation (or cancellation) at the visit's sequence, and
// schedules its reminders when it is booked or moved. The reason for a move
// or a cancellation stays in the case ("the detainee is in hospital" is
// case data): the notice links to it.
func (s *Service) announce(ctx context.Context, tx *sql.Tx, visitID string, kind notify.Kind) error {
	if s.notices.Sender == nil {
		return nil
	}
	n, err := s.loadNotice(ctx, tx, visitID)
	if err != nil {
		return err
	}
	method := "REQUEST"
	if kind == notify.VisitCancelled {
		method = "CANCEL"
	}
	caseLink := s.link("/cases/" + n.caseID)
	var organizer notify.Person
	var attendees []notify.Person
	for _, p := range n.people {
		// The host organizes; without an address (or an account still
		// active) the first officer who has one stands in, so that a
		// missing address never blocks booking or cancelling.
		if n.roles[p.UserID] == "host" || organizer.Email == "" {
			organizer = notify.Person{Name: p.Name, Email: p.Email}
		}
		attendees = append(attendees, notify.Person{Name: p.Name, Email: p.Email})
	}
	for _, p := range n.people {
		// Each officer reads the notice, and the calendar entry it makes,
		// in their own language.
		w := s.notices.Catalog.In(p.Lang)
		inv := &notify.Invite{Method: method, UID: "visit-" + n.id + "@" + s.host(), Sequence: n.sequence, Start: n.starts, End: n.ends,
			Summary: n.title(w), Location: n.facility, URL: caseLink, Organizer: organizer, Attendees: attendees,
			Description: w.T("Case %s. Details for those who may see the case: %s", n.reference, caseLink)}
		var b strings.Builder
		var subject string
		switch kind {
		case notify.VisitScheduled:
			subject = w.T("Visit scheduled: case %s, %s", n.reference, n.when(w))
			b.WriteString(w.T("Scheduled: %s.", n.title(w)))
		case notify.VisitChanged:
			subject = w.T("Visit moved: case %s, %s", n.reference, n.when(w))
			b.WriteString(w.T("Moved: %s. The host confirms the new time.", n.title(w)))
		default:
			subject = w.T("Visit cancelled: case %s, %s", n.reference, n.when(w))
			b.WriteString(w.T("Cancelled: %s.", n.title(w)))
		}
		b.WriteString("\n\n" + w.T("When: %s", n.when(w)) + "\n")
		if n.facility != "" {
			b.WriteString(w.T("Where: %s", n.facility) + "\n")
		}
		b.WriteString(w.T("You take part as: %s", w.T(ParticipantRoles.Label(n.roles[p.UserID]))) + "\n\n")
		b.WriteString(w.T("The case: %s", caseLink) + "\n\n")
		b.WriteString(w.T("This notice leaves out the detainee's details; sign in to see them.") + "\n")
		m := notify.Mail{Kind: kind, UserID: p.UserID, To: p.Email, Name: p.Name, Invite: inv, Text: b.String(), Subject: subject,
			Key: fmt.Sprintf("%s:%s:%d:%s", kind, n.id, n.sequence, p.UserID)}
		if err := s.notices.Sender.Send(ctx, tx, m); err != nil {
			return fmt.Errorf("queue visit notice: %w", err)
		}
	}
	if kind != notify.VisitCancelled && s.notices.Reminders != nil {
		return s.notices.Reminders.ScheduleReminders(ctx, tx, n.id, n.sequence, n.starts)
	}
	return nil
}

func (s *Service) host() string {
	if u, err := url.Parse(s.notices.BaseURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "attache"
}

// Reminders returns the reminders of a visit due lead before it starts, one
// per officer taking part; none when the visit was moved or cancelled since
// they were scheduled (its sequence differs) or no longer takes place.
func (s *Service) Reminders(ctx context.Context, visitID string, sequence int, lead time.Duration) ([]notify.Mail, error) {
	n, err := s.loadNotice(ctx, s.db, visitID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if n.sequence != sequence || (n.status != "planned" && n.status != "confirmed") {
		return nil, nil
	}
	hours := int(lead.Round(time.Hour) / time.Hour)
	var out []notify.Mail
	for _, p := range n.people {
		w := s.notices.Catalog.In(p.Lang)
		text := w.T("%s starts in %d hours.", n.title(w), hours) + "\n\n" + w.T("When: %s", n.when(w)) + "\n" +
			w.T("You take part as: %s", w.T(ParticipantRoles.Label(n.roles[p.UserID]))) + "\n\n" + w.T("The case: %s", s.link("/cases/"+n.caseID)) + "\n"
		out = append(out, notify.Mail{Kind: notify.VisitReminder, UserID: p.UserID, To: p.Email, Name: p.Name,
			Subject: w.T("Reminder: visit in %d hours, case %s", hours, n.reference), Text: text,
			Key: fmt.Sprintf("reminder:%s:%d:%s:%s", n.id, n.sequence, lead, p.UserID)})
	}
	return out, nil
}

// Reschedule moves a planned or confirmed visit to a new start and length,
// with the same checks as booking it (windows, terminal, detainee and
// officers free). A moved visit is planned again (the host must confirm the
// new time), its calendar sequence goes up, and its officers are told.
func (s *Service) Reschedule(ctx context.Context, a cases.Actor, caseID, visitID, start string, minutes int, reason string) (*Visit, error) {
	reason = strings.TrimSpace(reason)
	f := problem.Fields{}
	if reason == "" {
		f.Add("reason", "Say why the visit moves.")
	}
	if minutes < 5 || minutes > 240 {
		f.Add("minutes", "A visit lasts from 5 to 240 minutes.")
	}
	if err := s.cases.Authorize(ctx, nil, a.User, auth.UpdateCase, caseID); err != nil {
		return nil, err
	}
	var v Visit
	var st, en int64
	err := s.db.QueryRowContext(ctx, `SELECT v.id, COALESCE(v.facility_id, ''), COALESCE(v.terminal_id, ''), v.modality, v.kind, v.starts, v.ends,
		v.status, COALESCE(f.time_zone, '') FROM visits v LEFT JOIN facilities f ON f.id = v.facility_id WHERE v.id = $1 AND v.case_id = $2`, visitID, caseID).
		Scan(&v.ID, &v.FacilityID, &v.TerminalID, &v.Modality, &v.Kind, &st, &en, &v.Status, &v.Zone)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, problem.New(problem.NotFound, "No such visit.")
	}
	if err != nil {
		return nil, fmt.Errorf("read visit: %w", err)
	}
	v.CaseID = caseID
	zone := v.Zone
	if zone == "" {
		zone = "UTC"
	}
	at := startAt(f, start, zone)
	if !at.IsZero() && !at.After(s.now()) {
		f.Add("start", "The start is in the past.")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	old := db.Time(st)
	v.Starts = at
	v.Ends = v.Starts.Add(time.Duration(minutes) * time.Minute)
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.db.Lock(ctx, tx, "visits.visit."+visitID); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT role, COALESCE(user_id, ''), name, language FROM visit_participants WHERE visit_id = $1`, visitID)
		if err != nil {
			return fmt.Errorf("read participants: %w", err)
		}
		for rows.Next() {
			var p Participant
			if err := rows.Scan(&p.Role, &p.UserID, &p.Name, &p.Language); err != nil {
				rows.Close()
				return fmt.Errorf("read participants: %w", err)
			}
			v.Participants = append(v.Participants, p)
		}
		rows.Close()
		if err := s.book(ctx, tx, caseID, &v, v.Participants, v.FacilityID, v.Zone, visitID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE visits SET starts = $3, ends = $4, status = 'planned', sequence = sequence + 1, updated_at = $5
			WHERE id = $1 AND case_id = $2 AND status IN ('planned', 'confirmed')`, visitID, caseID, db.Instant(v.Starts), db.Instant(v.Ends), db.Instant(s.now()))
		if err != nil {
			return fmt.Errorf("move visit: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.New(problem.Conflict, "Only a planned or confirmed visit can be moved.")
		}
		if err := s.audit.Append(ctx, tx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "visit.reschedule", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("visit=%s %s → %s–%s: %s", visitID, old.Format(time.RFC3339), v.Starts.Format(time.RFC3339), v.Ends.Format(time.RFC3339), reason)}); err != nil {
			return err
		}
		return s.announce(ctx, tx, visitID, notify.VisitChanged)
	})
	if err != nil {
		return nil, err
	}
	v.Status = "planned"
	return &v, nil
}
