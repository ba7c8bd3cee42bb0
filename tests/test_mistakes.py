"""Mistakes caught and named before (or as) the work is done: a future --date, a mistyped
scenario, domain, format or event type, without a library's error prefix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from toolkit.cli import app

runner = CliRunner()


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_a_future_date_is_warned(tmp_path):
    future = (datetime.now(UTC).date() + timedelta(days=200)).isoformat()
    result = runner.invoke(
        app, ["generate", "--date", future, "--days", "1", "--users-per-day", "5", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0
    assert f"warning: --date {future} is in the future: Segment has no folder" in one_line(result.stderr)
    past = runner.invoke(
        app,
        [
            "generate",
            "--date",
            "2026-11-01",
            "--days",
            "1",
            "--users-per-day",
            "5",
            "--out",
            str(tmp_path / "p"),
        ],
    )
    assert "warning" not in past.stderr


def test_a_mistyped_scenario_domain_or_format_gets_a_did_you_mean(tmp_path):
    scenario = runner.invoke(app, ["generate", "--date", "2026-11-01", "--days", "1", "--scenario", "retial"])
    assert scenario.exit_code == 2 and "did you mean 'retail'?" in scenario.output
    domain = runner.invoke(app, ["transform", str(tmp_path), "--domain", "ecomerce"])
    assert domain.exit_code == 2 and "did you mean 'ecommerce'?" in domain.output
    assert "Value error" not in domain.output and len(domain.output.strip().splitlines()) == 1
    shown = runner.invoke(app, ["explore", str(tmp_path), "--format", "jsn"])
    assert shown.exit_code == 2 and "did you mean 'json'?" in shown.output


def test_an_event_type_matching_nothing_is_named_with_the_likely_one(workshop_logs, tmp_path):
    result = runner.invoke(
        app,
        [
            "transform",
            str(workshop_logs),
            "--event-types",
            "Product Clickd,Order Completed",
            "--out",
            str(tmp_path / "i.csv"),
        ],
    )
    assert "--event-types 'Product Clickd' matched no message; did you mean 'Product Clicked'?" in one_line(
        result.stdout
    )
    assert "'Order Completed' matched" not in result.stdout
