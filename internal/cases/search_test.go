package cases_test

import (
	"context"
	"testing"

	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
)

// TestSearchFindsPeopleByAnyName is the table of point 2 of the cases issue:
// each query finds the expected person first, and some must find nobody.
func TestSearchFindsPeopleByAnyName(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		people := map[string]cases.PersonInput{
			"kovrig": kovrigInput(),
			"spavor": {Names: []cases.Name{
				{Value: "Michael Spavor", Script: "Latn", Kind: "legal"},
				{Value: "斯帕弗", Script: "Hans", Kind: "romanization", Source: "Chinese media"},
				{Value: "斯派佛", Script: "Hans", Kind: "romanization", Source: "Chinese media"},
			}},
			"kovac":  {Names: []cases.Name{{Value: "Michaela Kovács", Script: "Latn", Kind: "legal"}}},
			"petrov": {Names: []cases.Name{{Value: "Иван Петров", Script: "Cyrl", Kind: "legal"}, {Value: "Ivan Petrov", Script: "Latn", Kind: "romanization"}}},
		}
		ids := map[string]string{}
		for key, p := range people {
			c := openCase(t, fx, "chinadesk", p, beijingCase())
			ids[c.Person.ID] = key
		}
		for _, tc := range []struct {
			q, want string // want "" means no match at all
		}{
			{"Michael Kovrig", "kovrig"},
			{"michael kovrig", "kovrig"},
			{"KOVRIG", "kovrig"},
			{"Kovrig Michael", "kovrig"},
			{"Kovrig,  Michael", "kovrig"},
			{"MichaelKovrig", "kovrig"},
			{"康明凯", "kovrig"},
			{"康明凱", "kovrig"},
			{"Kang Mingkai", "kovrig"},
			{"kāng míngkǎi", "kovrig"},
			{"kangmingkai", "kovrig"},
			{"Mingkai Kang", "kovrig"},
			{"Korvig", "kovrig"},
			{"Michael Korvig", "kovrig"},
			{"Kovr", "kovrig"},
			{"Spavor", "spavor"},
			{"斯帕弗", "spavor"},
			{"Si Pafu", "spavor"},
			{"Michael Spavr", "spavor"},
			{"Kovacs", "kovac"},
			{"Michaela Kovács", "kovac"},
			{"Петров", "petrov"},
			{"Petrov Ivan", "petrov"},
			{"Meng Wanzhou", ""},
			{"Dominic Barton", ""},
			{"鲍达民", ""},
			{"Zhang", ""},
			{"", ""},
		} {
			ms, err := fx.svc.SearchPeople(ctx, fx.as("chinadesk"), tc.q, 10)
			if err != nil {
				t.Fatalf("%q: %v", tc.q, err)
			}
			if tc.want == "" {
				if len(ms) != 0 {
					t.Errorf("%q matched %s (%.2f), want nobody", tc.q, ms[0].DisplayName, ms[0].Score)
				}
				continue
			}
			if len(ms) == 0 {
				t.Errorf("%q matched nobody, want %s", tc.q, tc.want)
				continue
			}
			if got := ids[ms[0].PersonID]; got != tc.want {
				t.Errorf("%q matched %s first (%.2f), want %s", tc.q, got, ms[0].Score, tc.want)
			}
			if len(ms[0].Cases) != 1 {
				t.Errorf("%q: match without its case", tc.q)
			}
		}
	})
}

func TestLikelyDuplicates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fx := newFixture(t, d)
		c := openCase(t, fx, "chinadesk", kovrigInput(), beijingCase())
		ms, err := fx.svc.LikelyDuplicates(ctx, fx.as("chinadesk"), []string{"Kovrig, Michael", "康明凱"})
		if err != nil || len(ms) != 1 || ms[0].PersonID != c.Person.ID {
			t.Fatalf("duplicates: %+v %v", ms, err)
		}
		ms, _ = fx.svc.LikelyDuplicates(ctx, fx.as("shanghai"), []string{"Michael Kovrig"})
		if len(ms) != 0 {
			t.Fatal("the duplicate check shows a person the officer may not see")
		}
	})
}
