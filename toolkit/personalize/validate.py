"""Will Amazon Personalize accept this dataset (interactions, users or items CSV)? Every rule a
file can show, the rules across datasets, and the diagnostics a data scientist looks at, with the
warnings of aws-samples' diagnose.py at its thresholds."""

from __future__ import annotations

import math
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC
from pathlib import Path

import duckdb

from toolkit.errors import UsageError
from toolkit.personalize.check_ids import check_id
from toolkit.personalize.line_scan import LineScan, scan_lines
from toolkit.personalize.schema import (
    RESERVED,
    Field,
    dataset_schema,
    interactions_schema,
    load_schema,
    schema_fields,
)

MAX_ID_LENGTH = 256
MAX_CATEGORICAL_LENGTH = 1000
MAX_TEXTUAL_LENGTH = 20_000
MIN_INTERACTIONS = 1000
MIN_USERS_WITH_TWO = 25
MIN_SHARE_WITH_TWO = 0.01
MAX_EVENT_TYPES_AND_METADATA = 10
SECONDS_LIMIT = 10**11  # an epoch-seconds value this large is year 5138: milliseconds, surely
EXAMPLES = 3
MAX_HEADER_BYTES = (
    64 * 1024
)  # a header longer than this is no Personalize header (at most ~125 short field names)
MAX_COLUMNS = 1000
MAX_LINE_BYTES = 10_000_000  # DuckDB's reader refuses longer lines; each is a reported failure, not a crash
MEMORY_LIMIT = "1GB"  # DuckDB spills to a temporary folder past this, whatever the file's size
SQL_TYPES = {"long": "BIGINT", "int": "INTEGER", "float": "DOUBLE", "double": "DOUBLE", "boolean": "BOOLEAN"}
# diagnose.py's thresholds (aws-samples/amazon-personalize-samples, diagnose.yaml)
DIAGNOSE = {
    "dup_rate": 0.1,
    "repeat_rate": 0.5,
    "coldstart_rate": 0.1,
    "missing_rate": 0.1,
    "loglog_min_categories": 30,
    "loglog_fit": 5.0,
    "head_heavy": -2.0,
    "tail_heavy": -0.75,
}


@dataclass(frozen=True)
class DatasetRules:
    """What one kind of dataset must hold."""

    kind: str
    required: dict[str, str]  # field -> type
    reserved: dict[str, tuple[str, ...]]  # field -> the types Personalize takes for it
    metadata: tuple[int, int]  # (fewest, most) metadata fields
    example: str  # a header, for messages

    def is_metadata(self, name: str) -> bool:
        return name not in (RESERVED if self.kind == "interactions" else self.required)


RULES = {
    "interactions": DatasetRules(
        "interactions",
        {"USER_ID": "string", "ITEM_ID": "string", "TIMESTAMP": "long"},
        {**{name: (kind,) for name, kind in RESERVED.items()}, "EVENT_VALUE": ("float", "double")},
        (0, 5),
        "USER_ID,ITEM_ID,TIMESTAMP",
    ),
    "users": DatasetRules(
        "users", {"USER_ID": "string"}, {"USER_ID": ("string",)}, (1, 25), "USER_ID,MEMBERSHIP"
    ),
    "items": DatasetRules(
        "items",
        {"ITEM_ID": "string"},
        {"ITEM_ID": ("string",), "CREATION_TIMESTAMP": ("long", "float", "double")},
        (1, 100),
        "ITEM_ID,PRICE,CATEGORY_L1",
    ),
}


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
    dataset: str = "interactions"

    @property
    def valid(self) -> bool:
        return all(check.status != "fail" for check in self.checks)

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "dataset": self.dataset,
            "valid": self.valid,
            "rows": self.rows,
            "checks": [{"id": check_id(self.dataset, c.rule), **asdict(c)} for c in self.checks],
            "diagnostics": self.diagnostics,
        }


def read_header(path: str | Path) -> list[str]:
    """A CSV's column names; a file that is not there or holds no header is a UsageError."""
    return _header(Path(path))[1]


def detect_dataset(header: list[str]) -> str:
    """Which dataset a header is: interactions have a TIMESTAMP or both ids; users only USER_ID;
    items only ITEM_ID."""
    if "TIMESTAMP" in header or {"USER_ID", "ITEM_ID"} <= set(header):
        return "interactions"
    return "users" if "USER_ID" in header else "items" if "ITEM_ID" in header else "interactions"


