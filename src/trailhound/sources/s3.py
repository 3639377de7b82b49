"""S3: CloudTrail where the trail delivers it. Objects as inputs, listed with partition pruning.

An `S3Object` is like a `FileInput`: picklable, with `.origin` and `.read()`. The boto3 client is made
lazily in whichever process reads, through boto3's own chain (profiles, environment, instance roles,
`AWS_ENDPOINT_URL`); trailhound never handles credentials itself.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterable, Iterator
from urllib.parse import urlsplit

from ..errors import ConfigError
from . import ReadError
from .s3_layout import Selection, partitions

try:  # ISA-L inflates several times faster than zlib; the standard library is the fallback.
    from isal import isal_zlib as zlib
except ImportError:  # pragma: no cover - exercised only where isal does not install
    import zlib  # type: ignore[no-redef]

_CHUNK = 1 << 20
_clients: dict[tuple[int, str], Any] = {}
_clients_lock = threading.Lock()


def client(service: str = "s3") -> Any:
    """One boto3 client per process and service, shared by the download threads: clients are thread-safe
    once made, and making one costs tens of milliseconds. Keyed by pid: a forked worker makes its own."""
    key = (os.getpid(), service)
    with _clients_lock:
        if key not in _clients:
            import boto3  # only where AWS is used: `trailhound scan` of local files must start fast
            from botocore.config import Config

            _clients[key] = boto3.session.Session().client(
                service, config=Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32))
        return _clients[key]


class S3ReadError(ReadError):
    """An object that cannot be read: missing, access denied, or the connection failed."""


def describe_aws_error(exc: Exception) -> str:
    """One line for a botocore error: the service's code and message (ClientError), else what botocore said
    (a connection or credentials problem)."""
    response = getattr(exc, "response", None) or {}
    if not response:
        return str(exc) or type(exc).__name__
    code = response.get("Error", {}).get("Code") or type(exc).__name__
    message = response.get("Error", {}).get("Message") or ""
    return f"{code}: {message}" if message and message != code else str(code)


@dataclass(frozen=True)
class S3Object:
    """One object; `etag` (without quotes) tells a rewritten object from the one already processed."""

    bucket: str
    key: str
    etag: str = ""
    size: int = -1

    @property
    def origin(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def read(self) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = client().get_object(Bucket=self.bucket, Key=self.key)["Body"]
            return _read_body(body)
        except (ClientError, BotoCoreError) as exc:
            raise S3ReadError(describe_aws_error(exc)) from None


def _read_body(body: Any) -> bytes:
    """Download and gunzip together, chunk by chunk, so decompression overlaps the transfer.

    When the stream is not gzip, or breaks, the bytes are returned as they came: `shapes.parse` then
    salvages what precedes the break and names the problem.
    """
    raw: list[bytes] = []
    out: list[bytes] = []
    inflater = None
    healthy = True
    for chunk in body.iter_chunks(_CHUNK):
        raw.append(chunk)
        if not healthy:
            continue
        if inflater is None:
            if len(raw) == 1 and not chunk.startswith(b"\x1f\x8b"):
                healthy = False
                continue
            inflater = zlib.decompressobj(wbits=31)
        try:
            out.append(inflater.decompress(chunk))
            while inflater.eof and inflater.unused_data:  # multi-member gzip: the next member starts here
                rest = inflater.unused_data
                inflater = zlib.decompressobj(wbits=31)
                out.append(inflater.decompress(rest))
        except zlib.error:
            healthy = False
    if healthy and inflater is not None and inflater.eof:
        return b"".join(out)
    return b"".join(raw)


def parse_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` -> (bucket, prefix)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(f"{url}: not an S3 URL (expected s3://bucket/prefix)")
    return parts.netloc, parts.path.lstrip("/")


def skipped_key(key: str, size: int) -> bool:
    """Folder markers, digest files and empty objects hold no records."""
    return key.endswith("/") or size == 0 or "/CloudTrail-Digest/" in key or "_CloudTrail-Digest_" in key


def list_objects(bucket: str, prefix: str) -> Iterator[S3Object]:
    """Every object below `prefix` worth reading, in key order."""
    paginator = client().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if not skipped_key(item["Key"], item.get("Size", -1)):
                yield S3Object(bucket, item["Key"], item.get("ETag", "").strip('"'), item.get("Size", -1))


def list_folders(bucket: str, prefix: str) -> list[str]:
    """The immediate sub-folders of `prefix` (common prefixes), each ending in '/'."""
    paginator = client().get_paginator("list_objects_v2")
    found: list[str] = []
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        found.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
    return found


def prefetched(inputs: Iterable[Any], threads: int = 8) -> Iterator[Any]:
    """The same inputs, in order, with their downloads running `threads` at a time ahead of the reader.

    Lookahead is bounded (2 x threads) so memory stays flat however many objects are listed.
    """
    if threads <= 1:
        yield from inputs
        return
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="s3-read")
    window: list[tuple[Any, Future]] = []
    try:
        for item in inputs:
            window.append((item, pool.submit(item.read)))
            if len(window) >= 2 * threads:
                yield _Fetched(*window.pop(0))
        while window:
            yield _Fetched(*window.pop(0))
    finally:  # a consumer that stops early (a signal) abandons what was not started yet
        pool.shutdown(wait=True, cancel_futures=True)


class _Fetched:
    """An input whose bytes were downloaded by the pool: `read()` hands them over (or the read's error)."""

    def __init__(self, item: Any, future: Future) -> None:
        self.item = item
        self._future = future

    @property
    def origin(self) -> str:
        return self.item.origin

    def read(self) -> bytes:
        return self._future.result()


@dataclass(frozen=True)
class Unlisted:
    """A bucket or prefix that could not be listed: an input that fails to read, so the run names it and
    goes on with the other URLs."""

    url: str
    reason: str

    @property
    def origin(self) -> str:
        return self.url

    def read(self) -> bytes:
        raise ReadError(f"cannot list ({self.reason})")


def objects(url: str, selection: Selection, now: Any = None) -> Iterator[S3Object | Unlisted]:
    """Every object under an s3:// URL that can hold selected events: only matching partitions are listed."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = parse_url(url)
    try:
        for part in partitions(prefix, selection, lambda p: list_folders(bucket, p), now):
            yield from list_objects(bucket, part)
    except (ClientError, BotoCoreError) as exc:
        yield Unlisted(url, describe_aws_error(exc))
