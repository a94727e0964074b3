-- Registered accounts. Guest identities are never stored: they live in their token only,
-- so guest sign-ups cannot grow this table.
-- The schema is portable: it runs unchanged on PostgreSQL and SQLite (TEXT ids are UUID v7
-- strings made by the application, times are BIGINT milliseconds since the Unix epoch, flags
-- are BIGINT 0/1).
CREATE TABLE users (
    user_id       TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,   -- login name, compared exactly
    password_hash TEXT NOT NULL,          -- argon2id PHC string
    created_at_ms BIGINT NOT NULL
);
