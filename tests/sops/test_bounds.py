"""Hostile input is refused or read in milliseconds: each bound timed with the input that once
took seconds or worse (issue 12, "work without bounds")."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from secretsmgr.errors import FormatError
from secretsmgr.sops.encvalue import parse_enc
from secretsmgr.sops.values import parse_typed

FAST = 0.05  # seconds: every bound answers well inside this on a loaded 2-core machine


def timed(fn: Callable[[], object]) -> tuple[float, BaseException | None]:
    """Seconds ``fn`` took, and what it raised."""
    start = time.perf_counter()
    try:
        fn()
    except Exception as exc:
        return time.perf_counter() - start, exc
    return time.perf_counter() - start, None


@pytest.mark.parametrize(
    "value",
    [
        "ENC[AES256_GCM,data:" + ",iv:,tag:,type:x" * 20_000,  # minutes with a backtracking regex
        "ENC[AES256_GCM,data:" + ",iv:" * 20_000 + ",tag:" * 20_000,
        "ENC[AES256_GCM,data:" + "a" * 1_000_000,
    ],
)
def test_a_crafted_enc_value_is_refused_in_milliseconds(value: str) -> None:
    elapsed, error = timed(lambda: parse_enc(value))
    assert isinstance(error, FormatError)
    assert elapsed < FAST


def test_enc_fields_are_split_as_sops_splits_them() -> None:
    # greedy groups: the last separators that leave a non-empty field after them
    enc = parse_enc("ENC[AES256_GCM,data:QQ==,iv:QQ==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]")
    assert (enc.data, enc.iv, enc.type) == (b"A", b"A", "str")
    with pytest.raises(FormatError):
        parse_enc("ENC[AES256_GCM,data:QQ==,iv:QQ==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str\n]")


def test_a_long_float_or_int_value_is_refused_in_milliseconds() -> None:
    elapsed, error = timed(lambda: parse_typed(b"1" * 100_000 + b"x", "float"))
    assert isinstance(error, FormatError) and elapsed < FAST
    elapsed, error = timed(lambda: parse_typed(b"1" * 5_000, "int"))
    assert isinstance(error, FormatError) and error.message == "int value out of range"
