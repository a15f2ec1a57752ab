package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/attache-org/attache/internal/auth"
)

// The page's language: the header's switch (kept in a cookie), else the
// account's preference, else the browser's Accept-Language.
func TestLanguageSwitch(t *testing.T) {
	h := onSQLite(t)
	anon := h.anonymous()
	anon.header.Set("Accept-Language", "fr-CA,fr;q=0.9,en;q=0.5")
	page := readBody(t, anon.get("/login"))
	if !strings.Contains(page, `<html lang="fr">`) {
		t.Fatal("a French browser does not get French")
	}
	if !strings.Contains(page, `name="lang" value="en"`) || !strings.Contains(page, ">English</button>") {
		t.Fatal("the French page offers no switch to English")
	}
	res := anon.post("/language", url.Values{"lang": {"en"}, "next": {"/login?next=%2Fcases"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next=%2Fcases" {
		t.Fatalf("switch: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	page = readBody(t, anon.get("/login"))
	if !strings.Contains(page, `<html lang="en">`) || !strings.Contains(page, ">Français</button>") {
		t.Fatal("the switch did not win over the browser's language")
	}
	for _, bad := range []url.Values{{"lang": {"xx"}}, {"lang": {""}}} {
		if res := anon.post("/language", bad); res.StatusCode != http.StatusBadRequest {
			t.Errorf("switch to %q: %d", bad.Get("lang"), res.StatusCode)
		}
	}
	if res := anon.post("/language", url.Values{"lang": {"fr"}, "next": {"//evil.example/"}}); res.Header.Get("Location") != "/" {
		t.Errorf("switch sent the browser to %q", res.Header.Get("Location"))
	}

	// A signed-in officer who prefers French gets it, until they switch.
	officer := h.users[auth.RoleConsularOfficer]
	in := auth.UserInput{Username: officer.Username, DisplayName: officer.DisplayName, Role: officer.Role, Post: officer.Post, Desk: officer.Desk, Lang: "fr"}
	if _, err := h.auth.UpdateUser(t.Context(), officer.Actor("192.0.2.1"), officer.ID, in); err != nil {
		t.Fatal(err)
	}
	c := h.as(auth.RoleConsularOfficer)
	if page := readBody(t, c.get("/cases")); !strings.Contains(page, `<html lang="fr">`) {
		t.Fatal("the preference is not followed")
	}
	c.post("/language", url.Values{"lang": {"en"}, "next": {"/cases"}})
	if page := readBody(t, c.get("/cases")); !strings.Contains(page, `<html lang="en">`) {
		t.Fatal("the switch does not win over the preference")
	}
	// Chinese chosen on a join page does not turn the staff pages Chinese.
	c.post("/language", url.Values{"lang": {"zh"}, "next": {"/cases"}})
	if page := readBody(t, c.get("/cases")); !strings.Contains(page, `<html lang="fr">`) {
		t.Fatal("a staff page left the official languages")
	}
	// Problems in the API follow Accept-Language too.
	api := h.as(auth.RoleConsularOfficer)
	api.header.Set("Accept-Language", "en")
	res = api.api("GET", "/api/v1/cases/nonexistent", "")
	if body := readBody(t, res); res.StatusCode != http.StatusNotFound || strings.Contains(body, "No such case") {
		t.Fatalf("API problem not in the preferred French: %d %s", res.StatusCode, body)
	}
}
