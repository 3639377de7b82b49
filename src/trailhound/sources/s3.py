"""S3: CloudTrail where the trail delivers it. Objects as inputs, listed with partition pruning.

An `S3Object` is like a `FileInput`: picklable, with `.origin` and `.open()`, here the object's body as
botocore streams it (records/stream.py gunzips it chunk by chunk as it arrives). The client is made lazily
in whichever process reads (sources/aws.py).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

from ..errors import ConfigError, ReadError
from .aws import describe_aws_error
from .aws import shared_client as client
from .s3_layout import Selection, partitions

PREFETCH_LIMIT = 32 << 20  # stored bytes: objects up to this are downloaded ahead whole; bigger ones stream


@dataclass(frozen=True)
class S3Object:
    """One object; `etag` (without quotes) tells a rewritten object from the one already processed."""

    bucket: str
    key: str
    etag: str = ""
    size: int = -1  # as listed; -1: not known

    @property
    def origin(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def open(self) -> BinaryIO:
        """The object's body as a stream (botocore's StreamingBody reads from the connection as asked)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return cast(BinaryIO, _Body(client().get_object(Bucket=self.bucket, Key=self.key)["Body"]))
        except (ClientError, BotoCoreError) as exc:
            raise ReadError(describe_aws_error(exc)) from None

    def read(self) -> bytes:
        """The object's bytes as stored (gzip stays gzip), held whole: for the download-ahead threads."""
        with self.open() as body:
            return body.read()


class _Body(io.RawIOBase):
    """A StreamingBody as a binary stream whose failures mid-transfer are ReadErrors (the run names the object)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        from botocore.exceptions import BotoCoreError

        try:
            return cast(bytes, self._body.read(None if size is None or size < 0 else size))  # botocore: Any
        except (BotoCoreError, OSError) as exc:
            raise ReadError(f"the download broke ({describe_aws_error(exc)})") from None

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


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
    """The same inputs, in order, with the downloads of small objects running `threads` at a time ahead of
    the reader. Objects bigger than PREFETCH_LIMIT (or of unknown size) and other inputs are not
    downloaded ahead: they stream when read, so memory follows the chunk, never a big object.

    Lookahead is bounded (2 x threads) so memory stays flat however many objects are listed.
    """
    if threads <= 1:
        yield from inputs
        return
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="s3-read")
    window: list[Any] = []
    try:
        for item in inputs:
            small = isinstance(item, S3Object) and 0 <= item.size <= PREFETCH_LIMIT
            window.append(_Fetched(item, pool.submit(item.read)) if small else item)
            if len(window) >= 2 * threads:
                yield window.pop(0)
        while window:
            yield window.pop(0)
    finally:  # a consumer that stops early (a signal) abandons what was not started yet
        pool.shutdown(wait=True, cancel_futures=True)


class _Fetched:
    """An object whose stored bytes the pool downloaded: `open()` hands them over (or the download's error)."""

    def __init__(self, item: S3Object, future: Future[bytes]) -> None:
        self.item = item
        self._future = future

    @property
    def origin(self) -> str:
        return self.item.origin

    def open(self) -> BinaryIO:
        return io.BytesIO(self._future.result())

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

    def open(self) -> BinaryIO:
        raise ReadError(f"cannot list ({self.reason})")

    def read(self) -> bytes:
        return self.open().read()


def objects(url: str, selection: Selection, now: Any = None) -> Iterator[S3Object | Unlisted]:
    """Every object under an s3:// URL that can hold selected events: only matching partitions are listed."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = parse_url(url)
    try:
        for part in partitions(prefix, selection, lambda p: list_folders(bucket, p), now):
            yield from list_objects(bucket, part)
    except (ClientError, BotoCoreError) as exc:
        yield Unlisted(url, describe_aws_error(exc))
