"""Time `toolkit generate` on at least 1M messages against a plain-Python writer, in one run.

The baseline only serialises and gzips already-made message dicts (json + gzip level 6, one
process): it does none of the simulation, so the ratio understates the toolkit's advantage.

    python benchmarks/bench_generate.py [--messages 1000000] [--workers N]
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
from toolkit.simulate.scenario import load_scenario

MESSAGES_PER_VISITOR_DAY = 3.6  # workshop scenario, all sources, over its first five days
DAYS = 5


def plain_python_writer(messages: list[dict], folder: Path) -> float:
    began = time.perf_counter()
    with gzip.open(folder / "baseline.gz", "wt", compresslevel=6) as handle:
        for message in messages:
            handle.write(json.dumps(message, sort_keys=True) + "\n")
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    visitors = int(args.messages / (MESSAGES_PER_VISITOR_DAY * 3 * DAYS)) + 1
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        result = generate(load_scenario().with_visitors(visitors), date(2026, 11, 1), DAYS, 1, LocalSink(root / "toolkit"), workers=args.workers)
        toolkit_rate = result.messages / result.seconds
        sample = []
        for path in sorted((root / "toolkit").glob("segment-logs/*/*/*.gz")):
            with gzip.open(path, "rt") as handle:
                sample.extend(json.loads(line) for line in handle)
            if len(sample) >= 200_000:
                break
        baseline_rate = len(sample) / plain_python_writer(sample, root)
    print(f"toolkit generate: {result.messages:,} messages in {result.seconds:.2f} s with {args.workers} workers = {toolkit_rate:,.0f} messages/s")
    print(f"plain Python writer (json + gzip -6, serialising only): {baseline_rate:,.0f} messages/s")
    print(f"ratio: {toolkit_rate / baseline_rate:.1f}x")


if __name__ == "__main__":
    main()
