"""Sources: where CloudTrail lives. Each yields inputs (an origin name and a way to read its bytes)."""


class ReadError(OSError):
    """An input that cannot be read at all (missing, access denied, the service refused); names the cause."""


def is_s3_url(text: str) -> bool:
    return text.startswith("s3://")
