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
	"escalated":               {"acknowledged", "granted", "granted_with_conditions", "denied", "no_response", "escalated", "withdrawn"},
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
	ID                    string `json:"id"`
	SendingState          string `json:"sending_state"`
	DetainingState        string `json:"detaining_state"` // "" for the default profile
	Name                  string `json:"name"`
	MandatoryNotification bool   `json:"mandatory_notification"`
	NotificationHours     int    `json:"notification_hours"` // 0: no deadline
	FirstContactHours     int    `json:"first_contact_hours"`
	FirstVisitDays        int    `json:"first_visit_days"`
	VisitEveryDays        int    `json:"visit_every_days"`
	TrialAttendance       bool   `json:"trial_attendance"`
	DualNationalRule      string `json:"dual_national_rule"`
	Citation              string `json:"citation"`
}

// Notification is how and when the consulate learned of the arrest, the
// detainee's wishes and the first contact.
type Notification struct {
	LearnedVia          string     `json:"learned_via"`
	Assistance          string     `json:"assistance"`
	RefusedWhat         string     `json:"refused_what"`
	FirstContact        edate.Date `json:"first_contact"`
	FirstContactChannel string     `json:"first_contact_channel"`
}

// Refused reports whether the detainee refused consular help: no visit is
// due then.
func (n *Notification) Refused() bool { return n != nil && n.Assistance == "refused" }

// Contact is a consular contact that happened.
type Contact struct {
	ID        string     `json:"id"`
	CaseID    string     `json:"case_id"`
	Happened  edate.Date `json:"happened"`
	Mode      string     `json:"mode"`
	Notes     string     `json:"notes"`
	SourceRef string     `json:"source_ref"`
	CreatedBy string     `json:"created_by"`
}

// Conditions are what the detaining state imposed on a granted access.
type Conditions struct {
	TimeLimitMinutes int    `json:"time_limit_minutes"` // 0: none stated
	OfficialsPresent string `json:"officials_present"`  // yes, no, unknown or ""
	Language         string `json:"language"`
	Topics           string `json:"topics"`
}

// Request is a request for consular access.
type Request struct {
	ID         string       `json:"id"`
	CaseID     string       `json:"case_id"`
	Mode       string       `json:"mode"`
	Channel    string       `json:"channel"`
	NoteNumber string       `json:"note_number"`
	Level      string       `json:"level"`
	Wanted     string       `json:"wanted"`
	Status     string       `json:"status"`
	StatusAt   time.Time    `json:"status_at"`
	SentAt     time.Time    `json:"sent_at"`
	Answer     string       `json:"answer"`
	Reason     string       `json:"reason"`
	Conditions Conditions   `json:"conditions"`
	CreatedBy  string       `json:"created_by"`
	CreatedAt  time.Time    `json:"created_at"`
	History    []Transition `json:"history"`
}

// Transition is one change of a request's status.
type Transition struct {
	At         time.Time `json:"at"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	NoteNumber string    `json:"note_number,omitempty"`
	Note       string    `json:"note"`
	Actor      string    `json:"actor"`
}

// Suspension is a detaining state's or a facility's suspension of some
// modes of access.
type Suspension struct {
	ID             string     `json:"id"`
	DetainingState string     `json:"detaining_state"`
	FacilityID     string     `json:"facility_id"` // "" for the whole state
	FacilityName   string     `json:"facility_name"`
	Modes          []string   `json:"modes"`
	Reason         string     `json:"reason"`
	Starts         edate.Date `json:"starts"`
	Ends           edate.Date `json:"ends"` // zero while in force
	SourceRef      string     `json:"source_ref"`
	Post           string     `json:"post"` // the post that keeps it ("" for HQ)
}

// InForce reports whether the suspension applies at t.
func (s Suspension) InForce(t time.Time) bool {
	if t.Before(s.Starts.Earliest()) {
		return false
	}
	return s.Ends.IsZero() || !t.After(s.Ends.Latest())
}
