package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/auth"
)

// Recording policies: anyone working on cases reads them, only an
// administrator sets them; a privileged visit's policy must name its post;
// the policy in force is shown on the call page and to a link holder
// before joining.
func TestRecordingPolicyPages(t *testing.T) {
	h := onSQLite(t)
	officer := h.as(auth.RoleConsularOfficer)
	admin := h.as(auth.RoleAdmin)
	caseID, visitID, link := scheduleVideoVisit(t, h, officer, time.Now().Add(5*time.Minute))
	var post string
	if err := h.db.QueryRowContext(context.Background(), `SELECT post FROM cases WHERE id = $1`, caseID).Scan(&post); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := h.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM recording_policies`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	shows := func(c *client, path, want string) {
		t.Helper()
		res := c.get(path)
		if body := readBody(t, res); res.StatusCode != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d, want %q", path, res.StatusCode, want)
		}
	}
	shows(officer, "/recording-policies", "No policy set")
	shows(h.anonymous(), link, "This visit is not recorded.")

	consent := url.Values{"post": {post}, "kind": {"consular"}, "policy": {"consent"}, "retention_days": {"30"}, "note": {"Instruction 14"}}
	if res := officer.post("/recording-policies", consent); res.StatusCode != http.StatusForbidden {
		t.Errorf("an officer sets a policy: %d", res.StatusCode)
	}
	if res := officer.api("PUT", "/api/v1/recording-policies", `{"post": "`+post+`", "kind": "consular", "policy": "always", "retention_days": 5, "note": "x"}`); res.StatusCode != http.StatusForbidden {
		t.Errorf("an officer sets a policy through the API: %d", res.StatusCode)
	}
	everyPost := url.Values{"kind": {"consular"}, "policy": {"always"}, "retention_days": {"30"}, "note": {"all of them"}}
	if res := admin.post("/recording-policies", everyPost); res.StatusCode != http.StatusBadRequest || !strings.Contains(readBody(t, res), "must name the post") {
		t.Errorf("a consular policy for every post: %d", res.StatusCode)
	}
	if res := admin.api("PUT", "/api/v1/recording-policies", `{"post": "`+post+`", "kind": "consular", "policy": "always", "retention_days": 0, "note": "x"}`); res.StatusCode != http.StatusBadRequest {
		t.Errorf("no retention through the API: %d", res.StatusCode)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d policies after refusals", n)
	}

	if res := admin.post("/recording-policies", consent); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("set: %d %s", res.StatusCode, readBody(t, res))
	}
	shows(officer, "/recording-policies", "Instruction 14")
	shows(h.anonymous(), link, "This visit is recorded only if everyone present agrees.")
	shows(officer, "/cases/"+caseID+"/visits/"+visitID+"/call", "This visit is recorded only if everyone present agrees.")
	shows(officer, "/cases/"+caseID, "Recorded only with everyone")
	if n := h.auditActions(t)["recording.policy"]; n != 1 {
		t.Errorf("%d policy changes audited, want 1", n)
	}

	// Removed: back to the rule for privileged visits.
	if res := admin.post("/recording-policies", url.Values{"post": {post}, "kind": {"consular"}, "note": {"withdrawn"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove: %d", res.StatusCode)
	}
	shows(h.anonymous(), link, "This visit is not recorded.")
	if n := count(); n != 0 {
		t.Errorf("%d policies after the removal", n)
	}
}
