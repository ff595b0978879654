-- The collation of events.sender_id: its own, else the database's.
SELECT coalesce(c.collname, d.datcollate)
FROM pg_attribute a
JOIN pg_class t ON t.oid = a.attrelid
LEFT JOIN pg_collation c ON c.oid = a.attcollation AND c.collname <> 'default'
JOIN pg_database d ON d.datname = current_database()
WHERE t.relname = 'events' AND a.attname = 'sender_id'
