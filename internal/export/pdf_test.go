package export

import (
	"bytes"
	"fmt"
	"golang.org/x/text/unicode/norm"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/testenv"
)

func render(t testing.TB, d Doc, opts PDFOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WritePDF(&buf, d, opts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// poppler runs a poppler-utils tool (pdftotext, pdfinfo) on pdf and returns
// its output.
func poppler(t *testing.T, pdf []byte, tool string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		testenv.Missing(t, "pdftotext", tool+" is not installed (Debian package poppler-utils)")
	}
	file := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	args = append(args, file)
	if tool == "pdftotext" {
		args = append([]string{"-enc", "UTF-8"}, append(args, "-")...)
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
	return string(out)
}

// text extracts the text of pdf, or of its pages first..last when given,
// with runs of white space made one space.
func text(t *testing.T, pdf []byte, pages ...int) string {
	t.Helper()
	var args []string
	if len(pages) == 2 {
		args = []string{"-f", strconv.Itoa(pages[0]), "-l", strconv.Itoa(pages[1])}
	}
	return strings.Join(strings.Fields(poppler(t, pdf, "pdftotext", args...)), " ")
}

// info returns the fields pdfinfo prints.
func info(t *testing.T, pdf []byte) map[string]string {
	t.Helper()
	m := make(map[string]string)
	for _, l := range strings.Split(poppler(t, pdf, "pdfinfo"), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func pageCount(t *testing.T, pdf []byte) int {
	t.Helper()
	n, err := strconv.Atoi(info(t, pdf)["Pages"])
	if err != nil {
		t.Fatalf("pdfinfo pages: %v", err)
	}
	return n
}

func TestWritePDFText(t *testing.T) {
	pdf := render(t, sampleDoc(), PDFOptions{})
	pages := pageCount(t, pdf)
	if pages < 3 {
		t.Fatalf("%d pages; the sample should take several", pages)
	}
	all := text(t, pdf)
	for _, want := range []string{
		"Visit report — Ivan Petrov",
		"Case 2026-0042, Centre de détention de Montréal",
		"John Smith",
		"Иван Петров",
		"Établissement de détention, Trois-Rivières (Québec)",
		"où l’on garde « les",
		"Amélie Lefèvre", // given decomposed
		"Line 001 of the long paragraph", "Line 150 of the long paragraph", "Line 300 of the long paragraph",
		"Row 01", "Row 60",
		fmt.Sprintf("Page 2 of %d", pages),
		"Generated 2026-03-14 09:26 UTC by Élodie Tremblay",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("text lacks %q", want)
		}
	}

	var rowPages int
	for p := 1; p <= pages; p++ {
		pt := text(t, pdf, p, p)
		if n := strings.Count(pt, "PROTECTED B"); n != 2 {
			t.Errorf("page %d: classification printed %d times, want 2 (header and footer)", p, n)
		}
		if want := fmt.Sprintf("Page %d of %d", p, pages); !strings.Contains(pt, want) {
			t.Errorf("page %d lacks %q", p, want)
		}
		if !strings.Contains(pt, "Visit report — Ivan Petrov") {
			t.Errorf("page %d lacks the title in its header", p)
		}
		if regexp.MustCompile(`Row \d\d`).MatchString(pt) {
			rowPages++
			if !strings.Contains(pt, "Date Visit Summary") {
				t.Errorf("page %d has table rows but not the table header", p)
			}
		}
	}
	if rowPages < 2 {
		t.Errorf("the table is on %d page(s); the sample should run it across a page break", rowPages)
	}
	if first, last := text(t, pdf, 1, 1), text(t, pdf, pages, pages); !strings.Contains(first, "Line 001") ||
		strings.Contains(first, "Line 300") || strings.Contains(last, "Line 001") {
		t.Errorf("the long paragraph does not run from the first page onto later ones")
	}
}

func TestWritePDFMetadata(t *testing.T) {
	d := sampleDoc()
	d.Language = "fr-CA"
	m := info(t, render(t, d, PDFOptions{}))
	for k, want := range map[string]string{
		"Title":     "Visit report — Ivan Petrov",
		"Creator":   "Attaché",
		"Author":    "Élodie Tremblay",
		"Page size": "595.28 x 841.89 pts (A4)",
	} {
		if m[k] != want {
			t.Errorf("%s = %q, want %q", k, m[k], want)
		}
	}
	if !strings.Contains(m["CreationDate"], "Mar 14 09:26:53 2026") {
		t.Errorf("CreationDate = %q, want the document's GeneratedAt", m["CreationDate"])
	}
}

func TestWritePDFLabels(t *testing.T) {
	d := smallDoc("Rapport")
	d.Labels = Labels{Page: "Page %d de %d", Generated: "Produit le %s par %s", TimeLayout: "02/01/2006"}
	got := text(t, render(t, d, PDFOptions{}))
	for _, want := range []string{"Page 1 de 1", "Produit le 14/03/2026 par Élodie Tremblay"} {
		if !strings.Contains(got, want) {
			t.Errorf("text lacks %q: %s", want, got)
		}
	}
}

func TestWritePDFDeterministic(t *testing.T) {
	a := render(t, sampleDoc(), PDFOptions{})
	b := render(t, sampleDoc(), PDFOptions{})
	if !bytes.Equal(a, b) {
		t.Fatal("two renders of the same document differ")
	}
	later := sampleDoc()
	later.GeneratedAt = later.GeneratedAt.Add(time.Second)
	if bytes.Equal(a, render(t, later, PDFOptions{})) {
		t.Error("a different generation time renders the same bytes")
	}
}

func TestWritePDFMissingGlyphs(t *testing.T) {
	d := smallDoc("Detainee 王小明 (Wang Xiaoming) 😀")
	d.Sections = []Section{{Heading: "王", Fields: []Field{{"Name", "王小明"}}, Table: &Table{Header: []string{"名"}, Rows: [][]string{{"小明"}}}}}
	pdf := render(t, d, PDFOptions{})
	got := text(t, pdf)
	if strings.ContainsAny(got, "王小明") {
		t.Errorf("Chinese drawn without a font that has it: %s", got)
	}
	for _, want := range []string{"Detainee \uFFFD\uFFFD\uFFFD (Wang Xiaoming) \uFFFD", "Name \uFFFD\uFFFD\uFFFD"} {
		if !strings.Contains(got, want) {
			t.Errorf("text lacks %q: %s", want, got)
		}
	}
}

func TestWritePDFExtraFont(t *testing.T) {
	const name = "王小明"
	font := systemFont(t, name+"张伟", "cjkfont", "fonts-droid-fallback")
	d := smallDoc("Detainee Wang Xiaoming 王小明")
	d.Sections = []Section{{Heading: "Names 姓名", Fields: []Field{{"Name", "Wang Xiaoming (王小明), Иван"}},
		Table: &Table{Header: []string{"Name", "姓名"}, Rows: [][]string{{"Zhang Wei", "张伟"}}}}}
	pdf := render(t, d, PDFOptions{ExtraFonts: [][]byte{font}})
	got := text(t, pdf)
	if strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("replacement drawn although the extra font has every character: %s", got)
	}
	for _, want := range []string{"Detainee Wang Xiaoming 王小明", "Names 姓名", "Wang Xiaoming (王小明), Иван", "张伟"} {
		if !strings.Contains(got, want) {
			t.Errorf("text lacks %q: %s", want, got)
		}
	}
	if !bytes.Equal(pdf, render(t, d, PDFOptions{ExtraFonts: [][]byte{font}})) {
		t.Error("two renders with an extra font differ")
	}
}

// systemFont returns an installed TrueType font that WritePDF accepts and
// that has every character of s; without one the test skips, unless part
// (a test requirement) is required. pkg names a Debian package with one.
func systemFont(t *testing.T, s, part, pkg string) []byte {
	t.Helper()
	var found []byte
	for _, dir := range []string{"/usr/share/fonts", "/usr/local/share/fonts"} {
		filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
			if err != nil || found != nil || e.IsDir() {
				return nil
			}
			if ext := strings.ToLower(filepath.Ext(path)); ext != ".ttf" && ext != ".otf" {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil || CheckFont(data) != nil {
				return nil
			}
			f, err := newFace("probe", "", data)
			if err != nil {
				return nil
			}
			for _, r := range s {
				if !f.covers(r) {
					return nil
				}
			}
			found = data
			return nil
		})
	}
	if found == nil {
		testenv.Missing(t, part, "no TrueType font under /usr/share/fonts has "+s+" (Debian package "+pkg+" has one)")
	}
	return found
}

func TestWritePDFTallCells(t *testing.T) {
	var tall []string
	for i := 1; i <= 150; i++ {
		tall = append(tall, fmt.Sprintf("Entry %03d", i))
	}
	d := smallDoc("Tall cells")
	d.Sections = []Section{
		{Heading: "Field", Fields: []Field{{"History", strings.Join(tall, "\n")}}},
		{Heading: "Table", Table: &Table{Header: []string{"When", "What"}, Rows: [][]string{
			{"before", "short"}, {"tall", strings.Join(tall, "\n")}, {"after", "short too"},
		}}},
		{Heading: "Unbreakable", Paragraphs: []string{strings.Repeat("x", 500)}},
		{Heading: "Header taller than a page", Table: &Table{
			Header: []string{strings.Repeat("Head\n", 70) + "Last head line"}, Rows: [][]string{{"first row"}, {"second row"}},
		}},
	}
	pdf := render(t, d, PDFOptions{})
	if n := pageCount(t, pdf); n < 4 {
		t.Errorf("%d pages, want at least 4 for two 150-line cells", n)
	}
	got := text(t, pdf)
	if n := strings.Count(got, "Entry 150"); n != 2 {
		t.Errorf("the last line of the tall cells appears %d times, want 2", n)
	}
	if !strings.Contains(got, "after short too") {
		t.Error("the row after the tall one is missing")
	}
	if !strings.Contains(got, "Last head line first row") || !strings.Contains(got, "second row") {
		t.Error("the rows under a header taller than a page are missing")
	}
	if n := strings.Count(got, "x"); n < 500 {
		t.Errorf("%d of 500 x's drawn", n)
	}
}

func TestWritePDFInvalid(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Doc, *PDFOptions)
		want string
	}{
		{"no time", func(d *Doc, _ *PDFOptions) { d.GeneratedAt = time.Time{} }, "GeneratedAt"},
		{"no author", func(d *Doc, _ *PDFOptions) { d.GeneratedBy = "" }, "GeneratedBy"},
		{"long row", func(d *Doc, _ *PDFOptions) {
			d.Sections = []Section{{Heading: "T", Table: &Table{Header: []string{"a"}, Rows: [][]string{{"1", "2"}}}}}
		}, "row 0 has 2 cells"},
		{"widths", func(d *Doc, _ *PDFOptions) {
			d.Sections = []Section{{Heading: "T", Table: &Table{Header: []string{"a", "b"}, Widths: []float64{1}}}}
		}, "1 widths for 2 columns"},
		{"collection font", func(_ *Doc, o *PDFOptions) {
			o.ExtraFonts = [][]byte{append([]byte("ttcf"), make([]byte, 64)...)}
		}, "extra font 0"},
	}
	for _, tc := range cases {
		d, opts := smallDoc("x"), PDFOptions{}
		tc.edit(&d, &opts)
		var buf bytes.Buffer
		err := WritePDF(&buf, d, opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.want)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: %d bytes written despite the error", tc.name, buf.Len())
		}
	}
}

