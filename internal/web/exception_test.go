package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/attache-org/attache/internal/auth"
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
