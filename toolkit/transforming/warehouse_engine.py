"""The interactions transform reading Segment's warehouse (Postgres or Redshift, or a DuckDB file
holding the same schema) instead of its S3 layout, with the same filters, deduplication and
accounting: what it reads becomes the relation the log-file path scans (DuckDBTransform's
queries run over it unchanged), and the Users and Items datasets are made by the same code.

Per source schema (a schema with a `tracks` table), the tables of the kept events are read with a
server-side cursor (Redshift has no COPY TO STDOUT), in batches, into DuckDB, which spills to
disk: memory stays bounded. Timestamps are floored to the second on the warehouse
(FLOOR(EXTRACT(EPOCH FROM "timestamp"))); EVENT_TYPE is `event_text`, the event's name; the item
is the column of --item-id, or each entry of the `products` JSON text. Every other call is counted
from the warehouse: the other tracks as filtered by event type, identifies, pages, screens,
groups and aliases as filtered by type.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
from collections import Counter
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pyarrow as pa

from toolkit.errors import UsageError
from toolkit.progress import OnProgress
from toolkit.segment.snakecase import warehouse_name
from toolkit.segment.warehouse_engines import connect_postgres, is_duckdb_file, is_postgres_url, redacted
from toolkit.segment.warehouse_schema import LOADER_COLUMNS, RESERVED, STANDARD, TABLES, event_table
from toolkit.transforming.duckdb_engine import DuckDBTransform, classify_sql
from toolkit.transforming.items import ItemsDataset, items_csv
from toolkit.transforming.summary import TransformOptions, TransformSummary
from toolkit.transforming.users import UsersDataset, users_csv

FETCH_ROWS = 50_000  # rows per fetch from the server-side cursor
STATE_SCHEMA = "toolkit_warehouse"
PRODUCT_FIELDS = ("price", "category", "brand", "description", "name", "created_at")
PRODUCTS_JSON = "CASE WHEN json_valid(products) THEN json(products) END"  # a cut array is no array
_DUCK_TYPES = {"bigint": "BIGINT", "double precision": "DOUBLE", "double": "DOUBLE", "boolean": "BOOLEAN"}


def epoch_seconds(column: str) -> str:
    """SQL (Redshift, Postgres, DuckDB): a timestamp as epoch seconds, floored, never rounded up."""
    return f"FLOOR(EXTRACT(EPOCH FROM {column}))::BIGINT"


def _duck_type(data_type: str) -> str:
    if data_type.startswith("timestamp"):
        return "TIMESTAMP"
    return _DUCK_TYPES.get(data_type, "VARCHAR")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def unload_sql(tables: list[tuple[str, str]], item: str, s3_prefix: str, iam_role: str) -> str:
    """sql/redshift_unload_as_csv.sql filled in for these (schema, event table)s."""
    events = "\n      UNION ALL\n".join(
        f"      SELECT id, user_id, CAST({_q(item)} AS VARCHAR) AS item, event_text, "
        f'"timestamp", received_at FROM {_q(schema)}.{_q(table)}'
        for schema, table in tables
    )
    text = resources.files("toolkit.sql").joinpath("redshift_unload_as_csv.sql").read_text(encoding="utf-8")
    statement = text[text.index("UNLOAD ($$") :]
    for name, value in (("events", events), ("s3_prefix", s3_prefix), ("iam_role", iam_role)):
        statement = statement.replace("${" + name + "}", value)
    return statement


def unload_statement(source: str, options: TransformOptions, *, s3_prefix: str, iam_role: str) -> str:
    """The Redshift UNLOAD that writes the interactions of the warehouse at `source` to `s3_prefix`
    (the object is `<s3_prefix>000`), as sql/redshift_unload_as_csv.sql has it."""
    if not (is_postgres_url(source) or is_duckdb_file(source)):
        raise UsageError(
            "printing the UNLOAD needs a warehouse `source`: postgresql://USER@HOST:PORT/DB or PATH.duckdb",
            parameters=("source",),
        )
    with tempfile.TemporaryDirectory(prefix="toolkit-unload-") as work:
        runner = WarehouseTransform(source, Path(work))
        try:
            return runner.unload(options, s3_prefix, iam_role)
        finally:
            runner.close()


def unload_select(statement: str) -> str:
    """The SELECT inside an UNLOAD ($$...$$) statement (what Postgres can run)."""
    return statement.split("$$")[1]


class _Postgres:
    """Reads a Postgres (or Redshift) warehouse with psycopg; results stream into DuckDB."""

    def __init__(self, url: str):
        self.connection = connect_postgres(url)
        self.prefix = ""

    def query(self, sql: str) -> list[tuple]:
        return self.connection.execute(sql).fetchall()

    def batches(self, sql: str) -> Iterator[list[tuple]]:
        with self.connection.cursor(name="toolkit_transform") as cursor:
            cursor.execute(sql)
            while rows := cursor.fetchmany(FETCH_ROWS):
                yield rows

    def close(self) -> None:
        self.connection.close()


class _DuckDBFile:
    """Reads a DuckDB warehouse file, attached read-only to the transform's own connection."""

    def __init__(self, path: str, duck):
        if not Path(path).is_file():
            raise UsageError(f"src: no such DuckDB file: {path}")
        duck.execute(f"ATTACH '{path.replace(chr(39), chr(39) * 2)}' AS warehouse (READ_ONLY)")
        self.duck = duck
        self.prefix = "warehouse."

    def query(self, sql: str) -> list[tuple]:
        return self.duck.execute(sql).fetchall()

    def close(self) -> None:
        self.duck.execute("DETACH warehouse")


