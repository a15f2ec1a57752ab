-- A timeline entry written by the system keeps its title as a message to
-- translate (its English format and values, JSON), so that each reader
-- sees it in their language; title keeps the English text for search and
-- exports. Empty for entries people wrote.
ALTER TABLE timeline ADD COLUMN title_text TEXT NOT NULL DEFAULT '';
