"""At 80 columns, in a real terminal (tmux), nothing one copies is cut: each fix, path and number
appears whole on one line of the screen."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.terminal import TOOLKIT, on_screen, tmux_available

pytestmark = pytest.mark.skipif(not tmux_available(), reason="needs tmux (.ci/run installs it)")


def whole_on_one_line(text: str, screen: str) -> bool:
    """Every word of `text` is on a single line of the screen, and the words follow one another
    there (wrapping between words is fine; inside a word, never)."""
    words = text.split()
    lines = screen.splitlines()
    joined = " ".join(screen.split())
    return " ".join(words) in joined and all(any(word in line for line in lines) for word in words)


def test_check_shows_every_fix_whole(moto, tmp_path):
    args = ["check", "--endpoint-url", moto, "--skip-segment"]
    fixes = [
        line["fix"]
        for account in json.loads(
            subprocess.run([TOOLKIT, *args, "--json"], capture_output=True, text=True).stdout
        )
        for line in account["lines"]
        if line["status"] != "pass" and line["fix"]
    ]
    assert any("personalize-data-" in fix for fix in fixes)
    screen = on_screen(args, tmp_path)
    assert screen.endswith("exit 1")
    for fix in fixes:
        assert whole_on_one_line(fix, screen), (fix, screen)
    assert all(len(line) <= 80 for line in screen.splitlines())


def test_workshop_paths_and_numbers_whole(tmp_path):
    out = tmp_path / "a-workshop-folder-with-a-rather-long-name-to-wrap"
    screen = on_screen(
        ["workshop", "--date", "2026-11-01", "--days", "3", "--users-per-day", "300", "--out", str(out)],
        tmp_path,
    )
    assert screen.endswith("exit 0"), screen
    for path in (out / "transformed" / "interactions.csv", out / "users.csv", out / "report.html"):
        assert any(str(path) in line for line in screen.splitlines()), (path, screen)
    numbers = re.findall(r"\d{1,3}(?:,\d{3})+", " ".join(screen.split()))
    lines = screen.splitlines()
    assert numbers and all(any(number in line for line in lines) for number in numbers)
