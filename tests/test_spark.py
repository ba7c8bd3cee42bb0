"""The Spark job (etl/) on local Spark agrees with the DuckDB engine row for row."""

from __future__ import annotations

import gzip

import orjson
import pytest
from typer.testing import CliRunner

from tests.helpers import DAY_FOLDER, track
from toolkit.cli import app
from toolkit.transforming.run import transform
from toolkit.transforming.summary import TransformOptions

pytestmark = pytest.mark.spark


def both(source, tmp_path, options: TransformOptions | None = None):
    options = options or TransformOptions()
    duck = transform(str(source), out=str(tmp_path / "duckdb.csv"), options=options)
    spark = transform(
        str(source), out=str(tmp_path / "spark.csv"), options=options, engine="spark", master="local[2]"
    )
    return duck.summary, spark.summary, spark.validation


def test_spark_equals_duckdb_on_generated_logs(workshop_logs, tmp_path):
    duck, spark, report = both(workshop_logs, tmp_path)
    assert (tmp_path / "spark.csv").read_bytes() == (tmp_path / "duckdb.csv").read_bytes()
    assert report.valid
    assert (spark.messages_read, spark.messages_written, spark.filtered, spark.duplicates) == (
        duck.messages_read,
        duck.messages_written,
        duck.filtered,
        duck.duplicates,
    )