func TestWritePDFTableWidths(t *testing.T) {
	d := smallDoc("Widths")
	d.Sections = []Section{{Heading: "T", Table: &Table{
		Header: []string{"A", "B"}, Rows: [][]string{{"left", "right"}}, Widths: []float64{1, 3},
	}}}
	pdf := render(t, d, PDFOptions{})
	if got := text(t, pdf); !strings.Contains(got, "left right") {
		t.Errorf("text lacks the row: %s", got)
	}
}

func TestTenPageDoc(t *testing.T) {
	if n := pageCount(t, render(t, tenPageDoc(), PDFOptions{})); n != 10 {
		t.Errorf("tenPageDoc renders %d pages", n)
	}
}

// BenchmarkWritePDFArabic is BenchmarkWritePDF with every visit's summary
// in Arabic (a name and a sentence), shaped and reordered, in DejaVu Sans.
func BenchmarkWritePDFArabic(b *testing.B) {
	font, err := os.ReadFile("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
	if err != nil {
		b.Skip("DejaVu Sans is not installed (Debian package fonts-dejavu-core)")
	}
	d := tenPageDoc()
	for _, row := range d.Sections[2].Table.Rows {
		row[2] = "زيارة محمد علي (پژمان): الطعام كافٍ والرعاية الطبية متاحة، وسيتابع القنصل طلب محامٍ يتكلم الفرنسية، 2026."
	}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := WritePDF(&buf, d, PDFOptions{ExtraFonts: [][]byte{font}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/pdf")
}

func BenchmarkWritePDF(b *testing.B) {
	d := tenPageDoc()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := WritePDF(&buf, d, PDFOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/pdf")
}

// Arabic and Hebrew names print joined and right to left: the PDF's text,
// read back by pdftotext and folded to plain letters, holds each name in
// the order a reader reads it, and nothing is a replacement character.
func TestWritePDFRightToLeft(t *testing.T) {
	const arabic, persian, hebrew = "محمد علي", "پژمان", "אבג"
	// The presentation forms the shaped names use, and the Hebrew letters.
	font := systemFont(t, shapeArabic(arabic+persian, func(rune) bool { return true })+hebrew, "rtlfont", "fonts-dejavu-core")
	d := smallDoc("Detainee " + arabic)
	d.Sections = []Section{{Heading: "Names", Fields: []Field{{"Name", arabic + " (" + persian + ")"}, {"Hebrew", hebrew + " 2020"}},
		Table: &Table{Header: []string{"Name", "Script"}, Rows: [][]string{{arabic, "Arab"}, {"Ahmad (" + persian + ")", "Latn, Arab"}}}}}
	pdf := render(t, d, PDFOptions{ExtraFonts: [][]byte{font}})
	// pdftotext gives each right-to-left word back in reading order (in
	// embedding marks), and the words in the order they stand on the line,
	// left to right: the first word of a name is the rightmost.
	got := strings.NewReplacer("\u202B", "", "\u202C", "").Replace(norm.NFKC.String(poppler(t, pdf, "pdftotext", "-raw")))
	if strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("replacement drawn although the font has every character: %s", got)
	}
	for _, want := range []string{"Detainee علي محمد", "Name (پژمان) علي محمد", "Hebrew 2020 אבג", "علي محمد Arab", "Ahmad (پژمان) Latn, Arab"} {
		// pdftotext keeps a bracket with the right-to-left word it read.
		if !strings.Contains(strings.ReplaceAll(got, ")پژمان", "پژمان)"), want) {
			t.Errorf("text lacks %q:\n%s", want, got)
		}
	}
	if !bytes.Equal(pdf, render(t, d, PDFOptions{ExtraFonts: [][]byte{font}})) {
		t.Error("two renders differ")
	}
}

// lineText is a laid-out line's characters in drawing order.
func lineText(l line) string {
	var b strings.Builder
	for _, s := range l.segs {
		b.WriteString(s.text)
	}
	return b.String()
}

// A wrapped right-to-left paragraph keeps the order of the whole on each
// line, and a name cut to fit ends its last letter as a word's end, with
// the ellipsis where the reader of that script finishes.
func TestRightToLeftWrapAndCut(t *testing.T) {
	all := func(rune) bool { return true }
	font := systemFont(t, shapeArabic("محمد علي مصر پژمان", all)+"…()", "rtlfont", "fonts-dejavu-core")
	r, err := newRenderer(smallDoc("Layout"), PDFOptions{ExtraFonts: [][]byte{font}})
	if err != nil {
		t.Fatal(err)
	}
	shaped := func(s string) string { return shapeArabic(s, all) }
	reversed := func(s string) string {
		rs := []rune(s)
		slices.Reverse(rs)
		return string(rs)
	}
	// "Muhammad Ali 2020 Egypt", wrapped after "Ali": the second line is
	// the number inside Arabic text, so the number stands at its left.
	para := "محمد علي 2020 مصر"
	w := width(r.glyphs("محمد علي", body)) + 0.1
	lines := r.layout(para, body, w)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	if got, want := lineText(lines[0]), reversed(shaped("محمد علي")); got != want {
		t.Errorf("line 1 %q, want %q", got, want)
	}
	if got, want := lineText(lines[1]), reversed(shaped("مصر"))+" 2020"; got != want {
		t.Errorf("line 2 %q, want %q", got, want)
	}
	// "Muhammad A…": the ain kept last stands alone (U+FEC9), not in the
	// initial form it has at the start of "Ali", and the ellipsis is at
	// the left, where the reader finishes.
	cut := r.fit("محمد علي", body, width(r.glyphs("محمد ع…", body))+0.01)
	if got, want := lineText(cut), "…\uFEC9 "+reversed(shaped("محمد")); got != want {
		t.Errorf("cut to %q, want %q", got, want)
	}
	// A nickname in brackets after the name: one right-to-left run, its
	// brackets mirrored so that they open and close around it.
	named := r.layout("محمد علي (پژمان)", body, 200)
	if got, want := lineText(named[0]), "("+reversed(shaped("پژمان"))+") "+reversed(shaped("علي"))+" "+reversed(shaped("محمد")); got != want {
		t.Errorf("bracketed nickname drawn as %q, want %q", got, want)
	}
	// Latin is cut as before, the ellipsis at the right.
	if got := lineText(r.fit("Michael Kovrig", body, width(r.glyphs("Michael K…", body))+0.1)); got != "Michael K…" {
		t.Errorf("Latin cut to %q", got)
	}
}
