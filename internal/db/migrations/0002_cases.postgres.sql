-- PostgreSQL only: search keys compare byte by byte, as on SQLite, whatever
-- the database's collation, so that a key range is exactly a prefix.
ALTER TABLE name_keys ALTER COLUMN key SET DATA TYPE TEXT COLLATE "C";
