"""Shared fixtures: small generated Segment logs, made once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import START, read_messages
from toolkit.segment.sinks import LocalSink
from toolkit.simulate.run import generate
from toolkit.simulate.scenario_toml import load_scenario


@pytest.fixture(scope="session")
def workshop_logs(tmp_path_factory) -> Path:
    """Three days of the workshop scenario, 400 new visitors per platform per day."""
    root = tmp_path_factory.mktemp("workshop-logs")
    generate(load_scenario().with_visitors(400), START, 3, 7, LocalSink(root), workers=2)
    return root


@pytest.fixture(scope="session")
def workshop_messages(workshop_logs) -> list[tuple[Path, dict]]:
    return read_messages(workshop_logs)


@pytest.fixture(scope="session")
def moto_server():
    """moto's AWS stand-in on a free loopback port, with fake credentials; stopped after the session."""
    import os
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    saved = {
        k: os.environ.get(k)
        for k in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
        )
    }
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture()
def moto(moto_server):
    """A clean moto: every backend reset, so accounts start empty."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).read()
    return moto_server


@pytest.fixture()
def s3_bucket(moto_server):
    """A fresh, empty bucket on the moto server: (endpoint, bucket name)."""
    import uuid

    import boto3

    name = f"personalize-data-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket=name)
    return moto_server, name


@pytest.fixture(scope="session")
def postgres_server():
    """PostgreSQL 15 in a temp folder on a free loopback port (run as `postgres` when we are
    root, as initdb and pg_ctl refuse root), C collation like Redshift's byte order; stopped after
    the session. Yields its postgresql:// URL (the `postgres` database, trust auth)."""
    import tempfile

    from tests.postgres_server import start_postgres

    # not under pytest's root-only temp folder: the `postgres` user must reach it
    with (
        tempfile.TemporaryDirectory(prefix="toolkit-postgres-") as folder,
        start_postgres(Path(folder)) as url,
    ):
        yield url
