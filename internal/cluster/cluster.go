// Package cluster lets several `attache serve` processes share one
// PostgreSQL database: each node registers itself with the addresses the
// others and the browsers reach it at, beats every second, and is declared
// dead by any live node when its beat stops for the node timeout. Nodes
// authenticate to each other with a secret each makes at start (the others
// know only its hash) and send each other events over PostgreSQL's
// LISTEN/NOTIFY. On SQLite there is one node, and the database file is
// locked against a second process.
package cluster

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/attache-org/attache/internal/db"
)

// Config describes this node.
type Config struct {
	// ID names the node; it stays the same across restarts (see LoadID).
	ID string
	// InternalURL is where the other nodes reach this one, e.g.
	// http://10.0.0.5:8080.
	InternalURL string
	// MediaUDP, MediaTCP and PublicIPs are the media addresses it announces.
	MediaUDP, MediaTCP string
	PublicIPs          []string
	Version            string
	// Timeout is how long a silent node stays alive (10 s by default).
	Timeout time.Duration
	// Secrets are the settings every node must share, by the name an
	// operator knows them by ("--turn-secret"); only fingerprints are kept.
	Secrets map[string]string
}

// DefaultTimeout is how long a node that stopped beating counts as alive.
const DefaultTimeout = 10 * time.Second

// Node is a registered node, as the others see it.
type Node struct {
	ID          string    `json:"id"`
	InternalURL string    `json:"internal_url"`
	MediaUDP    string    `json:"media_udp"`
	MediaTCP    string    `json:"media_tcp,omitempty"`
	PublicIPs   string    `json:"public_ips,omitempty"`
	Version     string    `json:"version"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
	Draining    bool      `json:"draining"`
	StoppedAt   time.Time `json:"stopped_at,omitzero"`
	StopReason  string    `json:"stop_reason,omitempty"`
	Calls       int       `json:"calls"`
	tokenHash   string
	secrets     string
}

// State says in a word how a node is: alive, draining, stopped or lost.
func (n Node) State(now time.Time, timeout time.Duration) string {
	switch {
	case !n.StoppedAt.IsZero() && n.StopReason == ReasonLost:
		return "lost"
	case !n.StoppedAt.IsZero():
		return "stopped"
	case now.Sub(n.HeartbeatAt) >= timeout:
		return "silent" // dead, until a live node notices
	case n.Draining:
		return "draining"
	}
	return "alive"
}

// Why a node stopped.
const (
	ReasonStopped = "stopped" // it left cleanly
	ReasonLost    = "lost"    // its beat stopped
)

// Cluster is this node's membership.
type Cluster struct {
	db      *db.DB
	cfg     Config
	log     *slog.Logger
	token   string
	beat    time.Duration
	now     func() time.Time
	lock    io.Closer // the SQLite file's lock
	events  *bus
	fenced  func()
	mu      sync.Mutex
	stopped bool
}

// ErrSecondProcess is returned when another process serves the SQLite file.
var ErrSecondProcess = errors.New("another attache serve is running on this SQLite database: SQLite is the one-machine setup; run several nodes on PostgreSQL (--database postgres://…)")

// Join registers this node, after checking that the settings every node
// must share are the same as the live nodes'. On SQLite it first locks the
// database file, so that a second process is refused.
func Join(ctx context.Context, d *db.DB, cfg Config, log *slog.Logger) (*Cluster, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	c := &Cluster{db: d, cfg: cfg, log: log, now: time.Now, beat: heartbeatFor(cfg.Timeout)}
	if d.Engine == db.SQLite {
		l, err := lockFile(d.Path + ".serve.lock")
		if err != nil {
			return nil, err
		}
		c.lock = l
	}
	c.token = rand.Text() + rand.Text()
	if err := c.register(ctx); err != nil {
		c.closeLock()
		return nil, err
	}
	c.events = newBus(d, cfg.ID, log)
	return c, nil
}

// heartbeatFor is the beat for a timeout: a fifth of it, at most a second.
func heartbeatFor(timeout time.Duration) time.Duration {
	return min(time.Second, max(timeout/5, 50*time.Millisecond))
}

func (c *Cluster) closeLock() {
	if c.lock != nil {
		_ = c.lock.Close()
		c.lock = nil
	}
}

// ID is this node's id.
func (c *Cluster) ID() string { return c.cfg.ID }

// Timeout is how long a silent node counts as alive.
func (c *Cluster) Timeout() time.Duration { return c.cfg.Timeout }

// Heartbeat is how often this node beats.
func (c *Cluster) Heartbeat() time.Duration { return c.beat }

// Credential is what this node shows to another on its internal endpoints.
func (c *Cluster) Credential() string { return "Node " + c.cfg.ID + " " + c.token }

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// fingerprint stands for a shared setting without revealing it.
func fingerprint(name, value string) string {
	sum := sha256.Sum256([]byte("attache cluster setting\x00" + name + "\x00" + value))
	return hex.EncodeToString(sum[:16])
}

func (c *Cluster) fingerprints() string {
	names := make([]string, 0, len(c.cfg.Secrets))
	for n := range c.cfg.Secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + fingerprint(n, c.cfg.Secrets[n])
	}
	return strings.Join(parts, " ")
}

func parseFingerprints(s string) map[string]string {
	out := map[string]string{}
	for _, f := range strings.Fields(s) {
		if n, v, ok := strings.Cut(f, "="); ok {
			out[n] = v
		}
	}
	return out
}

// register checks the shared settings against every live node and writes
// this node's row, as a new start (its old sessions and leases are closed
// by the caller).
func (c *Cluster) register(ctx context.Context) error {
	now := c.now()
	mine := c.fingerprints()
	return c.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := c.db.Lock(ctx, tx, "attache.nodes"); err != nil {
			return err
		}
		nodes, err := list(ctx, tx)
		if err != nil {
			return err
		}
		own := parseFingerprints(mine)
		for _, n := range nodes {
			if n.ID == c.cfg.ID || n.State(now, c.cfg.Timeout) != "alive" && n.State(now, c.cfg.Timeout) != "draining" {
				continue
			}
			theirs := parseFingerprints(n.secrets)
			for name, fp := range own {
				if other, ok := theirs[name]; ok && other != fp {
					return fmt.Errorf("%s is not the same as on the live node %s: every node must have the same %s", name, n.ID, name)
				}
			}
			for name := range theirs {
				if _, ok := own[name]; !ok {
					return fmt.Errorf("%s is set on the live node %s and not here: every node must have the same %s", name, n.ID, name)
				}
			}
			for name := range own {
				if _, ok := theirs[name]; !ok {
					return fmt.Errorf("%s is set here and not on the live node %s: every node must have the same %s", name, n.ID, name)
				}
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO nodes (id, internal_url, media_udp, media_tcp, public_ips, version, token_hash, secrets, started_at, heartbeat_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
			ON CONFLICT (id) DO UPDATE SET internal_url = excluded.internal_url, media_udp = excluded.media_udp, media_tcp = excluded.media_tcp,
				public_ips = excluded.public_ips, version = excluded.version, token_hash = excluded.token_hash, secrets = excluded.secrets,
				started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, draining = FALSE, stopped_at = NULL, stop_reason = ''`,
			c.cfg.ID, c.cfg.InternalURL, c.cfg.MediaUDP, c.cfg.MediaTCP, strings.Join(c.cfg.PublicIPs, ","), c.cfg.Version,
			hashToken(c.token), mine, db.Instant(now))
		if err != nil {
			return fmt.Errorf("register node: %w", err)
		}
		return nil
	})
}

