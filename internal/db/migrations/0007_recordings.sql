-- Recorded tracks: one encrypted WebM file per participant and kind of
-- media for each recording (from a start to a stop) of a visit's call.
CREATE TABLE recordings (
    id          TEXT PRIMARY KEY,
    visit_id    TEXT NOT NULL REFERENCES visits (id) ON DELETE CASCADE,
    recording   TEXT NOT NULL,   -- one start..stop; its files play together
    participant TEXT NOT NULL,   -- "user:<id>" or "link:<id>"
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    kind        TEXT NOT NULL,   -- audio or video
    codec       TEXT NOT NULL,
    file        TEXT NOT NULL,   -- relative to the recordings directory
    size        BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    frames      INTEGER NOT NULL,
    start_ms    BIGINT NOT NULL, -- first frame, from the recording's start
    duration_ms BIGINT NOT NULL,
    started_at  BIGINT NOT NULL, -- the recording's start
    closed_at   BIGINT NOT NULL,
    purge_after BIGINT NOT NULL, -- closed_at plus the policy's retention
    purged_at   BIGINT
);
CREATE INDEX recordings_visit ON recordings (visit_id, recording);
CREATE INDEX recordings_purge ON recordings (purge_after) WHERE purged_at IS NULL;
