package calls_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/calltest"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/nodetest"
	"github.com/attache-org/attache/internal/recording"
)

const nodeTimeout = 10 * time.Second // the default: failover must be fast with it

// inFlight is how long packets sent before a kill may still arrive (from
// the buffers of the connections that die with it): media "again" is media
// that arrived this long after the kill, or later.
const inFlight = time.Second

func TestMain(m *testing.M) { nodetest.Main(m) }

type node = nodetest.Node

// cluster is several nodes on one PostgreSQL database, the first with the
// demo data: its open video visit, join links and accounts.
type testCluster struct {
	t      *testing.T
	db     *db.DB
	url    string
	nodes  []*node
	links  map[string]string // "detainee terminal", "monitor": the join path
	passwd map[string]string
	caseID string
	visit  string
	key    string // the recording key every node has
}

func startCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	d, u := dbtest.ConnectURL(t, db.Postgres)
	c := &testCluster{t: t, db: d, url: u, links: map[string]string{}, passwd: map[string]string{}}
	// Every node encrypts recordings for the same key.
	c.key = filepath.Join(t.TempDir(), "recording.key")
	if _, err := recording.GenerateKeyFile(c.key); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		extra := []string{"--recording-key", c.key}
		if i == 1 {
			extra = append(extra, "--demo")
		}
		nd := nodetest.New(t, i, u, extra...)
		nd.Start()
		c.nodes = append(c.nodes, nd)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.nodes {
				t.Logf("-- %s's log:\n%s", n.Name, nodetest.Tail(n.Errs.String(), 40))
			}
		}
	})
	out := c.nodes[0].Out.String()
	for _, m := range regexp.MustCompile(`(?m)^\s+(detainee terminal|monitor):\s+http://[0-9.:]+(/join/\S+)$`).FindAllStringSubmatch(out, -1) {
		c.links[m[1]] = m[2]
	}
	for _, m := range regexp.MustCompile(`(?m)^\s+(\w+)\s+\w+\s+(\S+)$`).FindAllStringSubmatch(out, -1) {
		c.passwd[m[1]] = m[2]
	}
	if len(c.links) != 2 || c.passwd["barton"] == "" {
		t.Fatalf("no demo links or password:\n%s", out)
	}
	ctx := context.Background()
	if err := d.QueryRowContext(ctx, `SELECT v.id, v.case_id FROM visits v WHERE EXISTS (SELECT 1 FROM visit_links l WHERE l.visit_id = v.id)`).
		Scan(&c.visit, &c.caseID); err != nil {
		t.Fatal(err)
	}
	return c
}

// signIn signs a demo account in through a node and returns its cookie.
func (c *testCluster) signIn(via *node, username string) http.Header {
	t := c.t
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	res, err := browser.PostForm(via.URL+"/login", url.Values{"username": {username}, "password": {c.passwd[username]}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	u, _ := url.Parse(via.URL)
	var cookies []string
	for _, ck := range jar.Cookies(u) {
		cookies = append(cookies, ck.Name+"="+ck.Value)
	}
	if len(cookies) == 0 {
		t.Fatalf("%s could not sign in: %d", username, res.StatusCode)
	}
	return http.Header{"Cookie": {strings.Join(cookies, "; ")}}
}

// holder is the id of the node that holds the demo visit's call.
func (c *testCluster) holder() string { return c.holderOf(c.visit) }

// holderOf is the id of the node that holds a visit's call.
func (c *testCluster) holderOf(visit string) string {
	var id string
	_ = c.db.QueryRowContext(context.Background(), `SELECT node_id FROM call_leases WHERE visit_id = $1`, visit).Scan(&id)
	return id
}

// nodeOf names the node (n1…) whose id is id.
func (c *testCluster) nodeOf(id string) *node {
	for _, n := range c.nodes {
		if id != "" && n.ID() == id {
			return n
		}
	}
	return nil
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool, logs ...*calltest.Page) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, p := range logs {
				fmt.Fprintf(&b, "\n-- %s:\n%s", p.Name, p.Log())
			}
			t.Fatalf("after %s: %s%s", d, what, b.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
