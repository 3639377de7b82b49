"""Which inputs a scan reads: local paths, s3:// URLs (partitions pruned) and the event history API."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, cast

from ..errors import ConfigError
from . import is_s3_url
from .files import check_paths, iter_files

if TYPE_CHECKING:
    from .s3_layout import Selection

# The S3 and event-history modules load only for runs that read from AWS: a local scan starts faster.


def is_remote(paths: Iterable[str], event_history: bool) -> bool:
    return event_history or any(is_s3_url(p) for p in paths)


def check(paths: Iterable[str], event_history: bool = False) -> None:
    """Usage errors before anything is read: missing local paths, malformed s3:// URLs, no boto3."""
    paths = list(paths)
    if any(is_s3_url(p) for p in paths):
        from .s3 import parse_url

        for url in filter(is_s3_url, paths):
            parse_url(url)
    if is_remote(paths, event_history):
        require_boto3()
    check_paths([p for p in paths if not is_s3_url(p)])


def inputs(paths: Iterable[str], selection: Selection, event_names: tuple[str, ...] = (),
           event_history: bool = False, configured_region: str | None = None) -> Iterator[Any]:
    """Every input the paths name. `event_names`: the events the event history is asked for (none: all)."""
    from .event_history import EventHistoryInput, default_regions
    from .s3 import objects

    local = [p for p in paths if not is_s3_url(p)]
    yield from iter_files(local)
    for url in (p for p in paths if is_s3_url(p)):
        yield from objects(url, selection)
    if event_history:
        for region in selection.regions or default_regions(configured_region):
            yield EventHistoryInput(region, event_names, selection.since, selection.until)


def require_boto3() -> None:
    try:
        import boto3  # noqa: F401
    except ImportError:
        raise ConfigError("reading from AWS needs boto3: pip install 'trailhound[aws]'") from None


def configured_region() -> str | None:
    import boto3

    return cast(str | None, boto3.session.Session().region_name)  # boto3 ships no types: Any
