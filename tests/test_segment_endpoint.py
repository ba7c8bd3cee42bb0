"""`generate --sink segment` never hangs on a bad endpoint and never prints the credentials of
its URL: a closed port, a host without a scheme, a port that is not a number are said at once;
every key refused by a strict collector ends the run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from tests.helpers import KEYS, RunningCollector
from toolkit.segment.sinks import LocalSink

DAY = ["--date", "2026-11-01", "--days", "1", "--users-per-day", "20"]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed once the probe is


def send(host: str, keys: dict[str, str], timeout: float = 90) -> tuple[int, str, float]:
    """`toolkit generate --sink segment --host HOST` in a process of its own: exit code, output, seconds."""
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "toolkit", "generate", *DAY, "--sink", "segment", "--host", host]
        + [f"--write-key={name}={key}" for name, key in keys.items()],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={key: value for key, value in os.environ.items() if not key.startswith("SEGMENT_WRITE_KEY")},
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - began


@pytest.mark.parametrize(
    ("host", "said"),
    [
        (f"http://127.0.0.1:{closed_port()}", "cannot reach --host http://127.0.0.1:"),
        ("127.0.0.1:8088", "--host must be an http:// or https:// URL"),
        ("http://127.0.0.1:abc", "has a port that is not a number"),
        (f"http://user:s3cr3t-pass@127.0.0.1:{closed_port()}", "cannot reach --host http://***@127.0.0.1:"),
    ],
)
def test_a_bad_endpoint_is_one_line_at_once(host, said):
    code, output, seconds = send(host, KEYS)
    assert code == 2 and seconds < 20, output
    assert said in output and len(output.strip().splitlines()) == 1, output
    assert "s3cr3t-pass" not in output and "Traceback" not in output


def test_credentials_in_the_host_are_never_printed(tmp_path):
    running = RunningCollector(LocalSink(tmp_path / "collected"))
    try:
        code, output, _ = send(running.url.replace("http://", "http://user:s3cr3t-pass@"), KEYS)
    finally:
        running.close()
    assert code == 0, output
    assert "sending to http://***@127.0.0.1" in output and "s3cr3t-pass" not in output


def test_every_key_refused_by_a_strict_collector_ends_the_run(tmp_path):
    running = RunningCollector(LocalSink(tmp_path / "collected"), strict_keys=True)
    try:
        code, output, seconds = send(running.url, {name: f"unknown-{name}" for name in KEYS})
    finally:
        running.close()
    assert code == 1 and seconds < 60, output
    assert "unknown-web" not in output
