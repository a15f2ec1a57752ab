package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/attache-org/attache/internal/auth"
)

func TestAccessThroughPagesAndAPI(t *testing.T) {
	h := onSQLite(t)
	c := h.as(auth.RoleConsularOfficer)
	res := c.post("/cases", kovrigForm())
	id := strings.TrimPrefix(res.Header.Get("Location"), "/cases/")

	// A contact: a bad date comes back to the form, a good one is recorded.
	res = c.post("/cases/"+id+"/contacts", url.Values{"happened": {"2020-11-31"}, "mode": {"onsite_video"}})
	if body := readBody(t, res); res.StatusCode != 400 || !strings.Contains(body, "(it has 30 days)") {
		t.Fatalf("bad contact: %d", res.StatusCode)
	}
	if res := c.post("/cases/"+id+"/contacts", url.Values{"happened": {"2020-11-19"}, "zone": {"Asia/Shanghai"}, "mode": {"onsite_video"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("contact: %d %s", res.StatusCode, readBody(t, res))
	}
	// A suspension of in-person visits: asking for one warns and names the open modes.
	if res := c.post("/suspensions", url.Values{"detaining_state": {"CN"}, "modes": {"in_person"}, "reason": {"COVID-19 epidemic"}, "starts": {"2020-01"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("suspension: %d %s", res.StatusCode, readBody(t, res))
	}
	res = c.post("/cases/"+id+"/requests", url.Values{"mode": {"in_person"}, "channel": {"diplomatic_note"}, "note_number": {"2020-117"}, "level": {"post"}, "send": {"on"}})
	body := readBody(t, res)
	if res.StatusCode != http.StatusCreated || !strings.Contains(body, "suspended (COVID-19 epidemic)") || !strings.Contains(body, "Remote video") {
		t.Fatalf("request for a suspended mode: %d", res.StatusCode)
	}
	// Through the API: the request is there; a move the state machine forbids is refused.
	res = c.api("GET", "/api/v1/cases/"+id+"/access", "")
	var acc struct {
		Requests []struct{ ID, Status string }
		Clock    struct {
			DaysSinceContact int                   `json:"days_since_contact"`
			LastContact      struct{ Mode string } `json:"last_contact"`
			SuspendedModes   []string              `json:"suspended_modes"`
		}
	}
	decode(t, res, &acc)
	if len(acc.Requests) != 1 || acc.Requests[0].Status != "sent" || acc.Clock.LastContact.Mode != "onsite_video" || len(acc.Clock.SuspendedModes) != 1 {
		t.Fatalf("access: %+v", acc)
	}
	rid := acc.Requests[0].ID
	// Contacts counted since a date, in the detaining state's calendar.
	res = c.api("GET", "/api/v1/cases/"+id+"/access?since=2020-11-19", "")
	var win struct {
		Clock struct {
			Total int `json:"in_window_total"`
		}
	}
	decode(t, res, &win)
	if win.Clock.Total != 1 {
		t.Errorf("contacts since 19 November: %d, want 1", win.Clock.Total)
	}
	if res := c.api("GET", "/api/v1/cases/"+id+"/access?since=2020-11-31", ""); res.StatusCode != 400 {
		t.Errorf("a bad date for since: %d", res.StatusCode)
	}
	res = c.api("POST", "/api/v1/cases/"+id+"/requests/"+rid+"/transitions", `{"to": "draft"}`)
	if body := readBody(t, res); res.StatusCode != 400 || !strings.Contains(body, "cannot become “Draft”") {
		t.Fatalf("forbidden move: %d %s", res.StatusCode, body)
	}
	res = c.api("POST", "/api/v1/cases/"+id+"/requests/"+rid+"/transitions", `{"to": "denied", "reason": "epidemic"}`)
	if res.StatusCode != 200 {
		t.Fatalf("denial: %d %s", res.StatusCode, readBody(t, res))
	}
	// The timeline's entries that the system wrote read in the page's
	// language, what people wrote as they wrote it.
	c.cookies["attache_lang"] = "fr"
	body = readBody(t, c.get("/cases/"+id))
	for _, want := range []string{"Demande d&#39;accès (En personne) : ", "Motif invoqué : epidemic", "Contact consulaire : Vidéo depuis l&#39;établissement"} {
		if !strings.Contains(body, want) {
			t.Errorf("French case page lacks %q", want)
		}
	}
	delete(c.cookies, "attache_lang")
	// The page shows the clock, the request and its history.
	body = readBody(t, c.get("/cases/"+id))
	for _, want := range []string{"Consular access", "November 19, 2020 · Video from the facility (on-site)", "Reason given: epidemic", "Canada–China Consular Agreement"} {
		if !strings.Contains(body, want) {
			t.Errorf("case page lacks %q", want)
		}
	}
	// The dashboard lists the case; an outsider's does not.
	if body := readBody(t, c.get("/")); !strings.Contains(body, "Open cases, most urgent first") || !strings.Contains(body, "CN-2018-0001") {
		t.Error("the officer's dashboard lacks the case")
	}
	outsider, _ := h.auth.CreateUser(t.Context(), auditSystem(), auth.UserInput{Username: "tehran", DisplayName: "T", Role: auth.RoleConsularOfficer, Post: "Tehran"}, testPassword, false)
	o := h.asUser(outsider)
	res = o.get("/")
	if body := readBody(t, res); res.StatusCode != 200 || !strings.Contains(body, "Open cases, most urgent first") || strings.Contains(body, "CN-2018-0001") {
		t.Errorf("an outsider's dashboard: %d, or it shows the case", res.StatusCode)
	}
	for _, p := range []string{"/api/v1/cases/" + id + "/access"} {
		if res := o.api("GET", p, ""); res.StatusCode != 404 {
			t.Errorf("outsider %s: %d", p, res.StatusCode)
		}
	}
	if res := o.api("POST", "/api/v1/cases/"+id+"/contacts", `{"happened":"2020-11-20","mode":"phone"}`); res.StatusCode != 404 {
		t.Errorf("outsider records a contact: %d", res.StatusCode)
	}
	// Agreements are the administrators' to change.
	if res := c.get("/agreements"); res.StatusCode != 200 {
		t.Errorf("agreements page: %d", res.StatusCode)
	}
	res = h.as(auth.RoleAdmin).api("POST", "/api/v1/agreements", `{"detaining_state":"IR","name":"Iran (no agreement text)","visit_every_days":90}`)
	if res.StatusCode != 201 {
		t.Errorf("new agreement: %d %s", res.StatusCode, readBody(t, res))
	}
}
