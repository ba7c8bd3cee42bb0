"""`toolkit explore`: SQL over raw Segment logs, on DuckDB here or on Athena there: the engine
opened, the queries run, everything closed, and what was read accounted for."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from toolkit.aws.s3 import AwsOptions
from toolkit.errors import UsageError
from toolkit.exploring.engines import WORKSHOP_QUERIES, AthenaExplorer, DuckDBExplorer, Explorer, QueryResult
from toolkit.exploring.logs_view import sql_text
from toolkit.exploring.printable import printable
from toolkit.exploring.warehouse import WAREHOUSE_QUERIES, WarehouseExplorer
from toolkit.progress import OnProgress
from toolkit.segment.logs import LogFiles, find_log_files
from toolkit.segment.warehouse_engines import is_duckdb_file, is_postgres_url

ENGINES = ("duckdb", "athena")


@dataclass
class S3Reading:
    """What streaming the logs from S3 read: the queries fetch only the byte ranges they need."""

    bytes_read: int
    objects_read: int
    objects: int
    bytes_listed: int


@dataclass
class Loaded:
    """What was loaded into a DuckDB file (`db` with the logs): later queries skip the JSON."""

    database: str
    messages: int
    files: int


@dataclass
class ExploreResult:
    """The answers, titled, and what the engine could not read or refused."""

    queries: list[tuple[str, QueryResult]]
    workshop: bool  # the workshop's three queries (no `sql` given)
    refused: list[str] = field(default_factory=list)  # S3 keys that would be saved outside the folder
    skipped: dict[str, str] = field(default_factory=dict)  # unreadable file -> why
    s3: S3Reading | None = None
    loaded: Loaded | None = None

    def as_dict(self) -> list[dict]:
        """What `--format json` prints: one query's rows as records; several as titled results."""

        def records(result: QueryResult) -> list[dict]:
            return [dict(zip(result.columns, row, strict=False)) for row in result.rows]

        if len(self.queries) == 1:
            return records(self.queries[0][1])
        return [
            {"title": title, "sql": result.sql, "rows": records(result)} for title, result in self.queries
        ]


def explore(
    source: str | None = None,
    *,
    sql: str | None = None,
    limit: int | None = None,
    db: Path | str | None = None,
    engine: str = "duckdb",
    database: str | None = None,
    output: str | None = None,
    workgroup: str | None = None,
    aws: AwsOptions | None = None,
    on_progress: OnProgress | None = None,
    layout: str | None = None,
) -> ExploreResult:
    """Run `sql` (or, without it, the workshop's three queries) against `segment_logs`: on DuckDB
    over `source` (a folder or s3://bucket/prefix) or a DuckDB file `db` loaded earlier, or on
    Athena (`database`, results to `output`); or on Segment's warehouse when `source` is one
    (postgresql://... or PATH.duckdb: the questions asked of its tables). DuckDB's progress on
    each query goes to `on_progress`."""
    if limit is not None and limit < 1:
        raise UsageError(f"`limit` must be at least 1, not {limit}", parameters=("limit",))
    if engine not in ENGINES:
        raise UsageError(
            f"`engine` must be one of {', '.join(ENGINES)}, not {engine!r}", parameters=("engine",)
        )
    warehouse = source if source and (is_postgres_url(source) or is_duckdb_file(source)) else None
    questions = WAREHOUSE_QUERIES if warehouse else WORKSHOP_QUERIES
    queries = [("Query", sql)] if sql else [(title, sql_text(name)) for title, name in questions]
    aws = aws or AwsOptions()
    logs: LogFiles | None = None
    explorer: Explorer
    if warehouse is not None:
        warehouse_explorer = WarehouseExplorer(warehouse)
        if not sql:
            queries = [(title, warehouse_explorer.workshop_query(text)) for title, text in queries]
        explorer = warehouse_explorer
    elif engine == "athena":
        if not database or not output:
            raise UsageError(
                "`engine` athena needs `database` and `output` s3://bucket/athena-results/",
                parameters=("engine", "database", "output"),
            )
        explorer = AthenaExplorer(database, output, aws, workgroup)
    else:
        logs = find_log_files(source, aws, stream=True, layout=layout) if source else None
        explorer = DuckDBExplorer(logs, Path(db) if db else None, on_progress=on_progress)
    try:
        answers = [(title, printable(explorer.run(text, limit))) for title, text in queries]
    finally:
        explorer.close()
        if logs is not None:
            logs.close()
    result = ExploreResult(answers, workshop=not sql, skipped=dict(explorer.skipped))
    if explorer.loaded is not None and logs is not None:
        result.loaded = Loaded(str(db), explorer.loaded, len(logs.paths) - len(explorer.skipped))
    if logs is not None:
        result.refused = list(logs.refused)
        fetched = logs.filesystem
        if fetched is not None:
            result.s3 = S3Reading(
                fetched.bytes_read, len(fetched.objects_read), len(logs.paths), sum(fetched.sizes.values())
            )
    return result
