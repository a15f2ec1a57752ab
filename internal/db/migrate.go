package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one embedded schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in order. File names are
// NNNN_name.sql; the number is the version. A companion NNNN_name.ENGINE.sql
// (postgres or sqlite) is appended to its migration on that engine only,
// for the rare statement the engines spell differently.
func Migrations() ([]Migration, error) { return migrationsFor("") }

func migrationsFor(engine Engine) ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	extra := map[string]string{}
	var out []Migration
	for _, e := range entries {
		if base, eng, ok := engineFile(e.Name()); ok {
			if eng == engine {
				body, err := migrationFiles.ReadFile("migrations/" + e.Name())
				if err != nil {
					return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
				}
				extra[base] = string(body)
			}
			continue
		}
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", e.Name())
		}
		body, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(body) + "\n" + extra[e.Name()]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("two migrations with version %d", out[i].Version)
		}
	}
	return out, nil
}

// engineFile recognises NNNN_name.ENGINE.sql and returns NNNN_name.sql.
func engineFile(name string) (base string, engine Engine, ok bool) {
	for _, e := range []Engine{Postgres, SQLite} {
		if b, found := strings.CutSuffix(name, "."+string(e)+".sql"); found {
			return b + ".sql", e, true
		}
	}
	return "", "", false
}

// Migrate applies every embedded migration not yet applied, each in its own
// transaction. Several processes may call it at once: on PostgreSQL they
// queue on an advisory lock, on SQLite on the write lock.
func (d *DB) Migrate(ctx context.Context) error {
	_, err := d.Apply(ctx)
	return err
}

// Apply is Migrate that also reports which versions it applied.
func (d *DB) Apply(ctx context.Context) ([]int, error) {
	migrations, err := migrationsFor(d.Engine)
	if err != nil {
		return nil, err
	}
	err = d.InTx(ctx, func(tx *sql.Tx) error {
		// Under the lock: PostgreSQL's IF NOT EXISTS is not safe against a
		// concurrent CREATE.
		if err := d.Lock(ctx, tx, "attache.migrate"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY,
			name TEXT NOT NULL,
			applied_at BIGINT NOT NULL)`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	var applied []int
	for _, m := range migrations {
		done := false
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			if err := d.Lock(ctx, tx, "attache.migrate"); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&n); err != nil {
				return fmt.Errorf("read schema_migrations: %w", err)
			}
			if n > 0 {
				done = true
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply migration %04d_%s: %w", m.Version, m.Name, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, Instant(time.Now()))
			return err
		})
		if err != nil {
			return applied, err
		}
		if !done {
			applied = append(applied, m.Version)
		}
	}
	return applied, nil
}

// Version returns the highest applied migration, 0 on an empty database.
func (d *DB) Version(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := d.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}
