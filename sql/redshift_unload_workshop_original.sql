-- The workshop's exercise1/sql/redshift_unload_as_csv.sql, verbatim below, kept for reference:
-- it cannot give Personalize the workshop's interactions. Use redshift_unload_as_csv.sql.
--  1. products_sku does not exist: the workshop's events carry a flat properties.sku, so the
--     column is `sku` (products_sku would need properties.products to be an object).
--  2. prod.product_viewed is not a table of this workshop: its events are Product Clicked,
--     Product Added and Order Completed (the statement fails on the missing table).
--  3. `event` is the slug (order_completed); the S3 path writes the name (Order Completed), so the
--     two sources would give two spellings of every EVENT_TYPE: `event_text` is the name.
--  4. date_part(epoch, "timestamp") is a DOUBLE with the milliseconds (1558198402.129) where
--     the schema's TIMESTAMP is a long; Postgres refuses the unquoted `epoch` outright.
--  5. UNION removes identical rows (same user, item, event, second) but not duplicated
--     messages (the same messageId with different values); no ORDER BY.
--  6. DELIMITER ',' without FORMAT CSV leaves values holding commas unquoted; the header comes out
--     lower-case on a default cluster; PARALLEL OFF writes s3://mybucket/my_folder000, a sibling of
--     my_folder/, not a file in it; CREDENTIALS with keys in the text instead of IAM_ROLE.

-- Copyright 2019 Amazon.com, Inc. or its affiliates. All Rights Reserved.
-- SPDX-License-Identifier: MIT-0

-- Example query for unloading data from Redshift to a
-- CSV file on S3 that is in the format expected by
-- Amazon Personalize. Replace the values below with
-- the AWS S3 bucket, credentials, and region appropriate
-- for your configuration.
UNLOAD ('
  SELECT
    user_id AS USER_ID,
    products_sku AS ITEM_ID,
    event AS EVENT_TYPE,
    date_part(epoch,"timestamp") AS TIMESTAMP
  FROM prod.order_completed
  UNION
  SELECT
    user_id AS USER_ID,
    products_sku AS ITEM_ID,
    event AS EVENT_TYPE,
    date_part(epoch,"timestamp") AS TIMESTAMP
  FROM prod.product_added
  UNION
  SELECT
    user_id AS USER_ID,
    products_sku AS ITEM_ID,
    event AS EVENT_TYPE,
    date_part(epoch,"timestamp") AS TIMESTAMP
  FROM prod.product_viewed
')
TO 's3://mybucket/my_folder'
CREDENTIALS 'aws_access_key_id=AWS_ACCESS_KEY_ID;aws_secret_access_key=AWS_SECRET_ACCESS_KEY;token=AWS_SESSION_TOKEN'
HEADER
REGION AS '<your-region>'
DELIMITER AS ','
PARALLEL OFF;
