"""Shared fixtures: small generated Segment logs, made once per test session."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest

from toolkit.segment.sinks import LocalSink
from toolkit.simulate.run import generate
from toolkit.simulate.scenario import load_scenario

START = date(2026, 11, 1)


def read_messages(root: Path) -> list[tuple[Path, dict]]:
    """Every message under root/segment-logs, with the file it came from."""
    messages = []
    for path in sorted(root.glob("segment-logs/*/*/*.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            messages.extend((path, json.loads(line)) for line in handle)
    return messages


@pytest.fixture(scope="session")
def workshop_logs(tmp_path_factory) -> Path:
    """Three days of the workshop scenario, 400 new visitors per platform per day."""
    root = tmp_path_factory.mktemp("workshop-logs")
    generate(load_scenario().with_visitors(400), START, 3, 7, LocalSink(root), workers=2)
    return root


@pytest.fixture(scope="session")
def workshop_messages(workshop_logs) -> list[tuple[Path, dict]]:
    return read_messages(workshop_logs)
