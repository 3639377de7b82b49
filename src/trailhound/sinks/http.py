"""JSON over HTTP POST with retries: backoff on connection errors, timeouts, 429 and 5xx; Retry-After honoured."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import orjson

from ..alerts.textsafe import inert_json
from ..version import __version__
from .base import DeliveryError, RetryPolicy, scrub

if TYPE_CHECKING:  # urllib3 loads only when an HTTP sink sends
    from urllib3 import BaseHTTPResponse, PoolManager
    from urllib3.util.retry import Retry

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@cache
def _pool() -> PoolManager:
    import urllib3

    return urllib3.PoolManager()


def _retry(policy: RetryPolicy) -> Retry:
    from urllib3.util.retry import Retry

    class CappedRetry(Retry):
        def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
            # A receiver asking us to wait an hour must not hang the run: honour it up to max_backoff.
            value = super().get_retry_after(response)
            return None if value is None else min(value, self.backoff_max)

    return CappedRetry(total=policy.retries, connect=policy.retries, read=policy.retries, status=policy.retries,
                       other=0, redirect=0, allowed_methods=None, status_forcelist=RETRY_STATUSES,
                       backoff_factor=policy.backoff, backoff_max=policy.max_backoff,
                       respect_retry_after_header=True, raise_on_status=False)


def post_json(url: str, payload: object, policy: RetryPolicy, label: str, headers: dict[str, str] | None = None
              ) -> None:
    """POST payload as JSON; raises DeliveryError (never naming the URL's path or query) unless a 2xx came back."""
    import urllib3

    # As stdout and the jsonl sink: a receiver that logs or shows the body must not get raw bidi overrides,
    # line separators or C1 controls (JSON allows them raw; terminals and viewers act on them).
    body = inert_json(orjson.dumps(payload, default=str).decode()).encode()
    all_headers = {"Content-Type": "application/json", "User-Agent": f"trailhound/{__version__}", **(headers or {})}
    attempts = policy.retries + 1
    try:
        response = _pool().request("POST", url, body=body, headers=all_headers, retries=_retry(policy),
                                   timeout=urllib3.Timeout(total=policy.timeout), preload_content=True)
    except urllib3.exceptions.MaxRetryError as exc:
        reason = exc.reason if exc.reason is not None else exc
        raise DeliveryError(f"{label}: {type(reason).__name__} after {attempts} attempt(s): "
                            f"{scrub(_reason_text(reason), url)}") from None
    except (urllib3.exceptions.HTTPError, ValueError) as exc:
        raise DeliveryError(f"{label}: {type(exc).__name__}: {scrub(str(exc), url)}") from None
    if not 200 <= response.status < 300:
        tried = len(response.retries.history) + 1 if response.retries else 1
        raise DeliveryError(f"{label}: HTTP {response.status} after {tried} attempt(s)")


def _reason_text(reason: BaseException) -> str:
    text = str(reason)
    # urllib3 prefixes connection errors with a pool's repr: keep the human part after the last ': '.
    return text.split(": ", 1)[-1] if text.startswith("<") or "Pool(" in text else text
