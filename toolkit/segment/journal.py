"""The collector's journal: every accepted message is appended here before its 200 is sent, so a
killed collector loses nothing it acknowledged.

A journal is a folder of segments, `<number>.jsonl`, one stored line per message. The collector
appends to the newest segment; at each publish it starts a new one, writes the closed segments'
messages as log files, and removes a segment once its files are written. A collector that starts
finds the segments a killed one left and publishes them first. A segment's files have names
derived from the segment, so publishing it twice writes the same files again, never twice.
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import orjson

from toolkit.segment.layout import log_file_name, received_day_ms
from toolkit.segment.timestamps import parse_iso

SUFFIX = ".jsonl"


class Journal:
    def __init__(self, folder: Path, fsync: bool = False):
        self.folder = folder
        self.fsync = fsync
        folder.mkdir(parents=True, exist_ok=True)
        numbers = [int(p.stem) for p in folder.glob(f"*{SUFFIX}") if p.stem.isdigit()]
        self.number = max(numbers, default=0) + 1
        self.handle = self._open(self.number)

    def _path(self, number: int) -> Path:
        return self.folder / f"{number:012d}{SUFFIX}"

    def _open(self, number: int):
        return os.open(self._path(number), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def append(self, lines: bytes) -> None:
        """Write the lines to the open segment and hand them to the OS (and the disk, with fsync)
        before returning; an OSError (disk full) leaves the segment as it was before."""
        size = os.fstat(self.handle).st_size
        try:
            written = 0
            while written < len(lines):
                written += os.write(self.handle, lines[written:])
            if self.fsync:
                os.fsync(self.handle)
        except OSError:
            os.ftruncate(self.handle, size)  # no half-written line for recovery to trip on
            raise

    def rotate(self) -> list[Path]:
        """Start a new segment; returns every closed segment, oldest first (their messages are
        to be published, then the segments removed)."""
        os.close(self.handle)
        self.number += 1
        self.handle = self._open(self.number)
        return self.closed()

    def closed(self) -> list[Path]:
        current = self._path(self.number)
        return sorted(p for p in self.folder.glob(f"*{SUFFIX}") if p != current)

    def close(self) -> None:
        os.close(self.handle)
        current = self._path(self.number)
        if current.exists() and current.stat().st_size == 0:
            current.unlink()

    def held_messages(self) -> int:
        """How many acknowledged messages the journal's segments hold (complete lines)."""
        held = 0
        for segment in sorted(self.folder.glob(f"*{SUFFIX}")):
            with open(segment, "rb") as handle:
                held += sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
        return held


def segment_files(segment: Path) -> Iterator[tuple[str, int, str, bytes]]:
    """A segment's messages as log files: (source id, received day ms, file name, gzip-ready
    content), one file per source and received day, with names that depend only on the segment."""
    groups: dict[tuple[str, int], list[bytes]] = defaultdict(list)
    with open(segment, "rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                break  # a line cut by a crash mid-write was never acknowledged
            fields = orjson.loads(line)
            groups[fields["projectId"], received_day_ms(_received_ms(fields["receivedAt"]))].append(line)
    written_ms = segment.stat().st_mtime_ns // 1_000_000
    names = random.Random(
        f"{segment.resolve()}-{written_ms}"
    )  # distinct per journal folder: processes do not collide
    for (source_id, day), lines in sorted(groups.items()):
        yield source_id, day, log_file_name(names, written_ms), b"".join(lines)


def _received_ms(text: str) -> int:
    return int(parse_iso(text).timestamp() * 1000)
