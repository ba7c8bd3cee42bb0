"""`toolkit report`: the page opens in headless Chromium with no console message and no network,
its charts are there, and its figures equal what is counted here from the files themselves."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import CHROMIUM_FLAGS, chromium, read_messages
from toolkit.cli import app

runner = CliRunner()
WANTED = ("Product Added", "Order Completed", "Product Clicked")  # the transform's default events
LOG_CHARTS = {
    "per_day_by_source",
    "events",
    "received_lag",
    "accounting",
    "funnel_registration",
    "funnel_email",
}
INTERACTION_CHARTS = {"per_user", "popularity", "hour_by_weekday", "interactions_per_day", "event_types"}


def day(text: str) -> str:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()


@pytest.fixture(scope="module")
def delivered_logs(workshop_logs, tmp_path_factory) -> Path:
    """The workshop's logs plus what real delivery adds: 40 messages delivered twice (same
    messageId) and 30 received two days after their timestamp, in a later day's folder."""
    root = tmp_path_factory.mktemp("delivered")
    shutil.copytree(workshop_logs / "segment-logs", root / "segment-logs")
    messages = [m for _, m in read_messages(workshop_logs)]
    tracks = [m for m in messages if m["type"] == "track"]
    late = []
    for message in tracks[100:130]:
        moved = dict(message, messageId=message["messageId"] + "-late")
        moved["receivedAt"] = (
            (datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00")) + timedelta(days=2))
            .isoformat()
            .replace("+00:00", "Z")
        )
        late.append(moved)
    folder = root / "segment-logs" / "late-source" / "1800000000000"
    folder.mkdir(parents=True)
    (folder / "late.gz").write_bytes(
        gzip.compress(b"".join(json.dumps(m).encode() + b"\n" for m in tracks[:40] + late))
    )
    return root


def chromium_open(page: Path, tmp_path: Path) -> tuple[str, str]:
    """The page's DOM as Chromium renders it, and what Chromium logged (console messages among it);
    a screenshot beside."""
    run = subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,6000",
            f"--screenshot={tmp_path / 'report.png'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (tmp_path / "report.png").stat().st_size > 20_000  # a page drawn, not a blank one
    return run.stdout, run.stderr


@pytest.mark.browser
def test_the_page_shows_the_logs_as_counted_from_the_files(delivered_logs, tmp_path):
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(delivered_logs), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    messages = [m for _, m in read_messages(delivered_logs)]
    # counted here, from the files, independently of the report's DuckDB queries
    ids = Counter(m["messageId"] for m in messages)
    late = sum(1 for m in messages if day(m["receivedAt"]) > day(m["timestamp"]))
    first = {}
    for m in messages:
        first.setdefault(m["messageId"], m)
    kept = [
        m
        for m in first.values()
        if m["type"] == "track"
        and m.get("event") in WANTED
        and m.get("userId")
        and m["properties"].get("sku")
    ]
    expected = {
        "messages": len(messages),
        "duplicate_copies": sum(n - 1 for n in ids.values()),
        "received_later": late,
        "interactions": len(kept),
        "users": len({m["userId"] for m in kept}),
        "items": len({m["properties"]["sku"] for m in kept}),
        "rejected": 0,
    }
    assert expected["duplicate_copies"] == 40 and late == 30
    dom, log = chromium_open(out, tmp_path)
    shown = {
        name: int(value.replace(",", "")) for name, value in re.findall(r'data-figure="(\w+)">([\d,]+)<', dom)
    }
    assert {name: shown[name] for name in expected} == expected
    per_day = Counter((day(m["timestamp"]), m["projectId"]) for m in messages)
    names = {"android-prod", "ios-prod", "website-prod", "email-prod"}
    assert sum(per_day.values()) == sum(
        n for counts in figures["logs"]["per_day"].values() for n in counts.values()
    )
    assert set(figures["logs"]["sources"]) <= names | {"late-source"}
    events = Counter(m["event"] if m["type"] == "track" else m["type"] for m in messages)
    assert {e["event"]: e["messages"] for e in figures["logs"]["events"]} == dict(events.most_common(20))
    assert figures["interactions"]["event_types"] == dict(Counter(m["event"] for m in kept))
    # the charts, drawn: every figure holds an svg, and there is nothing to fetch and nothing logged
    charts = re.findall(r'<figure data-chart="([^"]+)"><svg', dom)
    assert set(charts) >= LOG_CHARTS | INTERACTION_CHARTS
    assert "CONSOLE" not in log, [line for line in log.splitlines() if "CONSOLE" in line]
    html = out.read_text()
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html) and "<script" not in html
    assert 'data-ready="true"' in dom and "Ready for Personalize" in dom


