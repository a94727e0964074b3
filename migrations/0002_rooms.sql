-- Rooms. The owner may be a guest identity, so owner_id has no foreign key to users.
CREATE TABLE rooms (
    room_id       TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    owner_id      TEXT NOT NULL,
    password_hash TEXT,                   -- argon2id PHC string; NULL = no password
    settings      TEXT NOT NULL,          -- JSON of RoomSettings
    -- Copy of settings.hidden, for listing public rooms. Flags are 0/1 BIGINTs: sqlx's Any
    -- driver cannot decode SQLite booleans, and integers mean the same on both databases.
    hidden        BIGINT NOT NULL CHECK (hidden IN (0, 1)),
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- GET /api/rooms lists non-hidden rooms newest first.
CREATE INDEX rooms_public_newest ON rooms (hidden, created_at_ms, room_id);