class WarehouseTransform:
    """A transform engine (as DuckDBTransform) over a Segment warehouse at `source`."""

    locates_rejects = True

    def __init__(self, source: str, work_dir: Path, on_progress: OnProgress | None = None):
        self.core = DuckDBTransform(work_dir, on_progress=on_progress)
        self.duck = self.core.connection
        self.reader = _Postgres(source) if is_postgres_url(source) else _DuckDBFile(source, self.duck)
        self.columns = self._catalog()
        self.schemas = sorted(schema for schema, table in self.columns if table == TABLES["track"])
        if not self.schemas:
            raise UsageError(
                f"src {redacted(source)} holds no Segment source (no schema with a tracks table)"
            )
        self.counted: Counter = Counter()
        self.other_events: Counter = Counter()

    def _catalog(self) -> dict[tuple[str, str], dict[str, str]]:
        where = "WHERE table_catalog = 'warehouse'" if self.reader.prefix else "WHERE true"
        found: dict[tuple[str, str], dict[str, str]] = {}
        for schema, table, column, data_type in self.reader.query(
            "SELECT table_schema, table_name, column_name, lower(data_type) FROM information_schema.columns "
            f"{where} AND table_schema NOT IN ('{STATE_SCHEMA}', 'pg_catalog', 'information_schema') "
            "ORDER BY ordinal_position"
        ):
            found.setdefault((schema, table), {})[column] = data_type
        return found

    def _table(self, schema: str, table: str) -> str:
        return f"{self.reader.prefix}{_q(schema)}.{_q(table)}"

    def _column(self, schema: str, table: str, column: str, cast: str | None = None) -> str:
        """The column, or NULL where the table has none (a column appears with its first value)."""
        if column not in self.columns.get((schema, table), {}):
            return f"CAST(NULL AS {cast or 'VARCHAR'})"
        return f"CAST({_q(column)} AS {cast})" if cast else _q(column)

    def _load(self, target: str, types: dict[str, str], sql: str) -> None:
        """Rows of `sql` on the warehouse into the DuckDB table `target` (created with `types`)."""
        self.duck.execute(
            f"CREATE TABLE IF NOT EXISTS {target} ({', '.join(f'{_q(c)} {t}' for c, t in types.items())})"
        )
        if isinstance(self.reader, _DuckDBFile):
            self.duck.execute(f"INSERT INTO {target} {sql}")
            return
        arrow = {
            "BIGINT": pa.int64(),
            "DOUBLE": pa.float64(),
            "BOOLEAN": pa.bool_(),
            "TIMESTAMP": pa.timestamp("us"),
        }
        for rows in self.reader.batches(sql):
            batch = pa.Table.from_arrays(
                [
                    pa.array([row[i] for row in rows], type=arrow.get(kind, pa.string()))
                    for i, kind in enumerate(types.values())
                ],
                names=list(types),
            )
            self.duck.register("toolkit_fetched", batch)
            self.duck.execute(f"INSERT INTO {target} SELECT * FROM toolkit_fetched")
            self.duck.unregister("toolkit_fetched")

    def _count(self, schema: str, table: str, where: str = "") -> int:
        if (schema, table) not in self.columns:
            return 0
        return int(self.reader.query(f"SELECT count(*) FROM {self._table(schema, table)} {where}")[0][0])

    def classify(self, logs, options: TransformOptions, summary: TransformSummary) -> dict[str, str]:
        """Read the kept events' tables and classify them as the log-file path does; count the rest."""
        item = warehouse_name(options.item_field, RESERVED["track"])
        tables = sorted({event_table(event) for event in options.event_types} - {""})
        kept = ", ".join("'" + e.replace("'", "''") + "'" for e in options.event_types)
        types = {
            "message_id": "VARCHAR",
            "user_id": "VARCHAR",
            "event": "VARCHAR",
            "ts": "BIGINT",
            "received_at": "TIMESTAMP",
            "item": "VARCHAR",
            "products": "VARCHAR",
        }
        self.duck.execute(
            f"CREATE TABLE warehouse_events ({', '.join(f'{c} {t}' for c, t in types.items())})"
        )
        for schema in self.schemas:
            for table in tables:
                if (schema, table) not in self.columns:
                    continue
                col = functools.partial(self._column, schema, table)
                self._load(
                    "warehouse_events",
                    types,
                    f"SELECT {col('id')}, {col('user_id', 'VARCHAR')}, {col('event_text')}, "
                    f"{epoch_seconds(col('timestamp', 'TIMESTAMP'))}, {col('received_at', 'TIMESTAMP')}, "
                    f"{col(item, 'VARCHAR')}, {col('products', 'VARCHAR')} FROM {self._table(schema, table)}",
                )
            tracks = self._count(schema, TABLES["track"])
            for name, count in self.reader.query(
                f"SELECT event_text, count(*) FROM {self._table(schema, TABLES['track'])} "
                f"WHERE event_text IS NULL OR event_text NOT IN ({kept}) GROUP BY 1"
            ):
                if name is not None:
                    self.other_events[name] += count
            self.counted["event type"] += tracks - sum(self._count(schema, t) for t in tables)
            self.counted["type"] += sum(self._count(schema, t) for k, t in TABLES.items() if k != "track")
        field = options.item_field.replace("'", "''")
        messages = f"""(SELECT message_id AS messageId, 'track' AS type, event, to_json(user_id) AS userId,
            to_timestamp(ts) AS "timestamp", received_at AS receivedAt,
            json_object('{field}', item, 'products', {PRODUCTS_JSON}) AS properties,
            CAST(NULL AS BIGINT) AS file_index FROM warehouse_events)"""
        self.duck.execute(f"CREATE TABLE classified AS {classify_sql(options, messages)}")
        return {}

    def kept_tables(self, options: TransformOptions) -> list[tuple[str, str]]:
        """The (schema, table)s holding the kept events and their item column."""
        item = warehouse_name(options.item_field, RESERVED["track"])
        tables = sorted({event_table(event) for event in options.event_types} - {""})
        return [
            (schema, table)
            for schema in self.schemas
            for table in tables
            if item in self.columns.get((schema, table), {})
        ]

    def unload(self, options: TransformOptions, s3_prefix: str, iam_role: str) -> str:
        """The Redshift UNLOAD of the interactions, for this warehouse's sources."""
        tables = self.kept_tables(options)
        if not tables:
            raise UsageError(
                f"no table of the kept events ({', '.join(options.event_types)}) holds a "
                f"{options.item_field} column"
            )
        return unload_sql(tables, warehouse_name(options.item_field, RESERVED["track"]), s3_prefix, iam_role)

    def reasons(self) -> Counter:
        reasons = self.core.reasons()
        reasons.update(self.counted)
        return reasons

    def events_filtered(self, limit: int = 10) -> Counter:
        found = self.core.events_filtered(limit) + self.other_events
        return Counter(dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]))

    def unparsed_by_file(self) -> dict[str, int]:
        return {}

    def write_csv(self, path: Path) -> tuple[int, Counter]:
        return self.core.write_csv(path)

    @staticmethod
    def _json_pairs(columns: dict[str, str]) -> list[str]:
        """SQL: json_object arguments for these DuckDB columns, timestamps as Segment's ISO-8601 text."""
        parts = []
        for column, kind in columns.items():
            value = f"strftime({_q(column)}, '%Y-%m-%dT%H:%M:%S.%gZ')" if kind == "TIMESTAMP" else _q(column)
            parts.append(f"'{column}', {value}")
        return parts

    def write_users(self, path: Path, chosen: list[str] | None) -> UsersDataset:
        """The Users dataset from `identifies`: every trait column (not the identity columns Segment
        adds, nor `_anonymous_id`/`_user_id`, the ids some SDKs echo among the traits)."""
        not_traits = {*STANDARD, *LOADER_COLUMNS, "_anonymous_id", "_user_id"}
        selects = []
        for number, schema in enumerate(self.schemas):
            found = self.columns.get((schema, TABLES["identify"]))
            if not found:
                continue
            traits = {
                c: _duck_type(t)
                for c, t in found.items()
                if c not in not_traits and not c.startswith("context_")
            }
            types = {"user_id": "VARCHAR", "timestamp": "TIMESTAMP", **traits}
            target = f"warehouse_identifies_{number}"
            col = functools.partial(self._column, schema, TABLES["identify"])
            self._load(
                target,
                types,
                f"SELECT {col('user_id')}, {col('timestamp')}{''.join(', ' + _q(c) for c in traits)} "
                f"FROM {self._table(schema, TABLES['identify'])}",
            )
            pairs = ", ".join(self._json_pairs(traits))
            selects.append(
                f"""SELECT 'identify' AS type, to_json(user_id) AS userId, "timestamp",
                    json_object({pairs}) AS traits FROM {target}"""
            )
        if not selects:
            raise UsageError(
                "no identify calls in the warehouse (no identifies table) to write a Users dataset from"
            )
        return users_csv(self.duck, f"({' UNION ALL '.join(selects)})", {}, path, chosen)

    def write_items(self, path: Path, item_field: str, catalog: Path | None) -> ItemsDataset:
        """The Items dataset from the product columns of every event table (and `products`)."""
        item = warehouse_name(item_field, RESERVED["track"])
        selects = []
        number = 0
        for (schema, table), found in sorted(self.columns.items()):
            if schema not in self.schemas or table in TABLES.values() or table == "users":
                continue
            if item not in found and "products" not in found:
                continue
            fields = {c: _duck_type(found[c]) for c in PRODUCT_FIELDS if c in found}
            types = {"timestamp": "TIMESTAMP", "item": "VARCHAR", "products": "VARCHAR", **fields}
            target = f"warehouse_products_{number}"
            number += 1
            col = functools.partial(self._column, schema, table)
            self._load(
                target,
                types,
                f"SELECT {col('timestamp')}, {col(item, 'VARCHAR')}, {col('products', 'VARCHAR')}"
                f"{''.join(', ' + _q(c) for c in fields)} FROM {self._table(schema, table)} "
                f"WHERE {col(item)} IS NOT NULL OR {col('products')} IS NOT NULL",
            )
            key = item_field.replace("'", "''")
            pairs = ", ".join([f"'{key}', item", f"'products', {PRODUCTS_JSON}", *self._json_pairs(fields)])
            selects.append(
                f"""SELECT 'track' AS type, "timestamp", json_object({pairs}) AS properties FROM {target}"""
            )
        relation = (
            f"({' UNION ALL '.join(selects)})"
            if selects
            else (
                "(SELECT 'track' AS type, CAST(NULL AS TIMESTAMP) AS \"timestamp\", "
                "CAST(NULL AS JSON) AS properties WHERE false)"
            )
        )
        return items_csv(self.duck, relation, {}, path, item_field, catalog)

    def local_file(self, path: Path | str) -> Path:
        """Never called: a warehouse has no log files, so no line to read again (see unparsed_by_file)."""
        raise AssertionError(f"a warehouse has no log file to read again ({path})")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.reader.close()
        self.core.close()
