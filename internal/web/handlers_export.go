package web

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/access"
	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/export"
	"github.com/attache-org/attache/internal/reports"
	"github.com/attache-org/attache/internal/visits"
)

// Exports are documents for the file: a case summary and a visit report as
// PDF, the case list as CSV. Each holds only what its reader may see (the
// same services as the pages, with need-to-know), is audited as an export,
// and is marked with the case's classification on every page.

// casesCSV is the case list, with the list page's filters, as CSV.
func (s *Server) casesCSV(w http.ResponseWriter, r *http.Request) error {
	// Every case the filter selects, a page of 500 at a time (the list
	// service's largest).
	f := caseFilter(r.URL.Query())
	var list []cases.Summary
	for f.Limit, f.Offset = 500, 0; ; f.Offset += f.Limit {
		page, err := s.Cases.Cases(r.Context(), s.actor(r), f)
		if err != nil {
			return err
		}
		list = append(list, page...)
		if len(page) < f.Limit {
			break
		}
	}
	v := s.view(r, "Cases")
	header := []string{v.T("Reference"), v.T("Person"), v.T("Status"), v.T("Legal status"), v.T("Detaining state"), v.T("Facility"),
		v.T("Post"), v.T("Desk"), v.T("Priority"), v.T("High profile"), v.T("Arrested"), v.T("Updated (UTC)")}
	rows := make([][]string, 0, len(list))
	for _, c := range list {
		high := ""
		if c.HighProfile {
			high = v.T("yes")
		}
		rows = append(rows, []string{c.Reference, c.PersonName, v.T(cases.CaseStatuses.Label(c.Status)), v.T(cases.LegalStatuses.Label(c.LegalStatus)),
			v.Country(c.DetainingState), c.FacilityName, c.Post, c.Desk, v.T(cases.Priorities.Label(c.Priority)), high, c.Arrested.String(),
			c.UpdatedAt.UTC().Format("2006-01-02 15:04")})
	}
	var buf bytes.Buffer
	if err := export.WriteCSV(&buf, header, rows); err != nil {
		return err
	}
	if err := s.Audit.Record(r.Context(), audit.Entry{Actor: stateOf(r).actor(), Action: "case.export_csv", ObjectType: "case",
		Detail: fmt.Sprintf("%d cases, filter %s", len(rows), r.URL.RawQuery)}); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="cases-`+time.Now().UTC().Format("20060102")+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write(buf.Bytes())
	return err
}

// pdfDoc starts a document with the reader's name, the time and the
// footer's words in the reader's language.
func (s *Server) pdfDoc(v *view, title, subtitle, classification string) export.Doc {
	return export.Doc{Title: title, Subtitle: subtitle, Classification: strings.ToUpper(v.T(cases.Classifications.Label(classification))),
		GeneratedAt: time.Now().UTC(), GeneratedBy: v.User.DisplayName, Language: v.Lang,
		Labels: export.Labels{Page: v.T("Page %d of %d"), Generated: v.T("Generated %s by %s"), TimeLayout: "2006-01-02 15:04 UTC"}}
}

