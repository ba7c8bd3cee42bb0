-- Interactions from a Segment warehouse on Redshift, unloaded as one CSV ready for Personalize.
-- Segment writes one table per track event in the source's schema (product_added, product_clicked,
-- order_completed, ...) with id (the messageId), user_id, "timestamp", received_at, event_text and a
-- column per property. Replace ${schema}, ${s3_prefix} (s3://bucket/transformed/interactions_) and
-- ${iam_role}. Same rules as `toolkit transform`: a user and a sku, duplicates by messageId dropped
-- (first received kept), epoch seconds, ordered rows. products[] arrays are stored as JSON text in
-- warehouses; this unload reads the flat sku only.
UNLOAD ($$
  SELECT user_id AS "USER_ID", sku AS "ITEM_ID", event_text AS "EVENT_TYPE",
         EXTRACT(EPOCH FROM "timestamp")::BIGINT AS "TIMESTAMP"
  FROM (
    SELECT id, user_id, sku, event_text, "timestamp",
           ROW_NUMBER() OVER (PARTITION BY id ORDER BY received_at) AS copy
    FROM (
      SELECT id, user_id, sku::VARCHAR(256) AS sku, event_text, "timestamp", received_at FROM ${schema}.product_added
      UNION ALL
      SELECT id, user_id, sku::VARCHAR(256), event_text, "timestamp", received_at FROM ${schema}.product_clicked
      UNION ALL
      SELECT id, user_id, sku::VARCHAR(256), event_text, "timestamp", received_at FROM ${schema}.order_completed
    ) AS events
    WHERE user_id IS NOT NULL AND user_id <> '' AND sku IS NOT NULL AND sku <> '' AND "timestamp" IS NOT NULL
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
