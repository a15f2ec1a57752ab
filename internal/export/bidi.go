package export

import "unicode"

// Text in Arabic and Hebrew runs right to left inside our left-to-right
// documents. fpdf draws a line's characters left to right as given, so
// visual reorders each laid-out line: a simplified Unicode Bidirectional
// Algorithm (UAX #9) for a left-to-right paragraph without explicit
// embeddings, which is what names, places and report text hold. Strong
// right-to-left letters, with the spaces and punctuation between them,
// form right-to-left runs; numbers inside such a run keep their digits'
// order; brackets in a run are mirrored.

// Bidirectional classes, reduced to what the reordering needs.
const (
	bidiL   = iota // left to right: Latin, Cyrillic, Han…
	bidiR          // right to left: Hebrew
	bidiAL         // Arabic letters (numbers after them are Arabic numbers)
	bidiEN         // European digits
	bidiAN         // Arabic-Indic digits
	bidiCS         // separators inside a number: , . : /
	bidiES         // + and - between digits
	bidiET         // terminators next to digits: % # $ ° and currency
	bidiNSM        // marks: the class of what they follow
	bidiWS         // spaces
	bidiON         // other neutrals: punctuation, symbols
)

func bidiClass(r rune) int {
	switch {
	case r >= '0' && r <= '9', r >= 0x06F0 && r <= 0x06F9:
		return bidiEN
	case r >= 0x0660 && r <= 0x0669, r == 0x066B, r == 0x066C:
		return bidiAN
	case r == 0x060C: // Arabic comma
		return bidiCS
	case r == 0x066A, r == 0x0609, r == 0x060A: // Arabic percent and per mille signs
		return bidiET
	case unicode.In(r, unicode.Mn, unicode.Me):
		return bidiNSM // Hebrew points and Arabic harakat too
	case r >= 0x0590 && r <= 0x05FF, r >= 0x07C0 && r <= 0x085F, r >= 0xFB1D && r <= 0xFB4F:
		return bidiR
	case r >= 0x0600 && r <= 0x07BF, r >= 0x0860 && r <= 0x08FF, r >= 0xFB50 && r <= 0xFDFF, r >= 0xFE70 && r <= 0xFEFF:
		return bidiAL
	case r == ',' || r == '.' || r == ':' || r == '/' || r == 0x00A0:
		return bidiCS
	case r == '+' || r == '-':
		return bidiES
	case r == '%' || r == '#' || r == 0x00B0 || r == 0x066A || unicode.Is(unicode.Sc, r):
		return bidiET
	case unicode.IsSpace(r):
		return bidiWS
	case unicode.IsLetter(r) || unicode.IsDigit(r):
		return bidiL
	}
	return bidiON
}

// mirrors are the paired characters a right-to-left run draws mirrored.
var mirrors = map[rune]rune{'(': ')', ')': '(', '[': ']', ']': '[', '{': '}', '}': '{', '<': '>', '>': '<',
	'«': '»', '»': '«', '‹': '›', '›': '‹'}

