package db

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrBackupPostgres explains that PostgreSQL is backed up with its own tools.
var ErrBackupPostgres = errors.New("attache backup copies SQLite databases; back up PostgreSQL with pg_dump " +
	"(pg_dump --format=custom --file=attache.dump DATABASE_URL), see docs/backups.md")

// Backup writes a consistent copy of the SQLite database to path while the
// database stays in use: VACUUM INTO reads one snapshot of the database
// under a read transaction, so writers carry on and the copy is whole. The
// copy is written beside path and renamed into place, and path must not
// exist already.
func (d *DB) Backup(ctx context.Context, path string) error {
	if d.Engine != SQLite {
		return ErrBackupPostgres
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("backup path %s: %w", path, err)
	}
	if _, err := os.Stat(abs); err == nil {
		return fmt.Errorf("backup file %s exists already; choose a new name", path)
	}
	tmp := abs + ".partial"
	_ = os.Remove(tmp)
	if _, err := d.ExecContext(ctx, `VACUUM INTO $1`, tmp); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	if err := os.Rename(tmp, abs); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	return nil
}
