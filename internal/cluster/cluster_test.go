package cluster_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/cluster"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
)

func join(t *testing.T, d *db.DB, id string, secrets map[string]string) *cluster.Cluster {
	t.Helper()
	c, err := cluster.Join(context.Background(), d, cluster.Config{ID: id, InternalURL: "http://127.0.0.1:1", Timeout: time.Second, Secrets: secrets},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Leave(context.Background()) })
	return c
}

// SQLite is one machine: a second node on the same file is refused until
// the first leaves.
func TestSQLiteHasOneNode(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	ctx := context.Background()
	first := join(t, d, "a", nil)
	if _, err := cluster.Join(ctx, d, cluster.Config{ID: "b", Timeout: time.Second}, slog.New(slog.DiscardHandler)); !errors.Is(err, cluster.ErrSecondProcess) {
		t.Fatalf("a second node on the SQLite file: %v", err)
	}
	if err := first.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	join(t, d, "b", nil)
}

// A node's credential opens the others' internal endpoints; a wrong one, or
// that of a node that stopped, does not. Shared settings must match.
func TestCredentialsAndSharedSettings(t *testing.T) {
	d := dbtest.Open(t, db.Postgres)
	ctx := context.Background()
	a := join(t, d, "a", map[string]string{"--turn-secret": "one secret of sixteen"})
	b := join(t, d, "b", map[string]string{"--turn-secret": "one secret of sixteen"})
	if id, err := b.Authenticate(ctx, a.Credential()); err != nil || id != "a" {
		t.Errorf("a's credential: %q %v", id, err)
	}
	for _, bad := range []string{"", "Node a", "Node a wrong", "Bearer x y", "Node nobody " + "x"} {
		if _, err := b.Authenticate(ctx, bad); err == nil {
			t.Errorf("credential %q accepted", bad)
		}
	}
	if _, err := cluster.Join(ctx, d, cluster.Config{ID: "c", Timeout: time.Second, Secrets: map[string]string{"--turn-secret": "another secret here"}},
		slog.New(slog.DiscardHandler)); err == nil || !contains(err.Error(), "--turn-secret is not the same as on the live node") {
		t.Errorf("a node with another secret: %v", err)
	}
	cred := a.Credential()
	if err := a.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, cred); err == nil {
		t.Error("a stopped node's credential accepted")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// A node that stops beating is declared lost by a live one after the
// timeout; when it beats again it learns it was fenced, drops its calls
// and joins again.
func TestSilentNodeIsLostAndFenced(t *testing.T) {
	d := dbtest.Open(t, db.Postgres)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := join(t, d, "a", nil)
	b := join(t, d, "b", nil)
	go b.Run(ctx, nil)
	n, err := b.Node(ctx, "a")
	if err != nil || !b.Alive(n) {
		t.Fatalf("a is not alive: %+v %v", n, err)
	}
	// a does not beat: within the timeout and a beat, b declares it lost.
	deadline := time.Now().Add(3 * time.Second)
	for {
		n, _ = b.Node(ctx, "a")
		if n.StopReason == cluster.ReasonLost {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a was not declared lost: %+v", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n.State(time.Now(), time.Second) != "lost" {
		t.Errorf("state %q", n.State(time.Now(), time.Second))
	}
	var fenced sync.WaitGroup
	fenced.Add(1)
	a.OnFenced(func() { fenced.Done() })
	actx, acancel := context.WithCancel(ctx)
	defer acancel()
	go a.Run(actx, nil)
	fenced.Wait()
	deadline = time.Now().Add(3 * time.Second)
	for n, _ = b.Node(ctx, "a"); !b.Alive(n); n, _ = b.Node(ctx, "a") {
		if time.Now().After(deadline) {
			t.Fatalf("a did not join again: %+v", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// An event published on one node reaches every node, itself included,
// once.
func TestEventsReachEveryNode(t *testing.T) {
	d := dbtest.Open(t, db.Postgres)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := join(t, d, "a", nil)
	b := join(t, d, "b", nil)
	got := map[string]chan cluster.Event{"a": make(chan cluster.Event, 4), "b": make(chan cluster.Event, 4)}
	for id, c := range map[string]*cluster.Cluster{"a": a, "b": b} {
		ch := got[id]
		c.Subscribe(func(e cluster.Event) {
			if e.Kind != cluster.KindResync {
				ch <- e
			}
		})
		go c.Run(ctx, nil)
	}
	time.Sleep(300 * time.Millisecond) // both listen
	if err := a.Publish(ctx, cluster.Event{Kind: cluster.KindRemove, Visit: "v", Participant: "link:1"}); err != nil {
		t.Fatal(err)
	}
	for id, ch := range got {
		select {
		case e := <-ch:
			if e.Visit != "v" || e.Participant != "link:1" || e.From != "a" {
				t.Errorf("%s got %+v", id, e)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s did not get the event", id)
		}
		select {
		case e := <-ch:
			t.Errorf("%s got the event twice: %+v", id, e)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
