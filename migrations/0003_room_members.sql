-- Durable membership of registered users: their role in the room and, optionally, an
-- explicit permission set (bit set: 1 chat, 2 playback, 4 playlist) replacing the role's
-- defaults. A registered user becomes a member when they first join; the owner's row is
-- written with the room. Who is online right now is not stored here (see room state).
CREATE TABLE room_members (
    room_id      TEXT NOT NULL REFERENCES rooms (room_id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    role         TEXT NOT NULL,           -- owner | admin | member
    permissions  BIGINT,                  -- NULL = the role's defaults from room settings
    joined_at_ms BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
