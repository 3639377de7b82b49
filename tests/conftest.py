"""Session-wide fixtures. AWS tests talk to moto's real server on loopback, started here, never to AWS."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

# Never let a test reach a real account, whatever the developer's environment holds.
_FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """moto's server in its own process on 127.0.0.1; yields its URL. Stopped when the session ends."""
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **_FAKE_AWS_ENV})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
            break
        except OSError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"moto server did not start: {Path(log).read_text()[-2000:]}") from exc
            time.sleep(0.1)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def aws(moto_server, monkeypatch):
    """A clean moto server for this test; boto3 (and child processes) reach it through AWS_ENDPOINT_URL."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=10)
    for key, value in {**_FAKE_AWS_ENV, "AWS_ENDPOINT_URL": moto_server}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server


@pytest.fixture(scope="session")
def spark():
    """One local Spark for the whole run (a JVM start costs seconds): two cores, no UI, quiet logs."""
    from trailhound.run.spark import SparkOptions, session

    spark = session(SparkOptions(master="local[2]"))
    spark.conf.set("spark.sql.shuffle.partitions", "2")
    yield spark
    spark.stop()


# Hypothesis: modest example counts by default (suite time); HYPOTHESIS_PROFILE=thorough for a long hunt.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("trailhound", max_examples=120, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", parent=settings.get_profile("trailhound"), max_examples=5000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "trailhound"))


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throwaway PostgreSQL server for the session (tests/postgres.py); skipped, saying why, only where
    PostgreSQL or psycopg cannot be had."""
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[test]'")
    from .postgres import Cluster

    try:
        cluster = Cluster()
    except RuntimeError as exc:
        pytest.skip(f"no PostgreSQL server for the tests: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster):
    """The URL of a new, empty database on the session's PostgreSQL server."""
    return postgres_cluster.database()
