"""`toolkit transform --engine spark`: the Glue/Spark job (etl/segment_interactions.py) run on a
Spark master of your choice, with the same output handling and accounting as the DuckDB engine."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

from toolkit.aws.s3 import AwsOptions
from toolkit.errors import UsageError
from toolkit.personalize.validate import ValidationReport
from toolkit.segment.layout import check_output_file
from toolkit.segment.logs import find_log_files
from toolkit.transform.items import ItemsDataset, present_fields, write_items_schema
from toolkit.transform.run import OutputTarget, publish_dataset
from toolkit.transform.summary import TransformOptions, TransformSummary
from toolkit.transform.users import UsersDataset, users_dataset, write_users_schema

PYSPARK_MISSING = '--engine spark needs PySpark: pip install "segment-personalize-toolkit[spark]" (and Java 17)'


def spark_session(master: str):
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError(PYSPARK_MISSING) from None
    spark = (
        SparkSession.builder.master(master)
        .appName("toolkit-transform")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def transform_with_spark(
    source: str,
    out: str,
    options: TransformOptions,
    aws: AwsOptions | None = None,
    master: str = "local[2]",
    users_path: str | None = None,
    user_fields: list[str] | None = None,
    items_path: str | None = None,
    catalog: str | None = None,
) -> tuple[TransformSummary, str, ValidationReport]:
    """Run the Spark job over the logs and write one CSV (and the Users and Items datasets when
    asked), as `toolkit.transform.run.transform` does."""
    try:
        from toolkit.etl.segment_interactions import classify, configure, first_copies, interactions
    except ImportError:
        raise UsageError(PYSPARK_MISSING) from None

    aws = aws or AwsOptions()
    target = OutputTarget(out, aws)
    target.check()
    began = time.perf_counter()
    spark = spark_session(master)
    configure(spark)
    with find_log_files(source, aws) as logs, tempfile.TemporaryDirectory(prefix="toolkit-spark-") as work:
        for option, path in (("--users", users_path), ("--items", items_path)):
            if path:
                check_output_file(Path(path), option, [*logs.paths, Path(target.display)])
        classified = classify(spark, [str(p) for p in logs.paths], options.event_types, options.item_field).cache()
        reasons = Counter({("kept" if reason is None else reason): count for reason, count in classified.groupBy("reason").count().collect()})
        firsts = first_copies(classified).cache()
        summary = TransformSummary(files=len(logs.paths), empty_files=len(logs.empty), refused_objects=list(logs.refused))
        summary.messages_read = sum(reasons.values())
        summary.filtered = Counter({r: n for r, n in reasons.items() if r not in ("kept", "unparsed")})
        summary.unlocated_rejects = reasons.get("unparsed", 0)
        summary.messages_written = firsts.count()
        summary.duplicates = reasons.get("kept", 0) - summary.messages_written
        partial = target.partial_path(Path(work))
        paths = [str(p) for p in logs.paths]
        try:
            _write_csv(interactions(firsts), Path(work) / "csv", partial)
            classified.unpersist()
            firsts.unpersist()
            if users_path:
                summary.users_dataset = publish_dataset(Path(users_path), lambda part: _write_users(spark, paths, part, user_fields, Path(work) / "users"))
            if items_path:
                summary.items_dataset = publish_dataset(Path(items_path), lambda part: _write_items(spark, paths, part, options.item_field, catalog, Path(work) / "items"))
            report = target.publish(partial, diagnostics=True)
            summary.events = Counter(report.diagnostics.get("event_types", {}))
            summary.interactions = report.rows
        finally:
            if partial.exists():
                partial.unlink()
    summary.seconds = time.perf_counter() - began
    return summary, target.display, report


def _write_csv(rows, folder: Path, path: Path) -> None:
    """The rows as one CSV file at `path`, by way of Spark's output folder."""
    from toolkit.etl.segment_interactions import write_single_csv

    write_single_csv(rows, str(folder))
    shutil.move(next(folder.glob("part-*.csv")), path)


def _write_users(spark, paths: list[str], out: Path, chosen: list[str] | None, folder: Path) -> UsersDataset:
    from toolkit.etl.segment_datasets import latest_traits, trait_profile, users_rows

    latest = latest_traits(spark, paths).cache()
    try:
        users, profile = trait_profile(latest)
        result = users_dataset(profile, users, chosen)
        _write_csv(users_rows(latest, result.fields), folder, out)
    finally:
        latest.unpersist()
    write_users_schema(out, result.fields)
    return result


def _write_items(spark, paths: list[str], out: Path, item_field: str, catalog: str | None, folder: Path) -> ItemsDataset:
    from toolkit.etl.segment_datasets import item_counts, item_rows, products

    if catalog and not Path(catalog).is_file():
        raise UsageError(f"--catalog: no such file: {catalog}")
    rows = item_rows(products(spark, paths, catalog), item_field).cache()
    try:
        counts = item_counts(rows)
        if catalog and not counts["in_catalog"]:
            raise UsageError(f"--catalog {catalog}: no product has a {item_field!r} field, the item id chosen by --item-id")
        present = present_fields(counts, item_field)
        _write_csv(rows.select("ITEM_ID", *present), folder, out)
    finally:
        rows.unpersist()
    write_items_schema(out, present)
    return ItemsDataset(counts["items"], present, counts["in_catalog"])


def run_spark_transform(source: str, out: str, master: str = "local[2]") -> TransformSummary:
    """For benchmarks: the default transform on Spark, start-up included."""
    return transform_with_spark(source, out, TransformOptions(), master=master)[0]
