package export

import (
	"fmt"
	"io"
	"strings"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
)

// PDFOptions tunes WritePDF.
type PDFOptions struct {
	// ExtraFonts are TrueType fonts, in order of preference, for characters
	// the built-in Go fonts lack (they cover Latin, Greek and Cyrillic), e.g.
	// a CJK font. Each must pass CheckFont. A character no font has is drawn
	// as U+FFFD.
	ExtraFonts [][]byte
}

// Page geometry, in mm (A4 portrait).
const (
	pageW        = 210.0
	pageH        = 297.0
	marginX      = 20.0
	bodyTop      = 27.0
	bodyBottom   = 272.0
	contentW     = pageW - 2*marginX
	ptToMM       = 25.4 / 72
	lineSpacing  = 1.35
	cellPadX     = 1.5
	cellPadY     = 1.0
	paragraphGap = 2.0
)

// style is a font style and size in points.
type style struct {
	face int // faceRegular or faceBold
	size float64
}

const (
	faceRegular = iota
	faceBold
	firstExtra
)

var (
	body       = style{faceRegular, 10}
	bodyBold   = style{faceBold, 10}
	cell       = style{faceRegular, 9}
	cellBold   = style{faceBold, 9}
	heading    = style{faceBold, 12}
	titleStyle = style{faceBold, 18}
	subStyle   = style{faceRegular, 12}
	small      = style{faceRegular, 8}
	smallBold  = style{faceBold, 9}
)

// lineHeight is the height in mm of a line set in st.
func (st style) lineHeight() float64 { return st.size * ptToMM * lineSpacing }

// line is a laid-out line of text.
type line struct {
	segs []segment
	w    float64
}

// WritePDF renders d as an A4 PDF to w. Every page carries the title and the
// classification at the top, and the classification, the page number of the
// page count, and when and by whom it was generated at the bottom. The
// output depends only on d and opts.
func WritePDF(w io.Writer, d Doc, opts PDFOptions) error {
	if err := d.validate(); err != nil {
		return err
	}
	r, err := newRenderer(d, opts)
	if err != nil {
		return err
	}
	r.document()
	if err := r.pdf.Error(); err != nil {
		return fmt.Errorf("export: render pdf: %w", err)
	}
	if err := r.pdf.Output(w); err != nil {
		return fmt.Errorf("export: write pdf: %w", err)
	}
	return nil
}

type renderer struct {
	pdf    *fpdf.Fpdf
	d      Doc
	labels Labels
	faces  []*face
	// chains[i] is the fonts tried for text in style face i: that face,
	// then the extra fonts.
	chains [firstExtra][]coverer
	y      float64
	// curFace and curSize are the font last selected on the current page;
	// curFace is -1 when unknown.
	curFace int
	curSize float64
}

func newRenderer(d Doc, opts PDFOptions) (*renderer, error) {
	r := &renderer{d: d, labels: d.Labels.withDefaults(), curFace: -1}
	for i, data := range [][]byte{goregular.TTF, gobold.TTF} {
		f, err := newFace("go", []string{"", "B"}[i], data)
		if err != nil {
			return nil, fmt.Errorf("export: go font: %w", err)
		}
		r.faces = append(r.faces, f)
	}
	for i, data := range opts.ExtraFonts {
		if err := CheckFont(data); err != nil {
			return nil, fmt.Errorf("export: extra font %d: %w", i, err)
		}
		f, err := newFace(fmt.Sprintf("extra%d", i), "", data)
		if err != nil {
			return nil, fmt.Errorf("export: extra font %d: %w", i, err)
		}
		r.faces = append(r.faces, f)
	}

	for i := range r.chains {
		r.chains[i] = []coverer{r.faces[i]}
		for _, f := range r.faces[firstExtra:] {
			r.chains[i] = append(r.chains[i], f)
		}
	}

	p := fpdf.New("P", "mm", "A4", "")
	p.SetCatalogSort(true)
	p.SetCreationDate(d.GeneratedAt.UTC())
	p.SetModificationDate(d.GeneratedAt.UTC())
	p.SetCreator("Attaché", true)
	p.SetTitle(clean(d.Title), true)
	p.SetSubject(clean(d.Subtitle), true)
	p.SetAuthor(clean(d.GeneratedBy), true)
	if d.Language != "" {
		p.SetLang(d.Language)
	}
	p.SetMargins(marginX, bodyTop, marginX)
	p.SetAutoPageBreak(false, pageH-bodyBottom)
	p.SetCellMargin(0)
	r.pdf = p
	return r, nil
}

