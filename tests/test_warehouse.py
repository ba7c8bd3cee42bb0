"""Segment's warehouse: go-snakecase, the schema a message becomes, syncs into a real Postgres 15 and
a DuckDB file, and the transform reading them back equal, byte for byte, to the S3 path's."""

from __future__ import annotations

import csv
import filecmp
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import orjson
import psycopg
import pytest

from tests.helpers import START
from toolkit.segment.sinks import LocalSink
from toolkit.segment.snakecase import snakecase, warehouse_name
from toolkit.segment.warehouse_engines import DuckDBEngine, PostgresEngine
from toolkit.segment.warehouse_load import WarehouseDestination
from toolkit.segment.warehouse_schema import JsonText, Timestamp, message_rows
from toolkit.simulate.run import generate
from toolkit.simulate.scenario_toml import load_scenario
from toolkit.transforming.run import transform
from toolkit.transforming.summary import TransformOptions
from toolkit.transforming.warehouse_engine import WarehouseTransform, unload_select

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sampleText", "sample_text"),
        ("sample-text", "sample_text"),
        ("sample___text", "sample_text"),
        ("CStringRef", "cstring_ref"),
        ("SAMPLE 2 TEXT", "sample_2_text"),
        ("2FA Enabled", "2fa_enabled"),
        ("something.com", "something_com"),
        ("___$$Base64Encode", "base64_encode"),
        ("Café Ünïcode", "caf_n_code"),
        ("•¶§ƒ˚foo˙∆˚¬", "foo"),
        ("   $#$sample   2    Text   ", "sample_2_text"),
        ("inviteYourCustomersAddInvites", "invite_your_customers_add_invites"),
        ("Invited User?", "invited_user"),
        ("Order Completed", "order_completed"),
    ],
)
def test_go_snakecase_cases(text, expected):
    assert snakecase(text) == expected


def test_segment_names_prefix_a_leading_digit_and_reserved_columns():
    assert warehouse_name("2FA Enabled") == "_2fa_enabled"
    assert warehouse_name("3doctors") == "_3doctors"
    assert warehouse_name("userId", frozenset({"user_id"})) == "_user_id"
    assert warehouse_name("x" * 80) == "x" * 63  # Postgres' identifier limit


def test_a_track_becomes_a_tracks_row_and_an_event_row():
    message = {
        "type": "track",
        "event": "Order Completed",
        "messageId": "m1",
        "userId": 42,
        "anonymousId": "a1",
        "timestamp": "2019-05-18T18:53:22.629+02:00",
        "receivedAt": "2019-05-18T16:53:23.001Z",
        "context": {"library": {"name": "analytics.js"}, "ip": "1.2.3.4"},
        "properties": {
            "sku": "s1",
            "id": 7,
            "products": [{"sku": "a"}],
            "address": {"street": "x"},
            "note": "n" * 600,
        },
    }
    tracks, event = message_rows(message)
    assert tracks.table == "tracks" and event.table == "order_completed"
    assert tracks.values["event"] == "order_completed" and tracks.values["event_text"] == "Order Completed"
    assert tracks.values["user_id"] == "42" and tracks.values["context_library_name"] == "analytics.js"
    assert "sku" not in tracks.values
    assert event.values["timestamp"] == Timestamp("2019-05-18T16:53:22.629Z")  # offset converted to UTC
    assert event.values["_id"] == 7  # a property named like a reserved column
    assert isinstance(event.values["products"], JsonText) and event.values["products"] == '[{"sku":"a"}]'
    assert event.values["address_street"] == "x" and len(event.values["note"]) == 512


def test_an_identify_upserts_users_without_anonymous_id():
    identify, user = message_rows(
        {
            "type": "identify",
            "messageId": "m",
            "userId": "u",
            "anonymousId": "a",
            "traits": {"Invited User?": True},
        }
    )
    assert identify.table == "identifies" and identify.values["invited_user"] is True
    assert user.table == "users" and user.values["id"] == "u" and "anonymous_id" not in user.values


