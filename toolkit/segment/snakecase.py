"""Segment's warehouse names: go-snakecase (github.com/segmentio/go-snakecase, `Snakecase`), which
"all schemas" use for collection and property names, then Segment's own rules on top of it: a name
starting with a digit gets a `_` in front, a name that collides with a reserved (standard) column
of its table gets a `_` in front, and a name is cut to Postgres' 63 bytes.

go-snakecase works on bytes: every run of bytes outside [A-Za-z0-9] separates words (leading and
trailing ones dropped), so a non-ASCII letter is a separator like any other (`Café Ünïcode` is
`caf_n_code`); a capital starts a word unless it follows capitals or digits (`CStringRef` is
`cstring_ref`); the result is lower-case ASCII. A name already made of lower-case letters, digits
and single inner underscores is returned as it is.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import lru_cache

MAX_NAME_BYTES = (
    63  # Postgres cuts longer identifiers (Redshift allows 127): cut once, here, for every engine
)


def _lower(c: int) -> bool:
    return 97 <= c <= 122


def _upper(c: int) -> bool:
    return 65 <= c <= 90


def _digit(c: int) -> bool:
    return 48 <= c <= 57


def snakecase(text: str) -> str:
    """go-snakecase's `Snakecase`, byte for byte."""
    s = text.encode("utf-8")
    n = len(s)
    idx = 0
    # the longest prefix that needs no change: lower case, digits, and underscores before one of those
    while idx < n and (
        _lower(s[idx])
        or _digit(s[idx])
        or (s[idx] == 95 and idx < n - 1 and (_lower(s[idx + 1]) or _digit(s[idx + 1])))
    ):
        idx += 1
    if idx == n:
        return text
    if idx > 0 and _digit(s[idx - 1]):  # a digit followed by a capital starts the capital's word
        idx -= 1
    out = bytearray(s[:idx])
    while idx < n:
        if not (_lower(s[idx]) or _upper(s[idx]) or _digit(s[idx])):
            idx += 1
            continue
        if out:
            out.append(95)
        while idx < n and (_upper(s[idx]) or _digit(s[idx])):
            out.append(s[idx] + 32 if _upper(s[idx]) else s[idx])
            idx += 1
        while idx < n and (_lower(s[idx]) or _digit(s[idx])):
            out.append(s[idx])
            idx += 1
    return out.decode("ascii")


@lru_cache(maxsize=65_536)
def warehouse_name(text: str, reserved: Collection[str] = frozenset()) -> str:
    """A schema, table or column name as Segment's warehouse writes it: go-snakecase, `_` before a
    leading digit or a reserved column's name, at most MAX_NAME_BYTES. Empty when the text has no
    letter or digit at all (such a key cannot be a column)."""
    name = snakecase(text)
    if name and (_digit(ord(name[0])) or name in reserved):
        name = "_" + name
    return name[:MAX_NAME_BYTES]
