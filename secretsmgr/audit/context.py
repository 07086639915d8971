"""What a rule sees: the repository read once and parsed once.

``build_context`` is the only place in ``audit`` that touches the disk (through ``repo``), the
environment (a mapping passed in) or key material (identities passed in). Rules are pure
functions of the ``AuditContext`` it returns.

Cost per file: one read; a regex over the bytes for age private keys (SM009); a YAML/JSON/dotenv
parse only for SOPS candidates (named ``*.enc.*``/``*.sops.yaml``, or a top-level ``sops`` key in
the bytes) and for plaintext ``kind: Secret`` candidates (SM001). Nothing is decrypted unless
``verify_mac`` is set and identities are given.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import cast

from secretsmgr.changelog.chain import Entry, parse_entries
from secretsmgr.errors import ChainError, ConfigError, DecryptionError, FormatError, UsageError
from secretsmgr.keys.age import parse_identities
from secretsmgr.keys.bech32 import is_age_recipient, split_bech32
from secretsmgr.keys.protocols import Identity
from secretsmgr.repo.layers import LayerGraph, find_layers
from secretsmgr.repo.root import list_repo_files
from secretsmgr.repo.settings import (
    Settings,
    load_settings,
    resolve_cluster_key,
)
from secretsmgr.repo.sopsconfig import (
    SOPS_CONFIG_NAME,
    CreationRule,
    SopsConfig,
    all_age_recipients,
    find_sops_config,
    load_sops_config,
    match_rule,
)
from secretsmgr.sops.datakey import unwrap_data_key
from secretsmgr.sops.document import (
    FileFormat,
    SopsFile,
    has_metadata,
    load,
    parse_documents,
)
from secretsmgr.sops.encvalue import is_enc, parse_enc
from secretsmgr.sops.metadata import SOPS_KEY, parse_metadata
from secretsmgr.sops.model import EncryptionRule, RuleKind
from secretsmgr.sops.rules import Leaf, iter_leaves
from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.tree import Path as KeyPath
from secretsmgr.sops.values import Comment
from secretsmgr.sops.yamlio import safe_load_all

NAMED_SOPS_SUFFIXES = (".enc.yaml", ".enc.yml", ".enc.json", ".sops.yaml")
DECRYPT_ANNOTATION = "kustomize.toolkit.fluxcd.io/decrypt"
EMPTY_ENV: Mapping[str, str] = MappingProxyType({})

_FORMATS = {".yaml": FileFormat.YAML, ".yml": FileFormat.YAML, ".json": FileFormat.JSON}
_DOTENV_SUFFIX = ".env"
# A top-level ``sops`` key (YAML, JSON) or flattened ``sops_`` metadata (dotenv).
_SOPS_HINT = {
    FileFormat.YAML: re.compile(rb"^sops:", re.MULTILINE),
    FileFormat.JSON: re.compile(rb'"sops"\s*:'),
    FileFormat.DOTENV: re.compile(rb"^sops_(?:mac|version)=", re.MULTILINE),
}
# What Flux's kustomize-controller looks for before decrypting a generator or patch file (§12).
FLUX_MARKERS = {
    FileFormat.YAML: b"mac: ENC[",
    FileFormat.JSON: b'"mac": "ENC[',
    FileFormat.DOTENV: b"sops_mac=ENC[",
}
# A top-level ``kind: Secret`` (SM001 pre-filter; the parse decides).
_SECRET_HINT = {
    FileFormat.YAML: re.compile(rb"""^kind:[ \t]*["']?Secret["']?[ \t]*(?:#.*)?\r?$""", re.M),
    FileFormat.JSON: re.compile(rb'"kind"\s*:\s*"Secret"'),
}
_PRIVATE_KEY = re.compile(rb"AGE-SECRET-KEY-(?:PQ-)?1[0-9A-Z]{20,}")
# A value that is only a Flux post-build variable (``${VAR}``, ``${VAR:=default}``) or a Helm/Go
# template is filled in later, not a committed secret.
_SUBSTITUTION = re.compile(r"^\s*(?:\$\{[^}]*\}\s*)+$")


