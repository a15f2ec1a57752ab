package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/attache-org/attache/internal/auth"
)

// kovrigForm is the new-case form for the seed case.
func kovrigForm() url.Values {
	return url.Values{
		"names.0.value": {"Michael Kovrig"}, "names.0.script": {"Latn"}, "names.0.lang": {"en"}, "names.0.kind": {"legal"},
		"names.1.value": {"康明凯"}, "names.1.script": {"Hans"}, "names.1.lang": {"zh"}, "names.1.kind": {"local_chosen"},
		"names.2.value": {""}, "names.2.script": {"Latn"}, "names.2.kind": {"alias"},
		"display": {"0"}, "sex": {"male"}, "nationalities": {"CA yes passport"}, "languages": {"en zh"},
		"status": {"open"}, "legal_status": {"pretrial"}, "detaining_state": {"CN"}, "detention_type": {"rsdl"},
		"arrested": {"2018-12-10 22:00"}, "arrested_zone": {"Asia/Shanghai"}, "priority": {"urgent"},
		"classification": {"protected_b"}, "post": {"Beijing"}, "desk": {"China"}, "high_profile": {"on"},
	}
}

func caseCount(t *testing.T, h *harness) int {
	var n int
	if err := h.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM cases`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOpenCaseThroughTheForm(t *testing.T) {
	h := onSQLite(t)
	c := h.as(auth.RoleConsularOfficer)
	if res := c.get("/cases/new"); res.StatusCode != 200 {
		t.Fatalf("new case form: %d", res.StatusCode)
	}
	// Bad input comes back next to its field and changes nothing.
	bad := kovrigForm()
	bad.Set("arrested", "2018-02-30")
	bad.Set("names.1.script", "Latn")
	res := c.post("/cases", bad)
	body := readBody(t, res)
	if res.StatusCode != 400 || !strings.Contains(body, "(it has 28 days)") || !strings.Contains(body, "not in the chosen script") {
		t.Fatalf("bad form: %d", res.StatusCode)
	}
	if caseCount(t, h) != 0 {
		t.Fatal("a refused form opened a case")
	}
	res = c.post("/cases", kovrigForm())
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/cases/") {
		t.Fatalf("open: %d %s", res.StatusCode, readBody(t, res))
	}
	caseURL := res.Header.Get("Location")
	body = readBody(t, c.get(caseURL))
	for _, want := range []string{"Michael Kovrig", "康明凯", "CN-2018-0001", "December 10, 2018 10:00 p.m. (Asia/Shanghai)", "Residential surveillance at a designated location"} {
		if !strings.Contains(body, want) {
			t.Errorf("case page lacks %q", want)
		}
	}
	// Opening the same person again shows the match first and opens nothing.
	again := kovrigForm()
	again.Set("names.0.value", "Kovrig, Michael")
	again.Set("names.1.value", "康明凱")
	again.Set("names.1.script", "Hant")
	res = c.post("/cases", again)
	body = readBody(t, res)
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, "Already on file") || !strings.Contains(body, "CN-2018-0001") {
		t.Fatalf("duplicate: %d", res.StatusCode)
	}
	if caseCount(t, h) != 1 {
		t.Fatal("a duplicate opened a case")
	}
	// The officer chooses the existing person: a second case for them.
	pid := strings.TrimPrefix(strings.Split(strings.Split(body, `name="person_id" value="`)[1], `"`)[0], "")
	again.Set("person_id", pid)
	if res := c.post("/cases", again); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("case for the existing person: %d", res.StatusCode)
	}
	var people int
	_ = h.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM people`).Scan(&people)
	if caseCount(t, h) != 2 || people != 1 {
		t.Fatalf("cases %d, people %d", caseCount(t, h), people)
	}
	// Or confirms that it is someone new.
	other := kovrigForm()
	other.Set("new_person", "on")
	if res := c.post("/cases", other); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("new person despite a match: %d", res.StatusCode)
	}
}

