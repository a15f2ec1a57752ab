package names_test

import (
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/attache-org/attache/internal/names"
)

func folder(t testing.TB) *names.Folder {
	f, err := names.NewFolder()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFold(t *testing.T) {
	f := folder(t)
	for in, want := range map[string]string{
		"Michael  KOVRIG":   "michael kovrig",
		"KOVRIG, Michael":   "kovrig michael",
		"kāng míngkǎi":      "kang mingkai",
		"康明凱":               "康明凯",
		"Ærøskøbing-Straße": "aeroskobing strasse",
		"Михаил Коврига":    "mikhail kovriga",
		"O'Brien":           "o brien",
		"kang1 ming2kai3":   "kang ming kai",
	} {
		if got := f.Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKeys(t *testing.T) {
	f := folder(t)
	keys := f.Keys("康明凯")
	for _, want := range []string{"f:康明凯", "t:康明凯", "t:kang", "t:mingkai", "f:kangmingkai", "f:mingkaikang", "s:m|kn"} {
		if !slices.Contains(keys, want) {
			t.Errorf("Keys(康明凯) = %v, missing %q", keys, want)
		}
	}
	if got := f.Keys("康明凱"); !slices.Equal(got, keys) {
		t.Errorf("traditional and simplified keys differ: %v vs %v", got, keys)
	}
	if names.Sound("kovrig") != names.Sound("korvig") || names.Sound("kovrig") == names.Sound("spavor") {
		t.Error("sound keys do not separate as they should")
	}
	if f.Keys("  ,  ") != nil {
		t.Error("keys for a name without letters")
	}
}

func TestScore(t *testing.T) {
	f := folder(t)
	cases := []struct {
		query, name string
		match       bool
	}{
		{"Michael Kovrig", "Michael Kovrig", true},
		{"kovrig michael", "Michael Kovrig", true},
		{"KOVRIG", "Michael Kovrig", true},
		{"Korvig", "Michael Kovrig", true},
		{"Kovr", "Michael Kovrig", true},
		{"康明凱", "康明凯", true},
		{"kangmingkai", "康明凯", true},
		{"Kang Mingkai", "康明凯", true},
		{"kāng míngkǎi", "康明凯", true},
		{"Mingkai Kang", "康明凯", true},
		{"Spavor", "Michael Kovrig", false},
		{"Meng Wanzhou", "康明凯", false},
		{"Michelle Obama", "Michael Kovrig", false},
		{"Bao", "Michael Kovrig", false},
	}
	for _, tc := range cases {
		s := f.Score(f.ParseQuery(tc.query), tc.name)
		if (s >= names.MinScore) != tc.match {
			t.Errorf("Score(%q, %q) = %.2f, want match=%v", tc.query, tc.name, s, tc.match)
		}
	}
	exact := f.Score(f.ParseQuery("Michael Kovrig"), "Michael Kovrig")
	fuzzy := f.Score(f.ParseQuery("Michael Korvig"), "Michael Kovrig")
	if !(exact > fuzzy) {
		t.Errorf("an exact match (%.2f) must outrank a near miss (%.2f)", exact, fuzzy)
	}
}

func TestPrefixEnd(t *testing.T) {
	for in, want := range map[string]string{"t:kov": "t:kow", "t:γιωργο": "t:γιωργπ", "t:a\U0010FFFF": "t:b"} {
		got := names.PrefixEnd(in)
		if got != want || !utf8.ValidString(got) || got <= in {
			t.Errorf("PrefixEnd(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMisleading(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"Michael Kovrig", false},
		{"Michael \u202eKovrig", true},     // right-to-left override
		{"\u2067CN-2018-0001\u2069", true}, // isolate
		{"Bell\a", true},                   // C0 control
		{"C1\u0085control", true},
		{"line\nbreak\tand tab", false},
		{"\u200fמיכאל\u200f", false}, // direction marks are needed
		{"康明凯", false},
	} {
		if got := names.Misleading(tc.in); got != tc.want {
			t.Errorf("Misleading(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
