package reports

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/edate"
	"github.com/attache-org/attache/internal/problem"
)

// Body is what the officer writes about a visit. It is stored as one JSON
// document, so that fields can be added without a migration; a field that
// an older report lacks reads as its zero value.
type Body struct {
	Present         Present        `json:"present"`
	DurationMinutes int            `json:"duration_minutes"` // as held, not as scheduled
	Location        string         `json:"location"`         // the facility, or e.g. "MSS premises via video link"
	Setting         string         `json:"setting"`          // e.g. "visiting room, glass partition"
	Monitored       string         `json:"monitored"`        // TriState
	Restrictions    Restrictions   `json:"restrictions"`
	Wishes          Wishes         `json:"wishes"`
	Health          Health         `json:"health"`
	Conditions      Conditions     `json:"conditions"`
	Allegation      Allegation     `json:"allegation"`
	Legal           Legal          `json:"legal"`
	Needs           Needs          `json:"needs"`
	AdviceGiven     string         `json:"advice_given"`
	FamilyMessages  FamilyMessages `json:"family_messages"`
	Summary         string         `json:"summary"` // the officer's factual summary
	// FactualOnly is the officer's statement that the report records what
	// was seen and said, without speculation; a report is submitted only
	// with it.
	FactualOnly bool `json:"factual_only"`
	// HealthEmergency and AccessDenied are the officer's escalation flags.
	HealthEmergency bool `json:"health_emergency"`
	AccessDenied    bool `json:"access_denied"`
}

// Present is who was at the visit.
type Present struct {
	OurOfficials  []string `json:"our_officials"`  // of the sending state
	HostOfficials []string `json:"host_officials"` // of the detaining state (guards, monitors)
	Interpreter   string   `json:"interpreter"`
	Others        []string `json:"others"`
}

// Restrictions are the limits the detaining state imposed on the visit.
type Restrictions struct {
	Topics   string `json:"topics"`
	Language string `json:"language"`
	Time     string `json:"time"`
}

// Wishes are what the detainee wants from us, and changes in their consent.
type Wishes struct {
	AcceptsAssistance string   `json:"accepts_assistance"` // TriState
	Opposes           []string `json:"opposes"`            // Opposable: actions the detainee opposes
	OpposesNote       string   `json:"opposes_note"`
	ConsentChanges    string   `json:"consent_changes"`
}

// Health is the detainee's health as seen and as told.
type Health struct {
	Physical     string `json:"physical"`
	Mental       string `json:"mental"`
	Medication   string `json:"medication"`
	MedicalNeeds string `json:"medical_needs"`
}

// Conditions are the detainee's treatment and conditions of detention.
type Conditions struct {
	Guards       string `json:"guards"`
	Inmates      string `json:"inmates"`
	Cell         string `json:"cell"`
	Food         string `json:"food"`
	Light        string `json:"light"`
	Exercise     string `json:"exercise"`
	Solitary     string `json:"solitary"` // TriState
	SolitaryNote string `json:"solitary_note"`
	Other        string `json:"other"`
}

// Allegation is an allegation of mistreatment. It is raised with the
// detaining state's authorities only with the detainee's permission, which
// is recorded with when and how it was given.
type Allegation struct {
	Alleged       bool   `json:"alleged"`
	Narrative     string `json:"narrative"`
	SignsObserved string `json:"signs_observed"`
	Permission    string `json:"permission"`     // Permissions
	PermissionAt  string `json:"permission_at"`  // edate form: when permission was given or refused
	PermissionHow string `json:"permission_how"` // PermissionWays
}

// Legal is the detainee's legal situation as learned at the visit.
type Legal struct {
	Status        string    `json:"status"`      // in words
	StatusCode    string    `json:"status_code"` // cases.LegalStatuses
	LawyerName    string    `json:"lawyer_name"`
	LawyerContact string    `json:"lawyer_contact"`
	LawyerAccess  string    `json:"lawyer_access"` // LawyerAccess
	Hearings      []Hearing `json:"hearings"`
}

// Hearing is a hearing or trial date.
type Hearing struct {
	Date        string `json:"date"` // edate form: 2021-03-22, 2021-03
	Description string `json:"description"`
}

// Needs are what the detainee asked for.
type Needs struct {
	Medicine string `json:"medicine"`
	Money    string `json:"money"`
	Books    string `json:"books"`
	Other    string `json:"other"`
}

