package notify

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
)

// TestQueueUnderContention: the application's own writers queue mails from
// many transactions at once while the workers deliver, on the shared
// connection pool (River recommends one connection on SQLite; the
// application uses eight, with the write lock taken at BEGIN). Nothing may
// fail with a busy database, and every mail arrives once.
func TestQueueUnderContention(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rec := &counter{}
		q := newQueue(t, d, rec, nil, Options{Workers: 8})
		start(t, q)
		ctx := context.Background()
		if _, err := d.ExecContext(ctx, `CREATE TABLE contention_rows (id TEXT PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		const writers, each = 12, 15
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					err := d.InTx(ctx, func(tx *sql.Tx) error {
						if _, err := tx.ExecContext(ctx, `INSERT INTO contention_rows (id) VALUES ($1)`, db.NewID()); err != nil {
							return err
						}
						m := mailTo(fmt.Sprintf("w%d-%d@example.org", w, i))
						m.Key = fmt.Sprintf("contention:%d:%d", w, i)
						return q.Send(ctx, tx, m)
					})
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("a writer failed: %v", err)
		}
		eventually(t, 60*time.Second, "not every mail was delivered", func() bool { return rec.n.Load() >= writers*each })
		time.Sleep(300 * time.Millisecond)
		if n := rec.n.Load(); n != writers*each {
			t.Errorf("%d mails delivered, want %d", n, writers*each)
		}
	})
}