@dataclass(frozen=True, slots=True, eq=False)
class SopsEntry:
    """One SOPS file: named like one, or carrying SOPS metadata.

    ``sops_file`` is None when the file has no metadata (SM002) or when it cannot be read as
    SOPS (``error`` says why, SM006). Key paths are dotted (``stringData.password``).
    """

    path: str
    format: FileFormat
    size: int
    named: bool
    has_metadata: bool
    sops_file: SopsFile | None = field(default=None, repr=False)
    error: str | None = None
    plaintext_leaves: tuple[str, ...] = ()
    malformed_leaves: tuple[str, ...] = ()
    bare_documents: tuple[int, ...] = ()
    decrypt_disabled: bool = False
    has_flux_marker: bool = True
    sops_config: str | None = None
    creation_rule: CreationRule | None = None
    creation_rule_number: int | None = None
    text: str = field(default="", repr=False)  # the file as read, for writers (rotation)

    @property
    def is_valid(self) -> bool:
        """Whether the file parsed as SOPS (metadata and documents)."""
        return self.sops_file is not None


@dataclass(frozen=True, slots=True)
class PlaintextSecret:
    """A plaintext value in a Kubernetes Secret without SOPS metadata (SM001)."""

    path: str
    key_path: str
    secret: str


@dataclass(frozen=True, slots=True)
class PrivateKeyHit:
    """An age private key found in a file (SM009); the key itself is never kept."""

    path: str
    line: int
    post_quantum: bool
    public: str | None


@dataclass(frozen=True, slots=True)
class LiveCluster:
    """The public keys the live cluster's ``sops-age`` Secret holds (read by the caller)."""

    label: str  # "context test: flux-system/sops-age"
    publics: tuple[str, ...]


@dataclass(frozen=True, slots=True, eq=False)
class AuditContext:
    """Everything a rule may read."""

    root: Path
    files: tuple[str, ...]
    all_files: tuple[str, ...]
    sops_files: tuple[SopsEntry, ...]
    secret_candidates: tuple[PlaintextSecret, ...]
    private_keys: tuple[PrivateKeyHit, ...]
    layers: LayerGraph
    settings: Settings
    sops_config: SopsConfig | None
    has_sops_config: bool
    cluster_keys: tuple[str, ...]
    cluster_key_source: str | None
    max_age_days: int
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    changelog: tuple[Entry, ...] = ()
    changelog_present: bool = False
    changelog_error: str | None = None
    verify_mac: bool = False
    identities: tuple[Identity, ...] = field(default=(), repr=False)
    data_keys: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    unopened: tuple[str, ...] = ()
    live_cluster: LiveCluster | None = None
    # The cluster key(s) the repository itself names (env, .secretsmgr.yaml or .sops.yaml),
    # whatever --cluster-key or --from-cluster say: what SM016 compares with the cluster.
    repo_cluster_keys: tuple[str, ...] = ()
    repo_cluster_key_source: str | None = None

    @property
    def rotation_pending(self) -> tuple[str, str] | None:
        """(old, new) while a cluster-key rotation is under way, else None."""
        s = self.settings
        if s.cluster_key is not None and s.next_cluster_key is not None:
            return s.cluster_key, s.next_cluster_key
        return None

    def layers_of(self, path: str) -> tuple[str, ...]:
        """Names of the layers reaching ``path``, in dependsOn order."""
        return self.layers.layers_of(path)

    def cluster_keys_for(self, entry: SopsEntry) -> tuple[str, ...]:
        """The cluster keys expected on ``entry``.

        From ``.sops.yaml`` (the last source in the contract's chain) that is the age recipients
        of the file's own creation rule; from any other source, the same keys for every file.
        """
        if self.cluster_key_source == SOPS_CONFIG_NAME:
            rule = entry.creation_rule
            return all_age_recipients(rule) if rule is not None else ()
        return self.cluster_keys

    def expected_recipients(self, entry: SopsEntry) -> frozenset[str]:
        """Recipients that raise no SM005: cluster key(s), the next one, allowed recipients."""
        keys = set(self.cluster_keys_for(entry)) | set(self.settings.allowed_recipients)
        if self.settings.next_cluster_key is not None:
            keys.add(self.settings.next_cluster_key)
        return frozenset(keys)


# --------------------------------------------------------------------------------- helpers


def is_named_sops(path: str) -> bool:
    """Whether the file name says SOPS (``*.enc.yaml`` …), never ``.sops.yaml`` itself."""
    name = posixpath.basename(path)
    return name != SOPS_CONFIG_NAME and name.endswith(NAMED_SOPS_SUFFIXES)


