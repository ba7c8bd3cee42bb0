"""Hostile scenario files are refused before any work, with one line under 300 characters naming
the first problem: wrong providers, non-finite or huge numbers, texts Segment would drop,
duplicate or non-ASCII source ids, nesting that would hang or crash the parser; and user text is
never read as mathtext by the report's charts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import track, write_log
from toolkit.cli import app

runner = CliRunner()
WORKSHOP = (Path(__file__).parents[1] / "scenarios" / "workshop.toml").read_text(encoding="utf-8")
FIRST_ID, SECOND_ID = "wX3kPq9TzR2mLb7Vn4Hc8d", "aN5rT8yUi2Op4Lk6Jh9Gf3"


def edited(old: str, new: str) -> str:
    assert old in WORKSHOP, old
    return WORKSHOP.replace(old, new, 1)


HOSTILE = {
    "faker binary": (edited('faker = "first_name"', 'faker = "binary"'), "faker provider that makes a text"),
    "faker pydecimal": (edited('faker = "first_name"', 'faker = "pydecimal"'), "faker provider"),
    "faker dunder": (edited('faker = "first_name"', 'faker = "__class__"'), "faker provider"),
    "infinite weight": (edited("weights = [20, 55]", "weights = [inf, 55]"), "finite number"),
    "nan weight": (edited("weights = [20, 55]", "weights = [nan, 55]"), "finite number"),
    "a billion visitors": (
        edited("new_visitors_per_day = 1000 ", "new_visitors_per_day = 1000000000 "),
        "must be 1 to 1,000,000",
    ),
    "offline for ever": (
        WORKSHOP + "\n[delivery]\noffline_chance = 0.5\noffline_hours = [1e18, 1e18]\n",
        "finite number up to",
    ),
    "identify gap for ever": (
        edited("identify_gap_seconds = [0, 0]", "identify_gap_seconds = [1e11, 1e11]"),
        "low <= high <= 31,536,000",
    ),
    "a 100 KB event name": (edited('"Signup Clicked"', '"' + "x" * 100_000 + '"'), "over 4,096 characters"),
    "two sources, one id": (edited(SECOND_ID, FIRST_ID), "each source has its own"),
    "a full-width source id": (edited(FIRST_ID, "ｗＸ３ｋＰｑ９ＴｚＲ"), "ASCII letters and digits"),
    "a dotted key 20,000 deep": (WORKSHOP + "\na" + ".a" * 20_000 + " = 1\n", "dotted parts"),
    "arrays 100,000 deep": (WORKSHOP + "\nx = " + "[" * 100_000 + "]" * 100_000 + "\n", "nested"),
    "10,000 passes": (
        edited('passes = ["android", "web", "ios"]', "passes = [" + '"x", ' * 10_000 + "]"),
        "",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_scenario_is_one_short_line_before_any_work(tmp_path, case):
    text, said = HOSTILE[case]
    scenario = tmp_path / "hostile.toml"
    scenario.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    began = time.monotonic()
    result = runner.invoke(
        app,
        ["generate", "--scenario", str(scenario), "--date", "2026-11-01", "--days", "1", "--out", str(out)],
    )
    assert result.exit_code == 2, (case, result.output[:500])
    line = result.output.strip()
    assert len(line.splitlines()) == 1 and len(line) < 300, (case, line[:500])
    assert said in line, (case, line)
    assert time.monotonic() - began < 10 and not out.exists()


def test_the_report_never_reads_event_names_as_mathtext(tmp_path):
    events = ["$\\frac{1}{$", "$x^$", "Product Added"]
    lines = [track(f"m{n}", event=events[n % 3], user_id=f"u{n % 7}", sku=f"s{n % 5}") for n in range(60)]
    write_log(tmp_path / "logs", "a.gz", lines)
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(tmp_path / "logs"), "--out", str(out), "--no-evaluate"])
    assert result.exit_code in (0, 1), result.output
    assert "\\frac{1}{" in out.read_text(encoding="utf-8")
