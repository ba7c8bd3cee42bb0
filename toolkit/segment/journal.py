"""The collector's journal: every accepted message is appended here before its 200 is sent, so a
killed collector loses nothing it acknowledged.

A journal belongs to one destination and one collector at a time: it is a folder of its own
(named from the destination, `journal_folder`), held with an exclusive lock while a collector
runs (a second collector on it is refused, told the first's pid). It holds segments,
`<12-digit number>.jsonl`, one stored line per message, and the lock file; nothing else in the
folder is read, published or removed. The collector appends to the newest segment; at each
publish it starts a new one, hands the closed segments' messages to the destination, and removes
a segment once the destination has them. A collector that starts finds the segments a killed one
left and publishes them first; a damaged record in one (or the NUL bytes a power loss leaves) is
skipped, counted and logged without its content, and the rest published. A segment's log files
have names derived from the segment, so publishing it twice writes the same files again, never
twice.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from toolkit.errors import UsageError
from toolkit.segment.layout import log_file_name, received_day_ms
from toolkit.segment.timestamps import parse_iso

log = logging.getLogger("toolkit.collector")
SUFFIX = ".jsonl"
SEGMENT_NAME = re.compile(r"^\d{12}\.jsonl$")  # the collector's own segments; nothing else is touched
LOCK_NAME = ".collector.lock"


def journal_folder(root: Path, destination_name: str) -> Path:
    """The journal of one destination under a journal root: readable, and distinct per destination
    (two buckets, or two folders with the same last name, never share one)."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", destination_name).strip("-.")[-60:] or "destination"
    digest = hashlib.sha256(destination_name.encode()).hexdigest()[:10]
    return root / f"{readable}-{digest}"


class JournalLock:
    """An exclusive lock on a journal folder for the life of a collector (and of the server
    processes it forks, which inherit it). Released when the process holding it ends, however."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / LOCK_NAME
        self.handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(self.handle, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(self.handle)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise UsageError(
                    f"journal {folder} is in use by another collector (pid {holder}); "
                    "stop it, or give this one another journal"
                ) from None
            raise
        os.ftruncate(self.handle, 0)
        os.pwrite(self.handle, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self.handle >= 0:
            os.close(self.handle)
            self.handle = -1


class Journal:
    """A destination's journal, locked for this collector (or by the caller, who then keeps the
    lock past `close`: a parent process holds its destinations' journals while its servers run)."""

    def __init__(self, folder: Path, fsync: bool = False, lock: JournalLock | None = None):
        self.folder = folder
        self.fsync = fsync
        self.owns_lock = lock is None
        self.lock = lock or JournalLock(folder)
        numbers = [int(p.stem) for p in _segments(folder)]
        self.number = max(numbers, default=0) + 1
        self.handle = self._open(self.number)

    def _path(self, number: int) -> Path:
        return self.folder / f"{number:012d}{SUFFIX}"

    def _open(self, number: int) -> int:
        return os.open(self._path(number), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def size(self) -> int:
        """The open segment's size: where `undo` cuts it back to."""
        return os.fstat(self.handle).st_size

    def undo(self, size: int) -> None:
        """Cut the open segment back to `size` (lines appended since were not acknowledged)."""
        os.ftruncate(self.handle, size)

    def append(self, lines: bytes) -> None:
        """Write the lines to the open segment and hand them to the OS (and the disk, with fsync)
        before returning; an OSError (disk full) leaves the segment as it was before."""
        size = self.size()
        try:
            written = 0
            while written < len(lines):
                written += os.write(self.handle, lines[written:])
            if self.fsync:
                os.fsync(self.handle)
        except OSError:
            self.undo(size)  # no half-written line for recovery to trip on
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
        return sorted(p for p in _segments(self.folder) if p != current)

    def close(self) -> None:
        os.close(self.handle)
        current = self._path(self.number)
        if current.exists() and current.stat().st_size == 0:
            current.unlink()
        if self.owns_lock:
            self.lock.release()

    def held_messages(self) -> int:
        """How many acknowledged messages the journal's segments hold (complete lines)."""
        held = 0
        for segment in _segments(self.folder):
            with open(segment, "rb") as handle:
                held += sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
        return held


def _segments(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if SEGMENT_NAME.match(p.name) and p.is_file()]


@dataclass
class SegmentRecords:
    """A segment's messages by source and received day (in journal order), and what recovery had
    to skip."""

    groups: dict[tuple[str, int], list[bytes]] = field(default_factory=lambda: defaultdict(list))
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def messages(self) -> int:
        return sum(map(len, self.groups.values()))

    def by_source(self) -> dict[str, list[bytes]]:
        """Each source's messages, day by day."""
        lines: dict[str, list[bytes]] = defaultdict(list)
        for (source_id, _), group in sorted(self.groups.items()):
            lines[source_id].extend(group)
        return lines


def read_segment(segment: Path) -> SegmentRecords:
    """Every intact record of a segment. A damaged record (not a stored message) and NUL bytes
    (what a power loss leaves where the file grew but its data was not written) are skipped,
    counted and logged by position, never by content; an incomplete last line was cut by a crash
    mid-write, before its 200, and is left out too."""
    records = SegmentRecords()
    with open(segment, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            text = raw[:-1] if raw.endswith(b"\n") else raw
            body = text.strip(b"\x00")
            if len(body) != len(text):
                records.skipped["NUL bytes"] += len(text) - len(body)
            if not body:
                continue
            if not raw.endswith(b"\n"):
                records.skipped["incomplete last line"] += 1
                log.warning(
                    "%s line %d: an incomplete last line (never acknowledged) left out", segment, number
                )
                continue
            try:
                fields = orjson.loads(body)
                key = (fields["projectId"], received_day_ms(_received_ms(fields["receivedAt"])))
                if not isinstance(key[0], str):
                    raise TypeError
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                records.skipped["damaged record"] += 1
                log.warning("%s line %d: a damaged record (%d bytes) skipped", segment, number, len(raw))
                continue
            records.groups[key].append(raw if len(body) == len(text) else body + b"\n")
    if records.skipped["NUL bytes"]:
        log.warning("%s: %d NUL bytes skipped", segment, records.skipped["NUL bytes"])
    return records


def segment_files(segment: Path, records: SegmentRecords) -> Iterator[tuple[str, int, str, bytes]]:
    """A segment's messages as log files: (source id, received day ms, file name, gzip-ready
    content), one file per source and received day, with names that depend only on the segment."""
    written_ms = segment.stat().st_mtime_ns // 1_000_000
    names = random.Random(
        f"{segment.resolve()}-{written_ms}"
    )  # distinct per journal folder: processes do not collide
    for (source_id, day), lines in sorted(records.groups.items()):
        yield source_id, day, log_file_name(names, written_ms), b"".join(lines)


def _received_ms(text: str) -> int:
    return int(parse_iso(text).timestamp() * 1000)
