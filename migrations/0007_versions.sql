-- Cluster mode: room changes are compare-and-set. `version` grows by one with every change of
-- a room row, so two nodes updating the same room cannot silently undo each other, and every
-- node applies `room_updated` events only when they are newer than what it holds.
ALTER TABLE rooms ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
