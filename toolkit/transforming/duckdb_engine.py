"""The interactions transform on DuckDB: Segment log files in, Personalize CSV out, every message counted.

One scan classifies every message (kept, or filtered and why) into a table on disk, so memory
stays bounded however many messages there are; the kept ones are deduplicated by messageId,
expanded to one row per item, sorted and written as CSV.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import duckdb

from toolkit.errors import UsageError
from toolkit.personalize.validate import MAX_ID_LENGTH
from toolkit.progress import OnProgress, enable_query_progress, watch_statements
from toolkit.segment.lines import MAX_LINE_BYTES, drop_overlong_lines, salvage
from toolkit.segment.logs import LogFiles, file_named_in
from toolkit.transforming.items import ItemsDataset, write_items
from toolkit.transforming.summary import TransformOptions, TransformSummary
from toolkit.transforming.users import UsersDataset, write_users

FILES_PER_SCAN = 1000
MEMORY_LIMIT = "1500MB"
# JSON where the value's kind matters (a userId object is no user); VARCHAR takes any value as text.
_COLUMNS = {
    "messageId": "VARCHAR",
    "type": "VARCHAR",
    "event": "VARCHAR",
    "userId": "JSON",
    "timestamp": "VARCHAR",
    "receivedAt": "VARCHAR",
    "properties": "JSON",
}


# The scan of $files: the fields the transform reads, every line kept (unparseable ones as NULLs).
READ_LOGS_SQL = (
    "read_json($files, format = 'newline_delimited', columns = {"
    + ", ".join(f"'{name}': '{kind}'" for name, kind in _COLUMNS.items())
    + "}, ignore_errors = true, filename = true, maximum_object_size = "
    + str(MAX_LINE_BYTES)
    + ")"
)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _valid_id(expression: str) -> str:
    """SQL: is `expression` usable as a Personalize USER_ID or ITEM_ID?"""
    return (
        f"({expression} IS NOT NULL AND {expression} <> '' AND length({expression}) <= {MAX_ID_LENGTH} "
        f"AND NOT regexp_matches({expression}, '[\\x00-\\x1f]'))"
    )


def _mapped_event(options: TransformOptions) -> str:
    """SQL: the EVENT_TYPE a kept message gets (its event, or the domain's name for it)."""
    if not options.event_map:
        return "event"
    return (
        "CASE event "
        + " ".join(f"WHEN {_sql_text(k)} THEN {_sql_text(v)}" for k, v in options.event_map.items())
        + " ELSE event END"
    )


def classify_sql(options: TransformOptions, messages: str = READ_LOGS_SQL) -> str:
    """The query of the `classified` table: one row a message, with the reason it is filtered (NULL
    if kept). `messages` is a relation with the columns of READ_LOGS_SQL and `filename`."""
    events = ", ".join(_sql_text(e) for e in options.event_types)
    field = options.item_field
    return f"""
    WITH raw AS (
        SELECT *, type = 'track' AND event IN ({events}) AS candidate
        FROM {messages}
    ), fields AS (
        -- the costly parts only for candidates: most messages are filtered by type or event
        SELECT
            CASE WHEN {" AND ".join(f'"{c}" IS NULL' for c in _COLUMNS)} THEN filename END AS unparsed_file,
            messageId AS message_id, type, event, receivedAt AS received_at, candidate,
            CASE WHEN candidate AND json_type(userId) IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE')
                THEN userId ->> '$' END AS user_id,
            CASE WHEN candidate THEN TRY_CAST("timestamp" AS TIMESTAMPTZ) END AS ts,
            CASE WHEN candidate THEN list_filter(
                CASE WHEN json_type(properties, '$.products') = 'ARRAY'
                     THEN json_extract_string(properties, '$.products[*].{field}')
                     ELSE [json_extract_string(properties, '$.{field}')] END,
                lambda x: {_valid_id("x")}) END AS item_ids
        FROM raw
    ), reasons AS (
        SELECT *,
            CASE
                WHEN unparsed_file IS NOT NULL THEN 'unparsed'
                WHEN type IS DISTINCT FROM 'track' THEN 'type'
                WHEN NOT candidate OR candidate IS NULL THEN 'event type'
                WHEN user_id IS NULL OR user_id = '' THEN 'no user'
                WHEN len(item_ids) = 0 THEN 'no item'
                WHEN ts IS NULL OR NOT isfinite(ts) THEN 'bad timestamp'
                WHEN NOT {_valid_id("user_id")} THEN 'bad id'
            END AS reason
        FROM fields
    )
    SELECT reason, unparsed_file,
        CASE WHEN reason IS NULL THEN message_id END AS message_id,
        CASE WHEN reason IS NULL THEN user_id END AS user_id,
        CASE WHEN reason IS NULL THEN {_mapped_event(options)} WHEN reason = 'event type' THEN event END
            AS event,
        -- the epoch second a reader of epoch seconds expects: the floor, never rounded up
        CASE WHEN reason IS NULL THEN epoch(date_trunc('second', ts))::BIGINT END AS ts,
        CASE WHEN reason IS NULL THEN received_at END AS received_at,
        CASE WHEN reason IS NULL THEN item_ids END AS item_ids
    FROM reasons
    """


# Kept messages, one per messageId (messages without one are each their own); the copy kept is the
# first received, ties broken by content so the choice does not depend on file order. Only the
# repeated ids go through the window: sorting every kept message cost twice as long.
FIRSTS_SQL = """
    CREATE TABLE firsts AS
    WITH kept AS (SELECT * FROM classified WHERE reason IS NULL),
    repeated AS (
        SELECT message_id FROM kept WHERE message_id IS NOT NULL GROUP BY message_id HAVING count(*) > 1)
    SELECT * FROM kept WHERE message_id IS NULL OR message_id NOT IN (SELECT message_id FROM repeated)
    UNION ALL
    SELECT * EXCLUDE (copy) FROM (
        SELECT *, row_number() OVER (
            PARTITION BY message_id ORDER BY received_at NULLS LAST, ts, user_id, event, item_ids::VARCHAR
        ) AS copy
        FROM kept WHERE message_id IN (SELECT message_id FROM repeated))
    WHERE copy = 1
"""
INTERACTIONS_SQL = """
    SELECT USER_ID, ITEM_ID, EVENT_TYPE, TIMESTAMP FROM (
        SELECT user_id AS USER_ID, unnest(item_ids) AS ITEM_ID, event AS EVENT_TYPE, ts AS TIMESTAMP
        FROM firsts)
    ORDER BY TIMESTAMP, USER_ID, ITEM_ID, EVENT_TYPE
"""


class DuckDBTransform:
    """Runs the transform over local files; past MEMORY_LIMIT, DuckDB spills to the working folder.
    It names the file and line of each unreadable line (the run re-reads those files)."""

    locates_rejects = True

    def __init__(
        self,
        work_dir: Path,
        threads: int | None = None,
        on_progress: OnProgress | None = None,
        filesystem=None,
    ):
        self.work_dir = work_dir
        self.filesystem = filesystem  # aws.s3_files.S3Files when the logs are read from S3 as needed
        self.files: list[Path | str] = []
        self._fetched: dict[str, Path] = {}  # S3 objects read again in Python -> their local copy
        self.connection = duckdb.connect()
        if filesystem is not None:
            self.connection.register_filesystem(filesystem)
        self.connection.execute(
            f"SET TimeZone = 'UTC'; SET memory_limit = '{MEMORY_LIMIT}'; "
            f"SET temp_directory = '{work_dir / 'spill'}'"
        )
        if threads:
            self.connection.execute(f"SET threads = {int(threads)}")
        self.on_progress = on_progress
        enable_query_progress(self.connection)

    def classify(
        self, logs: LogFiles, options: TransformOptions, summary: TransformSummary
    ) -> dict[str, str]:
        """Classify every message; a file DuckDB cannot decompress is salvaged up to its damage
        (what was lost noted in `summary`) and the scan retried. Returns each file read -> its name."""
        self.files = list(logs.paths)
        names = {str(path): logs.name(path) for path in self.files}
        salvage_dir = self.work_dir / "salvaged"
        salvage_dir.mkdir()
        while True:
            try:
                self._classify_files(self.files, options)
                return names
            except (duckdb.IOException, duckdb.InvalidInputException) as exc:
                broken = file_named_in(str(exc), self.files)
                overlong = isinstance(exc, duckdb.InvalidInputException) and "maximum_object_size" in str(exc)
                if broken is None or not (overlong or isinstance(exc, duckdb.IOException)):
                    raise UsageError(f"cannot read the logs: {str(exc).splitlines()[0]}") from None
                self.connection.execute("DROP TABLE IF EXISTS classified")
                name = names[str(broken)]
                replacement = salvage_dir / f"{len(names)}.json"
                if overlong:
                    rejected = drop_overlong_lines(self.local_file(broken), name, replacement, MAX_LINE_BYTES)
                    summary.damaged_files[name] = (
                        f"{len(rejected)} lines over {MAX_LINE_BYTES:,} bytes left out"
                    )
                    summary.rejects.extend(rejected)
                else:
                    damage, tail = salvage(self.local_file(broken), name, replacement)
                    summary.damaged_files[name] = damage
                    if tail is not None:
                        summary.rejects.append(tail)
                self.files[self.files.index(broken)] = replacement
                names[str(replacement)] = name

    def _classify_files(self, files: Sequence[Path | str], options: TransformOptions) -> None:
        """Classify every message into the `classified` table, FILES_PER_SCAN files at a time:
        DuckDB's JSON reader holds buffers per file, and tens of thousands at once exhaust memory."""
        query = classify_sql(options)
        for start in range(0, len(files), FILES_PER_SCAN):
            batch = {"files": [str(f) for f in files[start : start + FILES_PER_SCAN]]}
            with watch_statements(self.connection, self._batch_progress(start, len(files))):
                self.connection.execute(
                    f"INSERT INTO classified {query}" if start else f"CREATE TABLE classified AS {query}",
                    batch,
                )

    def _batch_progress(self, start: int, files: int) -> OnProgress | None:
        """The progress of one batch's statement as files done of `files`."""
        report = self.on_progress
        if report is None:
            return None
        batch = min(FILES_PER_SCAN, files - start)
        return lambda done, total: report(start + batch * done // total, files)

    def reasons(self) -> Counter:
        return Counter(
            dict(
                self.connection.execute(
                    "SELECT coalesce(reason, 'kept'), count(*) FROM classified GROUP BY ALL"
                ).fetchall()
            )
        )

    def events_filtered(self, limit: int = 10) -> Counter:
        """The most common track events left out by --event-types."""
        return Counter(
            dict(
                self.connection.execute(
                    "SELECT event, count(*) FROM classified WHERE reason = 'event type' "
                    f"AND event IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {int(limit)}"
                ).fetchall()
            )
        )

    def unparsed_by_file(self) -> dict[str, int]:
        return dict(
            self.connection.execute(
                "SELECT unparsed_file, count(*) FROM classified WHERE reason = 'unparsed' GROUP BY ALL"
            ).fetchall()
        )

    def write_csv(self, path: Path) -> tuple[int, Counter]:
        """Deduplicate, expand and write the CSV; returns (messages written, interactions per event
        type)."""
        self.connection.execute(FIRSTS_SQL)
        [(written,)] = self.connection.execute("SELECT count(*) FROM firsts").fetchall()
        self.connection.execute(
            f"COPY ({INTERACTIONS_SQL}) TO {_sql_text(str(path))} (FORMAT csv, HEADER true, DELIMITER ',')"
        )
        events = Counter(
            dict(
                self.connection.execute(
                    "SELECT event, sum(len(item_ids)) FROM firsts GROUP BY ALL"
                ).fetchall()
            )
        )
        return written, Counter({k: int(v) for k, v in events.items()})

    def local_file(self, path: Path | str) -> Path:
        """A log file on this machine, for the few read again in Python: an S3 object is fetched."""
        if not str(path).startswith("s3://"):
            return Path(path)
        if str(path) not in self._fetched:  # once each, however often it is read again
            local = self.work_dir / "fetched" / f"{len(self._fetched)}.gz"
            local.parent.mkdir(exist_ok=True)
            local.write_bytes(self.filesystem.cat_file(str(path)))
            self._fetched[str(path)] = local
        return self._fetched[str(path)]

    def write_users(self, path: Path, chosen: list[str] | None) -> UsersDataset:
        return write_users(self.files, path, chosen, self.filesystem)

    def write_items(self, path: Path, item_field: str, catalog: Path | None) -> ItemsDataset:
        return write_items(self.files, path, item_field, catalog, self.filesystem)

    def close(self) -> None:
        self.connection.close()
