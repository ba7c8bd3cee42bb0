"""Running exploration queries against `segment_logs`: on DuckDB here, or on Athena."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import duckdb

from toolkit.aws.s3 import AwsOptions, S3Url, aws_error
from toolkit.errors import UsageError
from toolkit.exploring.logs_view import VIEW, view_sql
from toolkit.progress import OnProgress, enable_query_progress, watch_statements
from toolkit.segment.logs import LogFiles, file_named_in

COUNTED_BATCH_ROWS = 100_000

WORKSHOP_QUERIES = (
    ("Twenty sample messages", "workshop_1_sample.sql"),
    ("Messages by event", "workshop_2_events.sql"),
    ("Messages by event, where properties.sku is present", "workshop_3_events_with_sku.sql"),
)


@dataclass
class QueryResult:
    sql: str
    columns: list[str]
    rows: list[tuple]
    seconds: float
    details: dict = field(default_factory=dict)  # engine facts: Athena's state, bytes scanned
    total_rows: int | None = None  # rows the query gave, `rows` the first of them (None: all are in `rows`)

    @property
    def hidden_rows(self) -> int:
        """Rows the query gave beyond those kept in `rows`."""
        return 0 if self.total_rows is None else self.total_rows - len(self.rows)


class Explorer(Protocol):
    """What runs the exploration queries: DuckDB over the log files, or Athena over its table."""

    skipped: dict[str, str]  # a file the engine could not read -> why (it was left out)
    loaded: int | None  # messages loaded into a database file this run (None: nothing was loaded)

    def run(self, sql: str, limit: int | None = None) -> QueryResult:
        """The query's columns and rows (at most `limit` rows)."""
        ...

    def close(self) -> None:
        """Release the engine (connections, clients)."""
        ...


class DuckDBExplorer:
    """segment_logs over log files, or over a DuckDB file they were loaded into (--db)."""

    def __init__(
        self, logs: LogFiles | None, database: Path | None = None, on_progress: OnProgress | None = None
    ):
        self.logs = logs
        self.files = list(logs.paths) if logs else []
        self.skipped: dict[str, str] = {}  # damaged file -> DuckDB's complaint
        self.loaded: int | None = None
        if database is None and logs is None:
            raise UsageError(
                "give the logs to explore (a folder or s3://...) or `db` FILE loaded earlier",
                parameters=("db",),
            )
        if database is not None and logs is None and not database.is_file():
            raise UsageError(
                f"`db` {database} does not exist; load it once with the logs: toolkit explore SRC "
                f"--db {database}",
                parameters=("db",),
            )
        created = database is not None and not database.exists()
        try:
            # storage of DuckDB 1.0, so that the DuckDB CLI and tools built on older releases open it
            self.connection = (
                duckdb.connect(str(database), config={"storage_compatibility_version": "v1.0.0"})
                if database
                else duckdb.connect()
            )
        except duckdb.Error as exc:
            raise UsageError(
                f"cannot open `db` {database}: {str(exc).splitlines()[0]}", parameters=("db",)
            ) from None
        try:
            self.on_progress = on_progress
            enable_query_progress(self.connection)
            if logs is not None and logs.filesystem is not None:
                self.connection.register_filesystem(logs.filesystem)
            if logs is not None:
                self._create_view()
                if database is not None:
                    self._load()
            elif not self._has_table(VIEW):
                raise UsageError(
                    f"`db` {database} holds no {VIEW} table; load it once with the logs: toolkit explore "
                    f"SRC --db {database}",
                    parameters=("db",),
                )
        except BaseException:
            self.connection.close()
            if created and database is not None:
                # a database this run made and could not fill is not left behind
                for leftover in (database, database.with_name(database.name + ".wal")):
                    leftover.unlink(missing_ok=True)
            raise

    def _has_table(self, name: str) -> bool:
        [(count,)] = self.connection.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary", [name]
        ).fetchall()
        return bool(count)

    def _create_view(self) -> None:
        if not self.files:
            raise UsageError(
                "no readable log files left: " + "; ".join(f"{f}: {why}" for f, why in self.skipped.items())
            )
        self.connection.execute(
            view_sql(self.files).replace("CREATE OR REPLACE VIEW", "CREATE OR REPLACE TEMP VIEW")
        )

    def _load(self) -> None:
        """Load every message into the database file once, as a table named segment_logs (so the
        workshop's SQL runs on it in any DuckDB client); later queries skip the JSON."""
        self._retrying(
            lambda: self.connection.execute(
                f"CREATE OR REPLACE TABLE main.{VIEW} AS SELECT * FROM temp.{VIEW}"
            ).fetchall()
        )
        self.connection.execute(f"DROP VIEW temp.{VIEW}")
        [(self.loaded,)] = self.connection.execute(f"SELECT count(*) FROM main.{VIEW}").fetchall()

    def _retrying(self, action):
        """Run `action`; a file DuckDB cannot read is named, left out, and the action retried."""
        while True:
            try:
                return action()
            except duckdb.IOException as exc:
                path = file_named_in(str(exc), self.files)
                if path is None:
                    raise UsageError(f"cannot read the logs: {str(exc).splitlines()[0]}") from None
                self.files.remove(path)
                self.skipped[self.logs.name(path) if self.logs else str(path)] = str(exc).splitlines()[0]
                self._create_view()

    def run(self, sql: str, limit: int | None = None) -> QueryResult:
        began = time.perf_counter()

        def execute():
            with watch_statements(self.connection, self.on_progress):
                relation = self.connection.sql(sql)
                if relation is None:  # a statement without rows (SET, CREATE VIEW)
                    return [], [], None
                if not limit:
                    return relation.columns, relation.fetchall(), None
                return relation.columns, *self._first_rows(relation, limit)

        try:
            columns, rows, total = self._retrying(execute)
        except (
            duckdb.ParserException,
            duckdb.BinderException,
            duckdb.CatalogException,
            duckdb.ConversionException,
            duckdb.InvalidInputException,
        ) as exc:
            raise UsageError(f"the query failed: {' '.join(str(exc).split())[:300]}") from None
        return QueryResult(sql, columns, rows, time.perf_counter() - began, total_rows=total)

    def _first_rows(self, relation: duckdb.DuckDBPyRelation, limit: int) -> tuple[list[tuple], int]:
        """The first `limit` rows, and how many rows there are: the rest are counted as Arrow
        batches streamed through, never kept, so that memory stays bounded whatever the query."""
        import pyarrow

        reader = relation.to_arrow_reader(COUNTED_BATCH_ROWS)
        kept: list[pyarrow.RecordBatch] = []
        total = 0
        for batch in reader:
            if total < limit:
                kept.append(batch.slice(0, limit - total))
            total += batch.num_rows
        # back through DuckDB, so that the values are the Python objects DuckDB's fetchall gives
        first = self.connection.from_arrow(pyarrow.Table.from_batches(kept, schema=reader.schema))
        return first.fetchall(), total

    def close(self) -> None:
        self.connection.close()