// sendPDF renders d and sends it as a download.
func (s *Server) sendPDF(w http.ResponseWriter, d export.Doc, filename string) error {
	var buf bytes.Buffer
	if err := export.WritePDF(&buf, d, export.PDFOptions{ExtraFonts: s.PDFFonts}); err != nil {
		return fmt.Errorf("render %s: %w", filename, err)
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write(buf.Bytes())
	return err
}

// caseSummaryPDF is the case file as a PDF: the person, the detention, the
// charges, the access record, the visits and the timeline.
func (s *Server) caseSummaryPDF(w http.ResponseWriter, r *http.Request) error {
	ctx, a := r.Context(), s.actor(r)
	c, timeline, err := s.Cases.CaseFile(ctx, a, r.PathValue("id"))
	if err != nil {
		return err
	}
	acc, err := s.Access.ForCase(ctx, a, c.ID, "")
	if err != nil {
		return err
	}
	booked, err := s.Visits.ForCase(ctx, a, c.ID)
	if err != nil {
		return err
	}
	v := s.view(r, "Case")
	d := s.pdfDoc(v, v.T("Case %s", c.Reference), c.Person.DisplayName, c.Classification)
	person := export.Section{Heading: v.T("Person")}
	for _, n := range c.Person.Names {
		person.Fields = append(person.Fields, export.Field{Key: v.T(cases.NameKinds.Label(n.Kind)) + " (" + v.T(cases.Scripts.Label(n.Script)) + ")", Value: n.Value})
	}
	person.Fields = append(person.Fields, export.Field{Key: v.T("Born"), Value: v.Human(c.Person.Birth)},
		export.Field{Key: v.T("Sex"), Value: v.T(cases.Sexes.Label(c.Person.Sex))})
	var nat []string
	for _, n := range c.Person.Nationalities {
		nat = append(nat, v.Country(n.Country))
	}
	var langs []string
	for _, l := range c.Person.Languages {
		langs = append(langs, v.Language(l))
	}
	person.Fields = append(person.Fields, export.Field{Key: v.T("Nationalities"), Value: strings.Join(nat, ", ")},
		export.Field{Key: v.T("Languages"), Value: strings.Join(langs, ", ")})
	if len(c.Person.Vulnerabilities) > 0 {
		var vs []string
		for _, x := range c.Person.Vulnerabilities {
			vs = append(vs, v.T(cases.Vulnerabilities.Label(x)))
		}
		person.Fields = append(person.Fields, export.Field{Key: v.T("Vulnerabilities"), Value: strings.Join(vs, ", ")})
	}
	facility := ""
	if c.Facility != nil && len(c.Facility.Names) > 0 {
		facility = c.Facility.Names[0].Value
	}
	detention := export.Section{Heading: v.T("Detention"), Fields: []export.Field{
		{Key: v.T("Status"), Value: v.T(cases.CaseStatuses.Label(c.Status))},
		{Key: v.T("Legal status"), Value: v.T(cases.LegalStatuses.Label(c.LegalStatus))},
		{Key: v.T("Detaining state"), Value: v.Country(c.DetainingState)},
		{Key: v.T("Detaining authority"), Value: c.DetainingAuthority},
		{Key: v.T("Detention"), Value: v.T(cases.DetentionTypes.Label(c.DetentionType))},
		{Key: v.T("Facility"), Value: facility},
		{Key: v.T("Arrested"), Value: v.Human(c.Arrested)},
		{Key: v.T("Notified"), Value: v.Human(c.Notified)},
		{Key: v.T("Lawyer"), Value: c.Lawyer},
		{Key: v.T("Post / desk"), Value: c.Post + " / " + c.Desk},
	}}
	if c.Summary != "" {
		detention.Paragraphs = append(detention.Paragraphs, c.Summary)
	}
	if c.Position != "" {
		detention.Paragraphs = append(detention.Paragraphs, v.T("Our position")+": "+c.Position)
	}
	d.Sections = append(d.Sections, person, detention)
	if len(c.Charges) > 0 {
		t := &export.Table{Header: []string{v.T("Charged"), v.T("Charge (original)"), v.T("Translation")}}
		for _, ch := range c.Charges {
			t.Rows = append(t.Rows, []string{v.Human(ch.Charged), ch.Original, ch.Translation})
		}
		d.Sections = append(d.Sections, export.Section{Heading: v.T("Charges"), Table: t})
	}
	clock := acc.Clock
	accessSec := export.Section{Heading: v.T("Consular access")}
	if clock.LastContact != nil {
		accessSec.Fields = append(accessSec.Fields, export.Field{Key: v.T("Last contact"), Value: v.Human(clock.LastContact.Happened) + " (" + v.T(access.Modes.Label(clock.LastContact.Mode)) + ")"},
			export.Field{Key: v.T("Days since contact"), Value: fmt.Sprint(clock.DaysSinceContact)})
	} else {
		accessSec.Paragraphs = append(accessSec.Paragraphs, v.T("No consular contact recorded."))
	}
	if len(acc.Requests) > 0 {
		t := &export.Table{Header: []string{v.T("Sent"), v.T("Asked for"), v.T("Channel"), v.T("Status"), v.T("Answer")}}
		for _, rq := range acc.Requests {
			sent := ""
			if !rq.SentAt.IsZero() {
				sent = rq.SentAt.UTC().Format("2006-01-02")
			}
			asked := v.T(access.Modes.Label(rq.Mode))
			if rq.Wanted != "" {
				asked += " — " + rq.Wanted
			}
			t.Rows = append(t.Rows, []string{sent, asked, v.T(access.Channels.Label(rq.Channel)), v.T(access.Statuses.Label(rq.Status)),
				strings.TrimSpace(rq.Answer + " " + rq.Reason)})
		}
		accessSec.Table = t
	}
	d.Sections = append(d.Sections, accessSec)
	if len(booked) > 0 {
		t := &export.Table{Header: []string{v.T("When (facility time)"), v.T("Modality"), v.T("Status"), v.T("People")}}
		for _, bv := range booked {
			var people []string
			for _, p := range bv.Participants {
				people = append(people, p.Name+" ("+v.T(visits.ParticipantRoles.Label(p.Role))+")")
			}
			t.Rows = append(t.Rows, []string{v.Local(bv.Starts, bv.Zone), v.T(visits.Modalities.Label(bv.Modality)), v.T(visits.Statuses.Label(bv.Status)),
				strings.Join(people, ", ")})
		}
		d.Sections = append(d.Sections, export.Section{Heading: v.T("Visits"), Table: t})
	}
	if more, err := s.reportSections(r, v, c.ID); err != nil {
		return err
	} else {
		d.Sections = append(d.Sections, more...)
	}
	if len(timeline) > 0 {
		t := &export.Table{Header: []string{v.T("Date"), v.T("Event"), v.T("Source")}}
		for _, e := range timeline {
			text := v.EventTitle(e)
			if body := v.EventBody(e); body != "" {
				text += "\n" + body
			}
			t.Rows = append(t.Rows, []string{v.Human(e.Happened), text, strings.TrimSpace(v.T(cases.SourceKinds.Label(e.SourceKind)) + " " + e.SourceRef)})
		}
		d.Sections = append(d.Sections, export.Section{Heading: v.T("Timeline"), Table: t})
	}
	if err := s.Audit.Record(ctx, audit.Entry{Actor: stateOf(r).actor(), Action: "case.export_pdf", ObjectType: "case", ObjectID: c.ID}); err != nil {
		return err
	}
	return s.sendPDF(w, d, "case-"+c.Reference+".pdf")
}

// reportSections lists the case's visit reports for the case summary.
func (s *Server) reportSections(r *http.Request, v *view, caseID string) ([]export.Section, error) {
	list, err := s.Reports.ForCase(r.Context(), s.actor(r), caseID)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	t := &export.Table{Header: []string{v.T("Visit (UTC)"), v.T("Report"), v.T("Written by"), v.T("Escalations")}}
	for _, rp := range list {
		var flags []string
		for _, f := range rp.Flags {
			flags = append(flags, v.T(reports.Vocab.Flags.Label(f)))
		}
		t.Rows = append(t.Rows, []string{rp.VisitStarts.UTC().Format("2006-01-02 15:04"), v.T(reports.Vocab.States.Label(rp.State)), rp.AuthorName,
			strings.Join(flags, ", ")})
	}
	return []export.Section{{Heading: v.T("Visit reports"), Paragraphs: []string{v.T("Each report is exported on its own from its visit.")}, Table: t}}, nil
}

// zoneOf is the time zone of the case's facility, or UTC.
func zoneOf(c *cases.Case) string {
	if c.Facility != nil && c.Facility.TimeZone != "" {
		return c.Facility.TimeZone
	}
	return "UTC"
}

// auditEntry is an audit entry about a case, by the request's user.
func auditEntry(st *reqState, action, caseID, detail string) audit.Entry {
	return audit.Entry{Actor: st.actor(), Action: action, ObjectType: "case", ObjectID: caseID, Detail: detail}
}
