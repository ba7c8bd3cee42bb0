"""The `segment_logs` view on DuckDB, translated mechanically from the Athena DDL in sql/.

Athena's table is the one source: its columns and struct fields (Hive types), and its SerDe
`mapping.*` properties for JSON keys that are not SQL identifiers ("Campaign Name"). The JSON
SerDe matches keys case-insensitively; DuckDB does not, so Segment's camelCase keys are listed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

DDL_FILE = "athena_segment_logs.sql"
VIEW = "segment_logs"
# Segment's keys, as sent, for the lower-case names Athena gives columns and struct fields.
CAMEL_CASE = {
    k.lower(): k
    for k in (
        "anonymousId",
        "messageId",
        "originalTimestamp",
        "projectId",
        "receivedAt",
        "sentAt",
        "userId",
        "writeKey",
        "userAgent",
        "advertisingId",
    )
}


@dataclass(frozen=True)
class HiveField:
    name: str
    type: str | tuple[HiveField, ...]  # a scalar type name, or a struct's fields


def sql_text(name: str) -> str:
    return resources.files("toolkit.sql").joinpath(name).read_text(encoding="utf-8")


def athena_ddl(location: str, table: str = VIEW) -> str:
    """The CREATE EXTERNAL TABLE statement for logs at `location` (s3://bucket/prefix/segment-logs/)."""
    return Template(sql_text(DDL_FILE)).substitute(location=location, table=table)


def ddl_columns(ddl: str) -> list[HiveField]:
    body = ddl[ddl.index("(", ddl.index("EXISTS")) + 1 : ddl.index("\n)")]
    body = "\n".join(line.split("--")[0] for line in body.splitlines())
    return list(_fields(body.replace("`", "")))


def ddl_mappings(ddl: str) -> dict[str, str]:
    """Field name -> JSON key, from the SerDe's 'mapping.<field>' = '<key>' properties."""
    return dict(re.findall(r"'mapping\.(\w+)'\s*=\s*'([^']*)'", ddl))


def _split_top(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += char == "<"
        depth -= char == ">"
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _fields(text: str, separator: str = " ") -> tuple[HiveField, ...]:
    fields = []
    for part in _split_top(text):
        name, kind = re.split(r"\s+" if separator == " " else r"\s*:\s*", part, maxsplit=1)
        kind = kind.strip()
        if kind.startswith("struct<"):
            fields.append(HiveField(name.strip(), _fields(kind[len("struct<") : -1], ":")))
        else:
            fields.append(HiveField(name.strip(), kind))
    return tuple(fields)


def _json_key(field: HiveField, mappings: dict[str, str]) -> str:
    return mappings.get(field.name, CAMEL_CASE.get(field.name, field.name))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _duckdb_type(field: HiveField, mappings: dict[str, str]) -> str:
    if isinstance(field.type, tuple):
        return (
            "STRUCT("
            + ", ".join(f"{_quote(_json_key(f, mappings))} {_duckdb_type(f, mappings)}" for f in field.type)
            + ")"
        )
    return "VARCHAR"  # any JSON value reads as text, so a field of varying type never fails a line


# Hive scalar types as DuckDB's (float as DOUBLE: the text 0.6 stays 0.6); other types (string) stay text.
NUMERIC_TYPES = {
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "DOUBLE",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
}


def _renamed(field: HiveField, source: str, mappings: dict[str, str]) -> str:
    """The column or struct field as Athena names and types it. Values are read as text and cast
    with TRY_CAST, so a value of the wrong type is NULL, as the JSON SerDe makes it, not a failed line."""
    if isinstance(field.type, tuple):
        inner = ", ".join(
            f"{f.name} := {_renamed(f, f'{source}.{_quote(_json_key(f, mappings))}', mappings)}"
            for f in field.type
        )
        return f"CASE WHEN {source} IS NULL THEN NULL ELSE struct_pack({inner}) END"
    if field.type.lower() in NUMERIC_TYPES:
        return f"TRY_CAST({source} AS {NUMERIC_TYPES[field.type.lower()]})"
    return source


def view_sql(files: Sequence[Path | str]) -> str:
    """CREATE VIEW segment_logs over these gzipped JSON-lines files, with Athena's column names."""
    ddl = sql_text(DDL_FILE)
    columns, mappings = ddl_columns(ddl), ddl_mappings(ddl)
    json_columns = ", ".join(
        f"{_quote(_json_key(c, mappings))}: '{_duckdb_type(c, mappings)}'" for c in columns
    )
    select = ", ".join(
        f"{_renamed(c, _quote(_json_key(c, mappings)), mappings)} AS {_quote(c.name)}" for c in columns
    )
    paths = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
    return (
        f"CREATE OR REPLACE VIEW {VIEW} AS SELECT {select} FROM read_json({paths}, "
        f"format = 'newline_delimited', columns = {{{json_columns}}}, ignore_errors = true, "
        "maximum_object_size = 67108864)"
    )
