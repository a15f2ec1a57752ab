package calls_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/cli"
	"github.com/attache-org/attache/internal/nodetest"
	"github.com/attache-org/attache/internal/recording"
)

// A node whose shared settings differ from a live node's is refused at
// start, with a message that names the setting; with the same ones it
// starts.
func TestSharedSettingsMustMatch(t *testing.T) {
	c := startCluster(t, 1)
	serve := func(extra ...string) (int, string) {
		var out, errs strings.Builder
		args := append([]string{"serve", "--database", c.url, "--data", t.TempDir(), "--addr", "127.0.0.3:0", "--media-udp", "127.0.0.3:0", "--media-tcp", "off"}, extra...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		code := cli.Run(ctx, args, cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errs, Getenv: func(string) string { return "" }})
		return code, errs.String()
	}
	for _, tc := range []struct {
		name  string
		extra []string
		says  string
	}{
		{"another recording key", []string{"--recording-key", writeKey(t)}, "--recording-key is not the same as on the live node " + c.nodes[0].ID()},
		{"no recording key", nil, "--recording-key is set on the live node " + c.nodes[0].ID() + " and not here"},
		{"a TURN relay the others lack", []string{"--recording-key", c.key, "--turn-udp", "127.0.0.3:0", "--turn-secret", "a shared secret of the cluster"}, "--turn-secret is set here and not on the live node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, errs := serve(tc.extra...)
			if code != 1 || !strings.Contains(errs, tc.says) {
				t.Errorf("exit %d, want 1 saying %q:\n%s", code, tc.says, nodetest.Tail(errs, 3))
			}
		})
	}
	var n int
	if err := c.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM nodes`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d nodes registered (%v), want only the first", n, err)
	}
}

// writeKey makes a recording key of its own.
func writeKey(t *testing.T) string {
	t.Helper()
	path := t.TempDir() + "/other.key"
	if _, err := recording.GenerateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// The holder of a call is killed again and again (three times, or
// ATTACHE_FAILOVER_KILLS): each time the officer and the detainee, on
// other nodes, see and hear each other again within the node timeout. The
// times are logged with their median and 95th percentile (for
// docs/benchmarks.md); the killed node is started again each time.
func TestFailoverTimes(t *testing.T) {
	kills := 3
	if v := os.Getenv("ATTACHE_FAILOVER_KILLS"); v != "" {
		var err error
		if kills, err = strconv.Atoi(v); err != nil || kills < 1 {
			t.Fatalf("ATTACHE_FAILOVER_KILLS=%q", v)
		}
	}
	c := startCluster(t, 3)
	cookie := c.signIn(c.nodes[0], "barton")
	officer := openPage(t, "/cases/"+c.caseID+"/visits/"+c.visit+"/call/ws", cookie, "officer", true, c.nodes...)
	detainee := openPage(t, c.links["detainee terminal"]+"/ws", nil, "detainee", true, rotate(c.nodes, 1)...)
	admit(t, officer, "Michael Kovrig (terminal)", detainee)
	flowing := func(since time.Time) func() bool {
		return func() bool { return officer.Flowing(since, "detainee") && detainee.Flowing(since, "officer") }
	}
	waitFor(t, 20*time.Second, "the call flowing", flowing(time.Now()), officer, detainee)
	var took []time.Duration
	for range kills {
		h := c.nodeOf(c.holder())
		if h == nil {
			t.Fatal("no node holds the call")
		}
		killed := time.Now()
		h.Kill()
		waitFor(t, nodeTimeout, "media again after "+h.Name+", the holder, was killed", flowing(killed.Add(inFlight)), officer, detainee)
		took = append(took, time.Since(killed))
		h.Start()
		time.Sleep(time.Second)
	}
	slices.Sort(took)
	pct := func(p float64) time.Duration { return took[min(len(took)-1, int(p*float64(len(took))))] }
	t.Logf("failover over %d kills: p50 %s, p95 %s, max %s", kills, pct(0.5).Round(10*time.Millisecond), pct(0.95).Round(10*time.Millisecond),
		took[len(took)-1].Round(10*time.Millisecond))
}
