// Package access tracks consular access to each detained national: the
// agreement between the two states, how the consulate learned of the
// arrest, every consular contact, the requests for access and the detaining
// state's answers, suspensions of visits, and the access clock that every
// consular manager watches.
package access

import (
	"time"

	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/edate"
)

// Modes of consular access.
var Modes = cases.Vocab{
	{Code: "in_person", Label: "In person"},
	{Code: "onsite_video", Label: "Video from the facility (on-site)"},
	{Code: "remote_video", Label: "Remote video"},
	{Code: "phone", Label: "Telephone"},
	{Code: "written", Label: "Written"},
}

// visitModes are the modes that count as a visit for the visit schedule.
var visitModes = map[string]bool{"in_person": true, "onsite_video": true, "remote_video": true}

// IsVisit reports whether a mode counts as a visit.
func IsVisit(mode string) bool { return visitModes[mode] }

// Vocabularies of notification and requests.
var (
	LearnedVia = cases.Vocab{
		{Code: "host_notification", Label: "Notification by the detaining state"}, {Code: "family", Label: "Family"},
		{Code: "press", Label: "Press"}, {Code: "detainee", Label: "The detainee"}, {Code: "lawyer", Label: "Lawyer"}, {Code: "other", Label: "Other"},
	}
	Assistance = cases.Vocab{
		{Code: "requested", Label: "Asked for consular help"}, {Code: "accepted", Label: "Accepted consular help"},
		{Code: "partly_refused", Label: "Refused part of it"}, {Code: "refused", Label: "Refused consular help"},
		{Code: "unknown", Label: "Not known yet"},
	}
	Channels = cases.Vocab{
		{Code: "diplomatic_note", Label: "Diplomatic note"}, {Code: "demarche", Label: "Démarche"},
		{Code: "call", Label: "Call"}, {Code: "meeting", Label: "Meeting"}, {Code: "letter", Label: "Letter"},
	}
	Levels = cases.Vocab{{Code: "post", Label: "Post"}, {Code: "hq", Label: "Headquarters"}, {Code: "minister", Label: "Minister"}}
	// Statuses of an access request.
	Statuses = cases.Vocab{
		{Code: "draft", Label: "Draft"}, {Code: "sent", Label: "Sent"}, {Code: "acknowledged", Label: "Acknowledged"},
		{Code: "granted", Label: "Granted"}, {Code: "granted_with_conditions", Label: "Granted with conditions"},
		{Code: "denied", Label: "Denied"}, {Code: "no_response", Label: "No response"}, {Code: "escalated", Label: "Escalated"},
		{Code: "withdrawn", Label: "Withdrawn"},
	}
)

// transitions lists the statuses a request may move to from each status.
var transitions = map[string][]string{
	"draft":                   {"sent", "withdrawn"},
	"sent":                    {"acknowledged", "granted", "granted_with_conditions", "denied", "no_response", "escalated", "withdrawn"},
	"acknowledged":            {"granted", "granted_with_conditions", "denied", "no_response", "escalated", "withdrawn"},
	"no_response":             {"acknowledged", "granted", "granted_with_conditions", "denied", "escalated", "withdrawn"},
	"escalated":               {"acknowledged", "granted", "granted_with_conditions", "denied", "no_response", "withdrawn"},
	"denied":                  {"escalated"},
	"granted":                 {},
	"granted_with_conditions": {},
	"withdrawn":               {},
}

// Next lists the statuses a request in status may move to.
func Next(status string) []string { return transitions[status] }

// waiting are the statuses of a request that awaits the detaining state.
var waiting = map[string]bool{"sent": true, "acknowledged": true, "no_response": true, "escalated": true}

// Profile is the access agreement between the sending and a detaining state.
type Profile struct {
	ID                    string
	SendingState          string
	DetainingState        string // "" for the default profile
	Name                  string
	MandatoryNotification bool
	NotificationHours     int // 0: no deadline
	FirstContactHours     int
	FirstVisitDays        int
	VisitEveryDays        int
	TrialAttendance       bool
	DualNationalRule      string
	Citation              string
}

// Notification is how and when the consulate learned of the arrest, the
// detainee's wishes and the first contact.
type Notification struct {
	LearnedVia          string
	Assistance          string
	RefusedWhat         string
	FirstContact        edate.Date
	FirstContactChannel string
}

// Refused reports whether the detainee refused consular help: no visit is
// due then.
func (n *Notification) Refused() bool { return n != nil && n.Assistance == "refused" }

// Contact is a consular contact that happened.
type Contact struct {
	ID        string
	CaseID    string
	Happened  edate.Date
	Mode      string
	Notes     string
	SourceRef string
	CreatedBy string
}

// Conditions are what the detaining state imposed on a granted access.
type Conditions struct {
	TimeLimitMinutes int    // 0: none stated
	OfficialsPresent string // yes, no, unknown or ""
	Language         string
	Topics           string
}

// Request is a request for consular access.
type Request struct {
	ID         string
	CaseID     string
	Mode       string
	Channel    string
	NoteNumber string
	Level      string
	Wanted     string
	Status     string
	StatusAt   time.Time
	SentAt     time.Time
	Answer     string
	Reason     string
	Conditions Conditions
	CreatedBy  string
	CreatedAt  time.Time
	History    []Transition
}

// Transition is one change of a request's status.
type Transition struct {
	At       time.Time
	From, To string
	Note     string
	Actor    string
}

// Suspension is a detaining state's or a facility's suspension of some
// modes of access.
type Suspension struct {
	ID             string
	DetainingState string
	FacilityID     string // "" for the whole state
	FacilityName   string
	Modes          []string
	Reason         string
	Starts         edate.Date
	Ends           edate.Date // zero while in force
	SourceRef      string
}

// InForce reports whether the suspension applies at t.
func (s Suspension) InForce(t time.Time) bool {
	if t.Before(s.Starts.Earliest()) {
		return false
	}
	return s.Ends.IsZero() || !t.After(s.Ends.Latest())
}