@pytest.fixture(scope="module")
def retail_logs(tmp_path_factory) -> Path:
    """Two days of the retail scenario (products[] arrays, product metadata, identify traits)."""
    root = tmp_path_factory.mktemp("retail-logs")
    generate(load_scenario("retail").with_visitors(40), START, 2, 11, LocalSink(root), workers=1)
    return root


@pytest.fixture(scope="module")
def workshop_small(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("workshop-small")
    generate(load_scenario().with_visitors(60), START, 2, 13, LocalSink(root), workers=1)
    return root


def log_lines(root: Path) -> list[tuple[str, list[bytes]]]:
    return [
        (path.parts[-3], gzip.decompress(path.read_bytes()).splitlines(keepends=True))
        for path in sorted(root.glob("segment-logs/*/*/*.gz"))
    ]


def load(destination: WarehouseDestination, root: Path) -> None:
    destination.check()
    destination.claim("test run")
    for source_id, lines in log_lines(root):
        destination.deliver(source_id, lines)
    destination.close()


def fresh_database(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + "/" + name


def source_schemas(root: Path) -> dict[str, str]:
    return {source.id: source.name for source in load_scenario("retail").sources.values()} | {
        source.id: source.name for source in load_scenario().sources.values()
    }


def transformed(source: str, folder: Path, items: bool) -> list[Path]:
    folder.mkdir()
    outputs = [folder / "interactions.csv", folder / "users.csv"] + ([folder / "items.csv"] if items else [])
    transform(
        source,
        out=str(outputs[0]),
        users=str(outputs[1]),
        items=str(outputs[2]) if items else None,
    )
    return outputs


@pytest.mark.postgres
def test_generated_logs_load_into_segments_schema(postgres_server, retail_logs):
    url = fresh_database(postgres_server, "schema_rules")
    load(WarehouseDestination(PostgresEngine(url), schemas=source_schemas(retail_logs)), retail_logs)
    with psycopg.connect(url) as connection:
        columns = {
            (schema, table, column): (kind, length)
            for schema, table, column, kind, length in connection.execute(
                "SELECT table_schema, table_name, column_name, data_type, character_maximum_length "
                "FROM information_schema.columns "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            )
        }
        tables = {(schema, table) for schema, table, _ in columns}
        ids = connection.execute("SELECT count(*), count(DISTINCT id) FROM store_web.tracks").fetchone()
    messages = [orjson.loads(line) for _, lines in log_lines(retail_logs) for line in lines]
    web = [m for m in messages if m["projectId"] == load_scenario("retail").sources["web"].id]
    events = {m["event"] for m in web if m["type"] == "track"}
    schema = "store_web"
    assert {(schema, "tracks"), (schema, "identifies"), (schema, "users"), (schema, "pages")} <= tables
    assert {(schema, snakecase(e)) for e in events} <= tables
    assert columns[(schema, "tracks", "id")] == ("character varying", 512)
    for stamp in ("received_at", "sent_at", "original_timestamp", "timestamp", "uuid_ts"):
        assert columns[(schema, "tracks", stamp)][0] == "timestamp without time zone"
    assert (schema, "tracks", "sku") not in columns  # tracks: the standard columns only
    assert columns[(schema, "tracks", "event_text")][0] == "character varying"
    assert columns[(schema, "order_completed", "products")] == ("character varying", 65535)
    assert columns[(schema, "order_completed", "revenue")][0] in ("double precision", "bigint")
    assert (schema, "users", "anonymous_id") not in columns and (schema, "users", "id") in columns
    assert any(c[:2] == (schema, "tracks") and c[2].startswith("context_library_") for c in columns)
    assert ids[0] == ids[1] == len({m["messageId"] for m in web if m["type"] == "track"})


@pytest.mark.postgres
def test_transform_from_the_warehouse_equals_the_s3_path(
    postgres_server, retail_logs, workshop_small, tmp_path
):
    for name, logs, items in (("retail", retail_logs, True), ("workshop", workshop_small, False)):
        url = fresh_database(postgres_server, f"equal_{name}")
        load(WarehouseDestination(PostgresEngine(url), schemas=source_schemas(logs)), logs)
        duck = tmp_path / f"{name}.duckdb"
        load(WarehouseDestination(DuckDBEngine(duck)), logs)
        expected = transformed(str(logs), tmp_path / f"{name}-s3", items)
        rows = list(csv.DictReader(expected[0].open()))
        assert rows and len(rows) > 50
        for source, tag in ((url, "postgres"), (str(duck), "duckdb")):
            for want, got in zip(
                expected, transformed(source, tmp_path / f"{name}-{tag}", items), strict=True
            ):
                assert filecmp.cmp(want, got, shallow=False), (name, tag, got.name)
    # the seconds are floored: some kept event has milliseconds of .5 or more
    stamps = [
        m["timestamp"]
        for _, lines in log_lines(workshop_small)
        for m in map(orjson.loads, lines)
        if m.get("event") in TransformOptions().event_types and m.get("userId")
    ]
    assert any(int(s[20:23]) >= 500 for s in stamps)


@pytest.mark.postgres
def test_the_unload_statements_select_gives_the_transforms_csv(postgres_server, workshop_small, tmp_path):
    url = fresh_database(postgres_server, "unload")
    load(WarehouseDestination(PostgresEngine(url), schemas=source_schemas(workshop_small)), workshop_small)
    runner = WarehouseTransform(url, tmp_path)
    try:
        statement = runner.unload(
            TransformOptions(), "s3://bucket/transformed/interactions_", "arn:aws:iam::1:role/r"
        )
    finally:
        runner.close()
    assert statement.startswith("UNLOAD ($$") and "FORMAT AS CSV" in statement and "PARALLEL OFF" in statement
    assert 'FLOOR(EXTRACT(EPOCH FROM "timestamp"))::BIGINT' in statement
    buffer = io.BytesIO()
    with (
        psycopg.connect(url) as connection,
        connection.cursor().copy(
            f"COPY ({unload_select(statement)}) TO STDOUT WITH (FORMAT csv, HEADER)"
        ) as copy,
    ):
        for data in copy:
            buffer.write(data)
    expected = transformed(str(workshop_small), tmp_path / "s3", False)[0]
    assert buffer.getvalue() == expected.read_bytes()


CHILD = """
import sys
from tests.test_warehouse import load_in_child
load_in_child(sys.argv[1], sys.argv[2])
"""


def load_in_child(url: str, logs: str) -> None:
    """In a child process: load the logs, one sync every 10 minutes of message time."""
    load(WarehouseDestination(PostgresEngine(url), sync_minutes=10), Path(logs))


@pytest.mark.postgres
def test_a_sync_killed_midway_leaves_nothing_half_loaded_and_resumes(postgres_server, retail_logs):
    url = fresh_database(postgres_server, "killed")
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, str(retail_logs)], cwd=ROOT)
    try:
        with psycopg.connect(url, autocommit=True) as watcher:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and child.poll() is None:
                syncs = (
                    watcher.execute(
                        "SELECT count(*) FROM pg_tables "
                        "WHERE schemaname = 'toolkit_warehouse' AND tablename = 'syncs'"
                    ).fetchone()[0]
                    and watcher.execute("SELECT count(*) FROM toolkit_warehouse.syncs").fetchone()[0]
                )
                copying = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'COPY%'"
                ).fetchone()[0]
                if syncs >= 3 and copying:
                    os.kill(child.pid, signal.SIGKILL)
                    break
                time.sleep(0.005)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL, "the load ended before it could be killed midway"
    time.sleep(0.5)  # the server notices the dead connection and rolls its transaction back
    with psycopg.connect(url) as connection:
        committed = connection.execute(
            "SELECT coalesce(sum(loaded), 0) FROM toolkit_warehouse.syncs"
        ).fetchone()[0]
        present = sum(
            connection.execute(f"SELECT count(*) FROM {schema}.{table}").fetchone()[0]
            for schema, table in connection.execute(
                "SELECT schemaname, tablename FROM pg_tables "
                "WHERE tablename IN ('tracks', 'identifies', 'pages', 'screens', 'groups', 'aliases')"
            ).fetchall()
        )
    assert present == committed  # only whole syncs
    load_in_child(url, str(retail_logs))  # run again: resumes, duplicates left out
    expected = {
        orjson.loads(line)["messageId"]
        for _, lines in log_lines(retail_logs)
        for line in lines
        if b'"type":"track"' in line
    }
    with psycopg.connect(url) as connection:
        found = [
            row[0]
            for (schema,) in connection.execute(
                "SELECT schemaname FROM pg_tables WHERE tablename = 'tracks'"
            ).fetchall()
            for row in connection.execute(f"SELECT id FROM {schema}.tracks").fetchall()
        ]
    assert len(found) == len(set(found)) and set(found) == expected