def schema_for_csv(path: str | Path, dataset: str | None = None) -> dict:
    """The Avro schema for a dataset CSV: interactions from its header; users and items from their
    values too (a column of numbers is a float, CREATION_TIMESTAMP a long, PRODUCT_DESCRIPTION
    textual, anything else a categorical string)."""
    path = Path(path)
    header = read_header(path)
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise UsageError(
            f"{path}: the header names {', '.join(repeated[:5])} more than once; a schema has one field"
            " a column, and Personalize refuses a CSV whose columns repeat"
        )
    rules = RULES[dataset or detect_dataset(header)]
    if rules.kind == "interactions":
        return interactions_schema(header)
    key = next(iter(rules.required))
    with _connection() as connection:
        _load(connection, path, len(header))
        [numeric] = connection.execute(
            "SELECT "
            + ", ".join(
                f"coalesce(bool_and(TRY_CAST(c{i} AS DOUBLE) IS NOT NULL) FILTER (WHERE c{i} <> ''), false)"
                for i in range(len(header))
            )
            + " FROM rows"
        ).fetchall()
    fields = []
    for name, number in zip(header, numeric, strict=True):
        if name == key:
            continue
        if name in rules.reserved:
            fields.append(Field(name, rules.reserved[name][0], nullable=True))
        elif name in DOMAIN_ITEM_FIELDS and rules.kind == "items":
            fields.append(DOMAIN_ITEM_FIELDS[name])
        else:
            fields.append(
                Field(name, "float", nullable=True)
                if number
                else Field(name, "string", nullable=True, categorical=True)
            )
    return dataset_schema(rules.kind.capitalize(), key, fields)


def validate_csv(
    path: str | Path,
    schema_path: str | Path | None = None,
    diagnostics: bool = True,
    domain: str | None = None,
    dataset: str | None = None,
) -> ValidationReport:
    """Check a local dataset CSV against Personalize's rules; a file that is not there or holds no
    header at all is a UsageError, anything else is reported. `dataset` is interactions, users or
    items (default: told by the header). The schema is `schema_path`, else the .avsc of the same
    name beside the CSV, else inferred from the header. diagnostics=False skips the measures that
    no rule needs."""
    path = Path(path)
    header_text, header = _header(path)
    rules = RULES[dataset or detect_dataset(header)]
    schema_path = schema_path or (path.with_suffix(".avsc") if path.with_suffix(".avsc").is_file() else None)
    fields = load_schema(schema_path) if schema_path else _inferred_fields(header, rules)
    checks = [_header_check(header_text, header, fields, rules, schema_path)]
    scan = scan_lines(path, header_bytes=MAX_HEADER_BYTES, examples=EXAMPLES)
    if scan.longest[1] > MAX_LINE_BYTES:  # no CSV reader takes it: Personalize's import would fail there too
        line, size = scan.longest
        checks.append(
            Check(
                "line length",
                "fail",
                f"line {line} is {size:,} bytes; a record longer than {MAX_LINE_BYTES:,} bytes is not read",
            )
        )
        return ValidationReport(str(path), 0, checks, {}, rules.kind)
    with _connection() as connection:
        rows = _load(connection, path, len(header))
        checks += _structure_checks(connection)
        checks.append(_one_record_per_line(connection, scan, rows))
        by_name = {name: f"c{i}" for i, name in enumerate(header)}
        checks += _value_checks(connection, fields, by_name, rules)
        if rules.kind == "interactions":
            checks += _training_checks(connection, fields, by_name)
            checks += _domain_checks(connection, by_name) if domain == "ecommerce" else []
            checks += _diagnose_interactions(connection, by_name)
            measures = (
                _diagnostics(connection, by_name)
                if diagnostics and {"USER_ID", "ITEM_ID", "TIMESTAMP"} <= set(by_name)
                else {}
            )
        else:
            checks += _unique_keys(connection, by_name, rules)
            checks += _items_domain_checks(fields) if domain == "ecommerce" and rules.kind == "items" else []
            fits = [
                _popularity_check(connection, f"{f.name} values", by_name[f.name], "|")
                for f in fields
                if f.categorical and f.name in by_name
            ]
            checks += [
                check for check in fits if check.status == "warn"
            ]  # a field's curve is news only when diagnose.py would warn
            measures = _metadata_diagnostics(connection, fields, by_name) if diagnostics else {}
    return ValidationReport(str(path), rows, checks, measures, rules.kind)


