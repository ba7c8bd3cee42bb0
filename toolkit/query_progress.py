"""DuckDB's own progress bar for long statements, on a terminal only."""

from __future__ import annotations

import sys


def show_progress(connection, shown: bool) -> None:
    """Let DuckDB draw its progress bar for statements that run over a second, when `shown` and
    the output is a terminal (never in a pipe, a file, --json or --quiet)."""
    if shown and sys.stdout.isatty():
        connection.execute(
            "SET enable_progress_bar = true; SET enable_progress_bar_print = true; "
            "SET progress_bar_time = 1000"
        )
    else:
        connection.execute("SET enable_progress_bar = false")
