-- Which events are in the data, and how many of each?
SELECT event, count(*) AS messages FROM segment_logs GROUP BY event ORDER BY messages DESC, event
