"""Will Amazon Personalize accept this interactions CSV? Every rule a file can show, plus the
diagnostics a data scientist looks at (after aws-samples' diagnose.py)."""

from __future__ import annotations

import math
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from toolkit.errors import UsageError
from toolkit.personalize.schema import REQUIRED, RESERVED, Field, interactions_schema, load_schema, schema_fields

MAX_ID_LENGTH = 256
MAX_CATEGORICAL_LENGTH = 1000
MIN_INTERACTIONS = 1000
MIN_USERS_WITH_TWO = 25
MIN_SHARE_WITH_TWO = 0.01
MAX_METADATA_COLUMNS = 5
MAX_EVENT_TYPES_AND_METADATA = 10
SECONDS_LIMIT = 10**11  # an epoch-seconds value this large is year 5138: milliseconds, surely
EXAMPLES = 3
MAX_HEADER_BYTES = 64 * 1024  # a header longer than this is no Personalize header (at most ~125 short field names)
MAX_COLUMNS = 1000
MAX_LINE_BYTES = 10_000_000  # DuckDB's reader refuses longer lines; each is a reported failure, not a crash
MEMORY_LIMIT = "1GB"  # DuckDB spills to a temporary folder past this, whatever the file's size
CHUNK = 1 << 20
SQL_TYPES = {"long": "BIGINT", "int": "INTEGER", "float": "DOUBLE", "double": "DOUBLE", "boolean": "BOOLEAN"}


@dataclass
class Check:
    rule: str
    status: str  # pass, fail, warn
    detail: str
    examples: list[str] = field(default_factory=list)


@dataclass
class ValidationReport:
    path: str
    rows: int
    checks: list[Check]
    diagnostics: dict

    @property
    def valid(self) -> bool:
        return all(check.status != "fail" for check in self.checks)

    def as_dict(self) -> dict:
        return {"path": self.path, "valid": self.valid, "rows": self.rows, "checks": [asdict(c) for c in self.checks], "diagnostics": self.diagnostics}


def validate_csv(path: str | Path, schema_path: str | Path | None = None, diagnostics: bool = True, domain: str | None = None) -> ValidationReport:
    """Check a local interactions CSV against Personalize's rules; a file that is not there or
    holds no header at all is a UsageError, anything else is reported. diagnostics=False skips
    the measures that no rule needs."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    header_line = _first_line(path)
    if not header_line.strip():
        raise UsageError(f"{path} is empty: an interactions CSV starts with a header row such as USER_ID,ITEM_ID,TIMESTAMP")
    header_text = header_line.decode("utf-8", errors="replace").rstrip("\r\n")
    header = [name.strip('"') for name in header_text.split(",")]
    if len(header) > MAX_COLUMNS:
        raise UsageError(f"{path}'s header has {len(header):,} columns; a Personalize dataset has at most a few dozen")
    fields = load_schema(schema_path) if schema_path else schema_fields(interactions_schema(header))
    checks = [_header_check(header_text, header, fields, schema_path is not None)]
    scan = scan_lines(path)
    if scan.longest[1] > MAX_LINE_BYTES:  # no CSV reader takes it: Personalize's import would fail there too
        line, size = scan.longest
        checks.append(Check("line length", "fail", f"line {line} is {size:,} bytes; a record longer than {MAX_LINE_BYTES:,} bytes is not read"))
        return ValidationReport(str(path), 0, checks, {})
    spill = tempfile.TemporaryDirectory(prefix="toolkit-validate-")
    connection = duckdb.connect()
    connection.execute(f"SET enable_progress_bar = false; SET memory_limit = '{MEMORY_LIMIT}'; SET temp_directory = '{spill.name}'")
    try:
        rows = _load(connection, path, len(header))
        checks += _structure_checks(connection)
        checks.append(_one_record_per_line(connection, scan, rows))
        by_name = {name: f"c{i}" for i, name in enumerate(header)}
        checks += _value_checks(connection, fields, by_name)
        checks += _training_checks(connection, fields, by_name)
        checks += _domain_checks(connection, by_name) if domain == "ecommerce" else []
        measures = _diagnostics(connection, by_name) if diagnostics and {"USER_ID", "ITEM_ID", "TIMESTAMP"} <= set(by_name) else {}
    finally:
        connection.close()
        spill.cleanup()
    return ValidationReport(str(path), rows, checks, measures)


def _first_line(path: Path) -> bytes:
    """The header line, read with a bound: a file with no line end in its first 64 KB has no header."""
    with open(path, "rb") as handle:
        line = handle.readline(MAX_HEADER_BYTES + 1)
    if len(line) > MAX_HEADER_BYTES and not line.endswith(b"\n"):
        raise UsageError(f"{path}: no line end in the first {MAX_HEADER_BYTES // 1024} KB; an interactions CSV starts with a header row such as USER_ID,ITEM_ID,TIMESTAMP")
    return line


@dataclass
class LineScan:
    """What one bounded pass over the lines after the header finds."""

    lines: int = 0  # lines holding more than blanks
    longest: tuple[int, int] = (0, 0)  # (line number, bytes) of the longest line
    open_quotes: list[str] = field(default_factory=list)  # the first lines with an odd number of quotes


def scan_lines(path: Path) -> LineScan:
    """Read the lines after the header in chunks, so memory stays bounded whatever a line's length."""
    scan = LineScan()
    number, head, length, content, quotes = 1, b"", 0, False, 0

    def end_line() -> None:
        scan.lines += content
        if length > scan.longest[1]:
            scan.longest = (number, length)
        if quotes % 2 and len(scan.open_quotes) < EXAMPLES:
            scan.open_quotes.append(f"line {number}: {head.decode('utf-8', errors='replace').rstrip()}")

    with open(path, "rb") as handle:
        handle.readline(MAX_HEADER_BYTES + 1)
        while chunk := handle.read(CHUNK):
            pieces = chunk.split(b"\n")
            for index, piece in enumerate(pieces):
                head += piece[: max(0, 200 - len(head))]
                length += len(piece)
                content = content or bool(piece.strip())
                quotes += piece.count(b'"')
                if index < len(pieces) - 1:  # the line ends here
                    number += 1
                    end_line()
                    head, length, content, quotes = b"", 0, False, 0
    if length:
        number += 1
        end_line()
    return scan


