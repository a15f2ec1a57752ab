// Package export renders documents for download: PDF reports and CSV tables.
//
// It knows nothing of the database or of authorization. The caller decides
// what may be shown (need-to-know, consent) and fills a Doc, or the rows of a
// CSV file, with only that.
package export

import (
	"fmt"
	"time"
)

// Doc is a document to render: a title block followed by sections. It is
// plain data; a visit report and a case summary are both Docs.
type Doc struct {
	Title    string
	Subtitle string
	// Classification is the security marking, e.g. "PROTECTED B", printed in
	// the header and footer of every page. Empty prints none.
	Classification string
	// GeneratedAt is printed in the footer, in its own location, and is the
	// PDF creation date. It must be set: the same Doc at the same time
	// renders to the same bytes.
	GeneratedAt time.Time
	// GeneratedBy names who generated the document; it must be set.
	GeneratedBy string
	// Language is the document's BCP 47 language tag, e.g. "fr-CA", recorded
	// in the PDF for screen readers; empty records none.
	Language string
	Labels   Labels
	Sections []Section
}

// Labels are the words the renderer prints on its own, as fmt formats; the
// caller translates them. An empty field takes the English default.
type Labels struct {
	// Page gets the page number and the page count: "Page %d of %d".
	Page string
	// Generated gets the formatted time and GeneratedBy: "Generated %s by %s".
	Generated string
	// TimeLayout formats GeneratedAt: "2006-01-02 15:04 MST".
	TimeLayout string
}

func (l Labels) withDefaults() Labels {
	if l.Page == "" {
		l.Page = "Page %d of %d"
	}
	if l.Generated == "" {
		l.Generated = "Generated %s by %s"
	}
	if l.TimeLayout == "" {
		l.TimeLayout = "2006-01-02 15:04 MST"
	}
	return l
}

// Section is a heading followed by its content. A section may hold any of
// fields, paragraphs and a table; they are drawn in that order. Notes and
// amendments are sections of paragraphs.
type Section struct {
	Heading    string
	Fields     []Field
	Paragraphs []string
	Table      *Table
}

// Field is one key/value row, drawn as two columns. Both may span lines.
type Field struct {
	Key, Value string
}

// Table is a header row and rows of cells. The header is repeated on every
// page the table runs onto.
type Table struct {
	Header []string
	Rows   [][]string
	// Widths are the columns' relative widths, e.g. {1, 3, 1}; nil sizes the
	// columns to their content.
	Widths []float64
}

// columns returns the table's column count, or an error if a row or Widths
// does not fit it.
func (t *Table) columns() (int, error) {
	n := len(t.Header)
	if n == 0 {
		for _, r := range t.Rows {
			n = max(n, len(r))
		}
	}
	for i, r := range t.Rows {
		if len(r) > n {
			return 0, fmt.Errorf("table row %d has %d cells, header has %d", i, len(r), n)
		}
	}
	if t.Widths != nil {
		if len(t.Widths) != n {
			return 0, fmt.Errorf("table has %d widths for %d columns", len(t.Widths), n)
		}
		for _, w := range t.Widths {
			if !(w > 0) {
				return 0, fmt.Errorf("table width %v is not positive", w)
			}
		}
	}
	return n, nil
}

func (d *Doc) validate() error {
	if d.GeneratedAt.IsZero() {
		return fmt.Errorf("export: Doc.GeneratedAt is not set")
	}
	if d.GeneratedBy == "" {
		return fmt.Errorf("export: Doc.GeneratedBy is not set")
	}
	for _, s := range d.Sections {
		if s.Table == nil {
			continue
		}
		if _, err := s.Table.columns(); err != nil {
			return fmt.Errorf("export: section %q: %w", s.Heading, err)
		}
	}
	return nil
}
