"""The needle prefilter: which raw bytes could hold a record that a rule (or a context collector) needs.

Rules and collectors declare `needles`: lower-case literals that every raw record they can use contains.
Searching decompressed bytes for them runs near memory speed; parsing runs ~15x slower. So the engine
parses only what holds a needle, and never a file that holds none.

It must never change results, so the search is conservative:
- case-insensitive (rules compare with str.lower());
- a JSON escape of a character that occurs in a needle (`\\u0043reateLoginProfile`, `iam\\u002eamazonaws.com`)
  counts as a hit: decoders turn it back into the character, and no ordinary serializer escapes letters or
  dots, so this costs nothing on real data and closes the evasion;
- so do the non-ASCII characters whose str.lower() yields such a letter (KELVIN SIGN -> k,
  LATIN CAPITAL I WITH DOT -> i + a combining dot), raw or escaped.

Hyperscan (SIMD, every pattern in one pass) is used where it installs; otherwise a portable matcher built
on bytes.lower() and bytes.find/re does the same job, slower.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

try:
    from stringzilla import find_first_of as _find_first_of
except ImportError:  # pragma: no cover - exercised only where stringzilla does not install
    _find_first_of = None

# Every code point above ASCII whose str.lower() holds an ASCII letter (checked by a test over all of them).
NON_ASCII_FOLDS = {"\u0130": "i", "\u212a": "k"}


def hiding_patterns(needles: Iterable[bytes]) -> list[bytes]:
    """Lower-case byte patterns that could spell a needle character in a way a plain search would not see:
    a \\u escape of any of its characters (a letter in either case, a dot, a digit), JSON's short escape
    for '/', and the non-ASCII characters that lower to one of its letters."""
    chars = sorted({chr(b) for needle in needles for b in needle if b < 0x80})
    patterns: set[bytes] = set()
    for char in chars:
        for form in {char, char.upper()}:
            patterns.add(f"\\u{ord(form):04x}".encode())
        if char == "/":
            patterns.add(b"\\/")
    for char, letter in NON_ASCII_FOLDS.items():
        if letter in chars:
            patterns.add(char.encode("utf-8").lower())
            patterns.add(f"\\u{ord(char):04x}".encode())
    return sorted(patterns)


Groups = tuple[tuple[bytes, ...], ...]  # one consumer's needle lists: a record it wants holds one of each


class Matcher:
    """Answers one question fast: could these bytes hold a needle? And, of one record that does: could a
    rule or collector want it (`keeps`)?"""

    engine = "none"

    def __init__(self, needles: Iterable[bytes], consumers: Iterable[Groups] = ()):
        self.needles = sorted({bytes(n).lower() for n in needles if n})
        if not self.needles:
            raise ValueError("a prefilter needs at least one needle")
        self.consumers = [tuple(tuple(bytes(n).lower() for n in group) for group in groups)
                          for groups in consumers]
        # keeps(): every consumer needle, and each consumer's lists as sets of them
        self.words = sorted({n for groups in self.consumers for group in groups for n in group})
        self._lists = [[frozenset(group) for group in groups] for groups in self.consumers]
        self.patterns = self.needles + [p for p in hiding_patterns(self.needles) if p not in self.needles]
        # A hit may straddle two chunks of a stream: keep this many bytes of the previous chunk.
        self.overlap = max(len(p) for p in self.patterns) - 1

    def hit(self, data: bytes | memoryview) -> bool:
        raise NotImplementedError

    def keeps(self, record: bytes | bytearray | memoryview | Any) -> bool:
        """Whether one raw record could be one that a consumer wants: it holds a needle of every list that
        consumer declares (the file was searched for one list only: an event source, say, where the record
        must also hold an event name). Cheap, because it runs on the few records a file search let by."""
        if not self.words:
            return True
        data = bytes(record)
        if b"\\" in data or not data.isascii():  # an escape or a non-ASCII fold could spell a needle
            return True
        present = self._present(data)
        for lists in self._lists:  # plain loops: generators here cost more than the searches
            for group in lists:
                if group.isdisjoint(present):
                    break  # no member of this list: not this consumer's
            else:
                return True
        return False

    def _present(self, data: bytes) -> set[bytes]:
        """Which of `words` an ASCII record holds, in any letter case."""
        lowered = data.lower()
        return {word for word in self.words if word in lowered}

    def ends(self, data: bytes | memoryview) -> list[int]:
        """The end offset of every occurrence of every pattern, sorted: where in `data` the hits are."""
        raise NotImplementedError


class HyperscanMatcher(Matcher):
    """One hyperscan database per family of needles, and one for the leads of the hiding patterns.

    Measured here (per GB): one caseless literal takes ~0.085 s, but a set of unrelated ones ~0.5 s, so
    unrelated needles are searched one by one. Needles that end alike are one family and one search:
    `iam.amazonaws.com` and `signin.amazonaws.com` take 0.145 s together, 0.27 s apart. The hiding
    patterns all start with a backslash-u escape or a non-ASCII fold's lead bytes, which most files never
    contain: only a file holding one of those leads is searched for them, with the same answer.
    """

    engine = "hyperscan"

    def __init__(self, needles: Iterable[bytes], consumers: Iterable[Groups] = ()):
        super().__init__(needles, consumers)
        families = _families(self.needles)
        # Measured here (per GB, caseless): one literal 0.17 s, two alike 0.21, 21 unrelated ones in one
        # database 0.28, the same 21 searched one by one 3.6. Past a couple of families, one database.
        self._single = [_Compiled(f) for f in families] if len(families) <= 2 else [_Compiled(self.needles)]
        hiding = [p for p in self.patterns if p not in self.needles]
        self._leads = [_Compiled([lead]) for lead in sorted({p[:2] for p in hiding})]
        self._hiding = _Compiled(hiding) if hiding else None
        self._first_bytes = bytes(sorted({p[0] for p in hiding}))  # a backslash, a fold's UTF-8 lead byte
        self._words = _Compiled(self.words) if self.words else None

    def _present(self, data: bytes) -> set[bytes]:
        # One hyperscan search of the record instead of one `in` per word (~2 us a record instead of ~3.7).
        return {self.words[i] for i in self._words.ids(data)}  # type: ignore[union-attr]

    def _searches(self, data: bytes | memoryview) -> list[_Compiled]:
        if self._hiding is not None and _holds_any(data, self._first_bytes) \
                and any(lead.hit(data) for lead in self._leads):
            return [*self._single, self._hiding]
        return self._single

    def ends(self, data: bytes | memoryview) -> list[int]:
        found = [end for search in self._searches(data) for end in search.ends(data)]
        found.sort()
        return found

    def hit(self, data: bytes | memoryview) -> bool:
        return any(search.hit(data) for search in self._searches(data))


SHARED_ENDING = 8  # bytes two needles must end with alike to be searched together


def _families(needles: list[bytes]) -> list[list[bytes]]:
    """Needles grouped by a shared ending of SHARED_ENDING bytes or more (neighbours once reversed)."""
    families: list[list[bytes]] = []
    for needle in sorted(needles, key=lambda n: n[::-1]):
        ending = needle[-SHARED_ENDING:]
        if families and len(ending) == SHARED_ENDING and families[-1][-1].endswith(ending):
            families[-1].append(needle)
        else:
            families.append([needle])
    return families


def _holds_any(data: bytes | memoryview, byteset: bytes) -> bool:
    """Whether any of these bytes occurs in data: one SIMD pass with stringzilla (~0.04 s per GB here),
    else a backslash search and isascii(), which rule out every hiding pattern's first byte (~0.085 s)."""
    if _find_first_of is not None:
        try:  # a memoryview as it is: copying a window to bytes cost more than the search
            return bool(_find_first_of(data, byteset) >= 0)  # stringzilla ships no stubs: its result is Any
        except TypeError:  # stringzilla refuses some buffers (msgspec.Raw)
            return bool(_find_first_of(bytes(data), byteset) >= 0)
    view = bytes(data)
    return b"\\" in view or not view.isascii()


