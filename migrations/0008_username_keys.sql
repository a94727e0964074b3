-- The comparison key of each username (synctv_core::text::name_key: NFKC, lowercase,
-- UTS #39 confusable skeleton). Unique, so `alice`, `Alice` and `аlice` (Cyrillic a)
-- cannot be three accounts, and guests cannot take a name that looks like a registered one.
-- The key cannot be computed in SQL: rows from before this migration are filled by the
-- application right after migrating (Store::migrate). Until then the column is NULL, which
-- the unique index allows (NULLs are distinct on PostgreSQL and SQLite alike).
ALTER TABLE users ADD COLUMN username_key TEXT;
-- (PostgreSQL already named the UNIQUE constraint of `username` "users_username_key".)
CREATE UNIQUE INDEX users_by_username_key ON users (username_key);
