"""Go regular expressions, as sops compiles them, through RE2 itself.

sops compiles every user regex (``.sops.yaml`` ``path_regex``, the ``*_regex`` encryption rules in
``.sops.yaml`` and in a file's metadata) with Go's ``regexp``, which is RE2 syntax and RE2
semantics: linear time, no backreferences or lookaround, ``$`` at the end of the text only, and
``\\w``/``\\d``/``\\s``/``\\b`` ASCII-only. Python's ``re`` differs on all of these, and rejects
valid RE2 such as ``((?i)talos|kubernetes)/.*`` ("global flags not at the start"). So the
patterns go through the ``google-re2`` package (imported on first use: ``check`` starts fast).

The one syntax RE2 accepts and Go refuses is ``\\C`` (any byte); it is refused here too.
Unicode script names follow RE2's tables, which may know a script newer than the Go that built
sops (Unicode 15.0 for Go 1.21–1.25).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from secretsmgr.errors import FormatError

_MEMO_LIMIT = 4096  # answers remembered per pattern (keys repeat: data, stringData, name…)


class GoRegex:
    """A compiled Go/RE2 pattern: ``search`` (unanchored, as sops matches) and ``fullmatch``."""

    __slots__ = ("_compiled", "_memo", "pattern")

    def __init__(self, pattern: str, compiled: Any) -> None:
        self.pattern = pattern
        self._compiled = compiled
        self._memo: dict[str, bool] = {}

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text`` (Go's ``MatchString``)."""
        hit = self._memo.get(text)
        if hit is None:
            hit = self._compiled.search(_as_go_reads(text)) is not None
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[text] = hit
        return hit

    def fullmatch(self, text: str) -> bool:
        """Whether the pattern matches the whole of ``text``."""
        return bool(self._compiled.fullmatch(_as_go_reads(text)) is not None)

    def __repr__(self) -> str:
        return f"GoRegex({self.pattern!r})"


# a byte that is no UTF-8 (a file name's, kept as a lone surrogate by ``surrogateescape``)
_UNDECODED = {code: "\ufffd" for code in range(0xDC80, 0xDD00)}


def _as_go_reads(text: str) -> str:
    """``text`` as Go's ``regexp`` sees it: each byte that is no UTF-8 reads as U+FFFD (RE2 here
    would refuse the surrogate ``surrogateescape`` keeps it as)."""
    if text.isascii():
        return text
    return text.translate(_UNDECODED)


def _go_only_error(pattern: str) -> str | None:
    r"""What Go refuses that RE2 accepts: ``\C`` outside ``\Q…\E``."""
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i] != "\\":
            i += 1
            continue
        nxt = pattern[i + 1 : i + 2]
        if nxt == "Q":
            end = pattern.find("\\E", i + 2)
            if end < 0:
                return None
            i = end + 2
            continue
        if nxt == "C":
            return "invalid escape sequence: \\C"
        i += 2
    return None


@lru_cache(maxsize=512)
def compile_go(pattern: str) -> GoRegex:
    """Compile ``pattern`` as Go's ``regexp.Compile`` would; ``FormatError`` naming why not.

    The message names the construct RE2 refused (for example ``invalid perl operator: (?=``),
    which is part of the pattern, never of a file's values.
    """
    problem = _go_only_error(pattern)
    if problem is not None:
        raise FormatError(problem)
    import re2  # google-re2: imported on first use, ~15 ms

    options = re2.Options()
    options.log_errors = False  # RE2 would write the error to stderr itself
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else b"invalid pattern"
        text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        raise FormatError(text) from exc
    return GoRegex(pattern, compiled)


def escape(text: str) -> str:
    """``text`` as a pattern matching itself: every ASCII punctuation character escaped."""
    return "".join(
        "\\" + ch if ch.isascii() and not ch.isalnum() and ch != "_" else ch for ch in text
    )
