"""S3 in and out, against moto's S3-compatible server on loopback (started by the tests)."""

from __future__ import annotations

import json

import boto3
import orjson
import pytest
from typer.testing import CliRunner

from tests.helpers import START, gz_lines
from toolkit.aws.s3 import AwsOptions
from toolkit.cli import app
from toolkit.exploring.engines import WORKSHOP_QUERIES, DuckDBExplorer
from toolkit.exploring.logs_view import sql_text
from toolkit.segment.logs import find_log_files
from toolkit.segment.sinks import LocalSink, S3Sink
from toolkit.simulate.run import generate
from toolkit.simulate.scenario_toml import load_scenario
from toolkit.transforming.run import transform

runner = CliRunner()


def upload_tree(client, bucket: str, root, prefix: str) -> None:
    for path in root.rglob("*.gz"):
        client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(root)}")


def test_generate_to_s3_writes_the_same_objects_as_files(s3_bucket, tmp_path):
    endpoint, bucket = s3_bucket
    scenario = load_scenario().with_visitors(60)
    generate(
        scenario, START, 1, 5, S3Sink(f"s3://{bucket}/raw", AwsOptions(endpoint_url=endpoint)), workers=2
    )
    generate(
        scenario,
        START,
        1,
        5,
        LocalSink(tmp_path),
        workers=2,
    )
    client = boto3.client("s3", endpoint_url=endpoint)
    objects = {o["Key"]: o["Size"] for o in client.list_objects_v2(Bucket=bucket, Prefix="raw/")["Contents"]}
    local = {f"raw/{p.relative_to(tmp_path)}": p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()}
    assert objects == local  # the logs, and the run's marker beside them
    # Segment's S3 destination stores its log objects as gzipped text (FACTS 1: a real 2023 bucket)
    logs = [key for key in objects if key.endswith(".gz")]
    assert logs
    for key in logs:
        head = client.head_object(Bucket=bucket, Key=key)
        assert (head["ContentType"], head["ContentEncoding"]) == ("text/plain", "gzip")


def test_transform_s3_in_and_out_equals_local(workshop_logs, s3_bucket, tmp_path):
    endpoint, bucket = s3_bucket
    client = boto3.client("s3", endpoint_url=endpoint)
    upload_tree(client, bucket, workshop_logs, "logs")
    aws = AwsOptions(endpoint_url=endpoint)
    result = transform(f"s3://{bucket}/logs", out=f"s3://{bucket}/transformed/", aws=aws)
    assert result.written_to == f"s3://{bucket}/transformed/interactions.csv" and result.valid
    remote = client.get_object(Bucket=bucket, Key="transformed/interactions.csv")["Body"].read()
    transform(str(workshop_logs), out=str(tmp_path / "local.csv"))
    assert remote == (tmp_path / "local.csv").read_bytes()


def test_explore_s3_equals_local(workshop_logs, s3_bucket):
    endpoint, bucket = s3_bucket
    upload_tree(boto3.client("s3", endpoint_url=endpoint), bucket, workshop_logs, "logs")

    def answers(source: str, aws=None):
        with find_log_files(source, aws) as logs:
            explorer = DuckDBExplorer(logs)
            try:
                return [explorer.run(sql_text(name)).rows for _, name in WORKSHOP_QUERIES[1:]]
            finally:
                explorer.close()

    assert answers(f"s3://{bucket}/logs", AwsOptions(endpoint_url=endpoint)) == answers(str(workshop_logs))


def test_explore_reads_s3_objects_as_the_query_needs_them(workshop_logs, s3_bucket):
    """Nothing is downloaded first: LIMIT 20 fetches a few objects of many, the full queries
    stream every object and agree with the local files."""
    endpoint, bucket = s3_bucket
    upload_tree(boto3.client("s3", endpoint_url=endpoint), bucket, workshop_logs, "logs")
    aws = AwsOptions(endpoint_url=endpoint)
    with find_log_files(f"s3://{bucket}/logs", aws, stream=True) as logs:
        assert logs.filesystem is not None and all(str(p).startswith("s3://") for p in logs.paths)
        explorer = DuckDBExplorer(logs)
        try:
            rows = explorer.run("SELECT messageid FROM segment_logs LIMIT 20").rows
        finally:
            explorer.close()
        total = sum(logs.filesystem.sizes.values())
        assert len(rows) == 20 and len(logs.paths) > 10
        assert len(logs.filesystem.objects_read) <= 4 and logs.filesystem.bytes_read < total / 5
    result = runner.invoke(
        app,
        [
            "explore",
            f"s3://{bucket}/logs",
            "--endpoint-url",
            endpoint,
            "--sql",
            "SELECT count(*) AS n FROM segment_logs",
            "--format",
            "csv",
        ],
    )
    lines = sum(1 for path in workshop_logs.rglob("*.gz") for _ in gz_lines(path))
    assert result.exit_code == 0 and result.stdout.splitlines()[-1] == str(lines)


