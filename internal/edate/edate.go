// Package edate is for dates known to a precision: a year, a month, a day,
// or a minute in a named time zone, possibly approximate. Consular records
// are full of them ("arrested in December 2018", "detained around 10 p.m. on
// 10 December, Beijing time"), and pretending to more precision than the
// source gives is an error. Each Date has earliest and latest instants for
// sorting and deadline arithmetic.
package edate

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/attache-org/attache/internal/problem"
)

// Precision is how much of a date is known.
type Precision int

// The precisions, coarsest first.
const (
	Unknown Precision = iota
	Year
	Month
	Day
	Minute
)

func (p Precision) String() string {
	return [...]string{"unknown", "year", "month", "day", "minute"}[p]
}

// Date is a date to a precision. The zero Date is unknown.
type Date struct {
	Precision Precision
	Year      int
	Month     time.Month
	Day       int
	Hour      int
	Minute    int
	// Zone is the IANA zone the date is local to ("Asia/Shanghai"): the
	// place where it happened. Empty means UTC.
	Zone string
	// Approx marks a date the source gives as approximate ("around").
	Approx bool
}

// IsZero reports whether the date is unknown.
func (d Date) IsZero() bool { return d.Precision == Unknown }

// Parse reads a date written as YYYY, YYYY-MM, YYYY-MM-DD or
// YYYY-MM-DDTHH:MM (a space may stand for the T), with a leading "~" for an
// approximate date, local to zone (an IANA name, empty for UTC). The empty
// string is the unknown date. Errors say what is wrong in words a user
// understands.
func Parse(s, zone string) (Date, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Date{}, nil
	}
	var d Date
	if rest, ok := strings.CutPrefix(s, "~"); ok {
		d.Approx, s = true, strings.TrimSpace(rest)
	}
	if zone != "" {
		if _, err := LoadZone(zone); err != nil {
			return Date{}, err
		}
		d.Zone = zone
	}
	datePart, timePart, hasTime := strings.Cut(strings.Replace(s, " ", "T", 1), "T")
	parts := strings.Split(datePart, "-")
	if len(parts) > 3 || (hasTime && len(parts) != 3) {
		return Date{}, problem.New(problem.Invalid, "%q is not a date: write YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DD HH:MM", s)
	}
	num := func(p string, digits int, what string) (int, error) {
		if len(p) != digits {
			return 0, problem.New(problem.Invalid, partMessages[what][0], s, digits)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return 0, problem.New(problem.Invalid, partMessages[what][1], s)
		}
		return n, nil
	}
	var err error
	if d.Year, err = num(parts[0], 4, "year"); err != nil {
		return Date{}, err
	}
	if d.Year < 1800 || d.Year > 2200 {
		return Date{}, problem.New(problem.Invalid, "%q: the year must be between 1800 and 2200", s)
	}
	d.Precision = Year
	if len(parts) > 1 {
		m, err := num(parts[1], 2, "month")
		if err != nil {
			return Date{}, err
		}
		if m < 1 || m > 12 {
			return Date{}, problem.New(problem.Invalid, "%q: there is no month %d", s, m)
		}
		d.Month, d.Precision = time.Month(m), Month
	}
	if len(parts) > 2 {
		if d.Day, err = num(parts[2], 2, "day"); err != nil {
			return Date{}, err
		}
		if n := daysIn(d.Year, d.Month); d.Day < 1 || d.Day > n {
			return Date{}, problem.New(problem.Invalid, "%q: there is no day %d in that month (it has %d days)", s, d.Day, n)
		}
		d.Precision = Day
	}
	if hasTime {
		hh, mm, ok := strings.Cut(timePart, ":")
		if !ok {
			return Date{}, problem.New(problem.Invalid, "%q: write the time as HH:MM", s)
		}
		if d.Hour, err = num(hh, 2, "hour"); err != nil {
			return Date{}, err
		}
		if d.Minute, err = num(mm, 2, "minute"); err != nil {
			return Date{}, err
		}
		if d.Hour > 23 || d.Minute > 59 {
			return Date{}, problem.New(problem.Invalid, "%q: %s is not a time of day", s, timePart)
		}
		d.Precision = Minute
	}
	return d, nil
}

// MustParse is Parse for literals known to be right (demo data, tests).
func MustParse(s, zone string) Date {
	d, err := Parse(s, zone)
	if err != nil {
		panic(err)
	}
	return d
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// ErrUnknownZone is returned for a time zone that does not exist.
var ErrUnknownZone = errors.New("unknown time zone")

// partMessages are the refusals of a part of a date: not its number of
// digits, not a number.
var partMessages = map[string][2]string{
	"year":   {"%q: the year must have %d digits", "%q: the year must be a number"},
	"month":  {"%q: the month must have %d digits", "%q: the month must be a number"},
	"day":    {"%q: the day must have %d digits", "%q: the day must be a number"},
	"hour":   {"%q: the hour must have %d digits", "%q: the hour must be a number"},
	"minute": {"%q: the minutes must have %d digits", "%q: the minutes must be a number"},
}

// LoadZone loads an IANA zone, refusing abbreviations and offsets that
// time.LoadLocation would take ("Local", "").
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" || !strings.Contains(name, "/") && name != "UTC" {
		return nil, problem.New(problem.Invalid, "Unknown time zone %q: use an IANA name such as Asia/Shanghai or America/Toronto", name).Wrapping(ErrUnknownZone)
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, problem.New(problem.Invalid, "Unknown time zone %q: use an IANA name such as Asia/Shanghai or America/Toronto", name).Wrapping(ErrUnknownZone)
	}
	zones.Store(name, loc)
	return loc, nil
}