class AthenaExplorer:
    """Runs the same query text on Athena through boto3: start, poll, fetch."""

    POLL_SECONDS = 0.5

    def __init__(
        self, database: str, output: str, aws: AwsOptions, workgroup: str | None = None, timeout: float = 600
    ):
        S3Url.parse(output)
        self.skipped: dict[str, str] = {}  # Athena reads the files itself: none is left out here
        self.loaded: int | None = None
        self.database, self.output, self.workgroup, self.timeout = database, output, workgroup, timeout
        self.client = aws.client("athena")

    def run(self, sql: str, limit: int | None = None) -> QueryResult:
        import botocore.exceptions

        began = time.perf_counter()
        request = {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": self.database},
            "ResultConfiguration": {"OutputLocation": self.output},
        }
        if self.workgroup:
            request["WorkGroup"] = self.workgroup
        try:
            query_id = self.client.start_query_execution(**request)["QueryExecutionId"]
            execution = self._wait(query_id)
            status = execution["Status"]
            if status["State"] != "SUCCEEDED":
                raise UsageError(
                    f"Athena query {status['State']}: {status.get('StateChangeReason', 'no reason given')}"
                )
            columns, rows = self._results(query_id, limit)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise aws_error(exc, "Athena") from None
        statistics = execution.get("Statistics", {})
        details = {
            "query id": query_id,
            "state": status["State"],
            "data scanned": f"{statistics.get('DataScannedInBytes', 0) / 1e6:,.1f} MB",
            "engine time": f"{statistics.get('EngineExecutionTimeInMillis', 0) / 1000:.2f} s",
        }
        return QueryResult(sql, columns, rows, time.perf_counter() - began, details)

    def _wait(self, query_id: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            execution = self.client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            if execution["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                return execution
            if time.monotonic() > deadline:
                self.client.stop_query_execution(QueryExecutionId=query_id)
                raise UsageError(
                    f"Athena query {query_id} did not finish in {self.timeout:.0f} s; it was stopped"
                )
            time.sleep(self.POLL_SECONDS)

    def _results(self, query_id: str, limit: int | None) -> tuple[list[str], list[tuple]]:
        columns: list[str] = []
        rows: list[tuple] = []
        first_page = True
        for page in self.client.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
            result = page["ResultSet"]
            if not columns:
                columns = [c["Name"] for c in result.get("ResultSetMetadata", {}).get("ColumnInfo", [])]
            data = [tuple(cell.get("VarCharValue") for cell in row["Data"]) for row in result.get("Rows", [])]
            if first_page and data and columns and list(data[0]) == columns:
                data = data[1:]  # Athena repeats the header as the first row of a SELECT
            first_page = False
            rows.extend(data)
            if limit and len(rows) >= limit:
                return columns, rows[:limit]
        return columns, rows

    def close(self) -> None:
        pass


def workshop_conclusion(sku_result: QueryResult) -> str:
    """The workshop's finding, from the third query's answer."""
    if not sku_result.rows:
        return "No message carries properties.sku: there is nothing to train Personalize on yet."
    events = ", ".join(f"{event} ({int(count):,})" for event, count in sku_result.rows)
    total = sum(int(count) for _, count in sku_result.rows)
    return (
        f"{len(sku_result.rows)} event types carry properties.sku: {events}; {total:,} messages in all. "
        "These are the workshop's interactions (toolkit transform; a products[] array's items count too, "
        "with --item-id sku or product_id)."
    )