def test_an_interactions_csv_with_users_and_items(tmp_path):
    rows = [
        f"u{u},i{(u * 3 + k) % 40},View,{1_700_000_000 + u * 3600 + k * 60}"
        for u in range(60)
        for k in range(25)
    ]
    csv = tmp_path / "interactions.csv"
    csv.write_text("USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n" + "\n".join(rows) + "\n")
    (tmp_path / "users.csv").write_text(
        "USER_ID,PLAN\n" + "\n".join(f"u{u},gold" for u in range(30, 100)) + "\n"
    )
    result = runner.invoke(
        app,
        [
            "report",
            str(csv),
            "--out",
            str(tmp_path / "r.html"),
            "--users",
            str(tmp_path / "users.csv"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert (
        figures["logs"] is None
        and figures["interactions"]["interactions"] == 1500
        and figures["interactions"]["users"] == 60
    )
    assert figures["interactions"]["per_user"] == [{"from": 16, "to": 31, "users": 60}]
    missing = next(
        c for c in figures["validation"]["checks"] if c["rule"].startswith("interactions whose user")
    )
    assert missing["status"] == "warn" and missing["detail"].startswith(f"{30 * 25 / 1500:.1%}")
    page = (tmp_path / "r.html").read_text()
    assert "Against the Users and Items datasets" in page and 'data-chart="popularity"' in page


def test_a_csv_that_fails_says_what_to_fix_and_exits_1(tmp_path):
    csv = tmp_path / "few.csv"
    csv.write_text(
        "USER_ID,ITEM_ID,TIMESTAMP\n" + "\n".join(f"u{i},i{i},{1_700_000_000 + i}" for i in range(50)) + "\n"
    )
    result = runner.invoke(app, ["report", str(csv), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 1 and "not ready for Personalize" in result.output
    page = (tmp_path / "r.html").read_text()
    assert 'data-ready="false"' in page and "at least 1,000 interactions" in page


def test_bad_sources_are_one_line_errors(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "r.html")])
    assert (
        result.exit_code == 2
        and "no such file or folder" in result.output
        and not (tmp_path / "r.html").exists()
    )
    csv = tmp_path / "i.csv"
    csv.write_text("USER_ID,ITEM_ID,TIMESTAMP\nu,i,1\n")
    result = runner.invoke(app, ["report", str(csv), "--out", str(csv)])
    assert result.exit_code == 2 and csv.read_text().startswith("USER_ID")


@pytest.mark.slow
def test_a_report_of_logs_in_s3(workshop_logs, s3_bucket, tmp_path):
    import boto3

    endpoint, bucket = s3_bucket
    client = boto3.client("s3", endpoint_url=endpoint)
    for path in workshop_logs.rglob("*.gz"):
        client.upload_file(str(path), bucket, f"logs/{path.relative_to(workshop_logs)}")
    remote = runner.invoke(
        app,
        [
            "report",
            f"s3://{bucket}/logs",
            "--out",
            str(tmp_path / "s3.html"),
            "--endpoint-url",
            endpoint,
            "--json",
            "--no-evaluate",
        ],
    )
    local = runner.invoke(
        app, ["report", str(workshop_logs), "--out", str(tmp_path / "local.html"), "--json", "--no-evaluate"]
    )
    assert remote.exit_code == local.exit_code == 0, remote.output
    assert json.loads(remote.stdout)["logs"] == json.loads(local.stdout)["logs"]
    assert json.loads(remote.stdout)["interactions"] == json.loads(local.stdout)["interactions"]


def test_text_from_the_data_cannot_inject_markup(tmp_path):
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    rows = [
        f"u{u},{hostile if k == 0 else f'i{k}'},{hostile},{1_700_000_000 + u * 100 + k}"
        for u in range(60)
        for k in range(20)
    ]
    csv = tmp_path / "i.csv"
    csv.write_text(
        "USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n"
        + "\n".join(r.replace(hostile, '"' + hostile.replace('"', '""') + '"') for r in rows)
        + "\n"
    )
    result = runner.invoke(app, ["report", str(csv), "--out", str(tmp_path / "r.html"), "--no-evaluate"])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text()
    assert "<script" not in page and "<img" not in page and "&lt;script&gt;" in page
