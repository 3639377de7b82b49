"""CloudTrail Lake's `{k=v}` rendering of map and struct columns, read back to objects.

A CloudTrail Lake `SELECT *` (Trino underneath) returns `requestParameters`, `userIdentity` and the other
nested columns as text like `{userName=bob, passwordResetRequired=false}` and
`{type=IAMUser, principalid=AIDA..., sessioncontext={attributes={mfaauthenticated=false}}}`. The rendering
is not JSON and quotes nothing, so it is read conservatively: a scalar runs to the next `, name=` or to the
closing bracket, a value that starts as JSON (`{"`, `["`) is read as JSON, and anything that does not
parse whole gives None. The caller then keeps the text, and rules see a request they cannot read, never an
empty one.

Lake's struct fields are lower-case (`principalid`, `sessioncontext`); `userIdentity`'s are put back into
CloudTrail's spelling, so rules read them as they read any record.
"""

from __future__ import annotations

import json
import re
from typing import Any

_KEY = re.compile(r"([A-Za-z0-9_.:@$-]+)=")
_JSON = json.JSONDecoder()

# CloudTrail Lake's lower-case struct fields of userIdentity -> CloudTrail's names
_IDENTITY_NAMES = {name.lower(): name for name in (
    "type", "principalId", "arn", "accountId", "accessKeyId", "userName", "sessionContext", "attributes",
    "creationDate", "mfaAuthenticated", "sessionIssuer", "webIdFederationData", "federatedProvider",
    "sourceIdentity", "ec2RoleDelivery", "invokedBy", "identityProvider", "credentialId", "onBehalfOf",
    "userId", "identityStoreArn", "inScopeOf", "issuerType", "credentialsIssuedTo", "assumedRoot")}


class _Unreadable(Exception):
    pass


def looks_rendered(text: str) -> bool:
    """Text that may be Trino's rendering of a map: `{name=...}` (JSON would start `{"`)."""
    return text[:1] == "{" and _KEY.match(text, 1) is not None


def parse(text: str) -> dict[str, Any] | None:
    """A `{k=v, ...}` rendering as a dict, or None when it does not read whole."""
    try:
        value, end = _map(text, 0)
    except (_Unreadable, IndexError):
        return None
    return value if not text[end:].strip() else None


def identity_names(value: Any) -> Any:
    """userIdentity with CloudTrail Lake's lower-case field names spelled as CloudTrail spells them."""
    if isinstance(value, dict):
        return {_IDENTITY_NAMES.get(k, k) if isinstance(k, str) else k: identity_names(v) for k, v in value.items()}
    return value


def _map(text: str, pos: int) -> tuple[dict[str, Any], int]:
    pos += 1  # the opening brace
    out: dict[str, Any] = {}
    if text[pos] == "}":
        return out, pos + 1
    while True:
        key = _KEY.match(text, pos)
        if key is None:
            raise _Unreadable
        value, pos = _value(text, key.end(), "}")
        out[key.group(1)] = value
        if text.startswith(", ", pos):
            pos += 2
        elif text[pos] == "}":
            return out, pos + 1
        else:
            raise _Unreadable


def _list(text: str, pos: int) -> tuple[list[Any], int]:
    pos += 1
    out: list[Any] = []
    if text[pos] == "]":
        return out, pos + 1
    while True:
        value, pos = _value(text, pos, "]")
        out.append(value)
        if text.startswith(", ", pos):
            pos += 2
        elif text[pos] == "]":
            return out, pos + 1
        else:
            raise _Unreadable


def _value(text: str, pos: int, closer: str) -> tuple[Any, int]:
    head = text[pos:pos + 2]
    if head in ('{"', '["'):
        try:
            return _JSON.raw_decode(text, pos)
        except ValueError:
            pass
    if head[:1] == "{":
        return _map(text, pos)
    if head[:1] == "[":
        return _list(text, pos)
    end = pos
    while end < len(text):
        if text[end] == closer:
            break
        if text.startswith(", ", end) and (closer == "]" or _KEY.match(text, end + 2)):
            break
        end += 1
    scalar = text[pos:end]
    return (None if scalar == "null" else scalar), end