const nodeColumns = `id, internal_url, media_udp, media_tcp, public_ips, version, token_hash, secrets, started_at, heartbeat_at, draining, stopped_at, stop_reason,
	(SELECT COUNT(*) FROM call_leases l WHERE l.node_id = nodes.id)`

func scanNode(row interface{ Scan(...any) error }) (Node, error) {
	var n Node
	var started, beat int64
	var stopped sql.NullInt64
	err := row.Scan(&n.ID, &n.InternalURL, &n.MediaUDP, &n.MediaTCP, &n.PublicIPs, &n.Version, &n.tokenHash, &n.secrets, &started, &beat,
		&n.Draining, &stopped, &n.StopReason, &n.Calls)
	n.StartedAt, n.HeartbeatAt, n.StoppedAt = db.Time(started), db.Time(beat), db.NullTime(stopped)
	return n, err
}

func list(ctx context.Context, q db.Querier) ([]Node, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+nodeColumns+` FROM nodes ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	defer rows.Close()
	var out []Node
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, fmt.Errorf("list nodes: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// List returns every node the database knows, live or not.
func List(ctx context.Context, d *db.DB) ([]Node, error) { return list(ctx, d) }

// Node reads one node.
func (c *Cluster) Node(ctx context.Context, id string) (Node, error) {
	n, err := scanNode(c.db.QueryRowContext(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return n, fmt.Errorf("node %s: %w", id, db.ErrNotFound)
	}
	if err != nil {
		return n, fmt.Errorf("read node %s: %w", id, err)
	}
	return n, nil
}

// Alive reports whether a node serves calls: it beats, and neither stopped
// nor drains.
func (c *Cluster) Alive(n Node) bool { return n.State(c.now(), c.cfg.Timeout) == "alive" }

// Authenticate checks another node's credential (from Credential) and says
// which node it is; a node that stopped or was declared dead is refused.
func (c *Cluster) Authenticate(ctx context.Context, credential string) (string, error) {
	f := strings.Fields(credential)
	if len(f) != 3 || f[0] != "Node" {
		return "", errors.New("no node credential")
	}
	n, err := c.Node(ctx, f[1])
	if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare([]byte(hashToken(f[2])), []byte(n.tokenHash)) != 1 {
		return "", errors.New("wrong node credential")
	}
	if !n.StoppedAt.IsZero() {
		return "", errors.New("that node stopped")
	}
	return n.ID, nil
}

// OnFenced sets what to do when this node learns the others declared it
// dead (it was cut off longer than the timeout): its calls have moved, so
// it must drop its rooms. It then joins again.
func (c *Cluster) OnFenced(f func()) { c.fenced = f }

// Run beats until ctx ends, and on each beat declares dead the nodes that
// stopped beating. It returns when ctx is done.
func (c *Cluster) Run(ctx context.Context, onBeat func(context.Context)) {
	if c.events != nil {
		go c.events.run(ctx)
	}
	tick := time.NewTicker(c.beat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := c.heartbeat(ctx); err != nil {
			if ctx.Err() == nil {
				c.log.Warn("cluster: heartbeat", slog.String("error", err.Error()))
			}
			continue
		}
		if _, err := c.reap(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("cluster: declare silent nodes dead", slog.String("error", err.Error()))
		}
		if onBeat != nil {
			onBeat(ctx)
		}
	}
}

// heartbeat renews this node (and so its leases). A node the others
// declared dead is fenced, then registers again.
func (c *Cluster) heartbeat(ctx context.Context) error {
	c.mu.Lock()
	stopped := c.stopped
	c.mu.Unlock()
	if stopped {
		return nil
	}
	res, err := c.db.ExecContext(ctx, `UPDATE nodes SET heartbeat_at = $2 WHERE id = $1 AND stopped_at IS NULL`, c.cfg.ID, db.Instant(c.now()))
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	c.log.Error("cluster: this node was declared dead by the others; its calls moved; joining again", slog.String("node", c.cfg.ID))
	if c.fenced != nil {
		c.fenced()
	}
	return c.register(ctx)
}

// reap declares dead the nodes silent for the timeout, and returns their ids.
func (c *Cluster) reap(ctx context.Context) ([]string, error) {
	return c.declareDead(ctx, "", c.now().Add(-c.cfg.Timeout))
}

// Suspect declares a node dead if it has not beaten since before the
// cutoff: for a node whose internal endpoint refuses connections, a few
// missed beats are proof enough (a node cut off from the database as well
// would fence itself). It reports whether the node is dead now.
func (c *Cluster) Suspect(ctx context.Context, id string) (bool, error) {
	ids, err := c.declareDead(ctx, id, c.now().Add(-3*c.beat))
	return len(ids) > 0, err
}

func (c *Cluster) declareDead(ctx context.Context, id string, cutoff time.Time) ([]string, error) {
	q := `UPDATE nodes SET stopped_at = heartbeat_at, stop_reason = 'lost' WHERE stopped_at IS NULL AND heartbeat_at < $1 AND id <> $2`
	args := []any{db.Instant(cutoff), c.cfg.ID}
	if id != "" {
		q += ` AND id = $3`
		args = append(args, id)
	}
	rows, err := c.db.QueryContext(ctx, q+` RETURNING id`, args...)
	if err != nil {
		return nil, fmt.Errorf("declare nodes dead: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, n := range out {
		c.log.Warn("cluster: node lost", slog.String("node", n))
	}
	return out, nil
}

// Drain marks this node as leaving: no new calls come to it.
func (c *Cluster) Drain(ctx context.Context) error {
	_, err := c.db.ExecContext(ctx, `UPDATE nodes SET draining = TRUE WHERE id = $1`, c.cfg.ID)
	if err != nil {
		return fmt.Errorf("drain node: %w", err)
	}
	return nil
}

// Leave marks this node stopped and releases the file lock: its leases are
// free at once.
func (c *Cluster) Leave(ctx context.Context) error {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	defer c.closeLock()
	err := c.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM call_leases WHERE node_id = $1`, c.cfg.ID); err != nil {
			return fmt.Errorf("release leases: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE nodes SET stopped_at = $2, stop_reason = 'stopped', draining = FALSE WHERE id = $1`, c.cfg.ID, db.Instant(c.now())); err != nil {
			return fmt.Errorf("leave: %w", err)
		}
		return nil
	})
	return err
}

// LoadID returns the node id kept in dir, making one on first use: a node
// keeps its id across restarts, and so finds its own stale sessions.
func LoadID(dir string) (string, error) {
	path := filepath.Join(dir, "node-id")
	b, err := os.ReadFile(path)
	if err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read node id: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("data directory %s: %w", dir, err)
	}
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return -1
	}, strings.ToLower(host))
	if host == "" {
		host = "node"
	}
	if len(host) > 24 {
		host = host[:24]
	}
	id := host + "-" + strings.ToLower(rand.Text()[:6])
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write node id: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write node id: %w", err)
	}
	return id, nil
}

// Announce records the media addresses this node listens on, once known.
func (c *Cluster) Announce(ctx context.Context, udp, tcp string) error {
	if _, err := c.db.ExecContext(ctx, `UPDATE nodes SET media_udp = $2, media_tcp = $3 WHERE id = $1`, c.cfg.ID, udp, tcp); err != nil {
		return fmt.Errorf("announce media: %w", err)
	}
	return nil
}
