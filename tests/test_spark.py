"""The Spark job (etl/) on local Spark agrees with the DuckDB engine row for row."""

from __future__ import annotations

import gzip

import orjson

from tests.test_transform import DAY_FOLDER, track
from toolkit.transform.run import transform
from toolkit.transform.spark_engine import transform_with_spark
from toolkit.transform.summary import TransformOptions


def both(source, tmp_path, options=TransformOptions()):
    duck, _, _ = transform(str(source), str(tmp_path / "duckdb.csv"), options)
    spark, _, report = transform_with_spark(str(source), str(tmp_path / "spark.csv"), options, master="local[2]")
    return duck, spark, report


def test_spark_equals_duckdb_on_generated_logs(workshop_logs, tmp_path):
    duck, spark, report = both(workshop_logs, tmp_path)
    assert (tmp_path / "spark.csv").read_bytes() == (tmp_path / "duckdb.csv").read_bytes()
    assert report.valid
    assert (spark.messages_read, spark.messages_written, spark.filtered, spark.duplicates) == (duck.messages_read, duck.messages_written, duck.filtered, duck.duplicates)


def test_spark_equals_duckdb_on_real_world_edge_cases(tmp_path):
    order = track("m9", event="Order Completed", sku=None)
    order["properties"] = {"products": [{"sku": "a", "product_id": 1}, {"sku": 2, "product_id": "p2"}, {"name": "none"}]}
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
    for options, duplicates, rows in ((TransformOptions(), 1, 5), (TransformOptions(item_field="product_id"), 0, 2)):
        duck, spark, _ = both(tmp_path / "logs", tmp_path, options)
        assert (tmp_path / "spark.csv").read_bytes() == (tmp_path / "duckdb.csv").read_bytes()
        assert spark.interactions == duck.interactions == rows
        assert spark.filtered == duck.filtered and spark.duplicates == duck.duplicates == duplicates
        assert spark.rejected == duck.rejected == 1
