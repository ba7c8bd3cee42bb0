"""Segment's S3 destination layout: segment-logs/<source-id>/<received-day epoch-ms>/<file>.gz."""

from __future__ import annotations

import os
import random
import re
from collections.abc import Sequence
from pathlib import Path

from toolkit.errors import UsageError
from toolkit.segment.ids import hex_id, uuid4_text
from toolkit.segment.timestamps import DAY_MS

ROOT = "segment-logs"
CATALOG_NAME = "catalog.jsonl"  # a scenario's catalog export, beside ROOT/
# A log object anywhere under a prefix: .../segment-logs/<source id>/<13-digit day>/<name>.gz
KEY_PATTERN = re.compile(r"(?:^|/)segment-logs/([A-Za-z0-9]{10,32})/(\d{13})/[^/]+\.gz$")


def received_day_ms(received_ms: int) -> int:
    """The day folder a message lands in: UTC midnight of its receivedAt, in epoch ms."""
    return received_ms - received_ms % DAY_MS


def log_file_name(rng: random.Random, uploaded_ms: int) -> str:
    """A file name shaped like Segment's: <epoch-ms>.<12 hex>.<7 hex>.<uuid4>.gz."""
    return f"{uploaded_ms}.{hex_id(rng, 12)}.{hex_id(rng, 7)}.{uuid4_text(rng)}.gz"


def object_key(source_id: str, day_ms: int, file_name: str) -> str:
    """The key of a log file relative to the destination's prefix."""
    return f"{ROOT}/{source_id}/{day_ms}/{file_name}"


def partial_path(path: Path) -> Path:
    """Where a file is written before it is renamed to `path`: hidden, beside it, per process."""
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so the file appears whole under its name or not at all."""
    partial = partial_path(path)
    try:
        try:
            partial.write_bytes(data)
        except FileNotFoundError:  # the folder's first file
            path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(data)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def check_output_file(path: Path, option: str, inputs: Sequence[Path | str] = ()) -> None:
    """Refuse, before any work, an output that is an input or that is not a regular file (a
    folder, a device such as /dev/full, a pipe): writing it would destroy data or a device node."""
    if path.exists() and not path.is_file():
        raise UsageError(f"{option} {path} is not a regular file; name a file to write")
    if not path.parent.is_dir():
        raise UsageError(f"{option} folder does not exist: {path.parent}")
    if path.exists() and any(_same_file(path, source) for source in inputs):
        raise UsageError(f"{option} {path} is one of the inputs; writing it would destroy them")


def _same_file(a: Path, b: Path | str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
