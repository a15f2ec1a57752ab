package web_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/family"
	"github.com/attache-org/attache/internal/notify"
)

// heldVisit opens the Kovrig case through the pages and records a video
// visit held in October 2020; it returns the case and visit ids.
func heldVisit(t *testing.T, h *harness) (caseID, visitID string) {
	t.Helper()
	officer := h.as(auth.RoleConsularOfficer)
	caseID = strings.TrimPrefix(officer.post("/cases", kovrigForm()).Header.Get("Location"), "/cases/")
	res := officer.api("POST", "/api/v1/cases/"+caseID+"/visits/past",
		`{"modality": "remote_video", "start": "2020-10-10 10:00", "minutes": 30, "note": "virtual consular access"}`)
	var v struct{ ID string }
	decode(t, res, &v)
	if res.StatusCode != 201 || v.ID == "" {
		t.Fatalf("past visit: %d", res.StatusCode)
	}
	return caseID, v.ID
}

// storedBody is the report's body as stored, to show a refusal changed nothing.
func storedBody(t *testing.T, h *harness, visitID string) string {
	t.Helper()
	var body string
	if err := h.db.QueryRowContext(context.Background(), `SELECT body || '#' || state || '#' || version FROM reports WHERE visit_id = $1`, visitID).Scan(&body); err != nil {
		t.Fatal(err)
	}
	return body
}

