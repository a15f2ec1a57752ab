package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
)

func TestVisitsAPI(t *testing.T) {
	h := onSQLite(t)
	ctx := context.Background()
	officer := h.as(auth.RoleConsularOfficer)
	fac, err := h.cases.CreateFacility(ctx, cases.Actor{User: h.users[auth.RoleConsularOfficer]}, cases.FacilityInput{
		Names: []cases.FacilityName{{Lang: "en", Value: "Beijing centre"}}, Country: "CN", City: "Beijing", TimeZone: "Asia/Shanghai"})
	if err != nil {
		t.Fatal(err)
	}
	form := kovrigForm()
	form.Set("facility_id", fac.ID)
	id := strings.TrimPrefix(officer.post("/cases", form).Header.Get("Location"), "/cases/")
	res := officer.api("POST", "/api/v1/facilities/"+fac.ID+"/terminals", `{"name": "Video room 1"}`)
	var term struct{ ID string }
	decode(t, res, &term)
	if res.StatusCode != 201 {
		t.Fatalf("terminal: %d", res.StatusCode)
	}
	if res := officer.api("PUT", "/api/v1/facilities/"+fac.ID+"/windows", `{"windows": [{"weekday": 9, "opens": "09:00", "closes": "12:00"}]}`); res.StatusCode != 400 {
		t.Errorf("a window on day 9: %d", res.StatusCode)
	}
	booking := `{"modality": "onsite_video", "start": "2099-03-02 10:00", "minutes": 30, "terminal_id": "` + term.ID + `", "monitor": "Facility official", "interpreter": {"name": "Li Na", "language": "zh"}}`
	res = officer.api("POST", "/api/v1/cases/"+id+"/visits", booking)
	if res.StatusCode != 201 {
		t.Fatalf("schedule: %d %s", res.StatusCode, readBody(t, res))
	}
	res = officer.api("POST", "/api/v1/cases/"+id+"/visits", booking)
	if body := readBody(t, res); res.StatusCode != 409 || !strings.Contains(body, "terminal is booked") {
		t.Fatalf("double booking: %d %s", res.StatusCode, body)
	}
	res = officer.api("GET", "/api/v1/cases/"+id+"/visits", "")
	var list struct {
		Visits []struct {
			ID           string
			Status       string
			Participants []struct{ Role string }
		}
	}
	decode(t, res, &list)
	if len(list.Visits) != 1 || len(list.Visits[0].Participants) != 4 {
		t.Fatalf("visits: %+v", list)
	}
	move := "/api/v1/cases/" + id + "/visits/" + list.Visits[0].ID + "/move"
	if res := officer.api("POST", move, `{"start": "2099-03-03 10:00", "minutes": 45}`); res.StatusCode != 400 {
		t.Errorf("move without a reason: %d", res.StatusCode)
	}
	res = officer.api("POST", move, `{"start": "2099-03-03 10:00", "minutes": 45, "reason": "the host asked"}`)
	var moved struct{ Starts, Ends string }
	decode(t, res, &moved)
	if res.StatusCode != 200 || moved.Starts != "2099-03-03T02:00:00Z" || moved.Ends != "2099-03-03T02:45:00Z" {
		t.Errorf("move: %d %+v", res.StatusCode, moved)
	}
	if res := officer.api("POST", "/api/v1/cases/"+id+"/visits/"+list.Visits[0].ID+"/cancel", `{"by": "detaining_state"}`); res.StatusCode != 400 {
		t.Errorf("cancel without a reason: %d", res.StatusCode)
	}
	if res := officer.api("POST", "/api/v1/cases/"+id+"/visits/"+list.Visits[0].ID+"/cancel", `{"by": "detaining_state", "reason": "facility closed"}`); res.StatusCode != 204 {
		t.Errorf("cancel: %d", res.StatusCode)
	}
	outsider, _ := h.auth.CreateUser(ctx, auditSystem(), auth.UserInput{Username: "tehran", DisplayName: "T", Role: auth.RoleConsularOfficer, Post: "Tehran"}, testPassword, false)
	o := h.asUser(outsider)
	if res := o.api("GET", "/api/v1/cases/"+id+"/visits", ""); res.StatusCode != 404 {
		t.Errorf("outsider lists visits: %d", res.StatusCode)
	}
	if res := o.api("POST", "/api/v1/cases/"+id+"/visits", booking); res.StatusCode != 404 {
		t.Errorf("outsider books: %d", res.StatusCode)
	}
	past := `{"modality": "in_person", "start": "2020-10-10 10:00", "minutes": 30, "note": "note of the ambassador"}`
	if res := o.api("POST", "/api/v1/cases/"+id+"/visits/past", past); res.StatusCode != 404 {
		t.Errorf("outsider records a past visit: %d", res.StatusCode)
	}
	if res := officer.api("POST", "/api/v1/cases/"+id+"/visits/past", strings.Replace(past, "2020-10-10", "2099-10-10", 1)); res.StatusCode != 400 {
		t.Errorf("a past visit in the future: %d", res.StatusCode)
	}
	if res := officer.api("POST", "/api/v1/cases/"+id+"/visits/past", past); res.StatusCode != 201 {
		t.Errorf("past visit: %d %s", res.StatusCode, readBody(t, res))
	}
	if res := o.api("POST", move, `{"start": "2099-03-04 10:00", "minutes": 30, "reason": "x"}`); res.StatusCode != 404 {
		t.Errorf("outsider moves a visit: %d", res.StatusCode)
	}
}

