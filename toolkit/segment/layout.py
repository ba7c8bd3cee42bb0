"""Segment's S3 destination layout: segment-logs/<source-id>/<received-day epoch-ms>/<file>.gz."""

from __future__ import annotations

import random
import re

import orjson

from toolkit.errors import UsageError
from toolkit.segment.ids import hex_id, uuid4_text
from toolkit.segment.timestamps import DAY_MS, parse_iso

ROOT = "segment-logs"
CATALOG_NAME = "catalog.jsonl"  # a scenario's catalog export, beside ROOT/
# A log object anywhere under a prefix: .../segment-logs/<source id>/<13-digit day>/<name>.gz
KEY_PATTERN = re.compile(r"(?:^|/)segment-logs/([A-Za-z0-9]{10,32})/(\d{13})/[^/]+\.gz$")


def received_day_ms(received_ms: int) -> int:
    """The day folder a message lands in: UTC midnight of its receivedAt, in epoch ms."""
    return received_ms - received_ms % DAY_MS


def line_received_day_ms(line: bytes) -> int:
    """The day folder of a stored message (one JSON line with its receivedAt)."""
    return received_day_ms(int(parse_iso(orjson.loads(line)["receivedAt"]).timestamp() * 1000))


def log_file_name(rng: random.Random, uploaded_ms: int) -> str:
    """A file name shaped like Segment's: <epoch-ms>.<12 hex>.<7 hex>.<uuid4>.gz."""
    return f"{uploaded_ms}.{hex_id(rng, 12)}.{hex_id(rng, 7)}.{uuid4_text(rng)}.gz"


HOURLY, CONTINUOUS = "hourly", "continuous"
CADENCES = (HOURLY, CONTINUOUS)
# continuous: today's S3 destination, whose archiver workers each write what they received in a few
# minutes as a small file (a real 2023 bucket: 1-16 lines a file, written 7-262 s after its window)
ARCHIVERS = 16  # workers writing one source's files at once
WINDOW_MS = 300_000  # each writes its file every this often
ARCHIVER_QUEUE_MS = 5_000  # a line reaches its worker up to this long after receivedAt


def check_cadence(cadence: str) -> None:
    """Refuse a cadence that is none of CADENCES, naming the parameter."""
    if cadence not in CADENCES:
        raise UsageError(
            f"`cadence` must be one of {', '.join(CADENCES)}, not {cadence!r}", parameters=("cadence",)
        )


def file_slot(cadence: str, received_ms, worker):
    """The file (within its source and day) a message received at `received_ms` goes in: its hour
    (hourly), or its archiver `worker`'s window (continuous). Works on numpy arrays."""
    in_day = received_ms % DAY_MS
    return in_day // 3_600_000 if cadence == HOURLY else (in_day // WINDOW_MS) * ARCHIVERS + worker


def upload(cadence: str, rng: random.Random, day_ms: int, slot: int) -> tuple[int, str]:
    """When a file of `slot` (file_slot) is written, and its name: hourly, 1-15 minutes after its
    hour, named <ms>.<12 hex>.<7 hex>.<uuid>.gz; continuous, 7-262 s after its window, named
    <ms>.events-archiver-480-<worker>..<uuid>.gz as today's archivers name them."""
    if cadence == HOURLY:
        uploaded = day_ms + (slot + 1) * 3_600_000 + rng.randint(60_000, 900_000)
        return uploaded, log_file_name(rng, uploaded)
    window, worker = divmod(slot, ARCHIVERS)
    uploaded = day_ms + (window + 1) * WINDOW_MS + rng.randint(7_000, 262_000)
    return uploaded, f"{uploaded}.events-archiver-480-{worker}..{uuid4_text(rng)}.gz"


def object_key(source_id: str, day_ms: int, file_name: str) -> str:
    """The key of a log file relative to the destination's prefix."""
    return f"{ROOT}/{source_id}/{day_ms}/{file_name}"