// document lays out the body page by page, then draws the header and
// footer of every page, now that the page count is known.
func (r *renderer) document() {
	r.newPage()
	r.text(marginX, contentW, r.d.Title, titleStyle)
	if r.d.Subtitle != "" {
		r.y += 1
		r.text(marginX, contentW, r.d.Subtitle, subStyle)
	}
	r.y += 4
	for _, s := range r.d.Sections {
		r.section(s)
	}
	n := r.pdf.PageCount()
	for i := 1; i <= n; i++ {
		r.pdf.SetPage(i)
		r.curFace = -1
		r.pageFrame(i, n)
	}
}

func (r *renderer) newPage() {
	r.pdf.AddPage()
	r.curFace = -1
	r.y = bodyTop
}

// ensure starts a new page unless h mm fit below the current position.
func (r *renderer) ensure(h float64) {
	if r.y+h > bodyBottom {
		r.newPage()
	}
}

func (r *renderer) pageFrame(page, pages int) {
	p := r.pdf
	p.SetDrawColor(120, 120, 120)
	p.SetLineWidth(0.2)
	p.SetFillColor(0, 0, 0)
	if c := r.d.Classification; c != "" {
		r.drawCentered(11, r.fit(c, smallBold, contentW), smallBold)
		r.drawCentered(286, r.fit(c, smallBold, contentW), smallBold)
	}
	r.draw(marginX, 16, r.fit(r.d.Title, small, contentW), small)
	p.Line(marginX, 21, pageW-marginX, 21)

	p.Line(marginX, 276, pageW-marginX, 276)
	pageLabel := r.fit(fmt.Sprintf(r.labels.Page, page, pages), small, contentW/3)
	r.draw(pageW-marginX-pageLabel.w, 278, pageLabel, small)
	gen := fmt.Sprintf(r.labels.Generated, r.d.GeneratedAt.Format(r.labels.TimeLayout), r.d.GeneratedBy)
	r.draw(marginX, 278, r.fit(gen, small, contentW-pageLabel.w-5), small)
}

func (r *renderer) section(s Section) {
	// Keep the heading with the first lines of what follows.
	r.ensure(heading.lineHeight() + 3*body.lineHeight() + 3)
	r.y += 3
	if s.Heading != "" {
		r.text(marginX, contentW, s.Heading, heading)
		r.y += 1
	}
	if len(s.Fields) > 0 {
		r.fields(s.Fields)
		r.y += paragraphGap
	}
	for _, para := range s.Paragraphs {
		r.text(marginX, contentW, para, body)
		r.y += paragraphGap
	}
	if s.Table != nil {
		r.table(s.Table)
	}
	r.y += 2
}

// text draws s wrapped to w mm at x, starting new pages as needed.
func (r *renderer) text(x, w float64, s string, st style) {
	lh := st.lineHeight()
	for _, l := range r.layout(s, st, w) {
		r.ensure(lh)
		r.draw(x, r.y, l, st)
		r.y += lh
	}
}

func (r *renderer) fields(fs []Field) {
	var keyW float64
	for _, f := range fs {
		keyW = max(keyW, r.naturalWidth(f.Key, bodyBold))
	}
	keyW = min(max(keyW+2*cellPadX, 30), contentW*0.4)
	cols := []column{{marginX, keyW}, {marginX + keyW, contentW - keyW}}
	for _, f := range fs {
		r.row(cols, []string{f.Key, f.Value}, []style{bodyBold, body}, false, nil)
	}
}

func (r *renderer) table(t *Table) {
	n, _ := t.columns() // validated in WritePDF
	if n == 0 {
		return
	}
	cols := r.tableColumns(t, n)
	header := func() {
		if len(t.Header) > 0 {
			r.row(cols, t.Header, repeat(cellBold, n), true, nil)
		}
	}
	// Keep the header with the first row.
	r.ensure(2 * (cell.lineHeight() + 2*cellPadY))
	header()
	for _, cells := range t.Rows {
		r.row(cols, cells, repeat(cell, n), false, header)
	}
}