func TestCasePageForms(t *testing.T) {
	h := onSQLite(t)
	c := h.as(auth.RoleHQOfficer)
	res := c.post("/cases", kovrigForm())
	id := strings.TrimPrefix(res.Header.Get("Location"), "/cases/")
	steps := []struct {
		path   string
		form   url.Values
		status int
		want   string
	}{
		{"/names", url.Values{"value": {"Kang Mingkai"}, "script": {"Latn"}, "kind": {"romanization"}}, http.StatusSeeOther, ""},
		{"/names", url.Values{"value": {"康明凱"}, "script": {"Hans"}, "kind": {"local_chosen"}}, 400, "traditional characters"},
		{"/timeline", url.Values{"happened": {"2020-06"}, "kind": {"charge"}, "title": {"Charged with espionage"}, "source_kind": {"press"}, "source_ref": {"AFP"}}, http.StatusSeeOther, ""},
		{"/timeline", url.Values{"happened": {"2020-11"}, "kind": {"statement_sending"}, "title": {"Statement"}, "source_kind": {"government_statement"}, "source_ref": {"GAC"}}, 400, "verbatim"},
		{"/timeline", url.Values{"happened": {"2020-06-31"}, "kind": {"other"}, "title": {"x"}, "source_kind": {"officer"}}, 400, "(it has 30 days)"},
		{"/charges", url.Values{"translation": {"Espionage"}, "charged": {"2020-06"}}, http.StatusSeeOther, ""},
		{"/links", url.Values{"other_label": {"Meng Wanzhou arrested in Vancouver"}, "relation": {"Detained days after the arrest of"}}, http.StatusSeeOther, ""},
		{"/links", url.Values{"relation": {"x"}}, 400, "Give either"},
		{"/person", url.Values{"sex": {"male"}, "birth": {"1972-13"}}, 400, "no month 13"},
	}
	for _, st := range steps {
		res := c.post("/cases/"+id+st.path, st.form)
		body := readBody(t, res)
		if res.StatusCode != st.status || (st.want != "" && !strings.Contains(body, st.want)) {
			t.Errorf("%s %v: %d, want %d with %q", st.path, st.form, res.StatusCode, st.status, st.want)
		}
	}
	body := readBody(t, c.get("/cases/"+id))
	for _, want := range []string{"Kang Mingkai", "Charged with espionage", "June 2020", "Meng Wanzhou arrested in Vancouver"} {
		if !strings.Contains(body, want) {
			t.Errorf("case page lacks %q", want)
		}
	}
	// Editing the case.
	if res := c.get("/cases/" + id + "/edit"); res.StatusCode != 200 {
		t.Fatalf("edit page: %d", res.StatusCode)
	}
	form := kovrigForm()
	form.Set("legal_status", "bogus")
	if res := c.post("/cases/"+id, form); res.StatusCode != 400 {
		t.Fatalf("bad legal status: %d", res.StatusCode)
	}
	form.Set("legal_status", "hearing_in_progress")
	if res := c.post("/cases/"+id, form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("update: %d", res.StatusCode)
	}
	if body := readBody(t, c.get("/cases?legal_status=hearing_in_progress")); !strings.Contains(body, "Michael Kovrig") {
		t.Fatal("the list filter by legal status misses the case")
	}
	if body := readBody(t, c.get("/cases?legal_status=released")); strings.Contains(body, "Michael Kovrig") {
		t.Fatal("the list filter by legal status lets the case through")
	}
}

