"""Time the warehouse destination and the transform reading it back, against baselines in one run.

1. Load: generated messages into a local PostgreSQL 15 through the warehouse destination (hourly
   syncs, COPY), against `psql \\copy` of the very rows it loaded (exported, then copied into the
   same tables, empty, of a second database).
2. Transform: `toolkit transform postgresql://...` against `toolkit transform` of the S3 layout
   the same messages were generated as.

    python benchmarks/bench_warehouse.py [--visitors 400] [--days 3]

Starts its own server (Debian's binaries, a free loopback port, as `postgres` when root).
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.postgres_server import postgres_bin, start_postgres  # noqa: E402
from toolkit.segment.sinks import LocalSink  # noqa: E402
from toolkit.segment.warehouse_engines import PostgresEngine  # noqa: E402
from toolkit.segment.warehouse_load import WarehouseDestination  # noqa: E402
from toolkit.simulate.run import generate  # noqa: E402
from toolkit.simulate.scenario_toml import load_scenario  # noqa: E402
from toolkit.transforming.run import transform  # noqa: E402


def database(server: str, name: str) -> str:
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--visitors", type=int, default=400, help="new visitors per platform per day")
    parser.add_argument("--days", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-warehouse-") as work, start_postgres(Path(work)) as server:
        logs = Path(work) / "logs"
        generate(
            load_scenario().with_visitors(args.visitors), date(2026, 11, 1), args.days, 1, LocalSink(logs)
        )
        files = [
            (path.parts[-3], gzip.decompress(path.read_bytes()).splitlines(keepends=True))
            for path in sorted(logs.glob("segment-logs/*/*/*.gz"))
        ]
        messages = sum(len(lines) for _, lines in files)

        loaded = database(server, "loaded")
        destination = WarehouseDestination(PostgresEngine(loaded))
        began = time.perf_counter()
        destination.check()
        for source_id, lines in files:
            destination.deliver(source_id, lines)
        counts = destination.close()
        load_seconds = time.perf_counter() - began

        # the baseline: the same rows, exported, and copied by psql into the same (empty) tables
        copied = database(server, "copied")
        psql = str(postgres_bin() / "psql") if (postgres_bin() / "psql").exists() else "psql"
        pg_dump = str(postgres_bin() / "pg_dump") if (postgres_bin() / "pg_dump").exists() else "pg_dump"
        schema = subprocess.run([pg_dump, "--schema-only", loaded], check=True, capture_output=True).stdout
        subprocess.run([psql, "-q", copied], input=schema, check=True, capture_output=True)
        commands = []
        with psycopg.connect(loaded) as connection:
            tables = connection.execute(
                "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN "
                "('pg_catalog', 'information_schema', 'toolkit_warehouse')"
            ).fetchall()
            for number, (schema_name, table) in enumerate(tables):
                export = Path(work) / f"{number}.copy"
                with (
                    export.open("wb") as handle,
                    connection.cursor().copy(f'COPY "{schema_name}"."{table}" TO STDOUT') as copy,
                ):
                    for data in copy:
                        handle.write(data)
                commands.append(f'\\copy "{schema_name}"."{table}" FROM \'{export}\'')
        script = Path(work) / "copy.sql"
        script.write_text("BEGIN;\n" + "\n".join(commands) + "\nCOMMIT;\n")
        began = time.perf_counter()
        subprocess.run([psql, "-q", "-f", str(script), copied], check=True, capture_output=True)
        psql_seconds = time.perf_counter() - began

        began = time.perf_counter()
        transform(str(logs), out=str(Path(work) / "s3.csv"))
        s3_seconds = time.perf_counter() - began
        began = time.perf_counter()
        transform(loaded, out=str(Path(work) / "warehouse.csv"))
        warehouse_seconds = time.perf_counter() - began
        same = (Path(work) / "s3.csv").read_bytes() == (Path(work) / "warehouse.csv").read_bytes()

    print(f"{messages:,} messages ({counts.delivered:,} loaded, {counts.requests} syncs)")
    print(
        f"load into Postgres: {load_seconds:.1f} s, {messages / load_seconds:,.0f} messages/s; "
        f"psql \\copy of the same rows: {psql_seconds:.1f} s ({messages / psql_seconds:,.0f} messages/s); "
        f"ratio {load_seconds / psql_seconds:.1f}x psql's time"
    )
    print(
        f"transform from Postgres: {warehouse_seconds:.2f} s; from the S3 layout: {s3_seconds:.2f} s; "
        f"ratio {warehouse_seconds / s3_seconds:.2f}x; same CSV: {same}"
    )


if __name__ == "__main__":
    main()
