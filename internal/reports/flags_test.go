package reports

import (
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/edate"
)

func TestPersonFlags(t *testing.T) {
	visit := time.Date(2020, 11, 19, 2, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		birth, vulns string
		highProfile  bool
		want         []string
	}{
		{"", "", false, nil},
		{"1972-02-02", "", false, nil},
		{"2004-03-10", "", false, []string{FlagMinor}},
		{"2002-11-19", "", false, nil},                  // 18 on the day of the visit
		{"2002-11-20", "", false, []string{FlagMinor}},  // 18 the day after
		{"2002", "", false, []string{FlagMinor}},        // may be born in December 2002: possibly a minor
		{"2001", "", false, nil},                        // 18 or 19
		{"1955-11-19", "", false, []string{FlagOver65}}, // 65 on the day of the visit
		{"1955-11-20", "", false, nil},
		{"1955", "", false, []string{FlagOver65}}, // may be born in January 1955
		{"1956", "", false, nil},
		{"", "minor serious_illness", false, []string{FlagMinor}},
		{"1980", "over_65", true, []string{FlagOver65, FlagHighProfile}},
		{"", "", true, []string{FlagHighProfile}},
	} {
		d, err := edate.Parse(tc.birth, "")
		if err != nil {
			t.Fatal(err)
		}
		got := personFlags(nullInstant(d.Earliest()), nullInstant(d.Latest()), tc.vulns, tc.highProfile, visit)
		if !slices.Equal(got, tc.want) {
			t.Errorf("born %q, vulnerabilities %q, high profile %v: %v, want %v", tc.birth, tc.vulns, tc.highProfile, got, tc.want)
		}
	}
}

func nullInstant(t time.Time) sql.NullInt64 { return db.NullInstant(t) }

func TestBodyFlags(t *testing.T) {
	b := Body{}
	if got := b.flags(); len(got) != 0 {
		t.Errorf("empty body raises %v", got)
	}
	b.Allegation.Alleged, b.HealthEmergency, b.AccessDenied = true, true, true
	if got := b.flags(); !slices.Equal(got, []string{FlagMistreatment, FlagHealthEmergency, FlagAccessDenied}) {
		t.Errorf("flags %v", got)
	}
	for _, f := range append(b.flags(), FlagMinor, FlagOver65, FlagHighProfile) {
		if !Vocab.Flags.Has(f) {
			t.Errorf("flag %s has no label", f)
		}
	}
}
