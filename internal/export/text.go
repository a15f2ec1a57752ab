package export

import (
	"fmt"
	"math"
	"strings"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/text/unicode/norm"
)

// replacement is drawn for a character that no font has.
const replacement = '\uFFFD'

// face is one TrueType font: its coverage and advances read with sfnt, and
// the names under which it is registered with fpdf.
type face struct {
	family, style string
	data          []byte
	font          *sfnt.Font
	buf           sfnt.Buffer
	upem          fixed.Int26_6
	cov           map[rune]bool
	adv           map[rune]float64
	registered    bool
}

func newFace(family, style string, data []byte) (*face, error) {
	f, err := sfnt.Parse(data)
	if err != nil {
		return nil, err
	}
	return &face{
		family: family, style: style, data: data, font: f,
		upem: fixed.Int26_6(f.UnitsPerEm()),
		cov:  make(map[rune]bool), adv: make(map[rune]float64),
	}, nil
}

// covers reports whether the font can draw r. fpdf maps characters through
// the font's 16-bit cmap only, so nothing past the Basic Multilingual Plane
// is drawable.
func (f *face) covers(r rune) bool {
	if r < 0 || r > 0xFFFF {
		return false
	}
	if ok, seen := f.cov[r]; seen {
		return ok
	}
	g, err := f.font.GlyphIndex(&f.buf, r)
	ok := err == nil && g != 0
	f.cov[r] = ok
	return ok
}

// advance returns the width of r in ems, rounded to 1/1000 em as fpdf does.
func (f *face) advance(r rune) float64 {
	if a, ok := f.adv[r]; ok {
		return a
	}
	var a float64
	if g, err := f.font.GlyphIndex(&f.buf, r); err == nil {
		// At ppem = units per em, the advance comes back in font units.
		if w, err := f.font.GlyphAdvance(&f.buf, g, f.upem<<6, font.HintingNone); err == nil {
			a = math.Round(1000*float64(w)/64/float64(f.upem)) / 1000
		}
	}
	f.adv[r] = a
	return a
}

// coverer is what splitRuns needs of a font.
type coverer interface{ covers(rune) bool }

// run is a stretch of text drawn in one font: face indexes the chain given
// to splitRuns.
type run struct {
	face int
	text string
}

// splitRuns cuts s into maximal runs that one font draws: each character
// goes to the first font of chain that has it. A character that none has
// becomes repl, drawn in chain[0].
func splitRuns(s string, chain []coverer, repl rune) []run {
	var runs []run
	var b strings.Builder
	cur := -1
	for _, r := range s {
		i := -1
		for k, c := range chain {
			if c.covers(r) {
				i = k
				break
			}
		}
		if i < 0 {
			i, r = 0, repl
		}
		if i != cur && cur >= 0 {
			runs = append(runs, run{cur, b.String()})
			b.Reset()
		}
		cur = i
		b.WriteRune(r)
	}
	if cur >= 0 {
		runs = append(runs, run{cur, b.String()})
	}
	return runs
}

// clean prepares text for layout: composed (NFC) so that accents decomposed
// by some keyboards and databases find their precomposed glyphs, newlines
// as \n, tabs as spaces, and control and invisible formatting characters
// dropped but the zero-width (non-)joiner.
func clean(s string) string {
	s = norm.NFC.String(s)
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\r', r == '\u2028', r == '\u2029':
			return '\n'
		case r == '\t':
			return ' '
		case r == zwnj || r == zwj:
			return r // they steer Arabic joining; shapeArabic drops them
		case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, s)
}

// glyph is one character placed in a font: face indexes the renderer's
// fonts, w is its width in mm.
type glyph struct {
	r    rune
	face int
	w    float64
	// level is the bidirectional embedding level, resolved over the
	// whole paragraph (setLevels): 0 left to right, 1 right to left, 2 a
	// number inside right-to-left text.
	level int8
}

// breaksAround reports whether a line may break before and after r without
// a space, as between Chinese and Japanese characters.
func breaksAround(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) ||
		(r >= 0x3000 && r <= 0x303F) || (r >= 0xFF00 && r <= 0xFFEF)
}

