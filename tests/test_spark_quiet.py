"""Spark's JVM is quiet unless asked: no log4j or native-library lines on the terminal."""

from __future__ import annotations

import subprocess

import pytest

from tests.terminal import TOOLKIT

pytestmark = pytest.mark.spark


def test_spark_transform_prints_no_jvm_lines_unless_verbose(workshop_logs, tmp_path):
    args = [TOOLKIT, "transform", str(workshop_logs), "--engine", "spark", "--quiet"]
    quiet = subprocess.run(
        [*args, "--out", str(tmp_path / "q.csv")], capture_output=True, text=True, timeout=600
    )
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "" and quiet.stdout == ""
    verbose = subprocess.run(
        [*args, "--out", str(tmp_path / "v.csv"), "--verbose"], capture_output=True, text=True, timeout=600
    )
    assert verbose.returncode == 0 and verbose.stderr.strip()  # the JVM's own lines, as asked
