"""Parse and format ``ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]``."""

from __future__ import annotations

import base64
import binascii
import re

from secretsmgr.errors import FormatError
from secretsmgr.sops.model import EncValue
from secretsmgr.sops.values import TYPE_NAMES

PREFIX = "ENC[AES256_GCM,data:"
# Same shape as sops's own matcher: anchored at the start, greedy fields.
_ENC = re.compile(r"ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]", re.DOTALL)


def is_enc(text: str) -> bool:
    """Whether ``text`` looks like an encrypted value (starts with the sops prefix)."""
    return text.startswith(PREFIX)


def parse_enc(text: str) -> EncValue:
    """Parse an ENC string; ``FormatError`` when it does not match sops's data format."""
    m = _ENC.match(text)
    if m is None:
        raise FormatError("value does not match sops' data format")
    try:
        data = base64.b64decode(m[1], validate=True)
        iv = base64.b64decode(m[2], validate=True)
        tag = base64.b64decode(m[3], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FormatError("value does not match sops' data format (bad base64)") from exc
    if m[4] not in TYPE_NAMES:
        raise FormatError(f"unknown value type {m[4]!r}")
    if len(tag) != 16 or not iv:
        raise FormatError("value does not match sops' data format (bad iv or tag)")
    return EncValue(data=data, iv=iv, tag=tag, type=m[4])


def format_enc(value: EncValue) -> str:
    """Render an ``EncValue`` as sops writes it."""
    b64 = base64.b64encode
    return (
        f"{PREFIX}{b64(value.data).decode()},iv:{b64(value.iv).decode()},"
        f"tag:{b64(value.tag).decode()},type:{value.type}]"
    )


def enc_type(text: str) -> str | None:
    """The ``type:`` of an ENC string without decoding it, or None if it does not parse."""
    m = _ENC.match(text)
    return m[4] if m else None
