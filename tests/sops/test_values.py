"""go-yaml scalar resolution (spec §7.1) and the bytes each type encrypts to (spec §2.1)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secretsmgr.errors import FormatError
from secretsmgr.sops.values import (
    Comment,
    Timestamp,
    format_float_fixed,
    format_float_g,
    format_float_json,
    needs_quotes,
    parse_rfc3339,
    parse_timestamp,
    parse_typed,
    resolve_plain,
    resolve_tagged,
    serialize,
)

from .strategies import timestamps

finite = st.floats(allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # the table of the brief / spec §7.1
        ("0777", 511),
        ("1_000", 1000),
        ("0x1F", 31),
        ("yes", "yes"),
        ("2001-12-14 21:59:43.10 -5", "2001-12-14 21:59:43.10 -5"),
        ("2024-01-02", Timestamp("2024-01-02T00:00:00Z")),
        ("1e400", "1e400"),
        # more
        ("~", None),
        ("null", None),
        ("Null", None),
        ("NULL", None),
        ("true", True),
        ("FALSE", False),
        ("tRue", "tRue"),
        ("on", "on"),
        ("n", "n"),
        ("-0777", -511),
        ("0o17", 15),
        ("0b101", 5),
        ("+12", 12),
        ("-9223372036854775808", -(2**63)),
        ("9223372036854775807", 2**63 - 1),
        ("0x", "0x"),
        ("1:20", "1:20"),
        ("abc", "abc"),
        ("2001-12-14t21:59:43.10-05:00", Timestamp("2001-12-14T21:59:43.1-05:00")),
        ("2001-12-14 21:59:43.10", Timestamp("2001-12-14T21:59:43.1Z")),
        ("2024-01-02T03:04:05+00:00", Timestamp("2024-01-02T03:04:05Z")),
        ("2024-02-30", "2024-02-30"),
        ("2023-02-29", "2023-02-29"),
        ("2024-02-29", Timestamp("2024-02-29T00:00:00Z")),
    ],
)
def test_resolve_plain(text: str, value: object) -> None:
    result = resolve_plain(text)
    assert type(result) is type(value)
    assert result == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("08", 8.0),
        ("09", 9.0),
        ("1.5", 1.5),
        ("1.", 1.0),
        (".5", 0.5),
        ("-.5", -0.5),
        ("1e3", 1000.0),
        ("1_0.5", 10.5),
        ("18446744073709551616", 1.8446744073709552e19),
        (".inf", math.inf),
        ("+.Inf", math.inf),
        ("-.INF", -math.inf),
    ],
)
def test_resolve_plain_floats(text: str, value: float) -> None:
    result = resolve_plain(text)
    assert isinstance(result, float)
    assert result == value


def test_resolve_plain_nan() -> None:
    for text in (".nan", ".NaN", ".NAN"):
        result = resolve_plain(text)
        assert isinstance(result, float)
        assert math.isnan(result)


@pytest.mark.parametrize(
    "text", ["9223372036854775808", "18446744073709551615", "0xFFFFFFFFFFFFFFFF"]
)
def test_resolve_plain_refuses_uint64(text: str) -> None:
    with pytest.raises(FormatError):
        resolve_plain(text)


@pytest.mark.parametrize(
    ("text", "tag", "value"),
    [
        ("1", "!!str", "1"),
        ("1", "tag:yaml.org,2002:float", 1.0),
        ("aGk=", "!!binary", "hi"),
        ("2024-01-02", "!!timestamp", Timestamp("2024-01-02T00:00:00Z")),
        ("true", "!!bool", True),
    ],
)
def test_resolve_tagged(text: str, tag: str, value: object) -> None:
    result = resolve_tagged(text, tag)
    assert type(result) is type(value)
    assert result == value


@pytest.mark.parametrize(("text", "tag"), [("x", "!!int"), ("x", "!!merge"), ("%%", "!!binary")])
def test_resolve_tagged_refuses(text: str, tag: str) -> None:
    with pytest.raises(FormatError):
        resolve_tagged(text, tag)


# ----------------------------------------------------------------------------- floats


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.75, "0.75"),
        (1e21, "1000000000000000000000"),
        (1e-7, "0.0000001"),
        (-0.0, "-0"),
        (0.0, "0"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
        (123456789.0, "123456789"),
        (0.1, "0.1"),
        (-2.5e-5, "-0.000025"),
        (4.138677968700217e16, "41386779687002170"),
    ],
)
def test_format_float_fixed(value: float, text: str) -> None:
    assert format_float_fixed(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e20, "1e+20"),
        (1000000.0, "1e+06"),
        (100000.0, "100000"),
        (0.00001, "1e-05"),
        (0.0001, "0.0001"),
        (123456789.0, "1.23456789e+08"),
        (2.0, "2"),
        (-1.5, "-1.5"),
        (1e21, "1e+21"),
        (-1.5e-7, "-1.5e-07"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (5e-324, "5e-324"),
        (-0.0, "-0"),
        (math.inf, ".inf"),
        (-math.inf, "-.inf"),
        (math.nan, ".nan"),
    ],
)
def test_format_float_g_as_go_yaml(value: float, text: str) -> None:
    assert format_float_g(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.5, "0.5"),
        (5432.0, "5432"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (1e300, "1e+300"),
        (-0.0, "-0"),
    ],
)
def test_format_float_json(value: float, text: str) -> None:
    assert format_float_json(value) == text


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_format_float_json_refuses_non_finite(value: float) -> None:
    with pytest.raises(FormatError):
        format_float_json(value)


@given(finite)
def test_float_formats_round_trip(value: float) -> None:
    for fmt in (format_float_fixed, format_float_g, format_float_json):
        assert float(fmt(value)) == value
    assert "e" not in format_float_fixed(value)


@given(finite)
def test_go_yaml_float_text_resolves_back(value: float) -> None:
    """What go-yaml prints reads back as the same number (an int when it prints no fraction)."""
    back = resolve_plain(format_float_g(value))
    assert isinstance(back, int | float) and not isinstance(back, bool)
    assert back == value
    assert isinstance(back, int) == (value.is_integer() and abs(value) < 1e6)


# ----------------------------------------------------------------------------- typed plaintext


@pytest.mark.parametrize(
    ("value", "plain", "type_name"),
    [
        ("héllo", "héllo".encode(), "str"),
        (True, b"True", "bool"),
        (False, b"False", "bool"),
        (-42, b"-42", "int"),
        (2.0, b"2", "float"),
        (1e21, b"1000000000000000000000", "float"),
        (Timestamp("2030-01-02T00:00:00Z"), b"2030-01-02T00:00:00Z", "time"),
        (Comment(" note"), b" note", "comment"),
    ],
)
def test_serialize(value: object, plain: bytes, type_name: str) -> None:
    assert serialize(value) == (plain, type_name)  # type: ignore[arg-type]
    assert parse_typed(plain, type_name) == value


def test_serialize_refuses_null() -> None:
    with pytest.raises(FormatError):
        serialize(None)


@pytest.mark.parametrize(
    ("plain", "type_name", "value"),
    [
        (b"1", "bool", True),
        (b"t", "bool", True),
        (b"F", "bool", False),
        (b"+5", "int", 5),
        (b"1e3", "float", 1000.0),
        (b"+Inf", "float", math.inf),
        (b"-0", "float", -0.0),
        (b"2001-12-14T21:59:43.1-05:00", "time", Timestamp("2001-12-14T21:59:43.1-05:00")),
        (b"raw", "bytes", "raw"),
    ],
)
def test_parse_typed_accepts_go_spellings(plain: bytes, type_name: str, value: object) -> None:
    result = parse_typed(plain, type_name)
    assert type(result) is type(value)
    assert result == value


@pytest.mark.parametrize(
    ("plain", "type_name"),
    [
        (b"yes", "bool"),
        (b"1.0", "int"),
        (b"9223372036854775808", "int"),
        (b"x", "float"),
        (b"2024-01-02", "time"),
        (b"x", "uint"),
        (b"\xff", "comment"),
    ],
)
def test_parse_typed_refuses(plain: bytes, type_name: str) -> None:
    with pytest.raises(FormatError):
        parse_typed(plain, type_name)


def test_a_str_that_is_not_utf8_comes_back_byte_for_byte() -> None:
    # a binary-store file's content (a keystore, a keytab): sops keeps any bytes there
    raw = b"\xff\xfe\x00ks\x80"
    value = parse_typed(raw, "str")
    assert isinstance(value, str) and serialize(value) == (raw, "str")


@given(timestamps())
def test_timestamp_texts_are_canonical(ts: Timestamp) -> None:
    assert parse_rfc3339(ts.text) == ts
    assert parse_timestamp(ts.text) == ts
    assert parse_typed(serialize(ts)[0], "time") == ts


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("yes", True),
        ("n", True),
        ("1:20", True),
        ("42", True),
        ("1.0", True),
        ("true", True),
        ("null", True),
        ("", True),
        ("2024-01-02", True),
        ("abc", False),
        ("a b", False),
        ("tRue", False),
    ],
)
def test_needs_quotes(text: str, quoted: bool) -> None:
    assert needs_quotes(text) is quoted
