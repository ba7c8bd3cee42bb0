"""A 200 from the collector means the message is kept: through kill -9, slow clients, a failing
sink, a full journal disk and gzip bombs (issue 10)."""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import KEYS, RunningCollector, basic, read_messages, request
from toolkit.segment.sinks import LocalSink


class Process:
    """`toolkit collector` in a process of its own, on a free port."""

    def __init__(self, out: Path, *options: str):
        self.log = out.parent / f"collector-{time.time_ns()}.log"
        environment = {
            **os.environ,
            "SEGMENT_WRITE_KEY_WEB": KEYS["web"],
            "SEGMENT_WRITE_KEY_ANDROID": KEYS["android"],
        }
        with open(self.log, "w") as log:  # the collector writes to its own copy of the file
            self.process = subprocess.Popen(
                [sys.executable, "-m", "toolkit", "collector", "--port", "0", "--out", str(out), *options],
                stderr=log,
                env=environment,
            )
        deadline = time.time() + 30
        while "listening on" not in self.log.read_text():
            assert time.time() < deadline and self.process.poll() is None, self.log.read_text()
            time.sleep(0.05)
        self.url = self.log.read_text().split("listening on ")[1].split()[0]

    def post_batches(self, count: int, size: int = 50, prefix: str = "m") -> list[str]:
        acknowledged = []
        for n in range(count):
            batch = [
                {"type": "track", "event": "E", "userId": "u", "messageId": f"{prefix}{n}-{i}"}
                for i in range(size)
            ]
            if (
                request(
                    self.url, "POST", "/v1/batch", json.dumps({"batch": batch}).encode(), basic(KEYS["web"])
                )[0]
                == 200
            ):
                acknowledged += [m["messageId"] for m in batch]
        return acknowledged

    def terminate(self, timeout: float = 30) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def stored_ids(out: Path) -> Counter:
    return Counter(m["messageId"] for _, m in read_messages(out))


@pytest.mark.slow
def test_kill_9_after_200_loses_nothing_and_a_restart_stores_nothing_twice(tmp_path):
    out = tmp_path / "out"
    first = Process(out)  # default flush: 60 s, so everything is still only in the journal
    acknowledged = first.post_batches(100)
    first.process.kill()
    first.process.wait()
    assert not stored_ids(out)
    second = Process(out)  # recovers the journal at start
    acknowledged += second.post_batches(10, prefix="n")
    assert second.terminate() == 0
    counts = stored_ids(out)
    assert set(counts) == set(acknowledged) and set(counts.values()) == {1}
    assert len(acknowledged) == 5_500 and "key-web" not in first.log.read_text() + second.log.read_text()


@pytest.mark.slow
def test_a_slow_client_does_not_hold_shutdown(tmp_path):
    out = tmp_path / "out"
    collector = Process(out)
    acknowledged = collector.post_batches(5)
    host, port = collector.url.removeprefix("http://").split(":")
    slow = socket.create_connection((host, int(port)))
    slow.sendall(
        b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
        b"Content-Type: application/json\r\n\r\n{"
    )
    idle = socket.create_connection((host, int(port)))  # a keep-alive connection that sends nothing
    began = time.monotonic()
    assert collector.terminate(timeout=30) == 0
    assert time.monotonic() - began < 10
    assert set(stored_ids(out)) == set(acknowledged)
    slow.close(), idle.close()


def test_a_failing_sink_is_retried_and_loses_nothing(tmp_path):
    class FailingSink(LocalSink):
        failing = True

        def write(self, key, data):
            if self.failing:
                raise OSError(28, "No space left on device")
            super().write(key, data)

    sink = FailingSink(tmp_path / "out")
    collector = RunningCollector(sink, journal=tmp_path / "journal")

    def body(prefix: str) -> bytes:
        return json.dumps(
            {
                "batch": [
                    {"type": "track", "event": "E", "userId": "u", "messageId": f"{prefix}{i}"}
                    for i in range(100)
                ]
            }
        ).encode()

    assert request(collector.url, "POST", "/v1/batch", body("m"), basic(KEYS["web"]))[0] == 200
    assert not collector.collector.publish()  # the sink fails: no crash, the journal keeps it
    assert request(collector.url, "POST", "/v1/batch", body("n"), basic(KEYS["web"]))[0] == 200
    sink.failing = False
    collector.close()
    assert set(stored_ids(tmp_path / "out")) == {f"m{i}" for i in range(100)} | {f"n{i}" for i in range(100)}
    assert not list((tmp_path / "journal").rglob("*.jsonl"))