// bidiLevels returns the embedding level of each of rs, in a left-to-right
// paragraph: 0 for left to right, 1 for right to left, 2 for numbers
// inside right-to-left text.
func bidiLevels(rs []rune) []int {
	n := len(rs)
	cls := make([]int, n)
	for i, r := range rs {
		cls[i] = bidiClass(r)
	}
	// W1: a mark takes the class of what it follows.
	for i := range cls {
		if cls[i] == bidiNSM {
			cls[i] = bidiON
			if i > 0 {
				cls[i] = cls[i-1]
			}
		}
	}
	// W2, W3: European digits after Arabic letters are Arabic numbers;
	// Arabic letters are then right to left.
	last := bidiL
	for i, c := range cls {
		switch c {
		case bidiL, bidiR, bidiAL:
			last = c
		case bidiEN:
			if last == bidiAL {
				cls[i] = bidiAN
			}
		}
	}
	for i := range cls {
		if cls[i] == bidiAL {
			cls[i] = bidiR
		}
	}
	// W4: one separator between two numbers of the same kind joins them.
	for i := 1; i+1 < n; i++ {
		a, b := cls[i-1], cls[i+1]
		switch {
		case cls[i] == bidiES && a == bidiEN && b == bidiEN,
			cls[i] == bidiCS && a == bidiEN && b == bidiEN:
			cls[i] = bidiEN
		case cls[i] == bidiCS && a == bidiAN && b == bidiAN:
			cls[i] = bidiAN
		}
	}
	// W5: terminators next to European digits are part of the number.
	for i := 0; i < n; i++ {
		if cls[i] != bidiET {
			continue
		}
		j := i
		for j < n && cls[j] == bidiET {
			j++
		}
		if (i > 0 && cls[i-1] == bidiEN) || (j < n && cls[j] == bidiEN) {
			for k := i; k < j; k++ {
				cls[k] = bidiEN
			}
		}
		i = j - 1
	}
	// W6, W7: leftover separators are neutral; European digits whose
	// last strong letter is left to right (or none) are left to right.
	last = bidiL
	for i, c := range cls {
		switch c {
		case bidiES, bidiET, bidiCS:
			cls[i] = bidiON
		case bidiL, bidiR:
			last = c
		case bidiEN:
			if last == bidiL {
				cls[i] = bidiL
			}
		}
	}
	// N0, simplified: a pair of brackets takes the paragraph's direction
	// (left to right) when it holds left-to-right text, or right-to-left
	// text after something that is not right to left; it is right to left
	// around right-to-left text after right-to-left text, so "דוד (דודו)"
	// keeps its brackets around the nickname. Brackets around no strong
	// text are left to the neutral rules.
	strong := func(c int) int {
		switch c {
		case bidiL:
			return bidiL
		case bidiR, bidiEN, bidiAN:
			return bidiR
		}
		return -1
	}
	var open []int
	for i, r := range rs {
		switch r {
		case '(', '[', '{':
			open = append(open, i)
		case ')', ']', '}':
			if len(open) == 0 || rs[open[len(open)-1]] != mirrors[r] {
				continue // unmatched: a neutral like any other
			}
			o := open[len(open)-1]
			open = open[:len(open)-1]
			hasL, hasR := false, false
			for _, c := range cls[o+1 : i] {
				hasL, hasR = hasL || strong(c) == bidiL, hasR || strong(c) == bidiR
			}
			if !hasL && !hasR {
				continue
			}
			before := bidiL
			for k := o - 1; k >= 0; k-- {
				if d := strong(cls[k]); d >= 0 {
					before = d
					break
				}
			}
			to := bidiL
			if !hasL && before == bidiR {
				to = bidiR
			}
			cls[o], cls[i] = to, to
		}
	}
	// N1, N2: neutrals between two strong sides of the same direction
	// (numbers count as right to left) take it; others the paragraph's.
	dir := strong
	for i := 0; i < n; i++ {
		if dir(cls[i]) >= 0 {
			continue
		}
		j := i
		for j < n && dir(cls[j]) < 0 {
			j++
		}
		before, after := bidiL, bidiL // the paragraph's direction at either end
		if i > 0 {
			before = dir(cls[i-1])
		}
		if j < n {
			after = dir(cls[j])
		}
		to := bidiL
		if before == bidiR && after == bidiR {
			to = bidiR
		}
		for k := i; k < j; k++ {
			cls[k] = to
		}
		i = j - 1
	}
	// I1, L1: levels; spaces that end the line are at the paragraph's.
	levels := make([]int, n)
	for i, c := range cls {
		switch c {
		case bidiR:
			levels[i] = 1
		case bidiEN, bidiAN:
			levels[i] = 2
		}
	}
	return levels
}

// setLevels resolves the levels of a paragraph's glyphs, in logical order,
// before it is broken into lines: a line's order depends on the whole
// paragraph ("… 2020 مصر" wrapped before the number is still a number
// inside Arabic text).
func setLevels(gs []glyph) {
	rtl := false
	for _, g := range gs {
		if g.r < 0x0590 {
			continue // the fast path: nothing before Hebrew is right to left
		}
		if c := bidiClass(g.r); c == bidiR || c == bidiAL || c == bidiAN {
			rtl = true
			break
		}
	}
	if !rtl {
		return // all zero
	}
	rs := make([]rune, len(gs))
	for i, g := range gs {
		rs[i] = g.r
	}
	for i, l := range bidiLevels(rs) {
		gs[i].level = int8(l)
	}
}

// visual returns a line of glyphs, given in logical order with their
// paragraph's levels (setLevels), in the order to draw them from left to
// right, with mirrored brackets in right-to-left runs. Spaces that end the
// line are at the paragraph's level (L1). A line all left to right comes
// back as it is.
func visual(line []glyph) []glyph {
	rtl := false
	for _, g := range line {
		rtl = rtl || g.level > 0
	}
	if !rtl {
		return line
	}
	levels := make([]int, len(line))
	for i, g := range line {
		levels[i] = int(g.level)
	}
	for i := len(line) - 1; i >= 0 && unicode.IsSpace(line[i].r); i-- {
		levels[i] = 0
	}
	out := make([]glyph, len(line))
	copy(out, line)
	for i := range out {
		if levels[i]%2 == 1 {
			if m, ok := mirrors[out[i].r]; ok {
				out[i].r = m
			}
		}
	}
	// L2: from the highest level down to 1, reverse every run at that
	// level or higher. Marks are reversed with their letters, so that in a
	// right-to-left run a mark is drawn just before (left of) its letter:
	// fonts for Arabic and Hebrew (DejaVu Sans among them) draw their
	// zero-width marks to the right of the pen, over the glyph that
	// follows, as right-to-left layout expects. (Latin marks reach back
	// over the glyph before them, and stay in left-to-right runs.)
	for lvl := 2; lvl >= 1; lvl-- {
		for i := 0; i < len(out); {
			if levels[i] < lvl {
				i++
				continue
			}
			j := i
			for j < len(out) && levels[j] >= lvl {
				j++
			}
			for a, b := i, j-1; a < b; a, b = a+1, b-1 {
				out[a], out[b] = out[b], out[a]
				levels[a], levels[b] = levels[b], levels[a]
			}
			i = j
		}
	}
	return out
}
