-- People and their names, facilities, cases, charges, links and the timeline.
-- Dates known to a precision are stored as their text form (edate.Date's
-- String) with earliest and latest instants (BIGINT Unix microseconds, UTC).

CREATE TABLE facilities (
    id         TEXT PRIMARY KEY,
    country    TEXT NOT NULL,           -- ISO 3166-1 alpha-2
    city       TEXT NOT NULL DEFAULT '',
    time_zone  TEXT NOT NULL,           -- IANA
    address    TEXT NOT NULL DEFAULT '',
    kind       TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE facility_names (
    facility_id TEXT NOT NULL REFERENCES facilities (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,       -- 0 is the name shown
    lang        TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (facility_id, position)
);

CREATE TABLE people (
    id              TEXT PRIMARY KEY,
    display_name    TEXT NOT NULL,      -- copy of the display variant's value, for lists
    sex             TEXT NOT NULL DEFAULT 'unknown',
    birth           TEXT NOT NULL DEFAULT '',
    birth_earliest  BIGINT,
    birth_latest    BIGINT,
    languages       TEXT NOT NULL DEFAULT '',  -- space-separated BCP 47 codes
    vulnerabilities TEXT NOT NULL DEFAULT '',  -- space-separated: minor over_65 serious_illness …
    notes           TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE person_names (
    id         TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    value      TEXT NOT NULL,
    script     TEXT NOT NULL,           -- ISO 15924: Latn, Hans, Hant, Cyrl, Arab…
    lang       TEXT NOT NULL DEFAULT '',
    kind       TEXT NOT NULL,           -- legal, passport, local_chosen, romanization, alias, misspelling
    source     TEXT NOT NULL DEFAULT '',
    is_display BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE INDEX person_names_person ON person_names (person_id);

-- Search keys computed in Go from each name variant (internal/names).
-- The primary key covers the search: key → person without a table lookup.
-- There is no other index: a name's keys are deleted by recomputing them
-- (internal/cases), which keeps this large table to one index.
CREATE TABLE name_keys (
    key       TEXT NOT NULL,
    person_id TEXT NOT NULL,
    name_id   TEXT NOT NULL,
    PRIMARY KEY (key, person_id, name_id)
);

CREATE TABLE person_nationalities (
    person_id  TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    country    TEXT NOT NULL,
    recognised TEXT NOT NULL DEFAULT 'unknown', -- by the detaining state: yes, no, unknown
    evidence   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (person_id, country)
);

CREATE TABLE person_passports (
    person_id TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    country   TEXT NOT NULL,
    number    TEXT NOT NULL,
    PRIMARY KEY (person_id, country, number)
);

CREATE TABLE cases (
    id                  TEXT PRIMARY KEY,
    reference           TEXT NOT NULL UNIQUE,
    person_id           TEXT NOT NULL REFERENCES people (id),
    status              TEXT NOT NULL,
    legal_status        TEXT NOT NULL,
    detaining_state     TEXT NOT NULL,
    detaining_authority TEXT NOT NULL DEFAULT '',
    detention_type      TEXT NOT NULL,
    facility_id         TEXT REFERENCES facilities (id),
    arrested            TEXT NOT NULL DEFAULT '',
    arrested_earliest   BIGINT,
    arrested_latest     BIGINT,
    notified            TEXT NOT NULL DEFAULT '',
    notified_earliest   BIGINT,
    notified_latest     BIGINT,
    lawyer              TEXT NOT NULL DEFAULT '',
    position            TEXT NOT NULL DEFAULT '',  -- the sending state's position
    priority            TEXT NOT NULL,
    high_profile        BOOLEAN NOT NULL DEFAULT FALSE,
    classification      TEXT NOT NULL,
    post                TEXT NOT NULL,
    desk                TEXT NOT NULL,
    summary             TEXT NOT NULL DEFAULT '',
    opened_at           BIGINT NOT NULL,
    closed_at           BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
-- Covers the need-to-know test of a person's cases during a name search.
-- The last number given per reference prefix (state and year).
CREATE TABLE case_reference_counters (
    prefix TEXT PRIMARY KEY,
    last   INTEGER NOT NULL
);

CREATE INDEX cases_person ON cases (person_id, post, desk, id);
CREATE INDEX cases_post ON cases (post);
CREATE INDEX cases_desk ON cases (desk);
CREATE INDEX cases_status ON cases (status);

CREATE TABLE case_officers (
    case_id TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (case_id, user_id)
);
CREATE INDEX case_officers_user ON case_officers (user_id);

CREATE TABLE charges (
    id               TEXT PRIMARY KEY,
    case_id          TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    original         TEXT NOT NULL,
    original_lang    TEXT NOT NULL DEFAULT '',
    translation      TEXT NOT NULL DEFAULT '',
    charged          TEXT NOT NULL DEFAULT '',
    charged_earliest BIGINT,
    charged_latest   BIGINT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX charges_case ON charges (case_id);

-- A link to another case, or to an event outside the system (another
-- state's arrest of someone), with the relation in words.
CREATE TABLE case_links (
    id           TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    other_id     TEXT REFERENCES cases (id) ON DELETE CASCADE,
    other_label  TEXT NOT NULL DEFAULT '',
    relation     TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX case_links_case ON case_links (case_id);
CREATE INDEX case_links_other ON case_links (other_id);

CREATE TABLE timeline (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    happened    TEXT NOT NULL,
    earliest    BIGINT NOT NULL,
    latest      BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL DEFAULT '',  -- statements verbatim
    source_kind TEXT NOT NULL,
    source_ref  TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX timeline_case ON timeline (case_id, earliest);
