"""Finding Segment log files (JSON lines) in a local folder or under an S3 prefix, in Segment's S3
layout or the one a Firehose delivery stream writes, or landed from a Kinesis stream."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.aws.s3 import AwsOptions, S3Url, download, is_s3, list_keys, local_path
from toolkit.errors import UsageError
from toolkit.segment.firehose import is_firehose_key
from toolkit.segment.kinesis import SCHEME as KINESIS
from toolkit.segment.layout import KEY_PATTERN
from toolkit.segment.lines import Reject

LAYOUTS = ("segment", "firehose")

if TYPE_CHECKING:
    from toolkit.aws.s3_files import S3Files


@dataclass
class LogFiles:
    """The .gz files to read (local paths), the empty ones skipped, and how to name them to a user."""

    paths: Sequence[Path | str]  # local paths, or, streamed from S3, s3:// URLs read through `filesystem`
    empty: list[str] = field(default_factory=list)
    display: dict[Path | str, str] = field(
        default_factory=dict
    )  # local path -> name shown to the user (an s3:// URL)
    _temporary: tempfile.TemporaryDirectory | None = None
    refused: list[str] = field(
        default_factory=list
    )  # S3 objects whose key would be saved outside the download folder
    filesystem: S3Files | None = None  # when the files are read from S3 as needed
    landed: dict[str, Path] = field(default_factory=dict)  # name shown -> file landed from Kinesis

    def name(self, path: Path | str) -> str:
        return self.display.get(path, str(path))

    def located(self, rejects: list[Reject]) -> list[Reject]:
        """The rejects, those of records landed from Kinesis named by shard and sequence number."""
        if not self.landed:
            return rejects
        from toolkit.segment.kinesis_reader import sequence_at

        return [
            replace(reject, sequence=sequence_at(self.landed[reject.file], reject.line))
            if reject.file in self.landed
            else reject
            for reject in rejects
        ]

    def close(self) -> None:
        if self._temporary is not None:
            self._temporary.cleanup()

    def __enter__(self) -> LogFiles:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def find_log_files(
    source: str, aws: AwsOptions | None = None, stream: bool = False, layout: str | None = None
) -> LogFiles:
    """Every log file under `source` (a folder, a single file, or s3://bucket/prefix), sorted, or
    every record of a Kinesis stream (kinesis://STREAM, landed in a temporary folder).

    Under a folder or a prefix, `layout` says which files: "segment" (Segment's S3 layout: every
    *.gz), "firehose" (the objects a Firehose stream writes: `YYYY/MM/dd/HH/<stream>-<version>-
    <time>-<uuid>[.gz]`), or, None, whichever the keys show (Segment's when both do). S3 objects
    are read as they are needed when `stream` (through a filesystem registered with DuckDB), else
    downloaded to a temporary folder first (DuckDB's S3 support needs an extension download at
    first use, which offline machines cannot do); close() removes it."""
    if layout is not None and layout not in LAYOUTS:
        raise UsageError(f"`layout` must be segment or firehose, not {layout!r}", parameters=("layout",))
    if source.lower().startswith(KINESIS):
        return _from_kinesis(source, aws or AwsOptions())
    if is_s3(source) and stream:
        return _streamed(S3Url.parse(source), aws or AwsOptions(), layout)
    if is_s3(source):
        return _from_s3(S3Url.parse(source), aws or AwsOptions(), layout)
    root = Path(source)
    if not root.exists():
        raise UsageError(f"no such file or folder: {source}")
    if root.is_file():
        _check_looks_like_logs(root)
        candidates = [root]
    else:
        found = {
            p.relative_to(root).as_posix(): p
            for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        }
        candidates = [found[key] for key in chosen_keys(sorted(found), layout)]
    files = LogFiles(
        [p for p in candidates if p.stat().st_size > 0], [str(p) for p in candidates if p.stat().st_size == 0]
    )
    if not files.paths:
        raise UsageError(
            f"no Segment log files (*.gz, non-empty) under {source}; point at the folder holding "
            "segment-logs/"
        )
    return files


def _check_looks_like_logs(path: Path) -> None:
    """A file given as the logs must be gzip or start with a JSON object, as Segment's files do:
    a CSV or a schema given by mistake is named, not read as thousands of rejected lines."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head[:2] == b"\x1f\x8b" or not head.strip() or head.lstrip()[:1] == b"{":
        return
    start = head.lstrip()[:40].decode("utf-8", "replace").splitlines()[0]
    raise UsageError(
        f"{path} is not Segment logs (gzipped JSON lines): it starts with {start!r}; give the folder "
        "holding segment-logs/ or a .gz log file"
    )


def chosen_keys(keys: list[str], layout: str | None) -> list[str]:
    """The keys of log files: Segment's layout (every .gz) or a Firehose stream's, as asked or as
    the keys show."""
    firehose = [key for key in keys if is_firehose_key(key)]
    if layout == "firehose" or (layout is None and firehose and not any(KEY_PATTERN.search(k) for k in keys)):
        return firehose
    return [key for key in keys if key.endswith(".gz")]


def _from_kinesis(source: str, aws: AwsOptions) -> LogFiles:
    from toolkit.segment.kinesis_reader import land_stream

    temporary = tempfile.TemporaryDirectory(prefix="toolkit-kinesis-")
    try:
        landed = land_stream(source, aws, Path(temporary.name))
    except BaseException:
        temporary.cleanup()
        raise
    if not landed.records:
        temporary.cleanup()
        raise UsageError(f"Kinesis stream {landed.stream} holds no records")
    display: dict[Path | str, str] = {path: landed.display(path) for path in landed.files}
    return LogFiles(
        list(landed.files),
        display=display,
        _temporary=temporary,
        landed={name: Path(path) for path, name in display.items()},
    )


def _objects(url: S3Url, aws: AwsOptions, layout: str | None) -> list[tuple[str, int]]:
    objects = list_keys(url, aws)
    sizes = dict(objects)
    return [(key, sizes[key]) for key in chosen_keys([key for key, _ in objects], layout)]


def _streamed(url: S3Url, aws: AwsOptions, layout: str | None) -> LogFiles:
    from toolkit.aws.s3_files import S3Files

    objects = _objects(url, aws, layout)
    found = {f"s3://{url.bucket}/{key}": size for key, size in objects if size > 0}
    if not found:
        raise UsageError(f"no Segment log files (*.gz, non-empty) under {url}")
    return LogFiles(
        sorted(found),
        [f"s3://{url.bucket}/{key}" for key, size in objects if size == 0],
        filesystem=S3Files(aws, found),
    )


def _from_s3(url: S3Url, aws: AwsOptions, layout: str | None) -> LogFiles:
    objects = _objects(url, aws, layout)
    keys = [key for key, size in objects if size > 0]
    if not keys:
        raise UsageError(f"no Segment log files (*.gz, non-empty) under {url}")
    temporary = tempfile.TemporaryDirectory(prefix="toolkit-s3-")
    targets = {key: local_path(Path(temporary.name), key) for key in keys}
    safe = {key: path for key, path in targets.items() if path is not None}
    refused = [f"s3://{url.bucket}/{key}" for key, path in targets.items() if path is None]
    try:
        if not safe:
            raise UsageError(
                f"no Segment log file under {url} has a key that can be saved safely (absolute or '..' "
                "keys are refused)"
            )
        download(url, safe, aws)
    except BaseException:
        temporary.cleanup()
        raise
    display: dict[Path | str, str] = {path: f"s3://{url.bucket}/{key}" for key, path in safe.items()}
    return LogFiles(
        list(safe.values()),
        [f"s3://{url.bucket}/{key}" for key, size in objects if size == 0],
        display,
        temporary,
        refused,
    )


def file_named_in(message: str, files: Sequence[Path | str]) -> Path | str | None:
    """The file a reader's error message names (the longest match, as paths can nest), if any."""
    named = [path for path in files if str(path) in message]
    return max(named, key=lambda p: len(str(p))) if named else None
