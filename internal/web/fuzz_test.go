package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
)

// Whatever a form holds, the case form answers with the page or a clear
// 4xx, never a 500.
func FuzzCaseForm(f *testing.F) {
	h := newHarnessLog(f, dbtest.Open(f, db.SQLite), io.Discard)
	officer := h.as(auth.RoleConsularOfficer)
	f.Add("Michael Kovrig", "Latn", "2018-12-10 22:00", "Asia/Shanghai", "CA yes passport", "pretrial")
	f.Add("康明凯", "Hans", "2018-12", "", "CN no", "")
	f.Add("", "Zzzz", "~2018", "Mars/Olympus", "XX maybe", "nonsense")
	f.Add("a\x00b", "Latn", "2018-02-30", "UTC", "", "convicted")
	f.Add("\u202eKovrig", "Arab", "10 December", "Asia/Shanghai", "CA yes passport CA", "pretrial")
	f.Fuzz(func(t *testing.T, name, script, arrested, zone, nationality, legal string) {
		form := kovrigForm()
		form.Set("names.0.value", name)
		form.Set("names.0.script", script)
		form.Set("arrested", arrested)
		form.Set("arrested_zone", zone)
		form.Set("nationalities", nationality)
		form.Set("legal_status", legal)
		// The harness reports through the fuzz input's own t.
		th := *h
		th.t = t
		c := *officer
		c.h = &th
		res := c.post("/cases", form)
		res.Body.Close()
		if res.StatusCode >= http.StatusInternalServerError {
			t.Errorf("case form with name %q script %q arrested %q zone %q nationality %q legal %q: %d", name, script, arrested, zone, nationality, legal, res.StatusCode)
		}
	})
}

// fuzzClient is a copy of c whose harness reports through t, the fuzz
// input's own.
func fuzzClient(h *harness, c *client, t *testing.T) *client {
	th := *h
	th.t = t
	cc := *c
	cc.h = &th
	cc.header = c.header.Clone()
	return &cc
}

// Whatever JSON (or not) a report's body holds, the API answers with the
// report or a clear 4xx, never a 500.
func FuzzReportJSON(f *testing.F) {
	h := newHarnessLog(f, dbtest.Open(f, db.SQLite), io.Discard)
	officer := h.as(auth.RoleConsularOfficer)
	caseID := strings.TrimPrefix(officer.post("/cases", kovrigForm()).Header.Get("Location"), "/cases/")
	res := officer.api("POST", "/api/v1/cases/"+caseID+"/visits/past",
		`{"modality": "remote_video", "start": "2020-10-10 10:00", "minutes": 30, "note": "virtual consular access"}`)
	var v struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil || v.ID == "" {
		f.Fatalf("past visit: %d %v", res.StatusCode, err)
	}
	base := "/api/v1/cases/" + caseID + "/visits/" + v.ID + "/report"
	if res := officer.api("POST", base, ""); res.StatusCode != http.StatusCreated {
		f.Fatalf("report: %d", res.StatusCode)
	}
	f.Add(`{"version": 1, "body": {"summary": "Seen for 30 minutes by video."}}`)
	f.Add(`{"version": 1, "body": {"health": {"physical": "good"}, "legal": {"lawyer_name": "Mo Shaoping"}, "treatment": {"allegations": [{"kind": "x"}]}}}`)
	f.Add(`{"version": "1", "body": []}`)
	f.Add(`{"version": 99999999999999999999, "body": {"summary": "\ud800"}}`)
	f.Add(`{"body": {"summary": "` + strings.Repeat("a", 5000) + `"}} trailing`)
	f.Add(`[1,2,3]`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, body string) {
		c := fuzzClient(h, officer, t)
		for _, method := range []string{"PUT", "POST"} {
			path := base
			if method == "POST" {
				path = base + "/followups"
			}
			res := c.api(method, path, body)
			res.Body.Close()
			if res.StatusCode >= http.StatusInternalServerError {
				t.Errorf("%s %s with %q: %d", method, path, body, res.StatusCode)
			}
		}
	})
}

// Whatever JSON a family contact, consent, message or disclosure holds,
// the API answers with it or a clear 4xx, never a 500.
func FuzzFamilyJSON(f *testing.F) {
	h := newHarnessLog(f, dbtest.Open(f, db.SQLite), io.Discard)
	officer := h.as(auth.RoleConsularOfficer)
	caseID := strings.TrimPrefix(officer.post("/cases", kovrigForm()).Header.Get("Location"), "/cases/")
	base := "/api/v1/cases/" + caseID + "/family"
	res := officer.api("POST", base+"/contacts", `{"name": "Vina Nadjibulla", "relationship": "spouse", "languages": ["en"], "email": "vina@example.org"}`)
	var contact struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&contact); err != nil || contact.ID == "" {
		f.Fatalf("contact: %d %v", res.StatusCode, err)
	}
	supervisor := h.as(auth.RoleSupervisor)
	f.Add(uint8(0), `{"name": "Ann", "relationship": "sister", "languages": ["fr", "zz"], "designated": true}`)
	f.Add(uint8(1), `{"recipients": ["`+contact.ID+`"], "categories": ["visits", "health", "nonsense"], "given": "2020-10-10", "method": "in_person"}`)
	f.Add(uint8(2), `{"contact_id": "`+contact.ID+`", "text": "Tell my wife I am well."}`)
	f.Add(uint8(3), `{"contact_id": "`+contact.ID+`", "categories": ["location"], "reason": "no_contact", "justification": "Not met yet", "days": 400}`)
	f.Add(uint8(1), `{"recipients": null, "categories": [null], "given": "2020-02-30"}`)
	f.Add(uint8(2), `{"contact_id": 5, "text": {}}`)
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		paths := []string{"/contacts", "/consents", "/messages", "/exceptions"}
		who := officer
		if which%4 == 3 {
			who = supervisor
		}
		res := fuzzClient(h, who, t).api("POST", base+paths[which%4], body)
		res.Body.Close()
		if res.StatusCode >= http.StatusInternalServerError {
			t.Errorf("POST %s with %q: %d", paths[which%4], body, res.StatusCode)
		}
	})
}
