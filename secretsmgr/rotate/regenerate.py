"""New random secret values that look like the old ones (same length, same alphabet class)."""

from __future__ import annotations

import secrets
import string

from secretsmgr.errors import UsageError

# Smallest class first: a value is regenerated from the first class holding all its characters.
ALPHABETS: tuple[tuple[str, str], ...] = (
    ("digits", string.digits),
    ("hex", "0123456789abcdef"),
    ("HEX", "0123456789ABCDEF"),
    ("lower-alnum", string.ascii_lowercase + string.digits),
    ("alnum", string.ascii_letters + string.digits),
    ("base64url", string.ascii_letters + string.digits + "-_"),
    ("base64", string.ascii_letters + string.digits + "+/="),
    ("printable", "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "\"'\\`$")),
)


def alphabet_for(value: str) -> tuple[str, str]:
    """The (name, characters) of the smallest class that holds every character of ``value``."""
    used = set(value)
    for name, chars in ALPHABETS:
        if used <= set(chars):
            return name, chars
    return ALPHABETS[5]


def regenerate(value: object, where: str) -> str:
    """A fresh random string shaped like ``value``; never equal to it."""
    if not isinstance(value, str) or not value:
        raise UsageError(f"{where}: only non-empty string values can be regenerated")
    _name, chars = alphabet_for(value)
    if value.endswith("=") and set(value) <= set(ALPHABETS[6][1]):
        body = value.rstrip("=")
        pad = value[len(body) :]
        chars = ALPHABETS[6][1].replace("=", "")
    else:
        body, pad = value, ""
    while True:
        fresh = "".join(secrets.choice(chars) for _ in body) + pad
        if fresh != value:
            return fresh