// breakLines wraps one paragraph line of glyphs into lines no wider than
// max: at spaces, around CJK characters, and inside a word only when the
// word alone is wider than max. Spaces at a break are dropped; leading
// spaces are kept on the first line only. It returns at least one line.
func breakLines(gs []glyph, max float64) [][]glyph {
	var lines [][]glyph
	var cur, pending []glyph
	var curW, pendW float64
	flush := func() {
		lines = append(lines, cur)
		cur, curW = nil, 0
	}
	for i := 0; i < len(gs); {
		if gs[i].r == ' ' {
			j := i
			for j < len(gs) && gs[j].r == ' ' {
				j++
			}
			if len(cur) > 0 || len(lines) == 0 {
				pending, pendW = gs[i:j], width(gs[i:j])
			}
			i = j
			continue
		}
		j := wordEnd(gs, i)
		word := gs[i:j]
		ww := width(word)
		i = j
		if len(cur) > 0 && curW+pendW+ww > max {
			flush()
		} else {
			cur, curW = append(cur, pending...), curW+pendW
		}
		pending, pendW = nil, 0
		if curW+ww <= max {
			cur, curW = append(cur, word...), curW+ww
			continue
		}
		for _, g := range word {
			if len(cur) > 0 && curW+g.w > max {
				flush()
			}
			cur, curW = append(cur, g), curW+g.w
		}
	}
	if len(cur) > 0 || len(lines) == 0 {
		lines = append(lines, cur)
	}
	return lines
}

// wordEnd returns the end of the word that starts at gs[i], a non-space.
func wordEnd(gs []glyph, i int) int {
	j := i + 1
	if !breaksAround(gs[i].r) {
		for j < len(gs) && gs[j].r != ' ' && !breaksAround(gs[j].r) {
			j++
		}
	}
	return j
}

func width(gs []glyph) float64 {
	var w float64
	for _, g := range gs {
		w += g.w
	}
	return w
}

// segment is a piece of a line drawn with one font.
type segment struct {
	face int
	text string
	w    float64
}

// segments groups a line's glyphs by font, in the order they are drawn
// from left to right (visual).
func segments(line []glyph) []segment {
	line = visual(line)
	var segs []segment
	var b strings.Builder
	for i, g := range line {
		if i == 0 || g.face != line[i-1].face {
			if i > 0 {
				segs[len(segs)-1].text = b.String()
				b.Reset()
			}
			segs = append(segs, segment{face: g.face})
		}
		b.WriteRune(g.r)
		segs[len(segs)-1].w += g.w
	}
	if len(segs) > 0 {
		segs[len(segs)-1].text = b.String()
	}
	return segs
}

// CheckFont reports whether ttf can serve as an extra font for WritePDF: a
// single TrueType-outline font (not a .ttc collection, not CFF-based
// OpenType) with the tables and the 16-bit Unicode cmap that fpdf reads.
// Call it at start-up on operator-supplied fonts; WritePDF makes the same
// check.
func CheckFont(ttf []byte) error {
	if len(ttf) < 12 {
		return fmt.Errorf("font: too short")
	}
	switch string(ttf[:4]) {
	case "\x00\x01\x00\x00", "true":
	case "ttcf":
		return fmt.Errorf("font: a font collection (.ttc); extract one TrueType font from it")
	case "OTTO":
		return fmt.Errorf("font: OpenType with CFF outlines; a TrueType-outline (glyf) font is needed")
	default:
		return fmt.Errorf("font: not a TrueType font")
	}
	if _, err := sfnt.Parse(ttf); err != nil {
		return fmt.Errorf("font: %w", err)
	}
	tables := make(map[string][]byte)
	n := int(be16(ttf[4:]))
	if len(ttf) < 12+16*n {
		return fmt.Errorf("font: truncated table directory")
	}
	for i := range n {
		rec := ttf[12+16*i:]
		off, size := int(be32(rec[8:])), int(be32(rec[12:]))
		if off < 0 || size < 0 || off+size > len(ttf) || off+size < off {
			return fmt.Errorf("font: table %q out of bounds", rec[:4])
		}
		tables[string(rec[:4])] = ttf[off : off+size]
	}
	for _, t := range []string{"head", "hhea", "maxp", "hmtx", "cmap", "glyf", "loca", "name", "post", "OS/2"} {
		if _, ok := tables[t]; !ok {
			return fmt.Errorf("font: no %q table", t)
		}
	}
	if !hasUnicodeCmap4(tables["cmap"]) {
		return fmt.Errorf("font: no Unicode cmap of format 4")
	}
	return nil
}

// hasUnicodeCmap4 reports whether cmap has the subtable fpdf looks for:
// format 4 under platform 0 (Unicode) or 3/1 (Windows, Unicode BMP).
func hasUnicodeCmap4(cmap []byte) bool {
	if len(cmap) < 4 {
		return false
	}
	n := int(be16(cmap[2:]))
	for i := range n {
		rec := 4 + 8*i
		if rec+8 > len(cmap) {
			return false
		}
		platform, encoding, off := be16(cmap[rec:]), be16(cmap[rec+2:]), int(be32(cmap[rec+4:]))
		if platform != 0 && (platform != 3 || encoding != 1) {
			continue
		}
		if off >= 0 && off+2 <= len(cmap) && be16(cmap[off:]) == 4 {
			return true
		}
	}
	return false
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
func be32(b []byte) uint32 { return uint32(be16(b))<<16 | uint32(be16(b[2:])) }
