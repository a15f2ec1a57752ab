-- The iCalendar SEQUENCE of a visit: 0 when scheduled, one more each time it
-- is moved or cancelled, so calendars apply the latest invitation.
ALTER TABLE visits ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;