def structured_format(path: str) -> FileFormat | None:
    """The store of a YAML/JSON/dotenv file by extension, or None for anything else."""
    name = posixpath.basename(path).lower()
    if name.endswith(_DOTENV_SUFFIX):
        return FileFormat.DOTENV
    return _FORMATS.get(posixpath.splitext(name)[1])


def dotted(path: KeyPath) -> str | None:
    """A key path as ``a.b.c``; None for the top level."""
    return ".".join(path) if path else None


def reencrypt_hint(path: str) -> str:
    """Re-encrypt under the creation rule with the plaintext only in memory-backed /dev/shm."""
    plain = "/dev/shm/secretsmgr-plain"
    return (
        f"secretsmgr decrypt -o {plain} {path} && secretsmgr encrypt --filename-override "
        f"{path} -o {path} {plain}; rm -f {plain}"
    )


def abbreviate(key: str) -> str:
    """A public key shortened for messages: ``age1abc…xyz``."""
    return key if len(key) <= 16 else f"{key[:7]}…{key[-3:]}"


def _looks_like_key(token: str) -> bool:
    """A valid bech32 key, or a random-looking one (a damaged key); not a placeholder."""
    if split_bech32(token) is not None:
        return True
    body = token.rpartition("1")[2]
    return len(set(body)) >= 12


def _public_of(token: str) -> str | None:
    if token.startswith("AGE-SECRET-KEY-PQ-"):
        return None
    try:
        publics = parse_identities(token, "a committed file").publics
    except ConfigError:
        return None
    return publics[0] if publics else None


def find_private_keys(path: str, data: bytes) -> list[PrivateKeyHit]:
    """Every age private key in ``data``; placeholders such as ``AGE-SECRET-KEY-1XXXX…`` skipped."""
    if b"AGE-SECRET-KEY-" not in data:
        return []
    hits: list[PrivateKeyHit] = []
    for m in _PRIVATE_KEY.finditer(data):
        token = m.group().decode("ascii")
        if not _looks_like_key(token):
            continue
        line = data.count(b"\n", 0, m.start()) + 1
        pq = token.startswith("AGE-SECRET-KEY-PQ-")
        hits.append(PrivateKeyHit(path, line, pq, _public_of(token)))
    return hits


def _is_plaintext_value(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        if not value.strip():
            return False
        if _SUBSTITUTION.match(value) or "{{" in value:
            return False  # filled in by Flux post-build substitution or a template
        return not value.startswith("ENC[AES256_GCM,")
    return not isinstance(value, dict | list) or bool(value)


def find_plaintext_secrets(path: str, text: str, fmt: FileFormat) -> list[PlaintextSecret]:
    """Plaintext ``data``/``stringData`` values of ``kind: Secret`` documents in ``text``."""
    try:
        if fmt is FileFormat.JSON:
            docs: list[object] = [json.loads(text)]
        else:
            docs = list(safe_load_all(text))
    except (FormatError, ValueError, RecursionError):
        return []  # not a manifest we can read (templates, fragments): nothing to say
    found: list[PlaintextSecret] = []
    for raw in docs:
        if not isinstance(raw, dict):
            continue
        doc = cast(dict[str, object], raw)
        if doc.get("kind") != "Secret" or doc.get("apiVersion") != "v1" or SOPS_KEY in doc:
            continue
        meta = doc.get("metadata")
        meta_d = cast(dict[str, object], meta) if isinstance(meta, dict) else {}
        name, namespace = meta_d.get("name"), meta_d.get("namespace")
        label = f"{namespace}/{name}" if namespace else str(name or "(unnamed)")
        for section in ("stringData", "data"):
            values = doc.get(section)
            if not isinstance(values, dict):
                continue
            for key, value in cast(dict[object, object], values).items():
                if _is_plaintext_value(value):
                    found.append(PlaintextSecret(path, f"{section}.{key}", label))
    return found


def _decrypt_disabled(tree: MapNode) -> bool:
    meta = tree.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, MapNode) else None
    value = annotations.get(DECRYPT_ANNOTATION) if isinstance(annotations, MapNode) else None
    return isinstance(value, str) and value.strip().lower() == "disabled"


