"""Records and runs written in the tests: every fixture is made here, none copied from elsewhere."""

from __future__ import annotations

import copy
import gzip
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
_MISSING = object()


def record(flag: Any = False, user: Any = "alice", **overrides: Any) -> dict:
    """A CreateLoginProfile record; `flag`/`user` of _MISSING leave the key out, overrides replace fields."""
    request: dict[str, Any] = {}
    if user is not _MISSING:
        request["userName"] = user
    if flag is not _MISSING:
        request["passwordResetRequired"] = flag
    base = {
        "eventVersion": "1.09", "eventTime": "2026-11-27T14:06:00Z", "eventSource": "iam.amazonaws.com",
        "eventName": "CreateLoginProfile", "eventType": "AwsApiCall", "awsRegion": "us-east-1",
        "eventID": "11111111-2222-4333-8444-555555555555", "requestID": "r-1", "recipientAccountId": "111122223333",
        "sourceIPAddress": "203.0.113.66", "userAgent": "python-requests/2.31.0",
        "userIdentity": {"type": "IAMUser", "userName": "ci-deploy", "accountId": "111122223333",
                         "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::111122223333:user/ci-deploy",
                         "accessKeyId": "AKIAEXAMPLE"},
        "requestParameters": request,
        "responseElements": None,
    }
    base.update(copy.deepcopy(overrides))
    return base


MISSING = _MISSING


def write(path: Path, value: Any, gz: bool = False) -> Path:
    data = value if isinstance(value, bytes) else orjson.dumps(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real console entry point in a child process: exit codes and stdout/stderr as users see them."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "trailhound", *args], capture_output=True, text=True,
                          cwd=cwd, env=full_env, timeout=120)


def jsonl(stdout: str) -> list[dict]:
    return [orjson.loads(line) for line in stdout.splitlines() if line.strip()]
