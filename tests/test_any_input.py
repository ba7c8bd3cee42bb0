"""A rule, not a list (issue 16): whatever options and files a user throws at any command, it ends
with exit 0, 1 or 2; an error is one line; no command prints a traceback or exits 3 (a bug)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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
    return {
        name: str(root / name)
        for name in ("text.txt", "bad.gz", "not-json.gz", "bad.csv", "bad.toml", "schema.avsc")
    } | {"logs": str(workshop_logs), "folder": str(root)}


def arguments(files: dict[str, str]):
    values = st.sampled_from(HOSTILE_TEXT + list(files.values()))

    def for_command(command: str):
        pairs = st.lists(st.tuples(st.sampled_from(OPTIONS[command]), values), max_size=4)
        positional = (
            st.lists(values, max_size=1)
            if command in ("transform", "explore", "validate", "schema")
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
