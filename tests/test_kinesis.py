"""Segment's Kinesis destination against moto's server: what generate and the collector put on a
stream, read back with boto3 here (not with the toolkit), against the same seed's S3-layout files;
throttling and partial failures injected by a proxy in front of moto, with nothing lost."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections import Counter
from pathlib import Path

import boto3
import orjson
import pytest
from aiohttp import ClientSession, web

from tests.helpers import KEYS, START, RunningCollector, basic, request
from toolkit.aws.s3 import AwsOptions
from toolkit.destinations import DestinationOptions, open_destinations
from toolkit.errors import UsageError
from toolkit.segment.kinesis import KinesisDestination
from toolkit.segment.sinks import LocalSink
from toolkit.simulate.run import generate
from toolkit.simulate.scenario_toml import load_scenario

RETAIL = load_scenario("retail")  # its apps send screen calls


def read_stream(endpoint: str, stream: str) -> list[dict]:
    """Every record of every shard, from the trim horizon: Data, PartitionKey, shard."""
    client = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1")
    records = []
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = client.get_records(ShardIterator=iterator, Limit=10_000)
            records += [{**r, "Shard": shard["ShardId"]} for r in answer["Records"]]
            if not answer["Records"] and answer.get("MillisBehindLatest", 0) == 0:
                break
            iterator = answer.get("NextShardIterator")
    return records


def s3_lines(root: Path) -> list[bytes]:
    return [
        line
        for path in sorted(root.glob("segment-logs/*/*/*.gz"))
        for line in gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    ]


def options(endpoint: str, scenario, **chosen) -> DestinationOptions:
    return DestinationOptions(
        aws=AwsOptions(endpoint_url=endpoint),
        source_names={source.id: source.key for source in scenario.sources.values()},
        **chosen,
    )


def test_generate_puts_every_message_as_segment_does(tmp_path, moto_server):
    scenario = RETAIL.with_visitors(40)
    generate(scenario, START, 2, 9, LocalSink(tmp_path / "s3"), workers=2)
    stream = f"events-{tmp_path.name[-20:]}".replace("_", "-")
    destinations = open_destinations(
        [f"kinesis://{stream}"], options(moto_server, scenario, create=True, shards=3)
    )
    result = generate(scenario, START, 2, 9, destinations, workers=2)
    lines = s3_lines(tmp_path / "s3")
    screens = [line for line in lines if orjson.loads(line)["type"] == "screen"]
    sent = [line.rstrip(b"\n") for line in lines if orjson.loads(line)["type"] != "screen"]
    records = read_stream(moto_server, stream)
    assert screens and sent
    assert sorted(r["Data"] for r in records) == sorted(sent)  # message for message, count included
    assert not any(b"\n" in r["Data"] for r in records)
    for record in records:
        message = orjson.loads(record["Data"])
        assert record["PartitionKey"] == (message.get("userId") or message["anonymousId"])
    by_key = {}
    for record in records:  # a key always lands on the same shard
        assert by_key.setdefault(record["PartitionKey"], record["Shard"]) == record["Shard"]
    assert len({r["Shard"] for r in records}) == 3
    counts = result.delivered[f"kinesis://{stream}"]
    assert counts.delivered == len(sent) and sum(counts.not_sent.values()) == len(screens)
    assert counts.requests >= -(-len(sent) // 500)


def test_a_stream_per_source_keyed_by_message_id(tmp_path, moto_server):
    scenario = load_scenario().with_visitors(30)
    prefix = f"seg-{tmp_path.name[-12:]}".replace("_", "-")
    out = f"kinesis://{prefix}-{{source}}"
    with pytest.raises(UsageError, match="stream_per_source"):
        open_destinations([out], options(moto_server, scenario, create=True))
    with pytest.raises(UsageError, match="does not exist"):
        open_destinations([f"kinesis://{prefix}-missing"], options(moto_server, scenario))
    destinations = open_destinations(
        [out],
        options(moto_server, scenario, create=True, stream_per_source=True, partition_key="message-id"),
    )
    generate(scenario, START, 1, 2, [*destinations, LocalSink(tmp_path / "s3")], workers=1)
    by_source = Counter(orjson.loads(line)["projectId"] for line in s3_lines(tmp_path / "s3"))
    for source in scenario.sources.values():
        records = read_stream(moto_server, f"{prefix}-{source.key}")
        assert len(records) == by_source[source.id]
        for record in records:
            message = orjson.loads(record["Data"])
            assert message["projectId"] == source.id and record["PartitionKey"] == message["messageId"]


class FaultyProxy:
    """Kinesis or Firehose in front of moto that throttles every third batch call (PutRecords,
    PutRecordBatch), and of every other one forwards only some records, answering the rest as
    failed (FailedRecordCount, FailedPutCount), as a stream short of capacity does."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.calls: Counter[str] = Counter()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application(client_max_size=16 << 20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        self.ready.set()
        self.loop.run_forever()

    async def _forward(self, request: web.Request, body: bytes) -> tuple[int, bytes]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with (
            ClientSession() as session,
            session.request(
                request.method, self.upstream + request.path_qs, data=body, headers=headers
            ) as answer,
        ):
            return answer.status, await answer.read()

    # the batch call of each service: (its records' field in the answer, the failed count's, throttling)
    BATCHES = {
        ".PutRecords": ("Records", "FailedRecordCount", "ProvisionedThroughputExceededException"),
        ".PutRecordBatch": ("RequestResponses", "FailedPutCount", "ServiceUnavailableException"),
    }

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        target = request.headers.get("X-Amz-Target", "")
        batch = next((shape for suffix, shape in self.BATCHES.items() if target.endswith(suffix)), None)
        if batch is None:
            status, answer = await self._forward(request, body)
            return web.Response(status=status, body=answer, content_type="application/x-amz-json-1.1")
        results_field, failed_field, throttled = batch
        self.calls["batches"] += 1
        call = self.calls["batches"]
        if call % 3 == 1:
            self.calls["throttled"] += 1
            error = {"__type": throttled, "message": "Rate exceeded"}
            return web.Response(status=400, body=json.dumps(error), content_type="application/x-amz-json-1.1")
        payload = json.loads(body)
        records = payload["Records"]
        refused = {i for i in range(len(records)) if call % 2 == 0 and i % 4 == 1}
        kept = [r for i, r in enumerate(records) if i not in refused]
        results: list[dict] = []
        if kept:
            status, answer = await self._forward(request, json.dumps({**payload, "Records": kept}).encode())
            assert status == 200, answer
            results = json.loads(answer)[results_field]
        merged, taken = [], iter(results)
        for i in range(len(records)):
            merged.append(
                {"ErrorCode": throttled, "ErrorMessage": "slow down"} if i in refused else next(taken)
            )
        self.calls["failed records"] += len(refused)
        reply = {failed_field: len(refused), results_field: merged}
        return web.Response(body=json.dumps(reply), content_type="application/x-amz-json-1.1")

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_throttling_and_failed_records_are_retried_and_nothing_is_lost(tmp_path, moto_server):
    stream = f"faulty-{tmp_path.name[-12:]}".replace("_", "-")
    boto3.client("kinesis", endpoint_url=moto_server, region_name="us-east-1").create_stream(
        StreamName=stream, ShardCount=2
    )
    proxy = FaultyProxy(moto_server)
    try:
        scenario = load_scenario().with_visitors(60)
        destination = KinesisDestination(
            f"kinesis://{stream}",
            AwsOptions(endpoint_url=proxy.url),
            source_names={s.id: s.key for s in scenario.sources.values()},
        )
        destination.check()
        result = generate(scenario, START, 1, 5, [destination, LocalSink(tmp_path / "s3")], workers=1)
    finally:
        proxy.close()
    sent = sorted(line.rstrip(b"\n") for line in s3_lines(tmp_path / "s3"))
    assert sorted(r["Data"] for r in read_stream(moto_server, stream)) == sent  # each once
    counts = result.delivered[f"kinesis://{stream}"]
    assert proxy.calls["throttled"] >= 1 and proxy.calls["failed records"] >= 1
    assert counts.delivered == len(sent)
    assert counts.requests == proxy.calls["batches"]
    assert counts.retries >= proxy.calls["failed records"]


