"""What validate shows: the failed rules and warnings, a line of counts, --all for every rule,
one verdict over every dataset checked, and stable check ids in --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolkit.cli import app

runner = CliRunner()
REFERENCE = Path(__file__).resolve().parent / "data" / "workshop-interactions.csv"


@pytest.fixture(scope="module")
def workshop_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("ws") / "ws"
    result = runner.invoke(
        app,
        [
            "workshop",
            "--date",
            "2026-11-01",
            "--days",
            "3",
            "--users-per-day",
            "300",
            "--out",
            str(out),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def args(out: Path) -> list[str]:
    return [
        "validate",
        str(out / "transformed" / "interactions.csv"),
        "--users",
        str(out / "users.csv"),
        "--items",
        str(out / "items.csv"),
    ]


def test_default_shows_what_to_fix_or_look_at_then_counts_then_one_verdict(workshop_out):
    shown = runner.invoke(app, args(workshop_out))
    document = json.loads(runner.invoke(app, [*args(workshop_out), "--json"]).stdout)
    assert shown.exit_code == 0
    text = " ".join(shown.stdout.split())
    assert "│ pass" not in shown.stdout  # passing rules are not listed
    for report in document["datasets"]:
        passing = sum(c["status"] == "pass" for c in report["checks"])
        assert f"{report['rows']:,} rows: {passing:,} rules pass" in text
        for check in report["checks"]:
            if check["status"] == "warn":
                assert check["rule"].split()[0] in shown.stdout
    warnings = sum(c["status"] == "warn" for r in document["datasets"] for c in r["checks"])
    assert text.endswith(
        f"valid: 3 datasets checked (interactions, users, items) ({warnings} warnings to look at)"
    )
    every = runner.invoke(app, [*args(workshop_out), "--all"])
    joined = " ".join(every.stdout.split())
    assert every.stdout.count("│ pass") == sum(
        c["status"] == "pass" for r in document["datasets"] for c in r["checks"]
    )
    assert "Diagnostics" in joined


def test_an_invalid_dataset_is_named_in_the_verdict(tmp_path):
    millis = tmp_path / "millis.csv"
    millis.write_text(
        "USER_ID,ITEM_ID,TIMESTAMP\n"
        + "".join(f"u{i % 300},i{i % 7},{1700000000000 + i}\n" for i in range(2000))
    )
    shown = runner.invoke(app, ["validate", str(millis)])
    assert shown.exit_code == 1
    assert "TIMESTAMP in epoch seconds" in shown.stdout and "FAIL" in shown.stdout
    last = " ".join(shown.stdout.split()[-16:])
    assert "invalid: interactions (1 rule failed), of 1 dataset checked (2 warnings to look at)" in last


def test_checks_have_stable_unique_ids(workshop_out):
    document = json.loads(runner.invoke(app, [*args(workshop_out), "--json"]).stdout)
    ids = [c["id"] for r in document["datasets"] for c in r["checks"]]
    assert len(ids) == len(set(ids))
    assert {"interactions.timestamp_seconds", "interactions.cold_users", "users.unique_user_id"} <= set(ids)
    single = json.loads(runner.invoke(app, ["validate", str(REFERENCE), "--json"]).stdout)
    assert any(c["id"] == "interactions.timestamp_seconds" for c in single["checks"])


def test_findings_read_as_what_was_found(workshop_out):
    document = json.loads(runner.invoke(app, [*args(workshop_out), "--json"]).stdout)
    text = json.dumps(document)
    assert "neither heavy-tailed" not in text and "dropping rare values" not in text
