-- The language of the person a join link is for (BCP 47), chosen when the
-- link is made: their pages open in it, with a switch. Empty: the browser's.
ALTER TABLE visit_links ADD COLUMN lang TEXT NOT NULL DEFAULT '';
