"""Errors a user can cause, and how every failure reaches the user: one line and an exit code.

The CLI maps each exception through `describe_failure`: a failure the user can meet (bad input,
a missing file, AWS or the network saying no, a full disk, too little memory) is one line and
exit code 2; anything else is a bug, reported as one line naming a log file with the traceback,
and exit code 3. An interrupt exits 130.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

EXIT_INVALID = 1  # the command ran, and its result fails (validate, transform, check)
EXIT_USAGE = 2  # a failure the user can fix: bad input, AWS, network, resources
EXIT_BUG = 3  # an unexpected exception: a bug, with its traceback in a log file
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM


class UsageError(Exception):
    """Bad input from the caller: a path, a date, a scenario, an option. The message names the fix.

    A parameter the message names is written between backquotes (`out`) and listed in
    `parameters`, so that a Python caller reads the name it passed and the CLI can show its flag
    instead (`naming`)."""

    def __init__(self, message: str, *, parameters: tuple[str, ...] = ()):
        super().__init__(message)
        self.parameters = parameters

    def naming(self, flag: Callable[[str], str]) -> str:
        """The message with each parameter shown as `flag(parameter)` (e.g. --out)."""
        text = str(self)
        for parameter in self.parameters:
            text = text.replace(f"`{parameter}`", flag(parameter))
        return text


# Libraries whose exceptions are about the outside world (credentials, endpoints, files, SQL on
# the user's data), not about our code: matched by module, so this ground floor imports none of them.
_OUTSIDE_WORLD_MODULES = (
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "requests",
    "duckdb",
    "_duckdb",
    "segment",
    "psycopg",
)


def describe_failure(exc: BaseException) -> str | None:
    """One line for a failure the user can meet and fix, or None for a bug."""
    if isinstance(exc, UsageError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory: give the command a smaller input, or a machine with more memory"
    if isinstance(exc, OSError):
        return _os_error(exc)
    module = type(exc).__module__.split(".")[0]
    if module in _OUTSIDE_WORLD_MODULES:
        inner = _raised_inside(str(exc))
        if inner is not None:  # our own error, raised in a callback the engine ran (an S3 read)
            return inner
        text = " ".join(str(exc).split()) or type(exc).__name__
        return f"{_SERVICE.get(module, module)}: {text}"
    return None


def _raised_inside(text: str) -> str | None:
    """The error a Python callback raised inside an engine, which the engine reports with that
    callback's whole traceback (DuckDB reading through a Python filesystem does): its last line,
    the exception's own message. None if the text carries no traceback."""
    if "Traceback (most recent call last):" not in text:
        return None
    last = [line.strip() for line in text.strip().splitlines() if line.strip()][-1]
    kind, separator, message = last.partition(": ")
    return " ".join(message.split()) if separator and kind.replace(".", "").isidentifier() else last


_SERVICE = {
    "botocore": "AWS",
    "boto3": "AWS",
    "s3transfer": "AWS",
    "urllib3": "network",
    "requests": "network",
    "duckdb": "DuckDB",
    "_duckdb": "DuckDB",
    "segment": "Segment client",
    "psycopg": "Postgres",
}


def _os_error(exc: OSError) -> str:
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    if exc.errno == errno.ENOSPC:
        return f"no space left on the device{where}; free some space and run again"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied{where}"
    return f"{exc.strerror or exc}{where}"
