package export

import (
	"fmt"
	"strings"
	"time"
)

var generatedAt = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// smallDoc is a one-page document titled title.
func smallDoc(title string) Doc {
	return Doc{
		Title:          title,
		Classification: "PROTECTED B",
		GeneratedAt:    generatedAt,
		GeneratedBy:    "Élodie Tremblay",
	}
}

// sampleDoc has names in several scripts, a 300-line paragraph and a
// 60-row table, over several pages.
func sampleDoc() Doc {
	var long []string
	for i := 1; i <= 300; i++ {
		long = append(long, fmt.Sprintf("Line %03d of the long paragraph, about the conditions of detention.", i))
	}
	var rows [][]string
	for i := 1; i <= 60; i++ {
		rows = append(rows, []string{fmt.Sprintf("2026-02-%02d", i%28+1), fmt.Sprintf("Row %02d", i),
			"Visited by the consul; the detainee asked for a French-speaking lawyer and reading glasses."})
	}
	d := smallDoc("Visit report — Ivan Petrov")
	d.Subtitle = "Case 2026-0042, Centre de détention de Montréal"
	d.Sections = []Section{
		{Heading: "Detainee", Fields: []Field{
			{"Name", "John Smith"},
			{"Name (Cyrillic)", "Иван Петров"},
			{"Place of detention", "Établissement de détention, Trois-Rivières (Québec) — cellule où l’on garde « les prévenus »"},
			{"Lawyer", "Ame\u0301lie Lefe\u0300vre"},
		}},
		{Heading: "Notes", Paragraphs: []string{strings.Join(long, "\n")}},
		{Heading: "Visits", Table: &Table{Header: []string{"Date", "Visit", "Summary"}, Rows: rows}},
	}
	return d
}

// tenPageDoc is a case summary of ten pages.
func tenPageDoc() Doc {
	d := smallDoc("Case summary — Иван Петров")
	d.Subtitle = "Case 2026-0042"
	para := strings.Repeat("The detainee reports adequate food and access to medical care; the consul will follow up on the request for a French-speaking lawyer. ", 6)
	var rows [][]string
	for i := 1; i <= 155; i++ {
		rows = append(rows, []string{fmt.Sprintf("2026-01-%02d", i%28+1), "Visit", fmt.Sprintf("Visit %d: %s", i, para[:150])})
	}
	d.Sections = []Section{
		{Heading: "Detainee", Fields: []Field{{"Name", "Иван Петров"}, {"Born", "1980-05-17"}, {"Detained at", "Centre de détention de Montréal"}}},
		{Heading: "Notes", Paragraphs: []string{para, para, para, para, para, para, para, para, para, para, para, para}},
		{Heading: "Visits", Table: &Table{Header: []string{"Date", "Kind", "Summary"}, Rows: rows}},
	}
	return d
}
