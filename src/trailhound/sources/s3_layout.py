"""CloudTrail's delivery layout in S3, and which of its partitions can hold the events asked for.

    [prefix/]AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_..json.gz

Folders are walked with delimiter listings only where a level is unknown (organisation ids, accounts,
regions when --regions is not given); regions and days given by the user are built, not listed. A file
lands in the folder of its delivery day, which is never before its events' day and usually within
minutes of it, so days run from --since's day to one day past --until (or today): late deliveries are kept,
and the engine's own --since/--until filter on event time stays exact.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

_ORG = re.compile(r"^o-[a-z0-9]{10,32}$")
_ACCOUNT = re.compile(r"^\d{12}$")
DELIVERY_SLACK = timedelta(days=1)

ListFolders = Callable[[str], list[str]]


@dataclass(frozen=True)
class Selection:
    """What the user asked for: an event-time window, accounts and regions (empty: all)."""

    since: datetime | None = None
    until: datetime | None = None
    accounts: frozenset[str] = field(default_factory=frozenset)
    regions: tuple[str, ...] = ()

    def account_ok(self, account: str) -> bool:
        return not self.accounts or account in self.accounts

    def region_ok(self, region: str) -> bool:
        return not self.regions or region in self.regions


def days(selection: Selection, now: datetime | None = None) -> list[date] | None:
    """The delivery days that can hold events in the window; None when every day can (no --since)."""
    if selection.since is None:
        return None
    end = max(selection.until or now or datetime.now(UTC), selection.since) + DELIVERY_SLACK
    first = selection.since.astimezone(UTC).date()
    last = end.astimezone(UTC).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def partitions(prefix: str, selection: Selection, list_folders: ListFolders,
               now: datetime | None = None) -> Iterator[str]:
    """The prefixes to list below `prefix`: the CloudTrail partitions that can match, or `prefix` itself
    when it does not follow the delivery layout (any bucket of log files can still be scanned)."""
    list_folders = memo(list_folders)
    root, given = _split(prefix, list_folders)
    if root is None:
        yield prefix
        return
    yield from _top(root, given, selection, list_folders, days(selection, now))


def memo(list_folders: ListFolders) -> ListFolders:
    """A folder lister that asks S3 for each prefix once, however often a walk comes back to it."""
    seen: dict[str, list[str]] = {}

    def cached(prefix: str) -> list[str]:
        if prefix not in seen:
            seen[prefix] = list_folders(prefix)
        return seen[prefix]
    return cached


def _split(prefix: str, list_folders: ListFolders) -> tuple[str | None, list[str]]:
    """(the AWSLogs/ folder, the whole folder names the user gave below it), or (None, []) for no layout."""
    marker = prefix.find("AWSLogs/")
    if marker == 0 or (marker > 0 and prefix[marker - 1] == "/"):
        root = prefix[:marker + len("AWSLogs/")]
        rest = prefix[len(root):]
        if rest and not rest.endswith("/"):
            return None, []  # a partial folder name: list below it as it is
        return root, [s for s in rest.split("/") if s]
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    candidate = prefix + "AWSLogs/"
    return (candidate, []) if list_folders(candidate) else (None, [])


def _children(path: str, given: list[str], list_folders: ListFolders) -> list[str]:
    if given:
        return [given[0]]
    return [p[len(path):].rstrip("/") for p in list_folders(path)]


def _top(path: str, given: list[str], sel: Selection, lf: ListFolders, wanted: list[date] | None) -> Iterator[str]:
    for name in _children(path, given, lf):
        if _ORG.match(name):
            for account in _children(f"{path}{name}/", given[1:], lf):
                if _ACCOUNT.match(account) and sel.account_ok(account):
                    yield from _account(f"{path}{name}/{account}/", given[2:], sel, lf, wanted)
        elif _ACCOUNT.match(name) and sel.account_ok(name):
            yield from _account(f"{path}{name}/", given[1:], sel, lf, wanted)


def _account(path: str, given: list[str], sel: Selection, lf: ListFolders, wanted: list[date] | None
             ) -> Iterator[str]:
    if given and given[0] != "CloudTrail":
        return  # CloudTrail-Digest, CloudTrail-Insights: nothing the rules read
    path += "CloudTrail/"
    given = given[1:]
    if given:
        regions = [given[0]]
    elif sel.regions:
        regions = list(sel.regions)
    else:
        regions = _children(path, [], lf)
    for region in regions:
        if not sel.region_ok(region):
            continue
        if len(given) > 1 or wanted is None:  # the user named the dates, or every day can match
            yield path + "/".join([region, *given[1:]]) + "/"
        else:
            yield from (f"{path}{region}/{day:%Y/%m/%d}/" for day in wanted)
