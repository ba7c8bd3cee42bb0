"""Delivering to several destinations: the `--out` dispatcher, generate's fan-out, and the
collector's journal per destination (locked, holding only its own files, recovered past damage)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest

from tests.helpers import KEYS, SCENARIO, START, RunningCollector, basic, request
from tests.test_collector_durability import Process, stored_ids
from toolkit.aws.s3 import AwsOptions
from toolkit.destinations import open_destination, open_destinations
from toolkit.errors import UsageError
from toolkit.segment.destination import DeliveryCounts
from toolkit.segment.journal import journal_folder
from toolkit.segment.sinks import LocalSink, S3Sink
from toolkit.simulate.run import generate


class Recording:
    """A message destination that keeps what it is handed, in order (as a stream would)."""

    def __init__(self, name: str = "recording://test", fail: bool = False):
        self._name, self.fail = name, fail
        self.handed: list[tuple[str, bytes]] = []
        self.flushes = 0

    @property
    def name(self) -> str:
        return self._name

    def check(self) -> None:
        pass

    def claim(self, run: str) -> None:
        pass

    def deliver(self, source_id: str, lines: Sequence[bytes]) -> None:
        if self.fail:
            raise ConnectionError("the stream is down")
        self.handed.extend((source_id, line) for line in lines)

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> DeliveryCounts:
        return DeliveryCounts(delivered=len(self.handed))


@pytest.mark.slow
def test_an_unknown_scheme_is_refused_in_one_line_and_nothing_is_written(tmp_path):
    for out in ("foo://x", "kinesis:/x"):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "toolkit",
                "generate",
                "--date",
                "2026-11-01",
                "--days",
                "1",
                "--out",
                out,
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "unknown destination" in result.stderr
        assert list(tmp_path.iterdir()) == []
    with pytest.raises(UsageError, match="given twice"):
        open_destinations([str(tmp_path / "a"), str(tmp_path / "a")])
    assert isinstance(open_destination(str(tmp_path / "b")), LocalSink)
    assert isinstance(open_destination("s3://bucket/p", None), S3Sink)


def test_generate_writes_the_same_files_to_every_folder_and_the_same_messages_to_a_stream(tmp_path):
    scenario = SCENARIO.with_visitors(60)
    generate(scenario, START, 2, 4, LocalSink(tmp_path / "alone"), workers=2)
    stream = Recording()
    result = generate(
        scenario, START, 2, 4, [LocalSink(tmp_path / "a"), stream, LocalSink(tmp_path / "b")], workers=2
    )
    alone = {p.relative_to(tmp_path / "alone"): p.read_bytes() for p in (tmp_path / "alone").rglob("*.gz")}
    for folder in ("a", "b"):
        files = {p.relative_to(tmp_path / folder): p.read_bytes() for p in (tmp_path / folder).rglob("*.gz")}
        assert files == alone  # byte for byte
    lines = sorted(
        line
        for path in (tmp_path / "alone").rglob("*.gz")
        for line in gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    )
    assert sorted(line for _, line in stream.handed) == lines and len(lines) == result.messages
    for source_id, line in stream.handed:
        assert orjson.loads(line)["projectId"] == source_id
    for source_id in {s for s, _ in stream.handed}:  # each source's messages in arrival order
        received = [orjson.loads(line)["receivedAt"] for s, line in stream.handed if s == source_id]
        assert received == sorted(received)
    assert result.delivered == {"recording://test": DeliveryCounts(delivered=len(lines))}


def _post(url: str, prefix: str, count: int = 50) -> list[str]:
    batch = [
        {"type": "track", "event": "E", "userId": "u", "messageId": f"{prefix}{i}"} for i in range(count)
    ]
    status = request(url, "POST", "/v1/batch", json.dumps({"batch": batch}).encode(), basic(KEYS["web"]))[0]
    assert status == 200
    return [m["messageId"] for m in batch]


def test_a_failing_destination_holds_up_no_other_and_keeps_its_messages(tmp_path):
    down = Recording("recording://down", fail=True)
    collector = RunningCollector([down, LocalSink(tmp_path / "out")], journal=tmp_path / "journal")
    sent = _post(collector.url, "m")
    assert not collector.collector.publish()
    assert set(stored_ids(tmp_path / "out")) == set(sent)  # the folder got them all the same
    down.fail = False
    sent += _post(collector.url, "n")
    collector.close()
    assert sorted(orjson.loads(line)["messageId"] for _, line in down.handed) == sorted(sent)
    assert sorted(stored_ids(tmp_path / "out").elements()) == sorted(sent)  # each once
    assert not list((tmp_path / "journal").rglob("*.jsonl"))


def test_two_collectors_for_two_buckets_in_one_journal_folder_never_cross(tmp_path, s3_bucket):
    import boto3

    endpoint, bucket_a = s3_bucket
    bucket_b = bucket_a + "-b"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket_b)
    aws = AwsOptions(endpoint_url=endpoint)
    first = RunningCollector(S3Sink(f"s3://{bucket_a}/in", aws), journal=tmp_path / "journal")
    second = RunningCollector(S3Sink(f"s3://{bucket_b}/in", aws), journal=tmp_path / "journal")
    sent_a, sent_b = _post(first.url, "a"), _post(second.url, "b")
    second.close()
    first.close()

    def ids(bucket: str) -> list[str]:
        found = []
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            if item["Key"].endswith(".gz"):
                found += [orjson.loads(line)["messageId"] for line in gzip.decompress(body).splitlines()]
        return sorted(found)

    assert ids(bucket_a) == sorted(sent_a) and ids(bucket_b) == sorted(sent_b)


@pytest.mark.slow
def test_a_second_collector_on_the_same_journal_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "out"
    first = Process(out)
    for options in ((), ("--processes", "2")):
        second = subprocess.run(
            [sys.executable, "-m", "toolkit", "collector", "--port", "0", "--out", str(out), *options],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "SEGMENT_WRITE_KEY_WEB": KEYS["web"]},
        )
        assert second.returncode == 2
        assert f"pid {first.process.pid}" in second.stderr and "in use" in second.stderr
    acknowledged = first.post_batches(4)
    assert first.terminate() == 0
    assert sorted(stored_ids(out).elements()) == sorted(acknowledged)


def _segment(folder: Path, number: int, lines: list[bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{number:012d}.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def _stored(message_id: str) -> bytes:
    return (
        orjson.dumps(
            {
                "type": "track",
                "event": "E",
                "userId": "u",
                "messageId": message_id,
                "projectId": SCENARIO.sources["web"].id,
                "receivedAt": "2026-11-01T10:00:00.000Z",
            }
        )
        + b"\n"
    )


def test_recovery_skips_a_damaged_record_and_nul_bytes_and_publishes_the_rest(tmp_path, caplog):
    out = LocalSink(tmp_path / "out")
    folder = journal_folder(tmp_path / "journal", out.name)
    good = [_stored(f"m{i}") for i in range(1250)]
    damaged = b'{"type": "track", "messageId": "secret-value", "projec\n'
    _segment(folder, 1, good[:600] + [damaged] + good[600:1000])
    _segment(folder, 2, good[1000:] + [b"\x00" * 4096])  # power loss without --fsync
    (folder / "0-my-export.jsonl").write_bytes(_stored("mine"))  # the user's, not the collector's
    (tmp_path / "journal" / "notes.jsonl").write_bytes(b"not json\n")
    collector = RunningCollector(out, journal=tmp_path / "journal")
    collector.close()
    assert sorted(stored_ids(tmp_path / "out").elements()) == sorted(f"m{i}" for i in range(1250))
    summary = collector.collector.summary()["destinations"][out.name]
    assert summary["stored"] == 1250 and summary["skipped"] == {"damaged record": 1, "NUL bytes": 4096}
    assert "secret-value" not in caplog.text and "damaged record" in caplog.text
    assert (folder / "0-my-export.jsonl").read_bytes() == _stored("mine")
    assert (tmp_path / "journal" / "notes.jsonl").read_bytes() == b"not json\n"
    assert not [p for p in folder.iterdir() if p.name[0].isdigit() and p.name != "0-my-export.jsonl"]


@pytest.mark.slow
def test_a_stop_that_cannot_publish_says_what_waits_and_exits_non_zero(tmp_path):
    out = tmp_path / "out"
    first = Process(out)
    acknowledged = first.post_batches(2)
    (out / "segment-logs").write_bytes(b"")  # a file where the folder goes: nothing can be published
    assert first.terminate(timeout=60) == 1
    log = " ".join(first.log.read_text().split())
    assert f"{len(acknowledged):,} acknowledged messages could not be published" in log
    (out / "segment-logs").unlink()
    second = Process(out)
    assert second.terminate() == 0
    assert sorted(stored_ids(out).elements()) == sorted(acknowledged)