def _header_check(text: str, header: list[str], fields: list[Field], from_schema: bool) -> Check:
    names = [f.name for f in fields]
    problems = []
    if '"' in text:
        problems.append("the header must not be quoted")
    if header != names:
        problems.append(f"header {header} does not match the schema's fields {names}" if from_schema else f"duplicate or empty column names in {header}")
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        problems.append(f"required column(s) missing: {', '.join(missing)}")
    wrong = [f"{f.name} is {f.type}, must be {RESERVED[f.name]}" for f in fields if f.name in RESERVED and f.type != RESERVED[f.name] and not (f.name == "EVENT_VALUE" and f.type in ("float", "double"))]
    problems += wrong
    if len(set(header)) != len(header):
        problems.append("column names repeat")
    return Check("header and schema", "fail" if problems else "pass", "; ".join(problems) or f"columns {', '.join(header)}")


def _load(connection: duckdb.DuckDBPyConnection, path: Path, width: int) -> int:
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width)) + "}"
    connection.execute(
        f"""CREATE TABLE rows AS SELECT row_number() OVER () + 1 AS line, * FROM read_csv($path, header = true,
            columns = {columns}, delim = ',', quote = '"', escape = '"', auto_detect = false, strict_mode = true,
            store_rejects = true, max_line_size = {MAX_LINE_BYTES}, parallel = false)""",
        {"path": str(path)},
    )
    return connection.execute("SELECT count(*) FROM rows").fetchone()[0]


def _structure_checks(connection) -> list[Check]:
    rejects = connection.execute("SELECT error_type, line, csv_line FROM reject_errors ORDER BY line").fetchall()

    def check(rule: str, kinds: tuple[str, ...], what: str) -> Check:
        hits = [r for r in rejects if r[0] in kinds]
        examples = [f"line {line}: {text[:200]}" for _, line, text in hits[:EXAMPLES]]
        return Check(rule, "fail" if hits else "pass", f"{len(hits):,} lines {what}" if hits else "every line", examples)

    return [
        check("UTF-8 encoding", ("INVALID ENCODING", "INVALID UNICODE"), "are not UTF-8"),
        check("columns per row", ("TOO MANY COLUMNS", "MISSING COLUMNS"), "have another number of fields than the header"),
        check("quoting", ("UNQUOTED VALUE", "LINE SIZE OVER MAXIMUM", "CAST ERROR"), "are badly quoted"),
    ]


def _one_record_per_line(connection, scan: LineScan, rows: int) -> Check:
    """Every non-blank line after the header must be one record; a quote left open makes a CSV
    reader run on past line ends (DuckDB then stops without an error), so count lines ourselves."""
    rejected = connection.execute("SELECT count(DISTINCT line) FROM reject_errors").fetchone()[0]
    missing = scan.lines - rows - rejected
    if missing <= 0:
        return Check("one record per line", "pass", f"{scan.lines:,} lines")
    return Check("one record per line", "fail", f"{missing:,} lines are not read as records: a quote is left open or a field spans lines", scan.open_quotes)


def _examples(connection, condition: str, columns: str) -> list[str]:
    rows = connection.execute(f"SELECT line, {columns} FROM rows WHERE {condition} ORDER BY line LIMIT {EXAMPLES}").fetchall()
    return [f"line {row[0]}: " + ",".join("" if v is None else str(v) for v in row[1:]) for row in rows]


