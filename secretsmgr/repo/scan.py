"""How the inventory reads one file: its format, its SOPS entry when it is one, and the hits of
the detectors the audit rules pass in (with the cache protocol the gate implements)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from secretsmgr.repo.flux import LayerGraph
from secretsmgr.repo.snapshot import Snapshot
from secretsmgr.repo.sopsconfig import CreationRule
from secretsmgr.repo.sopsentry import (
    SOPS_HINT,
    SopsEntry,
    is_named_sops,
    read_sops_entry,
    structured_format,
)
from secretsmgr.sops.document import FileFormat


@dataclass(frozen=True, slots=True)
class ScannedFile:
    """One file in scope as a detector sees it: its bytes, and its format when structured."""

    path: str
    data: bytes = field(repr=False)
    format: FileFormat | None
    sops: SopsEntry | None


# A detector turns one file into hits (plain data, never a secret value); the audit rules own
# theirs and pass them in by rule id.
Detector = Callable[[ScannedFile], Iterable[object]]


class InventoryCache(Protocol):
    """A cache the gate hands in (``secretsmgr.gate``): detector hits per file, the layer graph.

    ``compute``/``build`` give the uncached answer; a cache may return it or a stored equal one.
    """

    def file_hits(
        self,
        snapshot: Snapshot,
        file: ScannedFile,
        compute: Callable[[], dict[str, tuple[object, ...]]],
    ) -> Mapping[str, tuple[object, ...]]:
        """The hits of every detector in ``file``."""
        ...

    def layers(
        self,
        snapshot: Snapshot,
        build: Callable[[Snapshot], LayerGraph],
        scope: Sequence[str] | None = None,
    ) -> LayerGraph:
        """The layer graph of ``snapshot`` (it may know only about the files in ``scope``)."""
        ...


def scan_file(
    rel: str,
    data: bytes,
    rule_for: Callable[[str], tuple[str | None, CreationRule | None, int | None]] | None = None,
) -> ScannedFile:
    """One file as the inventory reads it: its format, and its SOPS entry when it is one.

    ``rule_for`` gives the governing `.sops.yaml` rule (the gate's history walk has none).
    """
    fmt = structured_format(rel)
    named = is_named_sops(rel)
    entry: SopsEntry | None = None
    if fmt is not None or named:
        fmt = fmt or FileFormat.YAML
        if named or SOPS_HINT[fmt].search(data):
            rule = rule_for(rel) if rule_for is not None else (None, None, None)
            entry = read_sops_entry(rel, data, fmt, rule)
    return ScannedFile(rel, data, fmt, entry)


def detect_all(
    detectors: Mapping[str, Detector], file: ScannedFile
) -> dict[str, tuple[object, ...]]:
    return {name: tuple(detect(file)) for name, detect in detectors.items()}
