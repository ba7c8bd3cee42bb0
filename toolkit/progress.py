"""How a long run tells its caller what it is doing: the `Steps` it reports to, and DuckDB's
progress on a statement read while it runs. The CLI draws them; a Python caller may ignore them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

import duckdb

OnProgress = Callable[[int, int], None]  # (done, total)
PER_MILLE = 1_000  # a DuckDB statement's progress is reported as done of PER_MILLE
POLL_SECONDS = 0.2


class Steps(Protocol):
    """Told of the work of a run as it happens."""

    def begin(self, doing: str) -> None:
        """Work starts that `doing` names ("transforming 3,120 files"); progress follows."""

    def advance(self, done: int, total: int) -> None:
        """`done` of `total` of the work begun last."""

    def end(self, step: str, outcome: str) -> None:
        """A step of the run finished with `outcome` (one short line: what it made)."""


class Silent:
    """Steps nobody is told of."""

    def begin(self, doing: str) -> None:
        pass

    def advance(self, done: int, total: int) -> None:
        pass

    def end(self, step: str, outcome: str) -> None:
        pass


SILENT = Silent()


def enable_query_progress(connection) -> None:
    """Let DuckDB measure each statement's progress (read by `watch_statements`), printing nothing."""
    connection.execute(
        "SET enable_progress_bar = true; SET enable_progress_bar_print = false; SET progress_bar_time = 0"
    )


@contextmanager
def watch_statements(connection, on_progress: OnProgress | None) -> Iterator[None]:
    """While the block runs, report the progress of the statement running on `connection`
    (as done of PER_MILLE) every POLL_SECONDS to `on_progress`."""
    if on_progress is None:
        yield
        return
    stopped = threading.Event()

    def poll() -> None:
        while not stopped.wait(POLL_SECONDS):
            try:
                share = connection.query_progress()
            except duckdb.ConnectionException:  # closed: a Ctrl-C cut the block short before it joined
                return
            if share >= 0:
                on_progress(min(int(share * PER_MILLE / 100), PER_MILLE), PER_MILLE)

    watcher = threading.Thread(target=poll, name="duckdb-progress", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stopped.set()
        watcher.join()
