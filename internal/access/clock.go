package access

import (
	"slices"
	"sort"
	"time"

	"github.com/attache-org/attache/internal/edate"
)

// Range is a span of instants: a deadline computed from a date known only
// to a precision is itself a span, not a false exact figure.
type Range struct {
	Earliest, Latest time.Time
}

// IsZero reports whether the range is unset.
func (r Range) IsZero() bool { return r.Earliest.IsZero() }

func shift(d edate.Date, by time.Duration) Range {
	return Range{d.Earliest().Add(by), d.Latest().Add(by)}
}

// shiftDays moves a date by calendar days in its own zone, so that a
// daylight-saving change does not move a due date by an hour.
func shiftDays(d edate.Date, days int) Range {
	loc, err := edate.LoadZone(d.Zone)
	if err != nil {
		loc = time.UTC
	}
	return Range{d.Earliest().In(loc).AddDate(0, 0, days).UTC(), d.Latest().In(loc).AddDate(0, 0, days).UTC()}
}

// Check is the state of one deadline.
type Check struct {
	Deadline Range
	// State is met, late, possibly_late, overdue (nothing yet and the
	// deadline passed), possibly_overdue, pending (nothing yet, still time),
	// unknown (a date it depends on is unknown) or none (no deadline).
	State string
}

// Breach reports whether the deadline was certainly missed.
func (c Check) Breach() bool { return c.State == "late" || c.State == "overdue" }

// check compares when something happened (zero: not yet) with a deadline.
func check(deadline Range, happened edate.Date, now time.Time) Check {
	var span Range
	if !happened.IsZero() {
		span = Range{happened.Earliest(), happened.Latest()}
	}
	return checkSpan(deadline, span, now)
}

// checkSpan is check for a span of possible instants (the first of several
// contacts known to different precisions).
func checkSpan(deadline Range, happened Range, now time.Time) Check {
	c := Check{Deadline: deadline}
	switch {
	case deadline.IsZero():
		c.State = "unknown"
	case happened.IsZero() && now.After(deadline.Latest):
		c.State = "overdue"
	case happened.IsZero() && now.After(deadline.Earliest):
		c.State = "possibly_overdue"
	case happened.IsZero():
		c.State = "pending"
	case !happened.Latest.After(deadline.Earliest):
		c.State = "met"
	case happened.Earliest.After(deadline.Latest):
		c.State = "late"
	default:
		c.State = "possibly_late"
	}
	return c
}

// firstSpan widens a span of "the first one" with one more date: the first
// can be as early as the earliest start and no later than the earliest end.
func firstSpan(r Range, d edate.Date) Range {
	if d.IsZero() {
		return r
	}
	if r.IsZero() {
		return Range{d.Earliest(), d.Latest()}
	}
	if e := d.Earliest(); e.Before(r.Earliest) {
		r.Earliest = e
	}
	if l := d.Latest(); l.Before(r.Latest) {
		r.Latest = l
	}
	return r
}

// ClockInput is everything the access clock of one case depends on.
type ClockInput struct {
	Now          time.Time
	Zone         *time.Location // the detaining state's (the facility's) zone; nil for UTC
	Profile      Profile
	CaseOpen     bool // open or monitoring: only then do alarms ring
	Arrested     edate.Date
	Notified     edate.Date
	Notification *Notification
	Contacts     []Contact
	Requests     []Request
	Window       time.Time // count accesses since this instant; zero for none
}

// Clock is the state of consular access to one detainee.
type Clock struct {
	LastContact *Contact // any mode
	LastVisit   *Contact // a visit mode
	// DaysSince… count local calendar days in the detaining state's zone,
	// from the latest day the contact can have been (so "at least").
	// -1 when there was none. …Approx is set when the contact's date is
	// coarser than a day.
	DaysSinceContact int
	DaysSinceVisit   int
	DaysApprox       bool
	// InWindow counts contacts since Window, by mode and in all.
	InWindow       map[string]int
	InWindowTotal  int
	NextVisitDue   Range
	Overdue        bool // certainly past the due date
	PossiblyOver   bool // within the span of an imprecise due date
	DaysOverdue    int
	Refused        bool
	Pending        []PendingRequest
	Denials        int
	Notification   Check // the detaining state's notification against the agreement
	FirstContact   Check
	FirstVisit     Check
	SuspendedModes []string // filled by the caller from suspensions in force
	// Zone is where the days are counted, to show the dates in.
	Zone *time.Location `json:"-"`
}

// PendingRequest is a request that awaits the detaining state's answer.
type PendingRequest struct {
	ID      string `json:"id"`
	Mode    string `json:"mode"`
	Status  string `json:"status"`
	AgeDays int    `json:"age_days"`
}

// localDays counts calendar days between two instants in loc.
func localDays(from, to time.Time, loc *time.Location) int {
	a := from.In(loc)
	b := to.In(loc)
	da := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	db := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	return int(db.Sub(da).Hours() / 24)
}

