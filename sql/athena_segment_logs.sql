-- Athena table over Segment's S3 destination: every message under segment-logs/, as the workshop
-- explores it: the workshop's own table (exercise1/sql/athena_create_table.sql) with the fields
-- of every library's context added. Trait and property names that are not SQL identifiers are mapped to snake_case
-- (the SerDe's mapping.* properties). `toolkit explore --print-ddl --location s3://...` fills in
-- ${location}; ${table} defaults to segment_logs.
CREATE EXTERNAL TABLE IF NOT EXISTS ${table} (
  anonymousid string,
  channel string,
  context struct<
    ip:string, locale:string, timezone:string, useragent:string,
    library:struct<name:string, version:string>,
    page:struct<path:string, referrer:string, search:string, title:string, url:string>,
    app:struct<name:string, version:string, build:string, namespace:string>,
    device:struct<id:string, manufacturer:string, model:string, name:string, type:string, advertisingid:string>,
    os:struct<name:string, version:string>,
    network:struct<carrier:string, cellular:string, wifi:string, bluetooth:string>,
    screen:struct<height:string, width:string, density:string>>,
  event string,
  messageid string,
  originaltimestamp string,
  projectid string,
  properties struct<
    sku:string, product_id:string, category:string, name:string, brand:string, variant:string,
    price:string, quantity:string, currency:string, revenue:string, order_id:string, page_name:string,
    operating_system:string, browser:string, model:string, app_version:string,
    campaign_id:string, app_id:string, button_id:string>,
  receivedat string,
  sentat string,
  `timestamp` string,
  traits struct<
    campaign_name:string, campaign_source:string, experiment_group:string,
    favorite_departments:string, invited_user:string, referrering_domain:string,
    first_name:string, last_name:string, email:string, ip:string,
    likelihood_to_buy:float, lifetime_value:double, operating_system:string,
    browser:string, model:string, app_version:string>,
  type string,
  userid string,
  version int,
  writekey string
)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES (
  'ignore.malformed.json' = 'true',
  'mapping.campaign_name' = 'Campaign Name',
  'mapping.campaign_source' = 'Campaign Source',
  'mapping.experiment_group' = 'Experiment Group',
  'mapping.favorite_departments' = 'Favorite Departments',
  'mapping.invited_user' = 'Invited User?',
  'mapping.referrering_domain' = 'Referrering Domain',
  'mapping.app_version' = 'App Version'
)
LOCATION '${location}';
