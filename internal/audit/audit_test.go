package audit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
)

var officer = audit.Actor{ID: "u1", Name: "officer", Address: "127.0.0.1"}

func fill(t *testing.T, l *audit.Log, n int) {
	t.Helper()
	for i := range n {
		err := l.Record(context.Background(), audit.Entry{Actor: officer, Action: "case.view", ObjectType: "case", ObjectID: fmt.Sprint("c", i%3)})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifyWholeChain(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		l := audit.New(d)
		r, err := l.Verify(context.Background())
		if err != nil || !r.OK() || r.Entries != 0 {
			t.Fatalf("empty log: %+v, %v", r, err)
		}
		fill(t, l, 5)
		r, err = l.Verify(context.Background())
		if err != nil || !r.OK() || r.Entries != 5 || r.Head == "" {
			t.Fatalf("verify = %+v, %v; want 5 whole entries", r, err)
		}
	})
}

func TestVerifyFindsTampering(t *testing.T) {
	tamper := []struct {
		name      string
		sql       string
		brokenAt  int64
		wantWords string
	}{
		{"edited detail", `UPDATE audit_log SET detail = 'nothing to see' WHERE seq = 3`, 3, "changed"},
		{"edited actor", `UPDATE audit_log SET actor = 'someone else' WHERE seq = 2`, 2, "changed"},
		{"deleted row", `DELETE FROM audit_log WHERE seq = 4`, 4, "missing"},
		{"relinked row", `UPDATE audit_log SET prev_hash = 'abc' WHERE seq = 4`, 4, "does not point"},
		{"replaced hash", `UPDATE audit_log SET hash = 'abc' WHERE seq = 3`, 3, "changed"},
	}
	for _, tc := range tamper {
		t.Run(tc.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				l := audit.New(d)
				fill(t, l, 6)
				if _, err := d.ExecContext(context.Background(), tc.sql); err != nil {
					t.Fatal(err)
				}
				r, err := l.Verify(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if r.BrokenAt != tc.brokenAt || !strings.Contains(r.Problem, tc.wantWords) {
					t.Fatalf("verify = %+v, want broken at %d (%q)", r, tc.brokenAt, tc.wantWords)
				}
			})
		})
	}
}

func TestConcurrentAppendsKeepTheChain(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		l := audit.New(d)
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			wg.Go(func() {
				errs <- l.Record(context.Background(), audit.Entry{Actor: officer, Action: "user.view", ObjectType: "user", ObjectID: fmt.Sprint(i)})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		r, err := l.Verify(context.Background())
		if err != nil || !r.OK() || r.Entries != 40 {
			t.Fatalf("verify = %+v, %v; want 40 whole entries", r, err)
		}
	})
}

func TestAppendRollsBackWithTheChange(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		l := audit.New(d)
		ctx := context.Background()
		boom := errors.New("boom")
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			if err := l.Append(ctx, tx, audit.Entry{Actor: officer, Action: "user.create"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		got, err := l.List(ctx, audit.Filter{})
		if err != nil || len(got) != 0 {
			t.Fatalf("after rollback the log has %d entries (%v)", len(got), err)
		}
		if err := l.Record(ctx, audit.Entry{Action: "x"}); err == nil {
			t.Fatal("entry without actor accepted")
		}
	})
}

func TestListFilters(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		l := audit.New(d)
		fill(t, l, 9)
		got, err := l.List(context.Background(), audit.Filter{ObjectType: "case", ObjectID: "c1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got[0].Seq <= got[1].Seq {
			t.Fatalf("got %d entries, want 3 newest first: %+v", len(got), got)
		}
		page, _ := l.List(context.Background(), audit.Filter{Before: 4, Limit: 2})
		if len(page) != 2 || page[0].Seq != 3 || page[1].Seq != 2 {
			t.Fatalf("page = %+v", page)
		}
	})
}