def test_spark_equals_duckdb_on_real_world_edge_cases(tmp_path):
    order = track("m9", event="Order Completed", sku=None)
    order["properties"] = {
        "products": [{"sku": "a", "product_id": 1}, {"sku": 2, "product_id": "p2"}, {"name": "none"}]
    }
    lines = [
        track("m1", timestamp="2019-05-02T03:19:05Z"),
        track("m2", timestamp="2019-05-02T05:19:05.123456+02:00", user_id=1234567890),
        track("m3", timestamp="2019-05-01T20:19:05.5-07:00", user_id="1234567890"),
        track("m1", timestamp="2019-05-02T03:19:05Z"),
        track("m4", timestamp="not a time"),
        track("m5", user_id={"id": 1}),
        track("m6", event="Page Viewed"),
        {"type": "identify", "userId": "u1", "messageId": "m7"},
        order,
    ]
    path = tmp_path / "logs" / DAY_FOLDER / "a.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(b"\n".join(orjson.dumps(line) for line in lines) + b"\n{bad json\n"))
    for options, duplicates, rows in (
        (TransformOptions(), 1, 5),
        (TransformOptions(item_field="product_id"), 0, 2),
    ):
        duck, spark, _ = both(tmp_path / "logs", tmp_path, options)
        assert (tmp_path / "spark.csv").read_bytes() == (tmp_path / "duckdb.csv").read_bytes()
        assert spark.interactions == duck.interactions == rows
        assert spark.filtered == duck.filtered and spark.duplicates == duck.duplicates == duplicates
        assert spark.rejected == duck.rejected == 1


def test_spark_writes_the_same_users_and_items_datasets(workshop_logs, tmp_path):
    catalog = str(workshop_logs / "catalog.jsonl")
    duck = transform(
        str(workshop_logs),
        out=str(tmp_path / "duckdb.csv"),
        users=str(tmp_path / "d-users.csv"),
        items=str(tmp_path / "d-items.csv"),
        catalog=catalog,
    ).summary
    args = [
        "transform",
        str(workshop_logs),
        "--engine",
        "spark",
        "--out",
        str(tmp_path / "spark.csv"),
        "--users",
        str(tmp_path / "s-users.csv"),
        "--items",
        str(tmp_path / "s-items.csv"),
        "--catalog",
        catalog,
        "--json",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for name in ("users.csv", "users.avsc", "items.csv", "items.avsc"):
        assert (tmp_path / f"s-{name}").read_bytes() == (tmp_path / f"d-{name}").read_bytes(), name
    summary = orjson.loads(result.stdout)
    assert summary["items_dataset"] == {
        "items": duck.items_dataset.items,
        "fields": duck.items_dataset.fields,
        "from_catalog": 50,
    }


def test_spark_users_and_items_equal_duckdb_on_edge_cases(tmp_path):
    lines = [
        {
            "type": "identify",
            "userId": "u1",
            "timestamp": "2026-11-01T09:00:00Z",
            "traits": {
                "plan": "gold",
                "age": 30,
                "tags": ["a", "b", 3],
                "vip": True,
                "note": "",
                "gone": None,
            },
        },
        {
            "type": "identify",
            "userId": "u1",
            "timestamp": "2026-11-02T09:00:00Z",
            "traits": {"plan": "silver, new", "age": 31.5},
        },
        {
            "type": "identify",
            "userId": 42,
            "timestamp": "2026-11-01T09:00:00Z",
            "traits": {"plan": " padded ", "nested": {"k": [1, 2]}},
        },
        {
            "type": "identify",
            "userId": {"id": 1},
            "timestamp": "2026-11-01T09:00:00Z",
            "traits": {"plan": "object user"},
        },
        {"type": "identify", "userId": "u3", "timestamp": "2026-11-01T09:00:00Z", "traits": "not an object"},
        track("m1", event="Product Viewed", sku=None)
        | {
            "properties": {
                "sku": 7,
                "price": "12",
                "category": "Shoes > Boots > Tall",
                "brand": "",
                "name": 'Boot "X"',
            }
        },
        track("m2", event="Product Viewed", sku=None, timestamp="2026-11-03T09:00:00Z")
        | {"properties": {"sku": "7", "price": 13.25, "description": "Tall boot"}},
        track("m3", event="Order Completed", sku=None)
        | {
            "properties": {
                "products": [
                    {"sku": "a", "price": 1, "created_at": "2020-02-03"},
                    {"sku": "b", "category": " Hats "},
                    {"name": "no sku"},
                ]
            }
        },
    ]
    path = tmp_path / "logs" / DAY_FOLDER / "a.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(b"\n".join(orjson.dumps(line) for line in lines) + b"\n"))
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_bytes(
        orjson.dumps({"sku": "b", "price": 2.5, "created_at": "2021-01-01T12:30:00Z"})
        + b"\n"
        + orjson.dumps({"sku": "cold", "name": "Cold item"})
        + b"\n"
    )
    logs = str(tmp_path / "logs")
    transform(
        logs,
        out=str(tmp_path / "duckdb.csv"),
        users=str(tmp_path / "d-users.csv"),
        items=str(tmp_path / "d-items.csv"),
        catalog=str(catalog),
    )
    transform(
        logs,
        out=str(tmp_path / "spark.csv"),
        engine="spark",
        users=str(tmp_path / "s-users.csv"),
        items=str(tmp_path / "s-items.csv"),
        catalog=str(catalog),
    )
    for name in ("users.csv", "items.csv"):
        assert (tmp_path / f"s-{name}").read_text() == (tmp_path / f"d-{name}").read_text(), name
    assert "cold," in (tmp_path / "s-items.csv").read_text()


def test_the_standalone_spark_job_writes_the_same_three_datasets(workshop_logs, tmp_path):
    """etl/spark_etl.py as spark-submit runs it (its modules imported beside it, not from the toolkit)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    catalog = str(workshop_logs / "catalog.jsonl")
    transform(
        str(workshop_logs),
        out=str(tmp_path / "duckdb.csv"),
        users=str(tmp_path / "d-users.csv"),
        items=str(tmp_path / "d-items.csv"),
        catalog=catalog,
    )
    job = Path(__file__).resolve().parent.parent / "etl" / "spark_etl.py"
    modules = ",".join(
        str(job.parent / name)
        for name in ("segment_interactions.py", "segment_datasets.py", "dataset_fields.py")
    )
    env = {
        **os.environ,
        # as the job's docstring says
        "PYSPARK_SUBMIT_ARGS": f"--master local[2] --py-files {modules} pyspark-shell",
        "PYSPARK_PYTHON": sys.executable,  # the workers run this interpreter, whatever python3 is on PATH
    }
    out = {name: tmp_path / name for name in ("interactions", "users", "items")}
    args = [
        sys.executable,
        str(job),
        str(workshop_logs / "segment-logs"),
        str(out["interactions"]),
        "--users-output",
        str(out["users"]),
        "--items-output",
        str(out["items"]),
        "--catalog",
        catalog,
    ]
    run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    part = {name: next(folder.glob("part-*.csv")).read_bytes() for name, folder in out.items()}
    assert part["interactions"] == (tmp_path / "duckdb.csv").read_bytes()
    assert (
        part["users"] == (tmp_path / "d-users.csv").read_bytes()
        and part["items"] == (tmp_path / "d-items.csv").read_bytes()
    )
    assert "items: 50 (50 in the catalog)" in run.stdout


def test_the_etl_copies_of_the_rules_are_the_packages():
    """etl/ runs on Glue without the toolkit, so it holds its own copies of a few rules; they must
    not drift."""
    from toolkit.etl import dataset_fields, segment_datasets, segment_interactions

    from toolkit.personalize import validate
    from toolkit.transforming import duckdb_engine, summary

    assert (
        segment_interactions.MAX_ID_LENGTH
        == segment_datasets.MAX_ID_LENGTH
        == duckdb_engine.MAX_ID_LENGTH
        == validate.MAX_ID_LENGTH
    )
    assert (dataset_fields.MAX_CATEGORICAL_LENGTH, dataset_fields.MAX_TEXTUAL_LENGTH) == (
        validate.MAX_CATEGORICAL_LENGTH,
        validate.MAX_TEXTUAL_LENGTH,
    )
    assert tuple(segment_interactions.DEFAULT_EVENT_TYPES) == tuple(summary.DEFAULT_EVENT_TYPES)


def test_spark_writes_a_domains_event_types_as_duckdb_does(workshop_logs, tmp_path):
    from toolkit.personalize.domains import event_map

    mapping = event_map("ecommerce")
    options = TransformOptions(tuple(mapping), "sku", mapping)
    duck, spark, _ = both(workshop_logs, tmp_path, options)
    assert (tmp_path / "spark.csv").read_bytes() == (tmp_path / "duckdb.csv").read_bytes()
    assert spark.events == duck.events and set(spark.events) <= {"View", "AddToCart", "Purchase"}
    result = CliRunner().invoke(
        app,
        [
            "transform",
            str(workshop_logs),
            "--engine",
            "spark",
            "--out",
            str(tmp_path / "x.csv"),
            "--rejects",
            str(tmp_path / "r.jsonl"),
        ],
    )
    assert result.exit_code == 2 and "--rejects needs --engine duckdb" in result.output
