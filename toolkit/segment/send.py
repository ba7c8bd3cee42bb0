"""Send Segment log files to Segment (or any endpoint speaking its API) with the official client,
segment-analytics-python: one client per source, each message keeping its messageId, anonymousId,
userId, context and historical timestamp."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from isal import igzip
from segment.analytics import Client

from toolkit.segment.layout import KEY_PATTERN
from toolkit.segment.timestamps import parse_iso
from toolkit.simulate.scenario import Scenario

CONSUMER_THREADS = 4  # uploads per client in flight at once: one is too few to keep a fast endpoint busy


@dataclass
class SendResult:
    sent: Counter = field(default_factory=Counter)  # by source key
    failed: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not sum(self.failed.values())


def _call(client: Client, message: dict) -> tuple[bool, dict]:
    """Hand one stored message to the client's method for its type."""
    common = {
        "context": message.get("context") or {},
        "timestamp": parse_iso(message["originalTimestamp"]) if message.get("originalTimestamp") else None,
        "anonymous_id": message.get("anonymousId"),
        "integrations": message.get("integrations") or {},
        "message_id": message.get("messageId"),
    }
    kind, user_id = message.get("type"), message.get("userId")
    if kind == "track":
        return client.track(user_id=user_id, event=message.get("event"), properties=message.get("properties") or {}, **common)
    if kind == "identify":
        return client.identify(user_id=user_id, traits=message.get("traits") or {}, **common)
    if kind == "page":
        return client.page(user_id=user_id, category=message.get("category"), name=message.get("name"), properties=message.get("properties") or {}, **common)
    if kind == "screen":
        return client.screen(user_id=user_id, category=message.get("category"), name=message.get("name"), properties=message.get("properties") or {}, **common)
    if kind == "group":
        return client.group(user_id=user_id, group_id=message.get("groupId"), traits=message.get("traits") or {}, **common)
    if kind == "alias":
        return client.alias(previous_id=message.get("previousId"), user_id=user_id, **{k: v for k, v in common.items() if k != "anonymous_id"})
    raise ValueError(f"unknown message type {kind!r}")


def send_logs(root: Path, scenario: Scenario, write_keys: dict[str, str], host: str | None = None, max_retries: int = 10) -> SendResult:
    """Send every message under root/segment-logs through one official client per source."""
    began = time.perf_counter()
    key_by_source_id = {source.id: key for key, source in scenario.sources.items()}
    result = SendResult()
    lock = threading.Lock()
    clients: dict[str, Client] = {}

    def client_for(source_key: str) -> Client:
        if source_key not in clients:

            def on_error(error, items, source_key=source_key):
                with lock:
                    result.failed[source_key] += len(items)

            clients[source_key] = Client(write_keys[source_key], host=host, on_error=on_error, max_queue_size=20_000, upload_size=100, max_retries=max_retries, thread=CONSUMER_THREADS)
        return clients[source_key]

    logging.getLogger("segment").setLevel(logging.CRITICAL)  # its retry logs would repeat every failure
    enqueued: Counter = Counter()
    try:
        for path in sorted(root.glob("segment-logs/*/*/*.gz")):
            match = KEY_PATTERN.search(path.as_posix())
            source_key = key_by_source_id.get(match.group(1)) if match else None
            if source_key is None:
                continue
            client = client_for(source_key)
            for line in igzip.decompress(path.read_bytes()).splitlines():
                if line.strip():
                    message = orjson.loads(line)
                    while not _call(client, message)[0]:
                        time.sleep(0.01)  # the client's queue is full: wait rather than drop
                    enqueued[source_key] += 1
    finally:
        for client in clients.values():
            client.flush()
            client.join()
    for source_key, count in enqueued.items():
        result.sent[source_key] = count - result.failed[source_key]
    result.seconds = time.perf_counter() - began
    return result
