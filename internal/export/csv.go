package export

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
)

// WriteCSV writes header (if not nil) and rows as RFC 4180 CSV: UTF-8 with
// a byte order mark, so that spreadsheet programs read non-Latin names
// correctly, and CRLF line ends. A cell that a spreadsheet would take for a
// formula (starting with =, +, -, @, tab or CR) gets a leading apostrophe.
// Every row must have as many cells as the header. CRLF mode turns a line
// break inside a cell into CRLF and drops a lone CR.
func WriteCSV(w io.Writer, header []string, rows [][]string) error {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return fmt.Errorf("export: write csv: %w", err)
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if header != nil {
		if err := cw.Write(defuse(header)); err != nil {
			return fmt.Errorf("export: write csv: %w", err)
		}
	}
	for i, row := range rows {
		if header != nil && len(row) != len(header) {
			return fmt.Errorf("export: csv row %d has %d cells, header has %d", i, len(row), len(header))
		}
		if err := cw.Write(defuse(row)); err != nil {
			return fmt.Errorf("export: write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("export: write csv: %w", err)
	}
	return nil
}

// defuse returns row with formula-like cells prefixed by an apostrophe, so
// that a spreadsheet shows them as text instead of evaluating them.
func defuse(row []string) []string {
	out := make([]string, len(row))
	for i, c := range row {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			c = "'" + c
		}
		out[i] = c
	}
	return out
}
