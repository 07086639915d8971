"""The only module that imports ruamel.yaml."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from secretsmgr.errors import FormatError


def _safe_yaml() -> YAML:
    return YAML(typ="safe", pure=False)


def safe_load_all(text: str) -> list[Any]:
    """Load every document of ``text`` as plain Python data through the C parser.

    Used for manifests (kustomization.yaml, Flux objects, config files) where no round trip
    is needed. Raises ``FormatError`` on malformed YAML, naming the line but no content.
    """
    try:
        return list(_safe_yaml().load_all(text))
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise FormatError(f"malformed YAML{where}") from exc