func TestVisitsThroughPages(t *testing.T) {
	h := onSQLite(t)
	ctx := context.Background()
	officer := h.as(auth.RoleConsularOfficer)
	fac, err := h.cases.CreateFacility(ctx, cases.Actor{User: h.users[auth.RoleConsularOfficer]}, cases.FacilityInput{
		Names: []cases.FacilityName{{Lang: "en", Value: "Beijing centre"}}, Country: "CN", City: "Beijing", TimeZone: "Asia/Shanghai"})
	if err != nil {
		t.Fatal(err)
	}
	if res := officer.post("/facilities/"+fac.ID+"/terminals", url.Values{"name": {"Video room 1"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("terminal: %d", res.StatusCode)
	}
	if res := officer.post("/facilities/"+fac.ID+"/windows", url.Values{"windows": {"Funday 09:00-12:00"}}); res.StatusCode != 400 {
		t.Fatalf("bad window: %d", res.StatusCode)
	}
	if res := officer.post("/facilities/"+fac.ID+"/windows", url.Values{"windows": {"Mon 09:00-12:00\nTue 09:00-12:00"}, "excluded": {"2099-03-03"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("windows: %d %s", res.StatusCode, readBody(t, res))
	}
	if body := readBody(t, officer.get("/facilities/"+fac.ID)); !strings.Contains(body, "Mon 09:00-12:00") || !strings.Contains(body, "Video room 1") {
		t.Fatal("the facility page lacks its windows or terminal")
	}
	// In French the days are written and read in French (English is
	// understood too).
	officer.cookies["attache_lang"] = "fr"
	if body := readBody(t, officer.get("/facilities/"+fac.ID)); !strings.Contains(body, "lun 09:00-12:00\nmar 09:00-12:00") {
		t.Error("the French facility page does not write the days in French")
	}
	if res := officer.post("/facilities/"+fac.ID+"/windows", url.Values{"windows": {"lun 09:00-12:00\nmardi 09:00-12:00"}, "excluded": {"2099-03-03"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("windows in French: %d %s", res.StatusCode, readBody(t, res))
	}
	delete(officer.cookies, "attache_lang")
	form := kovrigForm()
	form.Set("facility_id", fac.ID)
	id := strings.TrimPrefix(officer.post("/cases", form).Header.Get("Location"), "/cases/")
	var termID string
	_ = h.db.QueryRowContext(ctx, `SELECT id FROM terminals`).Scan(&termID)
	// 2099-03-02 is a Monday; the 3rd is excluded, the 4th a Wednesday without a window.
	res := officer.post("/cases/"+id+"/visits", url.Values{"modality": {"onsite_video"}, "start": {"2099-03-04 10:00"}, "minutes": {"30"}, "terminal_id": {termID}})
	if body := readBody(t, res); res.StatusCode != 400 || !strings.Contains(body, "Next free: 2099-03-09 09:00") {
		t.Fatalf("outside the windows: %d", res.StatusCode)
	}
	res = officer.post("/cases/"+id+"/visits", url.Values{"modality": {"onsite_video"}, "start": {"2099-03-02 10:00"}, "minutes": {"30"}, "terminal_id": {termID},
		"monitor": {"Facility official"}, "interpreter": {"Li Na"}, "interpreter_language": {"zh"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("book: %d %s", res.StatusCode, readBody(t, res))
	}
	body := readBody(t, officer.get("/cases/"+id))
	for _, want := range []string{"Mar. 2, 2099, 10:00 a.m. (Asia/Shanghai)", "Facility official", "monitoring", "Li Na (Interpreter, Chinese)", "Planned"} {
		if !strings.Contains(body, want) {
			t.Errorf("case page lacks %q", want)
		}
	}
	var vid string
	_ = h.db.QueryRowContext(ctx, `SELECT id FROM visits`).Scan(&vid)
	if res := officer.post("/cases/"+id+"/visits/"+vid+"/status", url.Values{"to": {"cancelled"}, "by": {"detaining_state"}}); res.StatusCode != 400 {
		t.Errorf("cancel without reason: %d", res.StatusCode)
	}
	if res := officer.post("/cases/"+id+"/visits/"+vid+"/status", url.Values{"to": {"confirmed"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("confirm: %d", res.StatusCode)
	}
}

func TestJoinLinksThroughPages(t *testing.T) {
	h := onSQLite(t)
	ctx := context.Background()
	officer := h.as(auth.RoleConsularOfficer)
	id := strings.TrimPrefix(officer.post("/cases", kovrigForm()).Header.Get("Location"), "/cases/")
	res := officer.api("POST", "/api/v1/cases/"+id+"/visits", `{"modality": "remote_video", "start": "2099-03-02 10:00", "zone": "Asia/Shanghai", "minutes": 30}`)
	if res.StatusCode != 201 {
		t.Fatalf("schedule: %d %s", res.StatusCode, readBody(t, res))
	}
	var vid string
	_ = h.db.QueryRowContext(ctx, `SELECT id FROM visits`).Scan(&vid)
	res = officer.post("/cases/"+id+"/visits/"+vid+"/links", url.Values{"role": {"detainee"}, "name": {"Terminal 3"}})
	body := readBody(t, res)
	i := strings.Index(body, "/join/")
	if res.StatusCode != http.StatusCreated || i < 0 {
		t.Fatalf("link: %d", res.StatusCode)
	}
	link := body[i : i+strings.IndexAny(body[i:], "<\" ")]
	guest := h.anonymous()
	res = guest.get(link)
	if body := readBody(t, res); res.StatusCode != 200 || !strings.Contains(body, "The visit opens at") || !strings.Contains(body, "Terminal 3") || !strings.Contains(body, "monitored") {
		t.Fatalf("join page: %d", res.StatusCode)
	}
	// The monitor's link opens in the detaining state's language (Chinese
	// for China), with a switch to the others; the switch wins.
	res = officer.post("/cases/"+id+"/visits/"+vid+"/links", url.Values{"role": {"monitor"}, "name": {"Monitor"}})
	body = readBody(t, res)
	i = strings.Index(body, "/join/")
	monitorLink := body[i : i+strings.IndexAny(body[i:], "<\" ")]
	monitor := h.anonymous()
	page := readBody(t, monitor.get(monitorLink))
	if !strings.Contains(page, `<html lang="zh">`) || !strings.Contains(page, "领事") || !strings.Contains(page, ">English</button>") || !strings.Contains(page, ">Français</button>") {
		t.Fatalf("the monitor's join page is not in Chinese with a switch: %s", page)
	}
	monitor.post("/language", url.Values{"lang": {"fr"}, "next": {monitorLink}})
	if page := readBody(t, monitor.get(monitorLink)); !strings.Contains(page, `<html lang="fr">`) {
		t.Fatal("the switch does not win over the link's language")
	}
	var lid string
	_ = h.db.QueryRowContext(ctx, `SELECT id FROM visit_links WHERE role = 'detainee'`).Scan(&lid)
	if res := officer.post("/cases/"+id+"/visits/"+vid+"/links/"+lid+"/revoke", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	if res := h.anonymous().get(link); res.StatusCode != http.StatusForbidden || !strings.Contains(readBody(t, res), "withdrawn") {
		t.Fatalf("revoked link: %d", res.StatusCode)
	}
	// Guessing links from one address is soon refused.
	for i := range 20 {
		if res := guest.get("/join/guess" + string(rune('a'+i))); res.StatusCode != 404 {
			t.Fatalf("guess %d: %d", i, res.StatusCode)
		}
	}
	if res := guest.get("/join/another-guess"); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after 20 guesses: %d", res.StatusCode)
	}
	// Only guesses are slowed: a valid link from that address still works.
	res = officer.post("/cases/"+id+"/visits/"+vid+"/links", url.Values{"role": {"detainee"}, "name": {"Terminal 4"}})
	body = readBody(t, res)
	i = strings.Index(body, "/join/")
	if res.StatusCode != http.StatusCreated || i < 0 {
		t.Fatalf("new link: %d", res.StatusCode)
	}
	if res := guest.get(body[i : i+strings.IndexAny(body[i:], "<\" ")]); res.StatusCode != http.StatusOK {
		t.Errorf("a valid link from an address that guessed: %d, want 200", res.StatusCode)
	}
}
