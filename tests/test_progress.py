"""Progress as people expect it: a line per finished step of the workshop on stdout, a labelled
bar on stderr when stderr is a terminal, nothing on a pipe or with --quiet."""

from __future__ import annotations

import re
import subprocess

from typer.testing import CliRunner

from tests.terminal import TOOLKIT, with_stderr_on_terminal
from toolkit.cli import app

runner = CliRunner()
STEP = re.compile(r"^\d\d:\d\d:\d\d  (\d) of 7  (\w+) +(.*?) \.*\s?\[(\d+\.\d) s\]$")


def test_workshop_prints_each_step_as_it_finishes(tmp_path):
    out = tmp_path / "ws"
    result = runner.invoke(
        app, ["workshop", "--date", "2026-11-01", "--days", "3", "--users-per-day", "300", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    joined = re.sub(r"\n {10}(?=\S)", " ", result.stdout)  # a step line wrapped by words, joined
    steps = [STEP.match(line) for line in joined.splitlines()]
    found = [(m[1], m[2], m[3]) for m in steps if m]
    assert [(number, name) for number, name, _ in found] == [
        ("1", "generate"),
        ("2", "explore"),
        ("3", "transform"),
        ("4", "validate"),
        ("5", "schema"),
        ("6", "evaluate"),
        ("7", "report"),
    ]
    files = sorted((out / "segment-logs").rglob("*.gz"))
    assert found[0][2].endswith(f"in {len(files)} files")
    with open(out / "transformed" / "interactions.csv") as handle:
        interactions = sum(1 for _ in handle) - 1
    assert found[2][2].startswith(f"{interactions:,} interactions")
    assert found[6][2] == str(out / "report.html")
    assert result.stderr == ""  # not a terminal: no bar


def test_quiet_workshop_prints_nothing(tmp_path):
    result = runner.invoke(
        app,
        [
            "workshop",
            "--date",
            "2026-11-01",
            "--days",
            "1",
            "--users-per-day",
            "50",
            "--out",
            str(tmp_path),
            "-q",
        ],
    )
    assert result.exit_code in (0, 1) and result.output == ""  # tiny data may fail a rule


# enough work (a few seconds) that the bar, drawn for steps over a second, appears on any machine
GENERATE = ["generate", "--date", "2026-11-01", "--days", "20", "--users-per-day", "3000", "--out", "logs"]


def test_bar_is_drawn_on_stderr_when_it_is_a_terminal(tmp_path):
    stdout, terminal, code = with_stderr_on_terminal(GENERATE, tmp_path)
    assert code == 0
    assert "simulating" in terminal and "━" in terminal  # the labelled bar, on the terminal
    assert "simulating" not in stdout and "\x1b" not in stdout and "logs/segment-logs" in stdout


def test_no_bar_on_a_pipe_and_none_with_quiet(tmp_path):
    piped = subprocess.run([TOOLKIT, *GENERATE], cwd=tmp_path, capture_output=True, text=True)
    assert piped.returncode == 0 and piped.stderr == "" and "logs/segment-logs" in piped.stdout
    stdout, terminal, code = with_stderr_on_terminal([*GENERATE, "--out", "again", "--quiet"], tmp_path)
    assert code == 0 and stdout == "" and terminal == ""
