package cases

import (
	"sort"
	"strings"
	"sync"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/attache-org/attache/internal/i18n"
)

// Term is one entry of a controlled vocabulary: the stored code and the
// English label (translated through the message catalog when shown).
type Term struct {
	Code  string
	Label string
}

// Vocab is a controlled vocabulary, in the order forms list it.
type Vocab []Term

// Has reports whether code is in the vocabulary.
func (v Vocab) Has(code string) bool {
	for _, t := range v {
		if t.Code == code {
			return true
		}
	}
	return false
}

// Label returns the label of code, or the code itself.
func (v Vocab) Label(code string) string {
	for _, t := range v {
		if t.Code == code {
			return t.Label
		}
	}
	return code
}

// Codes lists the codes, for messages.
func (v Vocab) Codes() string {
	codes := make([]string, len(v))
	for i, t := range v {
		codes[i] = t.Code
	}
	return strings.Join(codes, ", ")
}

// The vocabularies of the case file.
var (
	Scripts = Vocab{
		{"Latn", "Latin"}, {"Hans", "Han (simplified)"}, {"Hant", "Han (traditional)"}, {"Cyrl", "Cyrillic"},
		{"Arab", "Arabic"}, {"Hang", "Hangul"}, {"Jpan", "Japanese"}, {"Grek", "Greek"}, {"Hebr", "Hebrew"},
		{"Deva", "Devanagari"}, {"Thai", "Thai"}, {"Zyyy", "Other"},
	}
	NameKinds = Vocab{
		{"legal", "Legal name"}, {"passport", "As in passport"}, {"local_chosen", "Chosen local name"},
		{"romanization", "Romanization"}, {"alias", "Alias"}, {"misspelling", "Misspelling seen in the press"},
	}
	Sexes           = Vocab{{"female", "Female"}, {"male", "Male"}, {"other", "Other"}, {"unknown", "Unknown"}}
	Vulnerabilities = Vocab{
		{"minor", "Minor"}, {"over_65", "Over 65"}, {"serious_illness", "Serious illness"},
		{"mental_health", "Mental health condition"}, {"disability", "Disability"}, {"pregnancy", "Pregnancy"},
	}
	Recognition    = Vocab{{"yes", "Recognised"}, {"no", "Not recognised"}, {"unknown", "Unknown"}}
	DetentionTypes = Vocab{
		{"criminal_detention", "Criminal detention"},
		{"rsdl", "Residential surveillance at a designated location"},
		{"house_arrest", "House arrest or bail"},
		{"immigration", "Immigration detention"},
		{"administrative", "Administrative detention"},
		{"other", "Other"},
	}
	// LegalStatuses follows the US 7 FAM 400 Appendix B list, with the
	// outcomes consular files need.
	LegalStatuses = Vocab{
		{"arrested_not_charged", "Arrested, not charged"},
		{"pretrial", "Pretrial detention"},
		{"bail", "On bail"},
		{"hearing_in_progress", "Hearing in progress"},
		{"awaiting_sentence", "Convicted, awaiting sentence"},
		{"serving_sentence", "Serving sentence"},
		{"appeal_pending", "Appeal pending"},
		{"pending_deportation", "Pending deportation"},
		{"released", "Released"},
		{"charges_dropped", "Charges dropped"},
		{"acquitted", "Acquitted"},
		{"deported", "Deported"},
		{"transferred", "Transferred to serve sentence at home"},
		{"deceased", "Deceased"},
		{"unknown", "Unknown"},
	}
	CaseStatuses = Vocab{
		{"open", "Open"}, {"monitoring", "Monitoring"}, {"released", "Released"}, {"transferred", "Transferred"}, {"closed", "Closed"},
	}
	Priorities      = Vocab{{"urgent", "Urgent"}, {"high", "High"}, {"normal", "Normal"}, {"low", "Low"}}
	Classifications = Vocab{
		{"protected_a", "Protected A"}, {"protected_b", "Protected B"}, {"protected_c", "Protected C"},
		{"confidential", "Confidential"}, {"secret", "Secret"},
	}
	EventKinds = Vocab{
		{"arrest", "Arrest"}, {"notification", "Notification"}, {"charge", "Charge"}, {"transfer", "Transfer"},
		{"hearing", "Hearing"}, {"trial", "Trial"}, {"verdict", "Verdict"}, {"sentence", "Sentence"},
		{"statement_sending", "Statement by our government"}, {"statement_detaining", "Statement by the detaining state"},
		{"press", "Press report"}, {"access_request", "Access request"}, {"visit", "Consular visit"},
		{"family_contact", "Family contact"}, {"release", "Release"}, {"other", "Other"},
	}
	SourceKinds = Vocab{
		{"diplomatic_note", "Diplomatic note"}, {"government_statement", "Government statement"},
		{"press", "Press"}, {"officer", "Officer"}, {"court", "Court"}, {"family", "Family"},
		{"lawyer", "Lawyer"}, {"other", "Other"},
	}
)

// CountryName returns the English name of an ISO 3166-1 alpha-2 code, and
// whether the code is a current country (withdrawn, reserved and
// user-assigned codes are not).
func CountryName(code string) (string, bool) {
	if !i18n.IsCountry(code) {
		return "", false
	}
	return display.English.Regions().Name(language.MustParseRegion(code)), true
}

// ValidLanguage reports whether code is a BCP 47 language tag such as
// "en", "zh" or "zh-Hans".
func ValidLanguage(code string) bool {
	if code == "" || len(code) > 20 {
		return false
	}
	_, err := language.Parse(code)
	return err == nil
}

// Countries lists every current ISO 3166-1 country by English name.
var Countries = sync.OnceValue(func() Vocab {
	var v Vocab
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			if name, ok := CountryName(code); ok {
				v = append(v, Term{code, name})
			}
		}
	}
	sort.Slice(v, func(i, j int) bool { return v[i].Label < v[j].Label })
	return v
})
