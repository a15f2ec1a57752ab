package web_test

import (
	"context"
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
}
