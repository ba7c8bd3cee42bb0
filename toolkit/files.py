"""Writing files so that they appear whole or not at all, and refusing outputs that would destroy
an input or a device: the ground floor every verb writes through."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from toolkit.errors import UsageError


def partial_path(path: Path) -> Path:
    """Where a file is written before it is renamed to `path`: hidden, beside it, per process."""
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so the file appears whole under its name or not at all."""
    partial = partial_path(path)
    try:
        try:
            partial.write_bytes(data)
        except FileNotFoundError:  # the folder's first file
            path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(data)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def check_output_file(path: Path, parameter: str, inputs: Sequence[Path | str] = ()) -> None:
    """Refuse, before any work, an output that is an input or that is not a regular file (a
    folder, a device such as /dev/full, a pipe): writing it would destroy data or a device node.
    `parameter` names the caller's parameter that gave `path`, for the error."""
    named = (parameter,)
    if path.exists() and not path.is_file():
        raise UsageError(
            f"`{parameter}` {path} is not a regular file; name a file to write", parameters=named
        )
    if not path.parent.is_dir():
        raise UsageError(f"`{parameter}` folder does not exist: {path.parent}", parameters=named)
    if path.exists() and any(_same_file(path, source) for source in inputs):
        raise UsageError(
            f"`{parameter}` {path} is one of the inputs; writing it would destroy them", parameters=named
        )


def _same_file(a: Path, b: Path | str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
