"""The real analytics.js (npm @segment/analytics-next, installed by .ci/run into tests/browser/)
in headless Chromium (Debian's chromium), on a page served from another origin: it loads its
settings from the collector, which points it at itself, and sends page, track and identify with
CORS preflights; every message lands with analytics.js's own context."""

from __future__ import annotations

import functools
import http.server
import subprocess
import threading
from pathlib import Path

import pytest

from tests.helpers import CHROMIUM_FLAGS, KEYS, SCENARIO, RunningCollector, chromium, read_messages
from toolkit.segment.sinks import LocalSink

BROWSER = Path(__file__).parent / "browser"
UMD = BROWSER / "node_modules" / "@segment" / "analytics-next" / "dist" / "umd"

pytestmark = pytest.mark.browser


class _Files(http.server.SimpleHTTPRequestHandler):
    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0]
        if path.startswith("/umd/"):
            return str(UMD / path.removeprefix("/umd/"))
        return str(BROWSER / path.lstrip("/"))

    def log_message(self, *args) -> None:
        pass


def test_real_analytics_js_in_chromium_lands_every_message(tmp_path):
    assert (UMD / "index.js").is_file(), (
        f"analytics.js is needed in {UMD}: npm install --prefix tests/browser (.ci/run does it)"
    )
    browser = chromium()  # fails naming Debian's chromium when it is missing
    collector = RunningCollector(LocalSink(tmp_path / "out"))
    pages = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Files))
    threading.Thread(target=pages.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{pages.server_address[1]}/page.html?key={KEYS['web']}&cdn={collector.url}"
        run = subprocess.run(
            [
                browser,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={tmp_path / 'profile'}",
                "--virtual-time-budget=20000",
                f"--screenshot={tmp_path / 'page.png'}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "<title>sent</title>" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]
        assert (tmp_path / "page.png").stat().st_size > 1000
    finally:
        pages.shutdown()
        collector.close()
    messages = [m for _, m in read_messages(tmp_path / "out")]
    by_type = {m["type"]: m for m in messages}
    assert sorted(by_type) == ["identify", "page", "track"] and len(messages) == 3
    for message in messages:
        assert message["projectId"] == SCENARIO.sources["web"].id and message["channel"] == "client"
        assert message["context"]["library"]["name"] == "analytics.js" and message["context"]["library"][
            "version"
        ].endswith("1.84.3")
        assert message["messageId"].startswith("ajs-next-") and "_metadata" in message
        assert message["context"]["ip"] == "127.0.0.1" and message["context"]["page"]["path"] == "/page.html"
        assert "writeKey" not in message
    assert by_type["track"]["event"] == "Product Viewed" and by_type["track"]["properties"] == {
        "sku": "yellow-wool-jumper",
        "price": 29.5,
    }
    assert (
        by_type["identify"]["userId"] == "user-42"
        and by_type["identify"]["traits"]["email"] == "shopper@example.com"
    )
    assert by_type["track"]["anonymousId"] == by_type["page"]["anonymousId"]
