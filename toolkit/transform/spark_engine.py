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
from toolkit.segment.logs import find_log_files
from toolkit.transform.run import OutputTarget
from toolkit.transform.summary import TransformOptions, TransformSummary

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


def transform_with_spark(source: str, out: str, options: TransformOptions, aws: AwsOptions | None = None, master: str = "local[2]") -> tuple[TransformSummary, str, ValidationReport]:
    """Run the Spark job over the logs and write one CSV, as `toolkit.transform.run.transform` does."""
    try:
        from toolkit.etl.segment_interactions import classify, configure, first_copies, interactions, write_single_csv
    except ImportError:
        raise UsageError(PYSPARK_MISSING) from None

    aws = aws or AwsOptions()
    target = OutputTarget(out, aws)
    target.check()
    began = time.perf_counter()
    spark = spark_session(master)
    configure(spark)
    with find_log_files(source, aws) as logs, tempfile.TemporaryDirectory(prefix="toolkit-spark-") as work:
        classified = classify(spark, [str(p) for p in logs.paths], options.event_types, options.item_field).cache()
        reasons = Counter({("kept" if reason is None else reason): count for reason, count in classified.groupBy("reason").count().collect()})
        firsts = first_copies(classified).cache()
        summary = TransformSummary(files=len(logs.paths), empty_files=len(logs.empty), refused_objects=list(logs.refused))
        summary.messages_read = sum(reasons.values())
        summary.filtered = Counter({r: n for r, n in reasons.items() if r not in ("kept", "unparsed")})
        summary.unlocated_rejects = reasons.get("unparsed", 0)
        summary.messages_written = firsts.count()
        summary.duplicates = reasons.get("kept", 0) - summary.messages_written
        folder = Path(work) / "csv"
        write_single_csv(interactions(firsts), str(folder))
        classified.unpersist()
        firsts.unpersist()
        part = next(folder.glob("part-*.csv"))
        partial = target.partial_path(Path(work))
        try:
            shutil.move(part, partial)
            report = target.publish(partial, diagnostics=True)
            summary.events = Counter(report.diagnostics.get("event_types", {}))
            summary.interactions = report.rows
        finally:
            if partial.exists():
                partial.unlink()
    summary.seconds = time.perf_counter() - began
    return summary, target.display, report


def run_spark_transform(source: str, out: str, master: str = "local[2]") -> TransformSummary:
    """For benchmarks: the default transform on Spark, start-up included."""
    return transform_with_spark(source, out, TransformOptions(), master=master)[0]
