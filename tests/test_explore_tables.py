"""explore's tables as DuckDB's CLI shows them: 40 rows and the count of the rest, numbers
right-aligned and grouped, NULL shown, `1 row`, a sample that shows the data's shape at 80
columns, and after --db one line saying what was loaded and what to run next."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from toolkit.cli import app

runner = CliRunner()
ROW = re.compile(r"^│.*│$")


def body_rows(output: str) -> list[str]:
    """The table's data rows (between the header rule and the bottom border)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("┡"))
    end = next(i for i, line in enumerate(lines) if line.startswith("└"))
    return [line for line in lines[start + 1 : end] if ROW.match(line)]


def test_forty_rows_by_default_and_the_rest_counted(workshop_logs, workshop_messages):
    sql = "SELECT messageId FROM segment_logs"
    result = runner.invoke(app, ["explore", str(workshop_logs), "--sql", sql])
    assert result.exit_code == 0, result.output
    assert len(body_rows(result.stdout)) == 40
    assert f"{len(workshop_messages):,} rows (40 shown; --limit 0 shows all)" in result.stdout
    every = runner.invoke(app, ["explore", str(workshop_logs), "--sql", sql, "--limit", "0"])
    assert len(body_rows(every.stdout)) == len(workshop_messages)
    assert f"\n{len(workshop_messages):,} rows in " in every.stdout
    csv = runner.invoke(app, ["explore", str(workshop_logs), "--sql", sql, "--format", "csv"])
    assert len(csv.stdout.splitlines()) == len(workshop_messages) + 1  # CSV: every row


def test_numbers_right_aligned_and_grouped_null_shown_one_row(workshop_logs):
    result = runner.invoke(
        app, ["explore", str(workshop_logs), "--sql", "SELECT 1234567 AS big, NULL AS nothing, 'x' AS word"]
    )
    [row] = body_rows(result.stdout)
    cells = [cell for cell in row.strip("│").split("│")]
    assert cells[0].endswith("1,234,567 ") and cells[0].startswith(" ")  # right-aligned
    assert cells[1].strip() == "NULL" and cells[2].startswith(" x")
    assert re.search(r"^1 row in ", result.stdout, re.M) and "1 rows" not in result.stdout


def test_the_sample_shows_every_column_at_80_columns(workshop_logs):
    result = runner.invoke(app, ["explore", str(workshop_logs)], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    sample = runner.invoke(
        app,
        ["explore", str(workshop_logs), "--sql", "SELECT * FROM segment_logs LIMIT 20", "--json"],
    )
    columns = set(json.loads(sample.stdout)[0])
    shown = {row.strip("│").split("│")[0].strip() for row in body_rows(result.stdout)}
    assert columns and columns <= shown
    assert all(len(line) <= 80 for line in result.stdout.splitlines())


def test_json_is_format_json_and_quiet_prints_nothing(workshop_logs):
    args = [
        "explore",
        str(workshop_logs),
        "--sql",
        "SELECT event, count(*) n FROM segment_logs GROUP BY 1 ORDER BY 1 NULLS FIRST",
    ]
    assert json.loads(runner.invoke(app, [*args, "--json"]).stdout) == json.loads(
        runner.invoke(app, [*args, "--format", "json"]).stdout
    )
    assert runner.invoke(app, [*args, "--quiet"]).output == ""


def test_loading_a_db_says_what_was_loaded_and_what_to_run_next(workshop_logs, workshop_messages, tmp_path):
    database = tmp_path / "logs.duckdb"
    result = runner.invoke(app, ["explore", str(workshop_logs), "--db", str(database), "--sql", "SELECT 1"])
    files = len({path for path, _ in workshop_messages})
    assert (
        f"loaded {len(workshop_messages):,} messages from {files:,} log files into {database}; "
        f"next: duckdb {database}"
    ) in " ".join(result.stderr.split())
