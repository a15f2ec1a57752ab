-- E-mail notices: what each person chose to receive, and the keys of mails
-- already queued, so that a notice with a key is sent at most once. The queue
-- itself is River's (river_job and friends), created by notify.Migrate.

-- A missing row means "on": every kind is sent until its user turns it off.
CREATE TABLE notification_prefs (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    email      BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- Claimed in the transaction that queues the mail: a second mail with the
-- same key finds the row and is not queued. Kept for good: River deletes
-- finished jobs after a day, and a key must outlive that.
CREATE TABLE notification_keys (
    mail_key   TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
