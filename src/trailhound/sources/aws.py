"""boto3 clients and botocore errors, once for every stage that calls AWS (sources, sinks, respond, run).

Clients come from boto3's own chain (profiles, environment, instance roles, `AWS_ENDPOINT_URL`); trailhound
never handles credentials itself. boto3 is imported only when a client is made: `trailhound scan` of local
files must start fast.
"""

from __future__ import annotations

import os
import threading
from typing import Any

_shared: dict[tuple[int, str], Any] = {}
_shared_lock = threading.Lock()


def client(service: str, region: str | None = None, *, attempts: int = 5, timeout: float | None = None,
           connections: int | None = None) -> Any:
    """A new boto3 client: botocore's standard retries (throttling, 5xx, timeouts, with backoff and jitter)
    up to `attempts` calls, and our timeouts (seconds) when given. Each from its own session: boto3's default
    session is not thread-safe."""
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {"retries": {"mode": "standard", "max_attempts": attempts}}
    if timeout is not None:
        options.update(connect_timeout=timeout, read_timeout=timeout)
    if connections is not None:
        options["max_pool_connections"] = connections
    return boto3.session.Session().client(service, region_name=region or None, config=Config(**options))


def shared_client(service: str = "s3") -> Any:
    """One client per process and service, shared by the download threads: clients are thread-safe once
    made, and making one costs tens of milliseconds. Keyed by pid: a forked worker makes its own."""
    key = (os.getpid(), service)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = client(service, connections=32)
        return _shared[key]


def describe_aws_error(exc: Exception) -> str:
    """One line for a botocore error: the service's code and message (ClientError), else what botocore said
    (a connection or credentials problem), with its type."""
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, dict) else None
    if not isinstance(error, dict):
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    code = error.get("Code") or type(exc).__name__
    message = error.get("Message") or ""
    return f"{code}: {message}" if message and message != code else str(code)


def error_code(exc: Exception) -> str:
    """The service's error code of a ClientError ('' for any other error)."""
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, dict) else None
    return str(error.get("Code") or "") if isinstance(error, dict) else ""
