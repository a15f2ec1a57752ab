-- Recording: what kind of visit each is, and the recording policy in force
-- for each kind of visit at each post.

-- consular or legal visits are privileged: never recorded unless an
-- administrator sets an explicit policy for the post.
ALTER TABLE visits ADD COLUMN kind TEXT NOT NULL DEFAULT 'consular';

-- post '' is every post, and counts only for kinds that are not privileged.
-- policy is never, consent (recorded only while everyone present agrees) or
-- always.
CREATE TABLE recording_policies (
    post           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    policy         TEXT NOT NULL,
    retention_days INTEGER NOT NULL,
    note           TEXT NOT NULL DEFAULT '',
    set_by         TEXT NOT NULL,
    set_at         BIGINT NOT NULL,
    PRIMARY KEY (post, kind)
);
