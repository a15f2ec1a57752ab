// Package family is the channel between a detainee and their family,
// under the detainee's consent: the contacts of each case, the consent
// records that say what may be shared with whom, invitations that make
// family accounts, messages relayed to and from the detainee, and summaries
// written for the family.
//
// Consent decides every disclosure outside the case team, and Check is the
// one place that decides it: a category of information may go to a contact
// when an active (not withdrawn) consent record names that contact and that
// category. Consent is never edited: a change is a withdrawal plus a new
// record. A record always names at least one category; a detainee who wants
// nothing shared with anyone (no family contact at all) is recorded by
// withdrawing their consents (WithdrawAll): without an active consent,
// nothing is shared and no one can be invited. The one way around consent
// is an Exception: reason-coded, authorised by a supervisor for a few days,
// never for messages and never against a withdrawal (exceptions.go).
//
// Family members sign in with accounts of role family, made only from an
// invitation. They never pass the case file's need-to-know rule: this
// package decides what they see, from their own contact and the consent.
// Any other case, or a message that is not theirs, does not exist for them.
//
// Every read and change is audited: what a family member was shown (the
// categories disclosed), every message state change, and every refusal for
// lack of consent. Messages and summaries never appear in the audit log or
// in e-mails: a notice says only that something new is waiting.
package family

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/edate"
	"github.com/attache-org/attache/internal/i18n"
	"github.com/attache-org/attache/internal/notify"
	"github.com/attache-org/attache/internal/problem"
)

// Category is a kind of information about the detainee that consent covers.
type Category string

// The categories.
const (
	Visits   Category = "visits"   // the date of the next visit
	Location Category = "location" // where the detainee is held
	Health   Category = "health"
	Legal    Category = "legal" // legal status
	Messages Category = "messages"
)

// AllCategories lists the categories in the order forms show them.
var AllCategories = []Category{Visits, Location, Health, Legal, Messages}

// Categories is the vocabulary of categories, for forms.
var Categories = cases.Vocab{
	{Code: string(Visits), Label: "Date of the next visit"},
	{Code: string(Location), Label: "Where the detainee is held"},
	{Code: string(Health), Label: "Health"},
	{Code: string(Legal), Label: "Legal status"},
	{Code: string(Messages), Label: "Messages to and from the detainee"},
}

// Valid reports whether c is one of the categories.
func (c Category) Valid() bool { return slices.Contains(AllCategories, c) }

// Label is the category's label in forms.
func (c Category) Label() string { return Categories.Label(string(c)) }

// phrase is the category in a sentence: "… consented to share <phrase> with …".
func (c Category) phrase() problem.Text {
	switch c {
	case Visits:
		return problem.Textf("the dates of visits")
	case Location:
		return problem.Textf("where they are held")
	case Health:
		return problem.Textf("health information")
	case Legal:
		return problem.Textf("their legal status")
	case Messages:
		return problem.Textf("messages")
	}
	return problem.Textf("%s", string(c))
}

// Relationships of a contact to the detainee.
var Relationships = cases.Vocab{
	{Code: "spouse", Label: "Spouse"}, {Code: "partner", Label: "Partner"}, {Code: "parent", Label: "Parent"},
	{Code: "child", Label: "Child"}, {Code: "sibling", Label: "Sibling"}, {Code: "other_relative", Label: "Other relative"},
	{Code: "friend", Label: "Friend"}, {Code: "lawyer_for_family", Label: "Lawyer acting for the family"}, {Code: "other", Label: "Other"},
}

// ConsentMethods say how the detainee gave or withdrew consent.
var ConsentMethods = cases.Vocab{
	{Code: "written", Label: "Written, signed form"},
	{Code: "verbal_visit", Label: "Verbal, recorded at a visit"},
	{Code: "letter", Label: "The detainee's letter"},
	{Code: "verbal_phone", Label: "Verbal, by telephone"},
	{Code: "through_lawyer", Label: "Through the detainee's lawyer"},
	{Code: "other", Label: "Other (say how)"},
}

