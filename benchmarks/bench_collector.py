"""Load the collector with simulated traffic sent by the official client from several processes,
on loopback; report messages/s and loss (messages sent minus messages the collector wrote).
With --raw, the senders post ready-made batches over keep-alive HTTP instead, to measure the
collector itself rather than the client.

    python benchmarks/bench_collector.py [--messages 200000] [--senders 3] [--raw] [--processes 1]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

from toolkit.segment.send import SourceToSend, send_logs
from toolkit.segment.sinks import LocalSink
from toolkit.simulate.run import generate
from toolkit.simulate.scenario_toml import load_scenario

KEYS = {"web": "bench-web", "android": "bench-android", "ios": "bench-ios", "email": "bench-email"}
MESSAGES_PER_VISITOR_DAY = 3.6
DAYS = 3


def send_part(args: tuple[str, str]) -> tuple[int, float]:
    """Send one part with the official client; returns (messages sent, CPU seconds this process used)."""
    root, url = args
    began = time.process_time()
    sources = {
        source.id: SourceToSend(key, source.library) for key, source in load_scenario().sources.items()
    }
    result = send_logs(
        Path(root), sources, KEYS, url, max_retries=3, sdk_shapes=False
    )  # the official client for every source
    return sum(result.sent.values()), time.process_time() - began


def post_part(args: tuple[str, str]) -> tuple[int, float]:
    """Post the part's messages as /v1/batch requests of 100 over one keep-alive connection."""
    import http.client

    from isal import igzip

    root, url = args
    ids = {source.id: key for key, source in load_scenario().sources.items()}
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))
    began = time.process_time()
    sent = 0
    for path in sorted(Path(root).glob("segment-logs/*/*/*.gz")):
        lines = igzip.decompress(path.read_bytes()).splitlines()
        key = KEYS[ids[path.parent.parent.name]]
        for start in range(0, len(lines), 100):
            body = (
                b'{"writeKey":"'
                + key.encode()
                + b'","batch":['
                + b",".join(lines[start : start + 100])
                + b"]}"
            )
            connection.request("POST", "/v1/batch", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                sent += len(lines[start : start + 100])
    return sent, time.process_time() - began


def _line_count(path: Path) -> int:
    with gzip.open(path) as handle:
        return sum(1 for _ in handle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--senders", type=int, default=3)
    parser.add_argument(
        "--raw", action="store_true", help="post ready-made batches instead of using the official client"
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="collector server processes (toolkit collector --processes)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        visitors = int(args.messages / (MESSAGES_PER_VISITOR_DAY * 3 * DAYS)) + 1
        generated = generate(
            load_scenario().with_visitors(visitors), date(2026, 11, 1), DAYS, 1, LocalSink(root / "logs")
        )
        files = sorted((root / "logs").glob("segment-logs/*/*/*.gz"))
        parts = []
        for index in range(args.senders):  # each sender gets every n-th file, keeping the layout
            part = root / f"part{index}"
            for path in files[index :: args.senders]:
                target = part / path.relative_to(root / "logs")
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(path, target)
            parts.append(part)
        env = {**os.environ, **{f"SEGMENT_WRITE_KEY_{k.upper()}": v for k, v in KEYS.items()}}
        with open(root / "collector.log", "w") as log:  # the collector writes to its own copy
            collector = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "toolkit",
                    "collector",
                    "--port",
                    "0",
                    "--out",
                    str(root / "collected"),
                    "--processes",
                    str(args.processes),
                ],
                stderr=log,
                env=env,
            )
        while "listening on" not in (root / "collector.log").read_text():
            time.sleep(0.1)
        url = (root / "collector.log").read_text().split("listening on ")[1].split()[0]
        began = time.perf_counter()
        with ProcessPoolExecutor(args.senders) as pool:
            results = list(pool.map(post_part if args.raw else send_part, [(str(p), url) for p in parts]))
        seconds = time.perf_counter() - began
        sent, sender_cpu = sum(r[0] for r in results), sum(r[1] for r in results)
        with urllib.request.urlopen(url + "/health") as response:
            accepted = json.loads(response.read())["accepted"]
        collector.terminate()
        collector.wait(timeout=120)
        written = sum(_line_count(p) for p in (root / "collected").rglob("*.gz"))
    how = (
        "raw HTTP" if args.raw else "official-client"
    ) + f" processes (one keep-alive connection each) to {args.processes} collector process(es)"
    print(
        f"{generated.messages:,} messages sent by {args.senders} {how} in {seconds:.1f} s = "
        f"{sent / seconds:,.0f} messages/s"
    )
    print(
        f"collector accepted {accepted:,} (the process /health reached), wrote {written:,} after SIGTERM; "
        f"loss: {generated.messages - written:,}"
    )
    per_message = sender_cpu / max(sent, 1)
    cores = os.cpu_count() or 1
    print(
        f"senders used {per_message * 1e6:,.0f} us of CPU a message: on {cores} cores they alone could send "
        f"at most {cores / per_message:,.0f} messages/s"
    )


if __name__ == "__main__":
    main()
