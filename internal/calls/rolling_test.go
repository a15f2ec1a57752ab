package calls_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/calltest"
	"github.com/attache-org/attache/internal/cli"
)

// browser is a signed-in officer's browser, for forms and the API.
type browser struct {
	t      *testing.T
	via    *node
	header http.Header
	csrf   string
}

func (c *testCluster) browser(via *node, username string) *browser {
	t := c.t
	t.Helper()
	b := &browser{t: t, via: via, header: c.signIn(via, username)}
	body, _ := b.do("GET", "/cases", "", nil)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token")
	}
	b.csrf = m[1]
	return b
}

// do sends a request and returns the body and the response (its
// redirects are not followed).
func (b *browser) do(method, path, contentType string, body io.Reader) (string, *http.Response) {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.via.URL+path, body)
	req.Header = b.header.Clone()
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("X-CSRF-Token", b.csrf)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return string(out), res
}

func (b *browser) form(path string, f url.Values) (string, *http.Response) {
	f.Set("csrf", b.csrf)
	return b.do("POST", path, "application/x-www-form-urlencoded", strings.NewReader(f.Encode()))
}

// detaineeNames are different enough not to look like one person.
var detaineeNames = []string{"Amélie Tremblay", "Bashir Rahimi", "Chloé Gagnon", "Dmitri Volkov", "Esther Okafor", "Farid Haddad",
	"Gwen Morrison", "Hiroshi Tanaka", "Ingrid Solberg", "Jamal Abernathy"}

// videoVisit makes a case with a video visit open now and a detainee
// link, hosted by the officer host, and returns the officer's call path
// and the link's.
func (b *browser) videoVisit(i int, post, host, kind string) (officerPath, linkPath string) {
	t := b.t
	t.Helper()
	body, res := b.form("/cases", url.Values{
		"names.0.value": {detaineeNames[i%len(detaineeNames)]}, "names.0.script": {"Latn"}, "names.0.lang": {"en"}, "names.0.kind": {"legal"},
		"display": {"0"}, "sex": {"male"}, "nationalities": {"CA yes passport"}, "status": {"open"}, "legal_status": {"pretrial"},
		"detaining_state": {"CN"}, "detention_type": {"rsdl"}, "arrested": {"2018-12-10 22:00"}, "arrested_zone": {"Asia/Shanghai"},
		"priority": {"urgent"}, "classification": {"protected_b"}, "post": {post}, "desk": {"China"},
	})
	caseID := strings.TrimPrefix(res.Header.Get("Location"), "/cases/")
	if res.StatusCode != http.StatusSeeOther || caseID == "" {
		t.Fatalf("create case %d: %d %s", i, res.StatusCode, regexp.MustCompile(`class="field-error"[^>]*>[^<]*`).FindAllString(body, -1))
	}
	start := time.Now().UTC().Add(5 * time.Minute).Format("2006-01-02 15:04")
	body, res = b.do("POST", "/api/v1/cases/"+caseID+"/visits", "application/json",
		strings.NewReader(`{"modality": "remote_video", "kind": "`+kind+`", "start": "`+start+`", "zone": "UTC", "minutes": 60, "host_id": "`+host+`"}`))
	var out struct {
		Visit struct {
			ID string `json:"id"`
		} `json:"visit"`
	}
	v := &out.Visit
	if res.StatusCode != http.StatusCreated || json.Unmarshal([]byte(body), &out) != nil || v.ID == "" {
		t.Fatalf("schedule visit %d: %d %s", i, res.StatusCode, body)
	}
	body, res = b.form("/cases/"+caseID+"/visits/"+v.ID+"/links", url.Values{"role": {"detainee"}, "name": {fmt.Sprintf("Terminal %d", i)}})
	j := strings.Index(body, "/join/")
	if res.StatusCode != http.StatusCreated || j < 0 {
		t.Fatalf("link %d: %d", i, res.StatusCode)
	}
	return "/cases/" + caseID + "/visits/" + v.ID + "/call/ws", body[j : j+strings.IndexAny(body[j:], "<\" ")]
}

