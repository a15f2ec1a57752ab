package db_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		applied, err := d.Apply(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 0 {
			t.Fatalf("second migration applied %v, want nothing", applied)
		}
		all, err := db.Migrations()
		if err != nil {
			t.Fatal(err)
		}
		v, err := d.Version(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := all[len(all)-1].Version; v != want {
			t.Fatalf("version = %d, want %d", v, want)
		}
	})
}

func TestConcurrentMigrate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		// A fresh, unmigrated database migrated by several callers at once
		// ends with each migration applied exactly once.
		fresh := dbtest.Connect(t, d.Engine)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() { errs <- fresh.Migrate(context.Background()) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := fresh.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		all, _ := db.Migrations()
		if n != len(all) {
			t.Fatalf("schema_migrations has %d rows, want %d", n, len(all))
		}
	})
}

func TestPortableTypes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Date(2018, 12, 10, 14, 0, 0, 123456000, time.UTC)
		id := db.NewID()
		_, err := d.ExecContext(ctx, `INSERT INTO users (id, username, display_name, role, password_hash, must_change_password, created_at, updated_at, password_changed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7)`, id, "kovrig", "康明凯", "admin", "x", true, db.Instant(now))
		if err != nil {
			t.Fatal(err)
		}
		var name string
		var must bool
		var at int64
		err = d.QueryRowContext(ctx, `SELECT display_name, must_change_password, created_at FROM users WHERE id = $1 AND must_change_password = $2`, id, true).
			Scan(&name, &must, &at)
		if err != nil {
			t.Fatal(err)
		}
		if name != "康明凯" || !must || !db.Time(at).Equal(now) {
			t.Fatalf("got %q %v %v", name, must, db.Time(at))
		}
		_, err = d.ExecContext(ctx, `INSERT INTO users (id, username, display_name, role, password_hash, created_at, updated_at, password_changed_at)
			VALUES ($1, 'kovrig', 'x', 'admin', 'x', 0, 0, 0)`, db.NewID())
		if !db.IsUniqueViolation(err) {
			t.Fatalf("duplicate username: err = %v, want a unique violation", err)
		}
	})
}

func TestInTxRollsBack(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ('k', 'v', 0)`); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		var n int
		_ = d.QueryRowContext(ctx, `SELECT COUNT(*) FROM settings`).Scan(&n)
		if n != 0 {
			t.Fatalf("rolled-back insert left %d rows", n)
		}
	})
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		id := db.NewID()
		if len(id) != 26 || strings.ToLower(id) != id {
			t.Fatalf("bad id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func TestConnectErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ url, want string }{
		{"mysql://root@127.0.0.1/x", "want postgres://"},
		{"postgres://nobody:secret@127.0.0.1:1/none?connect_timeout=2", "cannot reach the database"},
	} {
		_, err := db.Connect(ctx, tc.url, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Connect(%q) = %v, want an error containing %q", tc.url, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}
