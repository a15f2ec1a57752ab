package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/family"
)

// familyShares reads, through the family API, what a family member's
// first case shares with them.
func familyShares(t *testing.T, c *client) []string {
	t.Helper()
	res := c.api("GET", "/api/v1/family", "")
	var got struct {
		Cases []struct {
			Shared []string `json:"shared"`
		} `json:"cases"`
	}
	if err := json.Unmarshal([]byte(readBody(t, res)), &got); err != nil || len(got.Cases) != 1 {
		t.Fatalf("the family API: %d %v %+v", res.StatusCode, err, got)
	}
	return got.Cases[0].Shared
}

// cloneForm copies a form (post adds the client's CSRF token to it).
func cloneForm(f url.Values) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = slices.Clone(v)
	}
	return out
}

// A disclosure without consent through the pages and the API: only a
// supervisor sees the form and may post it; bad input is refused with the
// field's error and records nothing; once authorised, the family sees what
// it covers until an officer ends it.
func TestDisclosureWithoutConsentThroughPages(t *testing.T) {
	h := onSQLite(t)
	officer, chief := h.as(auth.RoleConsularOfficer), h.as(auth.RoleSupervisor)
	meng, id := newFamilyMember(t, h, "meng", family.Messages)
	contact := famOne(t, h, `SELECT id FROM family_contacts WHERE case_id = $1`, id)
	relative := h.asUser(meng)
	count := func() int { return famCount(t, h, `SELECT COUNT(*) FROM family_disclosure_exceptions`) }
	base := "/cases/" + id + "/family/exceptions"
	valid := url.Values{"contact_id": {contact}, "categories": {"health", "legal"}, "reason": {"risk_to_life"}, "days": {"5"},
		"justification": {"A hunger strike since 2 May; his mother must know he is in the prison hospital."}}

	page := readBody(t, officer.get("/cases/"+id))
	if !strings.Contains(page, "Disclosure without consent") || strings.Contains(page, `action="`+base+`"`) {
		t.Error("the officer's case page: the section, without the supervisor's form")
	}
	if res := officer.post(base, cloneForm(valid)); res.StatusCode != http.StatusForbidden {
		t.Errorf("an officer authorises: %d", res.StatusCode)
	}
	if res := officer.api("POST", "/api/v1"+base, `{"contact_id": "`+contact+`", "categories": ["health"], "reason": "risk_to_life", "days": 3,
		"justification": "A hunger strike since 2 May, he is in the prison hospital."}`); res.StatusCode != http.StatusForbidden {
		t.Errorf("an officer authorises by API: %d", res.StatusCode)
	}
	if !strings.Contains(readBody(t, chief.get("/cases/"+id)), `action="`+base+`"`) {
		t.Error("the supervisor's case page has no form to authorise")
	}
	for _, tc := range []struct {
		name  string
		edit  func(url.Values)
		words string
	}{
		{"no reason", func(f url.Values) { f.Del("reason") }, "Choose the reason from the list."},
		{"short justification", func(f url.Values) { f.Set("justification", "urgent") }, "in a sentence or two"},
		{"days not a number", func(f url.Values) { f.Set("days", "a week") }, "Give a number of days from 1 to 30."},
		{"messages", func(f url.Values) { f["categories"] = []string{"messages"} }, "Messages are the detainee&#39;s own"},
	} {
		form := cloneForm(valid)
		tc.edit(form)
		// The form comes back with what was posted.
		wantPost(t, chief, base, form, http.StatusBadRequest, tc.words, `value="`+contact+`" selected`,
			form.Get("justification")+"</textarea>")
	}
	wantPost(t, chief, base, func() url.Values { f := cloneForm(valid); f.Set("days", "45"); return f }(), http.StatusBadRequest,
		`value="45"`, `value="health" checked`, `value="legal" checked`, `value="risk_to_life" checked`)
	if res := chief.api("POST", "/api/v1"+base, `{"contact_id": "`+contact+`", "categories": ["messages"], "reason": "risk_to_life", "days": 3,
		"justification": "A hunger strike since 2 May, he is in the prison hospital."}`); res.StatusCode != http.StatusBadRequest {
		t.Errorf("messages by API: %d", res.StatusCode)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d exceptions after refusals", n)
	}
	if got := familyShares(t, relative); !slices.Equal(got, []string{"messages"}) {
		t.Fatalf("before: the family sees %v", got)
	}

	// Authorised through the page, then another through the API.
	wantPost(t, chief, base, cloneForm(valid), http.StatusSeeOther)
	page = readBody(t, officer.get("/cases/"+id))
	if !strings.Contains(page, "his mother must know he is in the prison hospital") || !strings.Contains(page, "Authorised by") {
		t.Error("the case page does not show the exception")
	}
	if got := familyShares(t, relative); !slices.Equal(got, []string{"health", "legal", "messages"}) {
		t.Errorf("under the exception the family sees %v", got)
	}
	res := chief.api("POST", "/api/v1"+base, `{"contact_id": "`+contact+`", "categories": ["location"], "reason": "incapacity", "days": 2,
		"justification": "He cannot speak since the stroke of 3 May; his family asks where he is."}`)
	var e family.Exception
	if err := json.Unmarshal([]byte(readBody(t, res)), &e); res.StatusCode != http.StatusCreated || err != nil || e.State != family.ExceptionActive {
		t.Fatalf("authorise by API: %d %v %+v", res.StatusCode, err, e)
	}
	res = officer.api("GET", "/api/v1/cases/"+id+"/family", "")
	var sec struct {
		Exceptions []family.Exception `json:"exceptions"`
	}
	if err := json.Unmarshal([]byte(readBody(t, res)), &sec); err != nil || len(sec.Exceptions) != 2 || sec.Exceptions[0].ID != e.ID {
		t.Errorf("the family API lists %+v (%v)", sec.Exceptions, err)
	}

	// An officer ends the first by the page, the second by the API.
	first := famOne(t, h, `SELECT id FROM family_disclosure_exceptions WHERE reason = 'risk_to_life'`)
	wantPost(t, officer, base+"/"+first+"/end", url.Values{"note": {"He eats again and can decide."}}, http.StatusSeeOther)
	wantPost(t, officer, base+"/"+first+"/end", url.Values{}, http.StatusConflict, "no longer counts")
	if res := officer.api("POST", "/api/v1"+base+"/"+e.ID+"/end", `{}`); res.StatusCode != http.StatusNoContent {
		t.Errorf("end by API: %d", res.StatusCode)
	}
	if got := familyShares(t, relative); !slices.Equal(got, []string{"messages"}) {
		t.Errorf("after the end the family sees %v", got)
	}
	if body := readBody(t, officer.get("/cases/"+id)); !strings.Contains(body, "Earlier disclosures without consent (2)") || !strings.Contains(body, "He eats again") {
		t.Error("the case page does not list the ended exceptions")
	}
	acts := h.auditActions(t)
	if acts["family.exception_authorise"] != 2 || acts["family.exception_end"] != 2 {
		t.Errorf("audited %d authorisations and %d ends", acts["family.exception_authorise"], acts["family.exception_end"])
	}
}

