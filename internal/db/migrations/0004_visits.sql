-- Video visits: terminals and visit windows of facilities, and scheduled
-- visits with their participants.

CREATE TABLE terminals (
    id          TEXT PRIMARY KEY,
    facility_id TEXT NOT NULL REFERENCES facilities (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  BIGINT NOT NULL,
    UNIQUE (facility_id, name)
);

-- Weekly visit windows in the facility's local time: weekday 0 is Sunday.
CREATE TABLE visit_windows (
    id          TEXT PRIMARY KEY,
    facility_id TEXT NOT NULL REFERENCES facilities (id) ON DELETE CASCADE,
    weekday     INTEGER NOT NULL,
    opens       TEXT NOT NULL,   -- HH:MM
    closes      TEXT NOT NULL    -- HH:MM
);
CREATE INDEX visit_windows_facility ON visit_windows (facility_id);

-- Days without visits (holidays, closures), local dates.
CREATE TABLE visit_exclusions (
    facility_id TEXT NOT NULL REFERENCES facilities (id) ON DELETE CASCADE,
    day         TEXT NOT NULL,   -- YYYY-MM-DD
    reason      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (facility_id, day)
);

CREATE TABLE visits (
    id            TEXT PRIMARY KEY,
    case_id       TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    facility_id   TEXT REFERENCES facilities (id),
    terminal_id   TEXT REFERENCES terminals (id),
    modality      TEXT NOT NULL,
    starts        BIGINT NOT NULL,
    ends          BIGINT NOT NULL,
    status        TEXT NOT NULL,
    request_id    TEXT REFERENCES access_requests (id),
    conditions    TEXT NOT NULL DEFAULT '',
    cancelled_by  TEXT NOT NULL DEFAULT '',
    cancel_reason TEXT NOT NULL DEFAULT '',
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX visits_case ON visits (case_id, starts);
CREATE INDEX visits_terminal ON visits (terminal_id, starts);

CREATE TABLE visit_participants (
    id       TEXT PRIMARY KEY,
    visit_id TEXT NOT NULL REFERENCES visits (id) ON DELETE CASCADE,
    role     TEXT NOT NULL,      -- host, officer, interpreter, detainee, monitor
    user_id  TEXT REFERENCES users (id),
    name     TEXT NOT NULL,
    language TEXT NOT NULL DEFAULT ''
);
CREATE INDEX visit_participants_visit ON visit_participants (visit_id);
CREATE INDEX visit_participants_user ON visit_participants (user_id);

-- Join links for people without accounts (detainee terminal, the detaining
-- state's monitor, an outside interpreter): one visit each, expiring,
-- revocable. Stored as the SHA-256 of the token.
CREATE TABLE visit_links (
    id          TEXT PRIMARY KEY,
    visit_id    TEXT NOT NULL REFERENCES visits (id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    revoked_at  BIGINT,
    last_used   BIGINT,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX visit_links_visit ON visit_links (visit_id);
