"""The figures behind the report's charts, computed by DuckDB over the files: plain, JSON-ready
dicts and lists, so `toolkit report --json` prints exactly what the page draws."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from toolkit.personalize.validate import loglog_fit
from toolkit.segment.lines import MAX_LINE_BYTES

LAG_BUCKETS = (
    "same day",
    "1 day later",
    "2-7 days later",
    "more than 7 days later",
    "earlier day",
    "no receivedAt",
)
TOP_EVENTS = 20
POPULARITY_POINTS = 400  # ranks drawn on the rank-frequency chart (log-spaced); the fit uses every item
ECOMMERCE_FUNNEL = (
    "Products Searched",
    "Product List Viewed",
    "Product Viewed",
    "Product Clicked",
    "Product Added",
    "Cart Viewed",
    "Checkout Started",
    "Order Completed",
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def load_messages(connection: duckdb.DuckDBPyConnection, files: Sequence[Path | str]) -> None:
    """Table messages: the fields the figures need, one row a line that is a JSON object. The
    source is the folder Segment's S3 destination names after it (projectId otherwise)."""
    connection.execute(
        f"""CREATE TABLE messages AS
        SELECT "messageId" AS message_id, type, event, "userId" AS user_id, "anonymousId" AS anonymous_id,
               TRY_CAST("timestamp" AS TIMESTAMPTZ) AS ts, TRY_CAST("receivedAt" AS TIMESTAMPTZ) AS received,
               coalesce(nullif(regexp_extract(filename, 'segment-logs/([^/]+)/', 1), ''), "projectId",
                        '(unknown)') AS source
        FROM read_json($files, format = 'newline_delimited', filename = true, ignore_errors = true,
                       maximum_object_size = {MAX_LINE_BYTES},
                       columns = {{'messageId': 'VARCHAR', 'type': 'VARCHAR', 'event': 'VARCHAR',
                                   'userId': 'VARCHAR', 'anonymousId': 'VARCHAR', 'timestamp': 'VARCHAR',
                                   'receivedAt': 'VARCHAR', 'projectId': 'VARCHAR'}})""",
        {"files": [str(f) for f in files]},
    )


def log_figures(
    connection: duckdb.DuckDBPyConnection, source_names: dict[str, str], funnels: dict[str, list[str]]
) -> dict:
    """Messages per day by source, the event mix, funnels, identity, delivery lag and duplicates."""

    def rows(sql: str) -> list[tuple]:
        return connection.execute(sql).fetchall()

    total, identifies, anonymous, people, users, with_id, distinct_ids = rows(
        """SELECT count(*), count(*) FILTER (type = 'identify'),
                  count(*) FILTER (user_id IS NULL OR user_id = ''), count(DISTINCT anonymous_id),
                  count(DISTINCT user_id), count(message_id), count(DISTINCT message_id)
           FROM messages"""
    )[0]
    per_day: dict[str, dict[str, int]] = {}
    for day, source, count in rows(
        "SELECT strftime(CAST(ts AS DATE), '%Y-%m-%d'), source, count(*) FROM messages WHERE ts IS NOT NULL "
        "GROUP BY ALL ORDER BY 1, 2"
    ):
        per_day.setdefault(day, {})[source_names.get(source, source)] = count
    events = rows(
        "SELECT coalesce(CASE WHEN type = 'track' THEN event ELSE type END, '(no type)') AS name, count(*) "
        f"FROM messages GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {TOP_EVENTS}"
    )
    lag = dict(
        rows(
            """SELECT CASE WHEN received IS NULL OR ts IS NULL THEN 'no receivedAt'
                       WHEN CAST(received AS DATE) < CAST(ts AS DATE) THEN 'earlier day'
                       WHEN CAST(received AS DATE) = CAST(ts AS DATE) THEN 'same day'
                       WHEN date_diff('day', CAST(ts AS DATE), CAST(received AS DATE)) = 1 THEN '1 day later'
                       WHEN date_diff('day', CAST(ts AS DATE), CAST(received AS DATE)) <= 7
                           THEN '2-7 days later'
                       ELSE 'more than 7 days later' END, count(*) FROM messages GROUP BY 1"""
        )
    )
    found = {
        name
        for (name,) in rows("SELECT DISTINCT event FROM messages WHERE type = 'track' AND event IS NOT NULL")
    }
    steps = {name: [e for e in events_ if e in found] for name, events_ in funnels.items()}
    steps["e-commerce events found"] = [e for e in ECOMMERCE_FUNNEL if e in found]
    return {
        "messages": total,
        "sources": sorted({source for counts in per_day.values() for source in counts}),
        "per_day": per_day,
        "events": [{"event": name, "messages": count} for name, count in events],
        "identify": {
            "identify_calls": identifies,
            "messages_without_user_id": anonymous,
            "anonymous_ids": people,
            "user_ids": users,
        },
        "received_lag": {bucket: lag.get(bucket, 0) for bucket in LAG_BUCKETS},
        "duplicates": {
            "messages_with_an_id": with_id,
            "distinct_ids": distinct_ids,
            "extra_copies": with_id - distinct_ids,
        },
        "funnels": {
            name: _funnel(connection, events_) for name, events_ in steps.items() if len(events_) >= 2
        },
    }


