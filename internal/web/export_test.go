package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/testenv"
)

// pdfText extracts a PDF's text with poppler's pdftotext, a parser we did
// not write.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		testenv.Missing(t, "pdftotext", "install poppler-utils")
	}
	f := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", f, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

func TestCaseExports(t *testing.T) {
	h := onSQLite(t)
	officer := h.as(auth.RoleConsularOfficer)
	id := strings.TrimPrefix(officer.post("/cases", kovrigForm()).Header.Get("Location"), "/cases/")
	if id == "" {
		t.Fatal("no case")
	}
	outsider, _ := h.auth.CreateUser(context.Background(), auditSystem(), auth.UserInput{Username: "tehran", DisplayName: "T",
		Role: auth.RoleConsularOfficer, Post: "Tehran"}, testPassword, false)
	o := h.asUser(outsider)

	res := officer.get("/cases.csv")
	body := readBody(t, res)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || !strings.HasPrefix(body, "\ufeff") ||
		!strings.Contains(body, "Michael Kovrig") || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv: %d %q %q", res.StatusCode, res.Header, body)
	}
	res = o.get("/cases.csv")
	if body := readBody(t, res); res.StatusCode != 200 || strings.Contains(body, "Kovrig") || strings.Count(body, "\r\n") != 1 {
		t.Errorf("an officer of another post exports: %d %q", res.StatusCode, body)
	}
	if res := h.as(auth.RoleAuditor).get("/cases.csv"); res.StatusCode != 403 {
		t.Errorf("auditor exports cases: %d", res.StatusCode)
	}
	// More cases than a page of the list: the export has them all. (The
	// copies share the Kovrig case's person, enough for a list.)
	if _, err := h.db.ExecContext(context.Background(), `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 520)
		INSERT INTO cases (id, reference, person_id, status, legal_status, detaining_state, detention_type, priority, classification, post, desk,
			opened_at, created_at, updated_at)
		SELECT c.id || '-' || n.i, 'CN-COPY-' || n.i, c.person_id, c.status, c.legal_status, c.detaining_state, c.detention_type, c.priority,
			c.classification, c.post, c.desk, c.opened_at, c.created_at, c.updated_at FROM cases c, n WHERE c.id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, officer.get("/cases.csv")); strings.Count(body, "\r\n") != 522 || !strings.Contains(body, "CN-COPY-520") {
		t.Errorf("the export of 521 cases has %d lines", strings.Count(body, "\r\n"))
	}

	res = officer.get("/cases/" + id + "/summary.pdf")
	pdf := readBody(t, res)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf, "%PDF-") {
		t.Fatalf("pdf: %d %q", res.StatusCode, res.Header)
	}
	text := pdfText(t, []byte(pdf))
	for _, want := range []string{"Michael Kovrig", "PROTECTED B", "Pretrial", "Consular access", "The consular_officer"} {
		if !strings.Contains(text, want) {
			t.Errorf("case summary lacks %q:\n%s", want, text)
		}
	}
	// Names, not codes, in the reader's language: countries, scripts,
	// languages.
	officer.cookies["attache_lang"] = "fr"
	text = pdfText(t, []byte(readBody(t, officer.get("/cases/"+id+"/summary.pdf"))))
	for _, want := range []string{"Chine", "Canada", "Latin", "anglais"} {
		if !strings.Contains(text, want) {
			t.Errorf("the French case summary lacks %q:\n%s", want, text)
		}
	}
	for _, code := range []string{"(Latn)", "(Hans)", "\nCN\n"} {
		if strings.Contains(text, code) {
			t.Errorf("the French case summary shows the code %q", code)
		}
	}
	if csv := readBody(t, officer.get("/cases.csv")); !strings.Contains(csv, ",Chine,") {
		t.Errorf("the French CSV does not name the detaining state")
	}
	delete(officer.cookies, "attache_lang")
	if res := o.get("/cases/" + id + "/summary.pdf"); res.StatusCode != 404 {
		t.Errorf("an officer of another post gets the summary: %d", res.StatusCode)
	}
	acts := h.auditActions(t)
	if acts["case.export_pdf"] != 2 || acts["case.export_csv"] != 4 {
		t.Errorf("exports audited: pdf %d csv %d", acts["case.export_pdf"], acts["case.export_csv"])
	}
}
