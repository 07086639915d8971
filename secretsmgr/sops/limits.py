"""How large a file secretsmgr reads: one limit, a parameter of every load function.

A SOPS file or manifest is a few kilobytes; a file over the limit is refused before it is
parsed, so a planted giant costs nothing. The limit is ``MAX_FILE_BYTES`` unless the run
raised it (``secretsmgr --max-file-size``, through ``set_max_file_bytes``); a caller may also
pass its own ``max_bytes``.
"""

from __future__ import annotations

import re
from contextvars import ContextVar

from secretsmgr.errors import TooLargeError, UsageError

MAX_FILE_BYTES = 64 * 1024 * 1024

_LIMIT: ContextVar[int] = ContextVar("max_file_bytes", default=MAX_FILE_BYTES)
_SIZE = re.compile(r"(\d{1,15})\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)", re.IGNORECASE)
_HINTS = ("to read it anyway: secretsmgr --max-file-size <size> …",)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def max_file_bytes() -> int:
    """The limit of this run."""
    return _LIMIT.get()


def set_max_file_bytes(max_bytes: int) -> None:
    """Set the limit for the rest of this run (and the processes it forks)."""
    _LIMIT.set(max_bytes)


def parse_size(text: str) -> int:
    """``"128MiB"``, ``"128M"``, ``"1g"`` or a byte count as bytes (units are powers of 1024)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise UsageError(
            f"--max-file-size {text!r}: not a size",
            hints=("give bytes or a size such as 128MiB or 1GiB",),
        )
    return int(match.group(1)) * _UNITS[match.group(2).lower()[:1]]


def is_too_large(size: int, max_bytes: int | None = None) -> bool:
    """Whether ``size`` bytes is over the limit."""
    return size > (max_file_bytes() if max_bytes is None else max_bytes)


def limit_text(max_bytes: int) -> str:
    """``64 MiB``, ``2 KiB``, or the byte count."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if max_bytes % size == 0:
            return f"{max_bytes // size} {unit}"
    return f"{max_bytes} bytes"


def check_size(size: int, max_bytes: int | None = None) -> None:
    """Refuse ``size`` bytes when over ``max_bytes`` (default: the run's limit)."""
    max_bytes = max_file_bytes() if max_bytes is None else max_bytes
    if size > max_bytes:
        raise TooLargeError(
            f"the file has {size} bytes, over the {limit_text(max_bytes)} limit", hints=_HINTS
        )


def check_text_size(text: str, max_bytes: int | None = None) -> None:
    """Refuse ``text`` when its UTF-8 encoding is over ``max_bytes`` (default: the run's limit;
    encoded only when it could be: a character is at most 4 bytes)."""
    max_bytes = max_file_bytes() if max_bytes is None else max_bytes
    if len(text) > max_bytes:  # bytes >= characters: no need to count them
        raise TooLargeError(f"the file is over the {limit_text(max_bytes)} limit", hints=_HINTS)
    if len(text) * 4 > max_bytes:
        size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        check_size(size, max_bytes)
