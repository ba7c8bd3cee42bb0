"""The engines' failures are one line naming the service and the object they concern, never a
nested traceback: an S3 object gone between listing and reading, the S3 endpoint dying mid-run,
an endpoint that accepts connections and never answers."""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import time

import boto3
import pytest
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from toolkit.aws import s3 as s3_module
from toolkit.aws import s3_files
from toolkit.cli import app

runner = CliRunner()
LINE = (
    json.dumps(
        {
            "type": "track",
            "event": "Product Added",
            "userId": "u1",
            "properties": {"sku": "s1"},
            "timestamp": "2019-05-02T03:19:05.398Z",
            "messageId": "m1",
        }
    ).encode()
    + b"\n"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def own_moto(moto_server):
    """A moto server of the test's own (it may be stopped), holding three log files."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    client.create_bucket(Bucket="logs-bucket")
    for number in range(3):
        client.put_object(
            Bucket="logs-bucket",
            Key=f"segment-logs/abcdefghij/1556755200000/f{number}.gz",
            Body=gzip.compress(LINE * 100),
        )
    yield server, url, client
    server.stop()


def one_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


@pytest.mark.parametrize("fault", ["object gone after listing", "endpoint died mid-run"])
def test_an_s3_failure_mid_transform_is_one_line_naming_the_object(own_moto, tmp_path, monkeypatch, fault):
    server, url, client = own_moto
    fetch = s3_files.S3Files.fetch

    def failing_fetch(self, path, start, end):  # the fault strikes as the first object is read
        if fault == "object gone after listing":
            client.delete_object(Bucket="logs-bucket", Key=path.removeprefix("s3://logs-bucket/"))
        else:
            server.stop()
        return fetch(self, path, start, end)

    monkeypatch.setattr(s3_files.S3Files, "fetch", failing_fetch)
    line = one_line(
        runner.invoke(
            app, ["transform", "s3://logs-bucket/", "--out", str(tmp_path / "i.csv"), "--endpoint-url", url]
        )
    )
    assert "cannot read s3://logs-bucket/segment-logs/abcdefghij/1556755200000/f" in line
    assert ("NoSuchKey" if fault == "object gone after listing" else "cannot reach") in line
    assert not (tmp_path / "i.csv").exists()


def test_an_endpoint_that_never_answers_is_given_up_on_in_bounded_time(moto_server, tmp_path, monkeypatch):
    monkeypatch.setattr(s3_module, "READ_SECONDS", 1)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(silent.accept()[0])  # accepted, never answered

    acceptor = threading.Thread(target=accept)
    acceptor.start()
    began = time.monotonic()
    try:
        line = one_line(
            runner.invoke(
                app,
                [
                    "transform",
                    "s3://logs-bucket/",
                    "--out",
                    str(tmp_path / "i.csv"),
                    "--endpoint-url",
                    f"http://127.0.0.1:{silent.getsockname()[1]}",
                ],
            )
        )
    finally:
        stop.set()
        acceptor.join()
        for connection in held:
            connection.close()
        silent.close()
    assert "no answer from" in line and "within 1 s" in line
    assert time.monotonic() - began < 30


def test_an_s3_output_in_a_missing_bucket_is_refused_before_any_work(moto_server, workshop_logs, monkeypatch):
    from toolkit.transforming import run as transform_run

    def no_work(*args, **kwargs):
        raise AssertionError("the logs were read before the output was checked")

    monkeypatch.setattr(transform_run, "find_log_files", no_work)
    line = one_line(
        runner.invoke(
            app,
            [
                "transform",
                str(workshop_logs),
                "--out",
                "s3://missing-bucket-h/",
                "--endpoint-url",
                moto_server,
            ],
        )
    )
    assert "cannot write --out s3://missing-bucket-h/" in line
