"""Time `toolkit transform` against a straightforward pure-Python script and local Spark, in one run.

All three read the same generated Segment logs and write the same interactions CSV (the Python
baseline keeps the Glue job's flat properties.sku and skips dedupe, so it does less work).

    python benchmarks/bench_transform.py [--messages 1000000] [--spark] [--logs DIR] [--against REV]

--against REV also times the transform of an earlier commit (checked out from git into a temporary
folder, run in a child process on the same logs) and prints the ratio: #13 measures against 75ec121.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import json
import os
import resource
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import duckdb
from isal import igzip

from toolkit.segment.sinks import LocalSink
from toolkit.simulate.run import generate
from toolkit.simulate.scenario_toml import load_scenario
from toolkit.transforming.duckdb_engine import READ_LOGS_SQL
from toolkit.transforming.run import transform
from toolkit.transforming.summary import DEFAULT_EVENT_TYPES

MESSAGES_PER_VISITOR_DAY = 3.6
DAYS = 5


def pure_python(logs: Path, out: Path) -> int:
    """The script most people would write first: gzip + json + csv, one process."""
    rows = []
    for path in log_paths(logs):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                message = json.loads(line)
                sku = (message.get("properties") or {}).get("sku")
                if (
                    message.get("type") == "track"
                    and message.get("event") in DEFAULT_EVENT_TYPES
                    and message.get("userId")
                    and sku
                ):
                    stamp = message["timestamp"].replace("Z", "+00:00")
                    from datetime import datetime

                    rows.append(
                        (
                            str(message["userId"]),
                            sku,
                            message["event"],
                            int(datetime.fromisoformat(stamp).timestamp()),
                        )
                    )
    rows.sort(key=lambda r: (r[3], r[0], r[1], r[2]))
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP"])
        writer.writerows(rows)
    return len(rows)


def log_paths(logs: Path) -> list[Path]:
    return sorted(logs.glob("segment-logs/*/*/*.gz"))


def decompression_only(logs: Path, copies: Path | None = None) -> int:
    """ISA-L decompression of every file on all cores (it releases the GIL), counting lines: the
    limit under any reader of these files. With `copies`, the decompressed files are written there."""

    def inflate(numbered: tuple[int, Path]) -> int:
        number, path = numbered
        with (
            igzip.open(path, "rb") as source,
            open(copies / f"{number}.json", "wb") if copies else contextlib.nullcontext() as out,
        ):
            lines = 0
            while piece := source.read(1 << 22):
                lines += piece.count(b"\n")
                if out:
                    out.write(piece)
        return lines

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        return sum(pool.map(inflate, enumerate(log_paths(logs))))


def duckdb_scan_only(files: list[Path]) -> None:
    """DuckDB reading the fields the transform reads (JSON parse, and gzip if the files are) and
    nothing else: the floor under any DuckDB-based transform of these files."""
    duckdb.connect().execute(
        f"SELECT count(*), count(properties), count(userId) FROM {READ_LOGS_SQL}",
        {"files": [str(f) for f in files]},
    ).fetchall()


def earlier_transform(rev: str, logs: Path, out: Path) -> float:
    """Seconds the transform of commit `rev` takes on `logs`, in a child process importing that
    commit's package (its own code, this environment's libraries)."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="toolkit-rev-") as folder:
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "add", "--detach", folder, rev],
            check=True,
            capture_output=True,
        )
        try:
            # the public face where the commit has one, else the module its transform lived in
            code = """import sys, time
sys.path.insert(0, sys.argv[1])
try:
    from toolkit import transform
    run = lambda source, out: transform(source, out=out)
except ImportError:
    from toolkit.transform.run import transform as run
began = time.perf_counter(); run(sys.argv[2], sys.argv[3]); print(time.perf_counter() - began)"""
            run = subprocess.run(
                [sys.executable, "-c", code, folder, str(logs), str(out)],
                check=True,
                capture_output=True,
                text=True,
                cwd=folder,
            )
            return float(run.stdout.strip().splitlines()[-1])
        finally:
            subprocess.run(
                ["git", "-C", str(repo), "worktree", "remove", "--force", folder],
                check=True,
                capture_output=True,
            )


