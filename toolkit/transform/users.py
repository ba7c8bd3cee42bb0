"""Personalize's Users dataset from Segment's identify calls: one row per userId, each trait's
latest value (by timestamp) as a column.

By default the columns are the data's numerical traits (every value a number) and its categorical
ones (text, booleans or lists) with few distinct values (at most MAX_CATEGORIES, or 5% of the users):
names, emails and addresses are left out, as they carry no signal and are personal data. At most 25
(Personalize's limit). Trait names become valid field names (CAMPAIGN_SOURCE for "Campaign
Source"); lists are joined with "|", as Personalize reads several categorical values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from toolkit.errors import UsageError
from toolkit.personalize.schema import Field, dataset_schema, schema_json
from toolkit.transform.duckdb_engine import MAX_ID_LENGTH, MAX_LINE_BYTES

MAX_USER_FIELDS = 25
MAX_CATEGORIES = 50
MAX_CATEGORICAL_LENGTH = 1000


@dataclass
class UserField:
    trait: str  # as it is in the data
    name: str  # the CSV column and schema field
    categorical: bool


@dataclass
class UsersDataset:
    users: int = 0
    fields: list[UserField] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # traits found and not written


def field_name(trait: str) -> str:
    """A trait's name as a Personalize field: upper case, letters, digits and underscores."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", trait).strip("_").upper() or "TRAIT"
    return f"T_{name}" if name[0].isdigit() else name


def write_users(files: list[Path], out: Path, chosen: list[str] | None = None) -> UsersDataset:
    """Write the Users CSV (and its schema beside it, .avsc) from the identify calls in `files`."""
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(
            f"""CREATE TABLE latest AS
            SELECT user_id, key, arg_max(value, ts) AS value FROM (
                SELECT m.userId ->> '$' AS user_id, TRY_CAST(m."timestamp" AS TIMESTAMPTZ) AS ts, trait.key AS key, trait.value AS value
                FROM read_json($files, format = 'newline_delimited', columns = {{'type': 'VARCHAR', 'userId': 'JSON', 'timestamp': 'VARCHAR', 'traits': 'JSON'}},
                               ignore_errors = true, maximum_object_size = {MAX_LINE_BYTES}) AS m, json_each(m.traits) AS trait
                WHERE m.type = 'identify' AND json_type(m.userId) IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE') AND json_type(m.traits) = 'OBJECT')
            WHERE user_id <> '' AND length(user_id) <= {MAX_ID_LENGTH} AND json_type(value) <> 'NULL'
            GROUP BY ALL""",
            {"files": [str(f) for f in files]},
        )
        users = connection.execute("SELECT count(DISTINCT user_id) FROM latest").fetchone()[0]
        profile = connection.execute(
            """SELECT key, count(DISTINCT value), bool_and(json_type(value) IN ('BIGINT', 'UBIGINT', 'DOUBLE')) FROM latest GROUP BY key ORDER BY key"""
        ).fetchall()
        result = UsersDataset(users, *_choose(profile, users, chosen))
        if not result.fields:
            raise UsageError("no identify traits to write as a Users dataset" + (f" among --user-fields {', '.join(chosen)}" if chosen else ""))
        columns = ", ".join(f"max(value_text) FILTER (WHERE key = ?) AS \"{f.name}\"" for f in result.fields)
        connection.execute(
            f"""COPY (SELECT user_id AS USER_ID, {columns} FROM (
                    SELECT user_id, key, CASE json_type(value)
                        WHEN 'ARRAY' THEN left(array_to_string(CAST(value AS VARCHAR[]), '|'), {MAX_CATEGORICAL_LENGTH})
                        WHEN 'VARCHAR' THEN left(value ->> '$', {MAX_CATEGORICAL_LENGTH})
                        ELSE CAST(value AS VARCHAR) END AS value_text
                    FROM latest) GROUP BY user_id ORDER BY user_id)
                TO '{str(out).replace("'", "''")}' (FORMAT csv, HEADER true)""",
            [f.trait for f in result.fields],
        )
    finally:
        connection.close()
    schema = dataset_schema("Users", "USER_ID", [Field(f.name, "string" if f.categorical else "float", nullable=True, categorical=f.categorical) for f in result.fields])
    out.with_suffix(".avsc").write_text(schema_json(schema))
    return result


def _choose(profile: list[tuple[str, int, bool]], users: int, chosen: list[str] | None) -> tuple[list[UserField], list[str]]:
    fields, names = [], set()
    limit = max(MAX_CATEGORIES, users // 20)
    for trait, distinct, numeric in profile:
        wanted = trait in chosen if chosen is not None else (numeric or distinct <= limit)
        name = field_name(trait)
        if not wanted or name in names or name == "USER_ID" or len(fields) >= MAX_USER_FIELDS:
            continue
        names.add(name)
        fields.append(UserField(trait, name, not numeric))
    if chosen is not None:
        missing = sorted(set(chosen) - {f.trait for f in fields})
        if missing:
            raise UsageError(f"--user-fields names traits the identify calls do not hold: {', '.join(missing)}")
    return fields, [trait for trait, _, _ in profile if trait not in {f.trait for f in fields}]
