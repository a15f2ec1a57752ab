// Package servertest runs the real program ("attache serve") on loopback for
// tests, as an operator would start it, and stops it when the test ends.
package servertest

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/cli"
)

// Buffer is a buffer that a running server writes while the test reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *Buffer) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Server is a running "attache serve".
type Server struct {
	URL  string  // e.g. http://127.0.0.1:41234
	Out  *Buffer // what it printed on standard output
	Errs *Buffer // what it printed on standard error (its log)
	stop func()
}

// Stop stops the server as SIGTERM would and waits until it has exited,
// failing the test if it does not exit cleanly within 20 seconds.
func (s *Server) Stop() { s.stop() }

var runningAt = regexp.MustCompile(`is running at (https?://(?:127\.0\.0\.1|localhost):\d+)`)

// startTimeout is how long the program may take to start. With --demo it
// hashes seven passwords with argon2id and loads the seed data, which under
// the race detector on a busy two-core machine takes tens of seconds.
const startTimeout = 2 * time.Minute

// Start runs "attache serve --addr 127.0.0.1:0 --media-udp 127.0.0.1:0 --media-tcp 127.0.0.1:0 ARGS…" until the test ends,
// and returns once it listens. The test fails if it exits early or does not
// stop within 20 seconds of the end.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errs := &Buffer{}, &Buffer{}
	done := make(chan int, 1)
	args = append([]string{"serve", "--addr", "127.0.0.1:0", "--media-udp", "127.0.0.1:0", "--media-tcp", "127.0.0.1:0"}, args...)
	go func() {
		done <- cli.Run(ctx, args, cli.IO{Stdin: strings.NewReader(""), Stdout: out, Stderr: errs,
			Getenv: func(string) string { return "" }})
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("serve exited with %d: %s", code, lastLines(errs.String(), 20))
				}
			case <-time.After(20 * time.Second):
				t.Error("serve did not stop within 20 s of cancellation")
			}
		})
	}
	t.Cleanup(stop)
	for deadline := time.Now().Add(startTimeout); time.Now().Before(deadline); {
		if m := runningAt.FindStringSubmatch(out.String()); m != nil {
			return &Server{URL: m[1], Out: out, Errs: errs, stop: stop}
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("serve exited with %d: %s\nerrors: %s", code, out.String(), lastLines(errs.String(), 20))
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("server did not start: %s\nerrors: %s", out.String(), lastLines(errs.String(), 20))
	return nil
}

// lastLines is the end of a log, for a failure message.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// DemoPassword reads a demo account's password from what the server printed.
func (s *Server) DemoPassword(t testing.TB, username string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(username) + `\s+\S+\s+(\S+)$`).FindStringSubmatch(s.Out.String())
	if m == nil {
		t.Fatalf("no password printed for %s:\n%s", username, s.Out.String())
	}
	return m[1]
}
