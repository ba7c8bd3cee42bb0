"""Segment's S3 layout replayed as the stream of messages Segment hands its other destinations:
hour by hour of arrival, each source's messages in receivedAt order.

The generator writes the S3 layout first (in parallel, gzipped, one file per shard, source and
hour); a stream destination then gets the same messages from those files. Each file is already in
receivedAt order, so the files of one source and hour are merged line by line: a few files open
at a time, memory bounded whatever the run's size."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import orjson
from isal import igzip

from toolkit.segment.layout import KEY_PATTERN

HOUR_MS = 3_600_000


def _upload_hour(path: Path) -> int:
    """The hour a log file was uploaded in (its name starts with the epoch ms), else its day's."""
    head = path.name.split(".", 1)[0]
    return int(head) // HOUR_MS if head.isdigit() else int(path.parent.name) // HOUR_MS


def _lines(path: Path) -> Iterator[bytes]:
    with igzip.open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                yield line if line.endswith(b"\n") else line + b"\n"


def _received(line: bytes) -> str:
    return str(orjson.loads(line).get("receivedAt") or "")


def delivery_order(root: Path, chunk: int = 5_000) -> Iterator[tuple[str, list[bytes]]]:
    """(source id, up to `chunk` stored lines) for every message of the S3 layout under `root`."""
    groups: dict[tuple[int, str], list[Path]] = defaultdict(list)
    for path in sorted(root.rglob("*.gz")):
        match = KEY_PATTERN.search(path.relative_to(root).as_posix())
        if match:
            groups[_upload_hour(path), match.group(1)].append(path)
    for (_, source_id), paths in sorted(groups.items()):
        batch: list[bytes] = []
        for line in heapq.merge(*(_lines(path) for path in paths), key=_received):
            batch.append(line)
            if len(batch) == chunk:
                yield source_id, batch
                batch = []
        if batch:
            yield source_id, batch
