"""Segment's warehouse destination: messages loaded into a warehouse in syncs, as Segment does.

Messages are buffered and loaded in syncs: one each `sync_minutes` of message time (receivedAt;
Segment's Business tier syncs hourly), and one at close. A sync is one transaction, under a lock:
it creates the tables and columns its rows need (ALTER TABLE as new non-null columns arrive),
bulk-loads the rows through temporary tables, keeps only ids the warehouse does not hold yet
(deduplicated on `id`), upserts `users`, and records itself in `toolkit_warehouse.syncs`; an
interrupted sync (Ctrl-C, kill -9, the server gone) commits nothing. `flush` (the collector calls
it before dropping a journal segment) stages the buffered lines in `toolkit_warehouse.staged`,
committed; the next sync loads what is staged, whoever left it there, so a run that died resumes.

The engines (Postgres, DuckDB) differ only in how they connect, copy rows in and name types: see
`WarehouseEngine`.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import orjson

from toolkit.errors import UsageError
from toolkit.segment.destination import DeliveryCounts
from toolkit.segment.snakecase import warehouse_name
from toolkit.segment.warehouse_schema import (
    BIGINT,
    BOOLEAN,
    DOUBLE,
    JSON_TEXT,
    MAX_TEXT,
    TABLES,
    TEXT,
    TIMESTAMP,
    USERS,
    Row,
    Timestamp,
    Value,
    column_type,
    message_rows,
)

STATE = "toolkit_warehouse"  # the loader's own schema: syncs, staged lines, runs
CHUNK_MESSAGES = 50_000  # messages mapped and copied at a time within a sync (memory bound)
MAX_BUFFERED = 200_000  # buffered lines past which they are staged (memory bound)
TYPE_TABLES = frozenset(TABLES.values())
TEXTS = (TEXT, JSON_TEXT)


@dataclass
class TableRows:
    """One table's rows of a chunk, and its columns' types in the order first seen."""

    columns: dict[str, str] = field(default_factory=dict)
    rows: list[dict[str, Value]] = field(default_factory=list)


class WarehouseEngine(Protocol):
    """What a sync needs of a warehouse; SQL is shared, so an engine names its types and runs it."""

    name: str

    def connect(self) -> None: ...
    def begin(self) -> None:
        """Start a transaction holding the warehouse's sync lock."""

    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple]: ...
    def modified(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run an INSERT or DELETE; the rows it touched."""

    def copy_rows(self, table: str, columns: list[str], types: list[str], rows: list[tuple]) -> None:
        """Bulk-load rows into a (temporary) table."""

    def existing_ids(self, table: str, ids: list[str]) -> list[tuple]:
        """Which of these ids the table holds."""

    def index_ids(self, table: str, index: str) -> None:
        """Index a new table's id, where that makes the check for held ids cheap."""

    def type_name(self, logical: str) -> str: ...
    def close(self) -> None: ...


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def fits(value_kind: str, column_kind: str) -> bool:
    """Whether a value of this kind goes into the column as it is (any text into any text column)."""
    return value_kind == column_kind or (value_kind in TEXTS and column_kind in TEXTS)


def coerce(value: Value, kind: str) -> Value | None:
    """A value for a column of another type: converted where nothing is lost, else None."""
    if kind in (TEXT, JSON_TEXT):
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value) if not isinstance(value, float) else orjson.dumps(value).decode()
    if kind == DOUBLE and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind == BIGINT and isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if kind == TIMESTAMP and isinstance(value, Timestamp):
        return value
    return None


@dataclass
class SyncResult:
    messages: int = 0
    loaded: int = 0  # messages new to the warehouse
    duplicates: int = 0  # messages whose id it already held
    values_nulled: int = 0  # values that did not fit their column's type (kept as NULL)
    rows: Counter[str] = field(default_factory=Counter)  # rows inserted per table
    first_received: str | None = None
    last_received: str | None = None

    def received(self, stamp: str) -> None:
        if stamp:
            self.first_received = min(self.first_received or stamp, stamp)
            self.last_received = max(self.last_received or stamp, stamp)


