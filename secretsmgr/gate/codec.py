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
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from enum import Enum
from functools import cache, partial
from types import MappingProxyType
from typing import Any, Union, cast


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
        if all(type(v) is str for v in value):
            return sorted(value)  # file sets: no call per item
        return sorted((encode(v) for v in value), key=repr)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise CodecError(f"cannot encode {type(value).__name__}")


def decode(hint: Any, data: object) -> Any:
    """``data`` as an instance of ``hint``; ``CodecError`` unless it matches exactly."""
    return _decoder(hint)(data)


Decoder = Callable[[object], Any]


@cache
def _decoder(hint: Any) -> Decoder:
    """A decoding function for ``hint``, built once per type (the cache decodes large graphs)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is type(None):
        return _none
    if origin in (Union, types.UnionType):
        options = [_decoder(a) for a in args]

        def union(data: object) -> Any:
            for option in options:
                try:
                    return option(data)
                except CodecError:
                    continue
            raise CodecError(f"no member of {hint} matches")

        return union
    if hint in (str, int, bool):
        return partial(_exact, hint)
    if hint is float:
        return _float
    if isinstance(hint, type) and issubclass(hint, Enum):
        return partial(_enum, hint)
    if origin in (Mapping, dict):
        if args[0] is not str:
            raise CodecError("mapping keys must be strings")
        return partial(_mapping, _decoder(args[1]))
    if origin is frozenset:
        return partial(_frozenset, args[0] is str, _decoder(args[0]))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return partial(_tuple, args[0] is str, _decoder(args[0]))
        return partial(_fixed_tuple, tuple(_decoder(a) for a in args))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass_decoder(hint)
    raise CodecError(f"unsupported type {hint!r}")


def _none(data: object) -> None:
    if data is not None:
        raise CodecError("expected null")


def _exact(kind: type, data: object) -> object:
    if type(data) is not kind:
        raise CodecError(f"expected {kind.__name__}")
    return data


def _float(data: object) -> object:
    if type(data) not in (float, int):
        raise CodecError("expected float")
    return data


def _enum(kind: type[Enum], data: object) -> Enum:
    try:
        return kind(data)
    except ValueError as exc:
        raise CodecError(f"not a {kind.__name__}") from exc


_KEEP: list[tuple[frozenset[str], frozenset[str]]] = []


@contextmanager
def restricted(keep: tuple[frozenset[str], frozenset[str]] | None) -> Iterator[None]:
    """Decode with path sets and path-keyed maps cut down to ``keep`` = (all paths, kept).

    A set of strings, or a map with string keys, whose members are all paths of the repository
    is taken to be about files, and only the kept files' part of it is decoded: a model asked
    only about a few files is decoded without the rest.
    """
    if keep is None:
        yield
        return
    _KEEP.append(keep)
    try:
        yield
    finally:
        _KEEP.pop()


def _kept(items: Iterable[str]) -> frozenset[str] | None:
    """The kept paths when ``items`` are all paths, else None (not a path set)."""
    if not _KEEP:
        return None
    every, kept = _KEEP[-1]
    return kept if every.issuperset(items) else None


def _mapping(item: Decoder, data: object) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise CodecError("expected an object")
    kept = _kept(data) if data else None
    if kept is not None:
        return MappingProxyType({k: item(v) for k, v in data.items() if k in kept})
    return MappingProxyType({k: item(v) for k, v in data.items()})


def _items(data: object) -> list[object]:
    if not isinstance(data, list):
        raise CodecError("expected a list")
    return data


def _frozenset(strings: bool, item: Decoder, data: object) -> frozenset[Any]:
    items = _items(data)
    if strings and all(type(v) is str for v in items):
        names = cast(list[str], items)  # checked above: every item is a str
        kept = _kept(names) if names else None
        if kept is not None:
            return kept.intersection(names)
        return frozenset(items)  # file sets: no call per item
    return frozenset(item(v) for v in items)


def _tuple(strings: bool, item: Decoder, data: object) -> tuple[Any, ...]:
    items = _items(data)
    if strings and all(type(v) is str for v in items):
        return tuple(items)
    return tuple(item(v) for v in items)


def _fixed_tuple(parts: tuple[Decoder, ...], data: object) -> tuple[Any, ...]:
    items = _items(data)
    if len(items) != len(parts):
        raise CodecError("wrong tuple length")
    return tuple(part(v) for part, v in zip(parts, items, strict=True))


def _dataclass_decoder(cls: type) -> Decoder:
    hints = _hints(cls)
    names = tuple(f.name for f in dataclasses.fields(cls))
    fields = tuple((name, _decoder(hints[name])) for name in names)
    expected = frozenset(names)
    # Equal small values repeat (a graph holds thousands of identical ``Use``s): decode once.
    memo: dict[tuple[object, ...], object] = {}

    def decode_one(data: object) -> Any:
        if not isinstance(data, dict) or data.keys() != expected:
            raise CodecError(f"{cls.__name__}: unexpected fields")
        key = tuple((type(data[name]), data[name]) for name in names)  # 1 is not True
        try:
            return memo[key]
        except KeyError:
            pass
        except TypeError:  # unhashable parts (lists, objects): no memo
            return cls(**{name: dec(data[name]) for name, dec in fields})
        value = cls(**{name: dec(data[name]) for name, dec in fields})
        if len(memo) < 4096:
            memo[key] = value
        return value

    return decode_one


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
