-- The relay marks no row any more: it saves a floor, a seq at or below which every event of the topic is
-- on the broker, and starts from it. The floor begins below the first row the old relay had not marked.
ALTER TABLE relay_state ADD COLUMN published_through bigint NOT NULL DEFAULT 0;
UPDATE relay_state AS r SET published_through = coalesce(
    (SELECT min(seq) - 1 FROM events WHERE topic = r.topic AND published_at IS NULL),
    (SELECT max(seq) FROM events WHERE topic = r.topic),
    0);
DROP INDEX events_unpublished;
ALTER TABLE events DROP COLUMN published_at;
