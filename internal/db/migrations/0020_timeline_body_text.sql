-- The body of a timeline entry written by the system, kept as a message to
-- translate like its title (title_text); body keeps the English text.
ALTER TABLE timeline ADD COLUMN body_text TEXT NOT NULL DEFAULT '';
