"""Memory stays bounded whatever the input's size, line length or column count: each case runs in
a process of its own, whose peak memory the kernel reports when the process is reaped."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CEILING_MB = 1500  # DuckDB's memory limits (validate 1 GB, transform 1.5 GB) plus the interpreter
TRACK = (
    b'{"type":"track","event":"Product Added","userId":"u%d","timestamp":"2026-11-01T09:00:%02dZ",'
    b'"properties":{"sku":"a"},"messageId":"m%d"}\n'
)


# Runs the command (killed after argv[2] seconds) and writes its peak RSS (KB) to argv[1]. On Linux
# a process's peak counts the memory of the process it was forked from (pytest's, gigabytes late in
# a run): this launcher is small when it forks, so the peak it reads for its child is the child's own.
LAUNCHER = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[3:], timeout=float(sys.argv[2])).returncode
with open(sys.argv[1], "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def run_measured(*args: str, timeout: float = 300) -> tuple[subprocess.CompletedProcess, float]:
    """Run toolkit in a process of its own; returns its result and that process's peak RSS (MB)."""
    with tempfile.TemporaryDirectory() as work:
        peak = Path(work) / "peak"
        command = [sys.executable, "-m", "toolkit", *args]
        result = subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(peak), str(timeout), *command],
            capture_output=True,
            text=True,
        )
        assert peak.is_file(), f"{' '.join(args)} did not end in {timeout} s: {result.stderr[-2000:]}"
        return result, int(peak.read_text()) / 1024


def test_validate_a_huge_file_without_line_ends_stays_bounded(tmp_path):
    path = tmp_path / "one-line.csv"
    with open(path, "wb") as handle:
        handle.write(b"USER_ID,ITEM_ID,TIMESTAMP\n")
        block = b"x" * (1 << 20)
        for _ in range(400):  # 400 MB, no line end
            handle.write(block)
    result, peak = run_measured("validate", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert peak < CEILING_MB


def test_validate_a_header_of_millions_of_columns_is_one_line(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_bytes(b",".join(b"C%d" % i for i in range(3_000_000)) + b"\n")
    result, peak = run_measured("validate", str(path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert peak < CEILING_MB


def test_validate_a_file_that_is_one_huge_line_is_one_line(tmp_path):
    path = tmp_path / "no-header.csv"
    path.write_bytes(b"x" * (50 << 20))
    result, peak = run_measured("validate", str(path))
    assert result.returncode == 2 and "no line end" in result.stderr
    assert peak < CEILING_MB


def test_transform_a_70_mb_line_is_a_counted_reject(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    good = TRACK % (1, 0, 1)
    huge = (
        b'{"type":"track","event":"Product Added","userId":"u","properties":{"sku":"'
        + b"y" * (70 << 20)
        + b'"}}\n'
    )
    with gzip.open(logs / "a.gz", "wb", compresslevel=1) as handle:
        handle.write(good + huge + TRACK % (1, 0, 2))
    result, peak = run_measured("transform", str(logs), "--out", str(tmp_path / "i.csv"), "--json")
    # too few interactions for Personalize: valid input, an invalid dataset
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert summary["messages_read"] == 3 and summary["balanced"] and summary["rejected"] == 1
    assert peak < CEILING_MB + 500


def test_transform_reads_thousands_of_small_files_in_bounded_scans(tmp_path):
    logs = tmp_path / "logs" / "segment-logs" / "src" / "1793491200000"
    logs.mkdir(parents=True)
    for i in range(2_500):  # more than FILES_PER_SCAN: several scans into one table
        (logs / f"{i:05d}.gz").write_bytes(gzip.compress(TRACK % (i, i % 60, i), 1))
    result, peak = run_measured(
        "transform", str(tmp_path / "logs"), "--out", str(tmp_path / "i.csv"), "--json"
    )
    summary = json.loads(result.stdout)
    assert summary["messages_read"] == summary["messages_written"] == 2_500 and summary["files"] == 2_500
    assert len((tmp_path / "i.csv").read_text().splitlines()) == 2_501
    assert peak < CEILING_MB  # a scan at a time: DuckDB's buffers per file do not pile up
