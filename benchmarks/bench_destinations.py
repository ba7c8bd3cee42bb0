"""Time the stream destinations and the Firehose layout against the S3 layout, in one run.

    python benchmarks/bench_destinations.py [--visitors 1500] [--days 2] [--workers 2]

Prints three figures:
1. `generate --out kinesis://` against moto's server (in this process, on loopback): the run's
   time, the time the toolkit waited on PutRecords calls, and the part of it moto's server spent
   handling them (its WSGI application timed), so the share left to the toolkit shows.
2. `generate --layout firehose --compression gzip` against `generate` writing Segment's S3
   layout (gzipped too), same messages (ratio; the floor is 1.15x).
3. `transform` reading the Firehose layout against reading the S3 layout of the same messages
   (ratio; the floor is 1.15x).
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

from toolkit.aws.s3 import AwsOptions
from toolkit.destinations import DestinationOptions, open_destinations
from toolkit.segment import kinesis
from toolkit.segment.sinks import LocalSink
from toolkit.simulate.run import generate
from toolkit.simulate.scenario_toml import load_scenario
from toolkit.transforming.run import transform

START = date(2026, 11, 1)


class TimedApp:
    """A WSGI application timed call by call (moto's server's own time)."""

    def __init__(self, app):
        self.app, self.seconds, self.lock = app, 0.0, threading.Lock()

    def __call__(self, environ, start_response):
        began = time.perf_counter()
        try:
            return list(self.app(environ, start_response))
        finally:
            with self.lock:
                self.seconds += time.perf_counter() - began


def moto_server() -> tuple[str, TimedApp, Any]:
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = TimedApp(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}", app, server


def timed(work) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=1500)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    scenario = load_scenario().with_visitors(args.visitors)
    names = {source.id: source.key for source in scenario.sources.values()}

    def run(root: Path, destinations) -> float:
        return timed(lambda: generate(scenario, START, args.days, 1, destinations, workers=args.workers))

    with tempfile.TemporaryDirectory(prefix="bench-destinations-") as work:
        root = Path(work)
        # 1. Kinesis against moto
        endpoint, app, server = moto_server()
        waited = [0.0]
        send = kinesis.PutRecords.send

        def timed_send(self, client, stream, records):
            began = time.perf_counter()
            try:
                return send(self, client, stream, records)
            finally:
                waited[0] += time.perf_counter() - began

        kinesis.PutRecords.send = timed_send  # type: ignore[method-assign]
        options = DestinationOptions(
            aws=AwsOptions(endpoint_url=endpoint), source_names=names, create=True, shards=4
        )
        destinations = open_destinations(["kinesis://bench"], options)
        app.seconds = 0.0
        began = time.perf_counter()
        result = generate(scenario, START, args.days, 1, destinations, workers=args.workers)
        total = time.perf_counter() - began
        server.shutdown()
        kinesis.PutRecords.send = send  # type: ignore[method-assign]
        put = result.delivered["kinesis://bench"]
        print(
            f"generate --out kinesis://: {put.delivered:,} records in {put.requests:,} PutRecords, "
            f"{total:.2f} s; "
            f"waiting on PutRecords {waited[0]:.2f} s ({waited[0] / total:.0%}), of which moto's server "
            f"{app.seconds:.2f} s ({app.seconds / total:.0%} of the run)"
        )
        # 2. the Firehose layout writer against the S3 layout writer, twice each, interleaved
        s3_times, firehose_times = [], []
        for attempt in range(2):
            s3_times.append(run(root / f"s3-{attempt}", [LocalSink(root / f"s3-{attempt}")]))
            firehose = open_destinations(
                [str(root / f"fh-{attempt}")], DestinationOptions(layout="firehose", compression="gzip")
            )
            firehose_times.append(run(root / f"fh-{attempt}", firehose))
        s3_best, firehose_best = min(s3_times), min(firehose_times)
        print(
            f"generate --layout firehose --compression gzip {firehose_best:.2f} s, "
            f"S3 layout {s3_best:.2f} s: "
            f"{firehose_best / s3_best:.2f}x (floor 1.15x)"
        )
        # 3. reading them back
        read_s3 = min(
            timed(lambda: transform(str(root / "s3-0"), out=str(root / "s3.csv"))) for _ in range(2)
        )
        read_fh = min(
            timed(lambda: transform(str(root / "fh-0"), out=str(root / "fh.csv"))) for _ in range(2)
        )
        same = (root / "s3.csv").read_bytes() == (root / "fh.csv").read_bytes()
        print(
            f"transform of the Firehose layout {read_fh:.2f} s, of the S3 layout {read_s3:.2f} s: "
            f"{read_fh / read_s3:.2f}x (floor 1.15x); same CSV: {same}"
        )


if __name__ == "__main__":
    main()
