"""The contract every Segment destination keeps: what Segment hands a destination, and what the
destination owes back.

Segment's pipeline ends in destinations: its S3 bucket layout, a Kinesis stream, a Firehose
delivery stream, a warehouse, Personalize's event tracker. Each receives the same thing: the
messages of one source as Segment stores them (one JSON object per line, `receivedAt`,
`projectId` and the rest of the server's fields already set), in arrival order. `generate` and
`collector` hand their messages to any number of destinations through this interface; a
destination knows its own format, batching and retries, and nothing of who produced the messages.

A destination is built in the parent process and may be pickled into worker processes (so it must
not hold a client or a connection across pickling: open those lazily). `deliver` may buffer;
`flush` makes everything delivered so far durable where the destination keeps it (the collector
removes a journal segment only after every destination it feeds has flushed it); `close` flushes
and returns the counts. A destination that cannot deliver raises; it never drops a message
silently: a message it chooses not to send (Kinesis skips `screen` calls, Firehose skips events no
mapping names) is counted under `not_sent` with the reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass
class DeliveryCounts:
    """What a destination did with the messages it was handed; every message lands in one count."""

    delivered: int = 0  # stored at the destination (written, put, loaded)
    not_sent: Counter[str] = field(default_factory=Counter)  # by reason, as Segment would skip them
    retries: int = 0  # requests or records sent again (throttling, partial failures)
    requests: int = 0  # calls made to the service, or files written

    @property
    def handed(self) -> int:
        return self.delivered + sum(self.not_sent.values())

    def add(self, other: DeliveryCounts) -> None:
        self.delivered += other.delivered
        self.not_sent.update(other.not_sent)
        self.retries += other.retries
        self.requests += other.requests

    def as_dict(self) -> dict[str, object]:
        return {
            "delivered": self.delivered,
            "not_sent": dict(self.not_sent),
            "retries": self.retries,
            "requests": self.requests,
        }


@runtime_checkable
class Destination(Protocol):
    """One of Segment's destinations, fed message by message (see the module's docstring)."""

    @property
    def name(self) -> str:
        """Identifies the destination (its URL without credentials): shown to users, and names
        the collector's journal for it."""
        ...

    def check(self) -> None:
        """Before any work: fail with a UsageError naming the fix if the destination cannot be
        reached or written."""
        ...

    def claim(self, run: str) -> None:
        """Mark the destination as holding this run's messages; refuse (UsageError) one that holds
        another run's, where the destination can tell. `generate` calls it once, before writing."""
        ...

    def deliver(self, source_id: str, lines: Sequence[bytes]) -> None:
        """Take one source's stored messages, each a JSON object ending in a newline."""
        ...

    def flush(self) -> None:
        """Make everything delivered so far durable at the destination."""
        ...

    def close(self) -> DeliveryCounts:
        """Flush, release clients and connections, and return what was done."""
        ...


@runtime_checkable
class FileLayout(Protocol):
    """A destination that stores whole log files by key (Segment's S3 layout), offered so that a
    producer which already has the files (the generator writes them gzipped, in parallel) can hand
    them over without splitting them into messages and joining them again."""

    def write(self, key: str, data: bytes) -> None:
        """Store one gzipped log file at `segment-logs/<source>/<day>/<name>.gz` (the key)."""
        ...