// An update for a contact to print or post holds what their family pages
// would show them, and nothing consent withholds; it is audited as a
// disclosure to them.
func TestFamilyUpdatePDF(t *testing.T) {
	h := onSQLite(t)
	ctx := context.Background()
	officer := h.as(auth.RoleConsularOfficer)
	meng, id := newFamilyMember(t, h, "meng", family.Visits, family.Messages)
	contact := famOne(t, h, `SELECT id FROM family_contacts WHERE case_id = $1`, id)
	if res := officer.api("POST", "/api/v1/cases/"+id+"/visits", `{"modality": "remote_video", "start": "2099-03-02 10:00", "zone": "UTC", "minutes": 30}`); res.StatusCode != http.StatusCreated {
		t.Fatalf("book a visit: %d %s", res.StatusCode, readBody(t, res))
	}
	if _, err := h.family.WriteSummary(ctx, famOfficer(h), id, family.SummaryInput{ContactID: contact, Categories: []family.Category{family.Visits},
		Text: "The March visit is confirmed."}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.family.WriteMessage(ctx, cases.Actor{User: meng, Address: "198.51.100.7"}, id, "We are all well at home."); err != nil {
		t.Fatal(err)
	}
	released, err := h.family.RecordFromDetainee(ctx, famOfficer(h), id, contact, "", "Thank you for the books.")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.family.Release(ctx, famOfficer(h), id, released.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.family.RecordFromDetainee(ctx, famOfficer(h), id, contact, "", "Held back: not for the family yet."); err != nil {
		t.Fatal(err)
	}
	// Legal status was consented to, then withdrawn: the family is told
	// only that it is not shared.
	legal, err := h.family.RecordConsent(ctx, famOfficer(h), id, family.ConsentInput{Recipients: []string{contact}, Categories: []family.Category{family.Legal},
		Given: yesterday(), Method: "written"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.family.WithdrawConsent(ctx, famOfficer(h), id, legal.ID, family.Withdrawal{Date: yesterday(), Method: "written"}); err != nil {
		t.Fatal(err)
	}
	path := "/cases/" + id + "/family/contacts/" + contact + "/update.pdf"
	res := officer.get(path)
	pdf := readBody(t, res)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	text := pdfText(t, []byte(pdf))
	for _, want := range []string{"Update for Relative meng", "Mar. 2, 2099, 10:00 a.m.", "The March visit is confirmed.", "We are all well at home.",
		"Thank you for the books.", "has not consented to share health information with Relative meng",
		"has not consented to share their legal status with Relative meng"} {
		if !strings.Contains(text, want) {
			t.Errorf("the update lacks %q:\n%s", want, text)
		}
	}
	for _, not := range []string{"Held back", "withdrawn", "CN-", "PROTECTED", "Legal status"} {
		if strings.Contains(text, not) {
			t.Errorf("the update holds %q:\n%s", not, text)
		}
	}
	if !strings.Contains(text, "PERSONAL: FOR RELATIVE MENG") {
		t.Errorf("the update is not marked personal:\n%s", text)
	}
	if e := famOne(t, h, `SELECT detail FROM audit_log WHERE action = 'family.update_export'`); !strings.Contains(e, "disclosed=visits,messages") {
		t.Errorf("the export audited %q", e)
	}

	// Nobody else gets it: a family member, an auditor, another post, a
	// contact of another case, an archived contact.
	outsider, err := h.auth.CreateUser(ctx, auditSystem(), auth.UserInput{Username: "tehran", DisplayName: "T", Role: auth.RoleConsularOfficer, Post: "Tehran"}, testPassword, false)
	if err != nil {
		t.Fatal(err)
	}
	_, other := newFamilyMember(t, h, "peter", family.Visits)
	for _, tc := range []struct {
		name string
		c    *client
		path string
		code int
	}{
		{"family member", h.asUser(meng), path, http.StatusForbidden},
		{"auditor", h.as(auth.RoleAuditor), path, http.StatusForbidden},
		{"officer of another post", h.asUser(outsider), path, http.StatusNotFound},
		{"contact of another case", officer, "/cases/" + other + "/family/contacts/" + contact + "/update.pdf", http.StatusNotFound},
	} {
		if res := tc.c.get(tc.path); res.StatusCode != tc.code || res.Header.Get("Content-Type") == "application/pdf" {
			t.Errorf("%s: %d, want %d", tc.name, res.StatusCode, tc.code)
		}
	}
	if err := h.family.ArchiveContact(ctx, famOfficer(h), id, contact, "moved abroad"); err != nil {
		t.Fatal(err)
	}
	if res := officer.get(path); res.StatusCode != http.StatusConflict {
		t.Errorf("an archived contact's update: %d", res.StatusCode)
	}
	if n := famCount(t, h, `SELECT COUNT(*) FROM audit_log WHERE action = 'family.update_export'`); n != 1 {
		t.Errorf("%d exports audited, want 1", n)
	}
}
