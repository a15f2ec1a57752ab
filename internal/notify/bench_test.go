package notify

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
)

// counter is a Mailer that only counts.
type counter struct{ n atomic.Int64 }

func (c *counter) Deliver(context.Context, Mail) error { c.n.Add(1); return nil }

func benchQueue(b *testing.B, e db.Engine) (*db.DB, *Queue, *counter) {
	b.Helper()
	d := dbtest.Open(b, e)
	if err := Migrate(context.Background(), d); err != nil {
		b.Fatal(err)
	}
	c := &counter{}
	q, err := New(d, c, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{testOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = q.Stop(ctx)
	})
	return d, q, c
}

// BenchmarkSend measures what queuing a notice adds to the transaction of
// the change that causes it: "tx" is a transaction with one small insert,
// "tx+send" the same with a mail queued in it (with a dedupe key, as
// escalations and reminders have).
func BenchmarkSend(b *testing.B) {
	for _, e := range []db.Engine{db.SQLite, db.Postgres} {
		b.Run(string(e), func(b *testing.B) {
			d, q, _ := benchQueue(b, e)
			ctx := context.Background()
			if _, err := d.ExecContext(ctx, `CREATE TABLE bench_rows (id TEXT PRIMARY KEY)`); err != nil {
				b.Fatal(err)
			}
			b.Run("tx", func(b *testing.B) {
				for b.Loop() {
					if err := d.InTx(ctx, func(tx *sql.Tx) error {
						_, err := tx.ExecContext(ctx, `INSERT INTO bench_rows (id) VALUES ($1)`, db.NewID())
						return err
					}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("tx+send", func(b *testing.B) {
				i := 0
				for b.Loop() {
					i++
					m := mailTo("bench@example.org")
					m.Key = fmt.Sprintf("bench:%d:%s", i, db.NewID())
					if err := d.InTx(ctx, func(tx *sql.Tx) error {
						if _, err := tx.ExecContext(ctx, `INSERT INTO bench_rows (id) VALUES ($1)`, db.NewID()); err != nil {
							return err
						}
						return q.Send(ctx, tx, m)
					}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkDeliver measures how fast the queue drains with the production
// settings (4 workers, 1 s poll, 100 ms fetch cooldown): b.N mails queued,
// then the workers deliver them to a mailer that costs nothing, so the time
// is River's and the database's. Reported as mails per second.
func BenchmarkDeliver(b *testing.B) {
	for _, e := range []db.Engine{db.SQLite, db.Postgres} {
		b.Run(string(e), func(b *testing.B) {
			d, q, c := benchQueue(b, e)
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				if err := d.InTx(ctx, func(tx *sql.Tx) error { return q.Send(ctx, tx, mailTo("bench@example.org")) }); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			start := time.Now()
			if err := q.Start(ctx); err != nil {
				b.Fatal(err)
			}
			for c.n.Load() < int64(b.N) {
				if time.Since(start) > 2*time.Minute {
					b.Fatalf("delivered %d of %d in 2 minutes", c.n.Load(), b.N)
				}
				time.Sleep(5 * time.Millisecond)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "mails/s")
		})
	}
}