def test_cli_s3_errors_are_one_line(s3_bucket):
    endpoint, bucket = s3_bucket
    result = runner.invoke(app, ["transform", f"s3://{bucket}/nothing-here", "--endpoint-url", endpoint])
    assert result.exit_code == 2 and "no Segment log files" in result.output
    result = runner.invoke(app, ["transform", "s3://no-such-bucket-xyz/logs", "--endpoint-url", endpoint])
    assert result.exit_code == 2 and "NoSuchBucket" in result.output
    result = runner.invoke(
        app,
        [
            "generate",
            "--date",
            "2026-11-01",
            "--days",
            "1",
            "--out",
            "s3://no-such-bucket-xyz/p",
            "--endpoint-url",
            endpoint,
        ],
    )
    assert result.exit_code == 2 and "cannot write to s3://no-such-bucket-xyz/p" in result.output


def seed_athena_results(endpoint: str, columns: list[str], rows: list[list[str]]) -> None:
    """moto answers Athena queries with results queued through its own API."""
    import json
    import urllib.request

    body = {
        "results": [
            {
                "rows": [{"Data": [{"VarCharValue": c} for c in columns]}]
                + [{"Data": [{"VarCharValue": v} for v in row]} for row in rows],
                "column_info": [
                    {"Name": c, "Label": c, "Type": "varchar", "Nullable": "UNKNOWN"} for c in columns
                ],
            }
        ]
    }
    request = urllib.request.Request(
        f"{endpoint}/moto-api/static/athena/query-results",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request).read()


def test_explore_on_athena_runs_start_poll_fetch(s3_bucket):
    endpoint, bucket = s3_bucket
    seed_athena_results(endpoint, ["event", "messages"], [["Product Added", "3"], ["Order Completed", "2"]])
    result = runner.invoke(
        app,
        [
            "explore",
            "--engine",
            "athena",
            "--database",
            "segment",
            "--output",
            f"s3://{bucket}/athena/",
            "--endpoint-url",
            endpoint,
            "--region",
            "us-east-1",
            "--sql",
            sql_text("workshop_3_events_with_sku.sql"),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    import json

    assert json.loads(result.output) == [
        {"event": "Product Added", "messages": "3"},
        {"event": "Order Completed", "messages": "2"},
    ]
    table = runner.invoke(
        app,
        [
            "explore",
            "--engine",
            "athena",
            "--database",
            "segment",
            "--output",
            f"s3://{bucket}/athena/",
            "--endpoint-url",
            endpoint,
            "--sql",
            "SELECT 1",
        ],
    )
    assert "state: SUCCEEDED" in table.output and "data scanned" in table.output


@pytest.mark.slow
def test_transform_reads_s3_as_it_goes_and_salvages_a_damaged_object(
    workshop_logs, s3_bucket, tmp_path, monkeypatch
):
    """Nothing is downloaded up front (disk stays bounded); a truncated object is fetched alone,
    salvaged up to its damage, and every line is accounted for; Users and Items read S3 too."""
    import gzip

    import toolkit.segment.logs as logs_module
    from tests.helpers import track

    endpoint, bucket = s3_bucket
    client = boto3.client("s3", endpoint_url=endpoint)
    upload_tree(client, bucket, workshop_logs, "logs")
    whole = gzip.compress(b"".join(orjson.dumps(track(f"d{i}", user_id=f"u{i}")) + b"\n" for i in range(50)))
    client.put_object(Bucket=bucket, Key="logs/segment-logs/damaged/1/cut.gz", Body=whole[: len(whole) // 2])
    monkeypatch.setattr(
        logs_module, "download", lambda *a, **k: (_ for _ in ()).throw(AssertionError("downloaded up front"))
    )
    aws = AwsOptions(endpoint_url=endpoint)
    result = transform(
        f"s3://{bucket}/logs",
        out=str(tmp_path / "s3.csv"),
        aws=aws,
        users=str(tmp_path / "u.csv"),
        items=str(tmp_path / "i.csv"),
        catalog=str(workshop_logs / "catalog.jsonl"),
    )
    summary = result.summary
    assert result.valid and summary.accounted == summary.messages_read
    assert any("cut.gz" in name for name in summary.damaged_files)
    local = transform(
        str(workshop_logs), out=str(tmp_path / "local.csv"), users=str(tmp_path / "lu.csv")
    ).summary
    assert (
        summary.messages_read > local.messages_read
        and (tmp_path / "u.csv").read_bytes() == (tmp_path / "lu.csv").read_bytes()
    )
    catalog = {json.loads(line)["sku"] for line in (workshop_logs / "catalog.jsonl").read_text().splitlines()}
    assert {line.split(",")[0] for line in (tmp_path / "i.csv").read_text().splitlines()[1:]} == catalog | {
        "s1"
    }  # s1: the damaged object's lines that were saved
