"""Hostile input is refused or read in milliseconds: each bound timed with the input that once
took seconds or worse (issue 12, "work without bounds")."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from secretsmgr import sops
from secretsmgr.errors import DecryptionError, FormatError, TooLargeError
from secretsmgr.keys.age import (
    AGE_BODY_LINES_MAX,
    AGE_HEADER_MAX,
    AGE_STANZAS_MAX,
    AgeRecipient,
    check_age_file,
    generate_identity,
    parse_identities,
)
from secretsmgr.repo.settings import glob_to_regex
from secretsmgr.repo.sopsconfig import match_rule, parse_sops_config
from secretsmgr.sops.encvalue import parse_enc
from secretsmgr.sops.regex import compile_go
from secretsmgr.sops.tree import MapNode
from secretsmgr.sops.values import parse_typed
from secretsmgr.sops.yamlio import safe_load_all

FAST = 0.05  # seconds: each bound answers in a few milliseconds; the inputs once took seconds


def timed(fn: Callable[[], object]) -> tuple[float, BaseException | None]:
    """The CPU seconds ``fn`` took (best of three: the machine is shared), and what it raised."""
    best, error = float("inf"), None
    for _ in range(3):
        start = time.process_time()
        try:
            fn()
            error = None
        except Exception as exc:
            error = exc
        best = min(best, time.process_time() - start)
    return best, error


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
    # 20,000 digits: the old pattern took ~25 s (quadratic), this one ~15 ms
    elapsed, error = timed(lambda: parse_typed(b"1" * 20_000 + b"x", "float"))
    assert isinstance(error, FormatError) and elapsed < FAST
    elapsed, error = timed(lambda: parse_typed(b"1" * 5_000, "int"))
    assert isinstance(error, FormatError) and error.message == "int value out of range"


# ----------------------------------------------------------------------------- user regexes


def test_catastrophic_path_regex_takes_milliseconds(tmp_path: Path) -> None:
    # Python's re needs ~20 s for this on a 28-character name, doubling with each character.
    config = parse_sops_config(
        "creation_rules:\n  - path_regex: (a+)+b\n    age: age1x\n", tmp_path / ".sops.yaml"
    )
    name = tmp_path / ("a" * 28 + ".yaml")
    elapsed, _ = timed(lambda: match_rule(config, name))
    assert elapsed < FAST
    assert match_rule(config, name) is None
    elapsed, _ = timed(lambda: compile_go("(x+x+)+y").search("x" * 5000))
    assert elapsed < FAST


def test_catastrophic_glob_takes_milliseconds() -> None:
    glob = "*a*a*a*a*a*a*a*a*a*a*b"
    path = "a" * 200
    elapsed, _ = timed(lambda: glob_to_regex(glob).fullmatch(path))
    assert elapsed < FAST
    assert not glob_to_regex(glob).fullmatch(path)
    elapsed, _ = timed(lambda: glob_to_regex("**/**/**/**/**/x").fullmatch("a/" * 60 + "y"))
    assert elapsed < FAST


# ----------------------------------------------------------------------------- age files


def _armor(binary: bytes) -> str:
    b64 = base64.b64encode(binary).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "\n".join(["-----BEGIN AGE ENCRYPTED FILE-----", *lines, _END]) + "\n"


_END = "-----END AGE ENCRYPTED FILE-----"
_SECRET, _PUBLIC = generate_identity()
_IDENTITY = parse_identities(_SECRET, "test")
_REAL = AgeRecipient(_PUBLIC).wrap(b"k" * 32)
_BINARY = base64.b64decode("".join(_REAL.strip().splitlines()[1:-1]))
_VERSION = b"age-encryption.org/v1\n"


def _with_stanzas(extra: bytes) -> str:
    """The real age file with ``extra`` stanza lines in front of its own stanzas."""
    return _armor(_VERSION + extra + _BINARY[len(_VERSION) :])


def _body(lines: int) -> bytes:
    return b"A" * 64 * (lines - 1) + b"AAAA" if lines else b""


def _stanza_with_body(lines: int, arg: bytes = b"g") -> bytes:
    full = b"".join(b"A" * 64 + b"\n" for _ in range(lines - 1))
    return b"-> " + arg + b"\n" + full + b"AAAA\n"


HOSTILE = {
    # the reproductions: seconds to minutes in pyrage 1.4.0
    "71 KB stanza": _with_stanzas(_stanza_with_body(71_000 // 65)),
    "0.5 MB stanza": _with_stanzas(_stanza_with_body(500_000 // 65)),
    "1,000 tiny stanzas": _with_stanzas(b"".join(b"-> g%d\nAAAA\n" % i for i in range(1000))),
    # just past each bound, under the size limit
    "17 stanzas": _with_stanzas(b"".join(b"-> g%d\nAAAA\n" % i for i in range(16))),
    "25-line body": _with_stanzas(_stanza_with_body(25)),
    "4 KiB argument": _with_stanzas(_stanza_with_body(1, b"A" * 4100)),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_age_file_is_refused_in_milliseconds(name: str) -> None:
    elapsed, error = timed(lambda: _IDENTITY.unwrap(HOSTILE[name]))
    assert isinstance(error, FormatError), error
    assert elapsed < FAST


def test_the_bounds_name_what_is_over() -> None:
    messages = {}
    for name, armored in HOSTILE.items():
        with pytest.raises(FormatError) as info:
            check_age_file(armored)
        messages[name] = info.value.message
    assert messages == {
        "71 KB stanza": "age file is larger than 8 KiB",
        "0.5 MB stanza": "age file is larger than 8 KiB",
        "1,000 tiny stanzas": "age file is larger than 8 KiB",
        "17 stanzas": f"age header has more than {AGE_STANZAS_MAX} stanzas",
        "25-line body": f"age stanza 1 has a body over {AGE_BODY_LINES_MAX} lines",
        "4 KiB argument": f"age header is larger than {AGE_HEADER_MAX // 1024} KiB",
    }


@pytest.mark.parametrize(
    ("armored", "message"),
    [
        ("not armor", "not an ASCII-armored age file"),
        (_REAL.replace("\n", "", 2).replace("FILE-----", "FILE-----\n", 1), "age armor is not"),
        (_armor(b"age-encryption.org/v2\n"), "not an age v1 file"),
        (_with_stanzas(b"-> g\n" + b"A" * 64 + b"\n"), "age stanza 1 has a body line"),
        (_with_stanzas(b"-> g \x01\nAAAA\n"), "age stanza 1 has an empty or non-printable"),
        (_with_stanzas(b"-> g\nAA=A\n"), "age stanza 1 has a body line that is not base64"),
        (_armor(_VERSION + b"-> g\nAAAA\n"), "age header has no MAC line"),
        (_armor(_VERSION + b"--- " + b"A" * 43 + b"\n"), "age header has no stanza"),
        (_armor(_VERSION + b"-> g\nAAAA\n--- short\n"), "age header has a malformed MAC line"),
    ],
)
def test_a_malformed_age_file_is_refused_before_pyrage(armored: str, message: str) -> None:
    with pytest.raises(FormatError) as info:
        check_age_file(armored)
    assert info.value.message.startswith(message)


def test_the_largest_age_file_within_the_bounds_opens_quickly() -> None:
    worst = [
        _with_stanzas(_stanza_with_body(AGE_BODY_LINES_MAX, b"A" * 1500)),
        _with_stanzas(
            b"".join(_stanza_with_body(3, b"g%d" % i) for i in range(AGE_STANZAS_MAX - 2))
        ),
    ]
    for armored in worst:
        check_age_file(armored)
        elapsed, error = timed(lambda armored=armored: _IDENTITY.unwrap(armored))
        assert error is None
        assert elapsed < 0.25  # ~30 ms measured: pyrage's quadratic header parse, bounded
    assert _IDENTITY.unwrap(_REAL) == b"k" * 32


def test_decrypt_names_the_refused_age_entry() -> None:
    from secretsmgr.sops.model import AgeStanza, KeyGroup

    sf = sops.encrypt(
        [MapNode([("a", "b")])],
        fmt=sops.FileFormat.YAML,
        groups=[[AgeRecipient(_PUBLIC)]],
        rule=sops.EncryptionRule(),
    )
    good = sf.metadata.key_groups[0].age[0]
    hostile = AgeStanza(_PUBLIC, HOSTILE["0.5 MB stanza"])
    alone = replace(sf, metadata=replace(sf.metadata, key_groups=(KeyGroup(age=(hostile,)),)))
    elapsed, error = timed(lambda: sops.decrypt(alone, [_IDENTITY]))
    assert isinstance(error, DecryptionError) and elapsed < FAST
    assert error.message == (
        "could not recover the data key: no identity opens this file "
        "(age entry 1 refused: age file is larger than 8 KiB)"
    )
    # beside a good entry, the hostile one is skipped, as sops skips a key that fails
    both = replace(sf, metadata=replace(sf.metadata, key_groups=(KeyGroup(age=(hostile, good)),)))
    assert sops.decrypt(both, [_IDENTITY]).docs == [MapNode([("a", "b")])]


# ----------------------------------------------------------------------------- file size


@pytest.mark.parametrize(
    "load",
    [
        lambda text, **kw: sops.load(text, sops.FileFormat.YAML, **kw),
        lambda text, **kw: sops.parse_plain(text, sops.FileFormat.YAML, **kw),
        lambda text, **kw: sops.parse_plain(text, sops.FileFormat.JSON, **kw),
        lambda text, **kw: safe_load_all(text, **kw),
    ],
    ids=["load", "parse_plain", "parse_plain-json", "safe_load_all"],
)
def test_a_file_over_the_size_limit_is_refused_before_parsing(load: Callable[..., object]) -> None:
    huge = "a: " + "x" * sops.MAX_FILE_BYTES
    elapsed, error = timed(lambda: load(huge))
    assert isinstance(error, TooLargeError) and elapsed < FAST
    assert error.message == "the file is over the 64 MiB limit"
    # the limit is a parameter: a caller (a flag) raises or lowers it
    small = "a: " + "é" * 600
    elapsed, error = timed(lambda: load(small, max_bytes=1000))
    assert isinstance(error, TooLargeError)
    assert error.message == "the file has 1203 bytes, over the 1000 bytes limit"
    _, error = timed(lambda: load(small, max_bytes=2000))
    assert not isinstance(error, TooLargeError)  # under the limit: parsed (or refused as such)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # valid JSON past Python's own recursion limit: too deep, not malformed (the review)
        ('{"a": ' + "[" * 3000 + "]" * 3000 + "}", "nesting deeper than 200 levels"),
        ('{"a": ' + "[" * 300 + "]" * 300 + "}", "nesting deeper than 200 levels"),
        ('{"a": [1,\n}', "malformed JSON at line 2"),
    ],
)
def test_deep_json_is_called_too_deep_and_broken_json_malformed(text: str, message: str) -> None:
    from secretsmgr.errors import FormatError
    from secretsmgr.sops.jsonio import parse_json

    with pytest.raises(FormatError) as caught:
        parse_json(text)
    assert caught.value.message == message
