package export

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/image/font/gofont/goregular"
)

// runeSet is a synthetic font that has exactly the runes a predicate accepts.
type runeSet func(rune) bool

func (s runeSet) covers(r rune) bool { return s(r) }

func TestSplitRuns(t *testing.T) {
	latin := runeSet(func(r rune) bool { return r < 0x250 })
	cjk := runeSet(func(r rune) bool { return r >= 0x4E00 && r <= 0x9FFF || r == ' ' })
	cases := []struct {
		name  string
		s     string
		chain []coverer
		want  []run
	}{
		{"one font", "Hello, Zoë", []coverer{latin, cjk}, []run{{0, "Hello, Zoë"}}},
		{"fallback to the second font", "Wang 王小明 Xiaoming", []coverer{latin, cjk},
			[]run{{0, "Wang "}, {1, "王小明"}, {0, " Xiaoming"}}},
		{"first font that has it wins", "王 王", []coverer{cjk, latin}, []run{{0, "王 王"}}},
		{"missing everywhere becomes the replacement in the first font", "a😀Жb", []coverer{latin, cjk},
			[]run{{0, "a\uFFFD\uFFFDb"}}},
		{"missing next to fallback", "王Ж", []coverer{latin, cjk}, []run{{1, "王"}, {0, "\uFFFD"}}},
		{"no extra fonts", "王", []coverer{latin}, []run{{0, "\uFFFD"}}},
		{"empty", "", []coverer{latin}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := splitRuns(tc.s, tc.chain, replacement)
			if !slices.Equal(got, tc.want) {
				t.Errorf("splitRuns(%q) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
}

func TestFaceCovers(t *testing.T) {
	f, err := newFace("go", "", goregular.TTF)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range "AzéÉœЖжΩ€«»\uFFFD" {
		if !f.covers(r) {
			t.Errorf("Go Regular should cover %q", r)
		}
	}
	for _, r := range []rune{'王', 'あ', 'ש', 0x1F600, '\t'} {
		if f.covers(r) {
			t.Errorf("Go Regular should not cover %q", r)
		}
	}
	if a := f.advance('M'); a < 0.5 || a > 1.2 {
		t.Errorf("advance of M = %v em", a)
	}
	if f.advance('i') >= f.advance('M') {
		t.Errorf("i (%v em) should be narrower than M (%v em)", f.advance('i'), f.advance('M'))
	}
}

// unitGlyphs gives every rune a width of 1.
func unitGlyphs(s string) []glyph {
	var gs []glyph
	for _, r := range s {
		gs = append(gs, glyph{r: r, w: 1})
	}
	return gs
}

func lineStrings(lines [][]glyph) []string {
	var out []string
	for _, l := range lines {
		var b strings.Builder
		for _, g := range l {
			b.WriteRune(g.r)
		}
		out = append(out, b.String())
	}
	return out
}

func TestBreakLines(t *testing.T) {
	cases := []struct {
		s    string
		max  float64
		want []string
	}{
		{"aaa bbb ccc", 7, []string{"aaa bbb", "ccc"}},
		{"aaa bbb ccc", 11, []string{"aaa bbb ccc"}},
		{"aaa   bbb", 5, []string{"aaa", "bbb"}},
		{"abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"ab abcdefgh", 4, []string{"ab", "abcd", "efgh"}},
		{"中文字符", 2, []string{"中文", "字符"}},
		{"Wang王小明", 5, []string{"Wang王", "小明"}},
		{"  indented text", 10, []string{"  indented", "text"}},
		{"", 10, []string{""}},
		{"trailing   ", 8, []string{"trailing"}},
	}
	for _, tc := range cases {
		got := lineStrings(breakLines(unitGlyphs(tc.s), tc.max))
		if !slices.Equal(got, tc.want) {
			t.Errorf("breakLines(%q, %v) = %q, want %q", tc.s, tc.max, got, tc.want)
		}
	}
}

func TestSegments(t *testing.T) {
	gs := []glyph{{r: 'a', w: 1}, {r: 'b', w: 2}, {r: '王', face: 3, w: 4}, {r: 'c', w: 1}}
	got := segments(gs)
	want := []segment{{0, "ab", 3}, {3, "王", 4}, {0, "c", 1}}
	if !slices.Equal(got, want) {
		t.Errorf("segments = %v, want %v", got, want)
	}
}

func TestClean(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Ame\u0301lie", "Amélie"}, // decomposed accent composed
		{"a\r\nb\rc", "a\nb\nc"},
		{"a\tb", "a b"},
		{"zero\u200Bwidth\u00ADsoft\x07bell", "zerowidthsoftbell"},
		{"Иван", "Иван"},
	}
	for _, tc := range cases {
		if got := clean(tc.in); got != tc.want {
			t.Errorf("clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCheckFont(t *testing.T) {
	if err := CheckFont(goregular.TTF); err != nil {
		t.Errorf("Go Regular: %v", err)
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"collection", append([]byte("ttcf\x00\x01\x00\x00"), make([]byte, 64)...), "collection"},
		{"cff", append([]byte("OTTO"), goregular.TTF[4:]...), "CFF"},
		{"garbage", []byte("this is not a font at all"), "not a TrueType"},
		{"short", []byte{0, 1}, "too short"},
		{"truncated", goregular.TTF[:200], "font:"},
	}
	for _, tc := range cases {
		err := CheckFont(tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
