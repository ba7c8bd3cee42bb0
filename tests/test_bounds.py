"""Memory stays bounded whatever the input's size, line length or column count (issue 16): each
case runs in a process of its own, whose peak memory is read from the kernel."""

from __future__ import annotations

import gzip
import resource
import subprocess
import sys

CEILING_MB = 1500  # DuckDB's memory limits (validate 1 GB, transform 1.5 GB) plus the interpreter


def run_measured(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    """Run toolkit in a child process; returns its result and the peak RSS (MB) of the children so far."""
    result = subprocess.run(
        [sys.executable, "-m", "toolkit", *args], capture_output=True, text=True, timeout=300
    )
    return result, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


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
    good = b'{"type":"track","event":"Product Added","userId":"u","timestamp":"2026-11-01T09:00:00Z","properties":{"sku":"a"},"messageId":"m1"}\n'
    huge = (
        b'{"type":"track","event":"Product Added","userId":"u","properties":{"sku":"'
        + b"y" * (70 << 20)
        + b'"}}\n'
    )
    with gzip.open(logs / "a.gz", "wb", compresslevel=1) as handle:
        handle.write(good + huge + good.replace(b"m1", b"m2"))
    result, peak = run_measured("transform", str(logs), "--out", str(tmp_path / "i.csv"), "--json")
    assert result.returncode == 1, (
        result.stderr
    )  # too few interactions for Personalize: valid input, invalid dataset
    import json

    summary = json.loads(result.stdout)
    assert summary["messages_read"] == 3 and summary["balanced"] and summary["rejected"] == 1
    assert peak < CEILING_MB + 500


def test_transform_reads_thousands_of_small_files_in_bounded_scans(tmp_path):
    logs = tmp_path / "logs" / "segment-logs" / "src" / "1793491200000"
    logs.mkdir(parents=True)
    line = b'{"type":"track","event":"Product Added","userId":"u%d","timestamp":"2026-11-01T09:00:%02dZ","properties":{"sku":"a"},"messageId":"m%d"}\n'
    for i in range(2_500):  # more than FILES_PER_SCAN: several scans into one table
        (logs / f"{i:05d}.gz").write_bytes(gzip.compress(line % (i, i % 60, i), 1))
    result, _ = run_measured("transform", str(tmp_path / "logs"), "--out", str(tmp_path / "i.csv"), "--json")
    import json

    summary = json.loads(result.stdout)
    assert summary["messages_read"] == summary["messages_written"] == 2_500 and summary["files"] == 2_500
    assert len((tmp_path / "i.csv").read_text().splitlines()) == 2_501
