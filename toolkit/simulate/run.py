"""Run a simulation: plan shards, simulate them on all cores, write Segment log files through a sink."""

from __future__ import annotations

import ctypes
import os
import random
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Callable

from isal import isal_zlib

from toolkit.segment.ids import derive_seed
from toolkit.segment.layout import log_file_name, object_key
from toolkit.segment.sinks import Sink
from toolkit.simulate.engine import ShardSimulation, simulated_write_key
from toolkit.simulate.serialize import shard_files
from toolkit.simulate.population import Shard, plan_shards
from toolkit.simulate.scenario import Scenario

# isal's level 1 is about as small as zlib's default level 6 on this data, several times faster.
GZIP_LEVEL = 1
UPLOAD_DELAY_MS = (60_000, 900_000)  # a batch file is uploaded 1-15 min after its hour ends
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt() parameters


@dataclass
class GenerateResult:
    counts: Counter = field(default_factory=Counter)  # (source key, event or message type) -> messages
    files: int = 0
    bytes_written: int = 0
    seconds: float = 0.0

    @property
    def messages(self) -> int:
        return sum(self.counts.values())


def generate(
    scenario: Scenario,
    start: date,
    days: int,
    seed: int,
    sink: Sink,
    workers: int | None = None,
    on_shard_done: Callable[[int, int], None] | None = None,
) -> GenerateResult:
    """Simulate `days` days from `start` and write them through `sink`; the same inputs give the same files."""
    began = time.perf_counter()
    # Biggest shards first (returning users pile up over the days), so no core idles at the end.
    shards = sorted(plan_shards(scenario, seed, start, days), key=lambda s: -(len(s.progress) + 2 * len(s.returning_day)))
    workers = max(1, min(workers or os.cpu_count() or 1, len(shards)))
    result = GenerateResult()
    finished = 0
    with _executor(workers) as pool:
        for counts, files, size in pool.map(_run_shard, [(scenario, shard, sink) for shard in shards]):
            result.counts.update(counts)
            result.files += files
            result.bytes_written += size
            finished += 1
            if on_shard_done:
                on_shard_done(finished, len(shards))
    result.seconds = time.perf_counter() - began
    return result


def keep_freed_memory() -> None:
    """Ask glibc to keep big freed blocks for reuse instead of handing them back to the OS at once.
    Otherwise every large numpy or Python temporary is mapped and page-faulted afresh: a sixth of
    generate's CPU time went to the kernel, and runs were 10-15% slower. No-op without glibc."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, 256 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    except (OSError, AttributeError):
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


def _executor(workers: int):
    return _InProcess() if workers == 1 else ProcessPoolExecutor(max_workers=workers, initializer=keep_freed_memory)


def gzip_pieces(pieces: list) -> bytes:
    """One gzip member of the pieces' concatenation (header time 0, so output is reproducible)."""
    compressor = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, 31)
    return b"".join([compressor.compress(piece) for piece in pieces] + [compressor.flush()])


def _run_shard(job: tuple[Scenario, Shard, Sink]) -> tuple[Counter, int, int]:
    scenario, shard, sink = job
    simulation = ShardSimulation(scenario, shard)
    write_keys = {key: simulated_write_key(source) for key, source in scenario.sources.items()}
    files = shard_files(simulation, write_keys)
    names = random.Random(derive_seed(shard.seed, "files"))
    size = 0
    for source_key, day_ms, hour, content in files:
        uploaded = day_ms + (hour + 1) * 3_600_000 + names.randint(*UPLOAD_DELAY_MS)
        data = gzip_pieces(content)
        sink.write(object_key(scenario.sources[source_key].id, day_ms, log_file_name(names, uploaded)), data)
        size += len(data)
    return simulation.counts(), len(files), size
