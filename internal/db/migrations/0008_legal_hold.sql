-- A legal hold keeps a visit's recordings (or every recording of a case)
-- past their retention, until it is lifted.
ALTER TABLE visits ADD COLUMN legal_hold BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE cases ADD COLUMN legal_hold BOOLEAN NOT NULL DEFAULT FALSE;
