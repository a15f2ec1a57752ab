-- Several `attache serve` processes on one PostgreSQL database: each node
-- registers itself and beats every second; a node whose beat stops for the
-- node timeout is dead (stopped_at set by whichever live node notices).
-- token_hash is the SHA-256 of the secret the node shows to the others on
-- its internal endpoints; secrets holds fingerprints of the settings that
-- every node must share (the TURN secret, the recording key), never the
-- settings themselves.
CREATE TABLE nodes (
    id           TEXT PRIMARY KEY,
    internal_url TEXT NOT NULL,
    media_udp    TEXT NOT NULL DEFAULT '',
    media_tcp    TEXT NOT NULL DEFAULT '',
    public_ips   TEXT NOT NULL DEFAULT '',
    version      TEXT NOT NULL DEFAULT '',
    token_hash   TEXT NOT NULL,
    secrets      TEXT NOT NULL DEFAULT '',
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    draining     BOOLEAN NOT NULL DEFAULT FALSE,
    stopped_at   BIGINT,
    stop_reason  TEXT NOT NULL DEFAULT ''
);

-- The one node that holds a visit's call. The lease lives as long as its
-- node: a live node's heartbeat renews all its leases at once. Another node
-- takes it over only from a dead, stopped or draining node, bumping epoch.
CREATE TABLE call_leases (
    visit_id TEXT PRIMARY KEY REFERENCES visits (id) ON DELETE CASCADE,
    node_id  TEXT NOT NULL,
    epoch    BIGINT NOT NULL,
    taken_at BIGINT NOT NULL
);
CREATE INDEX call_leases_node ON call_leases (node_id);

-- Whom a host let in from the waiting room (the SHA-256 of the resume token
-- their page was given), and whom a host muted: a call rebuilt on another
-- node lets them back without waiting, and keeps them muted.
CREATE TABLE call_admissions (
    visit_id    TEXT NOT NULL REFERENCES visits (id) ON DELETE CASCADE,
    participant TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    admitted_at BIGINT NOT NULL,
    PRIMARY KEY (visit_id, participant)
);
CREATE TABLE call_mutes (
    visit_id    TEXT NOT NULL REFERENCES visits (id) ON DELETE CASCADE,
    participant TEXT NOT NULL,
    muted_at    BIGINT NOT NULL,
    PRIMARY KEY (visit_id, participant)
);

-- The recording running in a call (its id, start, who consented), so that
-- the node that takes the call over continues it in new files on the same
-- timeline; removed when the recording ends for good.
CREATE TABLE call_recordings (
    visit_id     TEXT PRIMARY KEY REFERENCES visits (id) ON DELETE CASCADE,
    recording_id TEXT NOT NULL,
    state        TEXT NOT NULL, -- media.RecordingState as JSON
    started_at   BIGINT NOT NULL
);

-- The recorded files being written, and by which node. A node that dies
-- leaves them as live files: the node itself when it starts again, or any
-- node that reaches its recordings directory, finishes what was written
-- and keeps it with the visit.
CREATE TABLE recording_parts (
    file        TEXT PRIMARY KEY, -- VISIT/NAME, relative to the recordings directory, without extension
    visit_id    TEXT NOT NULL REFERENCES visits (id) ON DELETE CASCADE,
    recording   TEXT NOT NULL,
    participant TEXT NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    node_id     TEXT NOT NULL
);

-- Unknown join links per client address, counted across nodes.
CREATE TABLE join_throttle (
    address      TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start BIGINT NOT NULL
);

-- The node that held each session of a call.
ALTER TABLE visit_presence ADD COLUMN node_id TEXT NOT NULL DEFAULT '';
CREATE INDEX visit_presence_open ON visit_presence (node_id) WHERE left_at IS NULL;
