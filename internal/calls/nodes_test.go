package calls_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/calltest"
	"github.com/attache-org/attache/internal/cli"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/recording"
	"github.com/attache-org/attache/internal/servertest"
)

// A test process started with these variables is an "attache serve" node:
// the tests start nodes as separate processes, so that one can be killed.
const (
	nodeVar     = "ATTACHE_TEST_NODE_ARGS"
	nodeArgSep  = "\x1f"
	nodeTimeout = 10 * time.Second // the default: failover must be fast with it
)

func TestMain(m *testing.M) {
	if args := os.Getenv(nodeVar); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Run(ctx, strings.Split(args, nodeArgSep), cli.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
			Getenv: func(string) string { return "" }})
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// node is an "attache serve" process on its own loopback address.
type node struct {
	t    *testing.T
	name string
	args []string
	url  string
	cmd  *exec.Cmd
	out  *servertest.Buffer
	errs *servertest.Buffer
	done chan error
}

// freePort finds a free TCP port on host, so that a node restarts on the
// same address.
func freePort(t *testing.T, host string) int {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newNode prepares node n (1, 2, 3…) on 127.0.0.(n+1), on the database.
func newNode(t *testing.T, n int, dbURL string, extra ...string) *node {
	host := fmt.Sprintf("127.0.0.%d", n+1)
	port := freePort(t, host)
	args := append([]string{"serve", "--database", dbURL, "--data", t.TempDir(), "--addr", net.JoinHostPort(host, strconv.Itoa(port)),
		"--media-udp", host + ":0", "--media-tcp", "off", "--node-timeout", nodeTimeout.String(), "--log-level", "debug"}, extra...)
	return &node{t: t, name: fmt.Sprintf("n%d", n), args: args, url: "http://" + net.JoinHostPort(host, strconv.Itoa(port))}
}

var runningAt = regexp.MustCompile(`is running at (http://[0-9.:]+)`)

// start runs the node and returns once it serves.
func (n *node) start() {
	t := n.t
	t.Helper()
	n.out, n.errs = &servertest.Buffer{}, &servertest.Buffer{}
	n.cmd = exec.Command(os.Args[0], "-test.run=^$")
	n.cmd.Env = append(os.Environ(), nodeVar+"="+strings.Join(n.args, nodeArgSep))
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.errs
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.done = make(chan error, 1)
	go func(c *exec.Cmd, done chan error) { done <- c.Wait() }(n.cmd, n.done)
	t.Cleanup(func() { n.kill() })
	deadline := time.Now().Add(2 * time.Minute)
	for !runningAt.MatchString(n.out.String()) {
		select {
		case err := <-n.done:
			n.done <- err
			t.Fatalf("%s exited: %v\n%s\n%s", n.name, err, n.out.String(), tail(n.errs.String(), 30))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start:\n%s", n.name, tail(n.errs.String(), 30))
		}
	}
}

// kill stops the node at once, as kill -9 does.
func (n *node) kill() {
	if n.cmd == nil || n.cmd.ProcessState != nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
	n.done <- nil
	n.cmd.ProcessState = &os.ProcessState{}
}

// stop stops the node as SIGTERM does and waits for it to exit cleanly.
func (n *node) stop() {
	t := n.t
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-n.done:
		n.done <- err
		if err != nil {
			t.Errorf("%s stopped with %v\n%s", n.name, err, tail(n.errs.String(), 30))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop within 30 s", n.name)
	}
	n.cmd.ProcessState = &os.ProcessState{}
}

func (n *node) ws(path string) string { return "ws" + strings.TrimPrefix(n.url, "http") + path }

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

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
		nd := newNode(t, i, u, extra...)
		nd.start()
		c.nodes = append(c.nodes, nd)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.nodes {
				t.Logf("-- %s's log:\n%s", n.name, tail(n.errs.String(), 40))
			}
		}
	})
	out := c.nodes[0].out.String()
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
	res, err := browser.PostForm(via.url+"/login", url.Values{"username": {username}, "password": {c.passwd[username]}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	u, _ := url.Parse(via.url)
	var cookies []string
	for _, ck := range jar.Cookies(u) {
		cookies = append(cookies, ck.Name+"="+ck.Value)
	}
	if len(cookies) == 0 {
		t.Fatalf("%s could not sign in: %d", username, res.StatusCode)
	}
	return http.Header{"Cookie": {strings.Join(cookies, "; ")}}
}

// holder is the node that holds the visit's call.
func (c *testCluster) holder() string {
	var id string
	_ = c.db.QueryRowContext(context.Background(), `SELECT node_id FROM call_leases WHERE visit_id = $1`, c.visit).Scan(&id)
	return id
}

// nodeOf names the node (n1…) whose id is id.
func (c *testCluster) nodeOf(id string) *node {
	for _, n := range c.nodes {
		if strings.Contains(n.out.String()+n.errs.String(), "node id="+id) {
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