@pytest.mark.postgres
def test_flushed_messages_are_staged_and_loaded_by_the_next_sync(postgres_server, workshop_small):
    url = fresh_database(postgres_server, "staged")
    first = WarehouseDestination(PostgresEngine(url))
    first.check()
    (source_id, lines), *_ = log_lines(workshop_small)
    first.deliver(source_id, lines)
    first.flush()  # the collector flushes before dropping a journal segment; then it dies
    with psycopg.connect(url) as connection:
        assert connection.execute("SELECT count(*) FROM toolkit_warehouse.staged").fetchone()[0] == len(lines)
    second = WarehouseDestination(PostgresEngine(url))
    second.check()
    counts = second.close()
    assert counts.delivered == len({orjson.loads(line)["messageId"] for line in lines})
    with psycopg.connect(url) as connection:
        assert connection.execute("SELECT count(*) FROM toolkit_warehouse.staged").fetchone()[0] == 0


@pytest.mark.postgres
def test_the_collector_forwards_the_official_clients_calls_into_the_warehouse(postgres_server, tmp_path):
    from segment.analytics import Client

    from tests.helpers import KEYS, SCENARIO, RunningCollector

    url = fresh_database(postgres_server, "collected")
    warehouse = WarehouseDestination(
        PostgresEngine(url), schemas={s.id: s.name for s in SCENARIO.sources.values()}
    )
    warehouse.check()
    collector = RunningCollector([warehouse, LocalSink(tmp_path / "out")], journal=tmp_path / "journal")
    client = Client(KEYS["web"], host=collector.url, max_retries=1)
    client.identify(
        "u1", {"Invited User?": True, "lifetime_value": 12.5, "createdAt": "2026-11-01T08:00:00+02:00"}
    )
    client.track("u1", "Order Completed", {"sku": "s-1", "products": [{"sku": "s-1", "price": 3}]})
    client.track("u1", "Order Completed", {"sku": "s-2", "revenue": 9})
    client.page("u1", "Docs", "Home", {"path": "/"})
    client.flush()
    client.join()
    collector.close()
    with psycopg.connect(url) as connection:
        orders = connection.execute(
            "SELECT sku, products, revenue, event, event_text, context_library_name "
            "FROM website_prod.order_completed ORDER BY sku"
        ).fetchall()
        user = connection.execute(
            "SELECT id, invited_user, lifetime_value, created_at FROM website_prod.users"
        ).fetchall()
        page = connection.execute("SELECT name, category, path FROM website_prod.pages").fetchall()
        tracks = connection.execute("SELECT count(*) FROM website_prod.tracks").fetchone()[0]
    assert [o[0] for o in orders] == ["s-1", "s-2"] and json.loads(orders[0][1]) == [
        {"sku": "s-1", "price": 3}
    ]
    assert orders[1][2] == 9 and orders[0][3:5] == ("order_completed", "Order Completed")
    assert orders[0][5] == "analytics-python"
    assert user == [("u1", True, 12.5, datetime(2026, 11, 1, 6, 0))]  # UTC, no zone
    assert page == [("Home", "Docs", "/")] and tracks == 2