// FamilyMessages summarises the messages passed at the visit.
type FamilyMessages struct {
	ToFamily   string `json:"to_family"`
	FromFamily string `json:"from_family"`
}

// Vocabularies are the report's controlled vocabularies, for the forms.
type Vocabularies struct {
	States         cases.Vocab // of a report
	Flags          cases.Vocab // escalation flags
	TriState       cases.Vocab // monitored, accepts assistance, solitary
	Permissions    cases.Vocab // permission to raise mistreatment
	PermissionWays cases.Vocab
	LawyerAccess   cases.Vocab
	Opposable      cases.Vocab // actions a detainee may oppose
	LegalStatuses  cases.Vocab
	Sections       cases.Vocab // of the body, for amendments
}

// The escalation flags.
const (
	FlagMistreatment    = "mistreatment"
	FlagHealthEmergency = "health_emergency"
	FlagAccessDenied    = "access_denied"
	FlagMinor           = "minor"
	FlagOver65          = "over_65"
	FlagHighProfile     = "high_profile"
)

// The states of a report.
const (
	Draft     = "draft"
	Submitted = "submitted"
	Returned  = "returned"
	Approved  = "approved"
)

// Vocab lists the codes and labels the report forms offer.
var Vocab = Vocabularies{
	States: cases.Vocab{
		{Code: Draft, Label: "Draft"}, {Code: Submitted, Label: "Submitted for approval"},
		{Code: Returned, Label: "Returned for changes"}, {Code: Approved, Label: "Approved"},
	},
	Flags: cases.Vocab{
		{Code: FlagMistreatment, Label: "Allegation of mistreatment"}, {Code: FlagHealthEmergency, Label: "Health emergency"},
		{Code: FlagAccessDenied, Label: "Access denied"}, {Code: FlagMinor, Label: "Detainee is a minor"},
		{Code: FlagOver65, Label: "Detainee is over 65"}, {Code: FlagHighProfile, Label: "High-profile case"},
	},
	TriState: cases.Vocab{{Code: "yes", Label: "Yes"}, {Code: "no", Label: "No"}, {Code: "unknown", Label: "Unknown"}},
	Permissions: cases.Vocab{
		{Code: "yes", Label: "Yes: may be raised with the authorities"}, {Code: "no", Label: "No: must not be raised"},
		{Code: "not_asked", Label: "Not asked"},
	},
	PermissionWays: cases.Vocab{
		{Code: "verbal", Label: "Verbally, at the visit"}, {Code: "written", Label: "In writing, signed"},
		{Code: "through_lawyer", Label: "Through the lawyer"}, {Code: "other", Label: "Other"},
	},
	LawyerAccess: cases.Vocab{{Code: "allowed", Label: "Allowed"}, {Code: "denied", Label: "Denied"}, {Code: "unknown", Label: "Unknown"}},
	Opposable: cases.Vocab{
		{Code: "family_notification", Label: "Telling the family"},
		{Code: "raising_mistreatment", Label: "Raising mistreatment with the authorities"},
		{Code: "media", Label: "Contact with the media"}, {Code: "public_statement", Label: "Public statements by our government"},
		{Code: "other", Label: "Other (see note)"},
	},
	LegalStatuses: cases.LegalStatuses,
	Sections: cases.Vocab{
		{Code: "present", Label: "Who was present"}, {Code: "duration", Label: "Duration"},
		{Code: "location", Label: "Location and setting"}, {Code: "monitored", Label: "Monitoring"},
		{Code: "restrictions", Label: "Restrictions"}, {Code: "wishes", Label: "Wishes and consent"},
		{Code: "health", Label: "Health"}, {Code: "conditions", Label: "Treatment and conditions"},
		{Code: "allegation", Label: "Allegation of mistreatment"}, {Code: "legal", Label: "Legal status, lawyer and hearings"},
		{Code: "needs", Label: "Needs"}, {Code: "advice", Label: "Advice given"},
		{Code: "family_messages", Label: "Messages to and from family"}, {Code: "summary", Label: "Summary"},
		{Code: "flags", Label: "Escalation flags"},
	},
}

// Limits on the body, in characters.
const (
	shortText = 300
	longText  = 20000
	maxList   = 30
)

