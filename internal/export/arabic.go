package export

//go:generate go run gen_arabic.go

import "unicode"

// Arabic script joins: most letters take a different shape at the start,
// in the middle and at the end of a word, and lam followed by alef is one
// ligature. fpdf draws one glyph per character through the font's cmap,
// with no shaping engine, so shapeArabic replaces each letter by the
// presentation form its neighbours call for (Unicode's Arabic Presentation
// Forms, which fonts such as DejaVu Sans map), before the text is laid out.
// Joining follows Unicode's rules for the letters that have presentation
// forms (Arabic, Persian and most of Urdu); a letter without them (some
// Pashto, Kurdish or Sindhi letters) prints unjoined and ends its
// neighbours' joins, and so does a letter no font has. Marks (harakat)
// are transparent to joining.

// Joining types, as in Unicode's ArabicShaping.txt.
const (
	joinNone        = iota // U: joins neither side
	joinRight              // R: joins the letter before it only (alef, dal, reh, waw…)
	joinDual               // D: joins both sides
	joinCausing            // C: tatweel and the zero-width joiner
	joinTransparent        // T: marks
)

const (
	zwnj     = '\u200C' // zero-width non-joiner: stops a join (Persian)
	zwj      = '\u200D' // zero-width joiner: forces one
	tatweel  = '\u0640'
	lam      = '\u0644'
	isolated = 0
	final    = 1
	initial  = 2
	medial   = 3
)

func joining(r rune) int {
	switch {
	case r == tatweel || r == zwj:
		return joinCausing
	case r == zwnj:
		return joinNone
	case unicode.In(r, unicode.Mn, unicode.Me):
		return joinTransparent
	}
	f, ok := arabicForms[r]
	switch {
	case !ok:
		return joinNone
	case f[initial] != 0 || f[medial] != 0:
		return joinDual
	case f[final] != 0:
		return joinRight
	}
	return joinNone
}

// shapeArabic returns s with each Arabic letter in its contextual
// presentation form, lam-alef as the ligature, and the zero-width joiner and
// non-joiner (which only steer joining) removed. has reports whether some
// font can draw a rune: a form that none can draw stays the plain letter.
// Text without Arabic letters comes back unchanged.
func shapeArabic(s string, has func(rune) bool) string {
	arabic := false
	for _, r := range s {
		if r < 0x0600 {
			continue // the fast path: Latin, Greek, Cyrillic, Hebrew
		}
		if _, ok := arabicForms[r]; ok || r == zwnj || r == zwj {
			arabic = true
			break
		}
	}
	if !arabic {
		return s
	}
	in := []rune(s)
	types := make([]int, len(in))
	for i, r := range in {
		types[i] = joining(r)
		if types[i] != joinTransparent && r != zwj && r != zwnj && !has(r) {
			types[i] = joinNone // drawn as a replacement: its neighbours end there
		}
	}
	// neighbour returns the index of the nearest character before (step
	// -1) or after (+1) i that is not transparent, or -1.
	neighbour := func(i, step int) int {
		for j := i + step; j >= 0 && j < len(in); j += step {
			if types[j] != joinTransparent {
				return j
			}
		}
		return -1
	}
	joinsBefore := func(i int) bool { // in[i] connects to the character before it
		p := neighbour(i, -1)
		return p >= 0 && (types[p] == joinDual || types[p] == joinCausing) &&
			(types[i] == joinDual || types[i] == joinRight || types[i] == joinCausing)
	}
	joinsAfter := func(i int) bool { // in[i] connects to the character after it
		n := neighbour(i, 1)
		return n >= 0 && (types[i] == joinDual || types[i] == joinCausing) &&
			(types[n] == joinDual || types[n] == joinRight || types[n] == joinCausing)
	}
	pick := func(form, plain rune) rune {
		if form != 0 && has(form) {
			return form
		}
		return plain
	}
	out := make([]rune, 0, len(in))
	var marks []rune // marks between a lam and its alef, drawn after the ligature
	for i := 0; i < len(in); i++ {
		r := in[i]
		if r == zwnj || r == zwj {
			continue
		}
		forms, ok := arabicForms[r]
		if !ok {
			out = append(out, r)
			continue
		}
		if r == lam {
			if n := neighbour(i, 1); n >= 0 {
				if lig, ok := lamAlef[in[n]]; ok {
					form := lig[isolated]
					if joinsBefore(i) {
						form = lig[final]
					}
					if has(form) {
						marks = append(marks[:0], in[i+1:n]...)
						out = append(out, form)
						out = append(out, marks...)
						i = n
						continue
					}
				}
			}
		}
		before, after := joinsBefore(i), joinsAfter(i)
		switch {
		case before && after:
			r = pick(forms[medial], r)
		case before:
			r = pick(forms[final], r)
		case after:
			r = pick(forms[initial], r)
		default:
			r = pick(forms[isolated], r)
		}
		out = append(out, r)
	}
	return string(out)
}