def test_the_collector_forwards_sdk_requests_to_a_stream_and_a_folder(tmp_path, moto_server):
    stream = f"collected-{tmp_path.name[-12:]}".replace("_", "-")
    scenario = load_scenario()
    destinations = open_destinations(
        [f"kinesis://{stream}", str(tmp_path / "out")], options(moto_server, scenario, create=True)
    )
    collector = RunningCollector(destinations, journal=tmp_path / "journal")
    batch = {
        "batch": [
            {
                "type": "track",
                "event": "Product Added",
                "userId": f"u{i}",
                "messageId": f"m{i}",
                "properties": {"sku": "s"},
            }
            for i in range(120)
        ]
        + [{"type": "identify", "anonymousId": "a1", "messageId": "i1", "traits": {"plan": "pro"}}]
        + [{"type": "screen", "userId": "u1", "name": "Home", "messageId": "sc1"}],
        "sentAt": "2026-11-01T10:00:00.000Z",
    }
    status = request(
        collector.url,
        "POST",
        "/v1/batch",
        gzip.compress(json.dumps(batch).encode()),
        {**basic(KEYS["web"]), "Content-Encoding": "gzip", "Content-Type": "application/json"},
    )[0]
    assert status == 200
    collector.close()
    records = read_stream(moto_server, stream)
    found = {orjson.loads(r["Data"])["messageId"]: r for r in records}
    assert set(found) == {f"m{i}" for i in range(120)} | {"i1"}  # the screen is not sent
    assert found["i1"]["PartitionKey"] == "a1" and found["m7"]["PartitionKey"] == "u7"
    stored = orjson.loads(found["m7"]["Data"])
    assert stored["receivedAt"] and stored["projectId"] == load_scenario().sources["web"].id
    summary = collector.collector.summary()["destinations"][f"kinesis://{stream}"]
    assert summary["stored"] == 122 and summary["not_sent"] == {
        "screen calls (Segment's Kinesis destination does not send them)": 1
    }


