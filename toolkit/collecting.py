"""`toolkit collector` as a workflow: one server process, or several sharing the port.

Each destination has its journal, a folder of its own under the journal root, locked by this
collector for its whole run: a second collector on the same destination and journal is refused
before it serves. With processes > 1, each process serves the same port (SO_REUSEPORT: the
kernel spreads the connections) with a journal folder of its own per destination,
`<destination's journal>/process-<n>/`; before any starts, what a killed run left in any journal
folder is published. SIGINT/SIGTERM stop every process, each
publishing what it holds; the summary adds theirs up. The server processes die with the parent
(a parent killed with -9 leaves none serving the port), and a parent whose server process dies
stops the others, publishes the dead one's journal and says so.
"""

from __future__ import annotations

import ctypes
import functools
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from toolkit.destinations import is_folder
from toolkit.segment.collector import Collector, CollectorServer, CollectorSource
from toolkit.segment.destination import Destination
from toolkit.segment.journal import JournalLock, journal_folder


@dataclass(frozen=True, kw_only=True)
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
        """A collector on every destination's journal (or on its `process` subfolder)."""
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
    """Serve until SIGINT or SIGTERM (or until a server process dies). Every destination's journal
    is locked first: a collector already running on one stops this one here, named."""
    locks = {folder: JournalLock(folder) for folder in settings.folders()}
    try:
        recover(settings, locks)
        if settings.processes == 1:
            summary = _serve(settings, None, settings.port, on_ready, locks=locks)
            return CollectorRun(summary, settings.journal)
        return _serve_processes(settings, on_ready)
    finally:
        for lock in locks.values():
            lock.release()


def _serve_processes(settings: CollectorSettings, on_ready: Callable[[str], None]) -> CollectorRun:
    port = settings.port or _free_port(settings.host)
    # fork: no re-import per process
    context = (
        multiprocessing.get_context("spawn")
        if sys.platform == "win32"
        else multiprocessing.get_context("fork")
    )
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
            number = alive.pop(cast(int, sentinel))  # wait returns the sentinels (ints) it was given
            workers[number].join()
            if not stopping or workers[number].exitcode != 0:
                failures.append(
                    f"collector process {number} ended unexpectedly ({_how(workers[number].exitcode)})"
                )
                stop()
    summaries = _summaries(results, sum(worker.exitcode == 0 for worker in workers))
    for number in range(len(workers)):
        if number not in summaries:  # it died: publish what its journal holds
            summaries[number] = _published(settings, f"process-{number}")
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


def _published(
    settings: CollectorSettings, process: str | None, locks: dict[Path, JournalLock] | None = None
) -> dict:
    """Publish what the journals hold (or their `process` subfolders); the collector's summary
    (stored, unpublished)."""
    collector = settings.collector(process, locks)
    collector.publish()
    collector.close()
    return collector.summary()


def recover(settings: CollectorSettings, locks: dict[Path, JournalLock]) -> None:
    """Publish what killed runs left in the journal folders the servers about to start will not
    read themselves (a single server publishes its own folder as it starts)."""
    for process in sorted({p.name for folder in settings.folders() for p in folder.glob("process-*")}):
        _published(settings, process)
    if settings.processes > 1:
        _published(settings, None, locks)


def _serve(
    settings: CollectorSettings,
    process: str | None,
    port: int,
    on_ready: Callable[[str], None],
    reuse_port: bool = False,
    parent: int | None = None,
    locks: dict[Path, JournalLock] | None = None,
) -> dict:
    collector = settings.collector(process, locks)
    server = CollectorServer(collector, settings.host, port, reuse_port=reuse_port)

    def ready(running: CollectorServer) -> None:
        stopping = running.stopping
        assert stopping is not None  # the server makes its stop event before it is ready
        for number in (signal.SIGINT, signal.SIGTERM):
            running.loop.add_signal_handler(number, stopping.set)
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
        f"process-{number}",
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
    """The processes' summaries added up, count by count (nested ones too)."""
    return functools.reduce(_merged, summaries, {})


def _merged(a: dict, b: dict) -> dict:
    merged = dict(a)
    for key, value in b.items():
        merged[key] = _merged(a.get(key, {}), value) if isinstance(value, dict) else a.get(key, 0) + value
    return merged
