"""Time `toolkit report` on ~1M generated messages against the transform alone, in one run.

The report transforms the logs, validates and evaluates the interactions, computes every figure
with DuckDB and draws the charts; the transform is the baseline it cannot beat (it runs one).

    python benchmarks/bench_report.py [--messages 1000000] [--logs DIR]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from bench_transform import benchmark_logs  # beside this script

from toolkit.reporting.build import build_report
from toolkit.simulate.scenario_toml import load_scenario
from toolkit.transforming.run import transform


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--logs", type=Path, help="use these logs instead of generating them")
    args = parser.parse_args()
    scenario = load_scenario()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        logs = benchmark_logs(root, args.messages, args.logs)
        began = time.perf_counter()
        summary = transform(str(logs), out=str(root / "baseline.csv")).summary
        transform_seconds = time.perf_counter() - began
        began = time.perf_counter()
        report = build_report(str(logs), scenario=scenario, out=root / "report.html")
        report_seconds = time.perf_counter() - began
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        read = summary.messages_read
        print(
            f"messages: {read:,}; interactions: {report.interactions['interactions']:,}; page: "
            f"{(root / 'report.html').stat().st_size / 1024:,.0f} KB"
        )
        print(
            f"transform alone (the baseline): {transform_seconds:.2f} s = {read / transform_seconds:,.0f} "
            "messages/s"
        )
        print(
            f"toolkit report (transform, validation, evaluation, figures, charts): {report_seconds:.2f} s = "
            f"{read / report_seconds:,.0f} messages/s, {report_seconds / transform_seconds:.2f}x the "
            f"transform's time, peak memory {peak_mb:,.0f} MB"
        )


if __name__ == "__main__":
    main()
