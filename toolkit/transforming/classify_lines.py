"""The transform's classification for messages handed over in memory (a destination fed message by
message) rather than read from log files: the same SQL, so the same filters, reasons, item ids,
EVENT_TYPE and epoch seconds as the CSV the transform writes from the same messages."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from toolkit.transforming.duckdb_engine import classify_sql
from toolkit.transforming.summary import TransformOptions

MEMORY_LIMIT = "256MB"  # a batch is a few thousand messages


@dataclass(frozen=True)
class Classified:
    """One message as the transform sees it."""

    reason: str | None  # why it is filtered (summary.FILTER_REASONS, or "unparsed"); None: kept
    message_id: str | None
    user_id: str | None
    event_type: str | None  # the EVENT_TYPE the CSV gets (the event, or its domain's name)
    timestamp: int | None  # epoch seconds, the floor of the message's timestamp
    item_ids: tuple[str, ...]  # one interaction each


class LineClassifier:
    """Classifies batches of stored message lines; its DuckDB connection and scratch folder are
    opened on first use (so it can be pickled before) and released by close()."""

    def __init__(self, options: TransformOptions):
        self.options = options
        self._query = (
            f"SELECT reason, message_id, user_id, event, ts, item_ids FROM ({classify_sql(options)})"
        )
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_connection": None, "_folder": None}

    def classify(self, lines: Sequence[bytes]) -> list[Classified]:
        """One Classified per line, in the lines' order."""
        if not lines:
            return []
        if self._connection is None or self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="toolkit-classify-")
            self._connection = duckdb.connect()
            # one thread keeps the rows in the lines' order; UTC reads a timestamp without an offset
            # as the transform does
            self._connection.execute(
                f"SET TimeZone = 'UTC'; SET threads = 1; SET memory_limit = '{MEMORY_LIMIT}'; "
                "SET enable_progress_bar = false"
            )
        batch = Path(self._folder.name) / "batch.json"
        batch.write_bytes(b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines))
        rows = self._connection.execute(self._query, {"files": [str(batch)]}).fetchall()
        if len(rows) != len(lines):
            raise RuntimeError(f"classified {len(rows)} rows for {len(lines)} lines")
        return [
            Classified(reason, mid, user, event, ts, tuple(items or ()))
            for reason, mid, user, event, ts, items in rows
        ]

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._folder is not None:
            self._folder.cleanup()
        self._connection = self._folder = None
