"""`toolkit collector` as a workflow: one server process, or several sharing the port.

With processes > 1, each process serves the same port (SO_REUSEPORT: the kernel spreads the
connections) with a journal folder of its own, `<journal>/process-<n>/`; before any starts, what
a killed run left in any journal folder is published. SIGINT/SIGTERM stop every process, each
publishing what it holds; the summary adds theirs up. The server processes die with the parent
(a parent killed with -9 leaves none serving the port), and a parent whose server process dies
stops the others, publishes the dead one's journal and says so.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import socket
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class CollectorRun:
    """How a collector run ended: its counts (accepted, stored, files, unpublished, dropped) and
    what went wrong (a server process that died). `unpublished` acknowledged messages wait in
    the journal, for the next collector started on it to publish."""

    summary: dict
    journal: Path
    failures: tuple[str, ...] = field(default=())

    @property
    def unpublished(self) -> int:
        return self.summary.get("unpublished", 0)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.unpublished

    def as_dict(self) -> dict:
        return {**self.summary, "failures": list(self.failures)}


def run_collector(settings: CollectorSettings, on_ready: Callable[[str], None]) -> CollectorRun:
    """Serve until SIGINT or SIGTERM (or until a server process dies)."""
    recover(settings)
    if settings.processes == 1:
        return CollectorRun(_serve(settings, settings.journal, settings.port, on_ready), settings.journal)
    port = settings.port or _free_port(settings.host)
    context = multiprocessing.get_context(
        "spawn" if sys.platform == "win32" else "fork"
    )  # fork: no re-import per process
    results, ready = context.Queue(), [context.Event() for _ in range(settings.processes)]
    parent = os.getpid()
    workers = [
        context.Process(
            target=_process, args=(settings, number, port, parent, results, ready[number]), daemon=False
        )
        for number in range(settings.processes)
    ]
    for worker in workers:
        worker.start()
    stopping = False

    def stop(*_) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.is_alive():
                worker.terminate()  # SIGTERM: each publishes what it holds

    try:
        for event, worker in zip(ready, workers, strict=True):
            while not event.wait(0.2):
                if not worker.is_alive():
                    raise OSError(
                        f"a collector process ended before serving (is {settings.host}:{port} free?)"
                    )
    except BaseException:
        stop()
        for worker in workers:
            worker.join()
        raise
    on_ready(f"http://{settings.host}:{port}")
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, stop)
    failures = []
    alive = {worker.sentinel: number for number, worker in enumerate(workers)}
    while alive:
        for sentinel in multiprocessing.connection.wait(list(alive)):
            number = alive.pop(sentinel)
            workers[number].join()
            if not stopping or workers[number].exitcode != 0:
                failures.append(
                    f"collector process {number} ended unexpectedly ({_how(workers[number].exitcode)})"
                )
                stop()
    summaries = _summaries(results, sum(worker.exitcode == 0 for worker in workers))
    for number in range(len(workers)):
        if number not in summaries:  # it died: publish what its journal holds
            summaries[number] = _published(settings, settings.journal / f"process-{number}")
    return CollectorRun(_added(list(summaries.values())), settings.journal, tuple(failures))


def _how(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


def _summaries(results, count: int) -> dict[int, dict]:
    found: dict[int, dict] = {}
    while len(found) < count:
        try:
            number, summary = results.get(timeout=5)
        except queue.Empty:
            break
        found[number] = summary
    return found


def _published(settings: CollectorSettings, folder: Path) -> dict:
    """Publish what a journal folder holds; its collector's summary (stored, unpublished)."""
    collector = settings.collector(folder)
    collector.publish()
    collector.close()
    return collector.summary()


def recover(settings: CollectorSettings) -> None:
    """Publish what killed runs left in the journal folders the servers about to start will not
    read themselves (a single server publishes its own folder as it starts)."""
    folders = sorted(settings.journal.glob("process-*")) + (
        [settings.journal] if settings.processes > 1 and settings.journal.is_dir() else []
    )
    for folder in folders:
        _published(settings, folder)


def _serve(
    settings: CollectorSettings,
    journal: Path,
    port: int,
    on_ready: Callable[[str], None],
    reuse_port: bool = False,
    parent: int | None = None,
) -> dict:
    collector = settings.collector(journal)
    server = CollectorServer(collector, settings.host, port, reuse_port=reuse_port)

    def ready(running: CollectorServer) -> None:
        for number in (signal.SIGINT, signal.SIGTERM):
            running.loop.add_signal_handler(number, running.stopping.set)
        if parent is not None:
            _watch_parent(running, parent)
        on_ready(running.url)

    server.run(ready)
    return collector.summary()


def _watch_parent(server: CollectorServer, parent: int) -> None:
    """Stop (publishing what it holds) once the parent is gone: where the kernel cannot be asked
    to signal it, or should the signal be missed."""
    if os.getppid() != parent and server.stopping is not None:
        server.stopping.set()
        return
    server.loop.call_later(1.0, _watch_parent, server, parent)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """Have the kernel send this process SIGTERM when its parent dies (Linux)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _process(settings: CollectorSettings, number: int, port: int, parent: int, results, ready) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # until the server's own handler publishes first
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the kernel was asked
        return
    summary = _serve(
        settings,
        settings.journal / f"process-{number}",
        port,
        lambda url: ready.set(),
        reuse_port=True,
        parent=parent,
    )
    results.put((number, summary))


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _added(summaries: list[dict]) -> dict:
    total: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for summary in summaries:
        total.update({key: value for key, value in summary.items() if key != "dropped"})
        dropped.update(summary["dropped"])
    return {**dict(total), "dropped": dict(dropped)}
