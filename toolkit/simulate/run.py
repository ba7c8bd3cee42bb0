"""Run a simulation: plan shards, simulate them on all cores, deliver the Segment messages to destinations."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from isal import isal_zlib

from toolkit.segment.destination import DeliveryCounts, Destination, FileLayout
from toolkit.segment.ids import derive_seed
from toolkit.segment.layout import CATALOG_NAME, HOURLY, check_cadence, object_key, upload
from toolkit.segment.replay import delivery_order
from toolkit.segment.sinks import LocalSink
from toolkit.simulate.engine import ShardSimulation, simulated_write_key
from toolkit.simulate.population import Shard, plan_shards
from toolkit.simulate.scenario import Scenario
from toolkit.simulate.serialize import render_files, shard_rows

# isal's level 1 is about as small as zlib's default level 6 on this data, several times faster.
GZIP_LEVEL = 1
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt() parameters
BATCH_WORK = 20_000  # shards are batched up to this much work (see _work): ~50k messages


@dataclass
class SimulationResult:
    counts: Counter = field(default_factory=Counter)  # (source key, event or message type) -> messages
    duplicates: int = 0  # messages delivered a second time (Scenario.delivery), beyond the counts
    files: int = 0
    bytes_written: int = 0
    seconds: float = 0.0
    delivered: dict[str, DeliveryCounts] = field(default_factory=dict)  # by message destination

    @property
    def messages(self) -> int:
        """Lines written: every message simulated, and the duplicates."""
        return sum(self.counts.values()) + self.duplicates

    def as_dict(self) -> dict:
        """Counts by source and event, files and bytes (for --json)."""
        by_source: dict[str, dict[str, int]] = {}
        for (source, event), count in sorted(self.counts.items()):
            by_source.setdefault(source, {})[event] = count
        return {
            "messages": self.messages,
            "duplicates": self.duplicates,
            "files": self.files,
            "bytes": self.bytes_written,
            "seconds": round(self.seconds, 3),
            "by_source": by_source,
            **(
                {"delivered": {name: c.as_dict() for name, c in self.delivered.items()}}
                if self.delivered
                else {}
            ),
        }


def generate(
    scenario: Scenario,
    start: date,
    days: int,
    seed: int,
    destinations: Destination | Sequence[Destination],
    workers: int | None = None,
    on_shard_done: Callable[[int, int], None] | None = None,
    *,
    cadence: str = HOURLY,
) -> SimulationResult:
    """Simulate `days` days from `start` and deliver them to every destination; the same inputs
    give the same files, cut at the S3 destination's `cadence` (layout.CADENCES: a file per source
    and hour, or today's small files every few minutes). Destinations that store log files
    (FileLayout: Segment's S3 layout) get them from the workers as they are made; the others get
    the same messages afterwards, source by source in the order Segment would deliver them
    (toolkit.segment.replay)."""
    check_cadence(cadence)
    began = time.perf_counter()
    chosen = [destinations] if isinstance(destinations, Destination) else list(destinations)
    layouts: list[FileLayout] = [d for d in chosen if isinstance(d, FileLayout)]
    streams = [d for d in chosen if not isinstance(d, FileLayout)]
    run = f"scenario {scenario.name}, seed {seed}, {scenario.new_visitors_per_day} visitors a day"
    for destination in chosen:
        destination.claim(run)
    try:
        if scenario.products:
            for layout in layouts:  # beside segment-logs/, as a store's catalog export
                layout.write(CATALOG_NAME, scenario.catalog_lines())
        with tempfile.TemporaryDirectory(prefix="toolkit-generate-") as staging:
            if streams:
                layouts.append(LocalSink(staging))
            result = _simulate(scenario, start, days, seed, tuple(layouts), workers, on_shard_done, cadence)
            for source_id, lines in delivery_order(Path(staging)) if streams else ():
                for stream in streams:
                    stream.deliver(source_id, lines)
    except BaseException:  # failed or interrupted: a fresh folder is left as it was found
        for layout in layouts:
            if isinstance(layout, LocalSink):
                layout.abandon()
        raise
    for destination in chosen:
        counts = destination.close()
        if destination in streams:
            result.delivered[destination.name] = counts
    result.seconds = time.perf_counter() - began
    return result


def _simulate(
    scenario: Scenario,
    start: date,
    days: int,
    seed: int,
    layouts: tuple[FileLayout, ...],
    workers: int | None,
    on_shard_done: Callable[[int, int], None] | None,
    cadence: str,
) -> SimulationResult:
    shards = plan_shards(scenario, seed, start, days)
    workers = max(1, min(workers or os.cpu_count() or 1, len(shards)))
    batches = _batches(shards, workers)
    result = SimulationResult()
    finished = 0
    with _executor(workers) as pool:
        for (counts, duplicates, files, size), batch in zip(
            pool.map(_run_batch, [(scenario, batch, layouts, cadence) for batch in batches]),
            batches,
            strict=True,
        ):
            result.counts.update(counts)
            result.duplicates += duplicates
            result.files += files
            result.bytes_written += size
            finished += len(batch)
            if on_shard_done:
                on_shard_done(finished, len(shards))
    return result


def _work(shard: Shard) -> int:
    """A shard's size, roughly: its new visitors plus twice its returning users."""
    return len(shard.progress) + 2 * len(shard.returning_day)


def _batches(shards: list[Shard], workers: int) -> list[list[Shard]]:
    """Small shards of one platform go together, so that they share the set-up of one layout query;
    at least four batches a worker where there are enough shards; biggest batches first
    (returning users pile up over the days), so no core idles at the end. Output does not
    depend on the batching: each shard's files are its own."""
    target = min(BATCH_WORK, max(1, sum(map(_work, shards)) // (4 * workers)))
    batches: list[list[Shard]] = []
    for platform in dict.fromkeys(shard.platform for shard in shards):
        batch: list[Shard] = []
        work = 0
        for shard in sorted((s for s in shards if s.platform == platform), key=_work, reverse=True):
            if batch and work + _work(shard) > target:
                batches.append(batch)
                batch, work = [], 0
            batch.append(shard)
            work += _work(shard)
        batches.append(batch)
    return sorted(batches, key=lambda batch: -sum(map(_work, batch)))


def keep_freed_memory() -> None:
    """Ask glibc to keep big freed blocks for reuse instead of handing them back to the OS at once.
    Otherwise every large numpy or Python temporary is mapped and page-faulted afresh: a sixth of
    generate's CPU time went to the kernel, and runs were 10-15% slower. No-op without glibc."""
    if not sys.platform.startswith("linux"):  # glibc only; ctypes.CDLL(None) fails on Windows
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, 256 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    except (OSError, AttributeError, TypeError):
        pass


class _InProcess:
    """An executor for one worker: no process start-up, same results."""

    def __enter__(self):
        keep_freed_memory()
        return self

    def __exit__(self, *exc):
        return False

    def map(self, function, items):
        return map(function, items)


@contextlib.contextmanager
def _executor(workers: int):
    """The pool the batches run on. Workers are forked, so the parent's objects are frozen out of
    the garbage collector meanwhile: a forked child that collects objects it inherited (a
    DuckDB connection or Arrow buffers of a caller's earlier work) can crash."""
    if workers == 1:
        with _InProcess() as pool:
            yield pool
        return
    gc.collect()
    gc.freeze()
    try:
        with ProcessPoolExecutor(max_workers=workers, initializer=keep_freed_memory) as pool:
            yield pool  # a worker's own objects are collected as usual; the frozen ones it inherited are not
    finally:
        gc.unfreeze()


def gzip_pieces(pieces: list) -> bytes:
    """One gzip member of the pieces' concatenation (header time 0, so output is reproducible)."""
    compressor = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, 31)
    return b"".join([compressor.compress(piece) for piece in pieces] + [compressor.flush()])


def _run_batch(
    job: tuple[Scenario, list[Shard], tuple[FileLayout, ...], str],
) -> tuple[Counter, int, int, int]:
    scenario, shards, layouts, cadence = job
    write_keys = {key: simulated_write_key(source) for key, source in scenario.sources.items()}
    tables: dict = {}  # what the shards of one scenario derive alike from it
    simulations = [ShardSimulation(scenario, shard, tables) for shard in shards]
    rows = [shard_rows(simulation.simulate(), write_keys, cadence) for simulation in simulations]
    rendered = render_files(rows)
    counts: Counter = Counter()
    files = size = 0
    for shard, simulation, shard_files in zip(shards, simulations, rendered, strict=True):
        names = random.Random(derive_seed(shard.seed, "files"))
        for source_key, day_ms, slot, content in shard_files:
            _, name = upload(cadence, names, day_ms, slot)
            data = gzip_pieces(content)
            key = object_key(scenario.sources[source_key].id, day_ms, name)
            for layout in layouts:
                layout.write(key, data)
            size += len(data)
        counts.update(simulation.counts())
        files += len(shard_files)
    return counts, sum(r.duplicates for r in rows), files, size
