package searchbench

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
)

// TestRunSmall runs the benchmark end to end on a small population, so that
// the command keeps working; the figures are not checked.
func TestRunSmall(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		var out bytes.Buffer
		if err := Run(context.Background(), d, Options{People: 3000, Queries: 140, Seed: 1}, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "p99=") || !strings.Contains(out.String(), "in 100.0% of the searches") {
			t.Fatalf("report:\n%s", out.String())
		}
		// A second run reuses the population; a database with other cases is refused.
		out.Reset()
		if err := Run(context.Background(), d, Options{People: 3000, Queries: 10, Seed: 1}, &out); err != nil || !strings.Contains(out.String(), "reusing") {
			t.Fatalf("second run: %v\n%s", err, out.String())
		}
		if err := Run(context.Background(), d, Options{People: 10, Queries: 10, Seed: 2}, &out); err == nil {
			t.Fatal("a benchmark ran over a database that holds other cases")
		}
	})
}
