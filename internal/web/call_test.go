package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/media"
)

// scheduleVideoVisit makes a case with a remote video visit starting at
// start (UTC) and a detainee link; it returns the case, the visit and the
// link's path.
func scheduleVideoVisit(t *testing.T, h *harness, officer *client, start time.Time) (caseID, visitID, link string) {
	t.Helper()
	caseID = strings.TrimPrefix(officer.post("/cases", kovrigForm()).Header.Get("Location"), "/cases/")
	res := officer.api("POST", "/api/v1/cases/"+caseID+"/visits", `{"modality": "remote_video", "start": "`+start.UTC().Format("2006-01-02 15:04")+`", "zone": "UTC", "minutes": 30}`)
	if res.StatusCode != 201 {
		t.Fatalf("schedule: %d %s", res.StatusCode, readBody(t, res))
	}
	if err := h.db.QueryRowContext(context.Background(), `SELECT id FROM visits WHERE case_id = $1`, caseID).Scan(&visitID); err != nil {
		t.Fatal(err)
	}
	res = officer.post("/cases/"+caseID+"/visits/"+visitID+"/links", url.Values{"role": {"detainee"}, "name": {"Terminal 3"}})
	body := readBody(t, res)
	i := strings.Index(body, "/join/")
	if res.StatusCode != http.StatusCreated || i < 0 {
		t.Fatalf("link: %d", res.StatusCode)
	}
	return caseID, visitID, body[i : i+strings.IndexAny(body[i:], "<\" ")]
}

// Before the room opens nobody enters: not the officer, not a link holder;
// someone without the right to work on the case does not learn the visit.
func TestCallRefusals(t *testing.T) {
	h := onSQLite(t)
	officer := h.as(auth.RoleConsularOfficer)
	caseID, visitID, link := scheduleVideoVisit(t, h, officer, time.Now().Add(48*time.Hour))
	res := officer.api("POST", "/api/v1/cases/"+caseID+"/visits", `{"modality": "in_person", "start": "`+time.Now().Add(5*time.Minute).UTC().Format("2006-01-02 15:04")+`", "zone": "UTC", "minutes": 30}`)
	if res.StatusCode != 201 {
		t.Fatalf("schedule in person: %d %s", res.StatusCode, readBody(t, res))
	}
	var inPerson string
	if err := h.db.QueryRowContext(context.Background(), `SELECT id FROM visits WHERE modality = 'in_person'`).Scan(&inPerson); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    *client
		path string
		code int
		says string
	}{
		{"in person", officer, "/cases/" + caseID + "/visits/" + inPerson + "/call", http.StatusConflict, "not held by video"},
		{"officer too early", officer, "/cases/" + caseID + "/visits/" + visitID + "/call", http.StatusConflict, "opens 15 minutes"},
		{"officer socket too early", officer, "/cases/" + caseID + "/visits/" + visitID + "/call/ws", http.StatusConflict, "opens 15 minutes"},
		{"link too early", h.anonymous(), link + "/ws", http.StatusConflict, "not open yet"},
		{"unknown link", h.anonymous(), "/join/nonsense/ws", http.StatusNotFound, "not valid"},
		{"auditor", h.as(auth.RoleAuditor), "/cases/" + caseID + "/visits/" + visitID + "/call", http.StatusForbidden, ""},
		{"anonymous", h.anonymous(), "/cases/" + caseID + "/visits/" + visitID + "/call", http.StatusSeeOther, ""},
		{"other case", officer, "/cases/" + caseID + "/visits/nope/call", http.StatusNotFound, "No such visit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.c.get(tc.path)
			body := readBody(t, res)
			if res.StatusCode != tc.code || !strings.Contains(body, tc.says) {
				t.Errorf("GET %s: %d, want %d saying %q", tc.path, res.StatusCode, tc.code, tc.says)
			}
		})
	}
	if n := h.auditActions(t)["visit.call_enter"]; n != 0 {
		t.Errorf("%d call entries audited, want none", n)
	}
}

