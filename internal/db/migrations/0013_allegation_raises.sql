-- An allegation of mistreatment raised with the detaining state's
-- authorities, which needs the detainee's permission recorded in the report.
CREATE TABLE report_allegation_raises (
    id          TEXT PRIMARY KEY,
    report_id   TEXT NOT NULL REFERENCES reports (id),
    case_id     TEXT NOT NULL REFERENCES cases (id),
    raised_at   BIGINT NOT NULL,
    raised_by   TEXT NOT NULL,
    raised_name TEXT NOT NULL,
    raised_with TEXT NOT NULL,   -- the authority, e.g. "Beijing State Security Bureau, by note verbale 2020/114"
    note        TEXT NOT NULL DEFAULT '',
    -- The detainee's permission as the approved report records it.
    permission_at  TEXT NOT NULL,
    permission_how TEXT NOT NULL
);
CREATE INDEX report_allegation_raises_report ON report_allegation_raises (report_id, raised_at);
