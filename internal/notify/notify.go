// Package notify tells people what happened by e-mail: visits scheduled,
// changed and cancelled (with an iCalendar invitation), reminders before a
// visit, reports waiting for approval, escalations and family messages.
//
// Domain services queue a Mail inside the transaction of the change that
// causes it, so a notice exists if and only if the change committed. The
// queue is durable (River, on the same database as everything else): a
// restart loses nothing, and a failed delivery is retried with backoff.
// Each person chooses which kinds of notice they get.
package notify

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/db"
)

// Kind is a kind of notice; people choose by kind which ones they get.
type Kind string

// The kinds of notice.
const (
	VisitScheduled  Kind = "visit.scheduled"
	VisitChanged    Kind = "visit.changed"
	VisitCancelled  Kind = "visit.cancelled"
	VisitReminder   Kind = "visit.reminder"
	ReportSubmitted Kind = "report.submitted" // a report waits for approval
	ReportDecided   Kind = "report.decided"   // approved, or returned to its author
	Escalation      Kind = "report.escalation"
	FamilyMessage   Kind = "family.message" // a new message from or for a family
)

// KindInfo describes a kind for the preferences page.
type KindInfo struct {
	Kind  Kind
	Label string
	// Always kinds cannot be turned off: an escalation must reach the
	// supervisor whatever they chose.
	Always bool
}

// Kinds lists every kind, in the order the preferences page shows them.
var Kinds = []KindInfo{
	{VisitScheduled, "A visit I take part in is scheduled", false},
	{VisitChanged, "A visit I take part in is moved", false},
	{VisitCancelled, "A visit I take part in is cancelled", false},
	{VisitReminder, "Reminders 24 hours and 1 hour before a visit", false},
	{ReportSubmitted, "A visit report waits for my approval", false},
	{ReportDecided, "My visit report is approved or returned", false},
	{Escalation, "Escalations (mistreatment, health emergency, access denied, minor or over 65)", true},
	{FamilyMessage, "New family messages", false},
}

// Known reports whether k is one of Kinds.
func (k Kind) Known() bool {
	return slices.ContainsFunc(Kinds, func(i KindInfo) bool { return i.Kind == k })
}

// Mail is one e-mail to one person.
type Mail struct {
	Kind Kind
	// UserID is the account the mail goes to, whose preferences decide
	// whether it is sent; empty for an address without an account.
	UserID  string
	To      string // the address
	Name    string // the recipient's name, for the To header
	Subject string
	Text    string  // the plain-text body
	Invite  *Invite // an iCalendar invitation or cancellation, or nil
	// Key makes the mail idempotent: a second mail with the same key is
	// not queued (e.g. "escalation:<report>:<flag>:<user>"). Empty: none.
	Key string

	// Date is when the mail was queued: its Date header and its calendar's
	// DTSTAMP, so that a delivery retried later still says when the change
	// was made. The queue sets it; zero means the time of delivery.
	Date time.Time
	// MessageID is the unique left part of the Message-ID header (the mailer
	// adds "@" and its sender's domain). The queue sets it, so every retry
	// of a mail carries the same Message-ID; empty means a new one.
	MessageID string
}

// Invite is a calendar event sent with a mail (RFC 5546 iTIP over RFC
// 5545): a REQUEST creates or updates the event in the recipient's calendar,
// a CANCEL removes it. Calendars match updates by UID and apply the one with
// the highest Sequence.
type Invite struct {
	Method      string // "REQUEST" or "CANCEL"
	UID         string // stable for the visit, e.g. "visit-<id>@<host>"
	Sequence    int    // 0 when scheduled, one more at each change
	Start, End  time.Time
	Summary     string
	Description string
	Location    string
	URL         string
	Organizer   Person
	Attendees   []Person
}

// Person is a name and an e-mail address.
type Person struct {
	Name  string
	Email string
}

// Sender queues mail inside the caller's transaction.
type Sender interface {
	Send(ctx context.Context, tx *sql.Tx, m Mail) error
}

// Recipient is an account that may be told about a case.
type Recipient struct {
	UserID string
	Name   string
	Email  string
	Role   auth.Role
	Lang   string // the account's language for the interface, "" for none chosen: its mails are written in it
}

// Recipients lists the active accounts with an e-mail address, of one of
// roles, that may read a case with this scope, by name. Notices about a case
// go only to people who may see it.
func Recipients(ctx context.Context, q db.Querier, scope *auth.Scope, roles ...auth.Role) ([]Recipient, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, display_name, email, role, post, desk, lang FROM users
		WHERE disabled = FALSE AND email <> '' ORDER BY display_name, id`)
	if err != nil {
		return nil, fmt.Errorf("list recipients: %w", err)
	}
	defer rows.Close()
	var out []Recipient
	var policy auth.Policy
	for rows.Next() {
		u := &auth.User{}
		var role string
		if err := rows.Scan(&u.ID, &u.DisplayName, &u.Email, &role, &u.Post, &u.Desk, &u.Lang); err != nil {
			return nil, fmt.Errorf("list recipients: %w", err)
		}
		u.Role = auth.Role(role)
		if slices.Contains(roles, u.Role) && policy.Can(u, auth.ReadCase, scope) {
			out = append(out, Recipient{UserID: u.ID, Name: u.DisplayName, Email: u.Email, Role: u.Role, Lang: u.Lang})
		}
	}
	return out, rows.Err()
}
