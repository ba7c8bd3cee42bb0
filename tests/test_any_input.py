"""A rule, not a list (issue 16): whatever options and files a user throws at any command, it ends
with exit 0, 1 or 2; an error is one line; no command prints a traceback or exits 3 (a bug)."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.main import get_command
from typer.testing import CliRunner

from toolkit.cli import app

runner = CliRunner()

HOSTILE_TEXT = [
    "",
    " ",
    "-1",
    "0",
    "1",
    "3",
    "99999999999",
    "2026-11-01",
    "2026-02-30",
    "[bold]x[/]",
    "[/x]",
    "s3:/bucket",
    "s3://",
    "s3://b/../x",
    "/dev/full",
    "/dev/null",
    "/nonexistent/x",
    "💥",
    "a=b",
    "web=KEY",
    "x" * 300,
    "--days",
    "..",
    "~",
    "'; DROP TABLE x; --",
]
OPTIONS = {
    "generate": [
        "--date",
        "--days",
        "--until",
        "--scenario",
        "--seed",
        "--users-per-day",
        "--out",
        "--workers",
        "--sink",
        "--write-key",
        "--endpoint-url",
    ],
    "transform": ["--out", "--event-types", "--item-id", "--rejects", "--engine", "--endpoint-url"],
    "explore": ["--sql", "--format", "--limit", "--db", "--location", "--engine", "--endpoint-url"],
    "validate": ["--schema"],
    "schema": ["--out"],
    "workshop": ["--date", "--days", "--out", "--users-per-day", "--scenario", "--seed"],
    "report": ["--out", "--users", "--scenario", "--no-evaluate"],
}


WORKSHOP = (Path(__file__).parents[1] / "scenarios" / "workshop.toml").read_text(encoding="utf-8")
# Scenario files a careless or hostile user could write: each a one-place edit of the workshop's
HOSTILE_SCENARIOS = {
    "faker-binary.toml": ('faker = "first_name"', 'faker = "binary"'),
    "infinite-weight.toml": ("weights = [20, 55]", "weights = [inf, 55]"),
    "huge-visitors.toml": ("new_visitors_per_day = 1000 ", "new_visitors_per_day = 1000000000 "),
    "deep.toml": ("[scenario]", "deep = " + "[" * 50_000 + "]" * 50_000 + "\n[scenario]"),
    "long-event.toml": ('"Signup Clicked"', '"' + "x" * 50_000 + '"'),
    "same-ids.toml": ("aN5rT8yUi2Op4Lk6Jh9Gf3", "wX3kPq9TzR2mLb7Vn4Hc8d"),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory, workshop_logs) -> dict[str, str]:
    root = tmp_path_factory.mktemp("hostile")
    (root / "text.txt").write_text("hello\n")
    (root / "bad.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with gzip.open(root / "not-json.gz", "wb") as handle:
        handle.write(b'not json\n{"type": 1}\n[1, 2]\n')
    (root / "bad.csv").write_text('USER_ID,ITEM_ID,TIMESTAMP\n1,"open,3\n')
    (root / "bad.toml").write_text("[scenario\n")
    (root / "schema.avsc").write_text('{"type": "record"}')
    for name, (old, new) in HOSTILE_SCENARIOS.items():
        (root / name).write_text(WORKSHOP.replace(old, new, 1), encoding="utf-8")
    os.mkfifo(root / "fifo")
    return {
        name: str(root / name)
        for name in ("text.txt", "bad.gz", "not-json.gz", "bad.csv", "bad.toml", "schema.avsc", "fifo")
        + tuple(HOSTILE_SCENARIOS)
    } | {"logs": str(workshop_logs), "folder": str(root)}


def arguments(files: dict[str, str]):
    values = st.sampled_from(HOSTILE_TEXT + list(files.values()))

    def for_command(command: str):
        pairs = st.lists(st.tuples(st.sampled_from(OPTIONS[command]), values), max_size=4)
        positional = (
            st.lists(values, max_size=1)
            if command in ("transform", "explore", "validate", "schema", "report")
            else st.just([])
        )
        return st.tuples(st.just(command), positional, pairs)

    return st.sampled_from(sorted(OPTIONS)).flatmap(for_command)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_options_and_files_end_in_0_1_or_2_never_a_traceback(files, tmp_path_factory, data, monkeypatch):
    workdir = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(workdir)  # relative outputs land in a fresh folder
    command, positional, pairs = data.draw(arguments(files))
    args = [command, *positional, *[part for pair in pairs for part in pair]]
    if command in ("generate", "workshop") and "--date" not in args:
        args += ["--date", "2026-11-01", "--days", "1", "--users-per-day", "20"]
    result = runner.invoke(app, args)
    assert "Traceback" not in result.output, args
    assert result.exit_code in (0, 1, 2), (args, result.output)
    if result.exit_code == 2:
        assert len(result.output.strip().splitlines()) == 1, (args, result.output)
    assert Path("/dev/full").is_char_device() and Path("/dev/null").is_char_device()


# --- the collector: every option it has, each run in a process of its own ---------------------

COLLECTOR = next(c for c in get_command(app).commands.values() if c.name == "collector")
COLLECTOR_OPTIONS = sorted(
    name for parameter in COLLECTOR.params for name in parameter.opts if name.startswith("--")
)
LOOPBACK_HOSTS = ["127.0.0.1", "::1", "localhost", "999.1.1.1", "not a host", "x" * 300]


def collector_arguments(files: dict[str, str]):
    values = st.sampled_from(HOSTILE_TEXT + list(files.values()))

    def pair(option: str):
        if option == "--host":  # loopback only: the test must not listen on the network
            return st.tuples(st.just(option), st.sampled_from(LOOPBACK_HOSTS))
        return st.tuples(st.just(option), values)

    return st.lists(st.sampled_from(COLLECTOR_OPTIONS).flatmap(pair), max_size=4)


def test_every_collector_option_is_drawn():
    assert {"--port", "--out", "--processes", "--journal", "--flush-mb", "--strict-keys"} <= set(
        COLLECTOR_OPTIONS
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_collector_options_end_cleanly_or_serve_and_stop_cleanly(files, tmp_path_factory, data):
    workdir = tmp_path_factory.mktemp("collector")
    pairs = data.draw(collector_arguments(files))
    flags = {"--strict-keys", "--fsync", "--stream-per-source", "--create"}
    args = [
        "--port",
        "0",
        *[part for option, value in pairs for part in ([option] if option in flags else [option, value])],
    ]
    environment = {
        **os.environ,
        "SEGMENT_WRITE_KEY_WEB": "key-web",
        # any AWS call goes to a closed loopback port, at once: nothing reaches the internet
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
    }
    log = workdir / "stderr"
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "toolkit", "collector", *args],
            cwd=workdir,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        deadline = time.monotonic() + 60
        while process.poll() is None and "listening on" not in log.read_text():
            assert time.monotonic() < deadline, (args, log.read_text())
            time.sleep(0.05)
        if process.poll() is None:  # it serves: a stop must be clean
            process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    output = log.read_text()
    assert "Traceback" not in output, (args, output)
    assert code in (0, 1, 2), (args, output)
    if code == 2:
        assert len(output.strip().splitlines()) == 1, (args, output)