func repeat(st style, n int) []style {
	s := make([]style, n)
	for i := range s {
		s[i] = st
	}
	return s
}

type column struct{ x, w float64 }

// tableColumns sizes the columns: by t.Widths when set, otherwise to their
// content, giving long columns the room short ones leave.
func (r *renderer) tableColumns(t *Table, n int) []column {
	ws := t.Widths
	if ws == nil {
		nat := make([]float64, n)
		least := make([]float64, n)
		for c := range n {
			for i := -1; i < len(t.Rows); i++ {
				var s string
				st := cell
				if i < 0 {
					if c >= len(t.Header) {
						continue
					}
					s, st = t.Header[c], cellBold
				} else if c < len(t.Rows[i]) {
					s = t.Rows[i][c]
				}
				nat[c] = max(nat[c], r.naturalWidth(s, st)+2*cellPadX)
				least[c] = max(least[c], r.longestWord(s, st)+2*cellPadX)
			}
			nat[c] = max(nat[c], 8)
		}
		ws = fitWidths(nat, least, contentW)
	}
	var sum float64
	for _, w := range ws {
		sum += w
	}
	cols := make([]column, n)
	x := marginX
	for i, w := range ws {
		cols[i] = column{x, w / sum * contentW}
		x += cols[i].w
	}
	return cols
}

// fitWidths shares avail among columns that would like nat and need least.
func fitWidths(nat, least []float64, avail float64) []float64 {
	var sumNat, sumLeast float64
	for i := range nat {
		least[i] = min(least[i], nat[i])
		sumNat += nat[i]
		sumLeast += least[i]
	}
	out := make([]float64, len(nat))
	switch {
	case sumNat <= avail || sumLeast >= avail:
		copy(out, nat) // scaled to avail by the caller
	default:
		extra := (avail - sumLeast) / (sumNat - sumLeast)
		for i := range nat {
			out[i] = least[i] + extra*(nat[i]-least[i])
		}
	}
	return out
}

// row draws one row of cells. A row that fits on a fresh page is not split
// unless it takes more than half a page; a taller one is split between
// lines. onBreak, if set, runs after each page break the row causes (to
// repeat a table header).
func (r *renderer) row(cols []column, cells []string, styles []style, shaded bool, onBreak func()) {
	laid := make([][]line, len(cols))
	for i, c := range cols {
		var s string
		if i < len(cells) {
			s = cells[i]
		}
		laid[i] = r.layout(s, styles[i], c.w-2*cellPadX)
	}
	// lhs[k] is the height of the row's k-th line: the tallest cell line.
	var lhs []float64
	for i := range cols {
		for k := range laid[i] {
			if k == len(lhs) {
				lhs = append(lhs, 0)
			}
			lhs[k] = max(lhs[k], styles[i].lineHeight())
		}
	}
	var rowH float64
	for _, h := range lhs {
		rowH += h
	}
	rowH += 2 * cellPadY
	breakPage := func() {
		r.newPage()
		if onBreak != nil {
			onBreak()
		}
	}
	fresh := r.y <= bodyTop // nothing on this page yet
	if r.y+rowH > bodyBottom && !fresh && rowH <= (bodyBottom-bodyTop)/2 {
		breakPage()
		fresh = true
	}
	x0, x1 := cols[0].x, cols[len(cols)-1].x+cols[len(cols)-1].w
	for k := 0; k < len(lhs); {
		// The lines k..end-1 go on this page.
		end, h := k, 0.0
		for end < len(lhs) && r.y+h+lhs[end]+2*cellPadY <= bodyBottom {
			h += lhs[end]
			end++
		}
		if end == k {
			if !fresh {
				breakPage()
				fresh = true
				continue
			}
			end, h = k+1, lhs[k] // no room even on a new page: draw it anyway
		}
		fresh = false
		if shaded {
			r.pdf.SetFillColor(228, 228, 228)
			r.pdf.Rect(x0, r.y, x1-x0, h+2*cellPadY, "F")
			r.pdf.SetFillColor(0, 0, 0)
		}
		y := r.y + cellPadY
		for ; k < end; k++ {
			for i, c := range cols {
				if k < len(laid[i]) {
					r.draw(c.x+cellPadX, y, laid[i][k], styles[i])
				}
			}
			y += lhs[k]
		}
		r.y = y + cellPadY
		r.pdf.SetDrawColor(190, 190, 190)
		r.pdf.SetLineWidth(0.2)
		r.pdf.Line(x0, r.y, x1, r.y)
		if k < len(lhs) {
			breakPage()
			fresh = true
		}
	}
}