def _key_rule_matcher(rule: EncryptionRule) -> tuple[bool, Callable[[str], bool]] | None:
    """(encrypt-when-matched, matcher) for key-based rules; None for comment-regex rules."""
    kind = rule.kind
    if kind in (RuleKind.ENCRYPTED_SUFFIX, RuleKind.UNENCRYPTED_SUFFIX):
        suffix = rule.value
        return kind is RuleKind.ENCRYPTED_SUFFIX, lambda key: key.endswith(suffix)
    if kind in (RuleKind.ENCRYPTED_REGEX, RuleKind.UNENCRYPTED_REGEX):
        try:
            rx = re.compile(rule.value)
        except re.error as exc:
            raise FormatError("sops metadata: invalid encryption regex") from exc
        return kind is RuleKind.ENCRYPTED_REGEX, lambda key: rx.search(key) is not None
    return None


def encrypted_leaves(tree: Node, rule: EncryptionRule) -> Iterator[tuple[KeyPath, Leaf]]:
    """The leaves (comments included) that ``rule`` encrypts, in sops walk order.

    The same answer as ``sops.rules.iter_leaves`` without rebuilding the tree: a rule matches
    any component of the path, so the decision is inherited downwards.
    """
    matcher = _key_rule_matcher(rule)
    if matcher is None:
        for path, leaf, encrypted in iter_leaves(tree, rule):
            if encrypted:
                yield path, leaf
        return
    when_matched, matches = matcher

    def visit(node: Node, path: KeyPath, enc: bool) -> Iterator[tuple[KeyPath, Leaf]]:
        if isinstance(node, MapNode):
            for item in node.items:
                if isinstance(item, Comment):
                    if enc:
                        yield path, item
                    continue
                key, value = item
                child = (enc or matches(key)) if when_matched else (enc and not matches(key))
                yield from visit(value, (*path, key), child)
        elif isinstance(node, SeqNode):
            for element in node.items:
                if isinstance(element, Comment):
                    if enc:
                        yield path, element
                else:
                    yield from visit(element, path, enc)
        elif enc:
            yield path, node

    yield from visit(tree, (), not when_matched)


def _scan_leaves(sf: SopsFile) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Dotted paths of values the file's own rule encrypts that are plain (SM003) or broken ENC."""
    plain: dict[str, None] = {}
    broken: dict[str, None] = {}
    rule = sf.metadata.rule
    for tree in sf.docs:
        for path, leaf in encrypted_leaves(tree, rule):
            if isinstance(leaf, Comment):
                if is_enc(leaf.text):
                    try:
                        parse_enc(leaf.text)
                    except FormatError:
                        broken[dotted(path) or "(top level)"] = None
                continue
            if leaf is None or leaf == "":
                continue  # sops leaves empty strings and nulls as they are
            if isinstance(leaf, str) and leaf.startswith("ENC["):
                try:
                    parse_enc(leaf)
                except FormatError:
                    broken[dotted(path) or "(top level)"] = None
            else:
                plain[dotted(path) or "(top level)"] = None
    return tuple(plain), tuple(broken)


def read_sops_entry(
    path: str,
    data: bytes,
    fmt: FileFormat,
    rule: tuple[str | None, CreationRule | None, int | None] = (None, None, None),
) -> SopsEntry | None:
    """A SOPS entry for a YAML/JSON/dotenv file, or None when it is not a SOPS file.

    ``rule`` is (config label, creation rule, rule number) from the governing `.sops.yaml`.
    """
    named = is_named_sops(path)
    base = SopsEntry(
        path=path,
        format=fmt,
        size=len(data),
        named=named,
        has_metadata=False,
        has_flux_marker=FLUX_MARKERS[fmt] in data,
        sops_config=rule[0],
        creation_rule=rule[1],
        creation_rule_number=rule[2],
    )
    try:
        text = data.decode("utf-8")
        docs = parse_documents(text, fmt)
    except UnicodeDecodeError:
        return replace(base, error="not valid UTF-8") if named else None
    except FormatError as exc:
        return replace(base, error=exc.message) if named else None
    first = docs[0] if docs else None
    if not has_metadata(docs, fmt):
        if not named:
            return None
        if fmt is FileFormat.DOTENV or not (isinstance(first, MapNode) and first.has(SOPS_KEY)):
            return base  # no metadata at all: SM002
    try:
        if fmt is FileFormat.DOTENV:
            sf = load(text, fmt)
            bare: list[int] = []
        else:
            assert isinstance(first, MapNode)
            metadata = parse_metadata(first.get(SOPS_KEY))
            trees: list[MapNode] = []
            bare = []
            for number, doc in enumerate(docs, start=1):
                if doc is None:
                    continue
                if not isinstance(doc, MapNode):
                    raise FormatError("the top level of every document must be a mapping")
                if number > 1 and not doc.has(SOPS_KEY):
                    bare.append(number)
                trees.append(doc.without(SOPS_KEY))
            sf = SopsFile(fmt, trees, metadata)
        plain, broken = _scan_leaves(sf)
    except FormatError as exc:
        return replace(base, has_metadata=True, error=exc.message)
    return replace(
        base,
        text=text,
        has_metadata=True,
        sops_file=sf,
        plaintext_leaves=plain,
        malformed_leaves=broken,
        bare_documents=tuple(bare),
        decrypt_disabled=any(_decrypt_disabled(t) for t in sf.docs),
    )


