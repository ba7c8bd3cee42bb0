"""`toolkit collector` as a workflow: one server process, or several sharing the port.

Each destination has its journal, a folder of its own under the journal root, locked by this
collector for its whole run: a second collector on the same destination and journal is refused
before it serves. With processes > 1, each process serves the same port (SO_REUSEPORT: the
kernel spreads the connections) with a journal folder of its own per destination,
`<destination journal>/process-<n>/`; before any starts, what a killed run left in any journal
folder is published. SIGINT/SIGTERM stop every process, each publishing what it holds; the
summary adds theirs up.
"""

from __future__ import annotations

import functools
import multiprocessing
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from toolkit.destinations import is_folder
from toolkit.segment.collector import Collector, CollectorServer, CollectorSource
from toolkit.segment.destination import Destination
from toolkit.segment.journal import JournalLock, journal_folder


@dataclass(frozen=True)
class CollectorSettings:
    sources: dict[str, CollectorSource]  # by write key
    destinations: Sequence[Destination]
    journal: Path  # the root: each destination's journal is a folder under it
    host: str = "127.0.0.1"
    port: int = 0
    processes: int = 1
    fsync: bool = False
    flush_bytes: int = 8 << 20
    flush_seconds: float = 60.0
    strict_keys: bool = False

    def collector(
        self, process: str | None = None, locks: dict[Path, JournalLock] | None = None
    ) -> Collector:
        return Collector(
            self.sources,
            self.destinations,
            self.journal,
            fsync=self.fsync,
            flush_bytes=self.flush_bytes,
            flush_seconds=self.flush_seconds,
            strict_keys=self.strict_keys,
            process=process,
            locks=locks,
        )

    def folders(self) -> list[Path]:
        """Each destination's journal folder."""
        return [journal_folder(self.journal, destination.name) for destination in self.destinations]


def default_journal(outs: Sequence[str]) -> Path:
    """Where the journals of a collector delivering to `outs` live: beside the logs of its first
    local folder, else in the working folder."""
    folders = [out for out in outs if is_folder(out)]
    return Path(folders[0]) / ".collector-journal" if folders else Path(".collector-journal")


def run_collector(settings: CollectorSettings, on_ready: Callable[[str], None]) -> dict:
    """Serve until SIGINT or SIGTERM; returns the summary (accepted, stored, files, dropped, and
    each destination's counts; `unpublished` names what a stop left in a journal)."""
    locks = {folder: JournalLock(folder) for folder in settings.folders()}  # a second collector stops here
    try:
        recover(settings, locks)
        if settings.processes == 1:
            return _serve(settings, None, settings.port, on_ready, locks=locks)
        return _serve_processes(settings, on_ready)
    finally:
        for lock in locks.values():
            lock.release()


def _serve_processes(settings: CollectorSettings, on_ready: Callable[[str], None]) -> dict:
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
    for event, worker in zip(ready, workers, strict=True):
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


def recover(settings: CollectorSettings, locks: dict[Path, JournalLock]) -> None:
    """Publish what killed runs left in the journal folders the servers about to start will not
    read themselves (a single server publishes its own folder as it starts)."""
    processes = sorted({p.name for folder in settings.folders() for p in folder.glob("process-*")})
    for process in processes:
        collector = settings.collector(process)
        collector.publish()
        collector.close()
    if settings.processes > 1:
        collector = settings.collector(None, locks)
        collector.publish()
        collector.close()


def _serve(
    settings: CollectorSettings,
    process: str | None,
    port: int,
    on_ready: Callable[[str], None],
    reuse_port: bool = False,
    locks: dict[Path, JournalLock] | None = None,
) -> dict:
    collector = settings.collector(process, locks)
    server = CollectorServer(collector, settings.host, port, reuse_port=reuse_port)

    def ready(running: CollectorServer) -> None:
        for number in (signal.SIGINT, signal.SIGTERM):
            running.loop.add_signal_handler(number, running.stopping.set)
        on_ready(running.url)

    server.run(ready)
    return {**collector.summary(), "unpublished": server.unpublished}


def _process(settings: CollectorSettings, number: int, port: int, results, ready) -> None:
    summary = _serve(settings, f"process-{number}", port, lambda url: ready.set(), reuse_port=True)
    results.put(summary)


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _added(summaries: list[dict]) -> dict:
    """The processes' summaries added up, count by count (nested ones too)."""
    return functools.reduce(_merged, summaries, {})


def _merged(a: dict, b: dict) -> dict:
    merged = dict(a)
    for key, value in b.items():
        merged[key] = _merged(a.get(key, {}), value) if isinstance(value, dict) else a.get(key, 0) + value
    return merged
