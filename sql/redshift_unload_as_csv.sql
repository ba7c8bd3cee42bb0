-- Interactions from Segment's warehouse (Redshift; the SELECT runs on Postgres too), unloaded as
-- one CSV ready for Personalize, with the rules of `toolkit transform`: a user and an item, the
-- first received copy of each messageId, EVENT_TYPE the event's name (event_text, as the S3 path
-- writes it), epoch seconds floored (FLOOR: EXTRACT(EPOCH ...)::BIGINT rounds .5 up on Postgres),
-- rows ordered. `toolkit transform postgresql://... --print-sql` fills it in: ${events} becomes one
--   SELECT id, user_id, ${item} AS item, event_text, "timestamp", received_at FROM <schema>.<event table>
-- per kept event table of each source schema, joined by UNION ALL; ${item} is the item column
-- (sku); ${s3_prefix} the object UNLOAD writes (PARALLEL OFF: one file, named ${s3_prefix}000);
-- ${iam_role} a role Redshift may assume to write it. products[] arrays are JSON text in a
-- warehouse; this statement reads the flat item column (toolkit transform expands products too).
UNLOAD ($$
  SELECT user_id AS "USER_ID", item AS "ITEM_ID", event_text AS "EVENT_TYPE", "TIMESTAMP"
  FROM (
    SELECT user_id, item, event_text, FLOOR(EXTRACT(EPOCH FROM "timestamp"))::BIGINT AS "TIMESTAMP",
           ROW_NUMBER() OVER (PARTITION BY id ORDER BY received_at) AS copy
    FROM (
${events}
    ) AS events
    WHERE user_id IS NOT NULL AND user_id <> '' AND LENGTH(user_id) <= 256
      AND item IS NOT NULL AND item <> '' AND LENGTH(item) <= 256 AND "timestamp" IS NOT NULL
  ) AS ranked
  WHERE copy = 1
  ORDER BY 4, 1, 2, 3
$$)
TO '${s3_prefix}'
IAM_ROLE '${iam_role}'
FORMAT AS CSV
HEADER
PARALLEL OFF
ALLOWOVERWRITE;
