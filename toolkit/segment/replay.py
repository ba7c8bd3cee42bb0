"""Segment's S3 layout replayed as the stream of messages Segment hands its other destinations:
in receivedAt order, the sources' messages interleaved as they arrived.

The generator writes the S3 layout first (in parallel, gzipped, one file per shard, source and
hour); a stream destination then gets the same messages from those files. Each file is already in
receivedAt order, so the files of one upload hour are merged line by line: a few files open at a
time, memory bounded whatever the run's size."""

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


def received_text(line: bytes) -> bytes:
    """A stored line's receivedAt text (they compare as the times do: Segment writes one format).
    Looked for from the end: Segment's fields are sorted, receivedAt after properties and context."""
    start = line.rfind(b'"receivedAt":"')
    if start < 0:
        return str(orjson.loads(line).get("receivedAt") or "").encode()
    start += len('"receivedAt":"')
    return line[start : line.index(b'"', start)]


WINDOW = 18  # receivedAt's first characters, YYYY-MM-DDTHH:MM:S: the sources interleave 10 s at a time


def _lines(path: Path, source_id: str) -> Iterator[tuple[bytes, str, bytes, bytes]]:
    """A log file's lines keyed (ten seconds, source, receivedAt): its order, as the file is
    written in receivedAt order."""
    with igzip.open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                received = received_text(line)
                yield received[:WINDOW], source_id, received, line if line.endswith(b"\n") else line + b"\n"


def delivery_order(root: Path, chunk: int = 5_000) -> Iterator[tuple[str, list[bytes]]]:
    """(source id, up to `chunk` stored lines) for every message of the S3 layout under `root`:
    each source's messages in receivedAt order, the sources interleaved ten seconds of arrivals
    at a time. The files of an upload hour are merged line by line: a few open at a time,
    memory bounded whatever the run's size."""
    hours: dict[int, list[tuple[Path, str]]] = defaultdict(list)
    for path in sorted(root.rglob("*.gz")):
        match = KEY_PATTERN.search(path.relative_to(root).as_posix())
        if match:
            hours[_upload_hour(path)].append((path, match.group(1)))
    for _, files in sorted(hours.items()):
        batch: list[bytes] = []
        run: tuple[bytes, str] = (b"", "")
        for window, source_id, _, line in heapq.merge(
            *(_lines(path, source_id) for path, source_id in files)
        ):
            if batch and ((window, source_id) != run or len(batch) == chunk):
                yield run[1], batch
                batch = []
            run = window, source_id
            batch.append(line)
        if batch:
            yield run[1], batch