class _connection:
    """A DuckDB connection with bounded memory, spilling to a temporary folder removed after."""

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        self.spill = tempfile.TemporaryDirectory(prefix="toolkit-validate-")
        self.connection = duckdb.connect()
        self.connection.execute(
            f"SET enable_progress_bar = false; SET memory_limit = '{MEMORY_LIMIT}'; "
            f"SET temp_directory = '{self.spill.name}'"
        )
        return self.connection

    def __exit__(self, *exc) -> None:
        self.connection.close()
        self.spill.cleanup()


def _header(path: Path) -> tuple[str, list[str]]:
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    header_line = _first_line(path)
    if not header_line.strip():
        raise UsageError(
            f"{path} is empty: a Personalize dataset CSV starts with a header row such as "
            "USER_ID,ITEM_ID,TIMESTAMP"
        )
    header_text = header_line.decode("utf-8", errors="replace").rstrip("\r\n")
    header = [name.strip('"') for name in header_text.split(",")]
    if len(header) > MAX_COLUMNS:
        raise UsageError(
            f"{path}'s header has {len(header):,} columns; a Personalize dataset has at most a few dozen"
        )
    return header_text, header


# Items fields the ECOMMERCE domain names, typed as it names them, when no schema says otherwise
DOMAIN_ITEM_FIELDS = {
    "PRICE": Field("PRICE", "float", nullable=True),
    "PRODUCT_DESCRIPTION": Field("PRODUCT_DESCRIPTION", "string", nullable=True, textual=True),
}


def _inferred_fields(header: list[str], rules: DatasetRules) -> list[Field]:
    """Without a schema: reserved fields typed as Personalize wants, others categorical strings."""
    if rules.kind == "interactions":
        return schema_fields(interactions_schema(header))
    known = DOMAIN_ITEM_FIELDS if rules.kind == "items" else {}
    return [
        Field(name, rules.reserved[name][0], nullable=name not in rules.required)
        if name in rules.reserved
        else known.get(name) or Field(name, "string", nullable=True, categorical=True)
        for name in header
    ]


def _first_line(path: Path) -> bytes:
    """The header line, read with a bound: a file with no line end in its first 64 KB has no header."""
    with open(path, "rb") as handle:
        line = handle.readline(MAX_HEADER_BYTES + 1)
    if len(line) > MAX_HEADER_BYTES and not line.endswith(b"\n"):
        raise UsageError(
            f"{path}: no line end in the first {MAX_HEADER_BYTES // 1024} KB; a Personalize dataset CSV "
            "starts with a header row such as USER_ID,ITEM_ID,TIMESTAMP"
        )
    return line


def _header_check(
    text: str, header: list[str], fields: list[Field], rules: DatasetRules, schema_path
) -> Check:
    names = [f.name for f in fields]
    problems = []
    if '"' in text:
        problems.append("the header must not be quoted")
    if header != names:
        problems.append(
            f"header {header} does not match the schema's fields {names}"
            if schema_path
            else f"duplicate or empty column names in {header}"
        )
    missing = [name for name in rules.required if name not in header]
    if missing:
        problems.append(
            f"required column(s) missing for a {rules.kind} dataset: {', '.join(missing)} (a header such "
            f"as {rules.example})"
        )
    problems += [
        f"{f.name} is {f.type}, must be {' or '.join(rules.reserved[f.name])}"
        for f in fields
        if f.name in rules.reserved and f.type not in rules.reserved[f.name]
    ]
    problems += [
        f"{f.name} is textual: only an Items dataset has textual fields"
        for f in fields
        if f.textual and rules.kind != "items"
    ]
    problems += [
        f"{f.name} is {f.type}: a categorical or textual field is a string"
        for f in fields
        if (f.categorical or f.textual) and f.type != "string"
    ]
    if len(set(header)) != len(header):
        problems.append("column names repeat")
    schema = f", as in {Path(schema_path).name}" if schema_path else ""
    return Check(
        "header and schema",
        "fail" if problems else "pass",
        "; ".join(problems) or f"{rules.kind}: columns {', '.join(header)}{schema}",
    )


def _load(connection: duckdb.DuckDBPyConnection, path: Path, width: int) -> int:
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width)) + "}"
    connection.execute(
        f"""CREATE TABLE rows AS SELECT row_number() OVER () + 1 AS line, * FROM read_csv($path,
            header = true, columns = {columns}, delim = ',', quote = '"', escape = '"', auto_detect = false,
            strict_mode = true, store_rejects = true, max_line_size = {MAX_LINE_BYTES}, parallel = false)""",
        {"path": str(path)},
    )
    [(rows,)] = connection.execute("SELECT count(*) FROM rows").fetchall()
    return rows


