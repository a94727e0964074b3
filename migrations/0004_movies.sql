-- Playlists. Play order is insertion order (created_at_ms, then the time-ordered movie_id).
CREATE TABLE movies (
    movie_id      TEXT PRIMARY KEY,
    room_id       TEXT NOT NULL REFERENCES rooms (room_id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    title         TEXT NOT NULL,
    added_by      TEXT NOT NULL,          -- user id (may be a guest)
    created_at_ms BIGINT NOT NULL
);

CREATE INDEX movies_by_room ON movies (room_id, created_at_ms, movie_id);
