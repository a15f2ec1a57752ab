package edate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/edate"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in, zone string
		want     string // String() of the result
		prec     edate.Precision
		err      string
	}{
		{"2018", "", "2018", edate.Year, ""},
		{"2018-12", "", "2018-12", edate.Month, ""},
		{"2018-12-10", "Asia/Shanghai", "2018-12-10 [Asia/Shanghai]", edate.Day, ""},
		{"2018-12-10T22:00", "Asia/Shanghai", "2018-12-10 22:00 [Asia/Shanghai]", edate.Minute, ""},
		{"~2018-12-10 22:00", "", "~2018-12-10 22:00", edate.Minute, ""},
		{"", "", "", edate.Unknown, ""},
		{"2020-02-29", "", "2020-02-29", edate.Day, ""},
		{"2018-02-30", "", "", 0, "there is no day 30 in that month (it has 28 days)"},
		{"2019-02-29", "", "", 0, "there is no day 29 in that month (it has 28 days)"},
		{"2018-13", "", "", 0, "no month 13"},
		{"18-12-10", "", "", 0, "4 digits"},
		{"2018-12-10 25:00", "", "", 0, "not a time of day"},
		{"2018-12-10 2200", "", "", 0, "HH:MM"},
		{"10/12/2018", "", "", 0, "4 digits"},
		{"20x8", "", "", 0, "must be a number"},
		{"2018-12-10", "Asia/Beijing", "", 0, "Unknown time zone"},
		{"2018-12-10", "CST", "", 0, "Unknown time zone"},
		{"1066", "", "", 0, "between 1800 and 2200"},
		{"2018-12 22:00", "", "", 0, "not a date"},
	}
	for _, tc := range cases {
		d, err := edate.Parse(tc.in, tc.zone)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q, %q) err = %v, want %q", tc.in, tc.zone, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q, %q): %v", tc.in, tc.zone, err)
			continue
		}
		if d.String() != tc.want || d.Precision != tc.prec {
			t.Errorf("Parse(%q) = %q (%s), want %q (%s)", tc.in, d, d.Precision, tc.want, tc.prec)
		}
		back, err := edate.Decode(d.String())
		if err != nil || back != d {
			t.Errorf("Decode(%q) = %+v, %v; want %+v", d.String(), back, err, d)
		}
	}
}

func TestBounds(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		in, zone         string
		earliest, latest string
	}{
		{"2018", "", "2018-01-01T00:00:00Z", "2018-12-31T23:59:59.999999Z"},
		{"2018-12", "", "2018-12-01T00:00:00Z", "2018-12-31T23:59:59.999999Z"},
		{"2020-02", "", "2020-02-01T00:00:00Z", "2020-02-29T23:59:59.999999Z"},
		// A day in Beijing starts at 16:00 UTC the day before.
		{"2018-12-10", "Asia/Shanghai", "2018-12-09T16:00:00Z", "2018-12-10T15:59:59.999999Z"},
		{"2018-12-10 22:00", "Asia/Shanghai", "2018-12-10T14:00:00Z", "2018-12-10T14:00:59.999999Z"},
	}
	for _, tc := range cases {
		d := edate.MustParse(tc.in, tc.zone)
		if !d.Earliest().Equal(utc(tc.earliest)) || !d.Latest().Equal(utc(tc.latest)) {
			t.Errorf("%s [%s]: %s … %s, want %s … %s", tc.in, tc.zone, d.Earliest(), d.Latest(), tc.earliest, tc.latest)
		}
	}
	if !(edate.Date{}).Earliest().IsZero() {
		t.Error("unknown date has bounds")
	}
}

func TestHumanAndOrder(t *testing.T) {
	for in, want := range map[string]string{
		"2018":             "2018",
		"2018-12":          "December 2018",
		"~2018-12-10":      "about 10 December 2018",
		"2018-12-10 22:00": "10 December 2018 22:00",
	} {
		if got := edate.MustParse(in, "").Human(); got != want {
			t.Errorf("Human(%q) = %q, want %q", in, got, want)
		}
	}
	month, day := edate.MustParse("2018-12", ""), edate.MustParse("2018-12-01", "")
	if !edate.Before(day, month) || edate.Before(month, day) {
		t.Error("on the same first instant the more precise date comes first")
	}
	if !edate.Before(edate.MustParse("2018-11-30", ""), month) {
		t.Error("order by earliest instant")
	}
}
