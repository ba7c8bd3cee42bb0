"""Segment's Firehose destination through moto (its objects), the Firehose S3 layout the toolkit
writes itself (names, folders, buffering, compression as AWS documents them), and reading both,
and a Kinesis stream, back: the same CSV as the S3 layout's for the same messages, every record
accounted for, bad records named where they are."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime
from pathlib import Path

import boto3
import orjson
import pytest

from tests.helpers import START
from toolkit.aws.s3 import AwsOptions
from toolkit.destinations import DestinationOptions, open_destinations
from toolkit.errors import UsageError
from toolkit.exploring.run import explore
from toolkit.segment.destination import Destination
from toolkit.segment.firehose import FirehoseDestination, StreamMap
from toolkit.segment.sinks import LocalSink
from toolkit.simulate.run import generate
from toolkit.simulate.scenario_toml import load_scenario
from toolkit.transforming.run import transform

SCENARIO = load_scenario().with_visitors(50)
SEED = 6
# AWS: <prefix>YYYY/MM/dd/HH/<stream>-<version>-YYYY-MM-dd-HH-mm-ss-<uuid>[.gz]
NAME = re.compile(
    r"^(\d{4}/\d{2}/\d{2}/\d{2})/(?P<stream>[\w.-]+)-1-(\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})-"
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}(\.gz)?$"
)


@pytest.fixture(scope="module")
def s3_layout(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("s3-layout")
    generate(SCENARIO, START, 2, SEED, LocalSink(root), workers=2)
    return root


@pytest.fixture(scope="module")
def s3_csv(s3_layout, tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("s3-csv") / "interactions.csv"
    transform(str(s3_layout), out=str(out))
    return out.read_bytes()


def lines_of(root: Path) -> list[bytes]:
    return sorted(
        line
        for path in root.glob("segment-logs/*/*/*.gz")
        for line in gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    )


def firehose_layout(root: Path, **chosen) -> list[Destination]:
    return open_destinations([str(root)], DestinationOptions(layout="firehose", **chosen))


def test_the_firehose_layout_is_named_folded_and_buffered_as_aws_documents(tmp_path, s3_layout, s3_csv):
    for compression in ("none", "gzip"):
        root = tmp_path / compression
        result = generate(
            SCENARIO,
            START,
            2,
            SEED,
            firehose_layout(root, compression=compression, buffer_mb=1, buffer_seconds=900),
            workers=2,
        )
        objects = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
        assert len(objects) > 2
        found = []
        for path in objects:
            key = path.relative_to(root).as_posix()
            match = NAME.match(key)
            assert match and match["stream"] == "segment-events", key
            assert bool(match.group(4)) == (compression == "gzip")
            data = gzip.decompress(path.read_bytes()) if compression == "gzip" else path.read_bytes()
            assert path.read_bytes()[:2] == b"\x1f\x8b" if compression == "gzip" else data[:1] == b"{"
            lines = data.splitlines(keepends=True)
            assert all(line.endswith(b"\n") for line in lines)  # Segment's newline: JSON lines
            arrivals = [datetime.fromisoformat(orjson.loads(line)["receivedAt"]) for line in lines]
            oldest = min(arrivals)
            assert match.group(1) == oldest.astimezone(UTC).strftime("%Y/%m/%d/%H")  # the oldest's hour
            assert (max(arrivals) - oldest).total_seconds() < 900  # IntervalInSeconds
            assert len(data) - len(lines[-1]) < 1 << 20  # SizeInMBs: full once past it
            found += lines
        assert sorted(found) == lines_of(s3_layout)  # every message, each once
        assert result.delivered[next(iter(result.delivered))].delivered == len(found)
        out = tmp_path / f"{compression}.csv"
        summary = transform(str(root), out=str(out)).summary  # recognised from its keys
        assert out.read_bytes() == s3_csv
        assert summary.messages_read == summary.accounted == len(found)


def test_a_short_interval_cuts_objects_by_time(tmp_path):
    root = tmp_path / "fh"
    generate(SCENARIO.with_visitors(20), START, 1, SEED, firehose_layout(root, buffer_seconds=60), workers=1)
    for path in (p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        arrivals = [datetime.fromisoformat(orjson.loads(line)["receivedAt"]) for line in path.open("rb")]
        assert (max(arrivals) - min(arrivals)).total_seconds() < 60


def test_the_map_routes_events_as_segment_maps_them_and_counts_the_unmapped():
    routes = StreamMap.parse("Order Completed=orders, TRACK=events, page=pages")
    assert routes.stream_for({"type": "track", "event": "order completed"}) == "orders"
    assert routes.stream_for({"type": "track", "event": "Product Added"}) == "events"
    assert routes.stream_for({"type": "page"}) == "pages"
    assert routes.stream_for({"type": "identify"}) is None
    assert StreamMap.parse("*=all").stream_for({"type": "identify"}) == "all"
    with pytest.raises(UsageError, match="firehose_map"):
        StreamMap.parse("Order Completed")
    with pytest.raises(UsageError, match="not one of the streams"):
        FirehoseDestination("firehose://other", AwsOptions(), firehose_map="*=all")


def _delivery_stream(endpoint: str, bucket: str, name: str) -> None:
    boto3.client("firehose", endpoint_url=endpoint, region_name="us-east-1").create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "Prefix": "firehose/",
        },
    )


def test_firehose_through_moto_transforms_to_the_s3_layouts_csv(tmp_path, s3_bucket, s3_layout, s3_csv):
    endpoint, bucket = s3_bucket
    _delivery_stream(endpoint, bucket, "all-events")
    _delivery_stream(endpoint, bucket, "orders")
    aws = AwsOptions(endpoint_url=endpoint)
    destinations = open_destinations(
        ["firehose://"],
        DestinationOptions(
            aws=aws, firehose_map="Order Completed=orders,track=all-events", firehose_api="batch"
        ),
    )
    with pytest.raises(UsageError, match="given twice"):
        open_destinations(["firehose://orders", "firehose://orders"], DestinationOptions(aws=aws))
    result = generate(SCENARIO, START, 2, SEED, destinations, workers=2)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="firehose/")["Contents"]]
    tracks = [line for line in lines_of(s3_layout) if orjson.loads(line)["type"] == "track"]
    counts = result.delivered["firehose:// (order completed=orders,track=all-events)"]
    assert counts.delivered == len(tracks) and counts.requests >= 2
    assert counts.not_sent == {
        "events no mapping names (Segment's mappedStreams)": len(lines_of(s3_layout)) - len(tracks)
    }
    out = tmp_path / "moto.csv"
    summary = transform(f"s3://{bucket}/firehose/", out=str(out), aws=aws).summary  # recognised from its keys
    assert out.read_bytes() == s3_csv
    assert summary.messages_read == summary.accounted == len(tracks)
    bodies = b"".join(s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys)
    assert sorted(bodies.splitlines(keepends=True)) == sorted(tracks)  # JSON + newline, each once
    assert all(not key.endswith(".gz") and NAME.match(key.removeprefix("firehose/")) for key in keys)


def test_a_kinesis_stream_reads_back_as_the_s3_layout_with_bad_records_named(tmp_path, moto_server, s3_csv):
    stream = f"readback-{tmp_path.name[-12:]}".replace("_", "-")
    aws = AwsOptions(endpoint_url=moto_server)
    destinations = open_destinations(
        [f"kinesis://{stream}"],
        DestinationOptions(
            aws=aws,
            source_names={s.id: s.key for s in SCENARIO.sources.values()},
            create=True,
            shards=2,
        ),
    )
    result = generate(SCENARIO, START, 2, SEED, destinations, workers=2)
    put = result.delivered[f"kinesis://{stream}"].delivered
    kinesis = boto3.client("kinesis", endpoint_url=moto_server, region_name="us-east-1")
    bad = kinesis.put_record(StreamName=stream, Data=b'{"type": "track", "event"', PartitionKey="x")
    out, rejects = tmp_path / "kinesis.csv", tmp_path / "rejects.jsonl"
    summary = transform(f"kinesis://{stream}", out=str(out), aws=aws, rejects=str(rejects)).summary
    assert out.read_bytes() == s3_csv
    assert summary.messages_read == summary.accounted == put + 1 and summary.rejected == 1
    (reject,) = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert reject["file"].startswith(f"kinesis://{stream}/{bad['ShardId']}")
    assert reject["sequence"] == bad["SequenceNumber"]
    counted = explore(f"kinesis://{stream}", sql="SELECT count(*) AS n FROM segment_logs", aws=aws)
    assert counted.queries[0][1].rows[0][0] == put + 1


def test_explore_reads_a_firehose_layout_told_or_recognised(tmp_path, s3_layout):
    root = tmp_path / "fh"
    generate(SCENARIO, START, 2, SEED, firehose_layout(root, compression="gzip"), workers=2)
    for layout in (None, "firehose"):
        counted = explore(str(root), sql="SELECT count(*) AS n FROM segment_logs", layout=layout)
        assert counted.queries[0][1].rows[0][0] == len(lines_of(s3_layout))


def test_the_collector_writes_a_firehose_layout(tmp_path):
    import json

    from tests.helpers import KEYS, RunningCollector, basic, request
    from toolkit.segment.firehose import FirehoseLayout

    layout = FirehoseLayout(
        str(tmp_path / "fh"), AwsOptions(), firehose_map="track=events", compression="gzip"
    )
    collector = RunningCollector([layout], journal=tmp_path / "journal")
    batch = [{"type": "track", "event": "E", "userId": "u", "messageId": f"m{i}"} for i in range(30)]
    batch.append({"type": "identify", "userId": "u", "messageId": "i1"})
    body = json.dumps({"batch": batch}).encode()
    assert request(collector.url, "POST", "/v1/batch", body, basic(KEYS["web"]))[0] == 200
    collector.close()
    (path,) = (p for p in (tmp_path / "fh").rglob("*") if p.is_file() and not p.name.startswith("."))
    assert NAME.match(path.relative_to(tmp_path / "fh").as_posix())["stream"] == "events"
    lines = gzip.decompress(path.read_bytes()).splitlines()
    assert sorted(orjson.loads(line)["messageId"] for line in lines) == sorted(f"m{i}" for i in range(30))
    summary = collector.collector.summary()["destinations"][layout.name]
    assert summary["stored"] == 31 and summary["not_sent"] == {
        "events no mapping names (Segment's mappedStreams)": 1
    }


def test_a_firehose_layout_in_a_bucket_is_transformed_and_reported(tmp_path, s3_bucket, s3_layout, s3_csv):
    from toolkit.reporting.build import build_report

    endpoint, bucket = s3_bucket
    aws = AwsOptions(endpoint_url=endpoint)
    destinations = open_destinations(
        [f"s3://{bucket}/events"], DestinationOptions(aws=aws, layout="firehose", compression="gzip")
    )
    generate(SCENARIO, START, 2, SEED, destinations, workers=2)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys and all(NAME.match(key.removeprefix("events/")) for key in keys)  # the prefix, then the hour
    out = tmp_path / "bucket.csv"
    transform(f"s3://{bucket}/events", out=str(out), aws=aws, layout="firehose")
    assert out.read_bytes() == s3_csv
    report = build_report(
        f"s3://{bucket}/events", scenario=SCENARIO, aws=aws, evaluate=False, layout="firehose"
    )
    assert report.accounting is not None
    assert report.accounting.messages_read == report.accounting.accounted == len(lines_of(s3_layout))
