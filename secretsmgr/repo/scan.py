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
    binary_entry,
    is_named_other,
    is_named_sops,
    named_other_entry,
    read_sops_entry,
    structured_format,
)
from secretsmgr.sops.document import (
    FileFormat,
    binary_store_name,
    holds_binary_store,
    sniff_store,
)


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
    if holds_binary_store(data) and binary_store_name(rel):
        # sops's binary store, JSON to read: any name without a text store's extension as sops
        # compares them (case-sensitively: sops keeps a new ``SECRET.YAML`` in this store too)
        found = read_sops_entry(rel, data, FileFormat.JSON, _rule(rel, rule_for))
        entry = binary_entry(found) if found is not None else None
        fmt = FileFormat.JSON if entry is not None else fmt
    elif fmt is not None or named:
        fmt = fmt or FileFormat.YAML
        if named or SOPS_HINT[fmt].search(data):
            entry = read_sops_entry(rel, data, fmt, _rule(rel, rule_for))
    elif binary_store_name(rel) and (store := sniff_store(data)) is not None:
        # encrypted in a text store under a name that says none (a secretGenerator source such
        # as ``.env.secret.encrypted``, which Flux decrypts by its metadata)
        entry = read_sops_entry(rel, data, store, _rule(rel, rule_for), named=False)
    elif is_named_other(rel):
        entry = named_other_entry(rel, data, _rule(rel, rule_for))
    if fmt is None and entry is not None and (entry.has_metadata or entry.store is None):
        fmt = entry.format  # read in the store its content or name says: detectors see it so
    return ScannedFile(rel, data, fmt, entry)


def _rule(
    rel: str,
    rule_for: Callable[[str], tuple[str | None, CreationRule | None, int | None]] | None,
) -> tuple[str | None, CreationRule | None, int | None]:
    return rule_for(rel) if rule_for is not None else (None, None, None)


def detect_all(
    detectors: Mapping[str, Detector], file: ScannedFile
) -> dict[str, tuple[object, ...]]:
    return {name: tuple(detect(file)) for name, detect in detectors.items()}
