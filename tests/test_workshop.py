"""`toolkit workshop`: Exercise 1 offline, end to end."""

from __future__ import annotations

import csv
import json
from collections import Counter

import pytest
from typer.testing import CliRunner

from tests.helpers import read_messages
from toolkit.cli import app
from toolkit.personalize.validate import validate_csv

runner = CliRunner()


@pytest.mark.slow
def test_workshop_offline_end_to_end(tmp_path):
    out = tmp_path / "ws"
    result = runner.invoke(
        app, ["workshop", "--date", "2026-11-01", "--days", "3", "--users-per-day", "300", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    csv_path = out / "transformed" / "interactions.csv"
    assert sorted(p.name for p in (out / "transformed").iterdir()) == [
        "interactions.csv"
    ]  # one file in the import folder
    assert validate_csv(csv_path, out / "interactions.avsc").valid
    messages = [m for _, m in read_messages(out)]
    wanted = ("Product Added", "Order Completed", "Product Clicked")
    expected = Counter(
        m["event"]
        for m in messages
        if m.get("event") in wanted and m.get("userId") and m["properties"].get("sku")
    )
    with open(csv_path, newline="") as handle:
        actual = Counter(row["EVENT_TYPE"] for row in csv.DictReader(handle))
    assert actual == expected
    text = " ".join(result.output.split())  # lines wrapped by words, joined
    assert f"{sum(expected.values()):,} interactions" in text and "passes Personalize's rules" in text
    assert json.loads((out / "interactions.avsc").read_text())["name"] == "Interactions"
    # the Users and Items datasets, each valid, the items those of the catalog export
    assert validate_csv(out / "users.csv").valid and validate_csv(out / "items.csv", domain="ecommerce").valid
    catalog = [json.loads(line) for line in (out / "catalog.jsonl").read_text().splitlines()]
    with open(out / "items.csv", newline="") as handle:
        assert sorted(row["ITEM_ID"] for row in csv.DictReader(handle)) == sorted(p["sku"] for p in catalog)
    assert "items dataset:" in text and "cold users" in text
    page = (out / "report.html").read_text()
    assert (
        'data-chart="per_day_by_source"' in page
        and 'data-chart="popularity"' in page
        and "report.html" in text
    )


@pytest.mark.slow
def test_workshop_against_s3(s3_bucket, tmp_path):
    import boto3

    endpoint, bucket = s3_bucket
    result = runner.invoke(
        app,
        [
            "workshop",
            "--date",
            "2026-11-01",
            "--days",
            "3",
            "--users-per-day",
            "400",
            "--out",
            str(tmp_path / "ws"),
            "--bucket",
            bucket,
            "--endpoint-url",
            endpoint,
        ],
    )
    assert result.exit_code == 0, result.output
    keys = [
        o["Key"] for o in boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=bucket)["Contents"]
    ]
    assert "transformed/interactions.csv" in keys and "interactions.avsc" in keys and "catalog.jsonl" in keys
    assert (tmp_path / "ws" / "items.csv").is_file()
    assert any(k.startswith("segment-logs/") for k in keys)


def test_workshop_bad_date_is_exit_2(tmp_path):
    result = runner.invoke(app, ["workshop", "--date", "11/01/2026", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "is not a date" in result.output