def test_while_nothing_can_be_journalled_the_answer_is_503(tmp_path, monkeypatch):
    collector = RunningCollector(LocalSink(tmp_path / "out"), journal=tmp_path / "journal")
    body = json.dumps({"batch": [{"type": "track", "event": "E", "userId": "u"}]}).encode()

    def full(lines):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(collector.collector.outlets[0].journal, "append", full)
    status, _, answer = request(collector.url, "POST", "/v1/batch", body, basic(KEYS["web"]))
    assert status == 503 and "retry" in answer["message"] and answer["code"] == "unavailable"
    monkeypatch.undo()
    assert request(collector.url, "POST", "/v1/batch", body, basic(KEYS["web"]))[0] == 200
    collector.close()
    assert len(stored_ids(tmp_path / "out")) == 1


@pytest.mark.slow
def test_a_gzip_bomb_is_refused_with_bounded_memory(tmp_path):
    bomb = gzip.compress(b"\0" * (1 << 30), compresslevel=9)  # 1 GiB inflated, ~1 MB sent
    collector = Process(tmp_path / "out")
    for _ in range(4):
        status, _, _ = request(collector.url, "POST", "/v1/batch", bomb, {"Content-Encoding": "gzip"})
        assert status == 400
    small_bomb = gzip.compress(b"[" * 400_000 + b"]" * 400_000)
    assert (
        request(
            collector.url, "POST", "/v1/batch", small_bomb, {**basic(KEYS["web"]), "Content-Encoding": "gzip"}
        )[0]
        == 400
    )
    peak_mb = (
        int(
            next(
                line
                for line in Path(f"/proc/{collector.process.pid}/status").read_text().splitlines()
                if line.startswith("VmHWM")
            ).split()[1]
        )
        / 1024
    )
    assert collector.terminate() == 0
    assert peak_mb < 300  # the bombs inflate to 1 GiB each; the collector stops at 500 KB


@pytest.mark.slow
def test_several_processes_share_the_port_and_lose_nothing(tmp_path):
    out = tmp_path / "out"
    collector = Process(out, "--processes", "2")
    acknowledged = collector.post_batches(40)  # a connection each: the kernel spreads them
    assert collector.terminate() == 0
    assert set(stored_ids(out)) == set(acknowledged) and len(acknowledged) == 2_000
    summary = json.loads(collector.log.read_text().split("collector stopped: ")[1])
    assert summary["accepted"] == summary["stored"] == 2_000
    (journal,) = (out / ".collector-journal").iterdir()  # the one destination's
    assert sorted(p.name for p in journal.iterdir() if p.is_dir()) == ["process-0", "process-1"]


@pytest.mark.slow
def test_a_killed_multi_process_run_is_recovered_by_a_single_process(tmp_path):
    out = tmp_path / "out"
    first = Process(out, "--processes", "2")
    acknowledged = first.post_batches(20)
    children = [
        int(pid)
        for pid in subprocess.run(
            ["pgrep", "-P", str(first.process.pid)], capture_output=True, text=True
        ).stdout.split()
    ]
    assert len(children) >= 2
    first.process.kill()
    for child in children:
        os.kill(child, signal.SIGKILL)
    first.process.wait()
    deadline = time.time() + 10
    while any(
        Path(f"/proc/{child}").exists() and "Z" not in Path(f"/proc/{child}/stat").read_text().split()[2]
        for child in children
    ):
        assert time.time() < deadline
        time.sleep(0.05)
    second = Process(out)
    assert second.terminate() == 0
    counts = stored_ids(out)
    assert set(counts) == set(acknowledged) and set(counts.values()) == {1}