func TestReportFromDraftToApproval(t *testing.T) {
	h := onSQLite(t)
	ctx := context.Background()
	if _, err := h.db.ExecContext(ctx, `UPDATE users SET email = username || '@example.org'`); err != nil {
		t.Fatal(err)
	}
	caseID, visitID := heldVisit(t, h)
	officer, supervisor := h.as(auth.RoleConsularOfficer), h.as(auth.RoleSupervisor)
	base := "/cases/" + caseID + "/visits/" + visitID
	if res := officer.post(base+"/report", nil); res.StatusCode != 303 {
		t.Fatalf("create: %d %s", res.StatusCode, readBody(t, res))
	}
	if res := officer.post(base+"/report", nil); res.StatusCode != 409 {
		t.Errorf("a second report for the visit: %d", res.StatusCode)
	}
	page := readBody(t, officer.get(base+"/report"))
	if !strings.Contains(page, `name="version" value="1"`) || !strings.Contains(page, "virtual") && !strings.Contains(page, "Save the draft") {
		t.Fatalf("the report form: %s", page)
	}
	form := url.Values{"version": {"1"}, "duration_minutes": {"30"}, "monitored": {"yes"}, "present.host_officials": {"Guard\nMSS official"},
		"allegation.alleged": {"on"}, "allegation.narrative": {"Interrogated at night, 6 to 8 hours."}, "allegation.permission": {"no"},
		"allegation.permission_at": {"2020-10-10"}, "allegation.permission_how": {"verbal"},
		"health.physical": {"Lost weight."}, "summary": {"The detainee was calm and asked about his family."}}
	// Submitting without the statement that it is factual: refused, field shown, nothing saved.
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("action", "submit")
	res := officer.post(base+"/report/save", bad)
	body := readBody(t, res)
	if res.StatusCode != 303 && res.StatusCode != 400 && res.StatusCode != 409 {
		t.Fatalf("submit without factual statement: %d", res.StatusCode)
	}
	// The draft was saved (version 2) but not submitted.
	if st := storedBody(t, h, visitID); !strings.HasSuffix(st, "#draft#2") {
		t.Fatalf("after a refused submission: %s (%d %s)", st, res.StatusCode, body)
	}
	if res.StatusCode == 303 || !strings.Contains(body, "Confirm that the report records facts only") {
		t.Errorf("refused submission: %d, no field error in page", res.StatusCode)
	}
	// Saving again with the allegation raises no second escalation notice.
	form.Set("version", "2")
	if res := officer.post(base+"/report/save", form); res.StatusCode != 303 {
		t.Fatalf("save: %d %s", res.StatusCode, readBody(t, res))
	}
	esc := h.outbox.sent(notify.Escalation)
	recipients := map[string]int{}
	for _, m := range esc {
		if !strings.Contains(m.Key, ":mistreatment:") {
			continue // the case is high profile: that flag was raised when the report was started
		}
		recipients[m.To]++
		if strings.Contains(m.Text, "Interrogated") || strings.Contains(m.Text, "Kovrig") {
			t.Errorf("escalation mail carries case detail: %q", m.Text)
		}
	}
	if recipients["supervisor@example.org"] != 1 || recipients["hq_officer@example.org"] != 1 || recipients["consular_officer@example.org"] != 0 {
		t.Errorf("escalation mails: %v", recipients)
	}
	// A stale version is refused, and so is a crafted save by another post's officer.
	stale := url.Values{"version": {"1"}, "summary": {"overwritten"}}
	if res := officer.post(base+"/report/save", stale); res.StatusCode != 409 {
		t.Errorf("stale save: %d", res.StatusCode)
	}
	outsider, _ := h.auth.CreateUser(ctx, auditSystem(), auth.UserInput{Username: "tehran", DisplayName: "T", Role: auth.RoleConsularOfficer, Post: "Tehran"}, testPassword, false)
	o := h.asUser(outsider)
	before := storedBody(t, h, visitID)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/api/v1" + base + "/report", ""},
		{"PUT", "/api/v1" + base + "/report", `{"version": 3, "body": {"summary": "x"}}`},
	} {
		if res := o.api(tc.method, tc.path, tc.body); res.StatusCode != 404 {
			t.Errorf("outsider %s %s: %d", tc.method, tc.path, res.StatusCode)
		}
	}
	if res := o.get(base + "/report"); res.StatusCode != 404 {
		t.Errorf("outsider reads the report page: %d", res.StatusCode)
	}
	if storedBody(t, h, visitID) != before {
		t.Fatal("a refused request changed the report")
	}

	// Submit through the API; the supervisors are told.
	res = officer.api("POST", "/api/v1"+base+"/report/submit", `{"version": 3}`)
	if body := readBody(t, res); res.StatusCode != 400 {
		t.Errorf("submit without the factual statement (API): %d %s", res.StatusCode, body)
	}
	form.Set("version", "3")
	form.Set("factual_only", "on")
	form.Set("action", "submit")
	if res := officer.post(base+"/report/save", form); res.StatusCode != 303 {
		t.Fatalf("save and submit: %d %s", res.StatusCode, readBody(t, res))
	}
	if st := storedBody(t, h, visitID); !strings.HasSuffix(st, "#submitted#5") {
		t.Fatalf("after submission: %s", st)
	}
	if sub := h.outbox.sent(notify.ReportSubmitted); len(sub) != 1 || sub[0].To != "supervisor@example.org" {
		t.Errorf("submitted notices: %+v", sub)
	}
	// Nobody edits a submitted report; an officer may not approve.
	form.Set("version", "5")
	form.Set("action", "save")
	if res := officer.post(base+"/report/save", form); res.StatusCode != 409 {
		t.Errorf("editing a submitted report: %d", res.StatusCode)
	}
	if res := officer.post(base+"/report/approve", url.Values{"version": {"5"}}); res.StatusCode != 403 {
		t.Errorf("an officer approves: %d", res.StatusCode)
	}
	// The supervisor sees it waiting, on the home page, with the escalation.
	home := readBody(t, supervisor.get("/"))
	if !strings.Contains(home, "Reports waiting for your approval") || !strings.Contains(home, "Allegation of mistreatment") {
		t.Errorf("supervisor's home lacks the pending report or the escalation")
	}
	if res := supervisor.post(base+"/report/return", url.Values{"version": {"5"}}); res.StatusCode != 400 {
		t.Errorf("return without comment: %d", res.StatusCode)
	}
	if res := supervisor.post(base+"/report/approve", url.Values{"version": {"5"}}); res.StatusCode != 303 {
		t.Fatalf("approve: %d %s", res.StatusCode, readBody(t, res))
	}
	approved := storedBody(t, h, visitID)
	if !strings.Contains(approved, "#approved#") {
		t.Fatalf("after approval: %s", approved)
	}
	// An approved report cannot change: not by the page, the API, or a
	// crafted request with the right version.
	for _, tc := range []struct {
		who  *client
		do   func(c *client) int
		name string
	}{
		{officer, func(c *client) int { return c.post(base+"/report/save", form).StatusCode }, "page save"},
		{officer, func(c *client) int {
			return c.post(base+"/report/save", url.Values{"version": {"6"}, "summary": {"rewritten"}, "action": {"save"}}).StatusCode
		}, "crafted save at the current version"},
		{officer, func(c *client) int {
			return c.api("PUT", "/api/v1"+base+"/report", `{"version": 6, "body": {"summary": "rewritten"}}`).StatusCode
		}, "API save"},
		{officer, func(c *client) int {
			return c.api("POST", "/api/v1"+base+"/report/submit", `{"version": 6}`).StatusCode
		}, "API submit"},
		{supervisor, func(c *client) int {
			return c.api("POST", "/api/v1"+base+"/report/approve", `{"version": 6}`).StatusCode
		}, "approve again"},
		{supervisor, func(c *client) int {
			return c.api("POST", "/api/v1"+base+"/report/return", `{"version": 6, "comment": "again"}`).StatusCode
		}, "return an approved report"},
	} {
		if got := tc.do(tc.who); got != 409 {
			t.Errorf("%s: %d, want 409", tc.name, got)
		}
	}
	if storedBody(t, h, visitID) != approved {
		t.Fatal("an approved report changed")
	}
	page = readBody(t, officer.get(base+"/report"))
	if strings.Contains(page, `action="`+base+`/report/save"`) {
		t.Error("the approved report still shows its edit form")
	}
	// The detainee refused permission to raise the allegation: the page says
	// so, and a crafted request to record it raised is refused.
	if page := readBody(t, officer.get(base+"/report")); !strings.Contains(page, "it must not be raised with the authorities") {
		t.Error("the report page does not warn that the allegation must not be raised")
	}
	if res := officer.post(base+"/report/raise", url.Values{"with": {"Ministry of Foreign Affairs"}}); res.StatusCode != 403 {
		t.Errorf("raising without permission (page): %d", res.StatusCode)
	}
	if res := officer.api("POST", "/api/v1"+base+"/report/raise", `{"with": "Ministry of Foreign Affairs"}`); res.StatusCode != 403 {
		t.Errorf("raising without permission (API): %d", res.StatusCode)
	}
	// Corrections are amendments beside the original.
	if res := officer.post(base+"/report/amendments", url.Values{"section": {"health"}, "corrected": {"Lost 5 kg since June."}}); res.StatusCode != 400 {
		t.Errorf("amendment without reason: %d", res.StatusCode)
	}
	if res := officer.post(base+"/report/amendments", url.Values{"section": {"health"}, "corrected": {"Lost 5 kg since June."}, "reason": {"figure given later"}}); res.StatusCode != 303 {
		t.Fatalf("amend: %d %s", res.StatusCode, readBody(t, res))
	}
	if storedBody(t, h, visitID) != approved {
		t.Fatal("an amendment changed the approved report")
	}
	page = readBody(t, officer.get(base+"/report"))
	if !strings.Contains(page, "Lost 5 kg since June.") || !strings.Contains(page, "Lost weight.") {
		t.Error("the report page does not show the original and the amendment")
	}
	// Follow-ups, then the PDF for the file.
	res = officer.post(base+"/report/followups", url.Values{"description": {"Ask for a medical examination"}, "owner": {h.users[auth.RoleConsularOfficer].ID}, "due": {"2099-01-15"}})
	if res.StatusCode != 303 {
		t.Fatalf("follow-up: %d %s", res.StatusCode, readBody(t, res))
	}
	var fu string
	if err := h.db.QueryRowContext(ctx, `SELECT id FROM report_follow_ups WHERE case_id = $1`, caseID).Scan(&fu); err != nil {
		t.Fatal(err)
	}
	if res := officer.post("/cases/"+caseID+"/followups/"+fu+"/done", url.Values{"back": {`/\evil.example/`}}); res.StatusCode != 303 ||
		res.Header.Get("Location") != "/cases/"+caseID {
		t.Errorf("done with a foreign back: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res := officer.post("/cases/"+caseID+"/followups/"+fu+"/done", nil); res.StatusCode != 409 {
		t.Errorf("done twice: %d", res.StatusCode)
	}
	res = officer.get(base + "/report.pdf")
	pdf := readBody(t, res)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("report pdf: %d", res.StatusCode)
	}
	text := pdfText(t, []byte(pdf))
	for _, want := range []string{"Visit report", "PROTECTED B", "Interrogated at night", "Lost 5 kg since June.", "Ask for a medical examination", "Approved"} {
		if !strings.Contains(text, want) {
			t.Errorf("report PDF lacks %q", want)
		}
	}
	if res := o.get(base + "/report.pdf"); res.StatusCode != 404 {
		t.Errorf("outsider gets the PDF: %d", res.StatusCode)
	}
	// The visit page shows the report.
	if page := readBody(t, officer.get(base)); !strings.Contains(page, "Open the report") {
		t.Error("the visit page does not link its report")
	}
	acts := h.auditActions(t)
	for _, a := range []string{"report.create", "report.save", "report.submit", "report.approve", "report.amend", "report.view", "report.export_pdf"} {
		if acts[a] == 0 {
			t.Errorf("no audit entry %s (have %v)", a, fmt.Sprint(len(acts)))
		}
	}
}

