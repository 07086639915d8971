"""The JSON Schema of `.secretsmgr.yaml`, and a small validator for the part of it we use.

``secretsmgr.schema.json`` (package data, beside this module) is the published description of
the file: editors and CI can check a `.secretsmgr.yaml` against it, and the settings loader
checks every file against it before reading a value, so both always say the same thing. A full
JSON Schema library costs tens of milliseconds to import and ``check`` runs on every commit, so
this module validates the keywords the schema uses (``type``, ``properties``,
``additionalProperties``, ``required``, ``items``, ``propertyNames``, ``pattern``, ``minimum``,
local ``$ref``) and names the offending key in every message; the tests check it against the
``jsonschema`` package. ``x-expect`` annotations say how a message names the expected value.
A value is never echoed (a private key pasted by mistake must not reach a CI log).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import cast

from secretsmgr.errors import ConfigError

SCHEMA_FILE = Path(__file__).with_name("secretsmgr.schema.json")
_PRIVATE_KEY = re.compile(r"^\s*AGE-SECRET-KEY-", re.IGNORECASE)
_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
}

Schema = Mapping[str, object]
Where = tuple[str | int, ...]
# resolved ``$ref`` nodes per root schema (the shipped one lives as long as the process)
_RESOLVED: dict[int, tuple[Schema, dict[int, Schema]]] = {}


@lru_cache(maxsize=1)
def settings_schema() -> Schema:
    """The schema of `.secretsmgr.yaml` as shipped with secretsmgr."""
    return cast(Schema, json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def describe(where: Where) -> str:
    """``clusters.staging.path``, ``ignore entry 2: reason``: how messages name a place."""
    out = ""
    for number, part in enumerate(where):
        if isinstance(part, int):
            out += f" entry {part + 1}"
        elif number == 0:
            out = part
        else:
            out += f": {part}" if isinstance(where[number - 1], int) else f".{part}"
    return out


def _is_type(value: object, name: str) -> bool:
    match name:
        case "object":
            return isinstance(value, dict)
        case "array":
            return isinstance(value, list)
        case "string":
            return isinstance(value, str)
        case "integer":  # JSON Schema: 1.0 is an integer too (the loader then wants an int)
            if isinstance(value, float):
                return value.is_integer()
            return isinstance(value, int) and not isinstance(value, bool)
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "boolean":
            return isinstance(value, bool)
        case "null":
            return value is None
    return False


class _Validator:
    def __init__(self, root: Schema, label: str) -> None:
        self.root = root
        self.label = label
        # keyed by id, holding the root itself so that its id is never reused for another
        self._resolved = _RESOLVED.setdefault(id(root), (root, {}))[1]

    def fail(self, where: Where, text: str) -> ConfigError:
        place = describe(where)
        return ConfigError(f"{self.label}: {place} {text}" if place else f"{self.label}: {text}")

    def resolve(self, schema: Schema) -> Schema:
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return schema
        done = self._resolved.get(id(schema))
        if done is None:
            node: object = self.root
            for part in ref.removeprefix("#/").split("/"):
                node = cast(Schema, node)[part]
            merged = dict(self.resolve(cast(Schema, node)))
            merged.update((k, v) for k, v in schema.items() if k != "$ref")
            done = self._resolved[id(schema)] = merged
        return done

    def expect(self, schema: Schema) -> str:
        text = schema.get("x-expect")
        if isinstance(text, str):
            return text
        types = schema.get("type")
        names = [types] if isinstance(types, str) else cast(list[str], types or [])
        shown = [_TYPE_NAMES[n] for n in names if n != "null"]
        return " or ".join(shown) or "something else"

    def check(self, value: object, schema: Schema, where: Where) -> None:
        schema = self.resolve(schema)
        if isinstance(value, str) and _PRIVATE_KEY.match(value):
            raise self.fail(where, "holds an age private key, not a public key")
        types = schema.get("type")
        if types is not None:
            names = [types] if isinstance(types, str) else cast(list[str], types)
            if not any(_is_type(value, n) for n in names):
                raise self.fail(where, f"must be {self.expect(schema)}")
        if isinstance(value, dict):
            self.check_object(cast(dict[object, object], value), schema, where)
        elif isinstance(value, list):
            items = schema.get("items")
            if isinstance(items, Mapping):
                for index, item in enumerate(cast(list[object], value)):
                    self.check(item, items, (*where, index))
        elif isinstance(value, str):
            pattern = schema.get("pattern")
            if isinstance(pattern, str) and re.search(pattern, value) is None:
                raise self.fail(where, f"must be {self.expect(schema)}")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            minimum = schema.get("minimum")
            if isinstance(minimum, int | float) and value < minimum:
                raise self.fail(where, f"must be {self.expect(schema)}")

    def check_object(self, value: dict[object, object], schema: Schema, where: Where) -> None:
        props = cast(Mapping[str, Schema], schema.get("properties", {}))
        extra = schema.get("additionalProperties", True)
        names = schema.get("propertyNames")
        for key in value:
            if isinstance(names, Mapping):
                pattern = names.get("pattern")
                if not isinstance(key, str) or (
                    isinstance(pattern, str) and re.search(pattern, key) is None
                ):
                    raise self.fail(where, f"key {key!s} is not {self.expect(names)}")
            if extra is False and key not in props:
                raise self.unknown(where, str(key), props)
        for name in cast(Sequence[str], schema.get("required", ())):
            if name not in value:
                raise self.fail(where, f"has no {name}")
        for name, sub in props.items():
            if name in value:
                self.check(value[name], sub, (*where, name))
        if isinstance(extra, Mapping):
            for key, item in value.items():
                if key not in props:
                    self.check(item, cast(Schema, extra), (*where, str(key)))

    def unknown(self, where: Where, key: str, known: Mapping[str, Schema]) -> ConfigError:
        import difflib

        close = difflib.get_close_matches(key, list(known), n=1)
        hints = (f"did you mean {close[0]}?",) if close else (f"known: {', '.join(known)}",)
        if not where:
            return ConfigError(f"{self.label}: unknown setting {key}", hints=hints)
        return ConfigError(
            f"{self.label}: {describe(where)} has an unknown field: {key}", hints=hints
        )


def validate(document: object, label: str, schema: Schema | None = None) -> None:
    """Check a parsed document against ``schema`` (the settings schema by default);
    ``ConfigError`` naming the first offending key, with ``label`` (the file) in front."""
    root = schema if schema is not None else settings_schema()
    _Validator(root, label).check(document, root, ())
