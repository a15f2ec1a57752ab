package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/nodetest"
	"github.com/attache-org/attache/internal/recording"
	"github.com/attache-org/attache/internal/servertest"
	"github.com/attache-org/attache/internal/testenv"
)

func TestMain(m *testing.M) { nodetest.Main(m) }

// haproxyConfig puts two nodes behind one address, checking each on
// /readyz. The officer's pages go to the first node and the link holders'
// to the second while both are up (a real deployment balances them as it
// likes; here each side must reach its own node); a node that is down is
// skipped, and a request it refuses is sent to the other.
const haproxyConfig = `global
    maxconn 256
defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    option redispatch
    retries 2
frontend attache
    bind %s
    option forwardfor
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /readyz
    default-server inter 300ms fall 1 rise 2
    use-server n1 if { path_beg /cases/ }
    use-server n2 if { path_beg /join/ }
    server n1 %s check
    server n2 %s check
`

// startHAProxy runs Debian's HAProxy in front of the nodes until the test ends.
func startHAProxy(t *testing.T, addr string, nodes ...*nodetest.Node) {
	t.Helper()
	path, err := exec.LookPath("haproxy")
	if err != nil {
		testenv.Missing(t, "haproxy", "no haproxy on PATH (apt-get install haproxy)")
	}
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	body := fmt.Sprintf(haproxyConfig, addr, strings.TrimPrefix(nodes[0].URL, "http://"), strings.TrimPrefix(nodes[1].URL, "http://"))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var out servertest.Buffer
	cmd := exec.Command(path, "-db", "-f", cfg)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy:\n%s", out.String())
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy does not listen on %s:\n%s", addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // both servers checked up (rise 2 × 300 ms)
}

// Two nodes on one PostgreSQL behind HAProxy: the officer's page reaches
// the first node, the detainee's the second; both decode each other's
// video. The node that holds the call is killed; both pages decode video
// again, by themselves, through the other node.
func TestCallSurvivesNodeBehindHAProxy(t *testing.T) {
	b := newBrowser(t)
	_, dbURL := dbtest.ConnectURL(t, db.Postgres)
	key := filepath.Join(t.TempDir(), "recording.key")
	if _, err := recording.GenerateKeyFile(key); err != nil {
		t.Fatal(err)
	}
	host := "127.0.0.1"
	proxyPort := nodetest.FreePort(t, host)
	proxy := "http://" + net.JoinHostPort(host, strconv.Itoa(proxyPort))
	common := []string{"--recording-key", key, "--trusted-proxies", "127.0.0.1", "--base-url", proxy}
	n1 := nodetest.New(t, 1, dbURL, append(common, "--demo")...)
	n1.Start()
	n2 := nodetest.New(t, 2, dbURL, common...)
	n2.Start()
	// The nodes print and check links of the proxy's address.
	startHAProxy(t, strings.TrimPrefix(proxy, "http://"), n1, n2)
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range []*nodetest.Node{n1, n2} {
				t.Logf("-- %s:\n%s", n.Name, nodetest.Tail(n.Errs.String(), 40))
			}
		}
	})

	officer, _, links := enterDemoCall(t, b, &servertest.Server{URL: proxy, Out: n1.Out})
	detainee := joinLink(t, b, links["detainee terminal"])
	admit(t, officer, detainee)
	decoding := func(what string, since time.Time) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for _, tab := range []context.Context{officer, detainee} {
			for {
				s1 := readStats(t, tab)
				time.Sleep(500 * time.Millisecond)
				s2 := readStats(t, tab)
				if s2.Videos >= 1 && s2.Frames > s1.Frames && s2.Audio > s1.Audio {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: no video decoded %s after %s: %+v", what, time.Since(since).Round(time.Second), what, s2)
				}
			}
		}
		t.Logf("%s: both pages decode video %s later", what, time.Since(since).Round(100*time.Millisecond))
	}
	decoding("joined", time.Now())

	// Each page reached its own node, and the first holds the call.
	if !strings.Contains(n1.Errs.String(), "relayed session") || !strings.Contains(n1.Errs.String(), "from="+n2.ID()) {
		t.Fatal("the detainee's page was not relayed from the second node")
	}
	killed := time.Now()
	n1.Kill()
	// Frames already received may still be decoded for a moment: wait
	// until only new ones can count.
	time.Sleep(time.Second)
	decoding("the holder killed", killed)
	if !strings.Contains(n2.Errs.String(), "call: taken over") {
		t.Error("the second node did not take the call over")
	}
}
