"""How large a file secretsmgr reads: one limit, a parameter of every load function.

A SOPS file or manifest is a few kilobytes; a file over the limit is refused before it is
parsed, so a planted giant costs nothing. Callers pass a larger ``max_bytes`` when a user asks
for it (a command-line flag).
"""

from __future__ import annotations

from secretsmgr.errors import TooLargeError

MAX_FILE_BYTES = 64 * 1024 * 1024


def _limit(max_bytes: int) -> str:
    mib, rest = divmod(max_bytes, 1024 * 1024)
    return f"{mib} MiB" if not rest else f"{max_bytes} bytes"


def check_size(size: int, max_bytes: int = MAX_FILE_BYTES) -> None:
    """Refuse ``size`` bytes when over ``max_bytes``."""
    if size > max_bytes:
        raise TooLargeError(f"the file has {size} bytes, over the {_limit(max_bytes)} limit")


def check_text_size(text: str, max_bytes: int = MAX_FILE_BYTES) -> None:
    """Refuse ``text`` when its UTF-8 encoding is over ``max_bytes`` (encoded only when it
    could be: a character is at most 4 bytes)."""
    if len(text) > max_bytes:  # bytes >= characters: no need to count them
        raise TooLargeError(f"the file is over the {_limit(max_bytes)} limit")
    if len(text) * 4 > max_bytes:
        size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        check_size(size, max_bytes)