# --------------------------------------------------------------------------------- .sops.yaml


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


class _SopsConfigs:
    """The nearest `.sops.yaml` for each file: in its folder or above, inside the repository,
    else the one ``find_sops_config`` finds from the root upwards (as ``encrypt`` does)."""

    def __init__(self, root: Path, all_files: Iterable[str]) -> None:
        self.root = root
        self.dirs = {
            posixpath.dirname(f) for f in all_files if posixpath.basename(f) == SOPS_CONFIG_NAME
        }
        self._loaded: dict[str, SopsConfig] = {}
        self._outside: SopsConfig | None = None
        self._outside_done = False
        self._labels: dict[Path, str] = {}

    def _load(self, folder: str) -> SopsConfig:
        cached = self._loaded.get(folder)
        if cached is None:
            rel = posixpath.join(folder, SOPS_CONFIG_NAME) if folder else SOPS_CONFIG_NAME
            cached = self._loaded[folder] = load_sops_config(self.root / rel)
        return cached

    def fallback(self) -> SopsConfig | None:
        """The config for files with none in the repository (root, or above it)."""
        if "" in self.dirs:
            return self._load("")
        if not self._outside_done:
            self._outside_done = True
            found = find_sops_config(self.root)
            self._outside = load_sops_config(found) if found is not None else None
        return self._outside

    def rule_for(self, path: str) -> tuple[str | None, CreationRule | None, int | None]:
        """(config label, matching creation rule, its 1-based number) for ``path``."""
        folder = posixpath.dirname(path)
        while folder and folder not in self.dirs:
            folder = posixpath.dirname(folder)
        if folder or "" in self.dirs:
            config = self._load(folder)
            subject = path[len(folder) + 1 :] if folder else path
            for number, rule in enumerate(config.rules, start=1):
                pattern = rule.path_regex
                if pattern is None or _regex(pattern).search(subject):
                    return self.label(config), rule, number
            return self.label(config), None, None
        outside = self.fallback()
        if outside is None:
            return None, None, None
        found = match_rule(outside, self.root / path)
        if found is None:
            return self.label(outside), None, None
        return self.label(outside), found, outside.rules.index(found) + 1

    def all_loaded(self) -> list[SopsConfig]:
        """Every config in the repository (loaded), plus the fallback."""
        configs = [self._load(d) for d in sorted(self.dirs)]
        outside = self.fallback()
        if outside is not None and outside not in configs:
            configs.append(outside)
        return configs

    def label(self, config: SopsConfig) -> str:
        """The config's path relative to the root when inside it."""
        cached = self._labels.get(config.path)
        if cached is None:
            try:
                cached = config.path.resolve().relative_to(self.root.resolve()).as_posix()
            except ValueError:
                cached = str(config.path)
            self._labels[config.path] = cached
        return cached


# --------------------------------------------------------------------------------- building


def _scoped_files(root: Path, files: Sequence[str], all_files: Sequence[str]) -> tuple[str, ...]:
    """Repo-relative paths for the files a user named: a folder means every repo file below it;
    a path that does not exist is a usage error (a gate must not pass on a typo)."""
    out: dict[str, None] = {}
    resolved_root = root.resolve()
    for name in files:
        p = Path(name)
        full = p if p.is_absolute() else root / p  # relative names are repo-relative
        try:
            p = full.resolve().relative_to(resolved_root)
        except ValueError as exc:
            raise UsageError(f"{name} is outside the repository {root}") from exc
        rel = posixpath.normpath(p.as_posix())
        if rel.startswith("../"):
            raise UsageError(f"{name} is outside the repository {root}")
        if full.is_dir():
            prefix = "" if rel == "." else rel + "/"
            out.update(dict.fromkeys(f for f in all_files if f.startswith(prefix)))
        elif full.exists():
            out[rel] = None
        else:
            raise UsageError(f"{name}: no such file")
    return tuple(sorted(out))


