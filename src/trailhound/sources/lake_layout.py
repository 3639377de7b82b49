"""Amazon Security Lake's layout in S3, and which of its partitions can hold the events asked for.

    [prefix/]aws/SOURCE/SOURCE_VERSION/region=REGION/accountId=ACCOUNT/eventDay=YYYYMMDD/*.parquet

CloudTrail's management events are the source CLOUD_TRAIL_MGMT (its data events, S3_DATA and
LAMBDA_EXECUTION, never hold the identity-plane calls the rules and their context read; Route 53, VPC flow
logs, Security Hub and the other sources are not CloudTrail). Like the CloudTrail layout (s3_layout.py),
levels the user fixed (--regions, --accounts, the days of --since/--until) are built, not listed; source
versions and the levels left open are listed with one delimiter listing each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime

from .s3_layout import ListFolders, Selection, days

ROOT = "aws"
CLOUDTRAIL_SOURCES = ("CLOUD_TRAIL_MGMT",)
_SOURCE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def split(prefix: str) -> tuple[str, list[str]] | None:
    """(the `aws/` folder, the whole folder names the user gave below it) when `prefix` is inside Security
    Lake's layout at a source or deeper (`aws/CLOUD_TRAIL_MGMT/...`), else None."""
    parts = prefix.split("/")
    whole, partial = parts[:-1], parts[-1]
    for index, part in enumerate(whole):
        if part == ROOT and index + 1 < len(whole) and _SOURCE.match(whole[index + 1]):
            if partial:
                return None  # a partial folder name: listed as it is
            return "/".join(whole[:index + 1]) + "/", whole[index + 1:]
    return None


def is_lake_root(folder: str, list_folders: ListFolders) -> bool:
    """Whether an `aws/` folder is Security Lake's: its sub-folders are sources named in capitals."""
    subfolders = [f[len(folder):].rstrip("/") for f in list_folders(folder)]
    return bool(subfolders) and all(_SOURCE.match(name) for name in subfolders)


def partitions(root: str, given: list[str], selection: Selection, list_folders: ListFolders,
               now: datetime | None = None) -> Iterator[str]:
    """The prefixes to list below Security Lake's `aws/` folder `root` for this selection."""
    wanted = days(selection, now)
    for source in given[:1] or CLOUDTRAIL_SOURCES:
        path = f"{root}{source}/"
        for version in given[1:2] or _children(path, list_folders):
            yield from _regions(f"{path}{version}/", given[2:], selection, list_folders, wanted)


def _regions(path: str, given: list[str], sel: Selection, lf: ListFolders, wanted: list[date] | None
             ) -> Iterator[str]:
    names = given[:1] or ([f"region={r}" for r in sel.regions] if sel.regions else _children(path, lf))
    for name in names:
        if sel.region_ok(name.removeprefix("region=")):
            yield from _accounts(f"{path}{name}/", given[1:], sel, lf, wanted)


def _accounts(path: str, given: list[str], sel: Selection, lf: ListFolders, wanted: list[date] | None
              ) -> Iterator[str]:
    names = given[:1] or ([f"accountId={a}" for a in sorted(sel.accounts)] if sel.accounts else _children(path, lf))
    for name in names:
        if not sel.account_ok(name.removeprefix("accountId=")):
            continue
        account = f"{path}{name}/"
        if len(given) > 1 or wanted is None:  # the user named the day, or every day can match
            yield account + "".join(f"{g}/" for g in given[1:])
        else:
            yield from (f"{account}eventDay={day:%Y%m%d}/" for day in wanted)


def _children(path: str, list_folders: ListFolders) -> list[str]:
    return [p[len(path):].rstrip("/") for p in list_folders(path)]
