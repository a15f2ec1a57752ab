// Package dbtest gives tests a fresh, migrated database on each engine:
// SQLite in a temporary directory, and PostgreSQL when ATTACHE_TEST_POSTGRES
// holds a URL, in a schema of its own that is dropped when the test ends, so
// tests run in parallel and leave nothing behind.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/testenv"
)

// PostgresVar holds the URL of the PostgreSQL server used by tests.
const PostgresVar = "ATTACHE_TEST_POSTGRES"

// Each runs fn as a subtest on every engine: "sqlite" always, "postgres"
// when configured (skipped with a message, or failed when required, if not).
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	for _, e := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(e), func(t *testing.T) {
			fn(t, Open(t, e))
		})
	}
}

// Open returns a migrated database of the given engine for this test.
func Open(t testing.TB, engine db.Engine) *db.DB {
	t.Helper()
	d := Connect(t, engine)
	if err := d.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", engine, err)
	}
	return d
}

// Connect is Open without the migrations. It also returns the URL, for tests
// that start the program on the same database.
func Connect(t testing.TB, engine db.Engine) *db.DB {
	t.Helper()
	d, _ := ConnectURL(t, engine)
	return d
}

// ConnectURL returns an empty database of the given engine and the URL that
// reaches it (for PostgreSQL, bound to the test's own schema).
func ConnectURL(t testing.TB, engine db.Engine) (*db.DB, string) {
	t.Helper()
	ctx := context.Background()
	switch engine {
	case db.SQLite:
		dir := t.TempDir()
		d, err := db.Connect(ctx, "", dir)
		if err != nil {
			t.Fatalf("open SQLite: %v", err)
		}
		t.Cleanup(func() { d.Close() })
		return d, "sqlite:" + d.Path
	case db.Postgres:
		base := os.Getenv(PostgresVar)
		if base == "" {
			testenv.Missing(t, "postgres", PostgresVar+" is not set (e.g. postgres://postgres@127.0.0.1:5432/test)")
		}
		admin, err := db.Connect(ctx, base, "")
		if err != nil {
			testenv.Missing(t, "postgres", err.Error())
		}
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema := "t_" + hex.EncodeToString(b[:])
		if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
			admin.Close()
			t.Fatalf("create schema: %v", err)
		}
		t.Cleanup(func() {
			if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
				t.Errorf("drop schema %s: %v", schema, err)
			}
			admin.Close()
		})
		u, err := url.Parse(base)
		if err != nil {
			t.Fatalf("parse %s: %v", PostgresVar, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		d, err := db.Connect(ctx, u.String(), "")
		if err != nil {
			t.Fatalf("open PostgreSQL schema %s: %v", schema, err)
		}
		t.Cleanup(func() { d.Close() })
		return d, u.String()
	}
	t.Fatalf("unknown engine %q", engine)
	return nil, ""
}
