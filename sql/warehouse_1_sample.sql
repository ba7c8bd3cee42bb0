-- What does a Segment warehouse hold? Twenty tracks (every source's `tracks` table), oldest first.
SELECT * FROM ${tracks} AS tracks ORDER BY received_at, id LIMIT 20