def _structure_checks(connection) -> list[Check]:
    rejects = connection.execute(
        "SELECT error_type, line, csv_line FROM reject_errors ORDER BY line"
    ).fetchall()

    def check(rule: str, kinds: tuple[str, ...], what: str) -> Check:
        hits = [r for r in rejects if r[0] in kinds]
        examples = [f"line {line}: {text[:200]}" for _, line, text in hits[:EXAMPLES]]
        return Check(
            rule,
            "fail" if hits else "pass",
            f"{len(hits):,} lines {what}" if hits else "every line",
            examples,
        )

    return [
        check("UTF-8 encoding", ("INVALID ENCODING", "INVALID UNICODE"), "are not UTF-8"),
        check(
            "columns per row",
            ("TOO MANY COLUMNS", "MISSING COLUMNS"),
            "have another number of fields than the header",
        ),
        check("quoting", ("UNQUOTED VALUE", "LINE SIZE OVER MAXIMUM", "CAST ERROR"), "are badly quoted"),
    ]


def _one_record_per_line(connection, scan: LineScan, rows: int) -> Check:
    """Every non-blank line after the header must be one record; a quote left open makes a CSV
    reader run on past line ends (DuckDB then stops without an error), so count lines ourselves."""
    rejected = connection.execute("SELECT count(DISTINCT line) FROM reject_errors").fetchone()[0]
    missing = scan.lines - rows - rejected
    if missing <= 0:
        return Check("one record per line", "pass", f"{scan.lines:,} lines")
    return Check(
        "one record per line",
        "fail",
        f"{missing:,} lines are not read as records: a quote is left open or a field spans lines",
        scan.open_quotes,
    )


def _examples(connection, condition: str, columns: str) -> list[str]:
    rows = connection.execute(
        f"SELECT line, {columns} FROM rows WHERE {condition} ORDER BY line LIMIT {EXAMPLES}"
    ).fetchall()
    return [f"line {row[0]}: " + ",".join("" if v is None else str(v) for v in row[1:]) for row in rows]


def _count_check(
    connection, rule: str, condition: str, what: str, columns: str, status: str = "fail"
) -> Check:
    bad = connection.execute(f"SELECT count(*) FROM rows WHERE {condition}").fetchone()[0]
    if not bad:
        return Check(rule, "pass", "every row")
    return Check(rule, status, f"{bad:,} rows {what}", _examples(connection, condition, columns))


def _value_checks(
    connection, fields: list[Field], by_name: dict[str, str], rules: DatasetRules
) -> list[Check]:
    checks = []
    all_columns = ", ".join(by_name.values())
    for name in ("USER_ID", "ITEM_ID"):
        if name in by_name:
            c = by_name[name]
            checks.append(
                _count_check(
                    connection,
                    f"{name} present, at most {MAX_ID_LENGTH} characters",
                    f"{c} IS NULL OR {c} = '' OR length({c}) > {MAX_ID_LENGTH}",
                    "are empty or too long",
                    all_columns,
                )
            )
    if "TIMESTAMP" in by_name:
        c = by_name["TIMESTAMP"]
        checks.append(
            _count_check(
                connection,
                "TIMESTAMP is a long",
                f"TRY_CAST({c} AS BIGINT) IS NULL",
                "are not whole numbers",
                all_columns,
            )
        )
    for name in ("TIMESTAMP", "CREATION_TIMESTAMP"):
        if name in by_name:
            c = by_name[name]
            checks.append(
                _count_check(
                    connection,
                    f"{name} in epoch seconds",
                    f"TRY_CAST({c} AS DOUBLE) >= {SECONDS_LIMIT}",
                    "look like milliseconds (13 digits); divide by 1000",
                    all_columns,
                )
            )
    for f in fields:
        if f.name in by_name and f.name not in ("TIMESTAMP",) and f.type in SQL_TYPES:
            c = by_name[f.name]
            null_ok = f"{c} IS NOT NULL AND {c} <> '' AND " if f.nullable else ""
            checks.append(
                _count_check(
                    connection,
                    f"{f.name} is a {f.type}",
                    f"{null_ok}TRY_CAST({c} AS {SQL_TYPES[f.type]}) IS NULL",
                    f"are not a {f.type}",
                    all_columns,
                )
            )
    metadata = [f for f in fields if rules.is_metadata(f.name)]
    for f in metadata:
        if f.name not in by_name:
            continue
        c = by_name[f.name]
        if f.categorical:
            checks.append(
                _count_check(
                    connection,
                    f"{f.name} values at most {MAX_CATEGORICAL_LENGTH} characters",
                    f"length({c}) > {MAX_CATEGORICAL_LENGTH}",
                    "are too long",
                    all_columns,
                )
            )
            checks.append(
                _count_check(
                    connection,
                    f"{f.name}: no empty value between |",
                    f"{c} LIKE '%||%' OR {c} LIKE '|%' OR {c} LIKE '%|'",
                    "have an empty value beside a |",
                    all_columns,
                    status="warn",
                )
            )
        if f.textual:
            checks.append(
                _count_check(
                    connection,
                    f"{f.name} text at most {MAX_TEXTUAL_LENGTH:,} characters",
                    f"length({c}) > {MAX_TEXTUAL_LENGTH}",
                    "are too long",
                    all_columns,
                )
            )
    fewest, most = rules.metadata
    checks.append(
        Check(
            "metadata columns",
            "fail" if not fewest <= len(metadata) <= most else "pass",
            f"{len(metadata)} ({fewest} to {most} for {rules.kind})",
        )
    )
    return checks


