"""Each library's messages look as the named versions send them (FACTS 2b), measured on generated files."""

from __future__ import annotations

import re
from collections import defaultdict

from tests.conftest import read_messages

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def by_library(messages):
    found = defaultdict(list)
    for _, message in messages:
        found[message["context"]["library"]["name"]].append(message)
    return found


def test_analytics_js_sends_metadata_campaign_only_with_utm_and_the_page_of_the_event(workshop_messages):
    web = by_library(workshop_messages)["analytics.js"]
    assert web and all(m["_metadata"] == {"bundled": ["Segment.io"], "bundledIds": [], "unbundled": []} for m in web)
    assert all(re.fullmatch(r"ajs-next-[0-9a-f]{32}", m["messageId"]) for m in web)  # the format of next-1.53 (before 1.69)
    with_utm = [m for m in web if "utm_source=" in m["context"]["page"]["search"]]
    assert 0 < len(with_utm) < len(web)
    assert all(("campaign" in m["context"]) == ("utm_source=" in m["context"]["page"]["url"]) for m in web)
    assert all(m["context"]["campaign"]["source"] in m["context"]["page"]["search"] for m in with_utm)
    named = [m for m in web if m["type"] == "track" and "page_name" in m["properties"]]
    assert named and all(m["context"]["page"]["title"] == m["properties"]["page_name"] for m in named)
    assert {m["context"]["page"]["path"] for m in named} == {"/", "/search"}


def test_analytics_android_sends_instance_ids_hashed_device_ids_and_its_traits_cache(workshop_messages):
    android = by_library(workshop_messages)["analytics-android"]
    assert all(UUID.match(m["context"]["instanceId"]) and re.fullmatch(r"[0-9a-f]{64}", m["context"]["device"]["id"]) for m in android)
    tracking = [m for m in android if m["context"]["device"]["adTrackingEnabled"]]
    assert 0 < len(tracking) < len(android)  # both kinds of device present
    assert all(("advertisingId" in m["context"]["device"]) == m["context"]["device"]["adTrackingEnabled"] for m in android)
    identified = {m["userId"]: m["traits"] for m in android if m["type"] == "identify"}
    assert identified and all(traits["userId"] == user and UUID.match(traits["anonymousId"]) for user, traits in identified.items())
    after = [m for m in android if m["type"] == "track" and m.get("userId") in identified and len(m["context"]["traits"]) > 2]
    assert after and all(m["context"]["traits"] == identified[m["userId"]] for m in after)
    before = [m for m in android if len(m["context"]["traits"]) <= 2]
    assert all(set(m["context"]["traits"]) <= {"anonymousId", "userId"} and m["context"]["traits"]["anonymousId"] == m["anonymousId"] for m in before)
    days = defaultdict(set)
    for m in android:
        days[m["anonymousId"]].add((m["timestamp"][:10], m["context"]["instanceId"]))
    assert all(len({i for _, i in pairs}) == len({d for d, _ in pairs}) for pairs in days.values())  # a new instance each day


def test_analytics_ios_sends_instance_ids_and_no_advertising_fields(workshop_messages):
    ios = by_library(workshop_messages)["analytics-ios"]
    assert ios and all(re.fullmatch(r"[0-9A-F-]{36}", m["context"]["instanceId"]) for m in ios)
    assert not any({"advertisingId", "adTrackingEnabled"} & set(m["context"]["device"]) for m in ios)


def test_the_identity_traits_of_android_are_no_users_dataset_field(workshop_logs, tmp_path):
    from typer.testing import CliRunner

    from toolkit.cli import app

    result = CliRunner().invoke(app, ["transform", str(workshop_logs), "--out", str(tmp_path / "i.csv"), "--users", str(tmp_path / "u.csv")])
    assert result.exit_code == 0, result.output
    header = (tmp_path / "u.csv").read_text().splitlines()[0].split(",")
    assert "ANONYMOUSID" not in header and header.count("USER_ID") == 1
