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
    # analytics-next 1.53.0: userAgentData on Chromium only (plugins/segmentio/index.ts), no timezone
    # (1.57.0 added it), and Segment's stored lines without the writeKey (FACTS 1)
    chrome = [m for m in web if "Chrome/" in m["context"]["userAgent"]]
    assert 0 < len(chrome) < len(web)
    assert all(("userAgentData" in m["context"]) == ("Chrome/" in m["context"]["userAgent"]) for m in web)
    assert all(
        {"brand": "Google Chrome", "version": m["context"]["userAgent"].split("Chrome/")[1].split(".")[0]}
        in m["context"]["userAgentData"]["brands"]
        for m in chrome
    )
    assert not any("timezone" in m["context"] or "writeKey" in m for m in web)
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
    assert_traits_cache(android, lambda m: {"anonymousId": m["anonymousId"]})
    days = defaultdict(set)
    for m in android:
        days[m["anonymousId"]].add((m["timestamp"][:10], m["context"]["instanceId"]))
    assert all(
        len({i for _, i in pairs}) == len({d for d, _ in pairs}) for pairs in days.values()
    )  # a new instance each day


def test_analytics_ios_sends_instance_ids_no_advertising_fields_and_its_traits_cache(workshop_messages):
    ios = by_library(workshop_messages)["analytics-ios"]
    assert ios and all(re.fullmatch(r"[0-9A-F-]{36}", m["context"]["instanceId"]) for m in ios)
    assert not any({"advertisingId", "adTrackingEnabled"} & set(m["context"]["device"]) for m in ios)
    assert_traits_cache(ios, lambda m: {})


def assert_traits_cache(messages, before):
    """A device's context.traits is `before` until its first identify, then the merged cache, which
    the identify's traits are too, with anonymousId and userId: analytics-android 4.11.3 Traits.java
    create() holds the anonymousId only until Analytics.java identify merges the traits in;
    analytics-ios 4.1.8 SEGAnalytics.m identify merges the traits, anonymousId and userId, and
    SEGUtils.m getLiveContext sends them ({} before). The workshop keeps its original's userIds on
    registration tracks, so a track can carry a userId its device has not identified yet."""
    identifies = {}
    for m in sorted(messages, key=lambda m: m["originalTimestamp"]):
        if m["type"] == "identify":
            assert m["traits"] == m["context"]["traits"]
            assert m["traits"]["userId"] == m["userId"] and m["traits"]["anonymousId"] == m["anonymousId"]
            identifies.setdefault(m["anonymousId"], m)
    assert identifies
    before_identify = after_identify = 0
    for m in messages:
        first = identifies.get(m["anonymousId"])
        if m["type"] == "identify":
            continue
        if first is None or m["originalTimestamp"] <= first["originalTimestamp"]:
            assert m["context"]["traits"] == before(m)
            before_identify += 1
        else:
            assert m["context"]["traits"] == first["traits"]
            after_identify += 1
    assert before_identify and after_identify


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
    # a retry repeats a whole request: the rate's standard error counts requests, not messages
    requests = Counter((m["projectId"], m["sentAt"], m["receivedAt"]) for m in messages)
    sizes = sum(size * size for size in requests.values())
    assert abs(extra / simulated - 0.01) < 3 * (0.01 * 0.99 * sizes) ** 0.5 / simulated
    twice = {}
    for m in messages:
        twice.setdefault(m["messageId"], []).append(m)

    def at(text):
        return datetime.datetime.fromisoformat(text[:-1])

    for first, second in (
        sorted(pair, key=lambda m: m["receivedAt"]) for pair in twice.values() if len(pair) == 2
    ):
        moved = ("sentAt", "receivedAt", "timestamp")
        assert {k: v for k, v in first.items() if k not in moved} == {
            k: v for k, v in second.items() if k not in moved
        }
        # analytics-android, -ios and analytics.js build sentAt at every attempt (SegmentIntegration.java
        # BatchPayloadWriter.endObject, SEGSegmentIntegration.m sendData, analytics-next normalize.ts):
        # the repeat is sent 5-600 s later and has its own network time (at most 2 s)
        retry = (at(second["sentAt"]) - at(first["sentAt"])).total_seconds()
        gap = (at(second["receivedAt"]) - at(first["receivedAt"])).total_seconds()
        assert 5 <= retry <= 600 and abs(gap - retry) <= 2
        assert first["timestamp"] != second["timestamp"] or gap == retry

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
