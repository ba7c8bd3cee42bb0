"""Where generated Segment log files go: a local folder (or S3, see toolkit.aws.s3)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from toolkit.errors import UsageError
from toolkit.segment.layout import write_atomically


class Sink(Protocol):
    """Receives whole log files by key (segment-logs/<source>/<day>/<name>.gz). Must be picklable."""

    def check(self) -> None: ...

    def write(self, key: str, data: bytes) -> None: ...

    def describe(self) -> str: ...


class LocalSink:
    """Writes the S3 layout under a local folder; each file appears whole or not at all."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def check(self) -> None:
        """Fail early, before any work, if the folder cannot be written."""
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"--out {self.root} is a file, not a folder")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".toolkit-write-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise UsageError(f"cannot write to --out {self.root}: {exc.strerror or exc}") from None

    def write(self, key: str, data: bytes) -> None:
        write_atomically(self.root / key, data)

    def describe(self) -> str:
        return str(self.root / "segment-logs")
