// Package db opens Attaché's database, SQLite by default or PostgreSQL, applies
// the embedded migrations and runs transactions.
//
// Both engines share one schema and one set of SQL statements. The rules that
// make this possible are written down in docs/architecture.md: ids are text
// made in Go, instants are BIGINT Unix microseconds in UTC, booleans are
// BOOLEAN, placeholders are $1, $2…, and RETURNING and ON CONFLICT are used as
// both engines understand them.
package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Engine names a database engine.
type Engine string

// The supported engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// SQLiteFile is the name of the SQLite database inside the data directory.
const SQLiteFile = "attache.db"

// DB is an open database with its engine.
type DB struct {
	*sql.DB
	Engine Engine
	// Path is the SQLite file (empty for PostgreSQL).
	Path string
}

// Querier is what both *sql.DB and *sql.Tx offer; store functions take one so
// that they run inside or outside a transaction.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ErrNotFound is returned by store lookups that find no row.
var ErrNotFound = errors.New("not found")

// Open opens the database named by databaseURL, or the SQLite file in dataDir
// when databaseURL is empty, checks that it answers, and applies migrations.
func Open(ctx context.Context, databaseURL, dataDir string) (*DB, error) {
	d, err := Connect(ctx, databaseURL, dataDir)
	if err != nil {
		return nil, err
	}
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Connect opens the database and checks that it answers, without migrating.
func Connect(ctx context.Context, databaseURL, dataDir string) (*DB, error) {
	var d *DB
	switch {
	case databaseURL == "" || strings.HasPrefix(databaseURL, "sqlite:"):
		path := strings.TrimPrefix(databaseURL, "sqlite:")
		if path == "" {
			if err := os.MkdirAll(dataDir, 0o700); err != nil {
				return nil, fmt.Errorf("create data directory %s: %w", dataDir, err)
			}
			path = filepath.Join(dataDir, SQLiteFile)
		}
		sqldb, err := openSQLite(path)
		if err != nil {
			return nil, err
		}
		d = &DB{DB: sqldb, Engine: SQLite, Path: path}
	case strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://"):
		sqldb, err := sql.Open("pgx", databaseURL)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL %s: %w", Redact(databaseURL), err)
		}
		sqldb.SetMaxOpenConns(20)
		sqldb.SetMaxIdleConns(10)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		d = &DB{DB: sqldb, Engine: Postgres}
	default:
		return nil, fmt.Errorf("database URL %q: want postgres://… or sqlite:PATH", Redact(databaseURL))
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := d.PingContext(pingCtx); err != nil {
		d.Close()
		return nil, fmt.Errorf("cannot reach the database %s: %w", d.Describe(databaseURL), err)
	}
	return d, nil
}

func openSQLite(path string) (*sql.DB, error) {
	q := url.Values{}
	// Reads go through a memory map (no system call per page) and a 32 MiB
	// page cache per connection.
	for _, p := range []string{"foreign_keys(1)", "busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)",
		"mmap_size(1073741824)", "cache_size(-32768)"} {
		q.Add("_pragma", p)
	}
	// Write transactions take the write lock at BEGIN, so two transactions
	// never deadlock upgrading a read lock and the one that waits does so
	// within busy_timeout.
	q.Set("_txlock", "immediate")
	sqldb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	sqldb.SetMaxOpenConns(8)
	return sqldb, nil
}

// Describe names the database for messages, without its password.
func (d *DB) Describe(databaseURL string) string {
	if d.Engine == SQLite {
		return "SQLite " + d.Path
	}
	return "PostgreSQL " + Redact(databaseURL)
}

// Redact removes the password from a database URL.
func Redact(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.User == nil {
		return databaseURL
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// InTx runs fn in a transaction, committing when fn returns nil and rolling
// back otherwise.
func (d *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Lock serialises transactions that contend for the same named resource (the
// audit chain head, a visit slot): it returns once the current transaction
// holds the lock, which is released at commit or rollback. On SQLite every
// write transaction already holds the database's write lock from BEGIN.
func (d *DB) Lock(ctx context.Context, tx *sql.Tx, name string) error {
	if d.Engine != Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, name); err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	return nil
}

// NewID returns a new random identifier: 26 lowercase base32 characters, the
// first ten of which encode the creation time so that ids sort roughly by age
// and index well, the rest 80 random bits so that ids cannot be guessed.
func NewID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	return strings.ToLower(idEncoding.EncodeToString(b[:]))
}

var idEncoding = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// Instant converts t to the stored form: Unix microseconds, UTC.
func Instant(t time.Time) int64 { return t.UTC().UnixMicro() }

// Time converts a stored instant back to a time in UTC.
func Time(us int64) time.Time { return time.UnixMicro(us).UTC() }

// NullInstant converts an optional time: the zero time is stored as NULL.
func NullInstant(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: Instant(t), Valid: true}
}

// NullTime converts an optional stored instant: NULL becomes the zero time.
func NullTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return Time(n.Int64)
}

// IsUniqueViolation reports whether err is a unique-constraint violation on
// either engine.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || // SQLite
		strings.Contains(msg, "SQLSTATE 23505") // PostgreSQL
}