// ComputeClock works out the access clock. It is a pure function of its
// input, so that every rule can be tested with a table.
func ComputeClock(in ClockInput) Clock {
	loc := in.Zone
	if loc == nil {
		loc = time.UTC
	}
	c := Clock{DaysSinceContact: -1, DaysSinceVisit: -1, Refused: in.Notification.Refused(), Zone: loc}
	if !in.Window.IsZero() {
		c.InWindow = map[string]int{}
	}
	contacts := slices.Clone(in.Contacts)
	slices.SortStableFunc(contacts, func(a, b Contact) int { return a.Happened.Latest().Compare(b.Happened.Latest()) })
	var firstContact, firstVisit Range
	for i := range contacts {
		ct := &contacts[i]
		firstContact = firstSpan(firstContact, ct.Happened)
		c.LastContact = ct
		if IsVisit(ct.Mode) {
			firstVisit = firstSpan(firstVisit, ct.Happened)
			c.LastVisit = ct
		}
		if !in.Window.IsZero() && !ct.Happened.Latest().Before(in.Window) {
			c.InWindow[ct.Mode]++
			c.InWindowTotal++
		}
	}
	if n := in.Notification; n != nil {
		firstContact = firstSpan(firstContact, n.FirstContact)
	}
	if c.LastContact != nil {
		c.DaysSinceContact = max(0, localDays(c.LastContact.Happened.Latest(), in.Now, loc))
		c.DaysApprox = c.LastContact.Happened.Precision < edate.Day
	}
	if c.LastVisit != nil {
		c.DaysSinceVisit = max(0, localDays(c.LastVisit.Happened.Latest(), in.Now, loc))
	}

	p := in.Profile
	c.Notification = Check{State: "none"}
	if p.MandatoryNotification && p.NotificationHours > 0 {
		// Only the detaining state's own notification meets its duty: a
		// consulate that learned from the family or the press was not notified.
		notified := in.Notified
		if n := in.Notification; n != nil && n.LearnedVia != "" && n.LearnedVia != "host_notification" {
			notified = edate.Date{}
		}
		if in.Arrested.IsZero() {
			c.Notification = Check{State: "unknown"}
		} else {
			c.Notification = check(shift(in.Arrested, time.Duration(p.NotificationHours)*time.Hour), notified, in.Now)
		}
	}
	c.FirstContact, c.FirstVisit = Check{State: "none"}, Check{State: "none"}
	if c.Refused {
		c.FirstContact.State, c.FirstVisit.State = "refused", "refused"
	} else {
		if p.FirstContactHours > 0 {
			c.FirstContact = deadlineFrom(in.Notified, time.Duration(p.FirstContactHours)*time.Hour, firstContact, in.Now)
		}
		if p.FirstVisitDays > 0 {
			if in.Notified.IsZero() {
				c.FirstVisit = Check{State: "unknown"}
			} else {
				c.FirstVisit = checkSpan(shiftDays(in.Notified, p.FirstVisitDays), firstVisit, in.Now)
			}
		}
	}

	if p.VisitEveryDays > 0 && !c.Refused {
		switch {
		case c.LastVisit != nil:
			c.NextVisitDue = shiftDays(c.LastVisit.Happened, p.VisitEveryDays)
		case !in.Notified.IsZero():
			// Never visited: the first visit is due within one period of learning of the arrest.
			first := p.VisitEveryDays
			if p.FirstVisitDays > 0 {
				first = p.FirstVisitDays
			}
			c.NextVisitDue = shiftDays(in.Notified, first)
		}
		if in.CaseOpen && !c.NextVisitDue.IsZero() {
			switch {
			case in.Now.After(c.NextVisitDue.Latest):
				c.Overdue = true
				c.DaysOverdue = max(1, localDays(c.NextVisitDue.Latest, in.Now, loc))
			case in.Now.After(c.NextVisitDue.Earliest):
				c.PossiblyOver = true
			}
		}
	}

	for _, r := range in.Requests {
		if waiting[r.Status] {
			since := r.SentAt
			if since.IsZero() {
				since = r.CreatedAt
			}
			c.Pending = append(c.Pending, PendingRequest{ID: r.ID, Mode: r.Mode, Status: r.Status, AgeDays: max(0, localDays(since, in.Now, loc))})
		}
		if r.Status == "denied" || wasDenied(r) {
			c.Denials++
		}
	}
	sort.Slice(c.Pending, func(i, j int) bool { return c.Pending[i].AgeDays > c.Pending[j].AgeDays })
	return c
}

// wasDenied reports whether a request was denied at some point of its
// history (a denial later escalated still counts).
func wasDenied(r Request) bool {
	if r.Status == "denied" {
		return false // counted already
	}
	for _, t := range r.History {
		if t.To == "denied" {
			return true
		}
	}
	return false
}

func deadlineFrom(start edate.Date, by time.Duration, happened Range, now time.Time) Check {
	if start.IsZero() {
		return Check{State: "unknown"}
	}
	return checkSpan(shift(start, by), happened, now)
}

// Urgency orders cases on the dashboard: higher first. Certainly overdue
// visits first (longest overdue first), then possibly overdue, then
// breached deadlines, then long-waiting requests, then time since contact.
func (c Clock) Urgency() int {
	u := 0
	switch {
	case c.Overdue:
		u = 4_000_000 + min(c.DaysOverdue, 99_999)
	case c.PossiblyOver:
		u = 3_000_000
	case c.FirstContact.Breach() || c.FirstVisit.Breach() || c.Notification.Breach():
		u = 2_000_000
	case len(c.Pending) > 0 && c.Pending[0].AgeDays > 14:
		u = 1_000_000
	}
	return u + max(c.DaysSinceContact, 0)
}