def _unique_keys(connection, by_name: dict[str, str], rules: DatasetRules) -> list[Check]:
    """A Users or Items dataset holds one row an id; Personalize keeps only one of several."""
    key = next(iter(rules.required))
    if key not in by_name:
        return []
    repeated = connection.execute(
        f"SELECT count(*) FROM (SELECT {by_name[key]} FROM rows GROUP BY 1 HAVING count(*) > 1)"
    ).fetchone()[0]
    examples = [
        f"{key} {v!r}"
        for (v,) in connection.execute(
            f"SELECT {by_name[key]} FROM rows GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT {EXAMPLES}"
        ).fetchall()
    ]
    return [
        Check(
            f"one row per {key}",
            "warn" if repeated else "pass",
            f"{repeated:,} ids on several rows: Personalize keeps one" if repeated else "every id once",
            examples,
        )
    ]


def _items_domain_checks(fields: list[Field]) -> list[Check]:
    """The ECOMMERCE domain's Items schema: PRICE (float) and CATEGORY_L1 (categorical string) required."""
    by_name = {f.name: f for f in fields}
    problems = []
    if "PRICE" not in by_name or by_name["PRICE"].type not in ("float", "double"):
        problems.append("PRICE (float) is required")
    if "CATEGORY_L1" not in by_name or not by_name["CATEGORY_L1"].categorical:
        problems.append("CATEGORY_L1 (categorical string) is required")
    return [
        Check(
            "ECOMMERCE domain: Items fields",
            "fail" if problems else "pass",
            "; ".join(problems) or "PRICE and CATEGORY_L1 present",
        )
    ]


def _domain_checks(connection, by_name: dict[str, str]) -> list[Check]:
    """The ECOMMERCE domain's rules: EVENT_TYPE is required; its recommenders read View events
    (most viewed, viewed-also-viewed, recommended for you) and Purchase events (best sellers,
    frequently bought together)."""
    if "EVENT_TYPE" not in by_name:
        return [
            Check(
                "ECOMMERCE domain: EVENT_TYPE", "fail", "the ECOMMERCE domain requires an EVENT_TYPE column"
            )
        ]
    present = dict(
        connection.execute(f"SELECT {by_name['EVENT_TYPE']}, count(*) FROM rows GROUP BY 1").fetchall()
    )
    checks = [Check("ECOMMERCE domain: EVENT_TYPE", "pass", "present")]
    for kind, readers in (
        ("View", "most viewed, customers who viewed X also viewed, recommended for you"),
        ("Purchase", "best sellers, frequently bought together"),
    ):
        count = present.get(kind, 0)
        checks.append(
            Check(
                f"ECOMMERCE domain: {kind} events",
                "pass" if count else "warn",
                f"{count:,} rows"
                if count
                else f"none: {readers} cannot be trained (map an event to {kind}: transform --domain "
                "ecommerce)",
            )
        )
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
    event_types = (
        connection.execute(f"SELECT count(DISTINCT {by_name['EVENT_TYPE']}) FROM rows").fetchone()[0]
        if "EVENT_TYPE" in by_name
        else 0
    )
    return [
        Check(
            f"at least {MIN_INTERACTIONS:,} interactions",
            "pass" if records >= MIN_INTERACTIONS else "fail",
            f"{records:,} distinct (user, item, timestamp) records",
        ),
        Check(
            f"at least {MIN_USERS_WITH_TWO} users with 2+ interactions",
            "pass" if users_with_two >= MIN_USERS_WITH_TWO else "fail",
            f"{users_with_two:,} of {users:,} users",
        ),
        Check(
            "at least 1% of users with 2+ interactions",
            "pass" if share >= MIN_SHARE_WITH_TWO else "fail",
            f"{share:.1%}",
        ),
        Check(
            f"event types + metadata columns at most {MAX_EVENT_TYPES_AND_METADATA}",
            "pass" if event_types + metadata <= MAX_EVENT_TYPES_AND_METADATA else "fail",
            f"{event_types} event types + {metadata} metadata columns",
        ),
        Check(
            "timestamps vary",
            "pass" if distinct_stamps > 1 or records == 0 else "fail",
            f"{distinct_stamps:,} distinct timestamps",
        ),
        Check(
            "recommended size (50,000 interactions, 1,000 users)",
            "pass" if records >= 50_000 and users >= 1_000 else "warn",
            f"{records:,} interactions, {users:,} users",
        ),
    ]


