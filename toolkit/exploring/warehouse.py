"""`toolkit explore` on Segment's warehouse (Postgres or Redshift, or a DuckDB file with the same
schema): SQL runs where the tables are. The workshop's three questions are asked of the warehouse's
tables: `${tracks}` stands for every source's `tracks`, `${events_with_sku}` for every event table
with a `sku` column (each with the column `source`, the schema it comes from)."""

from __future__ import annotations

import time
from string import Template
from typing import TYPE_CHECKING

import duckdb

from toolkit.errors import UsageError
from toolkit.exploring.engines import QueryResult
from toolkit.segment.warehouse_engines import connect_postgres, is_postgres_url, redacted

if TYPE_CHECKING:
    import psycopg

WAREHOUSE_QUERIES = (
    ("Twenty sample tracks", "warehouse_1_sample.sql"),
    ("Messages by event", "warehouse_2_events.sql"),
    ("Messages by event, where a sku column is set", "warehouse_3_events_with_sku.sql"),
)
SKIPPED_SCHEMAS = ("toolkit_warehouse", "pg_catalog", "information_schema")
TRACK_COLUMNS = ("id", "received_at", "timestamp", "user_id", "anonymous_id", "event", "event_text")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first(fetch, limit: int | None, batch: int = 10_000) -> tuple[list[tuple], int]:
    kept: list[tuple] = []
    total = 0
    while rows := fetch(batch):
        if limit is None or len(kept) < limit:
            kept.extend(rows if limit is None else rows[: limit - len(kept)])
        total += len(rows)
    return kept, total


class WarehouseExplorer:
    """Runs queries on the warehouse at `source` (read only)."""

    def __init__(self, source: str):
        self.skipped: dict[str, str] = {}
        self.loaded: int | None = None  # the warehouse is read where it is, never loaded
        self.source = source
        self.postgres: psycopg.Connection | None = None  # for a postgresql:// source
        self.duck: duckdb.DuckDBPyConnection | None = None
        if is_postgres_url(source):
            self.postgres = connect_postgres(source, autocommit=True)  # a transaction per query
            self.postgres.execute("SET default_transaction_read_only = on")
        else:
            try:
                self.duck = duckdb.connect(source, read_only=True)
            except duckdb.Error as exc:
                raise UsageError(f"cannot open {source}: {str(exc).splitlines()[0]}") from None

    def _rows(self, sql: str, limit: int | None = None) -> tuple[list[str], list[tuple], int]:
        """The columns, the first `limit` rows (all without a limit), and how many rows there
        are: rows come in batches (a server-side cursor on Postgres), the rest only counted."""
        if self.duck is not None:
            result = self.duck.execute(sql)
            if result.description is None:
                return [], [], 0
            return [c[0] for c in result.description], *_first(result.fetchmany, limit)
        assert self.postgres is not None
        with self.postgres.transaction(), self.postgres.cursor(name="toolkit_explore") as cursor:
            cursor.execute(sql)
            kept, total = _first(cursor.fetchmany, limit)
            return [c.name for c in cursor.description or []], kept, total

    def relations(self) -> dict[str, str]:
        """The relations the workshop's questions read: every source's tracks, the event tables with a sku."""
        _, found, _ = self._rows(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            f"WHERE table_schema NOT IN {SKIPPED_SCHEMAS!r} AND column_name IN ('event_text', 'sku')"
        )
        tracks = sorted({schema for schema, table, column in found if table == "tracks"})
        if not tracks:
            raise UsageError(
                f"{redacted(self.source)} holds no Segment source (no schema with a tracks table)"
            )
        with_sku = sorted({(s, t) for s, t, c in found if c == "sku" and t != "tracks"})
        listed = ", ".join(_q(c) for c in TRACK_COLUMNS)
        union = " UNION ALL ".join(
            f"SELECT '{schema}' AS source, {listed} FROM {_q(schema)}.tracks" for schema in tracks
        )
        events = (
            " UNION ALL ".join(
                f"SELECT '{s}' AS source, event_text, CAST(sku AS VARCHAR) AS sku FROM {_q(s)}.{_q(t)}"
                for s, t in with_sku
            )
            or "SELECT CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) AS event_text, "
            "CAST(NULL AS VARCHAR) AS sku WHERE 1 = 0"
        )
        return {"tracks": f"({union})", "events_with_sku": f"({events})"}

    def workshop_query(self, text: str) -> str:
        return Template(text).safe_substitute(self.relations())

    def run(self, sql: str, limit: int | None = None) -> QueryResult:
        began = time.perf_counter()
        try:
            columns, rows, total = self._rows(sql, limit)
        except duckdb.Error as exc:
            raise UsageError(f"the query failed: {' '.join(str(exc).split())[:300]}") from None
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                raise UsageError(f"the query failed: {' '.join(str(exc).split())[:300]}") from None
            raise
        return QueryResult(
            sql, columns, rows, time.perf_counter() - began, total_rows=total if limit else None
        )

    def close(self) -> None:
        if self.duck is not None:
            self.duck.close()
        if self.postgres is not None:
            self.postgres.close()
