"""Segment write keys per source: from --write-key NAME=KEY, SEGMENT_WRITE_KEY_<NAME> or a keys file.

Keys are secrets: they are never printed, logged or written; errors name the source, not the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from toolkit.errors import UsageError

ENV_PREFIX = "SEGMENT_WRITE_KEY_"


def _parse_pair(
    text: str, origin: str, sources: list[str], parameters: tuple[str, ...] = ()
) -> tuple[str, str]:
    name, separator, key = text.partition("=")
    name, key = name.strip(), key.strip()
    if not separator or not name or not key:
        raise UsageError(
            f"{origin}: expected SOURCE=KEY (e.g. web=...), got an entry without '='", parameters=parameters
        )
    if name not in sources:  # the name is not shown: a swapped KEY=SOURCE would print the key
        swapped = " (it looks swapped: write SOURCE=KEY)" if key in sources else ""
        raise UsageError(
            f"{origin}: the part before '=' is not one of the scenario's sources "
            f"({', '.join(sources)}){swapped}",
            parameters=parameters,
        )
    return name, key


def resolve_write_keys(
    sources: list[str],
    pairs: list[str] | None = None,
    keys_file: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Write keys by source key (among `sources`); later wins: keys file, then environment, then
    --write-key."""
    sources = list(sources)
    env: Mapping[str, str] = os.environ if environ is None else environ
    keys: dict[str, str] = {}
    if keys_file:
        path = Path(keys_file)
        if not path.is_file():
            raise UsageError(f"keys file not found: {keys_file}")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                name, key = _parse_pair(line, f"{keys_file} line {number}", sources)
                keys[name] = key
    for name in sources:
        value = env.get(ENV_PREFIX + name.upper())
        if value:
            keys[name] = value
    for pair in pairs or []:
        name, key = _parse_pair(pair, "`write_keys`", sources, ("write_keys",))
        keys[name] = key
    return keys


def require_keys(keys: dict[str, str], needed: list[str]) -> None:
    missing = [name for name in needed if name not in keys]
    if missing:
        hints = ", ".join(f"`write_keys` {name}=... or {ENV_PREFIX}{name.upper()}" for name in missing)
        raise UsageError(
            f"no write key for source(s) {', '.join(missing)}; give {hints}", parameters=("write_keys",)
        )