def _diagnose_interactions(connection, by_name: dict[str, str]) -> list[Check]:
    """diagnose.py's warnings on an interactions table: duplicates, repeated consumption, and the
    popularity curve of items and activity curve of users."""
    if not {"USER_ID", "ITEM_ID", "TIMESTAMP"} <= set(by_name):
        return []
    user, item, stamp = by_name["USER_ID"], by_name["ITEM_ID"], by_name["TIMESTAMP"]
    rows, distinct_records, distinct_pairs = connection.execute(
        f"""SELECT (SELECT count(*) FROM rows),
                   (SELECT count(*) FROM (SELECT DISTINCT {user}, {item}, {stamp} FROM rows)),
                   (SELECT count(*) FROM (SELECT DISTINCT {user}, {item} FROM rows))"""
    ).fetchone()
    if not rows:
        return []
    duplicate_rate = (rows - distinct_records) / rows
    repeat_rate = (distinct_records - distinct_pairs) / distinct_records
    return [
        _rate_check(
            "duplicate (user, item, timestamp) rate",
            duplicate_rate,
            DIAGNOSE["dup_rate"],
            "only one event counts at the same user, item and timestamp",
        ),
        _rate_check(
            "repeated consumption rate",
            repeat_rate,
            DIAGNOSE["repeat_rate"],
            "consider keeping only each user's last interaction with an item, or look for colliding ITEM_IDs",
        ),
        _popularity_check(connection, "item popularity", item),
        _popularity_check(connection, "user activity", user),
    ]


def _rate_check(rule: str, rate: float, threshold: float, advice: str) -> Check:
    high = rate > threshold
    return Check(
        f"{rule} at most {threshold:.0%}",
        "warn" if high else "pass",
        f"{rate:.1%}" + (f": {advice}" if high else ""),
    )


@dataclass
class LogLogFit:
    """diagnose.py's straight line through log10(frequency) against log10(rank)."""

    values: int  # distinct values fitted
    slope: float | None
    intercept: float | None
    residual: float | None  # sum of squared residuals, log10 units (diagnose.py's "rmse")

    def verdict(self) -> tuple[str, str]:
        """("pass" or "warn", what diagnose.py would say): with more than 30 values and squared
        residuals under 5, a slope above -0.75 is a heavy tail and one below -2 head-heavy."""
        if self.values <= DIAGNOSE["loglog_min_categories"] or self.slope is None:
            return "pass", f"{self.values:,} distinct values: too few for a log-log fit"
        detail = f"log-log slope {self.slope:.2f} over {self.values:,} values"
        if self.residual is None or self.residual >= DIAGNOSE["loglog_fit"]:
            return "pass", f"{detail}; no straight-line fit (squared residuals {self.residual:.1f})"
        if self.slope > DIAGNOSE["tail_heavy"]:
            return (
                "warn",
                f"{detail}, flatter than {DIAGNOSE['tail_heavy']}: the values are about equally common, "
                "with no popular head (diagnose.py's heavy tail), usually hard to learn; consider rolling "
                "values up into fewer, coarser ones",
            )
        if self.slope < DIAGNOSE["head_heavy"]:
            return (
                "warn",
                f"{detail}, steeper than {DIAGNOSE['head_heavy']}: a few values hold most of the rows "
                "(head-heavy), usually uninteresting or spammy; consider finer values or capping the "
                "dominant ones",
            )
        return "pass", detail