class _Compiled:
    """One hyperscan database pair over `patterns`: each pattern's first match (hit, ids), and every match
    (ends)."""

    def __init__(self, patterns: list[bytes]):
        import hyperscan

        ids = list(range(len(patterns)))
        # The pure-literal compiler (~10% faster here than the same literals as escaped regexes).
        self._first = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._first.compile(expressions=list(patterns), ids=ids, elements=len(ids), literal=True,
                            flags=[hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH] * len(ids))
        self._first_scratch = hyperscan.Scratch(self._first)
        self._every = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._every.compile(expressions=list(patterns), ids=ids, elements=len(ids), literal=True,
                            flags=[hyperscan.HS_FLAG_CASELESS] * len(ids))
        self._every_scratch = hyperscan.Scratch(self._every)

    def ends(self, data: bytes | memoryview) -> list[int]:
        found: list[int] = []

        def note(_id: int, _start: int, end: int, _flags: int, _context: object) -> None:
            found.append(end)

        self._every.scan(data, match_event_handler=note, scratch=self._every_scratch)  # type: ignore[type-var]  # the stub says AnyStr; the C scan takes any buffer
        found.sort()
        return found

    def ids(self, data: bytes | memoryview) -> set[int]:
        """Which patterns occur in data (their indexes)."""
        found: set[int] = set()

        def note(pattern: int, *_args: object) -> None:
            found.add(pattern)

        self._first.scan(data, match_event_handler=note, scratch=self._first_scratch)  # type: ignore[type-var]  # the stub says AnyStr; the C scan takes any buffer
        return found

    def hit(self, data: bytes | memoryview) -> bool:
        found: list[bool] = []

        def stop(*_args: object) -> bool:  # the first match answers the question: stop scanning
            found.append(True)
            return True

        try:
            self._first.scan(data, match_event_handler=stop,  # type: ignore[type-var]  # as above
                             scratch=self._first_scratch)
        except Exception as exc:  # hyperscan reports "scan terminated" as an error
            if not found:
                raise RuntimeError(f"hyperscan failed: {exc}") from exc
        return bool(found)


