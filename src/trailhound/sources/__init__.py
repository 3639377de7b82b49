"""Sources: where CloudTrail lives. Each yields inputs: an `origin` name, and `open()`, a binary stream over
the input's bytes as stored (gzip or not: records/stream.py decompresses), so no input is read whole first.
An input that cannot be read raises errors.ReadError, naming the cause."""


def is_s3_url(text: str) -> bool:
    return text.startswith("s3://")
