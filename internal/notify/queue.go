package notify

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/problem"
)

// queueName is the River queue that holds notices; other River users of the
// same database keep to their own queues.
const queueName = "notify"

// Reminders finds the reminder mails for a visit when a reminder is due.
type Reminders interface {
	// Reminders returns the mails to send lead before the visit, or none
	// when the visit is no longer planned or was moved since the reminder
	// was scheduled (its sequence differs from sequence).
	Reminders(ctx context.Context, visitID string, sequence int, lead time.Duration) ([]Mail, error)
}

// Options tune a Queue.
type Options struct {
	// Workers is how many deliveries run at once; default 4.
	Workers int
	// Reminders finds the mails of due visit reminders; needed by
	// ScheduleReminders.
	Reminders Reminders
	// Now is the clock for the time a mail is queued (its Date and
	// DTSTAMP) and for deciding which reminders are past; default
	// time.Now. River keeps its own, real, clock.
	Now func() time.Time
	// RetryBase is the wait before the first retry, doubled at each further
	// failure up to an hour, with jitter; default 30 s.
	RetryBase time.Duration
	// MaxAttempts is how many times a mail is tried before it is given up
	// (River then marks it discarded); default 12.
	MaxAttempts int
	// PollInterval is how often the queue looks for new jobs; default 1 s.
	// Mails queued inside a transaction are found at the next poll.
	PollInterval time.Duration

	// testOnly turns off River's start-up jitter, for tests.
	testOnly bool
}

// Queue is the durable mail queue: mails are River jobs in the application's
// database, inserted in the caller's transaction and delivered by workers.
type Queue struct {
	db     *db.DB
	mailer Mailer
	log    *slog.Logger
	opts   Options
	client *river.Client[*sql.Tx]
}

var _ Sender = (*Queue)(nil)

// New returns a queue on d delivering through mailer. River's tables must
// exist (Migrate). Start it to deliver; an unstarted Queue still queues.
func New(d *db.DB, mailer Mailer, log *slog.Logger, opts Options) (*Queue, error) {
	if mailer == nil {
		return nil, errors.New("notify: a mailer is required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts.Workers = cmp.Or(max(opts.Workers, 0), 4)
	opts.RetryBase = cmp.Or(max(opts.RetryBase, 0), 30*time.Second)
	opts.MaxAttempts = cmp.Or(max(opts.MaxAttempts, 0), 12)
	opts.PollInterval = cmp.Or(max(opts.PollInterval, 0), time.Second)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	q := &Queue{db: d, mailer: mailer, log: log, opts: opts}

	driver, err := riverDriver(d)
	if err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &mailWorker{q: q}); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &reminderWorker{q: q}); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	client, err := river.NewClient(driver, &river.Config{
		FetchCooldown:     min(opts.PollInterval, 100*time.Millisecond),
		FetchPollInterval: opts.PollInterval,
		// River reports every failed attempt at info level; the workers
		// log what matters, so River's own chatter is kept to warnings.
		Logger:      slog.New(minLevel{log.With("component", "river").Handler(), slog.LevelWarn}),
		MaxAttempts: opts.MaxAttempts,
		Queues:      map[string]river.QueueConfig{queueName: {MaxWorkers: opts.Workers}},
		RetryPolicy: &backoff{base: opts.RetryBase},
		TestOnly:    opts.testOnly,
		Workers:     workers,
	})
	if err != nil {
		return nil, fmt.Errorf("notify: create River client: %w", err)
	}
	q.client = client
	return q, nil
}

// riverDriver returns River's driver for d's engine. Both work on
// database/sql, so the client takes the same *sql.Tx on either engine.
func riverDriver(d *db.DB) (riverdriver.Driver[*sql.Tx], error) {
	switch d.Engine {
	case db.SQLite:
		return riversqlite.New(d.DB), nil
	case db.Postgres:
		return riverdatabasesql.New(d.DB), nil
	}
	return nil, fmt.Errorf("notify: unsupported database engine %q", d.Engine)
}

// Migrate creates or updates River's tables (river_job and others) on d.
// It does nothing when they are current, and several processes may call it
// at once: on PostgreSQL they queue on an advisory lock, on SQLite on the
// write lock of one transaction.
func Migrate(ctx context.Context, d *db.DB) error {
	driver, err := riverDriver(d)
	if err != nil {
		return err
	}
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("migrate River: %w", err)
	}
	if d.Engine == db.SQLite {
		// SQLite's DDL is transactional and one write transaction excludes
		// every other, so the whole migration runs as one.
		return d.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, nil); err != nil { //nolint:staticcheck // deprecated only for PostgreSQL's enum changes
				return fmt.Errorf("migrate River: %w", err)
			}
			return nil
		})
	}
	// On PostgreSQL some of River's migrations must commit one by one, so a
	// session lock on a connection of its own keeps other processes out
	// while River migrates on others. The key is per schema.
	conn, err := d.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate River: %w", err)
	}
	defer conn.Close()
	const key = `hashtextextended('attache.river.migrate.' || current_schema(), 0)`
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+key+`)`); err != nil {
		return fmt.Errorf("migrate River: lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+key+`)`) //nolint:errcheck // the session ends with the connection anyway
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate River: %w", err)
	}
	return nil
}

