package audit_test

import (
	"context"
	"testing"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
)

// BenchmarkRecord measures one audit append in its own transaction: the cost
// every audited read pays.
func BenchmarkRecord(b *testing.B) {
	for _, e := range []db.Engine{db.SQLite, db.Postgres} {
		b.Run(string(e), func(b *testing.B) {
			l := audit.New(dbtest.Open(b, e))
			ctx := context.Background()
			for b.Loop() {
				if err := l.Record(ctx, audit.Entry{Actor: officer, Action: "case.view", ObjectType: "case", ObjectID: "c1"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify measures walking a chain of 10,000 entries.
func BenchmarkVerify(b *testing.B) {
	for _, e := range []db.Engine{db.SQLite, db.Postgres} {
		b.Run(string(e), func(b *testing.B) {
			d := dbtest.Open(b, e)
			l := audit.New(d)
			ctx := context.Background()
			for range 10000 {
				if err := l.Record(ctx, audit.Entry{Actor: officer, Action: "case.view", ObjectType: "case", ObjectID: "c1"}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				r, err := l.Verify(ctx)
				if err != nil || !r.OK() {
					b.Fatal(r, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/entry")
		})
	}
}