def loglog_fit(connection, column: str, table: str = "rows", split: str | None = None) -> LogLogFit:
    """The fit of a column's value frequencies (each |-separated value counted when `split`)."""
    values = f"unnest(string_split({column}, '{split}'))" if split else column
    return LogLogFit(
        *connection.execute(
            f"""WITH frequencies AS (
                    SELECT count(*) AS n FROM (
                        SELECT {values} AS v FROM {table} WHERE {column} IS NOT NULL AND {column} <> '')
                    GROUP BY v),
                 ranked AS (
                    SELECT log10(n) AS y, log10(row_number() OVER (ORDER BY n DESC)) AS x FROM frequencies)
            SELECT count(*), regr_slope(y, x), regr_intercept(y, x),
                   regr_syy(y, x) * (1 - coalesce(regr_r2(y, x), 1))
            FROM ranked"""
        ).fetchone()
    )


def _popularity_check(connection, what: str, column: str, split: str | None = None) -> Check:
    """diagnose.py's warning on a categorical column's value frequencies (see LogLogFit.verdict)."""
    status, detail = loglog_fit(connection, column, split=split).verdict()
    return Check(f"{what}: shape of the value frequencies", status, detail)


def _metadata_diagnostics(connection, fields: list[Field], by_name: dict[str, str]) -> dict:
    """A Users or Items dataset's measures: rows, and each metadata field's missing share and
    distinct values."""
    rows = connection.execute("SELECT count(*) FROM rows").fetchone()[0]
    measures: dict = {"rows": rows}
    for f in fields:
        if f.name in by_name and rows:
            c = by_name[f.name]
            missing, distinct = connection.execute(
                f"SELECT count(*) FILTER ({c} IS NULL OR {c} = ''), count(DISTINCT {c}) FROM rows"
            ).fetchone()
            measures[f.name] = {"missing": round(missing / rows, 4), "distinct": distinct}
    return measures


@dataclass
class ValidationResult:
    """Every dataset's report: the CSV asked about first, then the Users and Items CSVs beside it."""

    reports: list[ValidationReport]

    @property
    def valid(self) -> bool:
        return all(report.valid for report in self.reports)

    def as_dict(self) -> dict:
        """What `toolkit validate --json` prints: one dataset's report, or every dataset's."""
        if len(self.reports) == 1:
            return self.reports[0].as_dict()
        return {"valid": self.valid, "datasets": [report.as_dict() for report in self.reports]}


def validate(
    csv: str | Path,
    *,
    dataset: str | None = None,
    schema: str | Path | None = None,
    domain: str | None = None,
    users: str | Path | None = None,
    items: str | Path | None = None,
) -> ValidationResult:
    """Check a local dataset CSV against Personalize's rules (and `domain`'s, e.g. ecommerce) and,
    for an interactions CSV, the `users` and `items` CSVs beside it, with the rules across them
    added to the interactions' report. `dataset` is interactions, users or items (default: told by
    the header); `schema` an .avsc (default: the one beside the CSV, else inferred)."""
    report = validate_csv(csv, schema, domain=domain, dataset=dataset)
    if not (users or items):
        return ValidationResult([report])
    if report.dataset != "interactions":
        raise UsageError(
            f"`users` and `items` go with an interactions CSV; {csv} is a {report.dataset} dataset",
            parameters=("users", "items"),
        )
    return ValidationResult([report, *with_datasets(report, csv, users, items, domain)])


def with_datasets(
    report: ValidationReport, path: str | Path, users=None, items=None, domain: str | None = None
) -> list[ValidationReport]:
    """The Users and Items CSVs' own reports; the rules across them and the interactions CSV at
    `path` are added to that CSV's `report`."""
    others = [
        validate_csv(other, domain=domain, dataset=kind)
        for kind, other in (("users", users), ("items", items))
        if other
    ]
    if users or items:
        report.checks += cross_dataset_checks(path, users, items)
    return others