class PortableMatcher(Matcher):
    engine = "portable"

    def __init__(self, needles: Iterable[bytes], consumers: Iterable[Groups] = ()):
        super().__init__(needles, consumers)
        self._hiding = [p for p in self.patterns if p not in self.needles]
        self._hiding_re = re.compile(b"|".join(re.escape(p) for p in self._hiding)) if self._hiding else None

    def hit(self, data: bytes | memoryview) -> bool:
        lowered = bytes(data).lower()  # bytes.lower() folds ASCII only, which is what the needles are
        if any(n in lowered for n in self.needles):
            return True
        # Escapes start with a backslash and raw folds with a byte above 0x7f: most data has neither.
        return self._hiding_re is not None and self._hiding_re.search(lowered) is not None

    def ends(self, data: bytes | memoryview) -> list[int]:
        lowered = bytes(data).lower()
        found: list[int] = []
        for pattern in self.patterns:
            at = lowered.find(pattern)
            while at >= 0:
                found.append(at + len(pattern))
                at = lowered.find(pattern, at + 1)
        found.sort()
        return found


def make_matcher(needles: Iterable[bytes], engine: str = "auto", consumers: Iterable[Groups] = ()) -> Matcher:
    """The fastest matcher that loads here (`engine` "auto"), or the one named ("hyperscan", "portable")."""
    if engine in ("auto", "hyperscan"):
        try:
            return HyperscanMatcher(needles, consumers)
        except ImportError:
            if engine == "hyperscan":
                raise
    return PortableMatcher(needles, consumers)


class LiteralSearch:
    """Whether any of a few exact (case-sensitive) literals occurs: one hyperscan pass where it loads
    (~0.1 s per GB), bytes.find otherwise. For keys that must be seen before a file is searched for needles
    (formats.may_hold_encoded); built lazily, once per process."""

    def __init__(self, patterns: Iterable[bytes]) -> None:
        self.patterns = [bytes(p) for p in patterns]
        self._database: Any = None
        self._scratch: Any = None
        self._portable = False

    def _build(self) -> None:
        try:
            import hyperscan
        except ImportError:
            self._portable = True
            return
        ids = list(range(len(self.patterns)))
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        database.compile(expressions=self.patterns, ids=ids, elements=len(ids), literal=True,
                         flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(ids))
        self._database, self._scratch = database, hyperscan.Scratch(database)

    def __call__(self, data: bytes | bytearray | memoryview) -> bool:
        if self._database is None and not self._portable:
            self._build()
        if self._portable:
            view = bytes(data) if isinstance(data, memoryview) else data
            return any(p in view for p in self.patterns)
        found: list[bool] = []

        def stop(*_args: object) -> bool:
            found.append(True)
            return True

        database: Any = self._database
        try:
            database.scan(bytes(data), match_event_handler=stop, scratch=self._scratch)
        except Exception as exc:  # hyperscan reports "scan terminated" as an error
            if not found:
                raise RuntimeError(f"hyperscan failed: {exc}") from exc
        return bool(found)