def _count_check(connection, rule: str, condition: str, what: str, columns: str, status: str = "fail") -> Check:
    bad = connection.execute(f"SELECT count(*) FROM rows WHERE {condition}").fetchone()[0]
    if not bad:
        return Check(rule, "pass", "every row")
    return Check(rule, status, f"{bad:,} rows {what}", _examples(connection, condition, columns))


def _value_checks(connection, fields: list[Field], by_name: dict[str, str]) -> list[Check]:
    checks = []
    all_columns = ", ".join(by_name.values())
    for name in ("USER_ID", "ITEM_ID"):
        if name in by_name:
            c = by_name[name]
            checks.append(_count_check(connection, f"{name} present, at most {MAX_ID_LENGTH} characters", f"{c} IS NULL OR {c} = '' OR length({c}) > {MAX_ID_LENGTH}", "are empty or too long", all_columns))
    if "TIMESTAMP" in by_name:
        c = by_name["TIMESTAMP"]
        checks.append(_count_check(connection, "TIMESTAMP is a long", f"TRY_CAST({c} AS BIGINT) IS NULL", "are not whole numbers", all_columns))
        checks.append(_count_check(connection, "TIMESTAMP in epoch seconds", f"TRY_CAST({c} AS BIGINT) >= {SECONDS_LIMIT}", "look like milliseconds (13 digits); divide by 1000", all_columns))
    for f in fields:
        if f.name in by_name and f.name not in ("TIMESTAMP",) and f.type in SQL_TYPES:
            c = by_name[f.name]
            null_ok = f"{c} IS NOT NULL AND {c} <> '' AND " if f.nullable else ""
            checks.append(_count_check(connection, f"{f.name} is a {f.type}", f"{null_ok}TRY_CAST({c} AS {SQL_TYPES[f.type]}) IS NULL", f"are not a {f.type}", all_columns))
    metadata = [f for f in fields if f.name not in RESERVED]
    for f in metadata:
        if f.name in by_name and f.categorical:
            c = by_name[f.name]
            checks.append(_count_check(connection, f"{f.name} values at most {MAX_CATEGORICAL_LENGTH} characters", f"length({c}) > {MAX_CATEGORICAL_LENGTH}", "are too long", all_columns))
    checks.append(Check("metadata columns", "fail" if len(metadata) > MAX_METADATA_COLUMNS else "pass", f"{len(metadata)} (at most {MAX_METADATA_COLUMNS})"))
    return checks


def _domain_checks(connection, by_name: dict[str, str]) -> list[Check]:
    """The ECOMMERCE domain's rules: EVENT_TYPE is required; its recommenders read View events
    (most viewed, viewed-also-viewed, recommended for you) and Purchase events (best sellers,
    frequently bought together)."""
    if "EVENT_TYPE" not in by_name:
        return [Check("ECOMMERCE domain: EVENT_TYPE", "fail", "the ECOMMERCE domain requires an EVENT_TYPE column")]
    present = dict(connection.execute(f"SELECT {by_name['EVENT_TYPE']}, count(*) FROM rows GROUP BY 1").fetchall())
    checks = [Check("ECOMMERCE domain: EVENT_TYPE", "pass", "present")]
    for kind, readers in (("View", "most viewed, customers who viewed X also viewed, recommended for you"), ("Purchase", "best sellers, frequently bought together")):
        count = present.get(kind, 0)
        checks.append(Check(f"ECOMMERCE domain: {kind} events", "pass" if count else "warn", f"{count:,} rows" if count else f"none: {readers} cannot be trained (map an event to {kind}: transform --domain ecommerce)"))
    return checks


