"""The README's scenario-language reference against the TOML reader: every key the reader reads
(recorded while it loads the bundled scenarios) has a row with its type and default, every row
is a key the reader reads, and every value-spec kind and option is described."""

from __future__ import annotations

import re
from pathlib import Path

from toolkit.simulate import scenario_toml as scenario_module
from toolkit.simulate import values

README = Path(__file__).resolve().parent.parent / "README.md"
NAMED_BY_USER = {"catalog", "traits", "properties", "products", "categories"}  # keys a scenario chooses
PLACEHOLDER = {"sources": "<source>", "journeys": "<journey>"}
TYPE_NAMES = {int: "integer", float: "number", str: "string", bool: "boolean", list: "array", dict: "table"}


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("\n### The scenario language\n", 1)[1].split("\n### ", 1)[0]


def _normal(path: str, key: str) -> tuple[str, str]:
    """A key's table and name, with the names a scenario chooses as placeholders."""
    parts = path.split(".") if path else []
    shown = []
    for index, part in enumerate(parts):
        before = parts[index - 1] if index else ""
        part = re.sub(r"\[\d+\]", "[]", part)
        shown.append(PLACEHOLDER.get(before) or ("<name>" if before in NAMED_BY_USER else part))
    last = parts[-1] if parts else ""
    name = PLACEHOLDER.get(last) or ("<name>" if last in NAMED_BY_USER else key)
    return (f"[{'.'.join(shown)}]" if shown else "(top level)"), name


def _type(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return "number" if set(kinds) == {int, float} else " or ".join(TYPE_NAMES[k] for k in kinds)


def _default(default) -> str:
    if default is ...:
        return "required"
    if default is None:
        return "none"
    if default == {}:
        return "{}"
    return repr(default).replace("'", '"').replace("True", "true").replace("False", "false")


def _read_keys(monkeypatch) -> dict[tuple[str, str], tuple[str, str]]:
    """(table, key) -> (type, default) of every key the reader reads for the bundled scenarios."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    read = scenario_module._Table.get

    def recording(table, key, kind, default=..., check=None):
        seen.setdefault(_normal(table.path, key), (_type(kind), _default(default)))
        return read(table, key, kind, default, check)

    monkeypatch.setattr(scenario_module._Table, "get", recording)
    for name in ("workshop", "retail"):
        scenario_module.load_scenario(name)
    return seen


def _documented() -> dict[tuple[str, str], tuple[str, str]]:
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \| ([^|]+) \| ([^|]+) \| [^|]+ \|$", _section(), re.M)
    return {(table, key): (kind.strip(), default.strip()) for table, key, kind, default in rows}


def test_every_key_the_reader_reads_is_documented_with_its_type_and_default(monkeypatch):
    read = _read_keys(monkeypatch)
    documented = _documented()
    assert len(read) > 80
    assert {key: read[key] for key in read if documented.get(key) != read[key]} == {}
    assert sorted(set(documented) - set(read)) == []


def test_every_value_spec_kind_and_option_is_documented():
    section = _section()
    for kind in values._KINDS:
        assert re.search(rf"^\| `{kind}`", section, re.M), kind
    for kind, options in values._OPTIONS.items():
        row = re.search(rf"^\| `{kind}`.*$", section, re.M)
        assert row is not None, kind
        for option in options:
            assert f"`{option}`" in row.group(0), (kind, option)
