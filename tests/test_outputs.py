"""Nothing of the user's overwritten, nothing left behind: every output of a run is checked
against its inputs and its other outputs before any work; a run's outputs appear together at its
end or not at all; SIGTERM ends a command as Ctrl-C does (exit 130, temporary folders removed);
two generates into one folder never both proceed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolkit.cli import app

runner = CliRunner()


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def logs(workshop_logs, tmp_path) -> Path:
    """A copy of the workshop logs with a catalog export beside them, in a folder of the test's."""
    root = tmp_path / "logs"
    shutil.copytree(workshop_logs, root)
    if not (root / "catalog.jsonl").exists():
        (root / "catalog.jsonl").write_text('{"sku": "s1", "name": "A", "price": 1.5, "category": "c"}\n')
    return root


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("option", ["--out", "--items", "--rejects", "--users"])
def test_transform_refuses_any_output_naming_the_catalog(logs, tmp_path, option):
    catalog = logs / "catalog.jsonl"
    before = files_under(tmp_path)
    outputs = {"--out": tmp_path / "i.csv", "--items": tmp_path / "items.csv"}
    outputs[option] = catalog
    args = ["transform", str(logs), "--catalog", str(catalog)]
    args += [part for name, path in outputs.items() for part in (name, str(path))]
    line = one_line_error(runner.invoke(app, args))
    assert "one of the inputs" in line and str(catalog) in line
    assert files_under(tmp_path) == before  # nothing written, nothing changed


def test_transform_refuses_outputs_naming_one_another_before_any_work(logs, tmp_path):
    before = files_under(tmp_path)
    same = tmp_path / "same.csv"
    line = one_line_error(
        runner.invoke(app, ["transform", str(logs), "--out", str(same), "--users", str(same)])
    )
    assert "--out and --users both name" in line
    # two datasets whose schemas (.avsc beside each) would be one file
    line = one_line_error(
        runner.invoke(
            app,
            [
                "transform",
                str(logs),
                "--out",
                str(tmp_path / "i.csv"),
                "--users",
                str(tmp_path / "d.csv"),
                "--items",
                str(tmp_path / "d.tsv"),
            ],
        )
    )
    assert "--users (its schema) and --items (its schema) both name" in line
    assert files_under(tmp_path) == before


def test_report_refuses_an_out_naming_a_log_file_or_the_users_csv_it_reads(logs, tmp_path):
    log = next(logs.glob("segment-logs/*/*/*.gz"))
    before = files_under(logs)
    line = one_line_error(runner.invoke(app, ["report", str(logs), "--out", str(log), "--no-evaluate"]))
    assert "one of the inputs" in line
    users = tmp_path / "users.csv"
    users.write_text("USER_ID,AGE\nu1,3\n")
    line = one_line_error(
        runner.invoke(app, ["report", str(logs), "--users", str(users), "--out", str(users), "--no-evaluate"])
    )
    assert "one of the inputs" in line and users.read_text() == "USER_ID,AGE\nu1,3\n"
    assert files_under(logs) == before


