"""The ENC[AES256_GCM,...] codec (spec §2): format(parse(x)) == x, and what it refuses."""

from __future__ import annotations

import base64
import re

import pytest
from conftest import VECTORS
from hypothesis import given
from hypothesis import strategies as st

from secretsmgr.errors import FormatError
from secretsmgr.sops.encvalue import enc_type, format_enc, is_enc, parse_enc
from secretsmgr.sops.model import EncValue
from secretsmgr.sops.values import TYPE_NAMES

ENC_IN_TEXT = re.compile(r"ENC\[AES256_GCM,[^\]\s\"]*\]")

enc_values = st.builds(
    EncValue,
    data=st.binary(min_size=1, max_size=64),
    iv=st.binary(min_size=32, max_size=32),
    tag=st.binary(min_size=16, max_size=16),
    type=st.sampled_from(TYPE_NAMES),
)


def vector_enc_strings() -> list[str]:
    found: set[str] = set()
    for path in sorted(VECTORS.glob("*/file.enc.*")):
        if path.parent.name != "malformed-enc":
            found.update(ENC_IN_TEXT.findall(path.read_text(encoding="utf-8")))
    return sorted(found)


def test_every_enc_string_sops_wrote_round_trips() -> None:
    strings = vector_enc_strings()
    assert len(strings) > 40
    for text in strings:
        value = parse_enc(text)
        assert format_enc(value) == text
        assert len(value.iv) == 32
        assert len(value.tag) == 16
        assert enc_type(text) == value.type


@given(enc_values)
def test_parse_of_format_is_identity(value: EncValue) -> None:
    text = format_enc(value)
    assert is_enc(text)
    assert parse_enc(text) == value
    assert format_enc(parse_enc(text)) == text


@given(st.binary(min_size=1, max_size=32), st.binary(min_size=1, max_size=64))
def test_any_iv_length_is_read(data: bytes, iv: bytes) -> None:
    """sops decrypts with whatever IV length it finds (12-byte IVs were verified)."""
    value = EncValue(data=data, iv=iv, tag=bytes(16), type="str")
    assert parse_enc(format_enc(value)) == value


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


GOOD = f"ENC[AES256_GCM,data:{_b64(b'x')},iv:{_b64(bytes(32))},tag:{_b64(bytes(16))},type:str]"


@pytest.mark.parametrize(
    "text",
    [
        GOOD.replace(",tag:", ""),  # the malformed-enc vector's break
        GOOD.replace("AES256_GCM", "AES128_GCM"),
        GOOD.replace("type:str", "type:uint"),
        GOOD.replace("type:str", "type:"),
        GOOD[:-1],
        GOOD.replace(_b64(bytes(16)), _b64(bytes(15))),
        GOOD.replace(_b64(b"x"), "!!!"),
        GOOD.replace(f"data:{_b64(b'x')}", "data:"),
        "ENC[AES256_GCM,data:garbage",
        "enc[AES256_GCM,data:eA==,iv:x,tag:y,type:str]",
        "",
    ],
)
def test_parse_refuses(text: str) -> None:
    with pytest.raises(FormatError):
        parse_enc(text)


def test_is_enc_only_looks_at_the_prefix() -> None:
    assert is_enc("ENC[AES256_GCM,data:")
    assert not is_enc(" ENC[AES256_GCM,data:x")
    assert not is_enc("ENC[AES256_GCM,")
