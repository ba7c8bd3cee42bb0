"""The local collector and --sink segment: the official client delivers, limits hold, nothing is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from typer.testing import CliRunner

from tests.helpers import KEYS, SCENARIO, START, RunningCollector, basic, read_messages
from toolkit.aws.s3 import AwsOptions
from toolkit.cli import app
from toolkit.segment.collector import Collector, CollectorSource
from toolkit.segment.send import SourceToSend, send_logs
from toolkit.segment.sinks import LocalSink, S3Sink
from toolkit.segment.timestamps import parse_iso
from toolkit.segment.tracking_api import Request
from toolkit.simulate.run import generate

runner = CliRunner()


@pytest.fixture()
def running(tmp_path):
    collector = RunningCollector(LocalSink(tmp_path / "collected"))
    yield collector
    collector.close()


def post(url: str, body: bytes, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **(headers or {})}, method="POST"
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


SOURCES = {source.id: SourceToSend(key, source.library) for key, source in SCENARIO.sources.items()}


def test_sink_segment_delivers_a_day_equal_to_the_files_sink_each_source_as_its_library(running, tmp_path):
    generate(SCENARIO.with_visitors(80), START, 1, 3, LocalSink(tmp_path / "files"), workers=1)
    result = send_logs(tmp_path / "files", SOURCES, KEYS, running.url, max_retries=1)
    running.close()
    assert result.ok and sum(result.sent.values()) > 500
    original = {m["messageId"]: m for _, m in read_messages(tmp_path / "files")}
    collected = {m["messageId"]: m for _, m in read_messages(tmp_path / "collected")}
    assert collected.keys() == original.keys()
    for message_id, sent in original.items():
        got = collected[message_id]
        for field in (
            "type",
            "event",
            "properties",
            "traits",
            "anonymousId",
            "originalTimestamp",
            "projectId",
        ):
            assert got.get(field) == sent.get(field), field
        assert (
            str(got.get("userId")) == str(sent.get("userId"))
            if sent.get("userId")
            else got.get("userId") is None
        )
        assert {k: v for k, v in got["context"].items() if k != "library"} == {
            k: v for k, v in sent["context"].items() if k != "library"
        }
        library = sent["context"]["library"]["name"]
        # the platforms' SDK shapes go as HTTP batches, their context intact; the server source
        # through the official client
        assert got["context"]["library"]["name"] == (
            library if library != "analytics-python" else "analytics-python"
        )
        assert got["context"]["library"] == sent["context"]["library"] or library == "analytics-python"
        assert "writeKey" not in got and got["version"] == 2
    assert {m["context"]["library"]["name"] for m in collected.values()} == {
        "analytics.js",
        "analytics-android",
        "analytics-ios",
        "analytics-python",
    }


def test_sink_segment_counts_failures_per_source(tmp_path):
    strict = RunningCollector(LocalSink(tmp_path / "collected"), strict_keys=True)
    generate(SCENARIO.with_visitors(30), START, 1, 3, LocalSink(tmp_path / "files"), workers=1)
    result = send_logs(tmp_path / "files", SOURCES, dict(KEYS, web="wrong-key"), strict.url, max_retries=1)
    strict.close()
    assert result.failed["web"] > 0 and result.sent["web"] == 0
    assert result.failed["android"] == 0 and result.sent["android"] > 0


def test_server_adds_segment_fields_and_the_skew_corrected_timestamp(running, tmp_path):
    web_context = {"library": {"name": "analytics.js", "version": "next-1.84.3"}}
    status, _ = post(
        running.url + "/v1/track",
        json.dumps(
            {
                "event": "E",
                "userId": "u",
                "timestamp": "2026-11-01T10:00:00.000Z",
                "sentAt": "2026-11-01T10:00:05.000Z",
                "context": web_context,
            }
        ).encode(),
        basic(KEYS["web"]),
    )
    assert status == 200
    assert (
        post(
            running.url + "/v1/track",
            json.dumps({"event": "Server", "userId": "u"}).encode(),
            basic(KEYS["email"]),
        )[0]
        == 200
    )
    running.close()
    messages = {m["event"]: m for _, m in read_messages(tmp_path / "collected")}
    message = messages["E"]
    assert "ip" not in messages["Server"]["context"]  # server libraries' messages get no context.ip
    skew = parse_iso(message["sentAt"]) - parse_iso(message["originalTimestamp"])
    assert parse_iso(message["receivedAt"]) - parse_iso(message["timestamp"]) == skew
    assert (
        message["projectId"] == SCENARIO.sources["web"].id
        and message["messageId"]
        and message["context"]["ip"] == "127.0.0.1"
    )
    assert (
        message["type"] == "track"
        and message["channel"] == "client"
        and messages["Server"]["channel"] == "server"
    )


def test_sink_segment_counts_a_rejected_key_as_failed_and_never_prints_keys(tmp_path):
    running = RunningCollector(
        LocalSink(tmp_path / "collected"), strict_keys=True
    )  # 401 for unknown keys, as a rehearsal wants
    keys = dict(KEYS, email="not-a-known-key-SECRET")
    args = [
        "generate",
        "--date",
        "2026-11-01",
        "--days",
        "1",
        "--users-per-day",
        "40",
        "--sink",
        "segment",
        "--host",
        running.url,
    ]
    result = runner.invoke(app, args + [f"--write-key={name}={key}" for name, key in keys.items()])
    assert result.exit_code == 1, result.output
    assert "email-prod" in result.output
    email_row = next(line for line in result.output.splitlines() if "email-prod" in line)
    assert (
        email_row.split("│")[2].strip() == "0" and int(email_row.split("│")[3].strip().replace(",", "")) > 0
    )
    assert not any(key in result.output for key in keys.values())
    running.close()


def test_sink_segment_needs_every_key_before_sending(tmp_path):
    result = runner.invoke(
        app,
        ["generate", "--date", "2026-11-01", "--days", "1", "--sink", "segment", "--write-key", "web=abc"],
        env={},
    )
    assert result.exit_code == 2 and "no write key for source(s) android, ios, email" in result.output


def test_collector_writes_to_s3(s3_bucket):
    import boto3

    endpoint, bucket = s3_bucket
    collector = RunningCollector(S3Sink(f"s3://{bucket}/incoming", AwsOptions(endpoint_url=endpoint)))
    assert (
        post(
            collector.url + "/v1/track",
            json.dumps({"event": "E", "userId": "u"}).encode(),
            basic(KEYS["android"]),
        )[0]
        == 200
    )
    collector.close()
    keys = [
        o["Key"]
        for o in boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=bucket, Prefix="incoming/")[
            "Contents"
        ]
    ]
    assert len(keys) == 1 and keys[0].startswith(f"incoming/segment-logs/{SCENARIO.sources['android'].id}/")


@pytest.mark.slow
def test_sigterm_mid_load_loses_nothing_answered_200(tmp_path):
    port_file = tmp_path / "log"
    env = {**os.environ, "SEGMENT_WRITE_KEY_WEB": KEYS["web"]}
    with open(port_file, "w") as log:  # the collector writes to its own copy of the file
        process = subprocess.Popen(
            [sys.executable, "-m", "toolkit", "collector", "--port", "0", "--out", str(tmp_path / "out")],
            stderr=log,
            env=env,
        )
    try:
        deadline = time.time() + 30
        while "listening on" not in port_file.read_text() and time.time() < deadline:
            time.sleep(0.1)
        url = port_file.read_text().split("listening on ")[1].split()[0]
        acked, stop = [], threading.Event()

        def load(worker: int):
            for n in range(2000):
                if stop.is_set():
                    return
                batch = [
                    {"type": "track", "event": "E", "userId": "u", "messageId": f"w{worker}-{n}-{i}"}
                    for i in range(20)
                ]
                try:
                    if (
                        post(url + "/v1/batch", json.dumps({"batch": batch}).encode(), basic(KEYS["web"]))[0]
                        == 200
                    ):
                        acked.extend(m["messageId"] for m in batch)
                except (urllib.error.URLError, ConnectionError):
                    return

        threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        process.kill()
    written = {m["messageId"] for _, m in read_messages(tmp_path / "out")}
    assert acked and set(acked) <= written
    assert "key-web" not in port_file.read_text()


def test_buffers_are_published_by_size_and_by_age(tmp_path):
    source = {KEYS["web"]: CollectorSource("website-prod", SCENARIO.sources["web"].id)}
    by_size = Collector(
        source, [LocalSink(tmp_path / "size")], tmp_path / "j1", flush_bytes=1_000, flush_seconds=3600
    )
    body = json.dumps(
        {"batch": [{"type": "track", "event": "E", "userId": "u", "properties": {"x": "y" * 300}}] * 5}
    ).encode()
    by_size.accept(
        Request("batch", basic(KEYS["web"])["Authorization"], "127.0.0.1", int(time.time() * 1000)), body
    )
    assert by_size.due() and by_size.publish() and by_size.summary()["files"] == 1 and not by_size.due()
    by_age = Collector(
        source, [LocalSink(tmp_path / "age")], tmp_path / "j2", flush_bytes=10**9, flush_seconds=0.05
    )
    by_age.accept(
        Request("batch", basic(KEYS["web"])["Authorization"], "127.0.0.1", int(time.time() * 1000)),
        json.dumps({"batch": [{"type": "track", "event": "E", "userId": "u"}]}).encode(),
    )
    assert not by_age.due()
    time.sleep(0.1)
    assert by_age.due() and by_age.publish()
    assert by_age.summary()["stored"] == 1 and len(read_messages(tmp_path / "age")) == 1
