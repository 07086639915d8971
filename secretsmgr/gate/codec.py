"""Plain frozen dataclasses <-> JSON data, driven by their type hints and strictly validated.

The blob cache stores detector hits and layer graphs with this codec. Decoding accepts exactly
what the hints describe (every field present, no extra key, each value of its declared type) and
raises ``CodecError`` on anything else, so a damaged or foreign cache is refused, never trusted.
A type the codec does not know (a callable, ``Any``, a mapping) is refused as well: such a model
is simply not cached.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from enum import Enum
from functools import cache
from types import MappingProxyType
from typing import Any, Union


class CodecError(ValueError):
    """Data that does not match the model it claims to be."""


@cache
def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except (NameError, TypeError) as exc:
        raise CodecError(f"{cls.__name__}: unresolvable type hints") from exc


def encode(value: object) -> object:
    """A JSON-able form of ``value`` (dataclasses by field, sets sorted, enums by value)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise CodecError("mapping keys must be strings")
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted((encode(v) for v in value), key=repr)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise CodecError(f"cannot encode {type(value).__name__}")


def decode(hint: Any, data: object) -> Any:
    """``data`` as an instance of ``hint``; ``CodecError`` unless it matches exactly."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is type(None):
        if data is not None:
            raise CodecError("expected null")
        return None
    if origin in (Union, types.UnionType):
        for option in args:
            try:
                return decode(option, data)
            except CodecError:
                continue
        raise CodecError(f"no member of {hint} matches")
    if hint in (str, int, float):
        if type(data) is not hint and not (hint is float and type(data) is int):
            raise CodecError(f"expected {hint.__name__}")
        return data
    if hint is bool:
        if type(data) is not bool:
            raise CodecError("expected bool")
        return data
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(data)
        except ValueError as exc:
            raise CodecError(f"not a {hint.__name__}") from exc
    if origin in (Mapping, dict):
        if not isinstance(data, dict) or args[0] is not str:
            raise CodecError("expected an object")
        return MappingProxyType({k: decode(args[1], v) for k, v in data.items()})
    if origin in (tuple, frozenset):
        if not isinstance(data, list):
            raise CodecError("expected a list")
        if args[0] is str and all(type(v) is str for v in data):
            if origin is frozenset:
                return frozenset(data)  # the common case (file sets), without a call per item
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(data)
        if origin is frozenset:
            return frozenset(decode(args[0], v) for v in data)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in data)
        if len(args) != len(data):
            raise CodecError("wrong tuple length")
        return tuple(decode(a, v) for a, v in zip(args, data, strict=True))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(data, dict):
            raise CodecError(f"expected a {hint.__name__} object")
        hints = _hints(hint)
        names = [f.name for f in dataclasses.fields(hint)]
        if sorted(data) != sorted(names):
            raise CodecError(f"{hint.__name__}: unexpected fields")
        return hint(**{name: decode(hints[name], data[name]) for name in names})
    raise CodecError(f"unsupported type {hint!r}")


def supports(cls: type) -> bool:
    """Whether every field of dataclass ``cls`` (recursively) is a type the codec knows."""
    try:
        _check(cls, set())
    except CodecError:
        return False
    return True


def _check(hint: Any, seen: set[Any]) -> None:
    if hint in seen:
        return
    seen.add(hint)
    if hint in (str, int, float, bool, type(None)):
        return
    if isinstance(hint, type) and issubclass(hint, Enum):
        return
    origin = typing.get_origin(hint)
    if origin in (Mapping, dict):
        args = typing.get_args(hint)
        if args[0] is not str:
            raise CodecError("mapping keys must be strings")
        _check(args[1], seen)
        return
    if origin in (Union, types.UnionType, tuple, frozenset):
        for arg in typing.get_args(hint):
            if arg is not Ellipsis:
                _check(arg, seen)
        return
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        for value in _hints(hint).values():
            _check(value, seen)
        return
    raise CodecError(f"unsupported type {hint!r}")
