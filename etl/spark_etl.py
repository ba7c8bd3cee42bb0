"""The interactions transform (and the Users and Items datasets) as a plain PySpark job, for
spark-submit on any cluster:

    spark-submit --py-files etl/segment_interactions.py,etl/segment_datasets.py,etl/dataset_fields.py \
        etl/spark_etl.py s3a://bucket/segment-logs/ s3a://bucket/transformed/ \
        [--event-types A,B] [--item-field sku] [--users-output s3a://bucket/users/] \
        [--items-output s3a://bucket/items/ [--catalog s3a://bucket/catalog.jsonl]]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pyspark.sql import SparkSession  # noqa: E402
from segment_datasets import write_datasets  # noqa: E402
from segment_interactions import (
    DEFAULT_EVENT_TYPES,
    classify,
    configure,
    first_copies,
    interactions,
    write_single_csv,
)  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Segment logs to a Personalize interactions CSV (one part file)."
    )
    parser.add_argument("input_path")
    parser.add_argument("output_folder")
    parser.add_argument("--event-types", default=",".join(DEFAULT_EVENT_TYPES))
    parser.add_argument("--item-field", default="sku", choices=("sku", "product_id"))
    parser.add_argument("--users-output", help="folder for the Users dataset (one CSV part file)")
    parser.add_argument("--items-output", help="folder for the Items dataset (one CSV part file)")
    parser.add_argument("--catalog", help="with --items-output: the catalog export, JSON lines of products")
    args = parser.parse_args(argv)
    spark = SparkSession.builder.appName("segment-personalize-interactions").getOrCreate()
    configure(spark)
    event_types = tuple(e.strip() for e in args.event_types.split(",") if e.strip())
    classified = classify(spark, args.input_path, event_types, args.item_field).cache()
    for row in classified.groupBy("reason").count().collect():
        print(f"messages {'kept' if row['reason'] is None else 'filtered: ' + row['reason']}: {row['count']}")
    write_single_csv(interactions(first_copies(classified)), args.output_folder)
    write_datasets(
        spark, args.input_path, args.users_output, args.items_output, args.item_field, args.catalog
    )
    spark.stop()


if __name__ == "__main__":
    main()