def test_firehose_throttling_and_failed_puts_are_retried_and_nothing_is_lost(tmp_path, s3_bucket):
    from toolkit.segment.firehose import FirehoseDestination

    endpoint, bucket = s3_bucket
    boto3.client("firehose", endpoint_url=endpoint, region_name="us-east-1").create_delivery_stream(
        DeliveryStreamName="faulty",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "Prefix": "fh/",
        },
    )
    proxy = FaultyProxy(endpoint)
    try:
        destination = FirehoseDestination(
            "firehose://faulty", AwsOptions(endpoint_url=proxy.url), api="batch"
        )
        destination.check()
        scenario = load_scenario().with_visitors(40)
        result = generate(scenario, START, 1, 8, [destination, LocalSink(tmp_path / "s3")], workers=1)
    finally:
        proxy.close()
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    stored = b"".join(
        s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in s3.list_objects_v2(Bucket=bucket, Prefix="fh/")["Contents"]
    )
    assert sorted(stored.splitlines(keepends=True)) == sorted(s3_lines(tmp_path / "s3"))  # each once
    counts = result.delivered["firehose://faulty"]
    assert proxy.calls["throttled"] >= 1 and proxy.calls["failed records"] >= 1
    assert counts.requests == proxy.calls["batches"] and counts.retries >= proxy.calls["failed records"]


def test_an_endpoint_that_is_down_fails_within_the_retry_budget(monkeypatch):
    import socket
    import time

    from toolkit.segment import streams

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens once the probe is closed
    monkeypatch.setattr(streams, "RETRY_SECONDS", 1.0)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    destination = KinesisDestination(
        "kinesis://down", AwsOptions(endpoint_url=f"http://127.0.0.1:{closed}"), source_names={}
    )
    line = b'{"type":"track","event":"E","userId":"u","messageId":"m1"}\n'
    destination.deliver("source", [line])
    began = time.monotonic()
    with pytest.raises(UsageError, match="Kinesis down: 1 records still not taken"):
        destination.flush()
    assert time.monotonic() - began < 10
    assert destination.batcher.counts.delivered == 0
