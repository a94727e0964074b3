-- Chat history, written before a message is acknowledged. Snapshots carry the most recent
-- messages; GET /api/rooms/{id}/chat pages through the rest.
CREATE TABLE chat_messages (
    message_id    TEXT PRIMARY KEY,       -- UUID v7: ordered within a node
    room_id       TEXT NOT NULL REFERENCES rooms (room_id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL,          -- may be a guest
    username      TEXT NOT NULL,          -- name at the time of sending
    body          TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE INDEX chat_by_room_newest ON chat_messages (room_id, created_at_ms, message_id);
