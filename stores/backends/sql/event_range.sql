-- Events [start, start + count) of one conversation, in stored (id) order: parameters
-- sender_id, sender_id, start, count. The id of its event `start` comes from the
-- (sender_id, id) index alone (OFFSET skips index entries, never rows); the range is
-- read from that id on, as a keyset would. Past the end the id is NULL: no rows.
SELECT id, data FROM events
WHERE sender_id = %s
  AND id >= (SELECT id FROM events WHERE sender_id = %s ORDER BY id LIMIT 1 OFFSET %s)
ORDER BY id
LIMIT %s
