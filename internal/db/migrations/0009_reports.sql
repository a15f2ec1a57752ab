-- Visit reports: one per visit that was held, written by an officer and
-- approved by a supervisor; the history of each report's states; amendments
-- to approved reports (the original never changes); follow-ups; and the
-- escalations a report raised, each once.

CREATE TABLE reports (
    id           TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases (id),
    visit_id     TEXT NOT NULL UNIQUE REFERENCES visits (id),
    state        TEXT NOT NULL,            -- draft, submitted, returned, approved
    body         TEXT NOT NULL,            -- JSON of reports.Body
    version      INTEGER NOT NULL,         -- one more at each change, for optimistic concurrency
    author_id    TEXT NOT NULL REFERENCES users (id),
    author_name  TEXT NOT NULL,
    submitted_at BIGINT,
    approved_by  TEXT REFERENCES users (id),
    approved_at  BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX reports_case ON reports (case_id);
CREATE INDEX reports_state ON reports (state, case_id);

-- Everyone who saved a report's text: none of them may approve it.
CREATE TABLE report_editors (
    report_id TEXT NOT NULL REFERENCES reports (id),
    user_id   TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (report_id, user_id)
);

-- Each change of state, with the supervisor's comments on a return.
CREATE TABLE report_events (
    id         TEXT PRIMARY KEY,
    report_id  TEXT NOT NULL REFERENCES reports (id),
    version    INTEGER NOT NULL,           -- the report's version after the change
    at         BIGINT NOT NULL,
    actor_id   TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    from_state TEXT NOT NULL,              -- '' when created
    to_state   TEXT NOT NULL,
    comment    TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX report_events_report ON report_events (report_id, version);

-- Corrections to an approved report, which itself never changes.
CREATE TABLE report_amendments (
    id          TEXT PRIMARY KEY,
    report_id   TEXT NOT NULL REFERENCES reports (id),
    author_id   TEXT NOT NULL REFERENCES users (id),
    author_name TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    section     TEXT NOT NULL,             -- reports.Vocab.Sections
    corrected   TEXT NOT NULL,
    reason      TEXT NOT NULL
);
CREATE INDEX report_amendments_report ON report_amendments (report_id, created_at);

-- What someone promised to do after a visit. The due day is local to the
-- case's facility (UTC without one); due_starts and due_ends bound it.
CREATE TABLE report_follow_ups (
    id          TEXT PRIMARY KEY,
    report_id   TEXT NOT NULL REFERENCES reports (id),
    case_id     TEXT NOT NULL REFERENCES cases (id),
    description TEXT NOT NULL,
    owner_id    TEXT NOT NULL REFERENCES users (id),
    due         TEXT NOT NULL,             -- YYYY-MM-DD
    due_starts  BIGINT NOT NULL,
    due_ends    BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    done_at     BIGINT,
    done_by     TEXT REFERENCES users (id)
);
CREATE INDEX report_follow_ups_case ON report_follow_ups (case_id, due_starts);
CREATE INDEX report_follow_ups_open ON report_follow_ups (due_starts) WHERE done_at IS NULL;

-- A flag a report raised (mistreatment, health_emergency, access_denied,
-- minor, over_65, high_profile), once per report: its notices go out when
-- the row is inserted, so never twice.
CREATE TABLE report_escalations (
    id              TEXT PRIMARY KEY,
    report_id       TEXT NOT NULL REFERENCES reports (id),
    case_id         TEXT NOT NULL REFERENCES cases (id),
    flag            TEXT NOT NULL,
    raised_at       BIGINT NOT NULL,
    raised_by       TEXT NOT NULL,
    acknowledged_at BIGINT,
    acknowledged_by TEXT REFERENCES users (id),
    ack_note        TEXT NOT NULL DEFAULT '',
    UNIQUE (report_id, flag)
);
CREATE INDEX report_escalations_case ON report_escalations (case_id);
CREATE INDEX report_escalations_open ON report_escalations (raised_at) WHERE acknowledged_at IS NULL;
