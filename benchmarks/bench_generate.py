"""Time `toolkit generate` on at least 1M messages against a plain-Python writer, in one run.

The baseline only serialises and gzips already-made message dicts (json + gzip level 6, one
process): it does none of the simulation, so the ratio understates the toolkit's advantage.

    python benchmarks/bench_generate.py [--messages 1000000] [--workers N] [--scenario workshop] \
        [--default-size]

By default the scenario's visitors per day are scaled up so that five days hold --messages (big
shards); --default-size keeps the scenario's own size and simulates as many days as that takes
(many small files, as a workshop run writes them).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import tempfile
import time
from datetime import date
from pathlib import Path

from toolkit.segment.sinks import LocalSink
from toolkit.simulate.run import generate
from toolkit.simulate.scenario_toml import load_scenario

DAYS = 5


def plain_python_writer(messages: list[dict], folder: Path) -> float:
    began = time.perf_counter()
    with gzip.open(folder / "baseline.gz", "wt", compresslevel=6) as handle:
        for message in messages:
            handle.write(json.dumps(message, sort_keys=True) + "\n")
    return time.perf_counter() - began


def messages_per_visitor_day(scenario, folder: Path) -> float:
    """Messages per new visitor per day over DAYS days of a small run (returning users included)."""
    small = scenario.with_visitors(200)
    return generate(small, date(2026, 1, 1), DAYS, 1, LocalSink(folder), workers=1).messages / (200 * DAYS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--scenario", default="workshop")
    parser.add_argument(
        "--default-size",
        action="store_true",
        help="the scenario's own visitors a day, over as many days as --messages takes",
    )
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        per_visitor_day = messages_per_visitor_day(scenario, root / "calibration")
        if args.default_size:
            days = max(1, round(args.messages / (per_visitor_day * scenario.new_visitors_per_day)))
        else:
            days, scenario = DAYS, scenario.with_visitors(int(args.messages / (per_visitor_day * DAYS)) + 1)
        result = generate(
            scenario, date(2026, 1, 1), days, 1, LocalSink(root / "toolkit"), workers=args.workers
        )
        toolkit_rate = result.messages / result.seconds
        sample = []
        for path in sorted((root / "toolkit").glob("segment-logs/*/*/*.gz")):
            with gzip.open(path, "rt") as handle:
                sample.extend(json.loads(line) for line in handle)
            if len(sample) >= 200_000:
                break
        baseline_rate = len(sample) / plain_python_writer(sample, root)
    print(
        f"toolkit generate, {args.scenario}, {days} days of {scenario.new_visitors_per_day:,} visitors, "
        f"{result.files:,} files: {result.messages:,} messages in {result.seconds:.2f} s with "
        f"{args.workers} workers = {toolkit_rate:,.0f} messages/s"
    )
    print(f"plain Python writer (json + gzip -6, serialising only): {baseline_rate:,.0f} messages/s")
    print(f"ratio: {toolkit_rate / baseline_rate:.1f}x")


if __name__ == "__main__":
    main()
