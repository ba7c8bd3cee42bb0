"""A profile of each column of a Users or Items dataset, as a data scientist reads one: how much
is missing, how many distinct values, the top values or a histogram, and the alerts Amazon
Personalize's data insights raise (columns under 70 % complete, categorical columns over 30
values, constant columns)."""

from __future__ import annotations

from pathlib import Path

import duckdb

COMPLETE_AT_LEAST = 0.70  # data insights flag a column with fewer values than this share
CATEGORICAL_AT_MOST = 30  # ... and a categorical column with more distinct values than this
TOP_VALUES = 5
BINS = 10
TEXT_LENGTH = 40  # characters on average: a column this long is text (a description), not categories


def dataset_profile(connection: duckdb.DuckDBPyConnection, csv: Path, id_column: str) -> list[dict]:
    """One dict per column but the id: missing share, distinct values, top values (categorical)
    or a histogram (numerical), and its alerts; read as text, so that nothing is coerced."""
    connection.execute(
        "CREATE OR REPLACE TEMP TABLE profiled AS "
        "SELECT * FROM read_csv(?, all_varchar = true, header = true)",
        [str(csv)],
    )
    try:
        columns = [row[0] for row in connection.execute("DESCRIBE profiled").fetchall()]
        [(rows,)] = connection.execute("SELECT count(*) FROM profiled").fetchall()
        textual = _textual_fields(csv.with_suffix(".avsc"))
        return [
            _column(connection, name, rows, name in textual) for name in columns if name.upper() != id_column
        ]
    finally:
        connection.execute("DROP TABLE profiled")


def _textual_fields(schema: Path) -> set[str]:
    """The fields the dataset's schema (the .avsc beside it) marks textual: free text, not categories."""
    import json

    try:
        fields = json.loads(schema.read_text(encoding="utf-8")).get("fields", [])
    except (OSError, ValueError, AttributeError):
        return set()
    return {str(f["name"]) for f in fields if isinstance(f, dict) and f.get("textual") and "name" in f}


def _column(connection: duckdb.DuckDBPyConnection, name: str, rows: int, textual: bool) -> dict:
    column = '"' + name.replace('"', '""') + '"'
    [(present, distinct, numbers, length)] = connection.execute(
        f"""SELECT count(*) FILTER (WHERE {column} IS NOT NULL AND {column} <> ''),
                   count(DISTINCT nullif({column}, '')),
                   count(*) FILTER (WHERE TRY_CAST({column} AS DOUBLE) IS NOT NULL),
                   avg(length(nullif({column}, '')))
            FROM profiled"""
    ).fetchall()
    numerical = present > 0 and numbers == present and distinct > 2
    kind = "numerical" if numerical else "text" if textual or (length or 0) > TEXT_LENGTH else "categorical"
    profile: dict = {
        "column": name,
        "rows": rows,
        "missing_share": round(1 - present / rows, 4) if rows else 0.0,
        "distinct": distinct,
        "kind": kind,
    }
    if numerical:
        profile["histogram"] = _histogram(connection, column)
    else:
        profile["top"] = [
            {"value": value, "rows": count}
            for value, count in connection.execute(
                f"""SELECT {column}, count(*) FROM profiled WHERE {column} IS NOT NULL AND {column} <> ''
                    GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {TOP_VALUES}"""
            ).fetchall()
        ]
    profile["alerts"] = _alerts(profile)
    return profile


def _histogram(connection: duckdb.DuckDBPyConnection, column: str) -> list[dict]:
    [(low, high)] = connection.execute(
        f"SELECT min(TRY_CAST({column} AS DOUBLE)), max(TRY_CAST({column} AS DOUBLE)) FROM profiled"
    ).fetchall()
    width = (high - low) / BINS or 1.0
    counts = dict(
        connection.execute(
            f"""SELECT least(floor((TRY_CAST({column} AS DOUBLE) - ?) / ?)::INTEGER, {BINS - 1}), count(*)
                FROM profiled WHERE TRY_CAST({column} AS DOUBLE) IS NOT NULL GROUP BY 1""",
            [low, width],
        ).fetchall()
    )
    return [
        {"from": round(low + i * width, 6), "to": round(low + (i + 1) * width, 6), "rows": counts.get(i, 0)}
        for i in range(BINS)
    ]


def _alerts(profile: dict) -> list[str]:
    """What Personalize's data insights would raise about the column."""
    alerts = []
    complete = 1 - profile["missing_share"]
    if complete < COMPLETE_AT_LEAST:
        alerts.append(
            f"{complete:.0%} complete: under {COMPLETE_AT_LEAST:.0%}, Personalize's data insights flag it"
        )
    if profile["distinct"] <= 1:
        alerts.append("a single value: constant, it tells no user or item apart")
    elif profile["kind"] == "categorical" and profile["distinct"] > CATEGORICAL_AT_MOST:
        alerts.append(
            f"{profile['distinct']:,} distinct values: over {CATEGORICAL_AT_MOST} for a categorical column; "
            "consider grouping them"
        )
    return alerts