def _training_checks(connection, fields: list[Field], by_name: dict[str, str]) -> list[Check]:
    if not {"USER_ID", "ITEM_ID", "TIMESTAMP"} <= set(by_name):
        return []
    user, item, stamp = by_name["USER_ID"], by_name["ITEM_ID"], by_name["TIMESTAMP"]
    records, users, users_with_two, distinct_stamps = connection.execute(
        f"""WITH distinct_records AS (SELECT DISTINCT {user} AS u, {item} AS i, {stamp} AS t FROM rows),
                 per_user AS (SELECT u, count(*) AS n FROM distinct_records GROUP BY u)
            SELECT (SELECT count(*) FROM distinct_records), count(*), count(*) FILTER (n >= 2),
                   (SELECT count(DISTINCT t) FROM distinct_records) FROM per_user"""
    ).fetchone()
    share = users_with_two / users if users else 0.0
    metadata = sum(1 for f in fields if f.name not in RESERVED)
    event_types = connection.execute(f"SELECT count(DISTINCT {by_name['EVENT_TYPE']}) FROM rows").fetchone()[0] if "EVENT_TYPE" in by_name else 0
    return [
        Check(f"at least {MIN_INTERACTIONS:,} interactions", "pass" if records >= MIN_INTERACTIONS else "fail", f"{records:,} distinct (user, item, timestamp) records"),
        Check(f"at least {MIN_USERS_WITH_TWO} users with 2+ interactions", "pass" if users_with_two >= MIN_USERS_WITH_TWO else "fail", f"{users_with_two:,} of {users:,} users"),
        Check("at least 1% of users with 2+ interactions", "pass" if share >= MIN_SHARE_WITH_TWO else "fail", f"{share:.1%}"),
        Check(f"event types + metadata columns at most {MAX_EVENT_TYPES_AND_METADATA}", "pass" if event_types + metadata <= MAX_EVENT_TYPES_AND_METADATA else "fail", f"{event_types} event types + {metadata} metadata columns"),
        Check("timestamps vary", "pass" if distinct_stamps > 1 or records == 0 else "fail", f"{distinct_stamps:,} distinct timestamps"),
        Check("recommended size (50,000 interactions, 1,000 users)", "pass" if records >= 50_000 and users >= 1_000 else "warn", f"{records:,} interactions, {users:,} users"),
    ]


def _diagnostics(connection, by_name: dict[str, str]) -> dict:
    user, item, stamp = by_name["USER_ID"], by_name["ITEM_ID"], f"TRY_CAST({by_name['TIMESTAMP']} AS BIGINT)"
    event = by_name.get("EVENT_TYPE")
    rows, users, items, duplicates, first, last = connection.execute(
        f"""SELECT count(*), count(DISTINCT {user}), count(DISTINCT {item}),
                   count(*) - (SELECT count(*) FROM (SELECT DISTINCT {user}, {item}, {by_name['TIMESTAMP']} FROM rows)),
                   min({stamp}), max({stamp}) FROM rows"""
    ).fetchone()
    if not rows:
        return {"rows": 0}
    repeats = connection.execute(f"SELECT count(*) - count(DISTINCT ({user}, {item})) FROM rows").fetchone()[0]
    per_user = connection.execute(f"SELECT avg(n), median(n), max(n) FROM (SELECT count(*) AS n FROM rows GROUP BY {user})").fetchone()
    popularity = [n for (n,) in connection.execute(f"SELECT count(*) AS n FROM rows GROUP BY {item} ORDER BY n DESC").fetchall()]
    top = max(1, math.ceil(len(popularity) / 100))
    diagnostics = {
        "rows": rows,
        "users": users,
        "items": items,
        "duplicate_user_item_timestamp": duplicates,
        "duplicate_rate": round(duplicates / rows, 4),
        "repeat_consumption_rate": round(repeats / rows, 4),
        "interactions_per_user": {"mean": round(per_user[0], 2), "median": per_user[1], "max": per_user[2]},
        "top_1pct_items_share": round(sum(popularity[:top]) / rows, 4),
        "popularity_loglog_slope": _loglog_slope(popularity),
        "time_span": _span(first, last),
    }
    if first is not None:
        hours = connection.execute(f"SELECT hour(to_timestamp({stamp})) AS h, count(*) FROM rows WHERE {stamp} < {SECONDS_LIMIT} GROUP BY h ORDER BY 2 DESC LIMIT 1").fetchone()
        weekdays = connection.execute(f"SELECT dayname(to_timestamp({stamp})) AS d, count(*) FROM rows WHERE {stamp} < {SECONDS_LIMIT} GROUP BY d ORDER BY 2 DESC LIMIT 1").fetchone()
        diagnostics["busiest_hour_utc"] = hours[0] if hours else None
        diagnostics["busiest_weekday"] = weekdays[0] if weekdays else None
    if event:
        diagnostics["event_types"] = dict(connection.execute(f"SELECT {event}, count(*) FROM rows GROUP BY 1 ORDER BY 2 DESC").fetchall())
    return diagnostics


def _loglog_slope(counts: list[int]) -> float | None:
    """Least-squares slope of log(count) against log(rank): near 0 is flat, below -1 is concentrated."""
    if len(counts) < 2:
        return None
    xs = [math.log(rank) for rank in range(1, len(counts) + 1)]
    ys = [math.log(n) for n in counts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / spread, 3) if spread else None


def _span(first: int | None, last: int | None) -> dict | None:
    if first is None or last is None or last >= SECONDS_LIMIT:
        return None
    from datetime import datetime, timezone

    return {
        "first": datetime.fromtimestamp(first, timezone.utc).isoformat(),
        "last": datetime.fromtimestamp(last, timezone.utc).isoformat(),
        "days": round((last - first) / 86400, 1),
    }