class Warehouse:
    """The sync logic over an engine (see the module's docstring)."""

    def __init__(self, engine: WarehouseEngine):
        self.engine = engine
        self.catalog: dict[tuple[str, str], dict[str, str]] | None = None  # read at the first sync

    def open(self) -> None:
        self.engine.connect()
        self.engine.begin()
        for sql in (
            f"CREATE SCHEMA IF NOT EXISTS {STATE}",
            f"CREATE TABLE IF NOT EXISTS {STATE}.syncs (sync_id varchar(64) PRIMARY KEY, "
            "started_at timestamp, committed_at timestamp, messages bigint, loaded bigint, "
            "duplicates bigint, values_nulled bigint, first_received_at timestamp, "
            "last_received_at timestamp)",
            f"CREATE TABLE IF NOT EXISTS {STATE}.staged (seq bigint, schema_name varchar(128), line varchar)",
            f"CREATE TABLE IF NOT EXISTS {STATE}.runs (run varchar(1024))",
        ):
            self.engine.execute(sql)
        self.engine.commit()

    def claim(self, run: str) -> None:
        self.engine.begin()
        found = [r for (r,) in self.engine.execute(f"SELECT run FROM {STATE}.runs")]
        if found and found != [run]:
            self.engine.rollback()
            raise UsageError(
                f"{self.engine.name} already holds the messages of another run ({found[0]}); users of two "
                "runs would mix: use another database, or drop its schemas"
            )
        if not found:
            self.engine.execute(f"INSERT INTO {STATE}.runs VALUES (?)", [run])
        self.engine.commit()

    def stage(self, lines: list[tuple[str, bytes]]) -> None:
        """Keep lines durably in the warehouse until the next sync (one transaction)."""
        self.engine.begin()
        start = self.engine.execute(f"SELECT coalesce(max(seq), 0) FROM {STATE}.staged")[0][0]
        self.engine.copy_rows(
            f"{STATE}.staged",
            ["seq", "schema_name", "line"],
            [BIGINT, TEXT, JSON_TEXT],
            [(start + i + 1, schema, line.decode()) for i, (schema, line) in enumerate(lines)],
        )
        self.engine.commit()

    def sync(self, lines: list[tuple[str, bytes]]) -> SyncResult:
        """One sync: what is staged, then `lines` (schema, stored message), in one transaction."""
        started = datetime.now(UTC).replace(tzinfo=None)
        result = SyncResult()
        self.engine.begin()
        try:
            if self.catalog is None:
                self.catalog = self._read_catalog()
            staged_upto = self.engine.execute(f"SELECT coalesce(max(seq), 0) FROM {STATE}.staged")[0][0]
            for chunk in self._chunks(staged_upto, lines):
                self._load_chunk(chunk, result, started)
            if staged_upto:
                self.engine.modified(f"DELETE FROM {STATE}.staged WHERE seq <= ?", [staged_upto])
            if result.messages:
                self.engine.execute(
                    f"INSERT INTO {STATE}.syncs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        uuid.uuid4().hex,
                        started,
                        datetime.now(UTC).replace(tzinfo=None),
                        result.messages,
                        result.loaded,
                        result.duplicates,
                        result.values_nulled,
                        result.first_received,
                        result.last_received,
                    ],
                )
            self.engine.commit()
        except BaseException:
            self.catalog = None  # tables or columns it created are gone with the transaction
            self.engine.rollback()
            raise
        return result

    def _chunks(self, staged_upto: int, lines: list[tuple[str, bytes]]) -> Iterator[list[tuple[str, bytes]]]:
        for start in range(0, staged_upto, CHUNK_MESSAGES):
            yield [
                (schema, line.encode())
                for schema, line in self.engine.execute(
                    f"SELECT schema_name, line FROM {STATE}.staged WHERE seq > ? AND seq <= ? ORDER BY seq",
                    [start, min(start + CHUNK_MESSAGES, staged_upto)],
                )
            ]
        for start in range(0, len(lines), CHUNK_MESSAGES):
            yield lines[start : start + CHUNK_MESSAGES]

    def _read_catalog(self) -> dict[tuple[str, str], dict[str, str]]:
        catalog: dict[tuple[str, str], dict[str, str]] = {}
        kinds = {
            "bigint": BIGINT,
            "double precision": DOUBLE,
            "double": DOUBLE,
            "boolean": BOOLEAN,
            "timestamp without time zone": TIMESTAMP,
            "timestamp": TIMESTAMP,
        }
        for schema, table, column, data_type, length in self.engine.execute(
            "SELECT table_schema, table_name, column_name, lower(data_type), character_maximum_length "
            "FROM information_schema.columns "
            f"WHERE table_schema NOT IN ('{STATE}', 'pg_catalog', 'information_schema') "
            "ORDER BY ordinal_position"
        ):
            kind = kinds.get(data_type) or (JSON_TEXT if (length or 0) > MAX_TEXT or length is None else TEXT)
            catalog.setdefault((schema, table), {})[column] = kind
        return catalog

    def _load_chunk(self, chunk: list[tuple[str, bytes]], result: SyncResult, started: datetime) -> None:
        """Map a chunk's messages to rows (the first received of each id, and only ids the
        warehouse does not hold), and copy them into their tables."""
        firsts: dict[tuple[str, str], tuple[str, list[Row]]] = {}
        for schema, line in chunk:
            message = orjson.loads(line)
            rows = message_rows(message) if isinstance(message, dict) else []
            if not rows or "id" not in rows[0].values:
                continue  # counted by the destination, which sees every line
            result.messages += 1
            key = (schema, str(rows[0].values["id"]))
            stamp = str(rows[0].values.get("received_at", ""))
            if key in firsts:
                result.duplicates += 1
                if stamp >= firsts[key][0]:
                    continue
            firsts[key] = (stamp, rows)
        self._drop_loaded(firsts, result)
        loaded_at = Timestamp(started.isoformat(timespec="milliseconds") + "Z")
        tables: dict[tuple[str, str], TableRows] = {}
        users: dict[str, dict[str, tuple[str, dict[str, Value]]]] = {}
        for (schema, _), (stamp, rows) in firsts.items():
            result.received(stamp)
            for row in rows:
                if row.table == USERS:
                    _merge_user(users.setdefault(schema, {}), stamp, row.values)
                    continue
                batch = tables.setdefault((schema, row.table), TableRows())
                for column, value in row.values.items():
                    if column not in batch.columns:
                        batch.columns[column] = column_type(value)
                row.values["uuid_ts"] = loaded_at
                batch.rows.append(row.values)
        for (schema, table), batch in tables.items():
            batch.columns["uuid_ts"] = TIMESTAMP
            target, names, kinds, tuples = self._prepare(schema, table, batch, result)
            self.engine.copy_rows(target, names, kinds, tuples)
            result.rows[f"{schema}.{table}"] += len(tuples)
            if table in TYPE_TABLES:
                result.loaded += len(tuples)
        for schema, merged in users.items():
            batch = TableRows()
            for _, values in merged.values():
                for column, value in values.items():
                    batch.columns.setdefault(column, column_type(value))
                batch.rows.append(values)
            result.rows[f"{schema}.{USERS}"] += self._upsert_users(schema, batch, result)

    def _drop_loaded(self, firsts: dict[tuple[str, str], tuple[str, list[Row]]], result: SyncResult) -> None:
        """Leave out of `firsts` the messages whose id the warehouse holds already."""
        ids: dict[tuple[str, str], list[str]] = {}
        for (schema, message_id), (_, rows) in firsts.items():
            ids.setdefault((schema, rows[0].table), []).append(message_id)
        for (schema, table), wanted in ids.items():
            if (schema, table) not in self.catalog:  # type: ignore[operator]
                continue
            for (message_id,) in self.engine.existing_ids(f"{quoted(schema)}.{quoted(table)}", wanted):
                del firsts[(schema, message_id)]
                result.duplicates += 1

    def _prepare(self, schema: str, table: str, batch: TableRows, result: SyncResult, key: bool = False):
        """Create the schema, table and new columns; the rows as tuples of the table's types."""
        assert self.catalog is not None
        known = self.catalog.get((schema, table))
        target = f"{quoted(schema)}.{quoted(table)}"
        if known is None:
            self.engine.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted(schema)}")
            columns = ", ".join(
                f"{quoted(c)} {self.engine.type_name(k)}{' PRIMARY KEY' if key and c == 'id' else ''}"
                for c, k in batch.columns.items()
            )
            self.engine.execute(f"CREATE TABLE {target} ({columns})")
            if table in TYPE_TABLES:
                self.engine.index_ids(target, quoted(f"{table}_id"))
            known = self.catalog[(schema, table)] = dict(batch.columns)
        else:
            for column, kind in batch.columns.items():
                if column not in known:
                    self.engine.execute(
                        f"ALTER TABLE {target} ADD COLUMN {quoted(column)} {self.engine.type_name(kind)}"
                    )
                    known[column] = kind
        names = list(batch.columns)
        kinds = [known[c] for c in names]
        tuples = []
        for values in batch.rows:
            row = []
            for column, kind in zip(names, kinds, strict=True):
                value = values.get(column)
                if value is not None and not fits(column_type(value), kind):
                    value = coerce(value, kind)
                    result.values_nulled += value is None
                row.append(value)
            tuples.append(tuple(row))
        return target, names, kinds, tuples

    def _upsert_users(self, schema: str, batch: TableRows, result: SyncResult) -> int:
        """users: one row per user id; a newer identify's non-null traits replace the older's."""
        target, names, kinds, tuples = self._prepare(schema, USERS, batch, result, key=True)
        staging = "toolkit_users"
        listed = ", ".join(map(quoted, names))
        self.engine.execute(f"DROP TABLE IF EXISTS {staging}")
        self.engine.execute(f"CREATE TEMPORARY TABLE {staging} AS SELECT {listed} FROM {target} WHERE 1 = 0")
        self.engine.copy_rows(staging, names, kinds, tuples)
        updates = ", ".join(
            f"{quoted(c)} = coalesce(excluded.{quoted(c)}, {USERS}.{quoted(c)})" for c in names if c != "id"
        )
        return self.engine.modified(
            f"INSERT INTO {target} AS {USERS} ({listed}) SELECT {listed} FROM {staging} "
            f"ON CONFLICT (id) DO UPDATE SET {updates} "
            f"WHERE {USERS}.received_at IS NULL OR {USERS}.received_at <= excluded.received_at"
        )

    def close(self) -> None:
        self.engine.close()