// zones caches loaded time zones: time.LoadLocation reads the zone database
// at every call, and dashboards compute thousands of bounds. The cache only
// ever holds immutable *time.Location values.
var zones sync.Map

func (d Date) location() *time.Location {
	if d.Zone == "" {
		return time.UTC
	}
	if loc, ok := zones.Load(d.Zone); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(d.Zone)
	if err != nil {
		return time.UTC // Parse checked the zone; a zone removed from tzdata later falls back
	}
	zones.Store(d.Zone, loc)
	return loc
}

// Earliest is the first instant the date can mean; the zero time when unknown.
func (d Date) Earliest() time.Time {
	loc := d.location()
	switch d.Precision {
	case Year:
		return time.Date(d.Year, 1, 1, 0, 0, 0, 0, loc).UTC()
	case Month:
		return time.Date(d.Year, d.Month, 1, 0, 0, 0, 0, loc).UTC()
	case Day:
		return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc).UTC()
	case Minute:
		return time.Date(d.Year, d.Month, d.Day, d.Hour, d.Minute, 0, 0, loc).UTC()
	}
	return time.Time{}
}

// Latest is the last instant the date can mean (exclusive end minus a
// microsecond); the zero time when unknown.
func (d Date) Latest() time.Time {
	loc := d.location()
	var end time.Time
	switch d.Precision {
	case Year:
		end = time.Date(d.Year+1, 1, 1, 0, 0, 0, 0, loc)
	case Month:
		end = time.Date(d.Year, d.Month+1, 1, 0, 0, 0, 0, loc)
	case Day:
		end = time.Date(d.Year, d.Month, d.Day+1, 0, 0, 0, 0, loc)
	case Minute:
		end = time.Date(d.Year, d.Month, d.Day, d.Hour, d.Minute+1, 0, 0, loc)
	default:
		return time.Time{}
	}
	return end.Add(-time.Microsecond).UTC()
}

// Value is the date as Parse reads it, without the zone: "~2018-12",
// "2018-12-10 22:00".
func (d Date) Value() string {
	var s string
	switch d.Precision {
	case Year:
		s = fmt.Sprintf("%04d", d.Year)
	case Month:
		s = fmt.Sprintf("%04d-%02d", d.Year, int(d.Month))
	case Day:
		s = fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
	case Minute:
		s = fmt.Sprintf("%04d-%02d-%02d %02d:%02d", d.Year, int(d.Month), d.Day, d.Hour, d.Minute)
	default:
		return ""
	}
	if d.Approx {
		s = "~" + s
	}
	return s
}

// String is the stored form: Value, and the zone in brackets when there is
// one ("2018-12-10 22:00 [Asia/Shanghai]"). Decode reads it back.
func (d Date) String() string {
	if d.Zone == "" || d.IsZero() {
		return d.Value()
	}
	return d.Value() + " [" + d.Zone + "]"
}

// Decode reads the stored form written by String.
func Decode(s string) (Date, error) {
	value, zone := s, ""
	if i := strings.LastIndex(s, " ["); i >= 0 && strings.HasSuffix(s, "]") {
		value, zone = s[:i], s[i+2:len(s)-1]
	}
	return Parse(value, zone)
}

// Human writes the date for people, at its precision: "2018", "December
// 2018", "10 December 2018", "10 December 2018 22:00 (Asia/Shanghai)",
// with "about" in front when approximate.
func (d Date) Human() string {
	var s string
	switch d.Precision {
	case Year:
		s = strconv.Itoa(d.Year)
	case Month:
		s = fmt.Sprintf("%s %d", d.Month, d.Year)
	case Day:
		s = fmt.Sprintf("%d %s %d", d.Day, d.Month, d.Year)
	case Minute:
		s = fmt.Sprintf("%d %s %d %02d:%02d", d.Day, d.Month, d.Year, d.Hour, d.Minute)
		if d.Zone != "" {
			s += " (" + d.Zone + ")"
		}
	default:
		return "unknown"
	}
	if d.Approx {
		s = "about " + s
	}
	return s
}

// Before orders dates for a chronology: by earliest instant, then the more
// precise first.
func Before(a, b Date) bool {
	ea, eb := a.Earliest(), b.Earliest()
	if !ea.Equal(eb) {
		return ea.Before(eb)
	}
	return a.Precision > b.Precision
}

// MarshalJSON writes the date as {"value", "zone", "precision", "approx",
// "earliest", "latest"}, or null when unknown.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(struct {
		Value     string    `json:"value"`
		Zone      string    `json:"zone,omitempty"`
		Precision string    `json:"precision"`
		Approx    bool      `json:"approx"`
		Earliest  time.Time `json:"earliest"`
		Latest    time.Time `json:"latest"`
	}{d.Value(), d.Zone, d.Precision.String(), d.Approx, d.Earliest(), d.Latest()})
}
