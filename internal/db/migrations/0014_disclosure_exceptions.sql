-- Disclosure to a family contact without the detainee's consent, under one of
-- the exceptions the privacy policy defines (reason), authorised by a
-- supervisor of the case for a few days at most. It never overrides the
-- detainee's withdrawal of a consent, and never covers messages. It stops
-- counting when it expires or is ended (ended_at); one of reason
-- not_yet_met also stops at the case's first consular contact.
CREATE TABLE family_disclosure_exceptions (
    id                 TEXT PRIMARY KEY,
    case_id            TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    contact_id         TEXT NOT NULL REFERENCES family_contacts (id),
    categories         TEXT NOT NULL,          -- space-separated: visits location health legal
    reason             TEXT NOT NULL,          -- family.ExceptionReasons
    justification      TEXT NOT NULL,
    authorised_by      TEXT NOT NULL,          -- user id
    authorised_by_name TEXT NOT NULL,
    authorised_at      BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    ended_at           BIGINT,
    ended_by           TEXT NOT NULL DEFAULT '', -- user id
    ended_by_name      TEXT NOT NULL DEFAULT '',
    end_note           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX family_disclosure_exceptions_contact ON family_disclosure_exceptions (case_id, contact_id);
