-- What happened in a visit's call: who was in it when, how it ended, and
-- how good the connections were.

-- Set once, when the call ends for everyone (by the host officer, by the
-- monitor, or at the scheduled end plus grace); a server restart does not
-- reopen an ended call.
ALTER TABLE visits ADD COLUMN call_ended BIGINT;
ALTER TABLE visits ADD COLUMN call_end_reason TEXT NOT NULL DEFAULT '';

-- One row per session of a participant: a reconnect is a new row.
-- participant is "user:<id>" or "link:<id>". left_at is NULL while they
-- are in the call. Quality is averaged over the page's reports (every few
-- seconds); samples says how many there were.
CREATE TABLE visit_presence (
    id          TEXT PRIMARY KEY,
    visit_id    TEXT NOT NULL REFERENCES visits (id) ON DELETE CASCADE,
    participant TEXT NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    joined_at   BIGINT NOT NULL,
    left_at     BIGINT,
    reason      TEXT NOT NULL DEFAULT '',
    samples     INTEGER NOT NULL DEFAULT 0,
    loss_pct    DOUBLE PRECISION NOT NULL DEFAULT 0,
    rtt_ms      DOUBLE PRECISION NOT NULL DEFAULT 0,
    rtt_max_ms  DOUBLE PRECISION NOT NULL DEFAULT 0,
    jitter_ms   DOUBLE PRECISION NOT NULL DEFAULT 0,
    kbps_in     DOUBLE PRECISION NOT NULL DEFAULT 0,
    kbps_out    DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE INDEX visit_presence_visit ON visit_presence (visit_id, joined_at);