def _merge_user(users: dict[str, tuple[str, dict[str, Value]]], stamp: str, values: dict[str, Value]) -> None:
    """Fold one identify's user row into the chunk's: the later received wins, trait by trait."""
    user_id = str(values["id"])
    if user_id not in users:
        users[user_id] = (stamp, dict(values))
        return
    seen, merged = users[user_id]
    if stamp >= seen:
        merged.update(values)
        users[user_id] = (stamp, merged)
    else:
        users[user_id] = (seen, {**values, **merged})


def received_ms(message: dict) -> int | None:
    """A stored message's receivedAt in epoch ms (its message time), or None."""
    value = message.get("receivedAt")
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp() * 1000)


class WarehouseDestination:
    """Segment's warehouse destination (see the module's docstring); a Destination.

    `schemas` names each source's schema by its source id (the source's slug, e.g. website_prod);
    a source not named gets its id, snake-cased."""

    def __init__(
        self, engine: WarehouseEngine, *, schemas: dict[str, str] | None = None, sync_minutes: int = 60
    ):
        if sync_minutes < 1:
            raise UsageError(f"sync_minutes must be at least 1, not {sync_minutes}")
        self.engine = engine
        self.schemas = {source: warehouse_name(slug) for source, slug in (schemas or {}).items()}
        self.sync_ms = sync_minutes * 60_000
        self._warehouse: Warehouse | None = None
        self._buffer: list[tuple[str, bytes]] = []
        self._next_sync: int | None = None  # the message time (receivedAt, epoch ms) of the next sync
        self._counts = DeliveryCounts()
        self._handed = 0
        self.syncs: list[SyncResult] = []

    @property
    def name(self) -> str:
        return self.engine.name

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_warehouse": None}

    @property
    def warehouse(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = Warehouse(self.engine)
            self._warehouse.open()
        return self._warehouse

    def check(self) -> None:
        self.warehouse  # noqa: B018 - connecting and creating the loader's tables is the check

    def claim(self, run: str) -> None:
        self.warehouse.claim(run)

    def deliver(self, source_id: str, lines: Sequence[bytes]) -> None:
        schema = self.schemas.get(source_id) or warehouse_name(source_id.lower())
        for line in lines:
            self._handed += 1
            message = orjson.loads(line)
            if not isinstance(message, dict):
                self._counts.not_sent["not a JSON object"] += 1
                continue
            if message.get("type") not in TABLES:
                self._counts.not_sent["type not stored in a warehouse"] += 1
                continue
            if not isinstance(message.get("messageId"), str) or not message["messageId"]:
                self._counts.not_sent["no messageId"] += 1
                continue
            at = received_ms(message)
            if at is not None and (self._next_sync is None or at >= self._next_sync):
                if self._next_sync is not None:
                    self._sync()
                self._next_sync = at - at % self.sync_ms + self.sync_ms
            self._buffer.append((schema, line))
            if len(self._buffer) >= MAX_BUFFERED:
                self.flush()

    def _sync(self) -> None:
        result = self.warehouse.sync(self._buffer)
        self._buffer = []
        self.syncs.append(result)
        self._counts.delivered += result.loaded
        self._counts.requests += 1
        if result.duplicates:
            self._counts.not_sent["duplicate messageId"] += result.duplicates

    def flush(self) -> None:
        if self._buffer:
            self.warehouse.stage(self._buffer)
            self._buffer = []
            self._counts.requests += 1

    def close(self) -> DeliveryCounts:
        self._sync()
        self.warehouse.close()
        self._warehouse = None
        return self._counts