// layout wraps s, set in st, into lines no wider than w mm.
func (r *renderer) layout(s string, st style, w float64) []line {
	var out []line
	for _, para := range strings.Split(clean(s), "\n") {
		for _, gs := range breakLines(r.glyphs(para, st), w) {
			out = append(out, line{segs: segments(gs), w: width(gs)})
		}
	}
	return out
}

// glyphs places each character of s in the first font that has it: st's
// own face, then the extra fonts. Arabic letters take their contextual
// forms first (shapeArabic); the order stays logical until segments.
func (r *renderer) glyphs(s string, st style) []glyph {
	chain := r.chains[st.face]
	mm := st.size * ptToMM
	gs := make([]glyph, 0, len(s))
	s = shapeArabic(s, func(c rune) bool {
		for _, f := range chain {
			if f.covers(c) {
				return true
			}
		}
		return false
	})
	for _, run := range splitRuns(s, chain, replacement) {
		fi := st.face
		if run.face > 0 {
			fi = firstExtra + run.face - 1
		}
		f := r.faces[fi]
		for _, c := range run.text {
			gs = append(gs, glyph{r: c, face: fi, w: f.advance(c) * mm})
		}
	}
	setLevels(gs)
	return gs
}

// naturalWidth is the width of s's longest line, unwrapped.
func (r *renderer) naturalWidth(s string, st style) float64 {
	var w float64
	for _, para := range strings.Split(clean(s), "\n") {
		w = max(w, width(r.glyphs(para, st)))
	}
	return w
}

// longestWord is the width of s's widest unbreakable piece.
func (r *renderer) longestWord(s string, st style) float64 {
	var w float64
	for _, para := range strings.Split(clean(s), "\n") {
		gs := r.glyphs(para, st)
		for i := 0; i < len(gs); {
			if gs[i].r == ' ' {
				i++
				continue
			}
			j := wordEnd(gs, i)
			w = max(w, width(gs[i:j]))
			i = j
		}
	}
	return w
}

// fit lays s out on one line of at most w mm, cut with an ellipsis if
// longer.
func (r *renderer) fit(s string, st style, w float64) line {
	s = strings.Join(strings.Fields(clean(s)), " ")
	gs := r.glyphs(s, st)
	if width(gs) > w {
		// Cut the text, not its glyphs: the last letter kept takes the
		// form of a word's end, and the ellipsis follows the direction of
		// the text it ends.
		rs := []rune(s)
		for len(rs) > 0 {
			rs = rs[:len(rs)-1]
			if gs = r.glyphs(strings.TrimRight(string(rs), " ")+"…", st); width(gs) <= w {
				break
			}
		}
		if len(rs) == 0 {
			gs = r.glyphs("…", st)
		}
		last := len(gs) - 1
		for k := last - 1; k >= 0; k-- {
			if c := bidiClass(gs[k].r); c == bidiL || c == bidiR || c == bidiAL {
				if c != bidiL {
					gs[last].level = 1
				}
				break
			}
		}
	}
	return line{segs: segments(gs), w: width(gs)}
}

func (r *renderer) drawCentered(y float64, l line, st style) {
	r.draw((pageW-l.w)/2, y, l, st)
}

// draw draws l with its top at (x, y).
func (r *renderer) draw(x, y float64, l line, st style) {
	mm := st.size * ptToMM
	baseline := y + st.lineHeight()/2 + 0.3*mm
	for _, s := range l.segs {
		r.setFont(s.face, st.size)
		r.pdf.Text(x, baseline, s.text)
		x += s.w
	}
}

func (r *renderer) setFont(i int, size float64) {
	if i == r.curFace && size == r.curSize {
		return
	}
	f := r.faces[i]
	if !f.registered {
		r.pdf.AddUTF8FontFromBytes(f.family, f.style, f.data)
		f.registered = true
	}
	r.pdf.SetFont(f.family, f.style, size)
	r.curFace, r.curSize = i, size
}
