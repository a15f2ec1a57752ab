package web

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"example.com/fixture/internal/cases"
	"example.com/fixture/internal/edate"
	"example.com/fixture/internal/export"
	"example.com/fixture/internal/notify"
	"example.com/fixture/internal/problem"
)

const (
	greeting = "Welcome, " + "friend."
	route    = "/login"
)

var errInternal = errors.New("internal failure")

func (s *Server) home(w http.ResponseWriter, r *http.Request, db *sql.DB, log *slog.Logger) error {
	v := s.view(r, "Fixture home")
	log.Info("request failed", "path", route)
	rows, err := db.Query("SELECT name FROM things WHERE id = $1", r.URL.Query().Get("id"))
	if err != nil {
		return fmt.Errorf("read things: %w", err)
	}
	defer rows.Close()
	http.Redirect(w, r, route, http.StatusSeeOther)
	_ = v
	return problem.New(problem.NotFound, greeting)
}

func check(name, date string, wait int) error {
	f := problem.Fields{}
	if name == "" {
		f.Add("name", "Say \"hi\" first.")
	}
	checkText(f, "note", name, "Write the note.")
	if _, err := edate.Parse(date); err != nil {
		f.Add("date", err.Error())
	}
	if err := edate.Load(date); err != nil {
		return err
	}
	if wait > 0 {
		return problem.New(problem.Invalid, "Try again in %d seconds.", wait)
	}
	if len(f) > 0 {
		return problem.Field("name", "The name is "+"too long.")
	}
	return errInternal
}

// checkText passes its last parameter to Fields.Add: its callers' texts
// are problems.
func checkText(f problem.Fields, field, value, missing string) {
	if strings.TrimSpace(value) == "" {
		f.Add(field, missing)
	}
}

func mail(ref string, moved bool) notify.Mail {
	verb := "scheduled"
	if moved {
		verb = "moved"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "When: %s\n", ref)
	return notify.Mail{Kind: "visit.scheduled", Key: "visit:" + ref,
		Subject: fmt.Sprintf("Visit %s: case %s", verb, ref),
		Text:    b.String(),
		Invite:  &notify.Invite{Method: "REQUEST", Summary: "Consular visit, case " + ref}}
}

func (s *Server) pdf(v *view) export.Doc {
	return export.Doc{Title: v.T("Case %s", "X-1"), Sections: []export.Section{{
		Heading:    v.T("Person"),
		Paragraphs: []string{"No consular contact recorded."},
		Table:      &export.Table{Header: []string{v.T("Date"), v.T(cases.Sexes.Label("male"))}},
	}}}
}

func (s *Server) csv(v *view) error {
	header := []string{v.T("Reference"), v.T("Updated (UTC)")}
	var buf bytes.Buffer
	return export.WriteCSV(&buf, header, nil)
}
