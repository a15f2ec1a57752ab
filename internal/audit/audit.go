// Package audit keeps Attaché's append-only, hash-chained audit log: who did
// what to which record, when, from where, and why when the access was
// exceptional. Each entry carries the hash of the one before it, so that an
// edited, inserted or deleted row breaks the chain, and Verify finds the
// first broken link.
package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/attache-org/attache/internal/db"
)

// Actor is who acts: a user, a join-link holder or the system itself.
type Actor struct {
	ID      string // user id, or "system", or "anonymous"
	Name    string // username or a description of the holder
	Address string // client IP address, empty for the command line
}

// System is the actor for work the program does by itself.
var System = Actor{ID: "system", Name: "attache"}

// Entry is one audit record.
type Entry struct {
	Seq        int64
	At         time.Time
	Actor      Actor
	Action     string // e.g. "user.create", "case.view", "session.login_failed"
	ObjectType string // e.g. "user", "case"
	ObjectID   string
	Reason     string // for exceptional access, in the actor's words
	Detail     string // what changed, in short
	PrevHash   string
	Hash       string
}

// Log appends to and reads the audit log.
type Log struct {
	db  *db.DB
	now func() time.Time
	// OnAppend, when set, is called after each committed append (metrics).
	OnAppend func(action string)
}

// New returns the audit log stored in d.
func New(d *db.DB) *Log { return &Log{db: d, now: time.Now} }

// SetClock replaces the clock, for tests.
func (l *Log) SetClock(now func() time.Time) { l.now = now }

// Append adds e to the log inside tx, so that the entry commits or rolls back
// with the change it describes. It serialises with other appends until tx ends.
func (l *Log) Append(ctx context.Context, tx *sql.Tx, e Entry) error {
	if e.Action == "" || e.Actor.ID == "" {
		return errors.New("audit: entry needs an action and an actor")
	}
	if err := l.db.Lock(ctx, tx, "attache.audit"); err != nil {
		return err
	}
	var prevSeq sql.NullInt64
	var prevHash sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&prevSeq, &prevHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("audit: read chain head: %w", err)
	}
	e.Seq = prevSeq.Int64 + 1
	e.At = l.now().UTC().Truncate(time.Microsecond)
	e.PrevHash = prevHash.String
	e.Hash = e.computeHash()
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log
		(seq, at, actor_id, actor, action, object_type, object_id, address, reason, detail, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		e.Seq, db.Instant(e.At), e.Actor.ID, e.Actor.Name, e.Action, e.ObjectType, e.ObjectID,
		e.Actor.Address, e.Reason, e.Detail, e.PrevHash, e.Hash)
	if err != nil {
		return fmt.Errorf("audit: append %s: %w", e.Action, err)
	}
	return nil
}

// Record appends e in a transaction of its own: for reads, which change
// nothing else, and for events such as failed logins.
func (l *Log) Record(ctx context.Context, e Entry) error {
	err := l.db.InTx(ctx, func(tx *sql.Tx) error { return l.Append(ctx, tx, e) })
	if err == nil && l.OnAppend != nil {
		l.OnAppend(e.Action)
	}
	return err
}

// canonical is the hashed form of an entry: fixed field order, instants in
// microseconds, so that both engines and every version agree byte for byte.
type canonical struct {
	Seq        int64  `json:"seq"`
	At         int64  `json:"at"`
	ActorID    string `json:"actor_id"`
	Actor      string `json:"actor"`
	Action     string `json:"action"`
	ObjectType string `json:"object_type"`
	ObjectID   string `json:"object_id"`
	Address    string `json:"address"`
	Reason     string `json:"reason"`
	Detail     string `json:"detail"`
}

func (e Entry) computeHash() string {
	b, err := json.Marshal(canonical{
		Seq: e.Seq, At: db.Instant(e.At), ActorID: e.Actor.ID, Actor: e.Actor.Name, Action: e.Action,
		ObjectType: e.ObjectType, ObjectID: e.ObjectID, Address: e.Actor.Address, Reason: e.Reason, Detail: e.Detail,
	})
	if err != nil {
		panic(err) // a struct of strings and integers always encodes
	}
	h := sha256.New()
	h.Write([]byte(e.PrevHash))
	h.Write([]byte{'\n'})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// Report is the result of walking the chain.
type Report struct {
	Entries int64  // entries checked
	Head    string // hash of the last entry when the chain is whole
	// BrokenAt is the sequence number of the first entry that does not fit
	// the chain (0 when the chain is whole), and Problem says why.
	BrokenAt int64
	Problem  string
}

// OK reports whether the chain is whole.
func (r Report) OK() bool { return r.BrokenAt == 0 }

// Verify walks the whole chain in order and reports the first broken link:
// an entry whose content no longer matches its hash, whose previous hash is
// not its predecessor's, or a gap in the sequence (a deleted row).
func (l *Log) Verify(ctx context.Context) (Report, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT seq, at, actor_id, actor, action, object_type, object_id, address, reason, detail, prev_hash, hash
		FROM audit_log ORDER BY seq`)
	if err != nil {
		return Report{}, fmt.Errorf("audit: read log: %w", err)
	}
	defer rows.Close()
	var r Report
	var prev Entry
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			return r, err
		}
		switch {
		case e.Seq != prev.Seq+1:
			r.BrokenAt, r.Problem = prev.Seq+1, fmt.Sprintf("entry %d is missing (next entry is %d)", prev.Seq+1, e.Seq)
		case e.PrevHash != prev.Hash:
			r.BrokenAt, r.Problem = e.Seq, fmt.Sprintf("entry %d does not point to the hash of entry %d", e.Seq, prev.Seq)
		case e.computeHash() != e.Hash:
			r.BrokenAt, r.Problem = e.Seq, fmt.Sprintf("entry %d was changed after it was written (its hash no longer matches)", e.Seq)
		}
		if r.BrokenAt != 0 {
			return r, nil
		}
		r.Entries++
		prev = e
	}
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("audit: read log: %w", err)
	}
	r.Head = prev.Hash
	return r, nil
}

// Filter selects entries for List.
type Filter struct {
	ObjectType string
	ObjectID   string
	ActorID    string
	Before     int64 // entries with seq below this; 0 for the newest
	Limit      int   // at most this many (default 100, at most 1000)
}

// List returns entries matching f, newest first.
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, error) {
	q := `SELECT seq, at, actor_id, actor, action, object_type, object_id, address, reason, detail, prev_hash, hash
		FROM audit_log WHERE ($1 = '' OR object_type = $1) AND ($2 = '' OR object_id = $2) AND ($3 = '' OR actor_id = $3)
		AND (CAST($4 AS BIGINT) = 0 OR seq < $4) ORDER BY seq DESC LIMIT $5`
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	rows, err := l.db.QueryContext(ctx, q, f.ObjectType, f.ObjectID, f.ActorID, f.Before, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	return out, nil
}

func scan(rows *sql.Rows) (Entry, error) {
	var e Entry
	var at int64
	err := rows.Scan(&e.Seq, &at, &e.Actor.ID, &e.Actor.Name, &e.Action, &e.ObjectType, &e.ObjectID,
		&e.Actor.Address, &e.Reason, &e.Detail, &e.PrevHash, &e.Hash)
	if err != nil {
		return e, fmt.Errorf("audit: scan: %w", err)
	}
	e.At = db.Time(at)
	return e, nil
}
