"""`toolkit explore`: the workshop's queries on DuckDB equal independent counts of the raw files."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import orjson
import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.exploring.engines import WORKSHOP_QUERIES, DuckDBExplorer
from toolkit.exploring.logs_view import DDL_FILE, athena_ddl, ddl_columns, ddl_mappings, sql_text
from toolkit.segment.logs import find_log_files

runner = CliRunner()


def run_workshop(logs_root, database=None):
    with find_log_files(str(logs_root)) as logs:
        explorer = DuckDBExplorer(logs, database)
        try:
            return [explorer.run(sql_text(name)) for _, name in WORKSHOP_QUERIES], explorer.skipped
        finally:
            explorer.close()


def test_workshop_queries_equal_independent_counts(workshop_logs, workshop_messages):
    (sample, by_event, with_sku), _ = run_workshop(workshop_logs)
    assert len(sample.rows) == 20 and "traits" in sample.columns and "userid" in sample.columns
    expected = Counter(m.get("event") for _, m in workshop_messages)
    assert dict(by_event.rows) == dict(expected)
    expected_sku = Counter(
        m["event"] for _, m in workshop_messages if (m.get("properties") or {}).get("sku") is not None
    )
    assert dict(with_sku.rows) == dict(expected_sku)
    assert set(expected_sku) == {"Product Clicked", "Product Added", "Order Completed"}


def test_numeric_traits_and_platform_properties_are_typed_as_the_workshops_table(
    workshop_logs, workshop_messages
):
    with find_log_files(str(workshop_logs)) as logs:
        explorer = DuckDBExplorer(logs, None)
        try:
            likely = explorer.run(
                "SELECT count(*) FROM segment_logs WHERE traits.likelihood_to_buy > 0.5"
            ).rows[0][0]
            value = explorer.run("SELECT sum(traits.lifetime_value) FROM segment_logs").rows[0][0]
            versions = explorer.run("SELECT DISTINCT typeof(version), version FROM segment_logs").rows
            browsers = dict(
                explorer.run(
                    "SELECT properties.browser, count(*) FROM segment_logs WHERE properties.browser IS NOT "
                    "NULL GROUP BY 1"
                ).rows
            )
            ids = explorer.run(
                "SELECT count(*) FROM segment_logs WHERE properties.campaign_id IS NOT NULL AND "
                "properties.button_id IS NOT NULL AND properties.app_id IS NOT NULL"
            ).rows[0][0]
        finally:
            explorer.close()
    identifies = [m["traits"] for _, m in workshop_messages if m["type"] == "identify"]
    assert likely == sum(t["likelihood_to_buy"] > 0.5 for t in identifies) > 0
    assert value == pytest.approx(sum(t["lifetime_value"] for t in identifies))
    assert versions == [("INTEGER", 2)]
    assert browsers == dict(
        Counter(
            m["properties"]["browser"] for _, m in workshop_messages if "browser" in m.get("properties", {})
        )
    )
    assert ids == sum("campaign_id" in m.get("properties", {}) for _, m in workshop_messages) > 0


def test_mapped_trait_columns_are_populated(workshop_logs):
    with find_log_files(str(workshop_logs)) as logs:
        explorer = DuckDBExplorer(logs)
        result = explorer.run(
            "SELECT count(*), count(traits.campaign_name), count(traits.campaign_source), "
            "count(traits.experiment_group), "
            "count(traits.favorite_departments), count(traits.invited_user), "
            "count(traits.referrering_domain) FROM segment_logs WHERE type = 'identify'"
        )
        explorer.close()
    total, *mapped = result.rows[0]
    assert total > 0 and mapped == [total] * 6


def test_mixed_schemas_varying_types_and_empty_files(tmp_path):
    folder = tmp_path / "segment-logs" / "abcdefghij" / "1556755200000"
    folder.mkdir(parents=True)
    lines = [
        {"type": "track", "event": "Product Added", "userId": 12, "properties": {"sku": 7}},
        {
            "type": "track",
            "event": "Product Added",
            "userId": "12",
            "properties": {"sku": "x", "weird key!": {"a": 1}},
        },
        {"type": "identify", "userId": "13", "traits": {"Campaign Name": "Spring", "Invited User?": True}},
        {"type": "page", "properties": "not an object"},
    ]
    (folder / "a.gz").write_bytes(gzip.compress(b"\n".join(orjson.dumps(line) for line in lines[:2]) + b"\n"))
    (folder / "b.gz").write_bytes(gzip.compress(b"\n".join(orjson.dumps(line) for line in lines[2:]) + b"\n"))
    (folder / "empty.gz").write_bytes(b"")
    (folder / "empty-member.gz").write_bytes(gzip.compress(b""))
    full = gzip.compress(b"\n".join(orjson.dumps(lines[0]) for _ in range(100)))
    (folder / "broken.gz").write_bytes(full[: len(full) // 2])
    (sample, by_event, with_sku), skipped = run_workshop(tmp_path)
    assert dict(with_sku.rows) == {"Product Added": 2}
    assert [name.rsplit("/", 1)[-1] for name in skipped] == ["broken.gz"]
    with find_log_files(str(tmp_path)) as logs:
        explorer = DuckDBExplorer(logs)
        rows = explorer.run(
            "SELECT userid, traits.campaign_name, traits.invited_user FROM segment_logs WHERE type = "
            "'identify'"
        ).rows
        explorer.close()
    assert rows == [("13", "Spring", "true")]


def test_db_file_loads_once_and_answers_the_same(workshop_logs, tmp_path):
    database = tmp_path / "logs.duckdb"
    direct, _ = run_workshop(workshop_logs)
    loaded, _ = run_workshop(workshop_logs, database)
    assert [r.rows for r in loaded[1:]] == [r.rows for r in direct[1:]]
    explorer = DuckDBExplorer(None, database)
    again = explorer.run(sql_text(WORKSHOP_QUERIES[1][1]))
    explorer.close()
    assert again.rows == direct[1].rows


def test_ddl_and_duckdb_view_share_columns_and_mappings(workshop_logs):
    ddl = athena_ddl("s3://bucket/segment-logs/")
    assert "LOCATION 's3://bucket/segment-logs/'" in ddl and "org.openx.data.jsonserde.JsonSerDe" in ddl
    names = [c.name for c in ddl_columns(sql_text(DDL_FILE))]
    assert {"anonymousid", "context", "event", "properties", "traits", "userid", "timestamp"} <= set(names)
    mapped = {
        "campaign_name": "Campaign Name",
        "campaign_source": "Campaign Source",
        "experiment_group": "Experiment Group",
        "favorite_departments": "Favorite Departments",
        "invited_user": "Invited User?",
        "referrering_domain": "Referrering Domain",
    }
    assert ddl_mappings(ddl).items() >= mapped.items()
    with find_log_files(str(workshop_logs)) as logs:
        explorer = DuckDBExplorer(logs)
        try:
            view = explorer.run("DESCRIBE segment_logs").rows
        finally:
            explorer.close()
    types = {name: kind for name, kind, *_ in view}
    assert list(types) == names  # the DuckDB view has the DDL's columns, in its order
    assert all(f"{field} " in types["traits"] for field in mapped)  # and the mapped traits' fields


def test_cli_workshop_run_ends_with_conclusion(workshop_logs):
    result = runner.invoke(app, ["explore", str(workshop_logs)])
    assert result.exit_code == 0, result.output
    assert "event types carry properties.sku" in result.output


def test_cli_formats_and_limit(workshop_logs):
    result = runner.invoke(
        app,
        [
            "explore",
            str(workshop_logs),
            "--sql",
            "SELECT event FROM segment_logs ORDER BY event",
            "--format",
            "json",
            "--limit",
            "3",
        ],
    )
    assert result.exit_code == 0 and len(json.loads(result.output)) == 3
    result = runner.invoke(
        app, ["explore", str(workshop_logs), "--sql", "SELECT 1 AS one", "--format", "csv"]
    )
    assert result.output.splitlines() == ["one", "1"]


def test_print_ddl(tmp_path):
    result = runner.invoke(app, ["explore", "--print-ddl", "--location", "s3://b/segment-logs/"])
    assert result.exit_code == 0 and result.output.startswith("-- Athena table")


@pytest.mark.parametrize(
    "args, message",
    [
        (["/no/such/folder"], "no such file or folder"),
        (["{logs}", "--sql", "SELEC nonsense"], "the query failed"),
        (["{logs}", "--format", "xml"], "Invalid value for '--format'"),
        (["--print-ddl"], "--print-ddl needs --location"),
        ([], "give the logs to explore"),
        (["--engine", "athena"], "--engine athena needs"),
    ],
)
def test_cli_errors(workshop_logs, args, message):
    result = runner.invoke(app, ["explore", *[a.format(logs=workshop_logs) for a in args]])
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_db_without_loaded_logs_is_a_clear_error(tmp_path):
    import duckdb

    duckdb.connect(str(tmp_path / "empty.duckdb")).close()
    result = runner.invoke(app, ["explore", "--db", str(tmp_path / "empty.duckdb")])
    assert result.exit_code == 2 and "holds no segment_logs table" in result.output
