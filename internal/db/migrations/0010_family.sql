-- The family channel: the contacts of each case, the detainee's consent to
-- share with them, invitations that make family accounts, messages relayed
-- to and from the detainee, and summaries written for the family.

-- A contact is archived, never deleted: consents, messages and the audit
-- log keep pointing at it. user_id is the family account made from an
-- invitation (one account per contact, one contact per account).
CREATE TABLE family_contacts (
    id             TEXT PRIMARY KEY,
    case_id        TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    relationship   TEXT NOT NULL,
    languages      TEXT NOT NULL DEFAULT '',  -- space-separated BCP 47 codes
    email          TEXT NOT NULL DEFAULT '',
    phone          TEXT NOT NULL DEFAULT '',
    designated     BOOLEAN NOT NULL DEFAULT FALSE,
    notes          TEXT NOT NULL DEFAULT '',
    user_id        TEXT UNIQUE REFERENCES users (id),
    archived_at    BIGINT,
    archived_by    TEXT NOT NULL DEFAULT '',
    archive_reason TEXT NOT NULL DEFAULT '',
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX family_contacts_case ON family_contacts (case_id);
-- At most one designated contact per case among those not archived.
CREATE UNIQUE INDEX family_contacts_designated ON family_contacts (case_id) WHERE designated = TRUE AND archived_at IS NULL;

-- The values a contact had before each change.
CREATE TABLE family_contact_revisions (
    id           TEXT PRIMARY KEY,
    contact_id   TEXT NOT NULL REFERENCES family_contacts (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    relationship TEXT NOT NULL,
    languages    TEXT NOT NULL,
    email        TEXT NOT NULL,
    phone        TEXT NOT NULL,
    designated   BOOLEAN NOT NULL,
    notes        TEXT NOT NULL,
    changed_by   TEXT NOT NULL,
    changed_at   BIGINT NOT NULL
);
CREATE INDEX family_contact_revisions_contact ON family_contact_revisions (contact_id, changed_at);

-- The detainee's consent: never edited, only withdrawn (withdrawn_at set).
-- given and withdrawn are the days the detainee said so; their instants are the
-- start of that day where it happened.
CREATE TABLE family_consents (
    id                  TEXT PRIMARY KEY,
    case_id             TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    categories          TEXT NOT NULL,          -- space-separated: visits location health legal messages
    given               TEXT NOT NULL,          -- YYYY-MM-DD, local to the facility
    given_earliest      BIGINT NOT NULL,
    method              TEXT NOT NULL,
    method_note         TEXT NOT NULL DEFAULT '',
    visit_id            TEXT REFERENCES visits (id),
    recorded_by         TEXT NOT NULL,          -- user id
    recorded_by_name    TEXT NOT NULL,
    recorded_at         BIGINT NOT NULL,
    withdrawn           TEXT NOT NULL DEFAULT '',
    withdrawn_earliest  BIGINT,
    withdrawal_method   TEXT NOT NULL DEFAULT '',
    withdrawal_note     TEXT NOT NULL DEFAULT '',
    withdrawal_visit_id TEXT REFERENCES visits (id),
    withdrawn_by        TEXT NOT NULL DEFAULT '',
    withdrawn_by_name   TEXT NOT NULL DEFAULT '',
    withdrawn_at        BIGINT                  -- when the withdrawal was recorded; NULL while active
);
CREATE INDEX family_consents_case ON family_consents (case_id);

CREATE TABLE family_consent_recipients (
    consent_id TEXT NOT NULL REFERENCES family_consents (id) ON DELETE CASCADE,
    contact_id TEXT NOT NULL REFERENCES family_contacts (id),
    PRIMARY KEY (consent_id, contact_id)
);
CREATE INDEX family_consent_recipients_contact ON family_consent_recipients (contact_id);

-- Single-use invitations to open a family account, stored as the SHA-256
-- of the token.
CREATE TABLE family_invitations (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    contact_id  TEXT NOT NULL REFERENCES family_contacts (id),
    token_hash  TEXT NOT NULL UNIQUE,
    email       TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    user_id     TEXT REFERENCES users (id),
    revoked_at  BIGINT,
    revoked_by  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX family_invitations_contact ON family_invitations (contact_id);

-- Messages relayed by the consulate. to_detainee: waiting, then delivered
-- or not_delivered (once). from_detainee: held, then released (once).
CREATE TABLE family_messages (
    id              TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    contact_id      TEXT NOT NULL REFERENCES family_contacts (id),
    direction       TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL,
    written_by      TEXT NOT NULL,         -- user id
    written_by_name TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    visit_id        TEXT REFERENCES visits (id),  -- where it was delivered or recorded
    how             TEXT NOT NULL DEFAULT '',
    reason          TEXT NOT NULL DEFAULT '',
    decided_by      TEXT NOT NULL DEFAULT '',
    decided_at      BIGINT,
    consent_id      TEXT REFERENCES family_consents (id)  -- the consent that allowed writing or release
);
CREATE INDEX family_messages_case ON family_messages (case_id, status, created_at);
CREATE INDEX family_messages_contact ON family_messages (contact_id, created_at);

-- Updates written for one contact (contact_id) or for every contact of the
-- case (NULL); each is shown only where consent covers all its categories.
CREATE TABLE family_summaries (
    id              TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    contact_id      TEXT REFERENCES family_contacts (id),
    categories      TEXT NOT NULL,
    body            TEXT NOT NULL,
    visit_id        TEXT REFERENCES visits (id),
    written_by      TEXT NOT NULL,
    written_by_name TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX family_summaries_case ON family_summaries (case_id, created_at);
