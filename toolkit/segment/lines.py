"""Reading Segment log files line by line in Python, for the few files a fast reader could not take
whole: truncated or non-gzip files are salvaged up to the damage, and bad lines are named with
their file and line number."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from isal import igzip, isal_zlib

GZIP_MAGIC = b"\x1f\x8b"
MAX_LINE_BYTES = 1 << 20  # a longer log line is a reject (Segment's own limit is 32 KB a message)


@dataclass(frozen=True)
class Reject:
    """A line that is not a Segment message: where it is, why, and what it held."""

    file: str
    line: int
    reason: str
    text: str
    sequence: str | None = None  # a Kinesis record's sequence number (`file` names its shard)

    def as_json(self) -> bytes:
        where = {"sequence": self.sequence} if self.sequence else {}
        return orjson.dumps(
            {"file": self.file, "line": self.line, **where, "reason": self.reason, "text": self.text}
        )


def read_log_bytes(path: Path) -> tuple[bytes, str | None]:
    """The decompressed content of a log file, as far as it can be read, and what stopped it, if
    anything."""
    data = path.read_bytes()
    if not data.startswith(GZIP_MAGIC):
        return data, "not a gzip file (read as plain text)"
    pieces = []
    while data:
        decompressor = isal_zlib.decompressobj(31)
        try:
            pieces.append(decompressor.decompress(data))
        except isal_zlib.error as exc:  # type: ignore[misc]  # isal's stub types error as an instance
            return b"".join(pieces), f"corrupt gzip stream ({exc})"
        if not decompressor.eof:
            return b"".join(pieces), "truncated gzip stream"
        data = decompressor.unused_data  # another gzip member may follow
    return b"".join(pieces), None


def numbered_lines(content: bytes) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line without its newline) for every line of `content`."""
    yield from enumerate(content.split(b"\n"), start=1)


def line_problem(line: bytes) -> str | None:
    """Why a non-blank line is not a Segment message, or None if it is a JSON object."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "bad JSON"
    return None if isinstance(value, dict) else "not a JSON object"


def find_rejects(content: bytes, name: str) -> list[Reject]:
    """Every non-blank line of (decompressed) content that is not a JSON object, named `name`."""
    return [
        Reject(name, number, problem, line.decode("utf-8", errors="replace"))
        for number, line in numbered_lines(content)
        if line.strip() and (problem := line_problem(line))
    ]


def salvage(path: Path, name: str, destination: Path) -> tuple[str, Reject | None]:
    """Write the complete lines of a damaged file to `destination` (plain JSON lines).

    Returns what was wrong with the file, and the reject for an incomplete last line, if any."""
    content, damage = read_log_bytes(path)
    damage = damage or "unreadable"
    complete, _, tail = content.rpartition(b"\n")
    destination.write_bytes(complete + b"\n" if complete else b"")
    if tail.strip() and damage != "not a gzip file (read as plain text)":
        line_number = complete.count(b"\n") + 2 if complete else 1
        return damage, Reject(
            name, line_number, f"{damage}: last line incomplete", tail.decode("utf-8", errors="replace")
        )
    if tail.strip():
        destination.write_bytes(content + b"\n")
    return damage, None


def drop_overlong_lines(path: Path, name: str, destination: Path, limit: int) -> list[Reject]:
    """Copy a log file's lines to `destination` (plain JSON lines), leaving out those longer than
    `limit` bytes, each returned as a Reject. Reads in bounded pieces, whatever a line's length."""
    with open(path, "rb") as probe:
        is_gzip = probe.read(2) == GZIP_MAGIC
    rejects = []
    with igzip.open(path, "rb") if is_gzip else open(path, "rb") as source, open(destination, "wb") as out:
        number = 0
        while line := source.readline(limit + 1):
            number += 1
            if len(line) <= limit or line.endswith(b"\n"):
                out.write(line if line.endswith(b"\n") else line + b"\n")
                continue
            head, size = line[:200], len(line)
            while line and not line.endswith(b"\n"):  # the rest of the line, piece by piece
                line = source.readline(1 << 20)
                size += len(line)
            rejects.append(
                Reject(
                    name,
                    number,
                    f"a line of {size:,} bytes, over the {limit:,} a message can have",
                    head.decode("utf-8", errors="replace") + "...",
                )
            )
    return rejects
