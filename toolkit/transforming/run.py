"""`toolkit transform`: Segment logs (local or S3) to one Personalize interactions CSV (local or S3)."""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from toolkit.aws.s3 import AwsOptions, S3Url, aws_error, is_s3, upload
from toolkit.errors import UsageError
from toolkit.files import (
    check_output_file,
    check_outputs,
    partial_path,
    publish_together,
    refuse_special_input,
)
from toolkit.personalize.validate import ValidationReport, validate_csv
from toolkit.progress import SILENT, Steps
from toolkit.segment.lines import Reject, find_rejects, read_log_bytes
from toolkit.segment.logs import LogFiles, find_log_files
from toolkit.segment.warehouse_engines import is_duckdb_file, is_postgres_url
from toolkit.transforming.duckdb_engine import DuckDBTransform
from toolkit.transforming.items import ItemsDataset
from toolkit.transforming.summary import TransformOptions, TransformSummary
from toolkit.transforming.users import UsersDataset
from toolkit.transforming.warehouse_engine import WarehouseTransform

CSV_NAME = "interactions.csv"
Dataset = TypeVar("Dataset")


class TransformEngine(Protocol):
    """What runs the transform's queries: DuckDB on this machine, or Spark (the Glue job's code).

    The pipeline (`transform`) calls classify first, then the counts, then the writers, then close."""

    locates_rejects: bool  # whether the engine can say which lines it could not parse

    def classify(
        self, logs: LogFiles, options: TransformOptions, summary: TransformSummary
    ) -> dict[str, str]:
        """Classify every message (kept, or filtered by reason); returns each file read -> its name."""
        ...

    def reasons(self) -> Counter:
        """Messages by what became of them: "kept", a filter reason, or "unparsed"."""
        ...

    def events_filtered(self, limit: int = 10) -> Counter:
        """The most common track events left out by the event types."""
        ...

    def unparsed_by_file(self) -> dict[str, int]:
        """Lines the engine could not parse, by file (empty when it cannot locate them)."""
        ...

    def local_file(self, path: Path | str) -> Path:
        """A local copy of a log file the engine read, to find its unparsed lines in."""
        ...

    def write_csv(self, path: Path) -> tuple[int, Counter]:
        """Write the interactions CSV, the first copy of each message; returns (messages written,
        interactions by EVENT_TYPE)."""
        ...

    def write_users(self, path: Path, chosen: list[str] | None) -> UsersDataset:
        """Write the Users dataset (and its schema beside it) from the identify traits."""
        ...

    def write_items(self, path: Path, item_field: str, catalog: Path | None) -> ItemsDataset:
        """Write the Items dataset (and its schema beside it) from the products and the catalog."""
        ...

    def close(self) -> None:
        """Release the engine (connection, Spark session)."""
        ...


@dataclass
class TransformResult:
    """What a transform did: the accounting, where the CSV went, and Personalize's verdict on it."""

    summary: TransformSummary
    written_to: str
    validation: ValidationReport

    @property
    def valid(self) -> bool:
        return self.validation.valid

    def as_dict(self) -> dict:
        """What `toolkit transform --json` prints."""
        return {
            "written_to": self.written_to,
            "valid": self.valid,
            **self.summary.as_dict(),
            "validation": self.validation.as_dict(),
        }


@dataclass
class OutputTarget:
    """Where the CSV goes: a local file (written via a temporary name, then renamed) or an S3 key."""

    location: str
    aws: AwsOptions

    @property
    def display(self) -> str:
        if is_s3(self.location):
            url = S3Url.parse(self.location)
            return str(
                S3Url(url.bucket, url.key + CSV_NAME if url.key.endswith("/") or not url.key else url.key)
            )
        path = Path(self.location)
        return str(path / CSV_NAME if path.is_dir() or self.location.endswith("/") else path)

    def check(self) -> None:
        """Fail before any work if the output cannot be written."""
        if is_s3(self.location):
            _check_bucket(S3Url.parse(self.location), self.aws)
            return
        check_output_file(Path(self.display), "out")
        folder = Path(self.display).parent
        if not folder.is_dir():
            raise UsageError(f"`out` folder does not exist: {folder}", parameters=("out",))
        if not os.access(folder, os.W_OK):
            raise UsageError(f"cannot write to `out` folder {folder}", parameters=("out",))

    def partial_path(self, work_dir: Path) -> Path:
        return work_dir / CSV_NAME if is_s3(self.location) else partial_path(Path(self.display))

    def publish(
        self,
        partial: Path,
        diagnostics: bool = False,
        others: Sequence[tuple[Path, Path]] = (),
        steps: Steps = SILENT,
    ) -> ValidationReport:
        """Validate the finished CSV, then put it where it was asked for, together with the run's
        other outputs (partial, final renames); returns the validation."""
        steps.begin(f"validating {Path(self.display).name}")
        report = validate_csv(partial, diagnostics=diagnostics)
        report.path = self.display
        if is_s3(self.location):
            steps.begin(f"uploading {partial.stat().st_size / 1e6:,.1f} MB to {self.display}")
            upload(partial, S3Url.parse(self.display), self.aws, steps.advance)
            publish_together(others)
        else:
            publish_together([*others, (partial, Path(self.display))])
        return report


