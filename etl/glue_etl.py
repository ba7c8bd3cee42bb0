"""AWS Glue job: Segment logs in S3 to the interactions CSV Personalize imports.

Job arguments: --JOB_NAME, --S3_INPUT_PATH (s3://.../segment-logs/), --S3_CSV_OUTPUT_PATH
(s3://.../transformed/); optional --EVENT_TYPES (comma-separated), --ITEM_FIELD (sku or
product_id), --S3_USERS_OUTPUT_PATH and --S3_ITEMS_OUTPUT_PATH (folders for the Users and Items
datasets) and --CATALOG_PATH (the catalog export, JSON lines). Give segment_interactions.py,
segment_datasets.py and dataset_fields.py to the job with --extra-py-files.
"""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from segment_datasets import write_datasets
from segment_interactions import (
    DEFAULT_EVENT_TYPES,
    classify,
    configure,
    first_copies,
    interactions,
    write_single_csv,
)

REQUIRED = ["JOB_NAME", "S3_INPUT_PATH", "S3_CSV_OUTPUT_PATH"]
OPTIONAL = [
    name
    for name in ("EVENT_TYPES", "ITEM_FIELD", "S3_USERS_OUTPUT_PATH", "S3_ITEMS_OUTPUT_PATH", "CATALOG_PATH")
    if f"--{name}" in sys.argv
]
args = getResolvedOptions(sys.argv, REQUIRED + OPTIONAL)

glue_context = GlueContext(SparkContext.getOrCreate())
spark = glue_context.spark_session
job = Job(glue_context)
job.init(args["JOB_NAME"], args)
configure(spark)

event_types = tuple(
    e.strip() for e in args.get("EVENT_TYPES", ",".join(DEFAULT_EVENT_TYPES)).split(",") if e.strip()
)
classified = classify(spark, args["S3_INPUT_PATH"], event_types, args.get("ITEM_FIELD", "sku")).cache()
for reason, count in sorted(classified.groupBy("reason").count().collect(), key=lambda r: str(r[0])):
    print(f"messages {'kept' if reason is None else 'filtered: ' + reason}: {count}")
write_single_csv(interactions(first_copies(classified)), args["S3_CSV_OUTPUT_PATH"])
write_datasets(
    spark,
    args["S3_INPUT_PATH"],
    args.get("S3_USERS_OUTPUT_PATH"),
    args.get("S3_ITEMS_OUTPUT_PATH"),
    args.get("ITEM_FIELD", "sku"),
    args.get("CATALOG_PATH"),
)
job.commit()
