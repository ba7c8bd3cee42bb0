"""Time `toolkit evaluate` on 1M interactions against reading the same CSV with DuckDB, in one run.

python benchmarks/bench_evaluate.py [--interactions 1000000] [--items 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np

from toolkit.personalize.evaluate import evaluate_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=2_000)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    per_user = 10
    users = np.repeat(np.arange(args.interactions // per_user), per_user)
    clusters = rng.integers(0, 40, len(users) // per_user).repeat(per_user)
    items = clusters * (args.items // 40) + rng.integers(0, args.items // 40, len(users))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "interactions.csv"
        with open(path, "w") as handle:
            handle.write("USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n")
            handle.writelines(
                f"{u},i{i},View,{1_700_000_000 + n % per_user * 60}\n"
                for n, (u, i) in enumerate(zip(users.tolist(), items.tolist(), strict=True))
            )
        began = time.perf_counter()
        duckdb.connect().execute(
            "SELECT count(*) FROM read_csv($p, header = true)", {"p": str(path)}
        ).fetchall()
        read_seconds = time.perf_counter() - began
        began = time.perf_counter()
        result = evaluate_csv(path)
        seconds = time.perf_counter() - began
    print(
        f"toolkit evaluate: {len(users):,} interactions, {result.users:,} users, {result.items:,} items in "
        f"{seconds:.1f} s ({result.verdict})"
    )
    print(
        f"DuckDB reading the same CSV: {read_seconds:.2f} s; evaluate takes {seconds / read_seconds:.1f}x "
        "that"
    )


if __name__ == "__main__":
    main()