// DeliveryMethods say how a message reached the detainee.
var DeliveryMethods = cases.Vocab{
	{Code: "read_at_visit", Label: "Read out at a visit"},
	{Code: "shown_at_visit", Label: "Shown at a visit"},
	{Code: "handed_over", Label: "Handed over in writing"},
	{Code: "via_facility", Label: "Passed on through the facility"},
	{Code: "via_lawyer", Label: "Passed on through the detainee's lawyer"},
}

// atVisit are the delivery methods that need the visit they happened at.
var atVisit = []string{"read_at_visit", "shown_at_visit"}

// Options configure the service.
type Options struct {
	// BaseURL is the address of the application, for links in e-mails
	// ("https://attache.example.org", no trailing slash).
	BaseURL string
	// Catalog writes each mail in its recipient's language; nil writes
	// English.
	Catalog *i18n.Catalog
	// InviteTTL is how long an invitation stays valid; 7 days if zero.
	InviteTTL time.Duration
	// MaxMessage is the longest message or summary, in characters; 2000
	// if zero.
	MaxMessage int
}

// Service keeps the family channel.
type Service struct {
	db     *db.DB
	audit  *audit.Log
	cases  *cases.Service
	users  *auth.Service
	sender notify.Sender
	opts   Options
	policy auth.Policy
	now    func() time.Time
}

