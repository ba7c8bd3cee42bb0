-- Which events are in the warehouse, and how many of each? (`tracks` holds every track call.)
SELECT event_text AS event, count(*) AS messages FROM ${tracks} AS tracks GROUP BY event_text ORDER BY messages DESC, event
