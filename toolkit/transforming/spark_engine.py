"""The transform's Spark engine: the Glue/Spark job's functions (etl/segment_interactions.py and
etl/segment_datasets.py) on a Spark master of your choice, behind the same engine interface as
DuckDB's, so that toolkit.transforming.run handles outputs and accounting alike for both. Spark counts
unreadable lines but cannot say where they are."""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.errors import UsageError
from toolkit.segment.logs import LogFiles
from toolkit.transforming.items import ItemsDataset, present_fields, write_items_schema
from toolkit.transforming.summary import TransformOptions, TransformSummary
from toolkit.transforming.users import UsersDataset, users_dataset, write_users_schema

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

PYSPARK_MISSING = (
    '`engine` spark needs PySpark: pip install "segment-personalize-toolkit[spark]" (and Java 17)'
)


def spark_session(master: str, *, log: Path | None = None):
    """A Spark session on `master`; with `log`, the JVM's own output (log4j's start-up warnings,
    native-library notes) goes to that file instead of the terminal."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError(PYSPARK_MISSING, parameters=("engine",)) from None
    # Spark starts its Python workers with PYSPARK_PYTHON (else the first python3 on PATH): this
    # interpreter, unless the user chose one, so that they run the Python (and packages) of the driver
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    with _jvm_output_to(log):
        spark = _session(SparkSession, master)
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextmanager
def _jvm_output_to(log: Path | None) -> Iterator[None]:
    """While the JVM starts, this process's stdout and stderr are `log`: the JVM keeps them."""
    if log is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(log, "ab") as file:
        os.dup2(file.fileno(), 1)
        os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


def _session(SparkSession, master: str):  # noqa: N803 - the class, imported where PySpark is
    return (
        SparkSession.builder.master(master)
        .appName("toolkit-transform")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )


class SparkTransform:
    locates_rejects = False

    def __init__(self, work_dir: Path, master: str = "local[2]", *, verbose: bool = False):
        try:
            from toolkit.etl.segment_interactions import configure
        except ImportError:
            raise UsageError(PYSPARK_MISSING, parameters=("engine",)) from None
        self.work_dir = work_dir
        self.spark = spark_session(master, log=None if verbose else work_dir / "spark-jvm.log")
        configure(self.spark)
        self.paths: list[str] = []
        self.classified: DataFrame | None = None
        self.options = TransformOptions()

    def classify(
        self, logs: LogFiles, options: TransformOptions, summary: TransformSummary
    ) -> dict[str, str]:
        from toolkit.etl.segment_interactions import classify

        self.paths, self.options = [str(p) for p in logs.paths], options
        self.classified = classify(self.spark, self.paths, options.event_types, options.item_field).cache()
        return {str(path): logs.name(path) for path in logs.paths}

    def _messages(self) -> DataFrame:
        """The classified messages (classify makes them)."""
        if self.classified is None:
            raise RuntimeError("classify the logs first")
        return self.classified

    def reasons(self) -> Counter:
        return Counter(
            {
                ("kept" if reason is None else reason): count
                for reason, count in self._messages().groupBy("reason").count().collect()
            }
        )

    def events_filtered(self, limit: int = 10) -> Counter:
        messages = self._messages()
        rows = (
            messages.where((messages.reason == "event type") & messages.event.isNotNull())
            .groupBy("event")
            .count()
            .collect()
        )
        return Counter(
            dict(
                sorted(((r["event"], r["count"]) for r in rows), key=lambda pair: (-pair[1], pair[0]))[:limit]
            )
        )

    def unparsed_by_file(self) -> dict[str, int]:
        return {}

    def local_file(self, path) -> Path:
        return Path(path)

    def write_csv(self, path: Path) -> tuple[int, Counter]:
        from toolkit.etl.segment_interactions import first_copies, interactions

        firsts = first_copies(self._messages()).cache()
        try:
            written = firsts.count()
            rows = interactions(firsts, self.options.event_map).cache()
            events = Counter(
                {r["EVENT_TYPE"]: r["count"] for r in rows.groupBy("EVENT_TYPE").count().collect()}
            )
            _write_csv(rows, self.work_dir / "csv", path)
            rows.unpersist()
        finally:
            firsts.unpersist()
        return written, events

    def write_users(self, path: Path, chosen: list[str] | None) -> UsersDataset:
        from toolkit.etl.segment_datasets import latest_traits, trait_profile, users_rows

        latest = latest_traits(self.spark, self.paths).cache()
        try:
            users, profile = trait_profile(latest)
            result = users_dataset(profile, users, chosen)
            _write_csv(users_rows(latest, result.fields), self.work_dir / "users", path)
        finally:
            latest.unpersist()
        write_users_schema(path, result.fields)
        return result

    def write_items(self, path: Path, item_field: str, catalog: Path | None) -> ItemsDataset:
        from toolkit.etl.segment_datasets import item_counts, item_rows, products

        if catalog is not None and not catalog.is_file():
            raise UsageError(f"`catalog`: no such file: {catalog}", parameters=("catalog",))
        rows = item_rows(
            products(self.spark, self.paths, str(catalog) if catalog else None), item_field
        ).cache()
        try:
            counts = item_counts(rows)
            if catalog is not None and not counts["in_catalog"]:
                raise UsageError(
                    f"`catalog` {catalog}: no product has a {item_field!r} field, the item id chosen by "
                    "`item_field`",
                    parameters=("catalog", "item_field"),
                )
            present = present_fields(counts, item_field)
            _write_csv(rows.select("ITEM_ID", *present), self.work_dir / "items", path)
        finally:
            rows.unpersist()
        write_items_schema(path, present)
        return ItemsDataset(counts["items"], present, counts["in_catalog"])

    def close(self) -> None:
        if self.classified is not None:
            self.classified.unpersist()


def _write_csv(rows, folder: Path, path: Path) -> None:
    """The rows as one CSV file at `path`, by way of Spark's output folder."""
    from toolkit.etl.segment_interactions import write_single_csv

    write_single_csv(rows, str(folder))
    shutil.move(next(folder.glob("part-*.csv")), path)