// NewService returns the family service. sender queues notices; nil sends
// none.
func NewService(d *db.DB, a *audit.Log, c *cases.Service, users *auth.Service, sender notify.Sender, opts Options) *Service {
	if opts.InviteTTL <= 0 {
		opts.InviteTTL = 7 * 24 * time.Hour
	}
	if opts.MaxMessage <= 0 {
		opts.MaxMessage = 2000
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	return &Service{db: d, audit: a, cases: c, users: users, sender: sender, opts: opts, now: time.Now}
}

// SetClock replaces the clock, for tests.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Paths of the pages that e-mails link to.
const (
	// InvitePath is followed by the invitation's token.
	InvitePath = "/family/invite/"
	// PortalPath is the family member's home page.
	PortalPath = "/family"
)

// CasePath is a case's family page, for staff.
func CasePath(caseID string) string { return "/cases/" + caseID + "/family" }

// errNoCase is what a family member is told about any case that is not
// theirs, whether it exists or not.
var errNoCase = problem.New(problem.NotFound, "No such case.")

func (s *Service) send(ctx context.Context, tx *sql.Tx, m notify.Mail) error {
	if s.sender == nil {
		return nil
	}
	if err := s.sender.Send(ctx, tx, m); err != nil {
		return fmt.Errorf("queue %s mail: %w", m.Kind, err)
	}
	return nil
}

// lockCase serialises the changes of one case's family channel (consent,
// designated contact, messages) on PostgreSQL.
func (s *Service) lockCase(ctx context.Context, tx *sql.Tx, caseID string) error {
	return s.db.Lock(ctx, tx, "family.case."+caseID)
}

// clean trims s.
func clean(s string) string { return strings.TrimSpace(s) }

// checkText validates free text: required or not, at most max characters,
// no control characters but newlines and tabs when multiline.
func checkText(f problem.Fields, field, value string, required bool, max int, multiline bool, missing string) {
	switch {
	case value == "" && required:
		f.Add(field, missing)
	case utf8.RuneCountInString(value) > max:
		f.Add(field, fmt.Sprintf("Use at most %d characters.", max))
	case strings.ContainsFunc(value, func(r rune) bool {
		return unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t' || r == '\r'))
	}):
		f.Add(field, "The text has an invisible control character: type it again.")
	}
}

func nullStr(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// caseZone returns the time zone of the case's facility, UTC without one.
func caseZone(ctx context.Context, q db.Querier, caseID string) (string, error) {
	var zone string
	err := q.QueryRowContext(ctx, `SELECT COALESCE(f.time_zone, '') FROM cases c LEFT JOIN facilities f ON f.id = c.facility_id WHERE c.id = $1`, caseID).Scan(&zone)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read case zone: %w", err)
	}
	if _, err := edate.LoadZone(zone); err != nil {
		return "UTC", nil
	}
	return zone, nil
}

// parseDay reads a past or present day (YYYY-MM-DD) local to zone.
func parseDay(f problem.Fields, field, value, zone string, now time.Time, missing string) edate.Date {
	value = clean(value)
	if value == "" {
		f.Add(field, missing)
		return edate.Date{}
	}
	d, err := edate.Parse(value, zone)
	switch {
	case err != nil:
		f.AddErr(field, err)
	case d.Precision != edate.Day || d.Approx:
		f.Add(field, "Give the day as YYYY-MM-DD.")
	case d.Earliest().After(now):
		f.Add(field, "The day is in the future.")
	}
	return d
}

// checkVisit checks that visitID, when given, is a visit of the case.
func checkVisit(ctx context.Context, q db.Querier, f problem.Fields, field, caseID, visitID string) error {
	if visitID == "" {
		return nil
	}
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM visits WHERE id = $1 AND case_id = $2`, visitID, caseID).Scan(&n); err != nil {
		return fmt.Errorf("read visit: %w", err)
	}
	if n == 0 {
		f.Add(field, "Choose one of this case's visits.")
	}
	return nil
}

func joinCategories(cs []Category) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = string(c)
	}
	return strings.Join(parts, " ")
}

func splitCategories(s string) []Category {
	var out []Category
	for _, p := range strings.Fields(s) {
		out = append(out, Category(p))
	}
	return out
}

// normCategories validates and sorts categories in the order of AllCategories.
func normCategories(f problem.Fields, field string, in []Category) []Category {
	var out []Category
	for _, c := range AllCategories {
		if slices.Contains(in, c) {
			out = append(out, c)
		}
	}
	for _, c := range in {
		if !c.Valid() {
			f.Add(field, "Choose categories from the list ("+Categories.Codes()+").")
		}
	}
	return out
}

func categoryList(cs []Category) string {
	if len(cs) == 0 {
		return "-"
	}
	return strings.ReplaceAll(joinCategories(cs), " ", ",")
}

// Section is everything the case page shows of a case's family channel.
type Section struct {
	Contacts    []Contact    // archived ones included
	Consents    []Consent    // withdrawn ones included, newest first
	Invitations []Invitation // newest first
	Messages    []Message    // oldest first
	Summaries   []Summary    // newest first
	Exceptions  []Exception  // disclosures without consent, newest first
}

// Section reads a case's family channel for its page: one need-to-know
// check and one audit entry for the whole, rather than one per part.
func (s *Service) Section(ctx context.Context, a cases.Actor, caseID string) (*Section, error) {
	if err := s.cases.Authorize(ctx, nil, a.User, auth.ReadCase, caseID); err != nil {
		return nil, err
	}
	var sec Section
	var err error
	if sec.Contacts, err = s.listContacts(ctx, caseID, true); err != nil {
		return nil, err
	}
	if sec.Consents, err = consents(ctx, s.db, caseID, ""); err != nil {
		return nil, err
	}
	if sec.Invitations, err = s.listInvitations(ctx, caseID); err != nil {
		return nil, err
	}
	if sec.Messages, err = readMessages(ctx, s.db, `m.case_id = $1`, []any{caseID}); err != nil {
		return nil, err
	}
	if sec.Summaries, err = s.listSummaries(ctx, caseID); err != nil {
		return nil, err
	}
	if sec.Exceptions, err = s.withEffect(ctx, caseID); err != nil {
		return nil, err
	}
	return &sec, s.audit.Record(ctx, audit.Entry{Actor: a.User.Actor(a.Address), Action: "case.family_view", ObjectType: "case", ObjectID: caseID,
		Detail: fmt.Sprintf("contacts=%d consents=%d invitations=%d messages=%d summaries=%d exceptions=%d", len(sec.Contacts), len(sec.Consents),
			len(sec.Invitations), len(sec.Messages), len(sec.Summaries), len(sec.Exceptions))})
}
