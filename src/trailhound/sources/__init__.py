"""Sources: where CloudTrail lives. Each yields inputs: an `origin` name, and `open()`, a binary stream over
the input's bytes as stored (gzip or not: records/stream.py decompresses), so no input is read whole first.
An input that cannot be read raises errors.ReadError, naming the cause."""

import re


def is_s3_url(text: str) -> bool:
    return text.startswith("s3://")


_TRAIL_KEY = re.compile(r"(?:^|/)AWSLogs/(?:o-[a-z0-9]+/)?\d{12}/CloudTrail/")
_LAKE_KEY = re.compile(r"(?:^|/)aws/[A-Z][A-Z0-9_]*/[^/]+/region=")


def place(origin: str) -> str:
    """Where an input was read from, in a few words, for the run summary's count of what came from where."""
    if not is_s3_url(origin):
        return "event history" if origin.startswith("cloudtrail-event-history:") else "local files"
    key = origin[len("s3://"):].partition("/")[2]
    if _TRAIL_KEY.search(key):
        return "CloudTrail layout"
    if _LAKE_KEY.search(key):
        return "Security Lake"
    return "other S3 objects"
