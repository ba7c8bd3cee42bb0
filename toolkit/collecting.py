"""`toolkit collector` as a workflow: one server process, or several sharing the port.

With processes > 1, each process serves the same port (SO_REUSEPORT: the kernel spreads the
connections) with a journal folder of its own, `<journal>/process-<n>/`; before any starts, what
a killed run left in any journal folder is published. SIGINT/SIGTERM stop every process, each
publishing what it holds; the summary adds theirs up.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from toolkit.segment.collector import Collector, CollectorServer, CollectorSource
from toolkit.segment.journal import Journal
from toolkit.segment.sinks import Sink


@dataclass(frozen=True, kw_only=True)
class CollectorSettings:
    sources: dict[str, CollectorSource]  # by write key
    sink: Sink
    journal: Path
    host: str = "127.0.0.1"
    port: int = 0
    processes: int = 1
    fsync: bool = False
    flush_bytes: int = 8 << 20
    flush_seconds: float = 60.0
    strict_keys: bool = False

    def collector(self, journal: Path) -> Collector:
        return Collector(
            self.sources,
            self.sink,
            Journal(journal, self.fsync),
            self.flush_bytes,
            self.flush_seconds,
            self.strict_keys,
        )


def run_collector(settings: CollectorSettings, on_ready: Callable[[str], None]) -> dict:
    """Serve until SIGINT or SIGTERM; returns the summary (accepted, stored, files, dropped)."""
    recover(settings)
    if settings.processes == 1:
        return _serve(settings, settings.journal, settings.port, on_ready)
    port = settings.port or _free_port(settings.host)
    context = multiprocessing.get_context(
        "spawn" if sys.platform == "win32" else "fork"
    )  # fork: no re-import per process
    results, ready = context.Queue(), [context.Event() for _ in range(settings.processes)]
    workers = [
        context.Process(target=_process, args=(settings, number, port, results, ready[number]), daemon=False)
        for number in range(settings.processes)
    ]
    for worker in workers:
        worker.start()
    for event, worker in zip(ready, workers):
        while not event.wait(0.2):
            if not worker.is_alive():
                raise OSError(f"a collector process ended before serving (is {settings.host}:{port} free?)")
    on_ready(f"http://{settings.host}:{port}")

    def stop(*_) -> None:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()  # SIGTERM: each publishes what it holds

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, stop)
    summaries = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    return _added(summaries)


def recover(settings: CollectorSettings) -> None:
    """Publish what killed runs left in the journal folders the servers about to start will not
    read themselves (a single server publishes its own folder as it starts)."""
    folders = sorted(settings.journal.glob("process-*")) + (
        [settings.journal] if settings.processes > 1 and settings.journal.is_dir() else []
    )
    for folder in folders:
        collector = settings.collector(folder)
        collector.publish()
        collector.journal.close()


def _serve(
    settings: CollectorSettings,
    journal: Path,
    port: int,
    on_ready: Callable[[str], None],
    reuse_port: bool = False,
) -> dict:
    collector = settings.collector(journal)
    server = CollectorServer(collector, settings.host, port, reuse_port=reuse_port)

    def ready(running: CollectorServer) -> None:
        for number in (signal.SIGINT, signal.SIGTERM):
            running.loop.add_signal_handler(number, running.stopping.set)
        on_ready(running.url)

    server.run(ready)
    return collector.summary()


def _process(settings: CollectorSettings, number: int, port: int, results, ready) -> None:
    summary = _serve(
        settings, settings.journal / f"process-{number}", port, lambda url: ready.set(), reuse_port=True
    )
    results.put(summary)


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _added(summaries: list[dict]) -> dict:
    total = Counter()
    dropped = Counter()
    for summary in summaries:
        total.update({key: value for key, value in summary.items() if key != "dropped"})
        dropped.update(summary["dropped"])
    return {**dict(total), "dropped": dict(dropped)}
