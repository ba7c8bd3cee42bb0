"""What of a query's answer may reach a terminal: no write key (a secret: a `writeKey` column or
field is left out, and said so), and no control sequence from the data (an escape in a logged
value could write the clipboard with OSC 52, clear the screen or retitle the window)."""

from __future__ import annotations

from dataclasses import replace

from toolkit.exploring.engines import QueryResult

SECRET_NAMES = frozenset({"writekey", "write_key"})
# Every C0 control but tab and newline, DEL, and every C1 control (0x80-0x9f: CSI, OSC, ...)
_CONTROLS = {code: None for code in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0))}


def without_controls(text: str) -> str:
    """The text with every terminal control character removed (tab and newline kept)."""
    return text.translate(_CONTROLS)


def _is_secret(name: str) -> bool:
    return name.rsplit(".", 1)[-1].lower() in SECRET_NAMES


def _printable(value):
    if isinstance(value, str):
        return without_controls(value)
    if isinstance(value, dict):
        return {
            without_controls(str(key)): _printable(item)
            for key, item in value.items()
            if not _is_secret(str(key))
        }
    if isinstance(value, (list, tuple)):
        return [_printable(item) for item in value]
    return value


def printable(result: QueryResult) -> QueryResult:
    """The answer without write keys (columns, or fields of a struct or map) or control characters."""
    kept = [index for index, name in enumerate(result.columns) if not _is_secret(name)]
    left_out = [name for name in result.columns if _is_secret(name)]
    details = dict(result.details)
    if left_out:
        details["left out as secret"] = ", ".join(left_out)
    return replace(
        result,
        columns=[without_controls(result.columns[index]) for index in kept],
        rows=[tuple(_printable(row[index]) for index in kept) for row in result.rows],
        details=details,
    )