// normalize trims the text and fills the defaults of the vocabularies.
func (b *Body) normalize() {
	trimAll := func(l []string) []string {
		var out []string
		for _, s := range l {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	b.Present.OurOfficials, b.Present.HostOfficials, b.Present.Others = trimAll(b.Present.OurOfficials), trimAll(b.Present.HostOfficials), trimAll(b.Present.Others)
	b.Wishes.Opposes = trimAll(b.Wishes.Opposes)
	for _, p := range b.texts() {
		*p.value = strings.TrimSpace(*p.value)
	}
	var hs []Hearing
	for _, h := range b.Legal.Hearings {
		h.Date, h.Description = strings.TrimSpace(h.Date), strings.TrimSpace(h.Description)
		if h.Date != "" || h.Description != "" {
			hs = append(hs, h)
		}
	}
	b.Legal.Hearings = hs
	def := func(p *string, d string) {
		if *p == "" {
			*p = d
		}
	}
	def(&b.Monitored, "unknown")
	def(&b.Wishes.AcceptsAssistance, "unknown")
	def(&b.Conditions.Solitary, "unknown")
	def(&b.Allegation.Permission, "not_asked")
	def(&b.Legal.LawyerAccess, "unknown")
}

type textField struct {
	field string
	value *string
	max   int
}

// texts lists the body's free-text fields with their form names and limits.
func (b *Body) texts() []textField {
	return []textField{
		{"present.interpreter", &b.Present.Interpreter, shortText},
		{"location", &b.Location, shortText},
		{"setting", &b.Setting, longText},
		{"monitored", &b.Monitored, shortText},
		{"restrictions.topics", &b.Restrictions.Topics, longText},
		{"restrictions.language", &b.Restrictions.Language, longText},
		{"restrictions.time", &b.Restrictions.Time, longText},
		{"wishes.accepts_assistance", &b.Wishes.AcceptsAssistance, shortText},
		{"wishes.opposes_note", &b.Wishes.OpposesNote, longText},
		{"wishes.consent_changes", &b.Wishes.ConsentChanges, longText},
		{"health.physical", &b.Health.Physical, longText},
		{"health.mental", &b.Health.Mental, longText},
		{"health.medication", &b.Health.Medication, longText},
		{"health.medical_needs", &b.Health.MedicalNeeds, longText},
		{"conditions.guards", &b.Conditions.Guards, longText},
		{"conditions.inmates", &b.Conditions.Inmates, longText},
		{"conditions.cell", &b.Conditions.Cell, longText},
		{"conditions.food", &b.Conditions.Food, longText},
		{"conditions.light", &b.Conditions.Light, longText},
		{"conditions.exercise", &b.Conditions.Exercise, longText},
		{"conditions.solitary", &b.Conditions.Solitary, shortText},
		{"conditions.solitary_note", &b.Conditions.SolitaryNote, longText},
		{"conditions.other", &b.Conditions.Other, longText},
		{"allegation.narrative", &b.Allegation.Narrative, longText},
		{"allegation.signs_observed", &b.Allegation.SignsObserved, longText},
		{"allegation.permission", &b.Allegation.Permission, shortText},
		{"allegation.permission_at", &b.Allegation.PermissionAt, shortText},
		{"allegation.permission_how", &b.Allegation.PermissionHow, shortText},
		{"legal.status", &b.Legal.Status, longText},
		{"legal.status_code", &b.Legal.StatusCode, shortText},
		{"legal.lawyer_name", &b.Legal.LawyerName, shortText},
		{"legal.lawyer_contact", &b.Legal.LawyerContact, shortText},
		{"legal.lawyer_access", &b.Legal.LawyerAccess, shortText},
		{"needs.medicine", &b.Needs.Medicine, longText},
		{"needs.money", &b.Needs.Money, longText},
		{"needs.books", &b.Needs.Books, longText},
		{"needs.other", &b.Needs.Other, longText},
		{"advice_given", &b.AdviceGiven, longText},
		{"family_messages.to_family", &b.FamilyMessages.ToFamily, longText},
		{"family_messages.from_family", &b.FamilyMessages.FromFamily, longText},
		{"summary", &b.Summary, longText},
	}
}

// badControl reports whether s holds a control character other than a line
// break or a tab (pasted text sometimes carries invisible ones).
func badControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' })
}

// checkText adds a field error when value is too long, not UTF-8 or holds a
// control character.
func checkText(f problem.Fields, field, value string, max int) {
	switch {
	case !utf8.ValidString(value):
		f.Add(field, "The text is not valid UTF-8: type it again.")
	case utf8.RuneCountInString(value) > max:
		f.Add(field, fmt.Sprintf("Use at most %d characters.", max))
	case badControl(value):
		f.Add(field, "The text has an invisible control character: type it again.")
	}
}

// validate checks a body for saving as a draft: lengths and vocabularies.
// A draft may be incomplete; complete says what a submitted report needs.
func (b *Body) validate() problem.Fields {
	f := problem.Fields{}
	for _, t := range b.texts() {
		checkText(f, t.field, *t.value, t.max)
	}
	lists := []struct {
		field string
		items []string
	}{{"present.our_officials", b.Present.OurOfficials}, {"present.host_officials", b.Present.HostOfficials}, {"present.others", b.Present.Others}}
	for _, l := range lists {
		if len(l.items) > maxList {
			f.Add(l.field, fmt.Sprintf("List at most %d people.", maxList))
		}
		for _, s := range l.items {
			checkText(f, l.field, s, shortText)
		}
	}
	if b.DurationMinutes < 0 || b.DurationMinutes > 24*60 {
		f.Add("duration_minutes", "Give the duration in minutes, from 0 to 1440.")
	}
	vocab := func(field, value string, v cases.Vocab) {
		if !v.Has(value) {
			f.Add(field, "Choose one of: "+v.Codes()+".")
		}
	}
	vocab("monitored", b.Monitored, Vocab.TriState)
	vocab("wishes.accepts_assistance", b.Wishes.AcceptsAssistance, Vocab.TriState)
	vocab("conditions.solitary", b.Conditions.Solitary, Vocab.TriState)
	vocab("allegation.permission", b.Allegation.Permission, Vocab.Permissions)
	vocab("legal.lawyer_access", b.Legal.LawyerAccess, Vocab.LawyerAccess)
	if b.Allegation.PermissionHow != "" {
		vocab("allegation.permission_how", b.Allegation.PermissionHow, Vocab.PermissionWays)
	}
	if b.Legal.StatusCode != "" {
		vocab("legal.status_code", b.Legal.StatusCode, Vocab.LegalStatuses)
	}
	seen := map[string]bool{}
	for _, o := range b.Wishes.Opposes {
		if !Vocab.Opposable.Has(o) || seen[o] {
			f.Add("wishes.opposes", "Choose actions from the list, each once.")
		}
		seen[o] = true
	}
	if b.Allegation.PermissionAt != "" {
		if _, err := edate.Parse(b.Allegation.PermissionAt, ""); err != nil {
			f.AddErr("allegation.permission_at", err)
		}
	}
	if len(b.Legal.Hearings) > maxList {
		f.Addf("legal.hearings", "List at most %d hearings.", maxList)
	}
	for i, h := range b.Legal.Hearings {
		field := fmt.Sprintf("legal.hearings.%d", i)
		if d, err := edate.Parse(h.Date, ""); err != nil {
			f.AddErr(field+".date", err)
		} else if d.IsZero() {
			f.Add(field+".date", "Give the date of the hearing, at least its year.")
		}
		checkText(f, field+".description", h.Description, shortText)
	}
	return f
}

// complete checks what a report needs before it goes to a supervisor.
func (b *Body) complete() problem.Fields {
	f := b.validate()
	if b.DurationMinutes == 0 {
		f.Add("duration_minutes", "Give how long the visit lasted.")
	}
	if b.Summary == "" {
		f.Add("summary", "Write the factual summary of the visit.")
	}
	if !b.FactualOnly {
		f.Add("factual_only", "Confirm that the report records facts only, without speculation.")
	}
	if b.Allegation.Alleged {
		if b.Allegation.Narrative == "" {
			f.Add("allegation.narrative", "Record the allegation in the detainee's words.")
		}
		if b.Allegation.Permission != "not_asked" {
			if b.Allegation.PermissionAt == "" {
				f.Add("allegation.permission_at", "Say when the detainee gave or refused permission.")
			}
			if b.Allegation.PermissionHow == "" {
				f.Add("allegation.permission_how", "Say how the detainee gave or refused permission.")
			}
		}
	}
	return f
}

// flags returns the escalation flags the body itself raises.
func (b *Body) flags() []string {
	var out []string
	if b.Allegation.Alleged {
		out = append(out, FlagMistreatment)
	}
	if b.HealthEmergency {
		out = append(out, FlagHealthEmergency)
	}
	if b.AccessDenied {
		out = append(out, FlagAccessDenied)
	}
	return out
}
