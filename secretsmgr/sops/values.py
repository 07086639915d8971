"""Scalar values as sops sees them: go-yaml v3 resolution, and the bytes each type encrypts to.

sops reads YAML with go-yaml v3, whose resolver differs from ruamel's (legacy octal, ``08`` as a
float, timestamps with offsets, YAML 1.1 booleans as strings). The MAC covers the *resolved*
value of every unencrypted scalar, so this module reimplements that resolver; a different answer
here is a MAC mismatch in the real sops.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass
from decimal import Decimal

from secretsmgr.errors import FormatError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1


@dataclass(frozen=True, slots=True)
class Timestamp:
    """A go-yaml timestamp, held as its canonical RFC 3339 text (nanoseconds, trimmed)."""

    text: str


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment line; ``text`` is everything after ``#``, verbatim."""

    text: str


Scalar = str | int | float | bool | Timestamp | None

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_INF = frozenset({".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})
_NEG_INF = frozenset({"-.inf", "-.Inf", "-.INF"})
_NAN = frozenset({".nan", ".NaN", ".NAN"})
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
# YAML 1.1 spellings that go-yaml v3 reads as strings but quotes when writing.
OLD_BOOLS = frozenset(
    [
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "on",
        "On",
        "ON",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "off",
        "Off",
        "OFF",
    ]
)
_BASE60_FLOAT = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")

_TS_DATE = r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
_TS_TIME = r"(?P<h>[0-9]{1,2}):(?P<mi>[0-9]{1,2}):(?P<s>[0-9]{1,2})(?:\.(?P<f>[0-9]+))?"
_TS_RFC = re.compile(_TS_DATE + r"[Tt]" + _TS_TIME + r"(?P<z>Z|[+-][0-9]{2}:[0-9]{2})")
_TS_SPACE = re.compile(_TS_DATE + r" " + _TS_TIME)
_TS_DATE_ONLY = re.compile(_TS_DATE)
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _timestamp(m: re.Match[str], zone: str) -> Timestamp | None:
    year, month, day = int(m["y"]), int(m["mo"]), int(m["d"])
    if not 1 <= month <= 12 or day < 1:
        return None
    if day > _DAYS[month - 1] or (month == 2 and day == 29 and not _is_leap(year)):
        return None
    groups = m.groupdict()
    hour = int(groups.get("h") or 0)
    minute = int(groups.get("mi") or 0)
    second = int(groups.get("s") or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    frac = groups.get("f") or ""
    if len(frac) > 9:
        return None
    frac = frac.rstrip("0")
    if zone in ("Z", "+00:00", "-00:00"):
        zone = "Z"
    else:
        zh, zm = int(zone[1:3]), int(zone[4:6])
        if zh > 23 or zm > 59:
            return None
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if frac:
        text += "." + frac
    return Timestamp(text + zone)


def parse_timestamp(text: str) -> Timestamp | None:
    """Parse ``text`` as go-yaml v3 does for an unquoted scalar; None when it is no timestamp."""
    if len(text) < 5 or not text[:4].isdigit() or text[4] != "-":
        return None
    if m := _TS_RFC.fullmatch(text):
        return _timestamp(m, m["z"])
    if m := _TS_SPACE.fullmatch(text):
        return _timestamp(m, "Z")
    if m := _TS_DATE_ONLY.fullmatch(text):
        return _timestamp(m, "Z")
    return None


def parse_rfc3339(text: str) -> Timestamp | None:
    """Parse an RFC 3339 time (``type:time`` plaintext, ``lastmodified``)."""
    m = _TS_RFC.fullmatch(text)
    if m is None or len(m["mo"]) != 2 or len(m["d"]) != 2 or len(m["h"]) != 2:
        return None
    return _timestamp(m, m["z"])


def _go_parse_int(text: str) -> int | None:
    """strconv.ParseInt/ParseUint with base 0 (sign, 0x/0o/0b prefixes, legacy octal)."""
    sign = 1
    body = text
    if body[:1] in ("+", "-"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if not body or len(body) > 80:  # longer never fits 64 bits (and Python caps int parsing)
        return None
    base = 10
    digits = body
    low = body[:2].lower()
    if low in ("0x", "0o", "0b"):
        base = {"0x": 16, "0o": 8, "0b": 2}[low]
        digits = body[2:]
    elif len(body) > 1 and body[0] == "0":
        base = 8
        digits = body[1:]
    if not digits or not all(
        c in "0123456789abcdefABCDEF"[: base + (6 if base == 16 else 0)] for c in digits
    ):
        return None
    return sign * int(digits, base)


def resolve_plain(text: str) -> Scalar:
    """Resolve an unquoted, untagged YAML scalar the way go-yaml v3 does.

    Raises ``FormatError`` for integers above int64 that fit uint64, which sops rejects.
    """
    if text in _NULLS:
        return None
    first = text[0]
    if first in "tTfF":
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        return text
    if first == ".":
        if text in _INF:
            return math.inf
        if text in _NAN:
            return math.nan
        if _YAML_FLOAT.fullmatch(text):
            return float(text)
        return text
    if first == "+" or first == "-" or first.isdigit():
        if first == "+" and text in _INF:
            return math.inf
        if first == "-" and text in _NEG_INF:
            return -math.inf
        if first.isdigit() and (ts := parse_timestamp(text)) is not None:
            return ts
        plain = text.replace("_", "")
        value = _go_parse_int(plain)
        if value is not None:
            if INT64_MIN <= value <= INT64_MAX:
                return value
            if 0 <= value <= UINT64_MAX:
                raise FormatError("integer above int64 is not supported by sops")
        if _YAML_FLOAT.fullmatch(plain):
            number = float(plain)
            # Go's ParseFloat reports overflow as an error, and go-yaml then keeps the string.
            return text if math.isinf(number) else number
        return text
    return text


def resolve_tagged(text: str, tag: str) -> Scalar:
    """Resolve a scalar that carries an explicit ``!!`` tag."""
    short = tag.removeprefix("tag:yaml.org,2002:").removeprefix("!!")
    if short == "str":
        return text
    if short == "binary":
        try:
            return base64.b64decode("".join(text.split()), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise FormatError("malformed !!binary scalar") from exc
    if short == "merge":
        if text != "<<":
            raise FormatError(f"!!merge on {text!r}: only the key << takes that tag")
        return text  # sops writes every << key so: a literal key, never merged
    value = resolve_plain(text)
    expected = {"int": int, "float": float, "bool": bool, "null": type(None)}.get(short)
    if short == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if short == "timestamp":
        ts = parse_timestamp(text)
        if ts is None:
            raise FormatError("malformed !!timestamp scalar")
        return ts
    if expected is not None and not isinstance(value, expected):
        raise FormatError(f"scalar does not match its !!{short} tag")
    return value


def format_float_fixed(value: float) -> str:
    """Go ``strconv.FormatFloat(x, 'f', -1, 64)``: shortest digits, never an exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    return format(Decimal(repr(value)).normalize(), "f")


def format_float_g(value: float) -> str:
    """Go ``strconv.FormatFloat(x, 'g', -1, 64)`` as go-yaml prints floats (.inf, .nan)."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    digits, exp = _shortest(value)
    # Go uses precision 6 for the %e-or-%f decision when printing the shortest digits.
    if exp < -4 or exp >= 6:
        return _exp_form(value, digits, exp)
    return format_float_fixed(value)


def format_float_json(value: float) -> str:
    """Go encoding/json float64 formatting ('f' in [1e-6, 1e21), else 'e' without padding)."""
    if math.isnan(value) or math.isinf(value):
        raise FormatError("NaN and infinity cannot be written to JSON")
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    if 1e-6 <= abs(value) < 1e21:
        return format_float_fixed(value)
    digits, exp = _shortest(value)
    return _exp_form(value, digits, exp).replace("e-0", "e-").replace("e+0", "e+")


def _shortest(value: float) -> tuple[str, int]:
    _sign, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    assert isinstance(exponent, int)
    return digits, exponent + len(digits) - 1


def _exp_form(value: float, digits: str, exp: int) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if value < 0 else ""
    esign = "-" if exp < 0 else "+"
    return f"{sign}{mantissa}e{esign}{abs(exp):02d}"


TYPE_NAMES = ("str", "int", "float", "bool", "time", "comment", "bytes")


def serialize(value: Scalar | Comment) -> tuple[bytes, str]:
    """Return the plaintext bytes and ``type:`` name sops uses for ``value``."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape"), "str"
    if isinstance(value, bool):
        return (b"True" if value else b"False"), "bool"
    if isinstance(value, int):
        return str(value).encode("ascii"), "int"
    if isinstance(value, float):
        return format_float_fixed(value).encode("ascii"), "float"
    if isinstance(value, Timestamp):
        return value.text.encode("ascii"), "time"
    if isinstance(value, Comment):
        return value.text.encode("utf-8"), "comment"
    raise FormatError("null values are never encrypted")


def mac_bytes(value: Scalar) -> bytes:
    """The bytes a leaf contributes to the MAC."""
    return serialize(value)[0]


_GO_BOOL = {
    "1": True,
    "t": True,
    "T": True,
    "TRUE": True,
    "true": True,
    "True": True,
    "0": False,
    "f": False,
    "F": False,
    "FALSE": False,
    "false": False,
    "False": False,
}
# One way to match each string (no two digit runs side by side): linear, even on a long value.
_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9](?:_?[0-9])*)?(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
    re.IGNORECASE,
)


def parse_typed(data: bytes, type_name: str) -> Scalar | Comment:
    """Turn decrypted bytes back into a value, as sops parses each ``type:``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if type_name == "bytes":
            return data.decode("latin-1")
        if type_name == "str":  # a binary-store file's content: kept byte for byte
            return data.decode("utf-8", "surrogateescape")
        raise FormatError("decrypted value is not valid UTF-8") from exc
    if type_name in ("str", "bytes"):
        return text
    if type_name == "comment":
        return Comment(text)
    if type_name == "int":
        body = text[1:] if text[:1] == "+" else text
        if not body.lstrip("-").isdigit() or body.count("-") > 1:
            raise FormatError("malformed int value")
        if len(body) > 20:  # longer never fits int64 (and Python refuses > 4300 digits)
            raise FormatError("int value out of range")
        value = int(body)
        if not INT64_MIN <= value <= INT64_MAX:
            raise FormatError("int value out of range")
        return value
    if type_name == "float":
        if not text or _GO_FLOAT.fullmatch(text) is None:
            raise FormatError("malformed float value")
        try:
            return float(text.replace("_", ""))
        except ValueError as exc:
            raise FormatError("malformed float value") from exc
    if type_name == "bool":
        if text not in _GO_BOOL:
            raise FormatError("malformed bool value")
        return _GO_BOOL[text]
    if type_name == "time":
        ts = parse_rfc3339(text)
        if ts is None:
            raise FormatError("malformed time value")
        return ts
    raise FormatError(f"unknown value type {type_name!r}")


def needs_quotes(text: str) -> bool:
    """True when go-yaml v3 would double-quote ``text`` because it reads as another type."""
    if text == "":
        return True
    if text in OLD_BOOLS or text == "<<" or _BASE60_FLOAT.fullmatch(text):
        return True
    try:
        return not isinstance(resolve_plain(text), str)
    except FormatError:
        return True
