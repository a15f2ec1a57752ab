package edate_test

import (
	"testing"

	"github.com/attache-org/attache/internal/edate"
)

// Any text a person types as a date either parses into a date whose bounds
// are in order and whose stored form reads back to the same date, or is
// refused with an error; never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"2018-12-10", "2018-12", "2018", "~2019-03", "2018-12-10 22:00", "10 December 2018", "", "0000-00-00", "9999-12-31 23:59", "2018-02-30", "~"} {
		f.Add(s, "Asia/Shanghai")
		f.Add(s, "")
	}
	f.Add("2020-03-08 02:30", "America/Toronto")
	f.Add("2018-12-10", "Not/A_Zone")
	f.Fuzz(func(t *testing.T, s, zone string) {
		d, err := edate.Parse(s, zone)
		if err != nil || d.IsZero() {
			return
		}
		if d.Earliest().After(d.Latest()) {
			t.Errorf("%q: earliest %s after latest %s", s, d.Earliest(), d.Latest())
		}
		back, err := edate.Decode(d.String())
		if err != nil || back != d {
			t.Errorf("%q: stored as %q, read back as %+v (%v), want %+v", s, d.String(), back, err, d)
		}
	})
}
