"""Time the workshop's three exploration queries: straight from gzip, from a --db file, and as a
plain-Python scan doing the same counts, against DuckDB's count(*) over the same files.

    python benchmarks/bench_explore.py [--messages 1000000 10000000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

from toolkit.exploring.engines import WORKSHOP_QUERIES, DuckDBExplorer
from toolkit.exploring.logs_view import sql_text
from toolkit.segment.logs import find_log_files
from toolkit.segment.sinks import LocalSink
from toolkit.simulate.run import generate
from toolkit.simulate.scenario_toml import load_scenario

MESSAGES_PER_VISITOR_DAY = 3.6
DAYS = 5


def plain_python(root: Path) -> float:
    """The same three answers in plain Python: 20 samples, counts by event, counts by event with a sku."""
    began = time.perf_counter()
    samples, by_event, with_sku = [], Counter(), Counter()
    for path in sorted(root.glob("segment-logs/*/*/*.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                message = json.loads(line)
                if len(samples) < 20:
                    samples.append(message)
                by_event[message.get("event")] += 1
                if (message.get("properties") or {}).get("sku") is not None:
                    with_sku[message.get("event")] += 1
    return time.perf_counter() - began


def timed_queries(explorer: DuckDBExplorer) -> list[float]:
    times = []
    for _, name in WORKSHOP_QUERIES:
        times.append(explorer.run(sql_text(name)).seconds)
    return times


def bench(messages: int, folder: Path, python_baseline: bool) -> None:
    root = folder / f"logs-{messages}"
    visitors = int(messages / (MESSAGES_PER_VISITOR_DAY * 3 * DAYS)) + 1
    generated = generate(load_scenario().with_visitors(visitors), date(2026, 11, 1), DAYS, 1, LocalSink(root))
    with find_log_files(str(root)) as logs:
        explorer = DuckDBExplorer(logs)
        count_seconds = explorer.run("SELECT count(*) FROM segment_logs").seconds
        gzip_times = timed_queries(explorer)
        explorer.close()
        database = folder / f"logs-{messages}.duckdb"
        began = time.perf_counter()
        DuckDBExplorer(logs, database).close()
        load_seconds = time.perf_counter() - began
    explorer = DuckDBExplorer(None, database)
    db_times = timed_queries(explorer)
    explorer.close()
    print(f"\n{generated.messages:,} messages")
    print(f"  count(*) from gzip: {count_seconds:.2f} s")
    print(
        f"  three queries from gzip: {' + '.join(f'{t:.2f}' for t in gzip_times)} = {sum(gzip_times):.2f} s "
        f"= {sum(gzip_times) / count_seconds:.2f}x count(*)"
    )
    print(
        f"  loading into --db: {load_seconds:.2f} s; each query from --db: "
        f"{', '.join(f'{t:.3f} s' for t in db_times)}"
    )
    if python_baseline:
        python_seconds = plain_python(root)
        print(
            f"  plain-Python scan, same three answers: {python_seconds:.2f} s -> DuckDB from gzip "
            f"{python_seconds / sum(gzip_times):.1f}x faster, from --db "
            f"{python_seconds / sum(db_times):.0f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument(
        "--python-up-to", type=int, default=1_000_000, help="run the plain-Python scan only up to this size"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for messages in args.messages:
            bench(messages, Path(folder), messages <= args.python_up_to)


if __name__ == "__main__":
    main()
