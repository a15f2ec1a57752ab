package i18n

import (
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/locales"
	"github.com/go-playground/locales/en_CA"
	"github.com/go-playground/locales/fr_CA"
	"github.com/go-playground/locales/zh_Hans"
	"golang.org/x/text/collate"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// Locale formats dates, times and numbers and names countries and
// languages in one language, from CLDR's data (go-playground/locales for
// the formats, golang.org/x/text for the names): never by hand.
type Locale struct {
	Lang string
	tr   locales.Translator
	tag  language.Tag
}

// locales are the CLDR locales of the catalog's languages: Canadian
// English and French (the sending state's), simplified Chinese.
var cldr = map[string]func() locales.Translator{"en": en_CA.New, "fr": fr_CA.New, "zh": zh_Hans.New}

// Locale returns the locale of lang (English for a language without one).
func (c *Catalog) Locale(lang string) *Locale {
	mk, ok := cldr[lang]
	if !ok {
		lang, mk = Source, cldr[Source]
	}
	return &Locale{Lang: lang, tr: mk(), tag: language.Make(lang)}
}

// Date is a day in the locale's medium form: "Dec 7, 2026", "7 déc. 2026",
// "2026年12月7日".
func (l *Locale) Date(t time.Time) string { return l.tr.FmtDateMedium(t) }

// LongDate is a day in the locale's long form: "December 10, 2020",
// "10 décembre 2020", "2020年12月10日".
func (l *Locale) LongDate(t time.Time) string { return l.tr.FmtDateLong(t) }

// MonthYear is a month of a year: "December 2020", "décembre 2020",
// "2020年12月".
func (l *Locale) MonthYear(year int, month time.Month) string {
	if l.Lang == "zh" {
		return strconv.Itoa(year) + "年" + strconv.Itoa(int(month)) + "月"
	}
	return l.tr.MonthWide(month) + " " + strconv.Itoa(year)
}

// Time is a time of day in the locale's short form: "6:12 p.m.", "18 h 12".
func (l *Locale) Time(t time.Time) string { return l.tr.FmtTimeShort(t) }

// DateTime is t in zone (an IANA name; UTC when empty or unknown), in the
// locale's form, the zone named: "7 déc. 2026, 18 h 12 (Asia/Shanghai)".
func (l *Locale) DateTime(t time.Time, zone string) string {
	loc, err := time.LoadLocation(zone)
	if zone == "" || err != nil {
		loc, zone = time.UTC, "UTC"
	}
	t = t.In(loc)
	sep := ", "
	if l.Lang == "zh" {
		sep = " "
	}
	return l.Date(t) + sep + l.Time(t) + " (" + zone + ")"
}

// Weekday is a day of the week, abbreviated in the locale's form ("lun"),
// without the abbreviation's period: what people type.
func (l *Locale) Weekday(d time.Weekday) string {
	return strings.TrimSuffix(l.tr.WeekdayAbbreviated(d), ".")
}

// ParseWeekday reads a day of the week typed in the locale's language or
// in English, whole or abbreviated ("lun", "lundi", "Mon", "Monday").
func (l *Locale) ParseWeekday(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
	if s == "" {
		return 0, false
	}
	english := en_CA.New()
	for d := time.Sunday; d <= time.Saturday; d++ {
		for _, name := range []string{l.tr.WeekdayAbbreviated(d), l.tr.WeekdayWide(d), english.WeekdayAbbreviated(d), english.WeekdayWide(d)} {
			if strings.ToLower(strings.TrimSuffix(name, ".")) == s {
				return d, true
			}
		}
	}
	return 0, false
}

// Number formats n with v decimals, with the locale's separators.
func (l *Locale) Number(n float64, v uint64) string { return l.tr.FmtNumber(n, v) }

// Country names an ISO 3166-1 alpha-2 code in the locale's language, or
// returns "" for a code that names no current country.
func (l *Locale) Country(code string) string {
	r, ok := currentCountry(code)
	if !ok {
		return ""
	}
	return display.Regions(l.tag).Name(r)
}

// Language names a language (BCP 47) in the locale's language.
func (l *Locale) Language(code string) string {
	t, err := language.Parse(code)
	if err != nil {
		return ""
	}
	return display.Languages(l.tag).Name(t)
}

// SelfName names a language in itself, as language menus do: "Français".
func SelfName(code string) string {
	t, err := language.Parse(code)
	if err != nil {
		return code
	}
	n := display.Self.Name(t)
	if n == "" {
		return code
	}
	first, size := utf8.DecodeRuneInString(n)
	return string(unicode.ToUpper(first)) + n[size:]
}

// IsCountry reports whether code is the alpha-2 code of a current ISO
// 3166-1 country.
func IsCountry(code string) bool { _, ok := currentCountry(code); return ok }

// currentCountry parses an alpha-2 code of a current ISO 3166-1 country.
func currentCountry(code string) (language.Region, bool) {
	r, err := language.ParseRegion(code)
	if err != nil || len(code) != 2 || r.String() != strings.ToUpper(code) || !r.IsCountry() || r.Canonicalize() != r ||
		r.M49() == 0 || userAssigned(strings.ToUpper(code)) {
		return language.Region{}, false
	}
	return r, true
}

// userAssigned reports whether an alpha-2 code is in ISO 3166-1's
// user-assigned ranges (AA, QM–QZ, XA–XZ, ZZ), which name no country.
func userAssigned(code string) bool {
	return code == "AA" || code == "ZZ" || code[0] == 'X' || (code[0] == 'Q' && code[1] >= 'M')
}

// Country is a current ISO 3166-1 country with its name in a language.
type Country struct {
	Code string
	Name string
}

// Countries lists the current ISO 3166-1 countries (no withdrawn,
// exceptionally reserved or user-assigned codes, no macro-regions: 249),
// named and sorted in the locale's language.
func (l *Locale) Countries() []Country {
	var out []Country
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			r, ok := currentCountry(code)
			if !ok {
				continue
			}
			if name := display.Regions(l.tag).Name(r); name != "" {
				out = append(out, Country{Code: code, Name: name})
			}
		}
	}
	coll := collate.New(l.tag)
	sort.SliceStable(out, func(i, j int) bool { return coll.CompareString(out[i].Name, out[j].Name) < 0 })
	return out
}
