"""Output files that never destroy the user's: each checked against every input and every other
output of its run before any work, written under a temporary name beside it, and published
(renamed) whole, all of a run's together, or not at all."""

from __future__ import annotations

import os
import signal
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
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
        except FileNotFoundError:  # the folder's first file (no mkdir a file: generate writes many)
            path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(data)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def create_exclusively(path: Path, data: bytes) -> None:
    """Write `path` whole, only if no file has that name yet; FileExistsError if one has. Of two
    processes creating one name at once, exactly one succeeds (a hard link is created or not)."""
    partial = partial_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        partial.write_bytes(data)
        os.link(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def check_output_file(path: Path, parameter: str, inputs: Iterable[Path | str] = ()) -> None:
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
    if path.exists() and any(same_file(path, source) for source in inputs):
        raise UsageError(
            f"`{parameter}` {path} is one of the inputs; writing it would destroy it", parameters=named
        )


def check_outputs(outputs: Mapping[str, Path], inputs: Iterable[Path | str]) -> None:
    """Refuse, before any work, outputs of one run that name an input or one another (the keys
    are the caller's parameters that gave them)."""
    sources = list(inputs)
    seen: dict[str, str] = {}
    for name, path in outputs.items():
        check_output_file(path, name, sources)
        key = os.path.realpath(path)
        if key in seen:
            raise UsageError(
                f"`{seen[key]}` and `{name}` both name {path}; give each output a file of its own",
                parameters=(seen[key], name),
            )
        seen[key] = name


def same_file(a: Path | str, b: Path | str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back (in the main thread) until the block ends: what it does is
    done whole, then the interrupt arrives."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def publish_together(renames: Iterable[tuple[Path, Path]]) -> None:
    """Rename each finished partial file to its name, an interrupt held back meanwhile: a run's
    outputs appear together."""
    with signals_held():
        for partial, final in renames:
            os.replace(partial, final)


def refuse_special_input(path: Path, parameter: str) -> None:
    """Refuse an input that must be a file but is a pipe, a device or a folder (reading a FIFO or
    /dev/zero would wait forever or never end); `parameter` names the caller's parameter."""
    if path.exists() and not path.is_file():
        raise UsageError(f"`{parameter}` {path} is not a regular file; name a file", parameters=(parameter,))


def read_text_input(path: str | Path, parameter: str, max_bytes: int) -> str:
    """A small text file read whole, refused (naming `parameter`) if it is missing, not a regular
    file (a FIFO would wait forever, /dev/zero never end), over `max_bytes` or not UTF-8: memory
    is bounded before anything is read."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise UsageError(f"`{parameter}`: no such file: {path}", parameters=(parameter,)) from None
    except OSError as exc:
        raise UsageError(
            f"cannot read `{parameter}` {path}: {exc.strerror or exc}", parameters=(parameter,)
        ) from None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise UsageError(
                f"`{parameter}` {path} is not a regular file (a pipe, a device or a folder); name a file",
                parameters=(parameter,),
            )
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UsageError(
            f"`{parameter}` {path} is over {max_bytes // 1024:,} KB; is it the right file?",
            parameters=(parameter,),
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"`{parameter}` {path} is not UTF-8 text", parameters=(parameter,)) from None
