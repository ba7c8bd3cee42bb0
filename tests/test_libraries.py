"""Each library's messages look as the named versions send them (FACTS 2b), measured on generated files."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from tests.helpers import read_messages, replaced, scenario_text

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def by_library(messages):
    found = defaultdict(list)
    for _, message in messages:
        found[message["context"]["library"]["name"]].append(message)
    return found


def test_analytics_js_sends_metadata_campaign_only_with_utm_and_the_page_of_the_event(workshop_messages):
    web = by_library(workshop_messages)["analytics.js"]
    assert web and all(
        m["_metadata"] == {"bundled": ["Segment.io"], "bundledIds": [], "unbundled": []} for m in web
    )
    assert all(
        re.fullmatch(r"ajs-next-[0-9a-f]{32}", m["messageId"]) for m in web
    )  # the format of next-1.53 (before 1.69)
    with_utm = [m for m in web if "utm_source=" in m["context"]["page"]["search"]]
    assert 0 < len(with_utm) < len(web)
    assert all(("campaign" in m["context"]) == ("utm_source=" in m["context"]["page"]["url"]) for m in web)
    assert all(m["context"]["campaign"]["source"] in m["context"]["page"]["search"] for m in with_utm)
    named = [m for m in web if m["type"] == "track" and "page_name" in m["properties"]]
    assert named and all(m["context"]["page"]["title"] == m["properties"]["page_name"] for m in named)
    assert {m["context"]["page"]["path"] for m in named} == {"/", "/search"}


def test_analytics_android_sends_instance_ids_hashed_device_ids_and_its_traits_cache(workshop_messages):
    android = by_library(workshop_messages)["analytics-android"]
    assert all(
        UUID.match(m["context"]["instanceId"]) and re.fullmatch(r"[0-9a-f]{64}", m["context"]["device"]["id"])
        for m in android
    )
    tracking = [m for m in android if m["context"]["device"]["adTrackingEnabled"]]
    assert 0 < len(tracking) < len(android)  # both kinds of device present
    assert all(
        ("advertisingId" in m["context"]["device"]) == m["context"]["device"]["adTrackingEnabled"]
        for m in android
    )
    identified = {m["userId"]: m["traits"] for m in android if m["type"] == "identify"}
    assert identified and all(
        traits["userId"] == user and UUID.match(traits["anonymousId"]) for user, traits in identified.items()
    )
    after = [
        m
        for m in android
        if m["type"] == "track" and m.get("userId") in identified and len(m["context"]["traits"]) > 2
    ]
    assert after and all(m["context"]["traits"] == identified[m["userId"]] for m in after)
    before = [m for m in android if len(m["context"]["traits"]) <= 2]
    assert all(
        set(m["context"]["traits"]) <= {"anonymousId", "userId"}
        and m["context"]["traits"]["anonymousId"] == m["anonymousId"]
        for m in before
    )
    days = defaultdict(set)
    for m in android:
        days[m["anonymousId"]].add((m["timestamp"][:10], m["context"]["instanceId"]))
    assert all(
        len({i for _, i in pairs}) == len({d for d, _ in pairs}) for pairs in days.values()
    )  # a new instance each day


def test_analytics_ios_sends_instance_ids_and_no_advertising_fields(workshop_messages):
    ios = by_library(workshop_messages)["analytics-ios"]
    assert ios and all(re.fullmatch(r"[0-9A-F-]{36}", m["context"]["instanceId"]) for m in ios)
    assert not any({"advertisingId", "adTrackingEnabled"} & set(m["context"]["device"]) for m in ios)


def test_the_identity_traits_of_android_are_no_users_dataset_field(workshop_logs, tmp_path):
    from typer.testing import CliRunner

    from toolkit.cli import app

    result = CliRunner().invoke(
        app,
        [
            "transform",
            str(workshop_logs),
            "--out",
            str(tmp_path / "i.csv"),
            "--users",
            str(tmp_path / "u.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    header = (tmp_path / "u.csv").read_text().splitlines()[0].split(",")
    assert "ANONYMOUSID" not in header and header.count("USER_ID") == 1


@pytest.mark.slow
def test_delivery_as_it_really_happens_duplicates_and_offline_queues(tmp_path):
    """[delivery]: about 1% of messages delivered twice (same messageId, received again a little
    later), and mobile users offline for a day sending their messages hours later, some on a later day."""
    import datetime
    import json
    from collections import Counter

    from typer.testing import CliRunner

    from toolkit.cli import app

    text = scenario_text("workshop")
    scenario = tmp_path / "delivery.toml"
    scenario.write_text(
        replaced(
            text,
            "\n[catalog]\n",
            "\n[delivery]\nduplicate_chance = 0.01\noffline_chance = 0.1\noffline_hours = [2, 30]\n"
            "\n[catalog]\n",
        )
    )
    runner = CliRunner()
    made = runner.invoke(
        app,
        [
            "generate",
            "--date",
            "2026-11-01",
            "--days",
            "3",
            "--users-per-day",
            "400",
            "--scenario",
            str(scenario),
            "--out",
            str(tmp_path / "logs"),
            "--json",
        ],
    )
    assert made.exit_code == 0, made.output
    summary = json.loads(made.stdout)
    files = read_messages(tmp_path / "logs")
    messages = [m for _, m in files]
    copies = Counter(m["messageId"] for m in messages)
    extra = sum(n - 1 for n in copies.values())
    simulated = len(messages) - extra
    assert summary["duplicates"] == extra and summary["messages"] == len(messages)
    assert (
        abs(extra / simulated - 0.01) < 3 * (0.01 * 0.99 / simulated) ** 0.5
    )  # within three standard errors
    twice = {}
    for m in messages:
        twice.setdefault(m["messageId"], []).append(m)
    for first, second in (
        sorted(pair, key=lambda m: m["receivedAt"]) for pair in twice.values() if len(pair) == 2
    ):
        assert {k: v for k, v in first.items() if k not in ("sentAt", "receivedAt")} == {
            k: v for k, v in second.items() if k not in ("sentAt", "receivedAt")
        }
        gap = (
            datetime.datetime.fromisoformat(second["receivedAt"][:-1])
            - datetime.datetime.fromisoformat(first["receivedAt"][:-1])
        ).total_seconds()
        assert 5 <= gap <= 601

    # offline: held back 2-30 hours, on mobile libraries only; about 10% of mobile users' days
    def held(m):
        return (
            datetime.datetime.fromisoformat(m["sentAt"][:-1])
            - datetime.datetime.fromisoformat(m["originalTimestamp"][:-1])
        ).total_seconds() > 3600

    late = [m for m in messages if held(m)]
    assert late and {m["context"]["library"]["name"] for m in late} == {"analytics-android", "analytics-ios"}
    days = {
        (m["anonymousId"], m["timestamp"][:10]): held(m)
        for m in messages
        if m["context"]["library"]["name"] in ("analytics-android", "analytics-ios")
    }
    assert 0.06 < sum(days.values()) / len(days) < 0.14
    later_day = sum(m["receivedAt"][:10] > m["timestamp"][:10] for m in messages)
    assert later_day > 0
    for path, m in files:  # each file under the day Segment received its messages
        assert int(path.parent.name) == int(
            datetime.datetime.fromisoformat(m["receivedAt"][:10]).replace(tzinfo=datetime.UTC).timestamp()
            * 1000
        )
    # the transform's accounting balances, every duplicate counted once
    out = runner.invoke(
        app, ["transform", str(tmp_path / "logs"), "--out", str(tmp_path / "i.csv"), "--json"]
    )
    accounting = json.loads(out.stdout)
    assert accounting["balanced"] and accounting["messages_read"] == len(messages)
    wanted = ("Product Added", "Order Completed", "Product Clicked")
    kept = [
        m
        for m in messages
        if m["type"] == "track" and m["event"] in wanted and m.get("userId") and m["properties"].get("sku")
    ]
    assert (
        accounting["messages_written"] == len({m["messageId"] for m in kept})
        and accounting["duplicates"] == len(kept) - accounting["messages_written"] > 0
    )