def benchmark_logs(root: Path, messages: int, given: Path | None = None) -> Path:
    """The logs a benchmark reads: `given`, or about `messages` of the workshop scenario generated
    under root."""
    if given is not None:
        return given
    logs = root / "logs"
    visitors = int(messages / (MESSAGES_PER_VISITOR_DAY * 3 * DAYS)) + 1
    generate(load_scenario().with_visitors(visitors), date(2026, 11, 1), DAYS, 1, LocalSink(logs))
    return logs


def timed(function, *args):
    began = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--logs", type=Path, help="use these logs instead of generating them")
    parser.add_argument("--spark", action="store_true", help="also run the Spark job on local[2]")
    parser.add_argument(
        "--no-python", action="store_true", help="skip the pure-Python baseline (slow on 10M messages)"
    )
    parser.add_argument(
        "--against", metavar="REV", help="also time the transform of this earlier commit (e.g. 75ec121)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        logs = benchmark_logs(root, args.messages, args.logs)
        result, toolkit_seconds = timed(lambda: transform(str(logs), out=str(root / "toolkit.csv")))
        summary = result.summary
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        read = summary.messages_read
        size_mb = sum(p.stat().st_size for p in logs.rglob("*.gz")) / 1e6
        print(f"messages: {read:,} ({size_mb:,.0f} MB gzipped)")
        print(
            f"toolkit transform (DuckDB): {toolkit_seconds:.2f} s = {read / toolkit_seconds:,.0f} "
            f"messages/s, peak memory {peak_mb:,.0f} MB"
        )
        if args.against:
            earlier = earlier_transform(args.against, logs, root / "earlier.csv")
            print(
                f"transform of {args.against}, same logs, child process: {earlier:.2f} s = "
                f"{read / earlier:,.0f} messages/s -> this code is {earlier / toolkit_seconds:.2f}x as fast"
            )
        _, scan_seconds = timed(duckdb_scan_only, log_paths(logs))
        print(
            f"DuckDB scan alone (gzip + JSON parse of the same fields, no transform): {scan_seconds:.2f} s "
            f"= {read / scan_seconds:,.0f} messages/s"
        )
        lines, inflate_seconds = timed(decompression_only, logs)
        print(
            f"ISA-L decompression alone, {os.cpu_count()} threads ({lines:,} lines): {inflate_seconds:.2f} "
            f"s = {read / inflate_seconds:,.0f} messages/s, the limit under any reader"
        )
        copies = root / "decompressed"
        copies.mkdir()
        decompression_only(logs, copies)
        _, parse_seconds = timed(duckdb_scan_only, sorted(copies.iterdir()))
        print(
            f"DuckDB scan of the same files decompressed (JSON parse alone): {parse_seconds:.2f} s = "
            f"{read / parse_seconds:,.0f} messages/s"
        )
        if not args.no_python:
            rows, python_seconds = timed(pure_python, logs, root / "python.csv")
            print(
                f"pure Python script: {python_seconds:.2f} s = {read / python_seconds:,.0f} messages/s -> "
                f"toolkit is {python_seconds / toolkit_seconds:.1f}x faster (the scan alone: "
                f"{python_seconds / scan_seconds:.1f}x)"
            )
        if args.spark:
            _, spark_seconds = timed(
                lambda: transform(str(logs), out=str(root / "spark.csv"), engine="spark", master="local[2]")
            )
            print(
                f"Spark job, local[2] (with start-up): {spark_seconds:.2f} s = {read / spark_seconds:,.0f} "
                f"messages/s -> toolkit is {spark_seconds / toolkit_seconds:.1f}x faster"
            )


if __name__ == "__main__":
    main()
