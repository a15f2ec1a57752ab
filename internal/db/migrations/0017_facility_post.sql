-- The post that keeps a facility's record (its terminals, visit windows and
-- suspensions): its consular officers change it, officers of other posts do
-- not. Existing facilities take the post of most of their cases.
ALTER TABLE facilities ADD COLUMN post TEXT NOT NULL DEFAULT '';
UPDATE facilities SET post = COALESCE((SELECT c.post FROM cases c WHERE c.facility_id = facilities.id AND c.post <> ''
    GROUP BY c.post ORDER BY COUNT(*) DESC, c.post LIMIT 1), '');

-- The post that recorded a suspension (a facility's: its post's): its
-- officers lift it, or HQ. Existing ones take their facility's post, or
-- that of the officer who recorded them.
ALTER TABLE suspensions ADD COLUMN post TEXT NOT NULL DEFAULT '';
UPDATE suspensions SET post = COALESCE((SELECT f.post FROM facilities f WHERE f.id = suspensions.facility_id),
    (SELECT u.post FROM users u WHERE u.display_name = suspensions.created_by ORDER BY u.id LIMIT 1), '');
