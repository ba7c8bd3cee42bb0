"""Segment's S3 destination layout: segment-logs/<source-id>/<received-day epoch-ms>/<file>.gz."""

from __future__ import annotations

import random
import re

import orjson

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


def object_key(source_id: str, day_ms: int, file_name: str) -> str:
    """The key of a log file relative to the destination's prefix."""
    return f"{ROOT}/{source_id}/{day_ms}/{file_name}"
