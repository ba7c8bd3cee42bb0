"""The collector speaks every Segment SDK's protocol (FACTS 2b) and answers as Segment does."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.helpers import KEYS, SCENARIO, RunningCollector, basic, read_messages, request
from toolkit.segment.sinks import LocalSink

WEB = {
    "library": {"name": "analytics.js", "version": "next-1.84.3"},
    "page": {"path": "/", "url": "http://shop.test/"},
}


@pytest.fixture()
def collector(tmp_path):
    running = RunningCollector(LocalSink(tmp_path / "out"))
    yield running
    running.close()


def stored(tmp_path) -> list[dict]:
    return [m for _, m in read_messages(tmp_path / "out")]


def test_every_route_of_every_sdk_and_every_way_of_giving_the_key(collector, tmp_path):
    posts = [
        (
            "/v1/t",
            {"event": "ajs track", "anonymousId": "a1", "writeKey": KEYS["web"], "context": WEB},
            {"Content-Type": "text/plain"},
        ),
        (
            "/v1/p",
            {"name": "Home", "anonymousId": "a1", "writeKey": KEYS["web"], "context": WEB},
            {"Content-Type": "text/plain"},
        ),
        ("/v1/i", {"userId": "u1", "traits": {"email": "x@y"}, "writeKey": KEYS["web"]}, {}),
        ("/v1/s", {"name": "Cart", "userId": "u1"}, basic(KEYS["ios"])),
        ("/v1/g", {"groupId": "g", "userId": "u1"}, {"Authorization": f"Bearer {KEYS['ios']}"}),
        ("/v1/a", {"previousId": "a1", "userId": "u1"}, basic(KEYS["ios"])),
        ("/v1/b", {"batch": [{"type": "track", "event": "kotlin", "userId": "u1"}]}, basic(KEYS["android"])),
        (
            "/v1/batch",
            {"batch": [{"type": "track", "event": "python", "userId": "u1"}]},
            basic(KEYS["email"]),
        ),
        ("/v1/track", {"event": "http api", "userId": "u1"}, basic(KEYS["email"])),
        ("/v1/identify", {"userId": "u1"}, basic(KEYS["email"])),
        ("/v1/page", {"userId": "u1"}, basic(KEYS["email"])),
        ("/v1/screen", {"userId": "u1"}, basic(KEYS["email"])),
        ("/v1/group", {"userId": "u1", "groupId": "g"}, basic(KEYS["email"])),
        ("/v1/alias", {"userId": "u1", "previousId": "p"}, basic(KEYS["email"])),
    ]
    for path, body, headers in posts:
        status, _, answer = request(collector.url, "POST", path, json.dumps(body).encode(), headers)
        assert (status, answer) == (200, {"success": True}), path
    collector.close()
    messages = stored(tmp_path)
    assert len(messages) == len(posts)
    types = sorted(m["type"] for m in messages)
    assert types == sorted(
        [
            "track",
            "page",
            "identify",
            "screen",
            "group",
            "alias",
            "track",
            "track",
            "track",
            "identify",
            "page",
            "screen",
            "group",
            "alias",
        ]
    )
    web = next(m for m in messages if m.get("event") == "ajs track")
    assert (
        web["projectId"] == SCENARIO.sources["web"].id
        and web["context"]["ip"] == "127.0.0.1"
        and "writeKey" not in web
    )


def test_android_chunked_gzip_import_is_read_whole(collector, tmp_path):
    batch = {
        "batch": [
            {"type": "track", "event": f"E{i}", "userId": "u", "messageId": f"m{i}"} for i in range(300)
        ],
        "sentAt": "2026-11-01T10:00:00.000Z",
    }
    compressed = gzip.compress(json.dumps(batch).encode())
    chunks = iter(
        [compressed[i : i + 1000] for i in range(0, len(compressed), 1000)]
    )  # no Content-Length: chunked
    status, _, answer = request(
        collector.url,
        "POST",
        "/v1/import",
        chunks,
        {**basic(KEYS["android"]), "Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert status == 200, answer
    collector.close()
    assert sorted(m["messageId"] for m in stored(tmp_path)) == sorted(f"m{i}" for i in range(300))


def test_cors_on_every_route_and_the_preflight(collector):
    origin = {"Origin": "http://shop.test:3000"}
    status, headers, _ = request(
        collector.url,
        "OPTIONS",
        "/v1/t",
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert status == 204 and headers["Access-Control-Allow-Origin"] == "http://shop.test:3000"
    assert (
        "authorization" in headers["Access-Control-Allow-Headers"].lower()
        and "POST" in headers["Access-Control-Allow-Methods"]
    )
    for method, path in (
        ("GET", f"/v1/projects/{KEYS['web']}/settings"),
        ("POST", "/v1/t"),
        ("GET", "/health"),
    ):
        body = (
            json.dumps({"event": "E", "anonymousId": "a", "writeKey": KEYS["web"]}).encode()
            if method == "POST"
            else None
        )
        assert (
            request(collector.url, method, path, body, origin)[1]["Access-Control-Allow-Origin"]
            == "http://shop.test:3000"
        )


def test_settings_point_analytics_js_at_the_collector(collector):
    status, _, settings = request(collector.url, "GET", f"/v1/projects/{KEYS['web']}/settings")
    host = collector.url.removeprefix("http://")
    assert status == 200 and settings["integrations"]["Segment.io"] == {
        **settings["integrations"]["Segment.io"],
        "apiKey": KEYS["web"],
        "apiHost": f"{host}/v1",
        "protocol": "http",
    }


def test_segment_answers_and_drops_by_reason_without_sinking_the_batch(collector, tmp_path):
    good = {"type": "track", "event": "Kept", "userId": "u"}
    batch = {
        "batch": [
            good,
            {"type": "track", "event": "No user"},
            {"type": "track", "userId": "u"},
            {**good, "messageId": "x" * 101},
            {**good, "properties": {"big": "y" * 33_000}},
            {**good, "event": "Out of range", "timestamp": "10000-01-01T00:00:00Z"},
            {**good, "event": "Deep", "properties": json.loads("[" * 300 + "]" * 300)},
        ],
        "context": {"app": {"name": "Shop"}, "library": {"name": "analytics-kotlin"}},
        "integrations": {"All": True},
    }
    status, _, answer = request(
        collector.url, "POST", "/v1/b", json.dumps(batch).encode(), basic(KEYS["android"])
    )
    assert (status, answer) == (200, {"success": True})
    assert (
        request(
            collector.url,
            "POST",
            "/v1/batch",
            json.dumps({"batch": [good] * 2_501}).encode(),
            basic(KEYS["android"]),
        )[0]
        == 200
    )
    assert (
        request(
            collector.url, "POST", "/v1/batch", json.dumps({"batch": [good]}).encode(), basic("unknown-key")
        )[0]
        == 200
    )
    assert (
        request(collector.url, "POST", "/v1/batch", json.dumps({"batch": [good]}).encode())[0] == 400
    )  # no key at all
    assert request(collector.url, "POST", "/v1/batch", b"{not json", basic(KEYS["web"]))[0] == 400
    assert request(collector.url, "POST", "/v1/batch", b"x" * 600_000, basic(KEYS["web"]))[0] == 400
    assert request(collector.url, "POST", "/v1/nope", b"{}", basic(KEYS["web"]))[0] == 404
    _, _, health = request(collector.url, "GET", "/health")
    assert health["accepted"] == 3
    assert health["dropped"] == {
        "no userId or anonymousId": 1,
        "track without event": 1,
        "messageId over 100 characters": 1,
        "over 32 KB": 1,
        "batch over 2,500 messages": 2_501,
        "unknown write key": 1,
    }
    collector.close()
    kept = {m["event"]: m for m in stored(tmp_path)}
    assert set(kept) == {"Kept", "Out of range", "Deep"}
    assert kept["Kept"]["context"]["app"] == {"name": "Shop"} and kept["Kept"]["integrations"] == {
        "All": True
    }  # batch-level fields merged
    assert kept["Kept"]["context"]["ip"] == "127.0.0.1"  # analytics-kotlin is a client library


def test_strict_keys_answers_401(tmp_path):
    strict = RunningCollector(LocalSink(tmp_path / "out"), strict_keys=True)
    try:
        assert (
            request(strict.url, "POST", "/v1/batch", json.dumps({"batch": []}).encode(), basic("unknown"))[0]
            == 401
        )
    finally:
        strict.close()