// Start starts delivering queued mail, including mail queued before a
// restart. Cancelling ctx stops the queue and cancels deliveries in flight;
// prefer Stop.
func (q *Queue) Start(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("start mail queue: %w", err)
	}
	return nil
}

// Stop stops taking new jobs and waits for deliveries in flight to finish.
// If ctx ends first, they are cancelled (and retried after the next start).
func (q *Queue) Stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if err == nil {
		return nil
	}
	hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if herr := q.client.StopAndCancel(hard); herr != nil {
		return fmt.Errorf("stop mail queue: %w", errors.Join(err, herr))
	}
	return fmt.Errorf("stop mail queue gracefully: %w", err)
}

// Pending counts the queue's jobs not yet completed, cancelled or
// discarded: mails waiting or being retried and reminders not yet due.
func (q *Queue) Pending(ctx context.Context) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE queue = $1
		AND state NOT IN ('completed', 'cancelled', 'discarded')`, queueName).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count pending mail: %w", err)
	}
	return n, nil
}

// Send queues m in tx, to be delivered once tx commits. It refuses an
// invalid mail with a problem.Invalid error, and returns nil without
// queuing when m's user turned its kind off (Always kinds are sent anyway)
// or when a mail with m's Key was queued before.
func (q *Queue) Send(ctx context.Context, tx *sql.Tx, m Mail) error {
	if err := m.validate(); err != nil {
		return err
	}
	on, err := wants(ctx, tx, m.UserID, m.Kind)
	if err != nil {
		return err
	}
	if !on {
		q.log.DebugContext(ctx, "mail not queued: turned off", "kind", m.Kind, "user_id", m.UserID)
		return nil
	}
	now := q.opts.Now()
	if m.Key != "" {
		claimed, err := claimKey(ctx, tx, m.Key, string(m.Kind), now)
		if err != nil {
			return err
		}
		if !claimed {
			q.log.DebugContext(ctx, "mail not queued: key already used", "kind", m.Kind, "user_id", m.UserID)
			return nil
		}
	}
	m.Date = now
	m.MessageID = db.NewID()
	if _, err := q.client.InsertTx(ctx, tx, mailArgs{Mail: m}, &river.InsertOpts{Queue: queueName}); err != nil {
		return fmt.Errorf("queue mail: %w", err)
	}
	return nil
}

// validate checks what Send needs of a mail.
func (m *Mail) validate() error {
	f := problem.Fields{}
	if !m.Kind.Known() {
		f.Addf("kind", "There is no kind of notice %q.", string(m.Kind))
	}
	if !addressLike(m.To) {
		f.Add("to", "The recipient needs a valid e-mail address.")
	}
	if strings.TrimSpace(m.Subject) == "" {
		f.Add("subject", "The mail needs a subject.")
	}
	if m.Invite != nil {
		f.Merge(m.Invite.Validate())
	}
	return f.Err()
}

// claimKey records key in tx and reports whether it was new. A concurrent
// transaction claiming the same key waits for this one to end.
func claimKey(ctx context.Context, tx *sql.Tx, key, kind string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO notification_keys (mail_key, kind, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (mail_key) DO NOTHING`, key, kind, db.Instant(now))
	if err != nil {
		return false, fmt.Errorf("claim mail key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim mail key: %w", err)
	}
	return n == 1, nil
}

// ScheduleReminders queues, in tx, a reminder job for each lead (24 hours
// and 1 hour) before starts that is still ahead. When due, the job asks
// Options.Reminders for the mails, which sends none if the visit was moved
// (another sequence) or cancelled in the meantime. Scheduling the same
// visit and sequence again adds nothing.
func (q *Queue) ScheduleReminders(ctx context.Context, tx *sql.Tx, visitID string, sequence int, starts time.Time) error {
	if q.opts.Reminders == nil {
		return errors.New("schedule reminders: the mail queue has no Reminders")
	}
	now := q.opts.Now()
	for _, lead := range [...]time.Duration{24 * time.Hour, time.Hour} {
		at := starts.Add(-lead)
		if !at.After(now) {
			continue
		}
		claimed, err := claimKey(ctx, tx, fmt.Sprintf("reminder-job:%s:%d:%s", visitID, sequence, leadName(lead)), string(VisitReminder), now)
		if err != nil {
			return err
		}
		if !claimed {
			continue
		}
		args := reminderArgs{VisitID: visitID, Sequence: sequence, Lead: lead}
		if _, err := q.client.InsertTx(ctx, tx, args, &river.InsertOpts{Queue: queueName, ScheduledAt: at}); err != nil {
			return fmt.Errorf("schedule reminder: %w", err)
		}
	}
	return nil
}

// leadName writes a lead compactly: "24h", "1h", "90m".
func leadName(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return fmt.Sprintf("%dm", d/time.Minute)
}

// mailArgs is a queued mail. The Mail is stored whole, with the Date and
// Message-ID set at Send, so a retry sends the very same message.
type mailArgs struct {
	Mail Mail `json:"mail"`
}

