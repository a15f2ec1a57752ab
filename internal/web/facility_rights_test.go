package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
)

// An officer of another post cannot change a post's facility, its
// terminals, its visit windows or its suspensions (a red-team finding):
// every attempt is refused and changes nothing; the post's own officers
// and HQ can.
func TestFacilityBelongsToItsPost(t *testing.T) {
	h := onSQLite(t)
	ctx := context.Background()
	beijing := h.as(auth.RoleConsularOfficer) // post Beijing
	u, err := h.auth.CreateUser(ctx, audit.System, auth.UserInput{Username: "shanghai", DisplayName: "Officer in Shanghai",
		Role: auth.RoleConsularOfficer, Post: "Shanghai"}, testPassword, false)
	if err != nil {
		t.Fatal(err)
	}
	shanghai := h.asUser(u)
	hq := h.as(auth.RoleHQOfficer)

	facility := url.Values{"names.0.lang": {"en"}, "names.0.value": {"Beijing No. 1 Detention Centre"}, "country": {"CN"}, "city": {"Beijing"},
		"time_zone": {"Asia/Shanghai"}}
	res := beijing.post("/facilities", facility)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d %s", res.StatusCode, readBody(t, res))
	}
	path := res.Header.Get("Location")
	var id, post string
	if err := h.db.QueryRowContext(ctx, `SELECT id, post FROM facilities`).Scan(&id, &post); err != nil || post != "Beijing" {
		t.Fatalf("the facility is kept by %q (%v), want Beijing", post, err)
	}
	// Nor may an officer make a facility for another post.
	other := url.Values{"names.0.lang": {"en"}, "names.0.value": {"Shanghai centre"}, "country": {"CN"}, "time_zone": {"Asia/Shanghai"}, "post": {"Beijing"}}
	if res := shanghai.post("/facilities", other); res.StatusCode != http.StatusBadRequest {
		t.Errorf("facility made for another post: %d", res.StatusCode)
	}
	suspension := url.Values{"detaining_state": {"CN"}, "facility_id": {id}, "modes": {"in_person"}, "reason": {"COVID-19 epidemic"}, "starts": {"2020-01-28"}}
	if res := beijing.post("/suspensions", suspension); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("suspension by the post: %d %s", res.StatusCode, readBody(t, res))
	}
	var suspensionID string
	_ = h.db.QueryRowContext(ctx, `SELECT id FROM suspensions`).Scan(&suspensionID)

	count := func() string {
		var n1, n2, n3 int
		var city string
		_ = h.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM terminals), (SELECT COUNT(*) FROM visit_windows),
			(SELECT COUNT(*) FROM suspensions WHERE ends = ''), (SELECT city FROM facilities)`).Scan(&n1, &n2, &n3, &city)
		return fmt.Sprintf("%d terminals, %d windows, %d suspensions in force, city %q", n1, n2, n3, city)
	}
	before := count()
	changes := []struct {
		name string
		do   func(c *client) *http.Response
	}{
		{"details", func(c *client) *http.Response {
			f := url.Values{}
			for k, v := range facility {
				f[k] = v
			}
			f.Set("city", "Elsewhere")
			f.Set("post", "Shanghai")
			return c.post(path, f)
		}},
		{"terminal", func(c *client) *http.Response { return c.post(path+"/terminals", url.Values{"name": {"Video room 1"}}) }},
		{"windows", func(c *client) *http.Response {
			return c.post(path+"/windows", url.Values{"windows": {"Mon 09:00-12:00"}})
		}},
		{"lift suspension", func(c *client) *http.Response {
			return c.post("/suspensions/"+suspensionID+"/lift", url.Values{"ends": {"2020-09-30"}})
		}},
		{"API terminal", func(c *client) *http.Response {
			return c.api("POST", "/api/v1/facilities/"+id+"/terminals", `{"name":"Video room 2"}`)
		}},
		{"API details", func(c *client) *http.Response {
			return c.api("PUT", "/api/v1/facilities/"+id, `{"names":[{"lang":"en","value":"Renamed"}],"country":"CN","time_zone":"Asia/Shanghai","city":"Elsewhere"}`)
		}},
	}
	for _, ch := range changes {
		if res := ch.do(shanghai); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s by another post's officer: %d", ch.name, res.StatusCode)
		}
	}
	if after := count(); after != before {
		t.Fatalf("refused changes changed %s into %s", before, after)
	}
	// The page does not offer what would be refused.
	if page := readBody(t, shanghai.get(path)); strings.Contains(page, `action="`+path+`/terminals"`) {
		t.Error("the facility page offers another post's officer its forms")
	}
	for _, ch := range changes[1:3] {
		if res := ch.do(beijing); res.StatusCode != http.StatusSeeOther {
			t.Errorf("%s by the post's officer: %d", ch.name, res.StatusCode)
		}
	}
	if res := hq.post("/suspensions/"+suspensionID+"/lift", url.Values{"ends": {"2020-09-30"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("HQ lifting the suspension: %d", res.StatusCode)
	}
}
