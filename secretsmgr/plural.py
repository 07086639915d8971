"""Counted nouns for messages: ``1 file``, ``2 files``; never ``file(s)``."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 error``, ``2 errors`` (or ``many`` when the plural is irregular)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"