// TestDeliverFromTheVisitPage: the family's message waits on the visit
// page, the officer marks it delivered there and comes back to it, and the
// family sees it delivered; a refusal needs its reason.
func TestDeliverFromTheVisitPage(t *testing.T) {
	h := onSQLite(t)
	ctx := context.Background()
	member, caseID := newFamilyMember(t, h, "alice", family.Messages)
	if _, err := h.family.WriteMessage(ctx, cases.Actor{User: member}, caseID, "Happy birthday from all of us."); err != nil {
		t.Fatal(err)
	}
	if _, err := h.family.WriteMessage(ctx, cases.Actor{User: member}, caseID, "A second letter."); err != nil {
		t.Fatal(err)
	}
	officer := h.as(auth.RoleConsularOfficer)
	res := officer.api("POST", "/api/v1/cases/"+caseID+"/visits/past", `{"modality": "in_person", "start": "2020-10-10 10:00", "minutes": 30, "note": "visit"}`)
	var v struct{ ID string }
	decode(t, res, &v)
	page := readBody(t, officer.get("/cases/"+caseID+"/visits/"+v.ID))
	if !strings.Contains(page, "Happy birthday from all of us.") {
		t.Fatal("the visit page does not list the waiting message")
	}
	ids := regexp.MustCompile(`/family/messages/([0-9a-z]+)/delivered`).FindAllStringSubmatch(page, -1)
	if len(ids) != 2 {
		t.Fatalf("delivery forms: %v", ids)
	}
	back := "/cases/" + caseID + "/visits/" + v.ID + "#messages"
	res = officer.post("/cases/"+caseID+"/family/messages/"+ids[0][1]+"/delivered", url.Values{"visit_id": {v.ID}, "how": {"read_at_visit"}, "back": {back}})
	if res.StatusCode != 303 || res.Header.Get("Location") != back {
		t.Fatalf("delivered: %d %q %s", res.StatusCode, res.Header.Get("Location"), readBody(t, res))
	}
	if res := officer.post("/cases/"+caseID+"/family/messages/"+ids[1][1]+"/not-delivered", url.Values{"back": {back}}); res.StatusCode != 400 {
		t.Errorf("not delivered without a reason: %d", res.StatusCode)
	}
	// A "back" that leaves the case is ignored.
	res = officer.post("/cases/"+caseID+"/family/messages/"+ids[1][1]+"/not-delivered", url.Values{"reason": {"refused by the facility"}, "back": {"https://evil.example/"}})
	if res.StatusCode != 303 || !strings.HasPrefix(res.Header.Get("Location"), "/cases/"+caseID) {
		t.Errorf("not delivered: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	// The case page reads the family section as one audited read.
	before := h.auditActions(t)["case.family_view"]
	if page := readBody(t, officer.get("/cases/"+caseID)); !strings.Contains(page, "refused by the facility") {
		t.Error("the case page's family section does not show the outcome")
	}
	if acts := h.auditActions(t); acts["case.family_view"] != before+1 || acts["case.family_contacts_view"] != 0 {
		t.Errorf("family section audit: %d view entries (was %d), %d contact-list entries", acts["case.family_view"], before, acts["case.family_contacts_view"])
	}
	portal := readBody(t, h.asUser(member).get("/family"))
	if !strings.Contains(portal, "refused by the facility") || strings.Contains(readBody(t, officer.get("/cases/"+caseID+"/visits/"+v.ID)), "Happy birthday") {
		t.Error("after delivery: the family does not see the outcome, or the message still waits")
	}
}

// TestNoticePreferences: a person turns notices off on their account page;
// escalations stay on whatever the form says, and an unknown kind is
// refused with nothing changed.
func TestNoticePreferences(t *testing.T) {
	h := onSQLite(t)
	ctx := context.Background()
	officer := h.as(auth.RoleConsularOfficer)
	page := readBody(t, officer.get("/account"))
	if !strings.Contains(page, `value="visit.reminder" checked`) {
		t.Fatalf("the account page does not offer the notices: %s", page)
	}
	if strings.Contains(page, `value="report.submitted"`) || strings.Contains(page, `value="report.escalation"`) {
		t.Error("an officer is offered notices that never reach them (reports to approve, escalations)")
	}
	if page := readBody(t, h.as(auth.RoleSupervisor).get("/account")); !strings.Contains(page, `value="report.escalation" checked disabled`) {
		t.Error("a supervisor is not shown escalations as always sent")
	}
	id := h.users[auth.RoleConsularOfficer].ID
	if res := officer.post("/account/notices", url.Values{"kind": {"visit.scheduled", "nonsense"}}); res.StatusCode != 400 {
		t.Errorf("an unknown kind: %d", res.StatusCode)
	}
	prefs, err := notify.Preferences(ctx, h.db, id)
	if err != nil {
		t.Fatal(err)
	}
	if !prefs[notify.VisitReminder] || !prefs[notify.VisitChanged] {
		t.Fatalf("a refused form changed the preferences: %v", prefs)
	}
	if res := officer.post("/account/notices", url.Values{"kind": {"visit.scheduled", "visit.changed", "visit.cancelled"}}); res.StatusCode != 303 {
		t.Fatalf("save: %d %s", res.StatusCode, readBody(t, res))
	}
	prefs, _ = notify.Preferences(ctx, h.db, id)
	if prefs[notify.VisitReminder] || prefs[notify.FamilyMessage] || !prefs[notify.VisitScheduled] || !prefs[notify.Escalation] {
		t.Errorf("after saving: %v", prefs)
	}
	if page := readBody(t, officer.get("/account")); strings.Contains(page, `value="visit.reminder" checked`) {
		t.Error("the page still shows reminders on")
	}
	if h.auditActions(t)["account.notices"] != 1 {
		t.Error("the change of notices is not audited")
	}
}
