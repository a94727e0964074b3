-- Users banned from a room by its owner or an admin: they cannot enter it again (REST or
-- WebSocket) until unbanned. Guests are banned by their user id too, which is why this does
-- not reference `users`: guest identities are not stored there.
CREATE TABLE room_bans (
    room_id      TEXT NOT NULL REFERENCES rooms (room_id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL,
    banned_at_ms BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
