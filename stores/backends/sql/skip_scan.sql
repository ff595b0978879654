-- The distinct values of one column of events (filled in by Python with the
-- column's name and "AND ..." conditions, or none): PostgreSQL reads every
-- row for a DISTINCT; this hops from one value to the next through the index
-- instead ("loose index scan"): a few index probes per name, not a million rows.
WITH RECURSIVE names(name) AS (
    (SELECT {column} FROM events WHERE {column} IS NOT NULL {condition} ORDER BY {column} LIMIT 1)
    UNION ALL
    SELECT (SELECT {column} FROM events WHERE {column} > names.name {condition} ORDER BY {column} LIMIT 1)
    FROM names WHERE names.name IS NOT NULL
)
SELECT name FROM names WHERE name IS NOT NULL
