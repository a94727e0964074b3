-- One shared playback state per room, written before a change is acknowledged. `version`
-- increases by one with every accepted change (last-writer-wins with conflict detection),
-- and survives restarts.
CREATE TABLE playback_states (
    room_id       TEXT PRIMARY KEY REFERENCES rooms (room_id) ON DELETE CASCADE,
    movie_id      TEXT,                   -- NULL = nothing selected
    playing       BIGINT NOT NULL CHECK (playing IN (0, 1)),
    position_ms   BIGINT NOT NULL,        -- position at updated_at_ms
    rate          DOUBLE PRECISION NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    version       BIGINT NOT NULL,
    updated_by    TEXT                    -- user id of the last change
);
