-- Consular access: agreement profiles, notification and first contact,
-- consular contacts, access requests with their history, suspensions.

-- Per pair of states; detaining_state '' is the default profile (the Vienna
-- Convention alone) for pairs without an agreement.
CREATE TABLE agreement_profiles (
    id                     TEXT PRIMARY KEY,
    sending_state          TEXT NOT NULL,
    detaining_state        TEXT NOT NULL,
    name                   TEXT NOT NULL,
    mandatory_notification BOOLEAN NOT NULL,
    notification_hours     INTEGER,
    first_contact_hours    INTEGER,
    first_visit_days       INTEGER,
    visit_every_days       INTEGER,
    trial_attendance       BOOLEAN NOT NULL,
    dual_national_rule     TEXT NOT NULL DEFAULT '',
    citation               TEXT NOT NULL DEFAULT '',
    updated_at             BIGINT NOT NULL,
    UNIQUE (sending_state, detaining_state)
);

-- How the consulate learned of the arrest and what the detainee wants.
CREATE TABLE case_notifications (
    case_id               TEXT PRIMARY KEY REFERENCES cases (id) ON DELETE CASCADE,
    learned_via           TEXT NOT NULL,
    assistance            TEXT NOT NULL,
    refused_what          TEXT NOT NULL DEFAULT '',
    first_contact         TEXT NOT NULL DEFAULT '',
    first_contact_latest  BIGINT,
    first_contact_channel TEXT NOT NULL DEFAULT '',
    updated_at            BIGINT NOT NULL
);

-- Every consular contact with the detainee that happened: visits of any
-- mode, calls, letters. The access clock runs from these.
CREATE TABLE consular_contacts (
    id         TEXT PRIMARY KEY,
    case_id    TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    happened   TEXT NOT NULL,
    earliest   BIGINT NOT NULL,
    latest     BIGINT NOT NULL,
    mode       TEXT NOT NULL,
    notes      TEXT NOT NULL DEFAULT '',
    source_ref TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX consular_contacts_case ON consular_contacts (case_id, latest);

-- The first and last contact and visit of each case, kept with every new
-- contact so that the dashboard reads one row a case. Each value is
-- "DATE|MODE" (DATE in edate's stored form), or '' for none.
CREATE TABLE access_summaries (
    case_id       TEXT PRIMARY KEY REFERENCES cases (id) ON DELETE CASCADE,
    last_contact  TEXT NOT NULL,
    first_contact TEXT NOT NULL,
    last_visit    TEXT NOT NULL,
    first_visit   TEXT NOT NULL
);

CREATE TABLE access_requests (
    id                TEXT PRIMARY KEY,
    case_id           TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    mode              TEXT NOT NULL,
    channel           TEXT NOT NULL,
    note_number       TEXT NOT NULL DEFAULT '',
    level             TEXT NOT NULL,
    wanted            TEXT NOT NULL DEFAULT '',  -- the dates asked for, in words or as a date
    status            TEXT NOT NULL,
    status_at         BIGINT NOT NULL,
    sent_at           BIGINT,
    answer            TEXT NOT NULL DEFAULT '',
    reason            TEXT NOT NULL DEFAULT '',
    time_limit_min    INTEGER,
    officials_present TEXT NOT NULL DEFAULT '',  -- yes, no, unknown or ''
    language          TEXT NOT NULL DEFAULT '',
    topics            TEXT NOT NULL DEFAULT '',
    created_by        TEXT NOT NULL,
    created_at        BIGINT NOT NULL
);
CREATE INDEX access_requests_case ON access_requests (case_id);
CREATE INDEX access_requests_status ON access_requests (status);

CREATE TABLE access_request_events (
    id          TEXT PRIMARY KEY,
    request_id  TEXT NOT NULL REFERENCES access_requests (id) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    note_number TEXT NOT NULL DEFAULT '',   -- the diplomatic note sent with this step
    note        TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL
);
CREATE INDEX access_request_events_request ON access_request_events (request_id, at);

-- A detaining state (facility_id NULL) or one facility suspends some modes.
CREATE TABLE suspensions (
    id              TEXT PRIMARY KEY,
    detaining_state TEXT NOT NULL,
    facility_id     TEXT REFERENCES facilities (id),
    modes           TEXT NOT NULL,           -- space-separated
    reason          TEXT NOT NULL,
    starts          TEXT NOT NULL,
    starts_earliest BIGINT NOT NULL,
    ends            TEXT NOT NULL DEFAULT '',
    ends_latest     BIGINT,
    source_ref      TEXT NOT NULL DEFAULT '',
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX suspensions_state ON suspensions (detaining_state);