def test_a_transform_that_fails_late_leaves_none_of_its_outputs(logs, tmp_path):
    (logs / "catalog.jsonl").write_text("this is not a catalog\n")
    out = tmp_path / "out"
    out.mkdir()
    result = runner.invoke(
        app,
        [
            "transform",
            str(logs),
            "--out",
            str(out / "i.csv"),
            "--rejects",
            str(out / "r.jsonl"),
            "--users",
            str(out / "u.csv"),
            "--items",
            str(out / "items.csv"),
            "--catalog",
            str(logs / "catalog.jsonl"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert sorted(p.name for p in out.iterdir()) == []


def toolkit(*args: str, tmpdir: Path, **options) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "toolkit", *args],
        env={**os.environ, "TMPDIR": str(tmpdir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


def test_sigterm_ends_a_transform_with_130_its_temporary_folder_and_outputs_removed(logs, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    command = toolkit(
        "transform",
        str(logs),
        "--out",
        str(out / "i.csv"),
        "--users",
        str(out / "u.csv"),
        "--items",
        str(out / "items.csv"),
        tmpdir=tmpdir,
    )
    deadline = time.monotonic() + 60
    while not list(tmpdir.glob("toolkit-transform-*")):  # the work has begun
        assert command.poll() is None and time.monotonic() < deadline, command.communicate()
        time.sleep(0.01)
    command.send_signal(signal.SIGTERM)
    _, stderr = command.communicate(timeout=60)
    assert command.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert list(tmpdir.iterdir()) == [] and list(out.iterdir()) == []


@pytest.mark.slow
def test_two_generates_with_different_seeds_into_one_folder_never_both_proceed(tmp_path):
    for trial in range(4):
        out = tmp_path / f"out-{trial}"
        runs = [
            toolkit(
                "generate",
                "--date",
                "2026-11-01",
                "--days",
                "1",
                "--users-per-day",
                "5",
                "--workers",
                "1",
                "--seed",
                str(seed),
                "--out",
                str(out),
                "--quiet",
                tmpdir=tmp_path,
            )
            for seed in (1, 2)
        ]
        outcomes = [run.wait(timeout=120) for run in runs]
        assert sorted(outcomes) == [0, 2], [run.communicate() for run in runs]
        refused = runs[outcomes.index(2)].communicate()[1]
        assert "another run" in refused


def test_a_crash_log_is_private(tmp_path, monkeypatch):
    import importlib
    import tempfile

    import toolkit

    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where mkstemp puts the log
    # a bug, as far as the CLI can tell: the library's validate raises what no user can cause
    monkeypatch.setattr(importlib.import_module("toolkit.personalize.validate"), "validate", crash)
    monkeypatch.setattr(toolkit, "validate", crash, raising=False)
    result = runner.invoke(app, ["validate", str(tmp_path / "any.csv")])
    assert result.exit_code == 3 and "unexpected RuntimeError: boom - a bug" in result.output, result.output
    path = Path(" ".join(result.output.split()).split("the traceback is in ")[1].split()[0])
    assert path.parent == tmp_path and path.stat().st_mode & 0o777 == 0o600
    assert "RuntimeError: boom" in path.read_text()


def run_briefly(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("kind", ["fifo", "device", "deep"])
def test_schema_and_event_map_inputs_that_cannot_be_read_whole_are_refused(logs, tmp_path, kind):
    csv_path = tmp_path / "i.csv"
    csv_path.write_text("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu1,s1,1700000000,View\n")
    if kind == "fifo":
        named = deep_json = tmp_path / "pipe"
        os.mkfifo(named)
    elif kind == "device":
        named = deep_json = Path("/dev/zero")
    else:  # nested 100,000 deep: JSON for the schema, TOML for the event map
        named, deep_json = tmp_path / "deep.toml", tmp_path / "deep.avsc"
        named.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
        deep_json.write_text("[" * 100_000 + "]" * 100_000)
    for args in (
        ["validate", str(csv_path), "--schema", str(deep_json)],
        [
            "transform",
            str(logs),
            "--out",
            str(tmp_path / "o.csv"),
            "--domain",
            "ecommerce",
            "--event-map",
            str(named),
        ],
    ):
        done = run_briefly(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize(("stop", "workers"), [(signal.SIGINT, "1"), (signal.SIGTERM, "2")])
def test_an_interrupted_generate_leaves_its_fresh_folder_empty(tmp_path, stop, workers):
    out = tmp_path / "out"
    command = toolkit(
        "generate",
        "--date",
        "2026-11-01",
        "--days",
        "60",
        "--users-per-day",
        "200",
        "--workers",
        workers,
        "--out",
        str(out),
        tmpdir=tmp_path,
    )
    deadline = time.monotonic() + 120
    while not list(out.glob("segment-logs/*/*/*.gz")):  # its first files are written
        assert command.poll() is None and time.monotonic() < deadline, command.communicate()
        time.sleep(0.01)
    command.send_signal(stop)
    _, stderr = command.communicate(timeout=120)
    assert command.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert list(out.rglob("*")) == []


def test_schema_refuses_a_csv_whose_columns_repeat(tmp_path):
    csv_path = tmp_path / "users.csv"
    csv_path.write_text("USER_ID,AGE,AGE\nu1,3,4\n")
    line = one_line_error(runner.invoke(app, ["schema", str(csv_path), "--out", str(tmp_path / "u.avsc")]))
    assert "AGE more than once" in line and not (tmp_path / "u.avsc").exists()
