package calls_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/calltest"
	"github.com/attache-org/attache/internal/cli"
	"github.com/attache-org/attache/internal/media"
	"github.com/attache-org/attache/internal/nodetest"
)

// openPage opens a call page that reaches the nodes in the order given, as
// a load balancer would send it to the next when one is down.
func openPage(t *testing.T, path string, header http.Header, name string, publish bool, nodes ...*node) *calltest.Page {
	t.Helper()
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.WS(path))
	}
	p, err := calltest.Open(urls, header, name, publish)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// admit waits until the officer's page sees the participant named waiting,
// and admits them.
func admit(t *testing.T, officer *calltest.Page, name string, logs ...*calltest.Page) {
	t.Helper()
	var id string
	waitFor(t, 20*time.Second, name+" waiting, as the officer sees it", func() bool {
		_, waiting := officer.People()
		for _, w := range waiting {
			if w.Name == name {
				id = w.ID
				return true
			}
		}
		return false
	}, append(logs, officer)...)
	if err := officer.Do(media.Message{Type: "admit", ID: id}); err != nil {
		t.Fatal(err)
	}
}

// post sends a form of the case's pages through a node, with the CSRF
// token of the signed-in browser.
func post(t *testing.T, via *node, header http.Header, page, path string, form url.Values) int {
	t.Helper()
	req, _ := http.NewRequest("GET", via.URL+page, nil)
	req.Header = header.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on %s: %d", page, res.StatusCode)
	}
	form.Set("csrf", string(m[1]))
	req, _ = http.NewRequest("POST", via.URL+path, strings.NewReader(form.Encode()))
	req.Header = header.Clone()
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// Three nodes on one database, each page reaching a different one: the
// officer's, the detainee's and the monitor's sessions meet in the one
// call held by the first node, relayed by the others. Admission, mute,
// link withdrawal and ending work across nodes; a node started later
// disturbs nothing; when the holder is killed, the call goes on on another
// node within ten seconds, without the waiting room.
func TestCallAcrossNodes(t *testing.T) {
	c := startCluster(t, 3)
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	ctx := context.Background()
	cookie := c.signIn(n2, "barton")
	callPath := "/cases/" + c.caseID + "/visits/" + c.visit + "/call/ws"

	officer := openPage(t, callPath, cookie, "officer", true, n1, n2, n3)
	waitFor(t, 20*time.Second, "the first node holds the call", func() bool { return c.holder() != "" }, officer)
	if h := c.nodeOf(c.holder()); h != n1 {
		t.Fatalf("the call is held by %v, want n1", h)
	}
	detainee := openPage(t, c.links["detainee terminal"]+"/ws", nil, "detainee", true, n2, n3, n1)
	admit(t, officer, "Michael Kovrig (terminal)", detainee)
	start := time.Now()
	waitFor(t, 20*time.Second, "officer (n1) and detainee (n2) see and hear each other", func() bool {
		return officer.Flowing(start, "detainee") && detainee.Flowing(start, "officer")
	}, officer, detainee)

	monitor := openPage(t, c.links["monitor"]+"/ws", nil, "monitor", false, n3, n1, n2)
	admit(t, officer, "Detaining state's monitor", monitor)
	start = time.Now()
	waitFor(t, 20*time.Second, "the monitor (n3) receives both", func() bool { return monitor.Flowing(start, "officer", "detainee") }, monitor)
	waitFor(t, 10*time.Second, "everyone sees the monitor", func() bool {
		for _, p := range []*calltest.Page{officer, detainee} {
			people, _ := p.People()
			found := false
			for _, i := range people {
				found = found || i.Role == media.RoleMonitor
			}
			if !found {
				return false
			}
		}
		return true
	})

	// The officer (on n1) mutes the detainee (on n2): the server stops
	// forwarding their sound, not their picture.
	people, _ := officer.People()
	var detaineeID string
	for _, p := range people {
		if p.Role == media.RoleDetainee {
			detaineeID = p.ID
		}
	}
	if err := officer.Do(media.Message{Type: "mute", ID: detaineeID, Muted: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	audio, _ := officer.Received("detainee", "audio")
	video, _ := officer.Received("detainee", "video")
	time.Sleep(time.Second)
	if a, _ := officer.Received("detainee", "audio"); a != audio {
		t.Errorf("a muted detainee is still heard: %d then %d packets", audio, a)
	}
	if v, _ := officer.Received("detainee", "video"); v <= video {
		t.Errorf("muting stopped the picture too: %d then %d packets", video, v)
	}

	if err := officer.Do(media.Message{Type: "mute", ID: detaineeID, Muted: false}); err != nil {
		t.Fatal(err)
	}

	// A node started later disturbs no live call.
	sessions := []int{officer.Sessions(), detainee.Sessions(), monitor.Sessions()}
	n4 := nodetest.New(t, 4, c.url, "--recording-key", c.key)
	n4.Start()
	c.nodes = append(c.nodes, n4)
	later := time.Now()
	time.Sleep(2 * time.Second)
	for i, p := range []*calltest.Page{officer, detainee, monitor} {
		if p.Sessions() != sessions[i] {
			t.Errorf("%s reconnected when a node started: %d sessions, were %d\n%s", p.Name, p.Sessions(), sessions[i], p.Log())
		}
	}
	if !officer.Flowing(later, "detainee") || !monitor.Flowing(later, "officer", "detainee") {
		t.Error("media stopped when a node started")
	}

	// The officer (on n1) cannot remove the detaining state's monitor, but
	// removes the detainee (relayed from n2): taken out, and back only
	// through the waiting room.
	people, _ = officer.People()
	var monitorID string
	for _, p := range people {
		if p.Role == media.RoleMonitor {
			monitorID = p.ID
		}
	}
	if err := officer.Do(media.Message{Type: "remove", ID: monitorID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the officer told the monitor stays", func() bool { return len(officer.Errors()) == 1 }, officer)
	if err := officer.Do(media.Message{Type: "remove", ID: detaineeID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the detainee removed by the host", func() bool { return detainee.Ended() == media.EndedRemoved }, detainee)
	if monitor.Ended() != "" {
		t.Errorf("the monitor left: %s", monitor.Ended())
	}
	detainee = openPage(t, c.links["detainee terminal"]+"/ws", nil, "detainee", true, n2, n3, n1)
	admit(t, officer, "Michael Kovrig (terminal)", detainee)
	start = time.Now()
	waitFor(t, 20*time.Second, "the detainee back after being admitted again", func() bool {
		return officer.Flowing(start, "detainee") && detainee.Flowing(start, "officer")
	}, detainee, officer)

	// The monitor's link is withdrawn through the third node: its holder
	// is taken out of the call held by the first at once.
	var monitorLink string
	if err := c.db.QueryRowContext(ctx, `SELECT id FROM visit_links WHERE visit_id = $1 AND role = 'monitor'`, c.visit).Scan(&monitorLink); err != nil {
		t.Fatal(err)
	}
	n3cookie := c.signIn(n3, "barton")
	if code := post(t, n3, n3cookie, "/cases/"+c.caseID, "/cases/"+c.caseID+"/visits/"+c.visit+"/links/"+monitorLink+"/revoke", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("revoke the monitor's link: %d", code)
	}
	waitFor(t, 5*time.Second, "the monitor is taken out", func() bool { return monitor.Ended() == media.EndedRemoved }, monitor)

	// A second officer joins through the second node; an administrator
	// disables their account through the third: they are taken out of the
	// call held by the first at once.
	colleague := openPage(t, callPath, c.signIn(n2, "officer"), "colleague", true, n2, n3, n1)
	waitFor(t, 20*time.Second, "the colleague in the call", func() bool {
		people, _ := officer.People()
		return len(people) == 3
	}, colleague, officer)
	var colleagueID string
	if err := c.db.QueryRowContext(ctx, `SELECT id FROM users WHERE username = 'officer'`).Scan(&colleagueID); err != nil {
		t.Fatal(err)
	}
	admin := c.browser(n3, "admin")
	if body, res := admin.do("PATCH", "/api/v1/users/"+colleagueID, "application/json", strings.NewReader(`{"disabled": true}`)); res.StatusCode != http.StatusOK {
		t.Fatalf("disable the colleague: %d %s", res.StatusCode, body)
	}
	waitFor(t, 5*time.Second, "the disabled colleague taken out", func() bool { return colleague.Ended() == media.EndedRemoved }, colleague)
	waitFor(t, 5*time.Second, "the others see the colleague leave", func() bool {
		people, _ := officer.People()
		return len(people) == 2
	}, officer)

	// The holder dies: the pages reconnect (the officer's to the next
	// node), the call is rebuilt on a live node, the detainee comes back
	// without the waiting room, and media flows again.
	killed := time.Now()
	n1.Kill()
	waitFor(t, nodeTimeout, "media flowing again within the node timeout after the holder was killed", func() bool {
		return officer.Flowing(killed.Add(inFlight), "detainee") && detainee.Flowing(killed.Add(inFlight), "officer")
	}, officer, detainee)
	t.Logf("media again %s after kill -9 of the holder", time.Since(killed).Round(10*time.Millisecond))
	if h := c.nodeOf(c.holder()); h == n1 || h == nil {
		t.Errorf("the call is held by %v after n1 died", h)
	}
	waitFor(t, 15*time.Second, "n1's sessions closed as lost", func() bool {
		var n int
		_ = c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM visit_presence WHERE visit_id = $1 AND reason = 'node'`, c.visit).Scan(&n)
		return n >= 2
	})
	var open int
	if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM visit_presence WHERE visit_id = $1 AND left_at IS NULL`, c.visit).Scan(&open); err != nil || open != 2 {
		t.Errorf("%d sessions open after the failover (%v), want the officer's and the detainee's", open, err)
	}

	// The officer ends the visit: the detainee is told, and the end is kept.
	if err := officer.Do(media.Message{Type: "end"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the detainee is told the officer ended the visit", func() bool { return detainee.Ended() == media.EndedByHost }, detainee)
	var why string
	if err := c.db.QueryRowContext(ctx, `SELECT call_end_reason FROM visits WHERE id = $1`, c.visit).Scan(&why); err != nil || why != media.EndedByHost {
		t.Errorf("the visit's end was kept as %q (%v)", why, err)
	}

	// attache nodes tells the operator which node was lost and which serve.
	var out, errs strings.Builder
	if code := cli.Run(ctx, []string{"nodes", "--json", "--database", c.url, "--data", t.TempDir()}, cli.IO{Stdin: strings.NewReader(""), Stdout: &out,
		Stderr: &errs, Getenv: func(string) string { return "" }}); code != 0 {
		t.Fatalf("attache nodes: %s", errs.String())
	}
	var listed []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(out.String()), &listed); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, l := range listed {
		states[l.ID] = l.State
	}
	want := map[string]string{n1.ID(): "lost", n2.ID(): "alive", n3.ID(): "alive", n4.ID(): "alive"}
	if !reflect.DeepEqual(states, want) {
		t.Errorf("attache nodes: %v, want %v", states, want)
	}

	// The nodes' internal endpoint opens to a node's credential only.
	for _, cred := range []string{"", "Node " + n2.ID() + " guessed-secret", "Bearer x"} {
		req, _ := http.NewRequest("GET", n3.URL+"/internal/v1/calls/session", nil)
		if cred != "" {
			req.Header.Set("Authorization", cred)
		}
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("internal endpoint with %q: %d, want 401", cred, res.StatusCode)
		}
	}

	// Guessing join links counts on every node: twenty unknown links spread
	// over three nodes, and the fourth refuses the next guess.
	for i := range 20 {
		res, err := http.Get(c.nodes[1+i%3].URL + "/join/guess" + strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Fatalf("guess %d: %d, want 404", i, res.StatusCode)
		}
	}
	res, err := http.Get(n4.URL + "/join/guess-again")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the 21st guess, on another node: %d, want 429", res.StatusCode)
	}
	// A valid link from the same address still opens its page.
	res, err = http.Get(n4.URL + c.links["detainee terminal"])
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("a valid link from an address that guessed: %d, want 200", res.StatusCode)
	}
}
