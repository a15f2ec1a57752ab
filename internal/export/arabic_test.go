package export

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/unicode/runenames"
)

// The generated tables agree with Unicode's own data: each form is the
// letter's compatibility form of that name.
func TestArabicTables(t *testing.T) {
	suffix := []string{" ISOLATED FORM", " FINAL FORM", " INITIAL FORM", " MEDIAL FORM"}
	if len(arabicForms) < 70 {
		t.Fatalf("%d letters in the table", len(arabicForms))
	}
	for base, forms := range arabicForms {
		for i, f := range forms {
			if f == 0 {
				continue
			}
			if got := norm.NFKC.String(string(f)); got != string(base) || !strings.HasSuffix(runenames.Name(f), suffix[i]) {
				t.Errorf("U+%04X as form %d of U+%04X: it is %q, %s", f, i, base, got, runenames.Name(f))
			}
		}
		if forms[isolated] == 0 {
			t.Errorf("U+%04X has no isolated form", base)
		}
	}
	for alef, lig := range lamAlef {
		for i, f := range lig {
			if got := norm.NFKC.String(string(f)); got != string([]rune{lam, alef}) || !strings.HasSuffix(runenames.Name(f), suffix[i]) {
				t.Errorf("U+%04X as lam-alef form %d: it is %q, %s", f, i, got, runenames.Name(f))
			}
		}
	}
}

func hexRunes(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%04X", r)
	}
	return b.String()
}

func TestShapeArabic(t *testing.T) {
	all := func(rune) bool { return true }
	cases := []struct {
		name, in, want string
		has            func(rune) bool
	}{
		{"Latin is left alone", "Michael Kovrig", "Michael Kovrig", all},
		{"Muhammad: initial, medial, medial, final", "محمد", "FEE3 FEA4 FEE4 FEAA", all},
		{"Ali: ain, lam, yeh", "علي", "FECB FEE0 FEF2", all},
		{"salam: lam-alef is one final ligature, meem after alef stands alone", "سلام", "FEB3 FEFC FEE1", all},
		{"la alone", "لا", "FEFB", all},
		{"lam-alef with hamza", "لأ", "FEF7", all},
		{"Persian Pezhman: peh, jeh (joins right only), meem, alef, noon", "پژمان", "FB58 FB8B FEE3 FE8E FEE5", all},
		{"the zero-width non-joiner breaks the join and is dropped", "می\u200cخواهم", "FEE3 FBFD FEA7 FEEE FE8D FEEB FEE2", all},
		{"marks are transparent and kept", "\u0645\u064F\u062D\u064E\u0645\u0651\u064E\u062F", "FEE3 064F FEA4 064E FEE4 0651 064E FEAA", all},
		{"tatweel joins", "ـب", "0640 FE90", all},
		{"two words", "أحمد علي", "FE83 FEA3 FEE4 FEAA 0020 FECB FEE0 FEF2", all},
		{"a form no font has stays the letter", "محمد", "0645 FEA4 FEE4 FEAA", func(r rune) bool { return r != 0xFEE3 }},
		{"no lam-alef ligature without the glyph: lam and alef join", "لا", "FEDF FE8E", func(r rune) bool { return r != 0xFEFB }},
		{"a letter no font has ends its neighbours' joins", "بخب", "FE8F 062E FE8F", func(r rune) bool { return r != 0x062E && (r < 0xFEA5 || r > 0xFEA8) }},
		{"Arabic inside Latin", "Ahmad (أحمد)", "0041 0068 006D 0061 0064 0020 0028 FE83 FEA3 FEE4 FEAA 0029", all},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := shapeArabic(tc.in, tc.has)
			want := tc.want
			if tc.in == want {
				if got != want {
					t.Errorf("%q became %q", tc.in, got)
				}
				return
			}
			if hexRunes(got) != want {
				t.Errorf("%q: %s, want %s", tc.in, hexRunes(got), want)
			}
		})
	}
}

// visualString is the order visual draws s in.
func visualString(s string) string {
	var gs []glyph
	for _, r := range s {
		gs = append(gs, glyph{r: r})
	}
	setLevels(gs)
	var b strings.Builder
	for _, g := range visual(gs) {
		b.WriteRune(g.r)
	}
	return b.String()
}

func TestVisualOrder(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"left to right", "Kovrig 2018 (Beijing)", "Kovrig 2018 (Beijing)"},
		{"Hebrew", "אבג", "גבא"},
		{"Hebrew words", "אבג דהו", "והד גבא"},
		{"Hebrew after Latin", "Name: אבג דהו", "Name: והד גבא"},
		{"digits keep their order", "אבג 123 דהו", "והד 123 גבא"},
		{"Arabic digits after Arabic", "عام ٢٠٢٠", "٢٠٢٠ ماع"},
		{"European digits after Arabic", "عام 2020", "2020 ماع"},
		{"a number with separators", "אבג 12.5% דהו", "והד 12.5% גבא"},
		{"Hebrew in brackets inside Latin", "David (אבג) Cohen", "David (גבא) Cohen"},
		{"brackets in Hebrew are mirrored", "אבג (דהו)", "(והד) גבא"},
		{"a trailing space stays at the end", "אבג ", "גבא "},
		{"Latin splits Hebrew in a left-to-right paragraph", "אבג ABC דהו", "גבא ABC והד"},
		{"brackets around Hebrew at the start", "(אבג) דהו", "(גבא) והד"},
		{"Arabic in brackets after Latin, then Arabic", "John (محمد) علي", "John (دمحم) يلع"},
		{"brackets around Latin inside Hebrew", "אבג (ABC) דהו", "גבא (ABC) והד"},
		{"an unmatched bracket", "אבג) דהו", "והד (גבא"},
		{"Arabic comma between Arabic words", "محمد، علي", "يلع ،دمحم"},
		{"an Arabic percent sign ends the run (it is no European number)", "نسبة ٥٠٪", "٥٠ ةبسن٪"},
		{"Hebrew points are drawn just before (left of) their letter", "\u05E9\u05B8\u05C1\u05DC\u05D5\u05B9\u05DD", "\u05DD\u05B9\u05D5\u05DC\u05C1\u05B8\u05E9"},
		{"so are harakat", "\u0645\u064F\u062D", "\u062D\u064F\u0645"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := visualString(tc.in); got != tc.want {
				t.Errorf("%q drawn as %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