def _funnel(connection: duckdb.DuckDBPyConnection, steps: list[str]) -> list[dict]:
    """People (anonymousId, else userId) who did each step and all steps before it, in any order."""
    done = ", ".join(
        f"count(*) FILTER (list_has_all(events, {list(steps[: i + 1])!r}))" for i in range(len(steps))
    )
    [counts] = connection.execute(
        f"""SELECT {done} FROM (SELECT list(DISTINCT event) AS events FROM messages
            WHERE type = 'track' AND event IN ({", ".join("?" for _ in steps)})
            GROUP BY coalesce(anonymous_id, user_id))""",
        steps,
    ).fetchall()
    return [
        {
            "step": step,
            "people": count,
            "of_previous": round(count / counts[i - 1], 4) if i and counts[i - 1] else None,
        }
        for i, (step, count) in enumerate(zip(steps, counts, strict=True))
    ]


def load_interactions(connection: duckdb.DuckDBPyConnection, csv: Path) -> None:
    connection.execute(
        "CREATE TABLE interactions AS SELECT * FROM read_csv($csv, header = true, all_varchar = true, "
        "ignore_errors = true, strict_mode = false)",
        {"csv": str(csv)},
    )


def interaction_figures(connection: duckdb.DuckDBPyConnection) -> dict:
    """Interactions per user, item popularity (rank-frequency with diagnose.py's fit), hour by
    weekday, per day, event types, repeat consumption."""
    columns = {
        name for (name,) in connection.execute("SELECT column_name FROM (DESCRIBE interactions)").fetchall()
    }
    stamp = 'to_timestamp(TRY_CAST("TIMESTAMP" AS BIGINT))'
    [(rows, users, items, pairs)] = connection.execute(
        'SELECT count(*), count(DISTINCT "USER_ID"), count(DISTINCT "ITEM_ID"), '
        'count(DISTINCT ("USER_ID", "ITEM_ID")) FROM interactions'
    ).fetchall()
    per_user = connection.execute(
        """SELECT CAST(pow(2, floor(log2(n))) AS BIGINT) AS low, count(*)
           FROM (SELECT count(*) AS n FROM interactions GROUP BY "USER_ID") GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    popularity = [
        n
        for (n,) in connection.execute(
            'SELECT count(*) AS n FROM interactions GROUP BY "ITEM_ID" ORDER BY n DESC'
        ).fetchall()
    ]
    fit = loglog_fit(connection, '"ITEM_ID"', table="interactions")
    status, verdict = fit.verdict()
    heat = connection.execute(
        f"SELECT isodow({stamp}) - 1, hour({stamp}), count(*) FROM interactions WHERE {stamp} IS NOT NULL "
        "GROUP BY ALL"
    ).fetchall()
    grid = [[0] * 24 for _ in WEEKDAYS]
    for weekday, hour, count in heat:
        grid[weekday][hour] = count
    per_day = connection.execute(
        f"SELECT strftime(CAST({stamp} AS DATE), '%Y-%m-%d'), count(*) FROM interactions "
        f"WHERE {stamp} IS NOT NULL GROUP BY 1 ORDER BY 1"
    ).fetchall()
    events = (
        connection.execute(
            'SELECT "EVENT_TYPE", count(*) FROM interactions GROUP BY 1 ORDER BY 2 DESC, 1'
        ).fetchall()
        if "EVENT_TYPE" in columns
        else []
    )
    ranks = sorted({round(rank) for rank in _log_space(len(popularity), POPULARITY_POINTS)})
    return {
        "interactions": rows,
        "users": users,
        "items": items,
        "per_user": [{"from": low, "to": low * 2 - 1, "users": count} for low, count in per_user],
        "popularity": {
            "ranks": ranks,
            "counts": [popularity[r - 1] for r in ranks],
            "slope": fit.slope,
            "intercept": fit.intercept,
            "residual": fit.residual,
            "status": status,
            "verdict": verdict,
        },
        "hour_by_weekday": {"weekdays": list(WEEKDAYS), "counts": grid},
        "per_day": dict(per_day),
        "event_types": dict(events),
        "repeat_consumption_rate": round((rows - pairs) / rows, 4) if rows else 0.0,
    }


def _log_space(count: int, points: int) -> list[float]:
    if count <= points:
        return [float(r) for r in range(1, count + 1)]
    return [count ** (i / (points - 1)) for i in range(points)]
