"""One bounded pass over a CSV's lines after its header: how many hold content, the longest, and
the first with a quote left open (a record over several lines), measured a chunk at a time with
numpy so that memory stays bounded whatever a line's length."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CHUNK = 1 << 20  # bytes read at a time


@dataclass
class LineScan:
    """What one bounded pass over the lines after the header finds."""

    lines: int = 0  # lines holding more than blanks
    longest: tuple[int, int] = (0, 0)  # (line number, bytes) of the longest line
    open_quotes: list[str] = field(default_factory=list)  # the first lines with an odd number of quotes


HEAD = 200  # bytes of a line shown as an example


def scan_lines(path: Path, *, header_bytes: int, examples: int, chunk_bytes: int = CHUNK) -> LineScan:
    """Read the lines after the header (at most `header_bytes`) in chunks of `chunk_bytes`, so
    memory stays bounded whatever a line's length; each chunk's lines are measured at once with
    numpy (a Python loop a line cost ~6 us). At most `examples` lines with a quote left open are
    kept."""
    scan = LineScan()
    number = 1  # the header's line
    carry = _Partial()  # the line the previous chunk ended in
    with open(path, "rb") as handle:
        handle.readline(header_bytes + 1)
        while chunk := handle.read(chunk_bytes):
            data = np.frombuffer(chunk, dtype=np.uint8)
            ends = np.flatnonzero(data == 10)
            starts: np.ndarray = np.r_[0, ends + 1]
            stops: np.ndarray = np.r_[ends, len(data)]
            lengths = stops - starts
            quotes = np.flatnonzero(data == 34)
            line_quotes = np.searchsorted(quotes, stops) - np.searchsorted(quotes, starts)
            content = _has_content(data, starts, lengths)
            lengths[0] += carry.length  # the first piece goes on the carried line
            line_quotes[0] += carry.quotes
            content[0] |= carry.content
            head = functools.partial(_piece_head, chunk, starts, stops, carry.head)
            done = len(ends)  # pieces that end in a newline: whole lines
            _end_lines(scan, number, lengths[:done], line_quotes[:done], content[:done], head, examples)
            number += done
            last = len(starts) - 1
            carry = _Partial(
                int(lengths[last]), int(line_quotes[last]), bool(content[last]), head(last)[:HEAD]
            )
    if carry.length:
        _end_lines(
            scan,
            number,
            np.array([carry.length]),
            np.array([carry.quotes]),
            np.array([carry.content]),
            lambda k: carry.head,
            examples,
        )
    return scan


def _piece_head(chunk: bytes, starts: np.ndarray, stops: np.ndarray, carried: bytes, k: int) -> bytes:
    """The first HEAD bytes of a chunk's piece k (after the carried line's, for the first)."""
    taken = carried if k == 0 else b""
    return taken + chunk[starts[k] : min(stops[k], starts[k] + HEAD - len(taken))]


def _has_content(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Whether each piece (starts, lengths) of data holds more than whitespace. Each non-empty
    piece is reduced up to the next one's start: what lies between is newlines and empty pieces,
    whitespace all, so it changes nothing."""
    content = np.zeros(len(starts), dtype=bool)
    filled = np.flatnonzero(lengths)
    if len(filled):
        content[filled] = np.logical_or.reduceat(_not_whitespace(data), starts[filled])
    return content


@dataclass
class _Partial:
    length: int = 0
    quotes: int = 0
    content: bool = False
    head: bytes = b""


def _not_whitespace(data: np.ndarray) -> np.ndarray:
    """Each byte: is it other than what bytes.strip() removes (tab to carriage return, space)?"""
    return ((data - np.uint8(9)) > 4) & (data != 32)  # below tab, data - 9 wraps round to over 4


def _end_lines(
    scan: LineScan,
    before: int,
    lengths: np.ndarray,
    quotes: np.ndarray,
    content: np.ndarray,
    head: Callable[[int], bytes],
    examples: int,
) -> None:
    """Count whole lines (numbered from before + 1): content, the longest, the first with a quote
    left open."""
    if not len(lengths):
        return
    scan.lines += int(content.sum())
    longest = int(np.argmax(lengths))
    if lengths[longest] > scan.longest[1]:
        scan.longest = (before + 1 + longest, int(lengths[longest]))
    for k in np.flatnonzero(quotes % 2)[: max(0, examples - len(scan.open_quotes))].tolist():
        scan.open_quotes.append(
            f"line {before + 1 + k}: {head(k).decode('utf-8', errors='replace').rstrip()}"
        )
