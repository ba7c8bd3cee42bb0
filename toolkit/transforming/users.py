"""Personalize's Users dataset from Segment's identify calls: one row per userId, each trait's
latest value (by timestamp) as a column; the columns chosen as toolkit.etl.dataset_fields says,
lists joined with "|", as Personalize reads several categorical values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from fsspec.spec import AbstractFileSystem

from toolkit.errors import UsageError
from toolkit.etl.dataset_fields import (
    MAX_CATEGORICAL_LENGTH,
    UserField,
    choose_user_fields,
    personal_value_sql,
)
from toolkit.personalize.schema import Field, dataset_schema, schema_json
from toolkit.personalize.validate import MAX_ID_LENGTH
from toolkit.segment.lines import MAX_LINE_BYTES


@dataclass
class UsersDataset:
    users: int = 0
    fields: list[UserField] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # traits found and not written
    personal: list[str] = field(default_factory=list)  # of those, left out as personal data


IDENTIFY_COLUMNS = "{'type': 'VARCHAR', 'userId': 'JSON', 'timestamp': 'VARCHAR', 'traits': 'JSON'}"


def write_users(
    files: Sequence[Path | str],
    out: Path,
    chosen: list[str] | None = None,
    filesystem: AbstractFileSystem | None = None,
) -> UsersDataset:
    """Write the Users CSV (and its schema beside it, .avsc) from the identify calls in `files`."""
    connection = duckdb.connect()
    if filesystem is not None:  # files in S3, read as needed
        connection.register_filesystem(filesystem)
    try:
        connection.execute("SET TimeZone = 'UTC'")
        relation = (
            f"read_json($files, format = 'newline_delimited', columns = {IDENTIFY_COLUMNS}, "
            f"ignore_errors = true, maximum_object_size = {MAX_LINE_BYTES})"
        )
        return users_csv(connection, relation, {"files": [str(f) for f in files]}, out, chosen)
    finally:
        connection.close()


def users_csv(
    connection: duckdb.DuckDBPyConnection, messages: str, params: dict, out: Path, chosen: list[str] | None
) -> UsersDataset:
    """The Users CSV and schema from `messages`, a relation of (type, userId JSON, timestamp,
    traits JSON): the identify calls of log files, or of a warehouse."""
    connection.execute(
        f"""CREATE TABLE latest AS
        SELECT user_id, key, arg_max(value, ts) AS value FROM (
            SELECT m.userId ->> '$' AS user_id, TRY_CAST(m."timestamp" AS TIMESTAMPTZ) AS ts,
                trait.key AS key, trait.value AS value
            FROM {messages} AS m,
                json_each(m.traits) AS trait
            WHERE m.type = 'identify'
                AND json_type(m.userId) IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE')
                AND json_type(m.traits) = 'OBJECT')
        WHERE user_id <> '' AND length(user_id) <= {MAX_ID_LENGTH} AND json_type(value) <> 'NULL'
        GROUP BY ALL""",
        params,
    )
    [(users,)] = connection.execute("SELECT count(DISTINCT user_id) FROM latest").fetchall()
    personal = personal_value_sql("(value ->> '$')", "regexp_matches({text}, '{pattern}')")
    profile = connection.execute(
        f"""SELECT key, count(DISTINCT value),
                bool_and(json_type(value) IN ('BIGINT', 'UBIGINT', 'DOUBLE')),
                coalesce(bool_or(json_type(value) = 'VARCHAR' AND {personal}), false)
            FROM latest GROUP BY key ORDER BY key"""
    ).fetchall()
    result = users_dataset(profile, users, chosen)
    columns = ", ".join(f'max(value_text) FILTER (WHERE key = ?) AS "{f.name}"' for f in result.fields)
    connection.execute(
        f"""COPY (SELECT user_id AS USER_ID, {columns} FROM (
                SELECT user_id, key, CASE json_type(value)
                    WHEN 'ARRAY' THEN left(
                        array_to_string(CAST(value AS VARCHAR[]), '|'), {MAX_CATEGORICAL_LENGTH})
                    WHEN 'VARCHAR' THEN left(value ->> '$', {MAX_CATEGORICAL_LENGTH})
                    ELSE CAST(value AS VARCHAR) END AS value_text
                FROM latest) GROUP BY user_id ORDER BY user_id)
            TO '{str(out).replace("'", "''")}' (FORMAT csv, HEADER true)""",
        [f.trait for f in result.fields],
    )
    write_users_schema(out, result.fields)
    return result


def users_dataset(
    profile: list[tuple[str, int, bool, bool]], users: int, chosen: list[str] | None
) -> UsersDataset:
    """The fields chosen from the traits' profile; none, or a trait asked for and not found, is a
    UsageError."""
    fields, left_out, personal, missing = choose_user_fields(profile, users, chosen)
    if missing:
        more = f" and {len(missing) - 5:,} more" if len(missing) > 5 else ""
        raise UsageError(
            f"`user_fields` names traits the identify calls do not hold: {', '.join(missing[:5])}{more}",
            parameters=("user_fields",),
        )
    if not fields:
        raise UsageError(
            "no identify traits to write as a Users dataset"
            + (f" among the {len(chosen):,} `user_fields`" if chosen else ""),
            parameters=("user_fields",),
        )
    return UsersDataset(users, fields, left_out, personal)


def write_users_schema(out: Path, fields: list[UserField]) -> None:
    """The Users schema beside the CSV (.avsc): numerical traits as float, others categorical."""
    schema = dataset_schema(
        "Users",
        "USER_ID",
        [
            Field(f.name, "string" if f.categorical else "float", nullable=True, categorical=f.categorical)
            for f in fields
        ],
    )
    out.with_suffix(".avsc").write_text(schema_json(schema))
