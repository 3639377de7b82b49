"""Which listings an `s3://` scan makes: every object under the prefix, as a folder scan would read every
file, with only CloudTrail's and Security Lake's own partitions pruned.

A prefix inside a layout (`.../AWSLogs/...`, `aws/CLOUD_TRAIL_MGMT/...`) is that layout's partitions.
Any other prefix is walked with delimiter listings WALK_DEPTH levels deep, where the layouts' roots sit
(`[prefix/]AWSLogs/`, the bucket's `aws/`): the objects at each level are read, an `AWSLogs/` or Security
Lake `aws/` folder met there is pruned, and every other folder is listed whole. Nothing beside a layout
is left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from . import lake_layout, s3_layout
from .s3_layout import ListFolders, Selection

WALK_DEPTH = 2  # the prefix and its folders: a trail under a bucket prefix (logs/AWSLogs/) is still pruned


@dataclass(frozen=True)
class Listing:
    prefix: str
    recursive: bool = True  # False: only the objects directly under `prefix` (its folders are planned apart)


def listings(prefix: str, selection: Selection, list_folders: ListFolders,
             now: datetime | None = None) -> Iterator[Listing]:
    folders = s3_layout.memo(list_folders)
    lake = lake_layout.split(prefix)
    if lake is not None:
        yield from (Listing(p) for p in lake_layout.partitions(*lake, selection, folders, now))
        return
    if (prefix == f"{lake_layout.ROOT}/" or prefix.endswith(f"/{lake_layout.ROOT}/")) \
            and lake_layout.is_lake_root(prefix, folders):
        yield from (Listing(p) for p in lake_layout.partitions(prefix, [], selection, folders, now))
        return
    if _in_trail_layout(prefix):
        yield from (Listing(p) for p in s3_layout.partitions(prefix, selection, folders, now))
        return
    if prefix and not prefix.endswith("/"):
        if not folders(prefix + "/"):
            yield Listing(prefix)  # a partial name (exports/2026-) or a folder without sub-folders
            return
        prefix += "/"
    yield from _walk(prefix, 0, selection, folders, now)


def _walk(prefix: str, depth: int, selection: Selection, folders: ListFolders, now: datetime | None
          ) -> Iterator[Listing]:
    yield Listing(prefix, recursive=False)
    for folder in folders(prefix):
        name = folder[len(prefix):]
        if name == "AWSLogs/":
            yield from (Listing(p) for p in s3_layout.partitions(folder, selection, folders, now))
        elif name == f"{lake_layout.ROOT}/" and lake_layout.is_lake_root(folder, folders):
            yield from (Listing(p) for p in lake_layout.partitions(folder, [], selection, folders, now))
        elif depth + 1 < WALK_DEPTH:
            yield from _walk(folder, depth + 1, selection, folders, now)
        else:
            yield Listing(folder)


def _in_trail_layout(prefix: str) -> bool:
    marker = prefix.find("AWSLogs/")
    return marker == 0 or (marker > 0 and prefix[marker - 1] == "/")

