"""The report as a data scientist reads it: a profile card per column of Users and Items with
data insights' alerts, computed here from the CSVs; passing rules folded away; a table of
contents; the evaluation's figures as `toolkit evaluate` prints them; drawn by Chromium."""

from __future__ import annotations

import csv
import json
import re
import subprocess
from collections import Counter
from html import unescape
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import CHROMIUM_FLAGS, chromium
from toolkit.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def workshop(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "ws"
    result = runner.invoke(
        app,
        [
            "workshop",
            "--date",
            "2026-11-01",
            "--days",
            "7",
            "--users-per-day",
            "300",
            "--out",
            str(out),
            "-q",
        ],
    )
    assert result.exit_code == 0
    return out


def columns_of(path: Path) -> dict[str, list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {name: [row[name] for row in rows] for name in rows[0]}


def card(page: str, column: str) -> str:
    found = re.search(rf'<div class="card" data-column="{re.escape(column)}">(.*?)</div>', page, re.S)
    assert found, column
    return found[1]


def test_a_card_per_column_with_the_figures_and_alerts_of_the_csv(workshop):
    page = (workshop / "report.html").read_text()
    for dataset, id_column in (("users", "USER_ID"), ("items", "ITEM_ID")):
        assert f'data-profile="{dataset}"' in page
        for name, values in columns_of(workshop / f"{dataset}.csv").items():
            if name == id_column:
                continue
            shown = card(page, name)
            present = [v for v in values if v != ""]
            complete = len(present) / len(values)
            assert f'<span data-figure="complete">{complete:.0%}</span>' in shown
            assert f'<span data-figure="distinct">{len(set(present)):,}</span>' in shown
            assert ("under 70%" in shown) == (complete < 0.70), name
            assert ("constant" in shown) == (len(set(present)) <= 1), name
            if "categorical" in shown:
                value, count = Counter(present).most_common(1)[0]
                assert f'<td class="number">{count:,}</td>' in shown and value[:20] in unescape(shown)


def test_passing_rules_folded_contents_and_the_evaluation_as_evaluate_shows_it(workshop):
    page = (workshop / "report.html").read_text()
    for anchor in re.findall(r'<a href="#([\w-]+)">', page):
        assert f'<section id="{anchor}">' in page
    folded = re.findall(r"<details><summary>(\d+) rules? pass</summary>(.*?)</details>", page, re.S)
    assert folded and all(body.count('class="pass"') == int(count) for count, body in folded)
    evaluation = json.loads(
        runner.invoke(app, ["evaluate", str(workshop / "transformed" / "interactions.csv"), "--json"]).stdout
    )
    for scores in (evaluation["popularity"], evaluation["cooccurrence"]):
        assert f'<td class="number">{scores["coverage"]:.1%}</td>' in page
    assert "e+0" not in page and "mathdefault" not in page  # no offset or raw mathtext on an axis


@pytest.mark.browser
def test_chromium_draws_the_page(workshop, tmp_path):
    shot = tmp_path / "report.png"
    run = subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1280,9000",
            f"--screenshot={shot}",
            "--dump-dom",
            (workshop / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.stat().st_size > 100_000  # drawn, not blank
    assert 'data-profile="users"' in run.stdout and 'data-chart="per_day_by_source"' in run.stdout


def test_cold_users_and_items_above_their_cards(workshop):
    page = (workshop / "report.html").read_text()
    interactions = columns_of(workshop / "transformed" / "interactions.csv")
    for dataset, column in (("users", "USER_ID"), ("items", "ITEM_ID")):
        ids = set(columns_of(workshop / f"{dataset}.csv")[column])
        cold = len(ids - set(interactions[column]))
        found = re.search(rf'<p class="(alert|note)" data-cold="{dataset}">(.*?)</p>', page)
        assert found and f"cold {dataset}: {cold / len(ids):.1%}" in unescape(found[2])
        assert (found[1] == "alert") == (cold / len(ids) > 0.10)
