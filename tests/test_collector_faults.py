"""The collector under faults and hostile clients: server processes that die with their parent, a
parent that notices a dead server process, bodies that trickle past their deadline, malformed
requests that must not put the write key in the log, Segment's error body on every refusal, and
a stop that cannot publish."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import KEYS, RunningCollector, basic, request
from tests.test_collector_durability import Process, stored_ids
from toolkit.segment import collector as collector_module
from toolkit.segment.sinks import LocalSink


def children_of(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(child) for child in found]


def running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def refuses_connections(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return True
    return False


def test_server_processes_die_with_a_killed_parent_and_keep_what_they_acknowledged(tmp_path):
    out = tmp_path / "out"
    collector = Process(out, "--processes", "2")
    acknowledged = collector.post_batches(20)
    servers = children_of(collector.process.pid)
    assert len(servers) >= 2
    collector.process.kill()
    collector.process.wait()
    assert wait_until(lambda: not any(running(pid) for pid in servers), 15), "servers outlived the parent"
    assert refuses_connections(collector.url)
    assert set(stored_ids(out)) == set(acknowledged) and len(acknowledged) == 1_000


def test_a_dead_server_process_stops_the_run_which_says_so_and_publishes_its_journal(tmp_path):
    out = tmp_path / "out"
    collector = Process(out, "--processes", "2")
    acknowledged = collector.post_batches(20)
    victim = children_of(collector.process.pid)[0]
    os.kill(victim, signal.SIGKILL)
    assert collector.process.wait(timeout=30) == 1
    log = collector.log.read_text()
    assert "ended unexpectedly (killed by SIGKILL)" in log and "its journal published" in log
    counts = stored_ids(out)
    assert set(counts) == set(acknowledged) and set(counts.values()) == {1}
    assert refuses_connections(collector.url)


def test_bodies_trickling_a_byte_at_a_time_get_408_at_the_deadline_and_others_are_served(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(collector_module, "BODY_DEADLINE", 2.0)
    collector = RunningCollector(LocalSink(tmp_path / "out"), journal=tmp_path / "journal")
    host, port = collector.url.removeprefix("http://").split(":")
    trickling = []
    for _ in range(300):  # more than any count of requests a server would serve at once
        connection = socket.create_connection((host, int(port)))
        connection.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        trickling.append(connection)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(0.3):
            for connection in trickling:
                with contextlib.suppress(OSError):
                    connection.send(b" ")

    sender = threading.Thread(target=trickle)
    sender.start()
    try:
        began = time.monotonic()
        body = json.dumps({"batch": [{"type": "track", "event": "E", "userId": "u"}]}).encode()
        assert request(collector.url, "POST", "/v1/batch", body, basic(KEYS["web"]))[0] == 200
        assert time.monotonic() - began < 1.5  # served while 300 bodies trickle
        statuses = []
        for connection in trickling:
            connection.settimeout(10)
            statuses.append(connection.recv(200).split(b" ")[1])
        elapsed = time.monotonic() - began
    finally:
        stop.set()
        sender.join()
        for connection in trickling:
            connection.close()
        collector.close()
    assert set(statuses) == {b"408"} and elapsed < 8  # 2 s deadline, though bytes kept coming


def test_malformed_requests_never_put_the_write_key_in_the_log(tmp_path):
    collector = Process(tmp_path / "out")
    host, port = collector.url.removeprefix("http://").split(":")
    key = KEYS["web"]
    encoded = base64.b64encode(f"{key}:".encode()).decode()
    for raw in (
        f"POST /v1/batch HTTP/1.1\nHost: x\nAuthorization: Basic {encoded}\nContent-Length: 2\n\n{{}}",
        f"POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {encoded}{'A' * 9000}\r\n\r\n",
        f"POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Length: x\r\n\r\n",
    ):
        with socket.create_connection((host, int(port))) as connection:
            connection.sendall(raw.encode())
            assert connection.recv(100).startswith(b"HTTP/1.")
    assert collector.terminate() == 0
    log = collector.log.read_text()
    assert log.count("Error handling request") == 3, log
    assert key not in log and encoded[:12] not in log and "Traceback" not in log


@pytest.fixture
def strict(tmp_path):
    collector = RunningCollector(LocalSink(tmp_path / "out"), strict_keys=True)
    yield collector
    collector.close()


def test_every_refusal_carries_segments_error_body(strict):
    body = json.dumps({"batch": [{"type": "track", "event": "E", "userId": "u"}]}).encode()
    cases = [
        ("POST", "/v1/batch", b"{not json", basic(KEYS["web"]), 400),
        ("POST", "/v1/batch", body, basic("unknown-key"), 401),
        ("POST", "/v1/nowhere", body, basic(KEYS["web"]), 404),
        ("GET", "/nothing/here", None, {}, 404),
        ("PUT", "/v1/batch", body, basic(KEYS["web"]), 405),
    ]
    for method, path, data, headers, status in cases:
        answered, _, answer = request(strict.url, method, path, data, headers)
        assert answered == status, (method, path)
        assert answer["success"] is False and answer["code"] and answer["message"], (path, answer)


def test_the_official_client_gives_up_on_a_refused_key_at_once(strict):
    from segment.analytics import Client

    failures = []
    client = Client(
        "unknown-key",
        host=strict.url,
        on_error=lambda error, items: failures.append(getattr(error, "status", error)),
        max_retries=10,
    )
    began = time.monotonic()
    client.track(user_id="u", event="E")
    client.flush()
    client.join()
    assert failures == [401] and time.monotonic() - began < 5  # no backoff retries


def test_a_stop_that_cannot_publish_says_how_many_wait_and_exits_non_zero(tmp_path):
    out = tmp_path / "out"
    collector = Process(out)
    (out / "segment-logs").write_text("in the way: no folder can be made here\n")
    acknowledged = collector.post_batches(6)
    assert collector.terminate(timeout=60) == 1
    log = collector.log.read_text()
    assert "300 acknowledged messages could not be published; they wait in the journal" in log, log
    assert json.loads(log.split("collector stopped: ")[1].splitlines()[0])["unpublished"] == 300
    (out / "segment-logs").unlink()
    again = Process(out)
    assert again.terminate() == 0
    assert set(stored_ids(out)) == set(acknowledged)