func (mailArgs) Kind() string { return "notify.mail" }

type mailWorker struct {
	river.WorkerDefaults[mailArgs]
	q *Queue
}

func (w *mailWorker) Work(ctx context.Context, job *river.Job[mailArgs]) error {
	m := job.Args.Mail
	attrs := []any{"kind", m.Kind, "job_id", job.ID, "user_id", m.UserID, "attempt", job.Attempt}
	err := w.q.mailer.Deliver(ctx, m)
	switch {
	case err == nil:
		w.q.log.InfoContext(ctx, "mail delivered", attrs...)
		w.q.scrub(ctx, job.ID, m)
		return nil
	case Permanent(err):
		w.q.log.ErrorContext(ctx, "mail refused; not retrying", append(attrs, "error", err)...)
		w.q.scrub(ctx, job.ID, m)
		return river.JobCancel(err)
	case job.Attempt >= job.MaxAttempts:
		w.q.log.ErrorContext(ctx, "mail delivery failed; giving up", append(attrs, "error", err)...)
		w.q.scrub(ctx, job.ID, m)
		return err
	default:
		w.q.log.WarnContext(ctx, "mail delivery failed; will retry", append(attrs, "error", err)...)
		return err
	}
}

// scrub removes a finished mail's content from its job: River keeps
// finished jobs for a while, and a mail may carry a credential (a family
// invitation's link) or a person's name. What stays says what was sent to
// whom, not what it said. A failure is logged: the mail went out anyway.
func (q *Queue) scrub(ctx context.Context, jobID int64, m Mail) {
	kept, err := json.Marshal(mailArgs{Mail: Mail{Kind: m.Kind, UserID: m.UserID, To: m.To, Key: m.Key, Date: m.Date, MessageID: m.MessageID}})
	if err == nil {
		_, err = q.db.ExecContext(ctx, `UPDATE river_job SET args = $2 WHERE id = $1`, jobID, string(kept))
	}
	if err != nil {
		q.log.WarnContext(ctx, "could not remove a sent mail's content from the queue", "job_id", jobID, "error", err)
	}
}

// reminderArgs is a reminder due lead before a visit.
type reminderArgs struct {
	VisitID  string        `json:"visit_id"`
	Sequence int           `json:"sequence"`
	Lead     time.Duration `json:"lead"`
}

func (reminderArgs) Kind() string { return "notify.reminder" }

type reminderWorker struct {
	river.WorkerDefaults[reminderArgs]
	q *Queue
}

// Work queues the reminder's mails, each with a key naming the visit,
// sequence, lead and recipient, so that a retried job sends nothing twice.
func (w *reminderWorker) Work(ctx context.Context, job *river.Job[reminderArgs]) error {
	a := job.Args
	if w.q.opts.Reminders == nil {
		return river.JobCancel(errors.New("the mail queue has no Reminders"))
	}
	mails, err := w.q.opts.Reminders.Reminders(ctx, a.VisitID, a.Sequence, a.Lead)
	if err != nil {
		return fmt.Errorf("find reminders for visit %s: %w", a.VisitID, err)
	}
	if len(mails) == 0 {
		w.q.log.DebugContext(ctx, "visit reminder not sent: visit moved or cancelled", "visit_id", a.VisitID, "sequence", a.Sequence, "lead", a.Lead)
		return nil
	}
	err = w.q.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, m := range mails {
			if m.Key == "" {
				m.Key = fmt.Sprintf("reminder:%s:%d:%s:%s", a.VisitID, a.Sequence, leadName(a.Lead), cmp.Or(m.UserID, m.To))
			}
			if err := w.q.Send(ctx, tx, m); err != nil {
				return err
			}
		}
		return nil
	})
	if problem.Is(err, problem.Invalid) {
		w.q.log.ErrorContext(ctx, "visit reminder refused", "visit_id", a.VisitID, "job_id", job.ID, "error", err)
		return river.JobCancel(err)
	}
	return err
}

// backoff is the retry policy: RetryBase doubled at each failure, capped at
// an hour, with ±20% jitter so that many failed mails do not all retry at
// the same instant.
type backoff struct{ base time.Duration }

const maxBackoff = time.Hour

func (b *backoff) NextRetry(job *rivertype.JobRow) time.Time {
	failures := len(job.Errors) + 1 // this failure is not yet recorded
	d := maxBackoff
	if failures-1 < 32 {
		d = min(b.base<<(failures-1), maxBackoff)
		if d <= 0 { // overflow
			d = maxBackoff
		}
	}
	jitter := time.Duration(rand.Int64N(int64(d)/5*2+1)) - d/5
	return time.Now().Add(max(d+jitter, time.Millisecond))
}

// minLevel is a slog handler that drops records below a level.
type minLevel struct {
	h   slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.h.Enabled(ctx, l)
}
func (m minLevel) Handle(ctx context.Context, r slog.Record) error { return m.h.Handle(ctx, r) }
func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{m.h.WithAttrs(as), m.min}
}
func (m minLevel) WithGroup(name string) slog.Handler { return minLevel{m.h.WithGroup(name), m.min} }
