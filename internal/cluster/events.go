package cluster

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/attache-org/attache/internal/db"
)

// Event is news one node tells every node (itself included).
type Event struct {
	// Kind says what happened: KindRemove, KindRecheck, or KindResync
	// (made locally when the channel broke: events may have been missed).
	Kind        string `json:"kind"`
	Visit       string `json:"visit,omitempty"`
	Participant string `json:"participant,omitempty"`
	From        string `json:"from"`
}

// Kinds of event.
const (
	// KindRemove takes Participant out of Visit's call (a link withdrawn).
	KindRemove = "remove"
	// KindRecheck asks every node to check again the credentials of the
	// people in its calls (an account disabled, a session ended).
	KindRecheck = "recheck"
	// KindResync says the node may have missed events.
	KindResync = "resync"
)

const channel = "attache_events"

// bus delivers events: to this node's subscribers at once, and to the
// other nodes through PostgreSQL's NOTIFY.
type bus struct {
	db   *db.DB
	self string
	log  *slog.Logger
	mu   sync.Mutex
	subs []func(Event)
}

func newBus(d *db.DB, self string, log *slog.Logger) *bus { return &bus{db: d, self: self, log: log} }

// Subscribe calls f with every event; f must not block.
func (c *Cluster) Subscribe(f func(Event)) {
	c.events.mu.Lock()
	defer c.events.mu.Unlock()
	c.events.subs = append(c.events.subs, f)
}

// Publish tells every node, this one first.
func (c *Cluster) Publish(ctx context.Context, e Event) error {
	e.From = c.cfg.ID
	c.events.deliver(e)
	if c.db.Engine != db.Postgres {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("event: %w", err)
	}
	if _, err := c.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, channel, string(b)); err != nil {
		return fmt.Errorf("send event: %w", err)
	}
	return nil
}

func (b *bus) deliver(e Event) {
	b.mu.Lock()
	subs := append([]func(Event){}, b.subs...)
	b.mu.Unlock()
	for _, f := range subs {
		f(e)
	}
}

// run listens until ctx ends, on one connection of the pool; when the
// connection breaks it listens again and tells the subscribers to resync.
func (b *bus) run(ctx context.Context) {
	if b.db.Engine != db.Postgres {
		return
	}
	for first := true; ctx.Err() == nil; first = false {
		if !first {
			b.deliver(Event{Kind: KindResync, From: b.self})
		}
		err := b.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		b.log.Warn("cluster: event channel broke; listening again", slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (b *bus) listen(ctx context.Context) error {
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `LISTEN `+channel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	err = conn.Raw(func(dc any) error {
		pc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("not a pgx connection: %T", dc)
		}
		for {
			n, err := pc.Conn().WaitForNotification(ctx)
			if err != nil {
				// Never back to the pool: it still listens.
				return fmt.Errorf("%w: %w", driver.ErrBadConn, err)
			}
			var e Event
			if err := json.Unmarshal([]byte(n.Payload), &e); err != nil {
				b.log.Warn("cluster: bad event", slog.String("payload", n.Payload))
				continue
			}
			if e.From != b.self {
				b.deliver(e)
			}
		}
	})
	return err
}
