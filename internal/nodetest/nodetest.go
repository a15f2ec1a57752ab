// Package nodetest runs "attache serve" nodes as separate processes for
// tests, each on its own loopback address (127.0.0.2, 127.0.0.3…), so that
// a test can kill one as kill -9 would, stop one as SIGTERM does, and start
// it again on the same address. The test binary itself is the program: a
// package that uses nodetest calls Main from its TestMain.
package nodetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/cli"
	"github.com/attache-org/attache/internal/servertest"
)

// The variable that makes a test process an "attache serve" node.
const (
	argsVar = "ATTACHE_TEST_NODE_ARGS"
	argSep  = "\x1f"
)

// Main runs the tests, or, in a process started by Node.Start, the node.
func Main(m *testing.M) {
	if args := os.Getenv(argsVar); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Run(ctx, strings.Split(args, argSep), cli.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
			Getenv: func(string) string { return "" }})
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// Node is an "attache serve" process.
type Node struct {
	Name string
	Host string // its loopback address
	Port int
	URL  string // http://127.0.0.N:PORT
	Data string // its --data directory
	Out  *servertest.Buffer
	Errs *servertest.Buffer

	t    testing.TB
	args []string
	cmd  *exec.Cmd
	done chan error
	up   bool
}

// FreePort finds a free TCP port on host.
func FreePort(t testing.TB, host string) int {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// New prepares node n (1, 2, 3…) on 127.0.0.(n+1) with its own data
// directory, on the database, with the extra arguments.
func New(t testing.TB, n int, dbURL string, extra ...string) *Node {
	host := fmt.Sprintf("127.0.0.%d", n+1)
	port := FreePort(t, host)
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	data := t.TempDir()
	args := append([]string{"serve", "--database", dbURL, "--data", data, "--addr", addr,
		"--media-udp", host + ":0", "--media-tcp", "off", "--log-level", "debug"}, extra...)
	return &Node{Name: fmt.Sprintf("n%d", n), Host: host, Port: port, URL: "http://" + addr, Data: data, t: t, args: args}
}

var runningAt = regexp.MustCompile(`is running at http://`)

// Start runs the node and returns once it serves. The node is killed when
// the test ends, if it still runs.
func (n *Node) Start() {
	t := n.t
	t.Helper()
	n.Out, n.Errs = &servertest.Buffer{}, &servertest.Buffer{}
	n.cmd = exec.Command(os.Args[0], "-test.run=^$")
	n.cmd.Env = append(os.Environ(), argsVar+"="+strings.Join(n.args, argSep), "LC_ALL=C") // messages in English, as the tests read them
	n.cmd.Stdout, n.cmd.Stderr = n.Out, n.Errs
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	n.done, n.up = done, true
	go func(c *exec.Cmd) { done <- c.Wait() }(n.cmd)
	t.Cleanup(n.Kill)
	deadline := time.Now().Add(2 * time.Minute)
	for !runningAt.MatchString(n.Out.String()) {
		select {
		case err := <-done:
			n.up = false
			t.Fatalf("%s exited: %v\n%s\n%s", n.Name, err, n.Out.String(), Tail(n.Errs.String(), 30))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start:\n%s", n.Name, Tail(n.Errs.String(), 30))
		}
	}
}

// Kill stops the node at once, as kill -9 does.
func (n *Node) Kill() {
	if !n.up {
		return
	}
	n.up = false
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
}

// Stop stops the node as SIGTERM does and waits until it exits, failing
// the test unless it exits cleanly within 30 seconds.
func (n *Node) Stop() {
	t := n.t
	t.Helper()
	if !n.up {
		return
	}
	n.up = false
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-n.done:
		if err != nil {
			t.Errorf("%s stopped with %v\n%s", n.Name, err, Tail(n.Errs.String(), 30))
		}
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		t.Fatalf("%s did not stop within 30 s", n.Name)
	}
}

// ID is the node's id, as it logged it at start.
func (n *Node) ID() string {
	m := regexp.MustCompile(`msg=node id=(\S+)`).FindStringSubmatch(n.Errs.String())
	if m == nil {
		return ""
	}
	return m[1]
}

// WS is the WebSocket URL of a path on the node.
func (n *Node) WS(path string) string { return "ws" + strings.TrimPrefix(n.URL, "http") + path }

// Tail is the last lines of a log.
func Tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
