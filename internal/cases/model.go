// Package cases keeps the case file of each national detained abroad: the
// person under every name and script they are known by, the detention, the
// charges, links to other cases, and a sourced chronology. Every read and
// change goes through the authorization policy's need-to-know rule and into
// the audit log.
package cases

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/edate"
	"github.com/attache-org/attache/internal/names"
	"github.com/attache-org/attache/internal/problem"
)

// Name is one way of writing a person's name.
type Name struct {
	ID      string
	Value   string
	Script  string // ISO 15924
	Lang    string // BCP 47, may be empty
	Kind    string // NameKinds
	Source  string // where this form was seen
	Display bool   // the form shown in lists
}

// Nationality is a nationality held, and whether the detaining state
// recognises it (a state may refuse access to a dual national).
type Nationality struct {
	Country    string
	Recognised string // Recognition
	Evidence   string
}

// Passport is a passport number.
type Passport struct {
	Country string
	Number  string
}

// Person is a detained person.
type Person struct {
	ID              string
	DisplayName     string
	Names           []Name
	Sex             string
	Birth           edate.Date
	Nationalities   []Nationality
	Passports       []Passport
	Languages       []string
	Vulnerabilities []string
	Notes           string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// PersonInput is what a form gives for a person. The names are added with
// the person, later with AddName.
type PersonInput struct {
	Names           []Name
	Sex             string
	Birth           string // edate form: 1970, 1970-05, 1970-05-04
	Nationalities   []Nationality
	Passports       []Passport
	Languages       []string
	Vulnerabilities []string
	Notes           string
}

// Facility is a place of detention.
type Facility struct {
	ID       string
	Names    []FacilityName // the first is shown
	Country  string
	City     string
	TimeZone string
	Address  string
	Kind     string
	Post     string // the post that keeps its record
}

// FacilityName is a facility's name in one language.
type FacilityName struct {
	Lang  string
	Value string
}

// Name returns the facility's shown name.
func (f *Facility) Name() string {
	if f == nil || len(f.Names) == 0 {
		return ""
	}
	return f.Names[0].Value
}

// Charge is one charge, in the detaining state's words and ours.
type Charge struct {
	ID           string
	Original     string
	OriginalLang string
	Translation  string
	Charged      edate.Date
}

// Link relates a case to another case or to an outside event.
type Link struct {
	ID         string
	OtherID    string // another case, or empty
	OtherRef   string // its reference, when the viewer may see it
	OtherLabel string // an outside event, or the other case's person when visible
	Relation   string
}

// TeamMember is an officer assigned to a case.
type TeamMember struct {
	UserID string
	Name   string
}

// Case ties a person to a detention.
type Case struct {
	ID                 string
	Reference          string
	Person             *Person
	Status             string
	LegalStatus        string
	DetainingState     string
	DetainingAuthority string
	DetentionType      string
	Facility           *Facility
	Arrested           edate.Date
	Notified           edate.Date
	Lawyer             string
	Position           string // the sending state's position
	Priority           string
	HighProfile        bool
	Classification     string
	Post               string
	Desk               string
	Summary            string
	Team               []TeamMember
	Charges            []Charge
	Links              []Link
	BreakGlass         []string // users reading it by break-glass now
	OpenedAt           time.Time
	ClosedAt           time.Time
	UpdatedAt          time.Time
}

// Scope is the case as the authorization policy sees it.
func (c *Case) Scope() *auth.Scope {
	s := &auth.Scope{Post: c.Post, Desk: c.Desk, BreakGlass: c.BreakGlass}
	for _, m := range c.Team {
		s.Team = append(s.Team, m.UserID)
	}
	return s
}

// CaseInput is what a form gives for a case.
type CaseInput struct {
	Status             string
	LegalStatus        string
	DetainingState     string
	DetainingAuthority string
	DetentionType      string
	FacilityID         string
	Arrested           string // edate form
	ArrestedZone       string // IANA; empty: the facility's zone, else UTC
	Notified           string
	NotifiedZone       string
	Lawyer             string
	Position           string
	Priority           string
	HighProfile        bool
	Classification     string
	Post               string
	Desk               string
	Summary            string
	Team               []string // user ids
}

// TimelineEntry is one dated fact of a case's chronology.
type TimelineEntry struct {
	ID       string
	CaseID   string
	Happened edate.Date
	Kind     string // EventKinds
	Title    string
	// TitleText is the title of an entry the system wrote, to translate
	// for its reader; zero for entries people wrote.
	TitleText problem.Text
	Body      string // statements verbatim
	// BodyText is the body of an entry the system wrote, to translate for
	// its reader; zero for entries people wrote.
	BodyText   problem.Text
	SourceKind string // SourceKinds
	SourceRef  string // note number, URL, officer
	CreatedBy  string
	CreatedAt  time.Time
}

// TimelineInput is what a form gives for a timeline entry.
type TimelineInput struct {
	Happened   string
	Zone       string
	Kind       string
	Title      string
	Body       string
	SourceKind string
	SourceRef  string
}

func clean(s string) string { return strings.TrimSpace(s) }

// checkName validates a name variant and reports a mismatch between the
// declared script and the letters written.
func checkName(f problem.Fields, field string, n *Name, simplified func(string) string) {
	n.Value, n.Source, n.Lang = clean(n.Value), clean(n.Source), clean(n.Lang)
	switch {
	case n.Value == "":
		f.Add(field+"value", "Enter the name.")
		return
	case utf8.RuneCountInString(n.Value) > 200:
		f.Add(field+"value", "Use at most 200 characters.")
		return
	case names.Misleading(n.Value):
		// Control characters, and direction overrides that turn a name around on screen.
		f.Add(field+"value", "The name has an invisible control character: type it again.")
		return
	}
	if !Scripts.Has(n.Script) {
		f.Add(field+"script", "Choose the script the name is written in.")
	} else if msg := scriptMismatch(n.Value, n.Script, simplified); msg != "" {
		f.Add(field+"script", msg)
	}
	if !NameKinds.Has(n.Kind) {
		f.Add(field+"kind", "Choose what kind of name this is.")
	}
	if n.Lang != "" && !ValidLanguage(n.Lang) {
		f.Add(field+"lang", "Use a language code such as en, fr, zh or zh-Hans.")
	}
	if len(n.Source) > 500 {
		f.Add(field+"source", "Use at most 500 characters.")
	}
}

var scriptTables = map[string]*unicode.RangeTable{
	"Latn": unicode.Latin, "Hans": unicode.Han, "Hant": unicode.Han, "Cyrl": unicode.Cyrillic,
	"Arab": unicode.Arabic, "Hang": unicode.Hangul, "Grek": unicode.Greek, "Hebr": unicode.Hebrew,
	"Deva": unicode.Devanagari, "Thai": unicode.Thai,
}

// scriptMismatch says why value cannot be in script, or "". Spaces,
// punctuation and marks are allowed in any script.
func scriptMismatch(value, script string, simplified func(string) string) string {
	table, ok := scriptTables[script]
	if !ok {
		return "" // Japanese mixes scripts; "Other" is anything
	}
	for _, r := range value {
		if unicode.IsLetter(r) && !unicode.Is(table, r) {
			return "The name has letters that are not in the chosen script (" + string(r) + "): choose the script it is written in."
		}
	}
	if script == "Hans" && simplified != nil && simplified(value) != value {
		return "These are traditional characters: choose Han (traditional)."
	}
	return ""
}

// validatePerson checks a person's fields other than names.
func validatePerson(f problem.Fields, in *PersonInput) edate.Date {
	in.Notes = clean(in.Notes)
	if in.Sex == "" {
		in.Sex = "unknown"
	}
	if !Sexes.Has(in.Sex) {
		f.Add("sex", "Choose one of the listed values.")
	}
	birth, err := edate.Parse(in.Birth, "")
	if err != nil {
		f.AddErr("birth", err)
	} else if !birth.IsZero() && birth.Earliest().After(time.Now()) {
		f.Add("birth", "The date of birth is in the future.")
	}
	for i := range in.Nationalities {
		n := &in.Nationalities[i]
		n.Country, n.Evidence = strings.ToUpper(clean(n.Country)), clean(n.Evidence)
		if n.Recognised == "" {
			n.Recognised = "unknown"
		}
		if _, ok := CountryName(n.Country); !ok {
			f.Add("nationalities", "Use two-letter country codes such as CA or CN.")
		}
		if !Recognition.Has(n.Recognised) {
			f.Add("nationalities", "Say whether the detaining state recognises the nationality: yes, no or unknown.")
		}
	}
	for i := range in.Passports {
		p := &in.Passports[i]
		p.Country, p.Number = strings.ToUpper(clean(p.Country)), strings.ToUpper(clean(p.Number))
		if _, ok := CountryName(p.Country); !ok || p.Number == "" || len(p.Number) > 40 {
			f.Add("passports", "Give each passport as COUNTRY NUMBER, e.g. CA AB123456.")
		}
	}
	for _, l := range in.Languages {
		if !ValidLanguage(l) {
			f.Add("languages", "Use language codes such as en, fr, zh, separated by spaces.")
		}
	}
	for _, v := range in.Vulnerabilities {
		if !Vulnerabilities.Has(v) {
			f.Add("vulnerabilities", "Choose from the listed vulnerabilities.")
		}
	}
	return birth
}
