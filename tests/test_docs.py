"""The README documents every command and every option of the CLI: its "Command reference" is
made from typer's command tree, and must match it. After changing an option, run

    python tests/test_docs.py

to write the reference into README.md again."""

from __future__ import annotations

import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
START = "<!-- command reference: made by tests/test_docs.py from the CLI -->\n"
END = "<!-- end of the command reference -->\n"


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _value(parameter, context) -> str:
    """What the parameter takes: a flag, one of its choices, or its type (as --help shows it)."""
    if getattr(parameter, "is_flag", False):
        return "flag"
    shown = parameter.display_type(context).strip("<>").replace("|", " | ")
    if getattr(parameter, "multiple", False):
        return shown.removeprefix("list[").removesuffix("]") + ", repeatable"
    return shown


def _default(parameter) -> str:
    default = parameter.default
    if default is None or default is False or getattr(parameter, "is_flag", False) or callable(default):
        return ""
    if isinstance(default, (list, tuple)):
        return ", ".join(str(getattr(d, "value", d)) for d in default)
    return str(getattr(default, "value", default))


def _rows(command, name: str) -> list[str]:
    context = command.make_context(name, [], resilient_parsing=True)
    rows = []
    for parameter in command.params:
        if parameter.param_type_name == "argument":
            names = f"`{(parameter.metavar or parameter.name).upper()}`"
            help_text = getattr(parameter, "help", "") or ""
        else:
            if not [o for o in parameter.opts if o.startswith("--")] or parameter.hidden:
                continue
            names = ", ".join(f"`{o}`" for o in [*parameter.opts, *parameter.secondary_opts])
            help_text = parameter.help or ""
        cells = [names, _cell(_value(parameter, context)), _cell(_default(parameter)), _cell(help_text)]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def cli_reference() -> str:
    """The reference of every command and option, from the CLI itself (typer's click tree)."""
    import typer.main

    from toolkit.cli import app

    group = typer.main.get_group(app)
    header = ["| option | value | default | what it does |", "| --- | --- | --- | --- |"]
    lines = [
        "Options of `toolkit` itself, given before the command:",
        "",
        *header,
        *_rows(group, "toolkit"),
        "",
    ]
    for name, command in sorted(group.commands.items()):
        summary = (command.help or "").strip().split("\n\n")[0]
        lines += [f"### toolkit {name}", "", _cell(summary), "", *header, *_rows(command, name), ""]
    return "\n".join(lines)


def _readme_reference(text: str) -> str:
    assert START in text and END in text, "README.md has no command reference: run python tests/test_docs.py"
    return text.split(START, 1)[1].split(END, 1)[0]


def test_the_readme_documents_every_command_and_option():
    written = _readme_reference(README.read_text(encoding="utf-8"))
    assert written.strip() == cli_reference().strip(), (
        "the README's command reference differs from the CLI: run python tests/test_docs.py"
    )


def test_the_reference_names_every_command_and_every_option():
    """Independently of how the reference is made: each command's heading and each long option
    of each command's section are in the README."""
    import typer.main

    from toolkit.cli import app

    text = _readme_reference(README.read_text(encoding="utf-8"))
    sections = {part.split("\n", 1)[0]: part for part in text.split("### toolkit ")[1:]}
    group = typer.main.get_group(app)
    for name, command in group.commands.items():
        assert name in sections, name
        for parameter in command.params:
            for option in getattr(parameter, "opts", []):
                if option.startswith("--") and not getattr(parameter, "hidden", False):
                    assert f"`{option}`" in sections[name], (name, option)


def write_reference() -> None:
    text = README.read_text(encoding="utf-8")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    README.write_text(before + START + "\n" + cli_reference() + "\n" + END + after, encoding="utf-8")


if __name__ == "__main__":
    sys.path.insert(0, str(README.parent))
    write_reference()
