"""The Python face (`import toolkit`): what it exports, that importing it is light, that each
result's as_dict() is what the command's --json prints, that errors name parameters (and the CLI
its flags), and that the README's "From Python" examples run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import toolkit
from tests.helpers import START
from toolkit.cli import app, flag

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()

FACE = [
    "__version__",
    "generate",
    "GenerateResult",
    "load_scenario",
    "Scenario",
    "explore",
    "ExploreResult",
    "QueryResult",
    "transform",
    "TransformOptions",
    "TransformResult",
    "TransformSummary",
    "validate",
    "ValidationResult",
    "ValidationReport",
    "evaluate",
    "Evaluation",
    "report",
    "Report",
    "AwsOptions",
    "UsageError",
]


def test_the_face_is_pinned_and_every_name_resolves():
    assert toolkit.__all__ == FACE
    for name in FACE:
        assert getattr(toolkit, name) is not None, name
    assert set(dir(toolkit)) >= set(FACE)


def test_the_verbs_take_their_options_by_keyword_only():
    import inspect

    for verb in ("generate", "explore", "transform", "validate", "evaluate", "report"):
        parameters = list(inspect.signature(getattr(toolkit, verb)).parameters.values())
        assert parameters[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, verb
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters[1:]), verb


def test_importing_toolkit_loads_no_engine():
    """`import toolkit` must stay quick: none of the heavy libraries, none of its own modules."""
    code = (
        "import sys, toolkit; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('duckdb', 'numpy', 'boto3', 'pyarrow', 'typer', 'rich', 'faker') or m.startswith('toolkit.')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_a_submodule_import_does_not_hide_a_verb():
    """A subpackage named like a verb would replace the function on first import."""
    code = (
        "import toolkit.transforming.run, toolkit.exploring.run, toolkit.reporting.build, toolkit, inspect; "
        "print(all(inspect.isfunction(getattr(toolkit, n)) for n in "
        "('generate', 'explore', 'transform', 'validate', 'evaluate', 'report')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "True"


def _without_times(document):
    """The document with its timings (which differ from run to run) left out."""
    if isinstance(document, dict):
        return {k: _without_times(v) for k, v in document.items() if k != "seconds"}
    if isinstance(document, list):
        return [_without_times(v) for v in document]
    return document


def _cli_json(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def _plain(document):
    return json.loads(json.dumps(document, default=str))


def test_each_result_as_dict_is_what_its_command_prints_with_json(tmp_path):
    logs, csv = str(tmp_path / "logs"), str(tmp_path / "interactions.csv")
    day = START.isoformat()
    cli = _cli_json(
        "generate", "--date", day, "--days", "2", "--users-per-day", "40", "--out", logs, "--json"
    )
    face = toolkit.generate(start=day, days=2, users_per_day=40, out=logs).as_dict()
    assert _without_times(cli) == _without_times(_plain(face)) and cli["messages"] > 0

    cli = _cli_json("transform", logs, "--out", csv, "--json")
    face = toolkit.transform(logs, out=csv).as_dict()
    assert _without_times(cli) == _without_times(_plain(face)) and cli["interactions"] > 0

    assert _cli_json("validate", csv, "--json") == _plain(toolkit.validate(csv).as_dict())
    assert _cli_json("evaluate", csv, "--json") == _plain(toolkit.evaluate(csv).as_dict())

    sql = "SELECT event, count(*) AS n FROM segment_logs GROUP BY 1 ORDER BY 1"
    cli = _cli_json("explore", logs, "--sql", sql, "--format", "json")
    assert cli == _plain(toolkit.explore(logs, sql=sql).as_dict()) and cli

    page = str(tmp_path / "report.html")
    cli = _cli_json("report", logs, "--out", page, "--json")
    assert _without_times(cli) == _without_times(_plain(toolkit.report(logs, out=page).as_dict()))


@pytest.mark.parametrize(
    "verb, arguments, options, parameter, cli_args, cli_text",
    [
        (
            "transform",
            ["LOGS"],
            {"out": "missing/x.csv"},
            "out",
            ["transform", "LOGS", "--out", "missing/x.csv"],
            "--out folder does not exist: missing",
        ),
        (
            "generate",
            [],
            {"start": "2026-11-01", "days": 0},
            "days",
            ["generate", "--date", "2026-11-01", "--days", "0"],
            "--days must be 1 to 3,650, not 0",
        ),
        (
            "generate",
            [],
            {"start": "11/01/2026", "days": 1},
            "start",
            ["generate", "--date", "11/01/2026", "--days", "1"],
            "--date '11/01/2026' is not a date",
        ),
        (
            "explore",
            [],
            {"db": "none.duckdb"},
            "db",
            ["explore", "--db", "none.duckdb"],
            "--db none.duckdb does not exist",
        ),
        (
            "transform",
            ["LOGS"],
            {"out": "x.csv", "catalog": "c.jsonl"},
            "catalog",
            ["transform", "LOGS", "--out", "x.csv", "--catalog", "c.jsonl"],
            "--catalog goes with --items",
        ),
    ],
)
def test_an_error_names_the_parameter_and_the_cli_its_flag(
    workshop_logs, tmp_path, monkeypatch, verb, arguments, options, parameter, cli_args, cli_text
):
    monkeypatch.chdir(tmp_path)
    logs = str(workshop_logs)
    with pytest.raises(toolkit.UsageError) as raised:
        getattr(toolkit, verb)(*[logs if a == "LOGS" else a for a in arguments], **options)
    assert f"`{parameter}`" in str(raised.value) and parameter in raised.value.parameters
    result = runner.invoke(app, [logs if a == "LOGS" else a for a in cli_args])
    assert result.exit_code == 2 and cli_text in result.stderr and "`" not in result.stderr


def _cli_names() -> set[str]:
    """Every option's flags and every argument's name (its metavar, as --help shows it)."""
    import typer.main

    names = set()
    for command in typer.main.get_group(app).commands.values():
        for parameter in command.params:
            if parameter.param_type_name == "option":
                names.update(opt for opt in parameter.opts if opt.startswith("--"))
            else:
                names.add((parameter.metavar or parameter.name or "").strip("[].").upper())
    return names


def test_every_parameter_an_error_names_is_an_option_of_the_cli():
    """The parameters the library's errors name, read from its source, each map to a flag."""
    named = set()
    for path in (ROOT / "toolkit").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for group in re.findall(r"parameters=\(([^)]*)\)", text):
            named.update(re.findall(r'"([a-z_]+)"', group))
        named.update(re.findall(r'check_output_file\([^,]+, "([a-z_]+)"', text))
    assert {"out", "days", "start", "db", "rejects", "users", "items", "catalog", "engine"} <= named
    names = _cli_names()
    assert {parameter: flag(parameter) for parameter in named if flag(parameter) not in names} == {}


def _python_examples(readme: str) -> list[str]:
    section = readme.split("\n## From Python\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_readme_from_python_examples_run(tmp_path, monkeypatch, capsys):
    examples = _python_examples((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(examples) >= 2
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for example in examples:
        exec(compile(example, "README.md (From Python)", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "messages written to" in printed and "`out` folder does not exist: no/such/folder" in printed
    for name in ("interactions.csv", "users.csv", "items.csv", "report.html"):
        assert (tmp_path / name).stat().st_size > 0, name