def cross_dataset_checks(
    interactions: str | Path, users: str | Path | None = None, items: str | Path | None = None
) -> list[Check]:
    """What Personalize's data insights and diagnose.py measure across datasets: the share of
    interactions whose user (item) has no row in Users (Items), and the share of Users (Items)
    rows with no interaction (cold start); each above 10% is a warning."""
    checks = []
    with _connection() as connection:
        for kind, path, key in (("Users", users, "USER_ID"), ("Items", items, "ITEM_ID")):
            if path is None:
                continue
            if key not in read_header(path) or key not in read_header(interactions):
                checks.append(
                    Check(f"interactions against {kind}", "fail", f"both files need a {key} column")
                )
                continue
            read = (
                "read_csv($path, header = true, all_varchar = true, ignore_errors = true, "
                "strict_mode = false)"
            )
            [(missing, total, cold, rows)] = connection.execute(
                f"""WITH used AS (
                            SELECT {key} AS id, count(*) AS n FROM {read.replace("$path", "$interactions")}
                            GROUP BY 1),
                         known AS (SELECT DISTINCT {key} AS id FROM {read.replace("$path", "$dataset")})
                    SELECT (SELECT coalesce(sum(n), 0) FROM used ANTI JOIN known USING (id)),
                           (SELECT coalesce(sum(n), 0) FROM used),
                           (SELECT count(*) FROM known ANTI JOIN used USING (id)),
                           (SELECT count(*) FROM known)""",
                {"interactions": str(interactions), "dataset": str(path)},
            ).fetchall()
            noun = kind.lower()[:-1]
            checks.append(
                _rate_check(
                    f"interactions whose {noun} is missing from {kind}",
                    missing / total if total else 0.0,
                    DIAGNOSE["missing_rate"],
                    f"{missing:,} of {total:,} interactions have no {noun} metadata",
                )
            )
            checks.append(
                _rate_check(
                    f"cold {noun}s ({kind} rows with no interaction)",
                    cold / rows if rows else 0.0,
                    DIAGNOSE["coldstart_rate"],
                    f"{cold:,} of {rows:,} {noun}s have no interactions to learn from",
                )
            )
    return checks


def _diagnostics(connection, by_name: dict[str, str]) -> dict:
    user, item, stamp = by_name["USER_ID"], by_name["ITEM_ID"], f"TRY_CAST({by_name['TIMESTAMP']} AS BIGINT)"
    event = by_name.get("EVENT_TYPE")
    rows, users, items, duplicates, first, last = connection.execute(
        f"""SELECT count(*), count(DISTINCT {user}), count(DISTINCT {item}),
                   count(*) - (SELECT count(*) FROM (
                       SELECT DISTINCT {user}, {item}, {by_name["TIMESTAMP"]} FROM rows)),
                   min({stamp}), max({stamp}) FROM rows"""
    ).fetchone()
    if not rows:
        return {"rows": 0}
    repeats = connection.execute(f"SELECT count(*) - count(DISTINCT ({user}, {item})) FROM rows").fetchone()[
        0
    ]
    per_user = connection.execute(
        f"SELECT avg(n), median(n), max(n) FROM (SELECT count(*) AS n FROM rows GROUP BY {user})"
    ).fetchone()
    popularity = [
        n
        for (n,) in connection.execute(
            f"SELECT count(*) AS n FROM rows GROUP BY {item} ORDER BY n DESC"
        ).fetchall()
    ]
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
        hours = connection.execute(
            f"SELECT hour(to_timestamp({stamp})) AS h, count(*) FROM rows WHERE {stamp} < {SECONDS_LIMIT} "
            "GROUP BY h ORDER BY 2 DESC LIMIT 1"
        ).fetchone()
        weekdays = connection.execute(
            f"SELECT dayname(to_timestamp({stamp})) AS d, count(*) FROM rows WHERE {stamp} < {SECONDS_LIMIT} "
            "GROUP BY d ORDER BY 2 DESC LIMIT 1"
        ).fetchone()
        diagnostics["busiest_hour_utc"] = hours[0] if hours else None
        diagnostics["busiest_weekday"] = weekdays[0] if weekdays else None
    if event:
        diagnostics["event_types"] = dict(
            connection.execute(f"SELECT {event}, count(*) FROM rows GROUP BY 1 ORDER BY 2 DESC").fetchall()
        )
    return diagnostics


def _loglog_slope(counts: list[int]) -> float | None:
    """Least-squares slope of log(count) against log(rank): near 0 is flat, below -1 is concentrated."""
    if len(counts) < 2:
        return None
    xs = [math.log(rank) for rank in range(1, len(counts) + 1)]
    ys = [math.log(n) for n in counts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    return (
        round(sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread, 3) if spread else None
    )


def _span(first: int | None, last: int | None) -> dict | None:
    if first is None or last is None or last >= SECONDS_LIMIT:
        return None
    from datetime import datetime

    return {
        "first": datetime.fromtimestamp(first, UTC).isoformat(),
        "last": datetime.fromtimestamp(last, UTC).isoformat(),
        "days": round((last - first) / 86400, 1),
    }