func TestCasesNeedToKnowOverHTTP(t *testing.T) {
	h := onSQLite(t)
	owner := h.as(auth.RoleConsularOfficer)
	res := owner.post("/cases", kovrigForm())
	id := strings.TrimPrefix(res.Header.Get("Location"), "/cases/")
	outsider, err := h.auth.CreateUser(context.Background(), auditSystem(), auth.UserInput{Username: "tehran", DisplayName: "Officer in Tehran",
		Role: auth.RoleConsularOfficer, Post: "Tehran"}, testPassword, false)
	if err != nil {
		t.Fatal(err)
	}
	o := h.asUser(outsider)
	for _, p := range []string{"/cases/" + id, "/cases/" + id + "/edit"} {
		res := o.get(p)
		body := readBody(t, res)
		if res.StatusCode != 404 || strings.Contains(body, "Kovrig") {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
	if res := o.api("GET", "/api/v1/cases/"+id, ""); res.StatusCode != 404 {
		t.Errorf("API case: %d", res.StatusCode)
	}
	if res := o.post("/cases/"+id+"/timeline", url.Values{"happened": {"2020"}, "kind": {"other"}, "title": {"x"}, "source_kind": {"officer"}}); res.StatusCode != 404 {
		t.Errorf("outsider adds to the timeline: %d", res.StatusCode)
	}
	if body := readBody(t, o.get("/cases")); strings.Contains(body, "Kovrig") || strings.Contains(body, "CN-2018") {
		t.Error("the list shows the case to an outsider")
	}
	if body := readBody(t, o.get("/people?q=Kovrig")); strings.Contains(body, "CN-2018-0001") || !strings.Contains(body, "Nobody you may see") {
		t.Error("the search shows the person to an outsider")
	}
	res = o.api("GET", "/api/v1/people?q=kovrig", "")
	var found struct{ People []any }
	decode(t, res, &found)
	if len(found.People) != 0 {
		t.Error("the API search shows the person to an outsider")
	}
	// The auditor reads the audit log, not cases.
	if res := h.as(auth.RoleAuditor).get("/cases/" + id); res.StatusCode != 403 {
		t.Errorf("auditor on a case: %d", res.StatusCode)
	}
}

func TestCasesAPI(t *testing.T) {
	h := onSQLite(t)
	c := h.as(auth.RoleSupervisor)
	person := `{"names":[{"value":"Michael Kovrig","script":"Latn","kind":"legal","display":true},{"value":"康明凯","script":"Hans","kind":"local_chosen"}],"nationalities":[{"country":"CA","recognised":"yes"}]}`
	kase := `{"legal_status":"pretrial","detaining_state":"CN","detention_type":"rsdl","arrested":"2018-12-10","arrested_zone":"Asia/Shanghai","post":"Beijing","desk":"China"}`
	res := c.api("POST", "/api/v1/cases", `{"person":`+person+`,"case":`+kase+`}`)
	var created struct {
		ID, Reference string
		Person        struct{ ID string }
		Arrested      struct {
			Precision string
			Earliest  string
		}
	}
	decode(t, res, &created)
	if res.StatusCode != 201 || created.Reference != "CN-2018-0001" || created.Arrested.Precision != "day" || created.Arrested.Earliest != "2018-12-09T16:00:00Z" {
		t.Fatalf("open: %d %+v", res.StatusCode, created)
	}
	// A second person with the same names meets the duplicate check.
	res = c.api("POST", "/api/v1/cases", `{"person":{"names":[{"value":"康明凱","script":"Hant","kind":"local_chosen"}]},"case":`+kase+`}`)
	var conflict struct{ Matches []struct{ ID string } }
	decode(t, res, &conflict)
	if res.StatusCode != 409 || len(conflict.Matches) != 1 || conflict.Matches[0].ID != created.Person.ID {
		t.Fatalf("duplicate: %d %+v", res.StatusCode, conflict)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"case":` + kase + `}`, "person"},
		{`{"person":` + person + `,"new_person":true,"case":{"legal_status":"limbo","detaining_state":"CN","detention_type":"rsdl","post":"B","desk":"C"}}`, "legal_status"},
		{`{"person":` + person + `,"new_person":true,"case":{"legal_status":"pretrial","detaining_state":"CN","detention_type":"rsdl","arrested":"2018","arrested_zone":"Beijing/Time","post":"B","desk":"C"}}`, "arrested_zone"},
		{`{"person":{"names":[{"value":"","script":"Latn","kind":"legal"}]},"new_person":true,"case":` + kase + `}`, "names.0.value"},
		{`{"case": 5}`, "case"},
	} {
		res := c.api("POST", "/api/v1/cases", tc.body)
		body := readBody(t, res)
		if res.StatusCode != 400 || !strings.Contains(body, `"`+tc.field+`"`) {
			t.Errorf("%s: %d %s", tc.body, res.StatusCode, body)
		}
	}
	res = c.api("POST", "/api/v1/cases/"+created.ID+"/timeline", `{"happened":"2020-06","kind":"charge","title":"Charged with espionage","source_kind":"press","source_ref":"AFP"}`)
	if res.StatusCode != 201 {
		t.Fatalf("timeline: %d %s", res.StatusCode, readBody(t, res))
	}
	var ev struct{ ID string }
	decode(t, res, &ev)
	if res := h.as(auth.RoleAuditor).api("DELETE", "/api/v1/cases/"+created.ID+"/timeline/"+ev.ID, ""); res.StatusCode != 403 {
		t.Errorf("auditor deletes a timeline entry: %d", res.StatusCode)
	}
	if res := c.api("DELETE", "/api/v1/cases/"+created.ID+"/timeline/"+ev.ID, ""); res.StatusCode != 204 {
		t.Errorf("delete timeline entry: %d", res.StatusCode)
	}
	if res := c.api("DELETE", "/api/v1/cases/"+created.ID+"/timeline/"+ev.ID, ""); res.StatusCode != 404 {
		t.Errorf("delete it again: %d", res.StatusCode)
	}
	res = c.api("POST", "/api/v1/cases/"+created.ID+"/timeline", `{"happened":"2020-06","kind":"charge","title":"Charged with espionage","source_kind":"press","source_ref":"AFP"}`)
	res = c.api("GET", "/api/v1/people?q=kang+mingkai", "")
	var found struct {
		People []struct {
			ID          string
			DisplayName string `json:"display_name"`
			Names       []struct{ Value string }
			Cases       []struct{ Reference string }
		}
	}
	decode(t, res, &found)
	if len(found.People) != 1 || found.People[0].ID != created.Person.ID || found.People[0].DisplayName != "Michael Kovrig" || len(found.People[0].Names) != 2 {
		t.Fatalf("people search: %+v", found)
	}
	res = c.api("GET", "/api/v1/cases/"+created.ID, "")
	var full struct{ Timeline []struct{ Title string } }
	decode(t, res, &full)
	if len(full.Timeline) != 1 {
		t.Fatalf("case with timeline: %+v", full)
	}
	if res := c.api("GET", "/api/v1/cases?status=nonsense", ""); res.StatusCode != 400 {
		t.Errorf("bad filter: %d", res.StatusCode)
	}
	var cnt int
	_ = h.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM cases`).Scan(&cnt)
	if cnt != 1 {
		t.Fatalf("%d cases after refused requests", cnt)
	}
}

func TestFacilities(t *testing.T) {
	h := onSQLite(t)
	c := h.as(auth.RoleConsularOfficer)
	res := c.post("/facilities", url.Values{"names.0.lang": {"en"}, "names.0.value": {"Dandong detention centre"}, "country": {"CN"}, "time_zone": {"Asia/Dandong"}})
	if body := readBody(t, res); res.StatusCode != 400 || !strings.Contains(body, "time zone that exists") {
		t.Fatalf("bad zone: %d", res.StatusCode)
	}
	res = c.post("/facilities", url.Values{"names.0.lang": {"en"}, "names.0.value": {"Dandong detention centre"}, "names.1.lang": {"zh"},
		"names.1.value": {"丹东看守所"}, "country": {"CN"}, "city": {"Dandong"}, "time_zone": {"Asia/Shanghai"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d %s", res.StatusCode, readBody(t, res))
	}
	if body := readBody(t, c.get("/facilities")); !strings.Contains(body, "丹东看守所") {
		t.Fatal("registry lacks the facility")
	}
	// A facility in another country than the detaining state is refused.
	var id string
	_ = h.db.QueryRowContext(context.Background(), `SELECT id FROM facilities`).Scan(&id)
	form := kovrigForm()
	form.Set("detaining_state", "IR")
	form.Set("facility_id", id)
	if body := readBody(t, c.post("/cases", form)); !strings.Contains(body, "another country") {
		t.Fatal("facility in the wrong country accepted")
	}
}

// A name with what could make it read as something else on screen (a
// right-to-left override, an escape) is refused, and nothing is kept; the
// same for an account's display name and a facility's name.
func TestMisleadingControlsInNames(t *testing.T) {
	h := onSQLite(t)
	officer := h.as(auth.RoleConsularOfficer)
	before := caseCount(t, h)
	for _, v := range []string{"Michael \u202eKovrig", "Michael Kovrig\x1b", "\u2066Michael Kovrig"} {
		f := kovrigForm()
		f.Set("names.0.value", v)
		res := officer.post("/cases", f)
		if body := readBody(t, res); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "invisible control character") {
			t.Errorf("%q: %d", v, res.StatusCode)
		}
	}
	if n := caseCount(t, h); n != before {
		t.Errorf("%d cases, want %d", n, before)
	}
	admin := h.as(auth.RoleAdmin)
	res := admin.api("PATCH", "/api/v1/users/"+h.users[auth.RoleConsularOfficer].ID, `{"display_name": "The \u202econsular officer"}`)
	if body := readBody(t, res); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "invisible control character") {
		t.Errorf("display name with an override: %d %s", res.StatusCode, body)
	}
}
