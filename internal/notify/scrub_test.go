package notify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
)

// TestSentMailLeavesNoContent: once a mail is delivered, its job keeps who
// it went to and why, but not its text: a family invitation's link is a
// credential, and the queue's finished jobs stay in the database a while.
func TestSentMailLeavesNoContent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rec := &recorder{}
		q := newQueue(t, d, rec, nil, Options{})
		start(t, q)
		m := mailTo("vina@example.org")
		m.Text = "Open https://attache.example/family/invite/SECRET-TOKEN-123 to make your account."
		send(t, d, q, m)
		eventually(t, 10*time.Second, "the mail was not delivered", func() bool { return len(rec.kinds()) == 1 })
		eventually(t, 10*time.Second, "the sent mail's text stays in the queue", func() bool {
			var n int
			if err := d.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM river_job WHERE CAST(args AS TEXT) LIKE '%SECRET-TOKEN%'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n == 0
		})
		jobs := mailJobs(t, q, "vina@example.org")
		if len(jobs) != 1 || !strings.Contains(strings.ReplaceAll(string(jobs[0].EncodedArgs), " ", ""), `"Kind":"family.message"`) {
			t.Errorf("what the job keeps: %d jobs %s", len(jobs), jobs[0].EncodedArgs)
		}
	})
}
