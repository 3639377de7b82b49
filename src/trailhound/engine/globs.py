"""Shell-style globs over ARNs and other delimited values, matched per segment.

`fnmatch` lets `*` cross `/`, `:` and line breaks, so `arn:aws:sts::*:assumed-role/terraform-ci/*` would
also match `.../terraform-ci/a/b/c`, or an ARN that merely holds `:assumed-role/terraform-ci/` somewhere in
the middle. Here, as in a shell matching paths, a wildcard stays inside one segment:

- `*` any run of characters, `?` one character, `[abc]` / `[a-z]` / `[!abc]` one of (or none of) a set:
  none of them matches a segment separator (`/`, `:`) or a line break;
- `**` any run of characters across segments (never a line break), for the rare value that needs it;
- `\\` makes the next character literal. The whole value must match; case counts.

No maintained library splits on more than `/` (wcmatch, pathlib), hence this small translator to `re`.
"""

from __future__ import annotations

import re
from functools import lru_cache

SEPARATORS = "/:"
_NOT_SEGMENT = "[^/:\\r\\n]"  # one character that stays inside a segment
_NOT_LINE = "[^\\r\\n]"


class GlobError(ValueError):
    """A glob that cannot be read (an unclosed `[`, a trailing `\\`); str() says where."""


def matches_everything(glob: str) -> bool:
    """Only wildcards (`*`, `**`): every value of the column would match (almost: `*` not across segments)."""
    return bool(glob) and set(glob) == {"*"}


@lru_cache(maxsize=4096)
def compile_glob(glob: str) -> re.Pattern[str]:
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if c == "*":
            j = i
            while j < n and glob[j] == "*":
                j += 1
            out.append(f"{_NOT_LINE}*" if j - i > 1 else f"{_NOT_SEGMENT}*")
            i = j
            continue
        if c == "?":
            out.append(_NOT_SEGMENT)
        elif c == "[":
            i, part = _char_class(glob, i)
            out.append(part)
            continue
        elif c == "\\":
            if i + 1 == n:
                raise GlobError(f"glob {glob!r} ends with a lone '\\'")
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _char_class(glob: str, start: int) -> tuple[int, str]:
    """`[...]` from glob[start]; returns (index after it, its regex). `]` first in the set is literal."""
    i = start + 1
    negate = i < len(glob) and glob[i] in "!^"
    i += negate
    members_start = i
    if i < len(glob) and glob[i] == "]":
        i += 1
    while i < len(glob) and glob[i] != "]":
        i += 1
    if i >= len(glob):
        raise GlobError(f"glob {glob!r}: '[' at position {start + 1} is never closed (write '\\[' for a literal '[')")
    members = glob[members_start:i].replace("\\", "\\\\").replace("^", "\\^").replace("[", "\\[").replace("]", "\\]")
    # A range like a-z stays a range; a set never matches a separator or a line break, negated or not.
    body = f"[^{members}/:\\r\\n]" if negate else f"(?![/:\\r\\n])[{members}]"
    return i + 1, body


def glob_match(text: str, glob: str) -> bool:
    return compile_glob(glob).match(text) is not None