def _check_bucket(url: S3Url, aws: AwsOptions) -> None:
    """The bucket of an s3:// output exists and answers, before any work."""
    import botocore.exceptions

    try:
        aws.client("s3").head_bucket(Bucket=url.bucket)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise aws_error(exc, f"cannot write --out s3://{url.bucket}/") from None


ENGINES = ("duckdb", "spark")


def transform(
    source: str,
    *,
    out: str = CSV_NAME,
    options: TransformOptions | None = None,
    aws: AwsOptions | None = None,
    rejects: str | None = None,
    users: str | None = None,
    user_fields: list[str] | None = None,
    items: str | None = None,
    catalog: str | None = None,
    engine: str = "duckdb",
    master: str = "local[2]",
    diagnostics: bool = False,
    layout: str | None = None,
    steps: Steps = SILENT,
    verbose: bool = False,
) -> TransformResult:
    """Segment logs at `source` (a folder or s3://bucket/prefix) to the interactions CSV at `out`
    (a file, a folder, or s3://bucket/prefix/), on an engine: duckdb on this machine, or spark on
    `master`. With `rejects`, the lines that are not messages are written there (JSON lines); with
    `users` and `items`, Personalize's Users and Items datasets too (local CSVs, schemas beside
    them). `layout` says what `source` holds (segment: Segment's S3 layout, or firehose; default:
    as its keys show); Spark's JVM logs only with `verbose`. Every output is checked before any work and
    published whole after it; the CSV is validated (with the diagnostics too, if asked); what it is doing
    is told to `steps` as it goes."""
    options = options or TransformOptions()
    aws = aws or AwsOptions()
    target = OutputTarget(out, aws)
    target.check()
    if engine not in ENGINES:
        raise UsageError(
            f"`engine` must be one of {', '.join(ENGINES)}, not {engine!r}", parameters=("engine",)
        )
    if any(path and is_s3(path) for path in (users, items)):
        raise UsageError(
            "`users` and `items` write local CSVs; upload them with their .avsc where Personalize reads them",
            parameters=("users", "items"),
        )
    if catalog and not items:
        raise UsageError("`catalog` goes with `items`", parameters=("catalog", "items"))
    if rejects and engine != "duckdb":
        raise UsageError(
            "`rejects` needs `engine` duckdb: Spark counts unreadable lines but cannot say where they are",
            parameters=("rejects", "engine"),
        )
    if catalog:
        refuse_special_input(Path(catalog), "catalog")
        if not Path(catalog).is_file():
            raise UsageError(f"`catalog`: no such file: {catalog}", parameters=("catalog",))
    outputs = _outputs(out, target, rejects, users, items)
    began = time.perf_counter()
    # DuckDB reads S3 objects as it needs them (disk and memory bounded); Spark is given local copies
    with (
        _inputs(source, aws, engine, layout) as logs,
        tempfile.TemporaryDirectory(prefix="toolkit-transform-") as work,
    ):
        check_outputs(outputs, [*logs.paths, *([Path(catalog)] if catalog else [])])
        work_dir = Path(work)
        summary = TransformSummary(
            files=len(logs.paths), empty_files=len(logs.empty), refused_objects=list(logs.refused)
        )
        runner: TransformEngine = (
            WarehouseTransform(source, work_dir, on_progress=steps.advance)
            if is_warehouse(source)
            else _engine(engine, work_dir, steps, master, logs.filesystem, verbose)
        )
        partial = target.partial_path(work_dir)
        finished: list[tuple[Path, Path]] = []  # published together once the CSV passed validation
        try:
            steps.begin(f"transforming {len(logs.paths):,} log files")
            names = runner.classify(logs, options, summary)
            reasons = runner.reasons()
            summary.other_events = runner.events_filtered()
            _account(summary, reasons, runner.unparsed_by_file(), names, runner)
            summary.rejects = logs.located(summary.rejects)
            steps.begin(f"writing {Path(target.display).name} from {summary.messages_read:,} messages")
            summary.messages_written, summary.events = runner.write_csv(partial)
            summary.duplicates = reasons["kept"] - summary.messages_written
            summary.interactions = sum(summary.events.values())
            if rejects:
                finished.append(_write_rejects(Path(rejects), summary.rejects))
            if users:
                steps.begin(f"writing {Path(users).name}")
                summary.users_dataset = write_dataset(
                    Path(users), lambda part: runner.write_users(part, user_fields), finished
                )
            if items:
                steps.begin(f"writing {Path(items).name}")
                summary.items_dataset = write_dataset(
                    Path(items),
                    lambda part: runner.write_items(
                        part, options.item_field, Path(catalog) if catalog else None
                    ),
                    finished,
                )
            report = target.publish(partial, diagnostics, finished, steps)
        finally:
            runner.close()
            for leftover in [partial, *(written for written, _ in finished)]:
                leftover.unlink(missing_ok=True)
    summary.seconds = time.perf_counter() - began
    return TransformResult(summary, target.display, report)