def _load_changelog(path: Path) -> tuple[tuple[Entry, ...], bool, str | None]:
    try:
        data = path.read_bytes()
    except OSError:
        return (), False, None
    try:
        return tuple(parse_entries(data)), True, None
    except ChainError as exc:
        return (), True, exc.message


def build_context(
    root: Path,
    *,
    files: Sequence[str] | None = None,
    cluster_key_cli: str | None = None,
    env: Mapping[str, str] = EMPTY_ENV,
    identities: Sequence[Identity] = (),
    max_age_days: int | None = None,
    verify_mac: bool = False,
    now: datetime | None = None,
    live_cluster: LiveCluster | None = None,
) -> AuditContext:
    """Read the repository at ``root`` once and build what every rule needs.

    ``files`` (repo-relative or absolute paths, as pre-commit passes them) limits which files
    are audited; layers and `.sops.yaml` rules always come from the whole repository.
    """
    root = Path(root)
    all_files = tuple(list_repo_files(root))
    scope = _scoped_files(root, files, all_files) if files is not None else all_files
    settings = load_settings(root)
    layers = find_layers(root, all_files)
    configs = _SopsConfigs(root, all_files)

    entries: list[SopsEntry] = []
    secrets: list[PlaintextSecret] = []
    keys: list[PrivateKeyHit] = []
    base_dir = str(root)
    for rel in scope:
        try:
            with open(os.path.join(base_dir, rel), "rb") as handle:
                data = handle.read()
        except OSError:
            continue  # deleted, a folder, unreadable: nothing to audit
        keys += find_private_keys(rel, data)
        fmt = structured_format(rel)
        named = is_named_sops(rel)
        if fmt is None and not named:
            continue
        if fmt is None:
            fmt = FileFormat.YAML
        entry: SopsEntry | None = None
        if named or _SOPS_HINT[fmt].search(data):
            entry = read_sops_entry(rel, data, fmt, configs.rule_for(rel))
            if entry is not None:
                entries.append(entry)
        hint = _SECRET_HINT.get(fmt)
        if (entry is None or not entry.has_metadata) and hint and hint.search(data):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            secrets += find_plaintext_secrets(rel, text, fmt)

    rule_recipients: dict[str, None] = {}
    loaded = configs.all_loaded()
    for config in loaded:
        for rule in config.rules:
            # ssh-ed25519 recipients are valid for sops but are no cluster key candidates
            candidates = [k for k in all_age_recipients(rule) if is_age_recipient(k)]
            rule_recipients.update(dict.fromkeys(candidates))
    repo_resolved = resolve_cluster_key(None, env, settings, tuple(rule_recipients))
    repo_keys, repo_source = repo_resolved if repo_resolved is not None else ((), None)
    if cluster_key_cli is not None and cluster_key_cli.strip():
        resolved = resolve_cluster_key(cluster_key_cli, env, settings, tuple(rule_recipients))
        cluster_keys, source = resolved if resolved is not None else ((), None)
    elif live_cluster is not None:
        cluster_keys, source = live_cluster.publics, f"cluster ({live_cluster.label})"
    else:
        cluster_keys, source = repo_keys, repo_source

    history, history_present, history_error = _load_changelog(root / settings.changelog)

    data_keys: dict[str, bytes] = {}
    unopened: list[str] = []
    if verify_mac and identities:
        for entry in entries:
            if entry.sops_file is None:
                continue
            try:
                data_keys[entry.path] = unwrap_data_key(entry.sops_file.metadata, identities)
            except DecryptionError:
                unopened.append(entry.path)

    return AuditContext(
        root=root,
        files=scope,
        all_files=all_files,
        sops_files=tuple(entries),
        secret_candidates=tuple(secrets),
        private_keys=tuple(keys),
        layers=layers,
        settings=settings,
        sops_config=configs.fallback(),
        has_sops_config=bool(loaded),
        cluster_keys=cluster_keys,
        cluster_key_source=source,
        max_age_days=max_age_days if max_age_days is not None else settings.max_age_days,
        now=now or datetime.now(UTC),
        changelog=history,
        changelog_present=history_present,
        changelog_error=history_error,
        verify_mac=verify_mac,
        identities=tuple(identities),
        data_keys=MappingProxyType(data_keys),
        unopened=tuple(unopened),
        live_cluster=live_cluster,
        repo_cluster_keys=repo_keys,
        repo_cluster_key_source=repo_source,
    )
