"""`toolkit transform`: Segment logs (local or S3) to one Personalize interactions CSV (local or S3)."""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
from toolkit.transform.duckdb_engine import DuckDBTransform
from toolkit.transform.summary import TransformOptions, TransformSummary
from toolkit.transform.warehouse_engine import WarehouseTransform

CSV_NAME = "interactions.csv"


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
        check_output_file(Path(self.display), "--out")
        folder = Path(self.display).parent
        if not folder.is_dir():
            raise UsageError(f"--out folder does not exist: {folder}")
        if not os.access(folder, os.W_OK):
            raise UsageError(f"cannot write to --out folder {folder}")

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
    out: str,
    options: TransformOptions | None = None,
    aws: AwsOptions | None = None,
    rejects_path: str | None = None,
    diagnostics: bool = False,
    steps: Steps = SILENT,
    users_path: str | None = None,
    user_fields: list[str] | None = None,
    items_path: str | None = None,
    catalog: str | None = None,
    engine: str = "duckdb",
    master: str = "local[2]",
    layout: str | None = None,
) -> tuple[TransformSummary, str, ValidationReport]:
    """Run the transform on an engine (duckdb on this machine, or spark on `master`); returns the
    accounting, where the CSV was written, and its validation (with the diagnostics too if asked).
    Every output is checked before any work and published whole after it; what it is doing is
    told to `steps` as it goes."""
    options = options or TransformOptions()
    aws = aws or AwsOptions()
    target = OutputTarget(out, aws)
    target.check()
    if rejects_path and engine != "duckdb":
        raise UsageError(
            "--rejects needs --engine duckdb: Spark counts unreadable lines but cannot say where they are"
        )
    if catalog:
        refuse_special_input(Path(catalog), "--catalog")
        if not Path(catalog).is_file():
            raise UsageError(f"--catalog: no such file: {catalog}")
    outputs = _outputs(out, target, rejects_path, users_path, items_path)
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
        runner = (
            WarehouseTransform(source, work_dir, on_progress=steps.advance)
            if is_warehouse(source)
            else _engine(engine, work_dir, steps, master, logs.filesystem)
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
            if rejects_path:
                finished.append(_write_rejects(Path(rejects_path), summary.rejects))
            if users_path:
                steps.begin(f"writing {Path(users_path).name}")
                summary.users_dataset = write_dataset(
                    Path(users_path), lambda part: runner.write_users(part, user_fields), finished
                )
            if items_path:
                steps.begin(f"writing {Path(items_path).name}")
                summary.items_dataset = write_dataset(
                    Path(items_path),
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
    return summary, target.display, report


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


def _engine(name: str, work_dir: Path, steps: Steps, master: str, filesystem=None):
    """The engine: DuckDB, or Spark (its module imports PySpark only when asked for)."""
    if name == "duckdb":
        return DuckDBTransform(work_dir, on_progress=steps.advance, filesystem=filesystem)
    if name == "spark":
        from toolkit.transform.spark_engine import SparkTransform

        return SparkTransform(work_dir, master)
    raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, not {name!r}")


def _account(
    summary: TransformSummary, reasons: Counter, unparsed: dict[str, int], names: dict[str, str], runner
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
    """Every local file the run writes, by the option that names it (a dataset's schema too)."""
    outputs = {} if is_s3(out) else {"--out": Path(target.display)}
    if rejects:
        outputs["--rejects"] = Path(rejects)
    for option, path in (("--users", users), ("--items", items)):
        if path:
            outputs[option] = Path(path)
            outputs[f"{option} (its schema)"] = Path(path).with_suffix(".avsc")
    return outputs


def _write_rejects(path: Path, rejects: list[Reject]) -> tuple[Path, Path]:
    """The rejects written under a temporary name: (that name, the name to publish them as)."""
    partial = partial_path(path)
    try:
        partial.write_bytes(b"".join(reject.as_json() + b"\n" for reject in rejects))
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UsageError(f"cannot write --rejects {path}: {exc.strerror or exc}") from None
    return partial, path


def write_dataset(path: Path, write, finished: list[tuple[Path, Path]]):
    """A dataset written by write(partial path) with its schema (.avsc beside it), both under
    temporary names added to `finished` (to be published with the run's other outputs)."""
    partial = partial_path(path)
    finished += [(partial.with_suffix(".avsc"), path.with_suffix(".avsc")), (partial, path)]
    return write(partial)
