"""segment-personalize-toolkit: Segment clickstream data to Amazon Personalize training data.

The verbs, as the CLI runs them, each with keyword-only options and a named result whose
`as_dict()` is what the command's `--json` prints:

    generate(scenario, *, start, days, ...) -> GenerateResult    simulate users, write Segment's logs
    explore(source, *, sql, ...)            -> ExploreResult     SQL over the raw logs (DuckDB, Athena)
    transform(source, *, out, ...)          -> TransformResult   logs to Personalize's interactions CSV
    validate(csv, *, users, items, ...)     -> ValidationResult  Personalize's rules and diagnostics
    evaluate(csv, *, k)                     -> Evaluation        anything to learn beyond "most popular"?
    report(source, *, out, ...)             -> Report            the figures, as one HTML page

A caller's mistake raises UsageError, whose message names the parameter (`out`).
The modules behind these names are imported on first use, so `import toolkit` stays quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# name -> (module, attribute in it)
_EXPORTS = {
    "generate": ("toolkit.generating", "generate"),
    "GenerateResult": ("toolkit.generating", "GenerateResult"),
    "load_scenario": ("toolkit.simulate.scenario_toml", "load_scenario"),
    "Scenario": ("toolkit.simulate.scenario", "Scenario"),
    "explore": ("toolkit.exploring.run", "explore"),
    "ExploreResult": ("toolkit.exploring.run", "ExploreResult"),
    "QueryResult": ("toolkit.exploring.engines", "QueryResult"),
    "transform": ("toolkit.transforming.run", "transform"),
    "TransformOptions": ("toolkit.transforming.summary", "TransformOptions"),
    "TransformResult": ("toolkit.transforming.run", "TransformResult"),
    "TransformSummary": ("toolkit.transforming.summary", "TransformSummary"),
    "validate": ("toolkit.personalize.validate", "validate"),
    "ValidationResult": ("toolkit.personalize.validate", "ValidationResult"),
    "ValidationReport": ("toolkit.personalize.validate", "ValidationReport"),
    "evaluate": ("toolkit.personalize.evaluate", "evaluate_csv"),
    "Evaluation": ("toolkit.personalize.evaluate", "Evaluation"),
    "report": ("toolkit.reporting.build", "build_report"),
    "Report": ("toolkit.reporting.build", "Report"),
    "AwsOptions": ("toolkit.aws.s3", "AwsOptions"),
    "UsageError": ("toolkit.errors", "UsageError"),
}

__all__ = [
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

if TYPE_CHECKING:
    from toolkit.aws.s3 import AwsOptions
    from toolkit.errors import UsageError
    from toolkit.exploring.engines import QueryResult
    from toolkit.exploring.run import ExploreResult, explore
    from toolkit.generating import GenerateResult, generate
    from toolkit.personalize.evaluate import Evaluation
    from toolkit.personalize.evaluate import evaluate_csv as evaluate
    from toolkit.personalize.validate import ValidationReport, ValidationResult, validate
    from toolkit.reporting.build import Report
    from toolkit.reporting.build import build_report as report
    from toolkit.simulate.scenario import Scenario
    from toolkit.simulate.scenario_toml import load_scenario
    from toolkit.transforming.run import TransformResult, transform
    from toolkit.transforming.summary import TransformOptions, TransformSummary


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # found once; later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
