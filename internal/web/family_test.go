package web_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/config"
	"github.com/attache-org/attache/internal/family"
	"github.com/attache-org/attache/internal/i18n"
	"github.com/attache-org/attache/internal/notify"
	"github.com/attache-org/attache/internal/web"
)

// famOfficer is the consular officer of the harness, for service calls.
func famOfficer(h *harness) cases.Actor {
	return cases.Actor{User: h.users[auth.RoleConsularOfficer], Address: "192.0.2.1"}
}

// newFamilyMember opens a case of the Beijing post for a detainee, adds a
// contact with an e-mail address whose consent covers cats, invites the
// contact and accepts the invitation through the family service (family
// accounts come only from an invitation). It returns the account and the
// case.
func newFamilyMember(t testing.TB, h *harness, username string, cats ...family.Category) (*auth.User, string) {
	t.Helper()
	ctx, a := context.Background(), famOfficer(h)
	c, err := h.cases.OpenCase(ctx, a, "", &cases.PersonInput{Names: []cases.Name{{Value: "Detainee of " + username, Script: "Latn", Kind: "legal"}}},
		cases.CaseInput{LegalStatus: "pretrial", DetainingState: "CN", DetentionType: "criminal_detention", Post: "Beijing", Desk: "China"})
	if err != nil {
		t.Fatal(err)
	}
	ct, err := h.family.AddContact(ctx, a, c.ID, family.ContactInput{Name: "Relative " + username, Relationship: "parent", Email: username + "@example.net"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.family.RecordConsent(ctx, a, c.ID, family.ConsentInput{Recipients: []string{ct.ID}, Categories: cats, Given: yesterday(), Method: "written"}); err != nil {
		t.Fatal(err)
	}
	path, _, err := h.family.Invite(ctx, a, c.ID, ct.ID)
	if err != nil {
		t.Fatal(err)
	}
	u, err := h.family.Accept(ctx, strings.TrimPrefix(path, family.InvitePath), username, testPassword, "", "198.51.100.7")
	if err != nil {
		t.Fatal(err)
	}
	return u, c.ID
}

// yesterday is a past day (YYYY-MM-DD) in any time zone.
func yesterday() string { return time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02") }

func famCount(t *testing.T, h *harness, query string, args ...any) int {
	t.Helper()
	var n int
	if err := h.db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func famOne(t *testing.T, h *harness, query string, args ...any) string {
	t.Helper()
	var s string
	if err := h.db.QueryRowContext(context.Background(), query, args...).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// famCase opens the Kovrig case at a Beijing facility (Asia/Shanghai)
// through the page, as the consular officer.
func famCase(t *testing.T, h *harness, officer *client) string {
	t.Helper()
	fac, err := h.cases.CreateFacility(context.Background(), famOfficer(h), cases.FacilityInput{
		Names: []cases.FacilityName{{Lang: "en", Value: "Beijing centre"}}, Country: "CN", City: "Beijing", TimeZone: "Asia/Shanghai"})
	if err != nil {
		t.Fatal(err)
	}
	form := kovrigForm()
	form.Set("facility_id", fac.ID)
	res := officer.post("/cases", form)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("open the case: %d", res.StatusCode)
	}
	return strings.TrimPrefix(res.Header.Get("Location"), "/cases/")
}

// wantPost posts a form and checks the status and, if given, words of the
// answer; it returns the body.
func wantPost(t *testing.T, c *client, path string, form url.Values, status int, words ...string) string {
	t.Helper()
	res := c.post(path, form)
	body := readBody(t, res)
	if res.StatusCode != status {
		t.Fatalf("POST %s %v: %d, want %d\n%s", path, form, res.StatusCode, status, excerpt(body))
	}
	for _, w := range words {
		if !strings.Contains(body, w) {
			t.Errorf("POST %s: the answer lacks %q", path, w)
		}
	}
	return body
}

// excerpt is the main part of a page, for failure messages.
func excerpt(body string) string {
	if i := strings.Index(body, "<main>"); i >= 0 {
		body = body[i:]
	}
	if len(body) > 3000 {
		body = body[:3000]
	}
	return body
}

// takeCSRF gives a browser that was signed in by a page (not by the
// harness) the CSRF token of its session, read from a page's forms.
func takeCSRF(t *testing.T, c *client, body string) {
	t.Helper()
	const mark = `name="csrf" value="`
	i := strings.Index(body, mark)
	if i < 0 {
		t.Fatal("no CSRF token on the page")
	}
	rest := body[i+len(mark):]
	c.csrf = rest[:strings.Index(rest, `"`)]
}

// inviteLink finds the invitation link shown on a page.
func inviteLink(t *testing.T, body string) string {
	t.Helper()
	i := strings.Index(body, family.InvitePath)
	if i < 0 {
		t.Fatal("no invitation link on the page")
	}
	return body[i : i+strings.IndexAny(body[i:], "<\" ")]
}

func TestFamilyThroughPages(t *testing.T) {
	h := onSQLite(t)
	officer := h.as(auth.RoleConsularOfficer)
	id := famCase(t, h, officer)
	base := "/cases/" + id + "/family"

	// A contact: bad input comes back next to its fields, and nothing is added.
	body := wantPost(t, officer, base+"/contacts", url.Values{"relationship": {"cousin"}, "email": {"alice at example.net"}}, 400,
		"Enter the contact&#39;s name.", "Choose the relationship to the detainee from the list.", "Enter an e-mail address such as name@example.org")
	if !strings.Contains(body, `value="alice at example.net"`) {
		t.Error("the refused form lost what was typed")
	}
	if n := famCount(t, h, `SELECT COUNT(*) FROM family_contacts`); n != 0 {
		t.Fatalf("%d contacts after a refused form", n)
	}
	res := officer.post(base+"/contacts", url.Values{"name": {"Alice Kovrig"}, "relationship": {"spouse"}, "languages": {"en fr"},
		"email": {"alice@example.net"}, "phone": {"+1 613 555 0100"}, "designated": {"on"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/cases/"+id+"#family" {
		t.Fatalf("add contact: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	alice := famOne(t, h, `SELECT id FROM family_contacts WHERE name = 'Alice Kovrig'`)
	body = readBody(t, officer.get("/cases/"+id))
	for _, want := range []string{"Alice Kovrig", "★", "Spouse", "alice@example.net", "no account", "No active consent"} {
		if !strings.Contains(body, want) {
			t.Errorf("the family section lacks %q", want)
		}
	}

	// No invitation without consent: the refusal is shown at the contact, nothing is sent.
	wantPost(t, officer, base+"/contacts/"+alice+"/invite", nil, http.StatusForbidden,
		"The detainee has not consented to share anything with Alice Kovrig: record their consent before inviting them.")
	if n := famCount(t, h, `SELECT COUNT(*) FROM family_invitations`); n != 0 || len(h.outbox.sent(notify.FamilyMessage)) != 0 {
		t.Fatalf("a refused invitation made %d invitations, %d mails", n, len(h.outbox.sent(notify.FamilyMessage)))
	}

	// Consent: refused input changes nothing; then visits and messages for Alice.
	wantPost(t, officer, base+"/consents", url.Values{"recipients": {alice}, "given": {yesterday()}, "method": {"written"}}, 400,
		"Choose at least one category.")
	wantPost(t, officer, base+"/consents", url.Values{"recipients": {alice}, "categories": {"visits"}, "given": {"2199-01-01"}, "method": {"telepathy"}}, 400,
		"The day is in the future.", "Say how the detainee said so, from the list.")
	if n := famCount(t, h, `SELECT COUNT(*) FROM family_consents`); n != 0 {
		t.Fatalf("%d consents after refused forms", n)
	}
	wantPost(t, officer, base+"/consents", url.Values{"recipients": {alice}, "categories": {"visits", "messages"}, "given": {yesterday()},
		"method": {"written"}}, http.StatusSeeOther)

	// A visit, booked through the API.
	res = officer.api("POST", "/api/v1/cases/"+id+"/visits", `{"modality": "remote_video", "start": "2099-03-02 10:00", "minutes": 30}`)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("book a visit: %d %s", res.StatusCode, readBody(t, res))
	}
	visit := famOne(t, h, `SELECT id FROM visits WHERE case_id = $1`, id)

	// The invitation: its link is shown once, and mailed.
	body = wantPost(t, officer, base+"/contacts/"+alice+"/invite", nil, http.StatusCreated, "e-mailed to alice@example.net", "shown only this once")
	link := inviteLink(t, body)
	token := strings.TrimPrefix(link, family.InvitePath)
	mails := h.outbox.sent(notify.FamilyMessage)
	if len(mails) != 1 || mails[0].To != "alice@example.net" || !strings.Contains(mails[0].Text, token) {
		t.Fatalf("invitation mails: %+v", mails)
	}
	body = readBody(t, officer.get("/cases/"+id))
	if strings.Contains(body, token) {
		t.Error("the case page shows the invitation's token again")
	}
	if !strings.Contains(body, "invited") || !strings.Contains(body, "Pending invitations") {
		t.Error("the case page does not say that Alice is invited")
	}

	// Alice accepts: the page says whom it is for; bad input keeps the token usable.
	alicePage := h.anonymous()
	res = alicePage.get(link)
	if body := readBody(t, res); res.StatusCode != 200 || !strings.Contains(body, "Alice Kovrig") || !strings.Contains(body, "Beijing") {
		t.Fatalf("invitation page: %d", res.StatusCode)
	}
	wantPost(t, alicePage, link, url.Values{"username": {"alice"}, "password": {testPassword}, "confirm": {"something else entirely"}}, 400,
		"The two passwords differ.")
	wantPost(t, alicePage, link, url.Values{"username": {"alice"}, "password": {"short"}, "confirm": {"short"}}, 400, "Use at least 12 characters.")
	if n := famCount(t, h, `SELECT COUNT(*) FROM users WHERE role = 'family'`); n != 0 {
		t.Fatalf("%d family accounts after refused forms", n)
	}
	res = alicePage.post(link, url.Values{"username": {"alice"}, "password": {testPassword}, "confirm": {testPassword}, "lang": {"en"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/family" || alicePage.cookies["attache_session"] == "" {
		t.Fatalf("accept: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res := alicePage.get("/"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/family" {
		t.Errorf("a family member's home: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res = alicePage.get("/family")
	body = readBody(t, res)
	takeCSRF(t, alicePage, body)
	for _, want := range []string{"Michael Kovrig", "Welcome. Your account is ready.", "Mar. 2, 2099, 2:00 a.m. (UTC)", `data-local`,
		"What you cannot see", "The detainee has not consented to share health information with Alice Kovrig."} {
		if !strings.Contains(body, want) {
			t.Errorf("the portal lacks %q", want)
		}
	}
	if res.StatusCode != 200 {
		t.Fatalf("portal: %d", res.StatusCode)
	}
	if strings.Contains(body, "CN-2018") || strings.Contains(body, "康明凯") {
		t.Error("the portal shows the case file")
	}

	// She writes: an empty message is refused next to the form, and nothing is written.
	wantPost(t, alicePage, "/family/cases/"+id+"/messages", url.Values{"text": {"  "}}, 400, "Write the message.")
	if n := famCount(t, h, `SELECT COUNT(*) FROM family_messages`); n != 0 {
		t.Fatalf("%d messages after an empty one", n)
	}
	res = alicePage.post("/family/cases/"+id+"/messages", url.Values{"text": {"We miss you. The children send their love."}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/family#case-"+id {
		t.Fatalf("write: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if body := readBody(t, alicePage.get("/family")); !strings.Contains(body, "The children send their love.") || !strings.Contains(body, "Waiting to be delivered") {
		t.Error("the portal lacks her waiting message")
	}

	// The officer sees it in the queue and marks it delivered at the visit.
	body = readBody(t, officer.get("/cases/"+id))
	if !strings.Contains(body, "The children send their love.") || !strings.Contains(body, "From Alice Kovrig") {
		t.Fatal("the queue lacks the message")
	}
	msg := famOne(t, h, `SELECT id FROM family_messages`)
	wantPost(t, officer, base+"/messages/"+msg+"/delivered", url.Values{"how": {"read_at_visit"}}, 400,
		"Choose the visit at which the message was delivered.")
	if st := famOne(t, h, `SELECT status FROM family_messages WHERE id = $1`, msg); st != "waiting" {
		t.Fatalf("a refused form changed the message to %s", st)
	}
	wantPost(t, officer, base+"/messages/"+msg+"/delivered", url.Values{"how": {"read_at_visit"}, "visit_id": {visit}}, http.StatusSeeOther)
	wantPost(t, officer, base+"/messages/"+msg+"/delivered", url.Values{"how": {"read_at_visit"}, "visit_id": {visit}}, http.StatusConflict,
		"This message is “Delivered” already")
	body = readBody(t, alicePage.get("/family"))
	if !strings.Contains(body, `<span class="badge ok">Delivered</span>`) {
		t.Error("the portal does not say the message was delivered")
	}

	// A message that cannot be delivered: the reason is required, and she sees it.
	alicePage.post("/family/cases/"+id+"/messages", url.Values{"text": {"Second letter."}})
	second := famOne(t, h, `SELECT id FROM family_messages WHERE body = 'Second letter.'`)
	wantPost(t, officer, base+"/messages/"+second+"/not-delivered", url.Values{"reason": {""}}, 400, "Say why the message was not delivered")
	wantPost(t, officer, base+"/messages/"+second+"/not-delivered", url.Values{"reason": {"Refused by the facility"}}, http.StatusSeeOther)
	body = readBody(t, alicePage.get("/family"))
	if !strings.Contains(body, "Not delivered") || !strings.Contains(body, "Refused by the facility") {
		t.Error("the portal lacks the reason the message was not delivered")
	}

	// A message from the detainee is held, invisible to her until released.
	wantPost(t, officer, base+"/messages", url.Values{"contact_id": {alice}, "text": {""}}, 400, "Write the message.")
	wantPost(t, officer, base+"/messages", url.Values{"contact_id": {alice}, "visit_id": {visit}, "text": {"Tell the children I am well."}}, http.StatusSeeOther)
	if body := readBody(t, alicePage.get("/family")); strings.Contains(body, "Tell the children I am well.") {
		t.Fatal("a held message is shown to the family")
	}
	if body := readBody(t, officer.get("/cases/"+id)); !strings.Contains(body, "Tell the children I am well.") || !strings.Contains(body, "Release to the family") {
		t.Fatal("the case page lacks the held message")
	}
	from := famOne(t, h, `SELECT id FROM family_messages WHERE direction = 'from_detainee'`)
	wantPost(t, officer, base+"/messages/"+from+"/release", nil, http.StatusSeeOther)
	if body := readBody(t, alicePage.get("/family")); !strings.Contains(body, "Tell the children I am well.") {
		t.Fatal("the released message is not shown to the family")
	}
	var told bool
	for _, m := range h.outbox.sent(notify.FamilyMessage) {
		if m.To == "alice@example.net" && m.Subject == "A new message for you" {
			told = true
			if strings.Contains(m.Text, "children") {
				t.Error("the notice mail carries the message")
			}
		}
	}
	if !told {
		t.Error("Alice was not told of the released message")
	}

	// A summary that consent does not cover is refused with the reason; one that it covers reaches her.
	wantPost(t, officer, base+"/summaries", url.Values{"contact_id": {alice}, "categories": {"health"}, "text": {"He sees a doctor weekly."}}, http.StatusForbidden,
		"The detainee has not consented to share health information with Alice Kovrig.")
	wantPost(t, officer, base+"/summaries", url.Values{"categories": {"visits"}, "text": {"The next visit is booked."}}, http.StatusSeeOther)
	body = readBody(t, alicePage.get("/family"))
	if !strings.Contains(body, "The next visit is booked.") || strings.Contains(body, "He sees a doctor weekly.") {
		t.Error("the portal shows the wrong summaries")
	}
}

func TestFamilyConsentLimitsThePortal(t *testing.T) {
	h := onSQLite(t)
	ctx := context.Background()
	officer := h.as(auth.RoleConsularOfficer)
	// Meng may exchange messages but not see visit dates.
	meng, id := newFamilyMember(t, h, "meng", family.Messages)
	res := officer.api("POST", "/api/v1/cases/"+id+"/visits", `{"modality": "remote_video", "start": "2099-03-02 10:00", "zone": "Asia/Shanghai", "minutes": 30}`)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("book a visit: %d %s", res.StatusCode, readBody(t, res))
	}
	c := h.asUser(meng)
	if res := c.post("/family/cases/"+id+"/messages", url.Values{"text": {"First words."}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("write: %d", res.StatusCode)
	}
	body := readBody(t, c.get("/family"))
	if strings.Contains(body, "2 Mar 2099") || strings.Contains(body, "2099-03-02") || strings.Contains(body, "Next consular visit") {
		t.Error("the portal shows a visit date that consent does not cover")
	}
	for _, want := range []string{"Date of the next visit", "The detainee has not consented to share the dates of visits with Relative meng.", "First words."} {
		if !strings.Contains(body, want) {
			t.Errorf("the portal lacks %q", want)
		}
	}
	var portal struct {
		Cases []struct {
			CaseID    string          `json:"case_id"`
			Detainee  string          `json:"detainee"`
			Shared    []string        `json:"shared"`
			NextVisit *map[string]any `json:"next_visit"`
			Messages  []struct{ Text string }
			CanWrite  bool `json:"can_write"`
			Withheld  []struct{ Category, Reason string }
		}
	}
	res = c.api("GET", "/api/v1/family", "")
	decode(t, res, &portal)
	if res.StatusCode != 200 || len(portal.Cases) != 1 || portal.Cases[0].NextVisit != nil || len(portal.Cases[0].Shared) != 1 ||
		portal.Cases[0].Shared[0] != "messages" || !portal.Cases[0].CanWrite || len(portal.Cases[0].Withheld) != 4 {
		t.Fatalf("portal JSON: %d %+v", res.StatusCode, portal)
	}

	if res := c.get("/family/cases/" + id); res.StatusCode != 200 || !strings.Contains(readBody(t, res), "Detainee of meng") {
		t.Errorf("her case's own page: %d", res.StatusCode)
	}

	// Another case, and a case that does not exist: the same 404, nothing written.
	_, other := newFamilyMember(t, h, "other", family.Visits, family.Messages)
	before := famCount(t, h, `SELECT COUNT(*) FROM family_messages`)
	resOther, resNone := c.get("/family/cases/"+other), c.get("/family/cases/no-such-case")
	// The pages differ only by their own address (where the language switch
	// comes back to).
	bodyOther := strings.ReplaceAll(readBody(t, resOther), "/family/cases/"+other, "ADDRESS")
	bodyNone := strings.ReplaceAll(readBody(t, resNone), "/family/cases/no-such-case", "ADDRESS")
	if resOther.StatusCode != 404 || resNone.StatusCode != 404 || bodyOther != bodyNone {
		t.Errorf("another case: %d, no case: %d, same page: %t", resOther.StatusCode, resNone.StatusCode, bodyOther == bodyNone)
	}
	if strings.Contains(bodyOther, "Detainee of other") {
		t.Error("the refusal names the other detainee")
	}
	if res := c.post("/family/cases/"+other+"/messages", url.Values{"text": {"Intrusion."}}); res.StatusCode != 404 {
		t.Errorf("write to another case: %d", res.StatusCode)
	}
	if res := c.api("POST", "/api/v1/family/cases/"+other+"/messages", `{"text": "Intrusion."}`); res.StatusCode != 404 {
		t.Errorf("write to another case by API: %d", res.StatusCode)
	}
	if n := famCount(t, h, `SELECT COUNT(*) FROM family_messages`); n != before {
		t.Fatalf("writes to another case added %d messages", n-before)
	}

	// The detainee withdraws every consent: bad input first changes nothing.
	wantPost(t, officer, "/cases/"+id+"/family/consents/withdraw-all", url.Values{"method": {"verbal_phone"}}, 400,
		"Give the day the detainee withdrew their consent.")
	if n := famCount(t, h, `SELECT COUNT(*) FROM family_consents WHERE case_id = $1 AND withdrawn_at IS NULL`, id); n != 1 {
		t.Fatalf("%d active consents after a refused withdrawal", n)
	}
	wantPost(t, officer, "/cases/"+id+"/family/consents/withdraw-all", url.Values{"date": {yesterday()}, "method": {"verbal_phone"}, "note": {"by telephone from the facility"}},
		http.StatusSeeOther)
	body = readBody(t, c.get("/family"))
	if !strings.Contains(body, "Detainee of meng") {
		t.Error("the portal lost the detainee's name")
	}
	for _, gone := range []string{"First words.", "/family/cases/" + id + "/messages", "<textarea"} {
		if strings.Contains(body, gone) {
			t.Errorf("after withdrawal the portal still shows %q", gone)
		}
	}
	if !strings.Contains(body, "The detainee has not consented to exchange messages with") || strings.Contains(body, "withdrawn") {
		t.Error("the portal does not say why nothing is shown, or tells the family that consent was withdrawn")
	}
	before = famCount(t, h, `SELECT COUNT(*) FROM family_messages`)
	if body := wantPost(t, c, "/family/cases/"+id+"/messages", url.Values{"text": {"Are you there?"}}, http.StatusForbidden, "has not consented"); strings.Contains(body, "withdrawn") {
		t.Error("the refusal tells the family that consent was withdrawn")
	}
	if n := famCount(t, h, `SELECT COUNT(*) FROM family_messages`); n != before {
		t.Fatal("a message was written without consent")
	}
	// The staff side: a held message cannot be released without consent.
	contact := famOne(t, h, `SELECT id FROM family_contacts WHERE case_id = $1`, id)
	m, err := h.family.RecordFromDetainee(ctx, famOfficer(h), id, contact, "", "Do not worry.")
	if err != nil {
		t.Fatal(err)
	}
	wantPost(t, officer, "/cases/"+id+"/family/messages/"+m.ID+"/release", nil, http.StatusForbidden, "Consent withdrawn on")
	if st := famOne(t, h, `SELECT status FROM family_messages WHERE id = $1`, m.ID); st != "held" {
		t.Fatalf("a refused release left the message %s", st)
	}
}

func TestFamilyMemberSeesNoStaffPages(t *testing.T) {
	h := onSQLite(t)
	ctx := context.Background()
	u, id := newFamilyMember(t, h, "relative", family.Visits, family.Messages)
	c := h.asUser(u)
	for _, path := range []string{"/cases", "/cases/" + id, "/cases/" + id + "/family", "/admin/users", "/audit", "/people"} {
		res := c.get(path)
		body := readBody(t, res)
		if res.StatusCode != http.StatusForbidden || strings.Contains(body, "Detainee of relative") {
			t.Errorf("GET %s as family: %d", path, res.StatusCode)
		}
	}
	for _, path := range []string{"/api/v1/cases", "/api/v1/cases/" + id, "/api/v1/cases/" + id + "/family", "/api/v1/users"} {
		res := c.api("GET", path, "")
		if body := readBody(t, res); res.StatusCode != http.StatusForbidden || strings.Contains(body, "Detainee of relative") {
			t.Errorf("GET %s as family: %d", path, res.StatusCode)
		}
	}
	contacts := famCount(t, h, `SELECT COUNT(*) FROM family_contacts`)
	if res := c.post("/cases/"+id+"/family/contacts", url.Values{"name": {"Someone"}, "relationship": {"friend"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("a family member adds a contact: %d", res.StatusCode)
	}

	// An officer of another post: the case's family channel does not exist.
	outsider, err := h.auth.CreateUser(ctx, auditSystem(), auth.UserInput{Username: "tehran", DisplayName: "T", Role: auth.RoleConsularOfficer, Post: "Tehran"}, testPassword, false)
	if err != nil {
		t.Fatal(err)
	}
	o := h.asUser(outsider)
	res := o.api("GET", "/api/v1/cases/"+id+"/family", "")
	if body := readBody(t, res); res.StatusCode != http.StatusNotFound || strings.Contains(body, "Relative relative") {
		t.Errorf("outsider reads the family channel: %d", res.StatusCode)
	}
	if res := o.api("POST", "/api/v1/cases/"+id+"/family/contacts", `{"name": "Someone", "relationship": "friend"}`); res.StatusCode != http.StatusNotFound {
		t.Errorf("outsider adds a contact by API: %d", res.StatusCode)
	}
	if res := o.post("/cases/"+id+"/family/contacts", url.Values{"name": {"Someone"}, "relationship": {"friend"}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("outsider adds a contact by the page: %d", res.StatusCode)
	}
	if res := o.get("/family"); res.StatusCode != http.StatusForbidden {
		t.Errorf("an officer on the family pages: %d", res.StatusCode)
	}
	if n := famCount(t, h, `SELECT COUNT(*) FROM family_contacts`); n != contacts {
		t.Fatal("a refused request added a contact")
	}
	// The auditor reads the audit log, not the family channel.
	if res := h.as(auth.RoleAuditor).api("GET", "/api/v1/cases/"+id+"/family", ""); res.StatusCode != http.StatusForbidden {
		t.Errorf("auditor reads the family channel: %d", res.StatusCode)
	}
}

func TestFamilyInvitationRefusals(t *testing.T) {
	h := onSQLite(t)
	ctx := context.Background()
	officer := h.as(auth.RoleConsularOfficer)
	id := famCase(t, h, officer)
	base := "/cases/" + id + "/family"
	wantPost(t, officer, base+"/contacts", url.Values{"name": {"Tom Kovrig"}, "relationship": {"sibling"}, "email": {"tom@example.net"}}, http.StatusSeeOther)
	wantPost(t, officer, base+"/contacts", url.Values{"name": {"No Mail"}, "relationship": {"friend"}}, http.StatusSeeOther)
	tom := famOne(t, h, `SELECT id FROM family_contacts WHERE name = 'Tom Kovrig'`)
	nomail := famOne(t, h, `SELECT id FROM family_contacts WHERE name = 'No Mail'`)
	// A page's script sends the CSRF token in a header: the form is still read whole.
	officer.header.Set("X-CSRF-Token", officer.csrf)
	wantPost(t, officer, base+"/consents", url.Values{"recipients": {tom, nomail}, "categories": {"messages"}, "given": {yesterday()}, "method": {"written"}}, http.StatusSeeOther)
	wantPost(t, officer, base+"/contacts/"+nomail+"/invite", nil, 400, "Add the contact&#39;s e-mail address first")

	// A withdrawn invitation cannot be used.
	first := inviteLink(t, wantPost(t, officer, base+"/contacts/"+tom+"/invite", nil, http.StatusCreated))
	inv := famOne(t, h, `SELECT id FROM family_invitations WHERE revoked_at IS NULL`)
	wantPost(t, officer, base+"/invitations/"+inv+"/revoke", nil, http.StatusSeeOther)
	res := h.anonymous().get(first)
	if body := readBody(t, res); res.StatusCode != http.StatusGone || !strings.Contains(body, "This invitation was withdrawn by the consulate.") {
		t.Fatalf("withdrawn invitation: %d", res.StatusCode)
	}
	if res := h.anonymous().post(first, url.Values{"username": {"tom"}, "password": {testPassword}, "confirm": {testPassword}}); res.StatusCode != http.StatusGone {
		t.Fatalf("accept a withdrawn invitation: %d", res.StatusCode)
	}
	// An unknown token.
	res = h.anonymous().get(family.InvitePath + "no-such-token")
	if body := readBody(t, res); res.StatusCode != http.StatusNotFound || !strings.Contains(body, "This invitation link is not valid.") {
		t.Fatalf("unknown invitation: %d", res.StatusCode)
	}

	// A new one: a taken username comes back on the form and leaves it usable.
	link := inviteLink(t, wantPost(t, officer, base+"/contacts/"+tom+"/invite", nil, http.StatusCreated))
	tomPage := h.anonymous()
	wantPost(t, tomPage, link, url.Values{"username": {"admin"}, "password": {testPassword}, "confirm": {testPassword}}, 400, "This username is taken.")
	wantPost(t, tomPage, link, url.Values{"username": {"Not A Username!"}, "password": {testPassword}, "confirm": {testPassword}}, 400, "lower-case letters")
	if res := tomPage.post(link, url.Values{"username": {"tom"}, "password": {testPassword}, "confirm": {testPassword}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept: %d", res.StatusCode)
	}
	// Used: refused, and no second account.
	res = h.anonymous().get(link)
	if body := readBody(t, res); res.StatusCode != http.StatusGone || !strings.Contains(body, "has been used already") {
		t.Fatalf("used invitation: %d", res.StatusCode)
	}
	res = h.anonymous().post(link, url.Values{"username": {"tom2"}, "password": {testPassword}, "confirm": {testPassword}})
	if body := readBody(t, res); res.StatusCode != http.StatusGone || !strings.Contains(body, "has been used already") {
		t.Fatalf("second use: %d", res.StatusCode)
	}
	if n := famCount(t, h, `SELECT COUNT(*) FROM users WHERE role = 'family'`); n != 1 {
		t.Fatalf("%d family accounts, want 1", n)
	}
	// Tom has an account: the case page says so and offers no invitation.
	body := readBody(t, officer.get("/cases/"+id))
	if !strings.Contains(body, "has an account") || strings.Contains(body, base+"/contacts/"+tom+"/invite") {
		t.Error("the case page does not show Tom's account")
	}
	u, err := h.auth.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range u {
		if x.Username == "tom" && (x.Role != auth.RoleFamily || x.DisplayName != "Tom Kovrig" || x.Email != "tom@example.net") {
			t.Errorf("Tom's account: %+v", x)
		}
	}
}

// syncBuffer is a log destination that tests can read.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFamilyInviteTokenStaysOutOfLogs(t *testing.T) {
	h := onSQLite(t)
	officer := h.as(auth.RoleConsularOfficer)
	id := famCase(t, h, officer)
	base := "/cases/" + id + "/family"
	wantPost(t, officer, base+"/contacts", url.Values{"name": {"Tom Kovrig"}, "relationship": {"sibling"}, "email": {"tom@example.net"}}, http.StatusSeeOther)
	tom := famOne(t, h, `SELECT id FROM family_contacts`)
	wantPost(t, officer, base+"/consents", url.Values{"recipients": {tom}, "categories": {"messages"}, "given": {yesterday()}, "method": {"written"}}, http.StatusSeeOther)
	link := inviteLink(t, wantPost(t, officer, base+"/contacts/"+tom+"/invite", nil, http.StatusCreated))
	token := strings.TrimPrefix(link, family.InvitePath)

	var logs syncBuffer
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Deps{Config: config.Default(), DB: h.db, Auth: h.auth, Audit: h.audit, Cases: h.cases, Access: h.access, Visits: h.visits,
		Catalog: cat, Log: slog.New(slog.NewTextHandler(&logs, nil)), Version: "test", Reports: h.reports, Family: h.family})
	if err != nil {
		t.Fatal(err)
	}
	h.h = srv.Handler()
	c := h.anonymous()
	if res := c.get(link); res.StatusCode != 200 {
		t.Fatalf("invitation page: %d", res.StatusCode)
	}
	if res := c.post(link, url.Values{"username": {"tom"}, "password": {"short"}, "confirm": {"short"}}); res.StatusCode != 400 {
		t.Fatalf("bad password: %d", res.StatusCode)
	}
	if res := c.post(link, url.Values{"username": {"tom"}, "password": {testPassword}, "confirm": {testPassword}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept: %d", res.StatusCode)
	}
	if res := c.get(link); res.StatusCode != http.StatusGone {
		t.Fatalf("used: %d", res.StatusCode)
	}
	out := logs.String()
	if strings.Count(out, "path=/family/invite/…") != 4 {
		t.Errorf("the request log does not show the invitation requests as /family/invite/…:\n%s", out)
	}
	if strings.Contains(out, token) {
		t.Errorf("the token is in the log:\n%s", out)
	}
}

func TestFamilyAPI(t *testing.T) {
	h := onSQLite(t)
	officer := h.as(auth.RoleConsularOfficer)
	id := famCase(t, h, officer)
	api := "/api/v1/cases/" + id + "/family"

	res := officer.api("POST", api+"/contacts", `{"name": "", "relationship": "cousin"}`)
	var problemBody struct {
		Error struct {
			Code    string
			Message string
			Fields  map[string]string
		}
	}
	decode(t, res, &problemBody)
	if res.StatusCode != 400 || problemBody.Error.Fields["name"] == "" || problemBody.Error.Fields["relationship"] == "" {
		t.Fatalf("bad contact: %d %+v", res.StatusCode, problemBody)
	}
	if res := officer.api("POST", api+"/contacts", `{"name": "X", "relationship": "friend", "colour": "red"}`); res.StatusCode != 400 {
		t.Errorf("unknown field: %d", res.StatusCode)
	}
	if n := famCount(t, h, `SELECT COUNT(*) FROM family_contacts`); n != 0 {
		t.Fatalf("%d contacts after refused requests", n)
	}
	res = officer.api("POST", api+"/contacts", `{"name": "Alice Kovrig", "relationship": "spouse", "languages": ["en"], "email": "alice@example.net", "designated": true}`)
	var contact family.Contact
	decode(t, res, &contact)
	if res.StatusCode != http.StatusCreated || contact.ID == "" || !contact.Designated || contact.CaseID != id {
		t.Fatalf("add contact: %d %+v", res.StatusCode, contact)
	}

	res = officer.api("POST", api+"/consents", `{"recipients": ["`+contact.ID+`"], "categories": ["gossip"], "given": "`+yesterday()+`", "method": "written"}`)
	decode(t, res, &problemBody)
	if res.StatusCode != 400 || !strings.Contains(problemBody.Error.Fields["categories"], "from the list") {
		t.Fatalf("bad consent: %d %+v", res.StatusCode, problemBody)
	}
	res = officer.api("POST", api+"/consents", `{"recipients": ["`+contact.ID+`"], "categories": ["visits", "messages"], "given": "`+yesterday()+`", "method": "written"}`)
	var consent family.Consent
	decode(t, res, &consent)
	if res.StatusCode != http.StatusCreated || consent.ID == "" || len(consent.Recipients) != 1 || consent.Recipients[0].Name != "Alice Kovrig" {
		t.Fatalf("record consent: %d %+v", res.StatusCode, consent)
	}

	// Her account, and a message from her.
	path, _, err := h.family.Invite(context.Background(), famOfficer(h), id, contact.ID)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := h.family.Accept(context.Background(), strings.TrimPrefix(path, family.InvitePath), "alice", testPassword, "", "198.51.100.7")
	if err != nil {
		t.Fatal(err)
	}
	ac := h.asUser(alice)
	if res := ac.api("POST", "/api/v1/family/cases/"+id+"/messages", `{"text": ""}`); res.StatusCode != 400 {
		t.Errorf("empty message: %d", res.StatusCode)
	}
	res = ac.api("POST", "/api/v1/family/cases/"+id+"/messages", `{"text": "Hello from home."}`)
	var written family.PortalMessage
	decode(t, res, &written)
	if res.StatusCode != http.StatusCreated || written.ID == "" || written.Status != "waiting" || written.Text != "Hello from home." {
		t.Fatalf("write: %d %+v", res.StatusCode, written)
	}

	res = officer.api("GET", api, "")
	var channel struct {
		Contacts []family.Contact
		Consents []family.Consent
		Queue    []family.Message
	}
	decode(t, res, &channel)
	if res.StatusCode != 200 || len(channel.Contacts) != 1 || channel.Contacts[0].UserID != alice.ID || len(channel.Consents) != 1 ||
		len(channel.Queue) != 1 || channel.Queue[0].ID != written.ID {
		t.Fatalf("family channel: %d %+v", res.StatusCode, channel)
	}

	msgs := api + "/messages/" + written.ID
	if res := officer.api("POST", msgs+"/delivered", `{"how": "carrier pigeon"}`); res.StatusCode != 400 {
		t.Errorf("unknown delivery: %d", res.StatusCode)
	}
	if res := officer.api("POST", msgs+"/delivered", `{"how": "via_facility"}`); res.StatusCode != http.StatusNoContent {
		t.Errorf("delivered: %d", res.StatusCode)
	}
	if res := officer.api("POST", msgs+"/not-delivered", `{"reason": "too late"}`); res.StatusCode != http.StatusConflict {
		t.Errorf("not delivered after delivered: %d", res.StatusCode)
	}
	if res := officer.api("POST", api+"/messages/no-such-message/not-delivered", `{"reason": "x"}`); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown message: %d", res.StatusCode)
	}

	// From the detainee: held, then released.
	res = officer.api("POST", api+"/messages", `{"contact_id": "`+contact.ID+`", "text": "All is well."}`)
	var from family.Message
	decode(t, res, &from)
	if res.StatusCode != http.StatusCreated || from.Status != "held" {
		t.Fatalf("from the detainee: %d %+v", res.StatusCode, from)
	}
	if res := officer.api("POST", api+"/messages/"+from.ID+"/release", ""); res.StatusCode != http.StatusNoContent {
		t.Fatalf("release: %d %s", res.StatusCode, readBody(t, res))
	}
	res = ac.api("GET", "/api/v1/family", "")
	var portal struct {
		Cases []struct {
			Messages []family.PortalMessage
		}
	}
	decode(t, res, &portal)
	if res.StatusCode != 200 || len(portal.Cases) != 1 || len(portal.Cases[0].Messages) != 2 || portal.Cases[0].Messages[0].Status != "delivered" ||
		portal.Cases[0].Messages[1].Text != "All is well." {
		t.Fatalf("portal: %d %+v", res.StatusCode, portal)
	}

	// Withdrawal: bad, then good, then twice.
	withdraw := api + "/consents/" + consent.ID + "/withdraw"
	if res := officer.api("POST", withdraw, `{"method": "written"}`); res.StatusCode != 400 {
		t.Errorf("withdraw without a date: %d", res.StatusCode)
	}
	if res := officer.api("POST", withdraw, `{"date": "`+yesterday()+`", "method": "written"}`); res.StatusCode != http.StatusNoContent {
		t.Errorf("withdraw: %d", res.StatusCode)
	}
	res = officer.api("POST", withdraw, `{"date": "`+yesterday()+`", "method": "written"}`)
	decode(t, res, &problemBody)
	if res.StatusCode != http.StatusConflict || !strings.Contains(problemBody.Error.Message, "withdrawn on") {
		t.Errorf("withdraw twice: %d %+v", res.StatusCode, problemBody)
	}
	res = ac.api("POST", "/api/v1/family/cases/"+id+"/messages", `{"text": "Still there?"}`)
	decode(t, res, &problemBody)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(problemBody.Error.Message, "has not consented") {
		t.Errorf("write without consent: %d %+v", res.StatusCode, problemBody)
	}
	res = ac.api("GET", "/api/v1/family", "")
	portal.Cases = nil
	decode(t, res, &portal)
	if len(portal.Cases) != 1 || len(portal.Cases[0].Messages) != 0 {
		t.Errorf("after withdrawal the portal JSON still has messages: %+v", portal)
	}
}
