package names_test

import (
	"math"
	"testing"
	"unicode/utf8"

	"github.com/attache-org/attache/internal/names"
)

// Any name or query, in any script or none, folds to valid text, gives
// search keys that are valid text, and scores between 0 and 1 against any
// name; never a panic.
func FuzzFold(f *testing.F) {
	folder, err := names.NewFolder()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"Michael Kovrig", "康明凯", "康明凱", "Ковриг", "مايكل كوفريغ", "מיכאל", "O'Brien-Smith", "  ", "\u202e", "\xff\xfe", "ß", "İstanbul"} {
		f.Add(s, "Michael Kovrig")
	}
	f.Fuzz(func(t *testing.T, name, query string) {
		folded := folder.Fold(name)
		if !utf8.ValidString(folded) {
			t.Errorf("Fold(%q) = %q, not valid UTF-8", name, folded)
		}
		for _, k := range folder.Keys(name) {
			if !utf8.ValidString(k) {
				t.Errorf("Keys(%q) holds %q, not valid UTF-8", name, k)
			}
		}
		score := folder.Score(folder.ParseQuery(query), name)
		if math.IsNaN(score) || score < 0 || score > 1 {
			t.Errorf("Score(%q, %q) = %v, want 0 to 1", query, name, score)
		}
	})
}
