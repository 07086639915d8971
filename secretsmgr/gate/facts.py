"""The blob cache as the inventory's cache: detector hits per blob, layer graphs per input."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from secretsmgr.audit.finding import Rule
from secretsmgr.errors import FormatError
from secretsmgr.gate.cache import BlobCache, BlobFacts, SopsSummary, code_fingerprint, digest_paths
from secretsmgr.repo.flux import LayerGraph
from secretsmgr.repo.inventory import (
    ScannedFile,
    SopsEntry,
    is_named_sops,
    read_sops_entry,
    structured_format,
)
from secretsmgr.repo.settings import SETTINGS_NAME
from secretsmgr.repo.snapshot import Snapshot
from secretsmgr.sops.document import FileFormat
from secretsmgr.sops.metadata import SOPS_KEY
from secretsmgr.sops.rules import encrypted_leaves
from secretsmgr.sops.values import Comment
from secretsmgr.sops.yamlio import safe_load_all

_PACKAGE = Path(__file__).resolve().parents[1]


def variant_of(path: str) -> str:
    """How the inventory reads a file: its format by extension, and whether its name says SOPS."""
    fmt = structured_format(path)
    return f"{fmt.value if fmt is not None else '-'}{'+named' if is_named_sops(path) else ''}"


def summarize(entry: SopsEntry | None) -> SopsSummary | None:
    """The SOPS summary of an inventory entry (None unless it parsed as SOPS)."""
    if entry is None or entry.sops_file is None:
        return None
    meta = entry.sops_file.metadata
    values = hashlib.sha256()
    for tree in entry.sops_file.docs:
        for _, leaf in encrypted_leaves(tree, meta.rule):
            text = leaf.text if isinstance(leaf, Comment) else leaf
            if isinstance(text, str) and text.startswith("ENC["):
                values.update(text.encode("utf-8") + b"\0")
    return SopsSummary(
        fingerprints=_digest([s.enc for g in meta.key_groups for s in g.age], meta.mac),
        recipients=tuple(meta.age_recipients),
        values=values.hexdigest()[:32],
        lastmodified=meta.lastmodified,
    )


class _Recording:
    """A snapshot that remembers which files were read (and their blob ids)."""

    def __init__(self, inner: Snapshot) -> None:
        self.inner = inner
        self.reads: dict[str, str | None] = {}

    @property
    def root(self) -> Path:
        return self.inner.root

    @property
    def paths(self) -> tuple[str, ...]:
        return self.inner.paths

    def read(self, path: str) -> bytes:
        self.reads[path] = self.inner.blob_id(path)
        return self.inner.read(path)

    def blob_id(self, path: str) -> str | None:
        return self.inner.blob_id(path)


class GateCache:
    """``InventoryCache`` over a ``BlobCache``; also summarizes SOPS blobs for SM014/history."""

    def __init__(self, store: BlobCache) -> None:
        """Answer from (and add to) ``store``."""
        self.store = store
        self._graphs: dict[str, tuple[LayerGraph, dict[str, str]]] = {}  # decoded, this run

    @classmethod
    def open(cls, path: Path | None, rules: Sequence[Rule]) -> GateCache:
        """The cache in folder ``path`` (None: memory only) for the detectors of ``rules``."""
        hit_types: dict[str, type] = {
            str(r.id): r.hit_type for r in rules if r.detect is not None and r.hit_type
        }
        code = code_fingerprint([*_sources(rules), *_library_sources()])
        return cls(BlobCache(path, hit_types, code))

    def file_hits(
        self,
        snapshot: Snapshot,
        file: ScannedFile,
        compute: Callable[[], dict[str, tuple[object, ...]]],
    ) -> Mapping[str, tuple[object, ...]]:
        """Hits of ``file`` from the cache when its blob is known."""
        blob = snapshot.blob_id(file.path)
        if blob is None:
            return compute()

        def fresh() -> BlobFacts:
            return BlobFacts(compute(), summarize(file.sops))

        return self.store.facts(blob, variant_of(file.path), file.path, fresh).hits

    def fingerprints(self, snapshot: Snapshot, path: str) -> tuple[str, ...]:
        """SM014 digests of ``path`` (wrapped data keys and MAC; empty: not a SOPS file)."""
        variant = variant_of(path)
        if variant.startswith("-") and "named" not in variant:
            return ()  # not YAML/JSON/dotenv and not named like SOPS: never a SOPS file

        def fresh() -> BlobFacts:
            try:
                data = snapshot.read(path)
            except OSError:
                return BlobFacts({}, None)
            prints = light_fingerprints(path, data)
            return BlobFacts({}, SopsSummary(prints, (), "", "") if prints else None)

        blob = snapshot.blob_id(path)
        facts = fresh() if blob is None else self.store.facts(blob, variant + "+fp", path, fresh)
        return facts.sops.fingerprints if facts.sops is not None else ()

    def print_map(self, snapshot: Snapshot, key: str | None) -> dict[str, str]:
        """Path -> fingerprints (run together) of every SOPS file of ``snapshot``, cached under
        ``key`` (a commit)."""
        if key is not None:
            known = self.store.prints(key)
            if known is not None:
                return known
        out: dict[str, str] = {}
        for path in snapshot.paths:
            prints = self.fingerprints(snapshot, path)
            if prints:
                out[path] = "".join(prints)
        if key is not None:
            self.store.store_prints(key, out)
        return out

    def layers(self, snapshot: Snapshot, build: Callable[[Snapshot], LayerGraph]) -> LayerGraph:
        """The layer graph, cached by the paths and by the blob of every file the build read."""
        settings = snapshot.root / SETTINGS_NAME
        try:
            extra = hashlib.sha256(settings.read_bytes()).hexdigest()
        except OSError:
            extra = "-"
        key = digest_paths(snapshot.paths, extra)
        reads_known = self._graphs.get(key)
        if reads_known is not None and all(
            snapshot.blob_id(p) == b for p, b in reads_known[1].items()
        ):
            return reads_known[0]

        def fresh() -> tuple[LayerGraph, Mapping[str, str | None]]:
            recording = _Recording(snapshot)
            graph = build(recording)
            return graph, recording.reads

        graph = self.store.graph(key, LayerGraph, snapshot.blob_id, fresh)
        reads = self.store.graph_reads(key)
        if reads is not None:
            self._graphs[key] = (graph, reads)
        return graph

    def save(self) -> None:
        """Persist what this run added."""
        self.store.save()


_SOPS_LINE = re.compile(rb"^sops:[ \t]*(?:#.*)?\r?$", re.MULTILINE)
_TOP_LEVEL = re.compile(rb"^(?:[^\s#]|---|\.\.\.)", re.MULTILINE)


def _digest(stanzas: list[str], mac: str) -> tuple[str, ...]:
    prints = ["".join(enc.split()) for enc in stanzas] + [mac.strip()]
    return tuple(hashlib.sha256(p.encode()).hexdigest()[:32] for p in prints)


def light_fingerprints(path: str, data: bytes) -> tuple[str, ...]:
    """SM014's fingerprints of a file without parsing all of it: only its ``sops`` block.

    For the repository-wide copy check (a staged file against every tracked one); the files in
    the gate's scope are parsed in full by the inventory.
    """
    fmt = structured_format(path) or (FileFormat.YAML if is_named_sops(path) else None)
    meta: object = None
    try:
        if fmt is FileFormat.YAML:
            start = _SOPS_LINE.search(data)
            if start is None:
                return ()
            end = _TOP_LEVEL.search(data, start.end() + 1)
            block = data[start.start() : end.start() if end is not None else len(data)]
            docs = safe_load_all(block.decode("utf-8"))
            meta = docs[0].get(SOPS_KEY) if docs and isinstance(docs[0], dict) else None
        elif fmt is FileFormat.JSON:
            if b'"sops"' not in data:
                return ()
            doc = json.loads(data)
            meta = doc.get(SOPS_KEY) if isinstance(doc, dict) else None
        elif fmt is FileFormat.DOTENV:
            if b"sops_mac=" not in data:
                return ()
            summary = summarize(read_sops_entry(path, data, fmt))
            return summary.fingerprints if summary is not None else ()
    except (FormatError, UnicodeDecodeError, ValueError, RecursionError):
        return ()
    if not isinstance(meta, dict) or not isinstance(meta.get("mac"), str):
        return ()
    stanzas: list[str] = []
    groups = [meta, *(g for g in meta.get("key_groups") or () if isinstance(g, dict))]
    for group in groups:
        for stanza in group.get("age") or ():
            if isinstance(stanza, dict) and isinstance(stanza.get("enc"), str):
                stanzas.append(stanza["enc"])
    return _digest(stanzas, meta["mac"])


def _library_sources() -> list[str]:
    """detect-secrets' version file (its plugins decide what SM018 finds), found unimported."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("detect_secrets")
    except (ImportError, ValueError):
        return ["detect-secrets: none"]
    if spec is None or spec.origin is None:
        return ["detect-secrets: none"]
    return [str(Path(spec.origin).with_name("__version__.py"))]


def _sources(rules: Sequence[Rule]) -> list[str]:
    """Every source file whose code decides what a blob yields: the audit package (rules,
    detectors, manifest parsing), the gate, the inventory and the format core."""
    import sys

    found = {str(p) for area in ("audit", "gate", "sops") for p in (_PACKAGE / area).rglob("*.py")}
    found.add(str(_PACKAGE / "repo" / "inventory.py"))
    for rule in rules:  # rules registered from elsewhere (tests) count too
        module = sys.modules.get(getattr(rule.check, "__module__", ""))
        if module is not None and getattr(module, "__file__", None):
            found.add(str(module.__file__))
    return sorted(found)