// addOfficer makes a consular officer of the post with the command line,
// and returns their id.
func (c *testCluster) addOfficer(username, post string) string {
	t := c.t
	t.Helper()
	var out, errs strings.Builder
	code := cli.Run(context.Background(), []string{"user", "add", "--database", c.url, "--data", t.TempDir(), "--username", username,
		"--role", "consular_officer", "--post", post, "--name", "Host " + username, "--password-stdin"},
		cli.IO{Stdin: strings.NewReader("seven purple otters juggle lanterns\n"), Stdout: &out, Stderr: &errs, Getenv: func(string) string { return "" }})
	if code != 0 {
		t.Fatalf("user add %s: %s", username, errs.String())
	}
	var id string
	if err := c.db.QueryRowContext(context.Background(), `SELECT id FROM users WHERE username = $1`, username).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// rotate is the nodes starting from the i-th, as a load balancer spreads pages.
func rotate(nodes []*node, i int) []*node {
	i %= len(nodes)
	return append(append([]*node{}, nodes[i:]...), nodes[:i]...)
}

// A rolling restart of every node, one at a time, during ten live visits
// loses none: each node drains (its calls move to the others and their
// pages follow by themselves), stops, and comes back, and after each step
// every visit's two sides see and hear each other again, without the
// waiting room; no call ended.
func TestRollingRestart(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	b := c.browser(c.nodes[1], "barton")
	var post string
	if err := c.db.QueryRowContext(ctx, `SELECT post FROM users WHERE username = 'barton'`).Scan(&post); err != nil {
		t.Fatal(err)
	}
	type visit struct{ officer, detainee *calltest.Page }
	var visits []visit
	const n = 10
	for i := range n {
		officerPath := "/cases/" + c.caseID + "/visits/" + c.visit + "/call/ws"
		linkPath := c.links["detainee terminal"]
		if i > 0 {
			officerPath, linkPath = b.videoVisit(i, post, c.addOfficer(fmt.Sprintf("host%d", i), post), "consular")
		}
		o := openPage(t, officerPath, b.header, fmt.Sprintf("officer%d", i), true, rotate(c.nodes, i)...)
		d := openPage(t, linkPath+"/ws", nil, fmt.Sprintf("detainee%d", i), true, rotate(c.nodes, i+1)...)
		var name string
		if i == 0 {
			name = "Michael Kovrig (terminal)"
		} else {
			name = fmt.Sprintf("Terminal %d", i)
		}
		admit(t, o, name, d)
		visits = append(visits, visit{o, d})
	}
	flowing := func(since time.Time) func() bool {
		return func() bool {
			for i, v := range visits {
				if !v.officer.Flowing(since, fmt.Sprintf("detainee%d", i)) || !v.detainee.Flowing(since, fmt.Sprintf("officer%d", i)) {
					return false
				}
			}
			return true
		}
	}
	var pages []*calltest.Page
	for _, v := range visits {
		pages = append(pages, v.officer, v.detainee)
	}
	waitFor(t, 60*time.Second, "all ten visits flowing", flowing(time.Now()), pages...)
	for _, nd := range c.nodes {
		stopped := time.Now()
		nd.Stop()
		waitFor(t, 30*time.Second, "all ten visits flowing again after "+nd.Name+" stopped", flowing(time.Now()), pages...)
		t.Logf("%s stopped: all visits flowing again %s later", nd.Name, time.Since(stopped).Round(10*time.Millisecond))
		nd.Start()
	}
	waitFor(t, 30*time.Second, "all ten visits flowing after the restart", flowing(time.Now()), pages...)
	var ended int
	if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM visits WHERE call_ended IS NOT NULL`).Scan(&ended); err != nil || ended != 0 {
		t.Errorf("%d calls ended during the rolling restart (%v)", ended, err)
	}
	for _, p := range pages {
		if p.Ended() != "" {
			t.Errorf("%s was told the call ended: %s", p.Name, p.Ended())
		}
	}
	var lost int
	if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM visit_presence WHERE reason = 'node'`).Scan(&lost); err != nil || lost != 0 {
		t.Errorf("%d sessions recorded as lost with their node in a rolling restart (%v)", lost, err)
	}
}
