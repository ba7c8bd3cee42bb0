-- What does a Segment message look like? Twenty of them.
SELECT * FROM segment_logs LIMIT 20
