"""Parse and format ``ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]``."""

from __future__ import annotations

import base64
import binascii

from secretsmgr.errors import FormatError
from secretsmgr.sops.model import EncValue
from secretsmgr.sops.values import TYPE_NAMES

PREFIX = "ENC[AES256_GCM,data:"


def _fields(text: str) -> tuple[str, str, str, str] | None:
    """The four fields as sops's ``^ENC\\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\\]``
    captures them (Go: ``.`` stops at a newline, every group greedy), found right to left in
    linear time: a backtracking regex needs minutes on a crafted value of a few kilobytes."""
    if not text.startswith(PREFIX):
        return None
    line = text[len(PREFIX) :].split("\n", 1)[0]
    # Each separator is the last one that leaves every group after it at least one character.
    close = line.rfind("]")
    at_type = line.rfind(",type:", 0, max(close - 1, 0))
    at_tag = line.rfind(",tag:", 0, max(at_type - 1, 0))
    at_iv = line.rfind(",iv:", 0, max(at_tag - 1, 0))
    if min(close, at_type, at_tag) < 0 or at_iv < 1:
        return None
    return (
        line[:at_iv],
        line[at_iv + 4 : at_tag],
        line[at_tag + 5 : at_type],
        line[at_type + 6 : close],
    )


def is_enc(text: str) -> bool:
    """Whether ``text`` looks like an encrypted value (starts with the sops prefix)."""
    return text.startswith(PREFIX)


def parse_enc(text: str) -> EncValue:
    """Parse an ENC string; ``FormatError`` when it does not match sops's data format."""
    fields = _fields(text)
    if fields is None:
        raise FormatError("value does not match sops' data format")
    data_b64, iv_b64, tag_b64, type_name = fields
    try:
        data = base64.b64decode(data_b64, validate=True)
        iv = base64.b64decode(iv_b64, validate=True)
        tag = base64.b64decode(tag_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FormatError("value does not match sops' data format (bad base64)") from exc
    if type_name not in TYPE_NAMES:
        raise FormatError(f"unknown value type {type_name!r}")
    if len(tag) != 16 or not iv:
        raise FormatError("value does not match sops' data format (bad iv or tag)")
    return EncValue(data=data, iv=iv, tag=tag, type=type_name)


def format_enc(value: EncValue) -> str:
    """Render an ``EncValue`` as sops writes it."""
    b64 = base64.b64encode
    return (
        f"{PREFIX}{b64(value.data).decode()},iv:{b64(value.iv).decode()},"
        f"tag:{b64(value.tag).decode()},type:{value.type}]"
    )


def enc_type(text: str) -> str | None:
    """The ``type:`` of an ENC string without decoding it, or None if it does not parse."""
    fields = _fields(text)
    return fields[3] if fields else None
