"""The warehouses a sync loads into: Postgres (and Redshift, which speaks its protocol) through
psycopg's COPY, and a DuckDB file holding the same schema (no server needed)."""

from __future__ import annotations

import contextlib
import os
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from toolkit.errors import UsageError
from toolkit.segment.warehouse_schema import BIGINT, BOOLEAN, DOUBLE, POSTGRES_TYPES

if TYPE_CHECKING:
    import psycopg

CONNECT_SECONDS = 5  # a database that does not answer is said at once, not after the OS gives up
LOCK_KEY = 7_270_613  # pg_advisory_xact_lock key: one sync at a time per database


def is_postgres_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def is_duckdb_file(location: str) -> bool:
    return location.endswith(".duckdb") and not is_postgres_url(location)


def redacted(url: str) -> str:
    """The URL without its password (never shown or logged)."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def connect_postgres(url: str, autocommit: bool = False) -> psycopg.Connection:
    """A psycopg connection in UTC; one the server refuses (or leaves unanswered CONNECT_SECONDS)
    is a UsageError naming the fix."""
    import psycopg

    try:
        connection = psycopg.connect(url, autocommit=autocommit, connect_timeout=CONNECT_SECONDS)
    except psycopg.OperationalError as exc:
        raise UsageError(
            f"cannot connect to {redacted(url)}: {' '.join(str(exc).split())}; "
            "start the server or fix the URL"
        ) from None
    connection.execute("SET TIME ZONE 'UTC'")
    if not autocommit:
        connection.commit()
    return connection


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PostgresEngine:
    """postgresql://USER[:PASSWORD]@HOST:PORT/DB (or PGPASSWORD); rows go in by COPY FROM STDIN."""

    def __init__(self, url: str):
        if not is_postgres_url(url):
            raise UsageError(f"out must be postgresql://USER@HOST:PORT/DB, not {redacted(url)}")
        self.url = url
        self.name = redacted(url)
        self._connection: psycopg.Connection | None = None  # opened when first needed

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_connection": None}

    def connect(self) -> None:
        self._connection = connect_postgres(self.url)

    @property
    def connection(self) -> psycopg.Connection:
        if self._connection is None:
            self.connect()
        assert self._connection is not None
        return self._connection

    def begin(self) -> None:
        self.connection.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        if self._connection is not None and not self._connection.closed:
            self._connection.rollback()

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        cursor = self.connection.execute(sql.replace("?", "%s"), list(params) or None)
        return cursor.fetchall() if cursor.description else []

    def modified(self, sql: str, params: Sequence[object] = ()) -> int:
        return self.connection.execute(sql.replace("?", "%s"), list(params) or None).rowcount

    def copy_rows(self, table: str, columns: list[str], types: list[str], rows: list[tuple]) -> None:
        listed = ", ".join(map(_quoted, columns))
        with self.connection.cursor() as cursor, cursor.copy(f"COPY {table} ({listed}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def existing_ids(self, table: str, ids: list[str]) -> list[tuple]:
        return self.connection.execute(f"SELECT id FROM {table} WHERE id = ANY(%s)", [ids]).fetchall()

    def index_ids(self, table: str, index: str) -> None:
        self.connection.execute(f"CREATE INDEX {index} ON {table} (id)")

    def type_name(self, logical: str) -> str:
        return POSTGRES_TYPES[logical]

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


_ARROW = {BIGINT: pa.int64(), DOUBLE: pa.float64(), BOOLEAN: pa.bool_()}  # others as text, cast by DuckDB


class DuckDBEngine:
    """A DuckDB file with the warehouse's schema; rows go in as Arrow tables."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.name = str(self.path)
        self._connection: duckdb.DuckDBPyConnection | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_connection": None}

    def connect(self) -> None:
        if not self.path.parent.is_dir():
            raise UsageError(f"out folder does not exist: {self.path.parent}")
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise UsageError(f"cannot write to out {self.path}")
        self._connection = duckdb.connect(str(self.path))
        self._connection.execute("SET TimeZone = 'UTC'")

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:
            self.connect()
        assert self._connection is not None
        return self._connection

    def begin(self) -> None:
        self.connection.execute("BEGIN TRANSACTION")  # the file is locked to this process

    def commit(self) -> None:
        self.connection.execute("COMMIT")

    def rollback(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(duckdb.TransactionException):  # no transaction open
                self._connection.execute("ROLLBACK")

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        return self.connection.execute(sql, list(params)).fetchall()

    def modified(self, sql: str, params: Sequence[object] = ()) -> int:
        found = self.connection.execute(sql, list(params)).fetchone()
        return int(found[0]) if found else 0

    def copy_rows(self, table: str, columns: list[str], types: list[str], rows: list[tuple]) -> None:
        arrays = [
            pa.array([row[i] for row in rows], type=_ARROW.get(kind, pa.string()))
            for i, kind in enumerate(types)
        ]
        batch = pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(columns))])
        self.connection.register("toolkit_batch", batch)
        try:
            listed = ", ".join(map(_quoted, columns))
            arrow_columns = ", ".join(f"c{i}" for i in range(len(columns)))
            self.connection.execute(
                f"INSERT INTO {table} ({listed}) SELECT {arrow_columns} FROM toolkit_batch"
            )
        finally:
            self.connection.unregister("toolkit_batch")

    def existing_ids(self, table: str, ids: list[str]) -> list[tuple]:
        wanted = pa.table({"id": pa.array(ids, type=pa.string())})
        self.connection.register("toolkit_ids", wanted)
        try:
            return self.connection.execute(
                f"SELECT id FROM {table} WHERE id IN (SELECT id FROM toolkit_ids)"
            ).fetchall()
        finally:
            self.connection.unregister("toolkit_ids")

    def index_ids(self, table: str, index: str) -> None:
        pass  # DuckDB scans a column of ids faster than it maintains an index on it

    def type_name(self, logical: str) -> str:
        return {"double": "DOUBLE", "json": "VARCHAR"}.get(logical, POSTGRES_TYPES[logical].upper())

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
