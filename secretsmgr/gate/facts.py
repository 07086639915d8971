"""The blob cache as the inventory's cache: detector hits per blob, layer graphs per input."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

from secretsmgr.audit.finding import Rule
from secretsmgr.errors import FormatError
from secretsmgr.gate.cache import BlobCache, BlobFacts, SopsSummary, code_fingerprint, digest_paths
from secretsmgr.repo.flux import LayerGraph
from secretsmgr.repo.git import remote_url
from secretsmgr.repo.scan import ScannedFile
from secretsmgr.repo.settings import SETTINGS_NAME
from secretsmgr.repo.snapshot import Snapshot, WorktreeSnapshot
from secretsmgr.repo.sopsentry import (
    SopsEntry,
    is_named_sops,
    named_other_store,
    read_sops_entry,
    structured_format,
)
from secretsmgr.sops.document import FileFormat
from secretsmgr.sops.limits import max_file_bytes
from secretsmgr.sops.mac import mac_state
from secretsmgr.sops.metadata import SOPS_KEY
from secretsmgr.sops.rules import encrypted_leaves
from secretsmgr.sops.tree import MapNode, SeqNode
from secretsmgr.sops.values import Comment
from secretsmgr.sops.yamlio import safe_load_all

_PACKAGE = Path(__file__).resolve().parents[1]


def variant_of(path: str) -> str:
    """How the inventory reads a file: its format by extension, and whether its name says SOPS
    (and in which store, for a name such as ``zone.sops`` or ``x.sops.yaml.disabled``)."""
    fmt = structured_format(path)
    other = named_other_store(path)
    named = "+named" if is_named_sops(path) else f"+other-{other}" if other is not None else ""
    return f"{fmt.value if fmt is not None else '-'}{named}"


def hits_variant(path: str) -> str:
    """The cache variant of a file's detector hits: ``variant_of`` and the path itself.
    Detectors read names as well as bytes (a copy's ``.txt``/``.bak`` name, prose suffixes, a
    CI folder, a kubeconfig's name): the hits of one blob under one path are no answer for the
    same blob under another (the review of sweep 12: a ``secret.j2`` copy, judged first, made
    the identical ``secret.txt`` pass ``check``)."""
    digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return f"{variant_of(path)}+path-{digest}"


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
                values.update(text.encode("utf-8", "surrogateescape") + b"\0")
    wrapped = sorted(
        hashlib.sha256("".join(enc.split()).encode("utf-8", "surrogateescape")).hexdigest()[:32]
        for group in meta.key_groups
        for _name, node in group.foreign
        for item in (node.items if isinstance(node, SeqNode) else ())
        if isinstance(item, MapNode) and isinstance(enc := item.get("enc"), str) and enc.strip()
    )
    state = mac_state(entry.sops_file.docs, meta)
    return SopsSummary(
        fingerprints=_digest([s.enc for g in meta.key_groups for s in g.age], meta.mac),
        recipients=tuple(meta.age_recipients),
        values=values.hexdigest()[:32],
        lastmodified=meta.lastmodified,
        wrapped=tuple(wrapped),
        mac=hashlib.sha256(meta.mac.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        if meta.mac
        else "",
        covered=state.covered[:32] if not entry.plaintext_leaves else "",
    )


_ENC_TOKEN = re.compile(rb"ENC\[[^\]\s]*\]")
_SOPS_BLOCK = re.compile(rb"^sops:.*?(?=^[^\s#]|\Z)", re.MULTILINE | re.DOTALL)
_SOPS_JSON = re.compile(rb'"sops"\s*:\s*\{.*\}\s*\}\s*\Z', re.DOTALL)


def normalized(data: bytes) -> str | None:
    """A digest of a SOPS file with what an edit changes taken out (every ``ENC[…]`` value and
    the ``sops`` block): what the Flux build of a layer can see of it. None for other files.

    The layer graph is cached by what its build read; a SOPS file edited in place (new values,
    new MAC) keeps this digest, so the graph stays valid without a rebuild.
    """
    if b"ENC[AES256_GCM," not in data:
        return None
    body = _ENC_TOKEN.sub(b"ENC[]", data)
    body = _SOPS_BLOCK.sub(b"sops: {}\n", body)
    body = _SOPS_JSON.sub(b'"sops": {}}', body)
    return hashlib.sha256(body).hexdigest()[:32]


class _Recording:
    """A snapshot that remembers which files were read: blob id, and for SOPS files the
    ``normalized`` digest too."""

    def __init__(self, inner: Snapshot) -> None:
        self.inner = inner
        self.reads: dict[str, str | None] = {}

    @property
    def root(self) -> Path:
        return self.inner.root

    @property
    def paths(self) -> tuple[str, ...]:
        return self.inner.paths

    @property
    def links(self) -> frozenset[str]:
        return self.inner.links

    def link_target(self, path: str) -> str | None:
        return self.inner.link_target(path)

    def read(self, path: str) -> bytes:
        data = self.inner.read(path)
        if path not in self.reads:  # builds read a file several times: digest it once
            blob = self.inner.blob_id(path)
            norm = normalized(data) if blob is not None else None
            self.reads[path] = f"{blob}:{norm}" if norm is not None else blob
        return data

    def blob_id(self, path: str) -> str | None:
        return self.inner.blob_id(path)


class GateCache:
    """``InventoryCache`` over a ``BlobCache``; also summarizes SOPS blobs for SM014/history."""

    def __init__(self, store: BlobCache) -> None:
        """Answer from (and add to) ``store``."""
        self.store = store
        self._graphs: dict[str, tuple[LayerGraph, dict[str, str]]] = {}  # decoded, this run
        self._remotes: dict[Path, str] = {}  # git's origin URL per work tree, read once

    @classmethod
    def open(cls, path: Path | None, rules: Sequence[Rule]) -> GateCache:
        """The cache in folder ``path`` (None: memory only) for the detectors of ``rules``."""
        hit_types: dict[str, type] = {
            str(r.id): r.hit_type for r in rules if r.detect is not None and r.hit_type
        }
        code = code_fingerprint(
            [*_sources(rules), *_library_sources(), f"max-file-bytes {max_file_bytes()}"]
        )
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

        # the format the detectors read it in: a layer's resource under a name of no format
        # is read as YAML (the inventory says so), the same name elsewhere is not
        variant = f"{hits_variant(file.path)}+as-{file.format.value if file.format else 'none'}"
        return self.store.facts(blob, variant, file.path, fresh).hits

    def fingerprints(self, snapshot: Snapshot, path: str) -> tuple[str, ...]:
        """SM014 digests of ``path`` (wrapped data keys and MAC; empty: not a SOPS file)."""
        variant = variant_of(path)
        if variant.startswith("-") and "named" not in variant:
            return ()  # not YAML/JSON/dotenv/INI and not named like SOPS: never a SOPS file

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

    def _graph_key(self, snapshot: Snapshot) -> str:
        # The model reads two inputs beside the manifests: .secretsmgr.yaml (as the state
        # holds it: staged, committed, or on disk for the working tree), and git's origin URL
        # (whether a GitRepository is this checkout); a graph built under another is not this one
        extra = "-"
        if SETTINGS_NAME in snapshot.paths and snapshot.blob_id(SETTINGS_NAME) is not None:
            extra = str(snapshot.blob_id(SETTINGS_NAME))
        elif isinstance(snapshot, WorktreeSnapshot):
            with contextlib.suppress(OSError):
                extra = hashlib.sha256((snapshot.root / SETTINGS_NAME).read_bytes()).hexdigest()
        remote = self._remotes.get(snapshot.root)
        if remote is None:
            remote = self._remotes[snapshot.root] = remote_url(snapshot.root) or "-"
        return digest_paths(snapshot.paths, f"{extra} {remote}")

    def layers(
        self,
        snapshot: Snapshot,
        build: Callable[[Snapshot], LayerGraph],
        scope: Sequence[str] | None = None,
    ) -> LayerGraph:
        """The layer graph, cached by the paths and by the blob of every file the build read.

        With ``scope``, the graph may be cut down to what concerns those files (their layers,
        their uses): the same answers for them, decoded without the rest of the repository.
        """
        key = self._graph_key(snapshot)
        reads_known = self._graphs.get(key)
        if reads_known is not None and _still_valid(snapshot, reads_known[1]):
            return reads_known[0]

        def fresh() -> tuple[LayerGraph, Mapping[str, str | None]]:
            recording = _Recording(snapshot)
            graph = build(recording)
            return graph, recording.reads

        keep = None if scope is None else (frozenset(snapshot.paths), frozenset(scope))
        graph = self.store.graph(key, LayerGraph, partial(_still_valid, snapshot), fresh, keep)
        reads = self.store.graph_reads(key)
        if reads is not None and (scope is None or self.store.graph_was_built(key)):
            self._graphs[key] = (graph, reads)  # a whole graph: good for any later question
        return graph

    def same_layers(self, a: Snapshot, b: Snapshot) -> bool:
        """Whether ``a`` and ``b`` certainly have the same layer graph: the same paths and
        settings, and every file a cached build read holds the same blob in both."""
        key = self._graph_key(a)
        if key != self._graph_key(b):
            return False
        return any(
            _still_valid(a, reads) and _still_valid(b, reads)
            for reads in self.store.variant_reads(key)
        )

    def save(self) -> None:
        """Persist what this run added."""
        self.store.save()


_SOPS_LINE = re.compile(rb"^sops:[ \t]*(?:#.*)?\r?$", re.MULTILINE)
_TOP_LEVEL = re.compile(rb"^(?:[^\s#]|---|\.\.\.)", re.MULTILINE)


def _digest(stanzas: list[str], mac: str) -> tuple[str, ...]:
    prints = ["".join(enc.split()) for enc in stanzas] + [mac.strip()]
    return tuple(
        hashlib.sha256(p.encode("utf-8", "surrogateescape")).hexdigest()[:32] for p in prints
    )


_ARMOR = re.compile(
    rb"-----BEGIN AGE ENCRYPTED FILE-----[A-Za-z0-9+/=\s]*?-----END AGE ENCRYPTED FILE-----"
)
_BLOCK_ENC = re.compile(rb"^\s+(?:- )?enc: \|-?\s*$", re.MULTILINE)
_MAC_LINE = re.compile(rb"^\s+mac: (ENC\[AES256_GCM,[^\]\s]+\])\s*$", re.MULTILINE)


def _as_sops_wrote_it(block: bytes) -> tuple[str, ...] | None:
    """The fingerprints of a ``sops`` block in exactly the layout sops writes (``enc: |``
    block scalars, an unquoted ``mac``), without a YAML parse; None for any other layout."""
    armors = _ARMOR.findall(block)
    macs = _MAC_LINE.findall(block)
    if len(macs) != 1 or len(armors) != len(_BLOCK_ENC.findall(block)):
        return None
    if block.count(b"-----BEGIN") != len(armors):
        return None
    return _digest([a.decode("ascii") for a in armors], macs[0].decode("ascii"))


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
            quick = _as_sops_wrote_it(block)
            if quick is not None:
                return quick
            docs = safe_load_all(block.decode("utf-8"))
            meta = docs[0].get(SOPS_KEY) if docs and isinstance(docs[0], dict) else None
        elif fmt is FileFormat.JSON:
            if b'"sops"' not in data:
                return ()
            doc = json.loads(data)
            meta = doc.get(SOPS_KEY) if isinstance(doc, dict) else None
        elif fmt in (FileFormat.DOTENV, FileFormat.INI):
            if (b"sops_mac=" if fmt is FileFormat.DOTENV else b"[sops]") not in data:
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


def _still_valid(snapshot: Snapshot, reads: Mapping[str, str]) -> bool:
    """Whether every file a build read still shows the build the same content: the same blob,
    or for a SOPS file the same ``normalized`` digest (only values and metadata changed)."""
    for path, recorded in reads.items():
        blob, _, norm = recorded.partition(":")
        now = snapshot.blob_id(path)
        if now == blob:
            continue
        if not norm or now is None:
            return False
        try:
            if normalized(snapshot.read(path)) != norm:
                return False
        except OSError:
            return False
    return True


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
    detectors, manifest parsing), the gate, the whole repository model (the inventory, how a
    file is scanned, the Flux model that builds the cached layer graphs) and the format core."""
    import sys

    areas = ("audit", "gate", "sops", "repo")
    found = {str(p) for area in areas for p in (_PACKAGE / area).rglob("*.py")}
    for rule in rules:  # rules registered from elsewhere (tests) count too
        module = sys.modules.get(getattr(rule.check, "__module__", ""))
        if module is not None and getattr(module, "__file__", None):
            found.add(str(module.__file__))
    return sorted(found)