// An open visit: the officer's page offers the call; the officer and the
// detainee's terminal connect over real WebSockets and each is sent an
// offer and the list of who is in the call, with roles. A WebSocket from
// another origin is refused.
func TestCallSignalling(t *testing.T) {
	h := onSQLite(t)
	officer := h.as(auth.RoleConsularOfficer)
	caseID, visitID, link := scheduleVideoVisit(t, h, officer, time.Now().Add(5*time.Minute))
	page := officer.get("/cases/" + caseID + "/visits/" + visitID + "/call")
	if body := readBody(t, page); page.StatusCode != 200 || !strings.Contains(body, `id="call-join"`) || !strings.Contains(body, "not recorded") {
		t.Fatalf("call page: %d", page.StatusCode)
	}
	if res := h.anonymous().get(link); !strings.Contains(readBody(t, res), `data-socket="`+link+`/ws"`) {
		t.Error("the join page of an open video visit has no call")
	}
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	ws := "ws" + strings.TrimPrefix(srv.URL, "http")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	if _, res, err := websocket.Dial(ctx, ws+link+"/ws", &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}}); err == nil {
		t.Fatal("a WebSocket from another origin was accepted")
	} else if res == nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin WebSocket: %v", err)
	}

	terminal, _, err := websocket.Dial(ctx, ws+link+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer terminal.CloseNow()
	hdr := http.Header{"Cookie": {"attache_session=" + officer.cookies["attache_session"]}}
	officerWS, _, err := websocket.Dial(ctx, ws+"/cases/"+caseID+"/visits/"+visitID+"/call/ws", &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatal(err)
	}
	defer officerWS.CloseNow()

	// The terminal waits; the officer sees it waiting and admits it.
	var m media.Message
	if err := wsjson.Read(ctx, terminal, &m); err != nil || m.Type != "waiting" {
		t.Fatalf("the terminal was not told to wait: %+v %v", m, err)
	}
	// The officer's offer may come before the waiting list: keep it.
	offeredEarly := map[string]bool{}
	for waiting := ""; waiting == ""; {
		if err := wsjson.Read(ctx, officerWS, &m); err != nil {
			t.Fatalf("the officer never saw the terminal waiting: %v", err)
		}
		if m.Type == "offer" && strings.Contains(m.SDP, "m=") {
			offeredEarly["officer"] = true
		}
		for _, w := range m.Waiting {
			if w.Name == "Terminal 3" && w.Role == media.RoleDetainee {
				waiting = w.ID
			}
		}
		if waiting != "" {
			if err := wsjson.Write(ctx, officerWS, media.Message{Type: "admit", ID: waiting}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A page's quality report is kept in the call record.
	if err := wsjson.Write(ctx, officerWS, media.Message{Type: "stats", Stats: &media.Stats{LossPct: 0.5, RTTms: 40, JitterMs: 3, KbpsIn: 900, KbpsOut: 1200}}); err != nil {
		t.Fatal(err)
	}

	var resume string
	for name, c := range map[string]*websocket.Conn{"terminal": terminal, "officer": officerWS} {
		offered := offeredEarly[name]
		var roles []string
		for !offered || len(roles) < 2 {
			var m media.Message
			if err := wsjson.Read(ctx, c, &m); err != nil {
				t.Fatalf("%s: offered=%v roles=%v: %v", name, offered, roles, err)
			}
			switch m.Type {
			case "offer":
				offered = offered || strings.Contains(m.SDP, "m=")
			case "admitted":
				resume = m.Resume
			case "participants":
				roles = nil
				for _, p := range m.Participants {
					roles = append(roles, p.Name+"/"+string(p.Role))
				}
			}
		}
		if got := strings.Join(roles, ","); !strings.Contains(got, "Terminal 3/detainee") || !strings.Contains(got, "The consular_officer/officer") {
			t.Errorf("%s sees %s", name, got)
		}
	}
	// The terminal's connection drops: with its resume token it comes
	// straight back (the old session is told it was replaced); the same
	// link without the token waits again.
	if resume == "" {
		t.Fatal("the admitted terminal got no resume token")
	}
	back, _, err := websocket.Dial(ctx, ws+link+"/ws?resume="+url.QueryEscape(resume), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer back.CloseNow()
	if err := wsjson.Read(ctx, back, &m); err != nil || m.Type == "waiting" {
		t.Errorf("the terminal coming back with its token: %+v %v", m, err)
	}
	for m.Type != "ended" {
		if err := wsjson.Read(ctx, terminal, &m); err != nil {
			t.Fatalf("the replaced session was not told: %v", err)
		}
	}
	if m.Reason != media.LeftReplaced {
		t.Errorf("the replaced session was told %q", m.Reason)
	}
	copied, _, err := websocket.Dial(ctx, ws+link+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer copied.CloseNow()
	if err := wsjson.Read(ctx, copied, &m); err != nil || m.Type != "waiting" {
		t.Errorf("the link without the token: %+v %v", m, err)
	}
	copied.Close(websocket.StatusNormalClosure, "")

	var status string
	if err := h.db.QueryRowContext(ctx, `SELECT status FROM visits WHERE id = $1`, visitID).Scan(&status); err != nil || status != "in_progress" {
		t.Errorf("visit status %q after the call started, want in_progress (%v)", status, err)
	}
	// The officer ends the visit: the call cannot be started again.
	if err := wsjson.Write(ctx, officerWS, media.Message{Type: "end"}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res := h.anonymous().get(link + "/ws")
		body := readBody(t, res)
		if res.StatusCode == http.StatusForbidden && strings.Contains(body, "This visit is over.") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("link after the end: %d", res.StatusCode)
		}
	}
	if res := h.anonymous().get(link); !strings.Contains(readBody(t, res), "This visit is over.") {
		t.Error("the join page after the end does not say the visit is over")
	}
	// A page reconnecting after the end is told how it ended, and stops.
	late, _, err := websocket.Dial(ctx, ws+link+"/ws?resume="+url.QueryEscape(resume), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer late.CloseNow()
	if err := wsjson.Read(ctx, late, &m); err != nil || m.Type != "ended" || m.Reason != media.EndedByHost {
		t.Errorf("a late page was told %+v (%v), want ended by the host", m, err)
	}
	if res := officer.get("/cases/" + caseID + "/visits/" + visitID + "/call/ws"); res.StatusCode != http.StatusForbidden {
		t.Errorf("the officer's socket after the end, without WebSocket: %d, want 403", res.StatusCode)
	}
	if n := h.auditActions(t)["visit.call_enter"]; n < 2 {
		t.Errorf("%d call entries audited, want the page and the socket", n)
	}
	// Both left when the call ended: their presence is on the visit, and
	// in the audit log. Three leaves: the terminal's replaced session, its
	// session after coming back, and the officer's.
	for deadline := time.Now().Add(5 * time.Second); h.auditActions(t)["visit.call_leave"] < 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d leaves audited, want the replaced session's, the terminal's and the officer's", h.auditActions(t)["visit.call_leave"])
		}
	}
	var reason string
	if err := h.db.QueryRowContext(ctx, `SELECT call_end_reason FROM visits WHERE id = $1 AND call_ended IS NOT NULL`, visitID).Scan(&reason); err != nil || reason != "host" {
		t.Errorf("the end kept on the visit: %q %v", reason, err)
	}
	rows, err := h.db.QueryContext(ctx, `SELECT name, role, reason, samples, rtt_ms FROM visit_presence WHERE visit_id = $1 AND left_at IS NOT NULL ORDER BY role, joined_at`, visitID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name, role, why string
		var samples int
		var rtt float64
		if err := rows.Scan(&name, &role, &why, &samples, &rtt); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s/%s/%s/%d/%.0f", name, role, why, samples, rtt))
	}
	if want := "Terminal 3/detainee/reconnected/0/0,Terminal 3/detainee/host/0/0,The consular_officer/officer/host/1/40"; strings.Join(got, ",") != want {
		t.Errorf("presence %v, want %s", got, want)
	}
	if body := readBody(t, officer.get("/cases/"+caseID)); !strings.Contains(body, "Ended by the officer") || !strings.Contains(body, "Terminal 3") {
		t.Error("the case page does not show the call record")
	}
}

// officerSocket opens an officer's call socket on a video visit whose room
// is open, and returns the harness, the visit, a context for the test and
// the socket (closed when the test ends).
func officerSocket(t *testing.T) (*harness, string, context.Context, *websocket.Conn) {
	t.Helper()
	h := onSQLite(t)
	officer := h.as(auth.RoleConsularOfficer)
	caseID, visitID, _ := scheduleVideoVisit(t, h, officer, time.Now().Add(5*time.Minute))
	srv := httptest.NewServer(h.h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	hdr := http.Header{"Cookie": {"attache_session=" + officer.cookies["attache_session"]}}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/cases/"+caseID+"/visits/"+visitID+"/call/ws", &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return h, visitID, ctx, c
}

// A text frame that is not UTF-8 fails the connection with 1007, as RFC 6455
// requires, and ends the session.
func TestSignallingFrameNotUTF8(t *testing.T) {
	_, _, ctx, c := officerSocket(t)
	if err := c.Write(ctx, websocket.MessageText, []byte("{\"type\":\"\xff\xfe\"}")); err != nil {
		t.Fatal(err)
	}
	for {
		if _, _, err := c.Read(ctx); err != nil {
			if code := websocket.CloseStatus(err); code != websocket.StatusInvalidFramePayloadData {
				t.Errorf("closed with %v (%v), want 1007", code, err)
			}
			return
		}
	}
}

// Withdrawing a link takes its holder out of the call at once.
func TestRevokedLinkLeavesCall(t *testing.T) {
	h := onSQLite(t)
	officer := h.as(auth.RoleConsularOfficer)
	caseID, visitID, link := scheduleVideoVisit(t, h, officer, time.Now().Add(5*time.Minute))
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	terminal, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+link+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer terminal.CloseNow()
	var m media.Message
	if err := wsjson.Read(ctx, terminal, &m); err != nil {
		t.Fatal(err)
	}
	var lid string
	if err := h.db.QueryRowContext(ctx, `SELECT id FROM visit_links WHERE visit_id = $1`, visitID).Scan(&lid); err != nil {
		t.Fatal(err)
	}
	if res := officer.post("/cases/"+caseID+"/visits/"+visitID+"/links/"+lid+"/revoke", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	for {
		if err := wsjson.Read(ctx, terminal, &m); err != nil {
			t.Fatalf("the terminal was not told it was removed: %v", err)
		}
		if m.Type == "ended" {
			if m.Reason != media.EndedRemoved {
				t.Errorf("ended because %q, want %q", m.Reason, media.EndedRemoved)
			}
			break
		}
	}
	if res := h.anonymous().get(link + "/ws"); res.StatusCode != http.StatusForbidden {
		t.Errorf("the withdrawn link opens the call again: %d", res.StatusCode)
	}
}

// Stopping the server tells every page so (they reconnect by themselves),
// records each session as cut by the server, and does not end the call for
// good: after a restart it can go on.
func TestShutdownDuringCall(t *testing.T) {
	h, visitID, ctx, c := officerSocket(t)
	var m media.Message
	for m.Type != "participants" {
		if err := wsjson.Read(ctx, c, &m); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- h.calls.Close(ctx) }()
	for m.Type != "ended" {
		if err := wsjson.Read(ctx, c, &m); err != nil {
			t.Fatalf("the page was not told the server stops: %v", err)
		}
	}
	if m.Reason != media.EndedShutdown {
		t.Errorf("the page was told %q", m.Reason)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	var reason string
	if err := h.db.QueryRowContext(ctx, `SELECT reason FROM visit_presence WHERE visit_id = $1 AND left_at IS NOT NULL`, visitID).Scan(&reason); err != nil || reason != "server" {
		t.Errorf("the session was recorded as %q (%v), want server", reason, err)
	}
	if over, _, err := h.srv.Visits.CallOver(ctx, visitID); over || err != nil {
		t.Errorf("a shutdown ended the call for good: %v %v", over, err)
	}
}
