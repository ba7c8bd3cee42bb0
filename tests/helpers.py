"""What several test files use: hand-made Segment messages and log files, reading generated logs
back, a collector on a free loopback port, and how headless Chromium is started."""

from __future__ import annotations

import base64
import csv
import gzip
import http.client
import json
import shutil
import tempfile
import urllib.parse
from datetime import date
from importlib import resources
from pathlib import Path

import orjson

from toolkit.segment.collector import Collector, CollectorServer, CollectorSource
from toolkit.simulate.scenario_toml import load_scenario

START = date(2026, 11, 1)
DAY_FOLDER = "segment-logs/abcdefghij/1556755200000"
SCENARIO = load_scenario()
KEYS = {"web": "key-web-123", "android": "key-android-456", "ios": "key-ios-789", "email": "key-email-000"}
# Chromium as root, with no network: without the background-networking flags it tries Google's
# hosts at every start
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def read_messages(root: Path) -> list[tuple[Path, dict]]:
    """Every message under root/segment-logs, with the file it came from."""
    messages = []
    for path in sorted(root.glob("segment-logs/*/*/*.gz")):
        with gzip.open(path, "rb") as handle:
            messages.extend((path, orjson.loads(line)) for line in handle)
    return messages


def track(
    message_id: str,
    event: str = "Product Added",
    user_id="u1",
    sku="s1",
    timestamp="2019-05-02T03:19:05.398Z",
    **extra,
) -> dict:
    """A track message as Segment stores it, with what the transform reads."""
    properties = {"sku": sku} if sku is not None else {}
    message = {
        "messageId": message_id,
        "type": "track",
        "event": event,
        "userId": user_id,
        "properties": properties,
        "timestamp": timestamp,
        "receivedAt": timestamp,
    }
    message.update(extra)
    return message


def write_log(root, name: str, lines: list, compress: bool = True) -> None:
    """A log file of these lines (messages, or raw bytes) under root/DAY_FOLDER."""
    path = root / DAY_FOLDER / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines)
    path.write_bytes(gzip.compress(data) if compress else data)


def scenario_text(name: str) -> str:
    """A bundled scenario's TOML, as the package ships it (toolkit.scenarios), to edit into a
    variant; `replaced` checks that each edit finds its text."""
    return resources.files("toolkit.scenarios").joinpath(f"{name}.toml").read_text(encoding="utf-8")


def replaced(text: str, old: str, new: str, times: int = 1) -> str:
    """`text` with its `times` occurrences of `old` made `new` (a scenario edit that found nothing
    would test nothing)."""
    assert text.count(old) == times, f"{old!r} occurs {text.count(old)} times, not {times}"
    return text.replace(old, new)


def gz_lines(path: Path) -> list[bytes]:
    """The lines of a gzipped file, each with its newline."""
    with gzip.open(path, "rb") as handle:
        return list(handle)


def rows_of(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


class RunningCollector:
    """The collector on a free loopback port, for the workshop's sources with KEYS."""

    def __init__(self, sink, keys=KEYS, journal=None, **options):
        sources = {
            key: CollectorSource(SCENARIO.sources[name].name, SCENARIO.sources[name].id)
            for name, key in keys.items()
        }
        folder = journal or Path(tempfile.mkdtemp(prefix="journal-"))
        sinks = sink if isinstance(sink, list) else [sink]
        self.collector = Collector(sources, sinks, folder, **{"flush_seconds": 3600, **options})
        self.server = CollectorServer(self.collector).start()
        self.url = self.server.url

    def close(self):
        self.server.stop()


def request(
    url: str, method: str, path: str, body=None, headers: dict | None = None
) -> tuple[int, dict, dict]:
    """One HTTP request (a body that is an iterator goes chunked): status, headers, JSON answer."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    encode_chunked = body is not None and not isinstance(body, (bytes, str))
    connection.request(method, path, body=body, headers=headers or {}, encode_chunked=encode_chunked)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), (json.loads(data) if data else {})


def basic(key: str) -> dict:
    """HTTP Basic authentication with a write key, as Segment's libraries send it."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Debian's chromium is needed (apt-get install chromium; .ci/run installs it)"
    return found
