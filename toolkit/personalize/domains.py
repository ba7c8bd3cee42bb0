"""Amazon Personalize's domains: the ECOMMERCE domain's event types, mapped from Segment's events."""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from importlib import resources

from toolkit.errors import UsageError
from toolkit.files import read_text_input

DOMAINS = ("ecommerce",)
MAX_EVENT_MAP_BYTES = 1 << 20


def event_map(domain: str, path: str | None = None) -> dict[str, str]:
    """Segment event name -> the domain's EVENT_TYPE: the bundled map, or a TOML file of the same form."""
    if domain not in DOMAINS:
        raise UsageError(
            f"`domain` must be one of {', '.join(DOMAINS)}, not {domain!r}", parameters=("domain",)
        )
    text = (
        read_text_input(path, "event_map", MAX_EVENT_MAP_BYTES)
        if path
        else resources.files("toolkit.personalize")
        .joinpath(f"{domain}_events.toml")
        .read_text(encoding="utf-8")
    )
    try:
        mapping = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"`event_map` {path}: not valid TOML: {exc}", parameters=("event_map",)) from None
    except RecursionError:
        raise UsageError(
            f'`event_map` {path}: nested too deeply; write lines of "event" = "TYPE"',
            parameters=("event_map",),
        ) from None
    if not mapping or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in mapping.items()
    ):
        raise UsageError(
            f'`event_map` {path}: write lines of "Segment event" = "EVENT_TYPE"', parameters=("event_map",)
        )
    return mapping


def domain_written_for(event_types: Collection[str]) -> str | None:
    """The domain an interactions CSV with these EVENT_TYPE values was written for: the one whose
    bundled map writes every one of them (what `transform --domain` writes), else None."""
    for domain in DOMAINS:
        if event_types and set(event_types) <= set(event_map(domain).values()):
            return domain
    return None