def is_warehouse(source: str) -> bool:
    """A Segment warehouse (postgresql://, or a .duckdb file) rather than its S3 layout."""
    return is_postgres_url(source) or is_duckdb_file(source)


def _inputs(source: str, aws: AwsOptions, engine: str, layout: str | None) -> LogFiles:
    """The log files to read; a warehouse has none (a DuckDB one is its file, never overwritten)."""
    if not is_warehouse(source):
        return find_log_files(source, aws, stream=engine == "duckdb", layout=layout)
    if engine != "duckdb":
        raise UsageError(f"a warehouse is read with `engine` duckdb, not {engine}", parameters=("engine",))
    return LogFiles(paths=[] if is_postgres_url(source) else [Path(source)])


def _engine(
    name: str, work_dir: Path, steps: Steps, master: str, filesystem=None, verbose: bool = False
) -> TransformEngine:
    """The engine: DuckDB, or Spark (its module imports PySpark only when asked for)."""
    if name == "spark":
        from toolkit.transforming.spark_engine import SparkTransform

        return SparkTransform(work_dir, master, verbose=verbose)
    return DuckDBTransform(work_dir, on_progress=steps.advance, filesystem=filesystem)


def _account(
    summary: TransformSummary,
    reasons: Counter,
    unparsed: dict[str, int],
    names: dict[str, str],
    runner: TransformEngine,
) -> None:
    """Fill in filtered counts and rejects; lines DuckDB could not parse are re-read in Python to
    name the bad ones (valid JSON objects without any Segment field count as filtered by type).
    An engine that cannot locate them (Spark) has them counted as rejected, unlocated."""
    if not runner.locates_rejects:
        summary.messages_read = sum(reasons.values()) + len(summary.rejects)
        summary.filtered = Counter(
            {reason: count for reason, count in reasons.items() if reason not in ("kept", "unparsed")}
        )
        summary.unlocated_rejects = reasons.get("unparsed", 0)
        return
    found: list[Reject] = []
    for file in sorted(unparsed):
        content, _ = read_log_bytes(runner.local_file(file))
        found.extend(find_rejects(content, names.get(file, file)))
    summary.rejects.extend(found)
    summary.messages_read = sum(reasons.values()) + len(summary.rejects) - len(found)
    summary.filtered = Counter(
        {reason: count for reason, count in reasons.items() if reason not in ("kept", "unparsed")}
    )
    empty_objects = reasons.get("unparsed", 0) - len(found)
    if empty_objects:
        summary.filtered["type"] += empty_objects


def _outputs(
    out: str, target: OutputTarget, rejects: str | None, users: str | None, items: str | None
) -> dict[str, Path]:
    """Every local file the run writes, by the parameter that names it (a dataset's schema too)."""
    outputs = {} if is_s3(out) else {"out": Path(target.display)}
    if rejects:
        outputs["rejects"] = Path(rejects)
    for parameter, path in (("users", users), ("items", items)):
        if path:
            outputs[parameter] = Path(path)
            outputs[f"{parameter} (its schema)"] = Path(path).with_suffix(".avsc")
    return outputs


def _write_rejects(path: Path, rejects: list[Reject]) -> tuple[Path, Path]:
    """The rejects written under a temporary name: (that name, the name to publish them as)."""
    partial = partial_path(path)
    try:
        partial.write_bytes(b"".join(reject.as_json() + b"\n" for reject in rejects))
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UsageError(
            f"cannot write `rejects` {path}: {exc.strerror or exc}", parameters=("rejects",)
        ) from None
    return partial, path


def write_dataset(path: Path, write: Callable[[Path], Dataset], finished: list[tuple[Path, Path]]) -> Dataset:
    """A dataset written by write(partial path) with its schema (.avsc beside it), both under
    temporary names added to `finished` (to be published with the run's other outputs)."""
    partial = partial_path(path)
    finished += [(partial.with_suffix(".avsc"), path.with_suffix(".avsc")), (partial, path)]
    return write(partial)
