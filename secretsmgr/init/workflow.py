"""Plan and apply ``secretsmgr init`` in an existing Flux repository.

The plan reads the repository once (``load_inventory``: clusters, layers, SOPS files, settings)
and decides everything before anything is written:

1. **The cluster key of each cluster**, by the one key-source order (``--cluster-key`` >
   ``--from-cluster`` > ``SECRETSMGR_CLUSTER_KEY`` > ``.secretsmgr.yaml`` > ``.sops.yaml``); a
   cluster that none of them names gets a new age identity (made in memory, stored only when the
   run applies).
2. **`.sops.yaml`**: one creation rule per set of clusters (``rules.py``).
3. **`.secretsmgr.yaml`**: the key(s) pinned (``cluster_key``, or ``clusters:`` when several
   clusters have different keys); keys the old rules named besides the cluster key become
   ``allowed_recipients``, so nothing that was expected becomes unexpected.
4. **`.pre-commit-config.yaml`** with the ``secretsmgr-check`` hook.
5. **An ``adopt`` changelog entry** for every SOPS file whose state has none.

An existing file is kept unless ``--force`` (which rewrites `.sops.yaml`, rewrites
`.secretsmgr.yaml` from its current values, and adds the hook to an existing pre-commit config
instead of replacing it); a file whose content would not change is left alone, so a second run
writes nothing. Applying happens under the repository's write lock: the identities are stored
first (a file never names a key whose private half was lost), then every file is replaced
atomically; a failure puts back every file already written and forgets the new identities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from secretsmgr.changelog.adopt import AdoptPlan, actor_of, plan_adopt, write_adopt
from secretsmgr.errors import ConfigError, UsageError
from secretsmgr.fsutil import check_write_target, read_optional, write_atomic
from secretsmgr.init.keystore import NewKey, Stored, check_store, store_new_keys
from secretsmgr.init.rules import PathGroup, path_groups
from secretsmgr.init.texts import (
    HOOK_ID,
    PRE_COMMIT_NAME,
    has_hook,
    precommit_text,
    sops_yaml_text,
    with_hook,
)
from secretsmgr.keys.age import generate_identity
from secretsmgr.keys.bech32 import is_age_recipient
from secretsmgr.keys.protocols import Identity
from secretsmgr.repo.flux import Cluster, LayerGraph, find_layers
from secretsmgr.repo.inventory import Inventory, LiveKeys, load_inventory
from secretsmgr.repo.lock import repo_lock
from secretsmgr.repo.settings import (
    SETTINGS_NAME,
    ClusterSpec,
    Settings,
    parse_settings,
    resolve_cluster_key,
)
from secretsmgr.repo.settingsfile import pinned_settings, render_settings
from secretsmgr.repo.snapshot import WorktreeSnapshot
from secretsmgr.repo.sopsconfig import (
    SOPS_CONFIG_NAME,
    all_age_recipients,
    match_rule,
    parse_sops_config,
)
from secretsmgr.sops.yamlio import safe_load_all

ADOPT_REASON = "secretsmgr init: the SOPS files as they were"
NEW = "new"


class FileState(StrEnum):
    """What the run does to one file."""

    CREATE = "create"
    REPLACE = "replace"
    UPDATE = "update"
    UP_TO_DATE = "up to date"
    KEPT = "kept"


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file init writes, or leaves as it is."""

    path: str
    state: FileState
    summary: str
    text: str | None = field(default=None, repr=False)

    @property
    def writes(self) -> bool:
        """Whether applying the plan writes this file."""
        return self.state in (FileState.CREATE, FileState.REPLACE, FileState.UPDATE)


@dataclass(frozen=True, slots=True)
class ClusterKey:
    """The key of one cluster and where it came from (``new``: made by this run)."""

    cluster: str | None
    public: str
    source: str


@dataclass(frozen=True, slots=True)
class InitOptions:
    """What the command line asked for."""

    cluster_key: str | None = None
    live: tuple[LiveKeys, ...] = ()  # --from-cluster: one Secret, or one per cluster context
    output: Path | None = None  # -o FILE for new identities; None = the OS keyring
    force: bool = False


@dataclass(frozen=True, slots=True)
class InitPlan:
    """Everything a run would do; nothing is written until it is applied."""

    root: Path
    clusters: tuple[ClusterKey, ...]
    new_keys: tuple[NewKey, ...] = field(repr=False)
    store: str | None  # where new identities go
    files: tuple[FileChange, ...]
    adopt: AdoptPlan
    layers: int
    sops_files: int
    undecrypted: tuple[str, ...]  # layers applying SOPS files without sops decryption
    notes: tuple[str, ...]

    @property
    def changes(self) -> bool:
        """Whether applying the plan changes anything."""
        return (
            bool(self.new_keys) or self.adopt.entry is not None or any(f.writes for f in self.files)
        )


@dataclass(frozen=True, slots=True)
class InitResult:
    """What a run did."""

    plan: InitPlan
    stored_in: str | None = None
    seq: int | None = None


# ----------------------------------------------------------------------------- keys


def _short(key: str) -> str:
    return key if len(key) <= 16 else f"{key[:8]}…{key[-4:]}"


def _name(cluster: str | None) -> str:
    return f"cluster {cluster}" if cluster is not None else "the cluster"


def decide_keys(inv: Inventory, options: InitOptions) -> tuple[list[ClusterKey], list[NewKey]]:
    """The key of every cluster by the one key-source order; new identities where none is."""
    clusters = inv.layers.clusters
    if options.cluster_key is not None:
        resolved = resolve_cluster_key(options.cluster_key, MappingProxyType({}), Settings(), ())
        keys = resolved[0] if resolved is not None else ()
        if len(keys) != 1:
            raise UsageError("--cluster-key: give exactly one age public key")
        return [ClusterKey(c.name, keys[0], "--cluster-key") for c in clusters], []
    if options.live:
        return [_live_key(cluster, options.live, len(clusters)) for cluster in clusters], []
    if inv.settings.next_cluster_key is not None:
        raise UsageError(
            "a cluster-key rotation is under way (next_cluster_key is set)",
            hints=("finish it first: secretsmgr key rotate --finish",),
        )
    groups = {g.cluster: g for g in inv.keys_by_cluster()}
    single = inv.cluster_keys if len(inv.cluster_keys) == 1 else ()
    out: list[ClusterKey] = []
    new: list[NewKey] = []
    for cluster in clusters:
        group = groups.get(cluster.name)
        keys, source = (group.keys, group.source) if group is not None else ((), None)
        if len(keys) > 1:
            raise UsageError(
                f"{_name(cluster.name)}'s files are encrypted to several cluster keys "
                f"({', '.join(_short(k) for k in keys)})",
                hints=("name the cluster key: secretsmgr init --cluster-key age1…",),
            )
        if not keys and single:
            keys, source = single, inv.cluster_key_source
        if not keys:
            keys, source = _shared_recipient(inv, cluster.name)
        if keys:
            out.append(ClusterKey(cluster.name, keys[0], source or SOPS_CONFIG_NAME))
            continue
        secret, public = generate_identity()
        new.append(NewKey(cluster.name, public, secret))
        out.append(ClusterKey(cluster.name, public, NEW))
    return out, new


def _live_key(cluster: Cluster, lives: Sequence[LiveKeys], count: int) -> ClusterKey:
    """The one age key the Secret read for ``cluster`` holds (its own context's, or the one
    Secret read for a repository with a single cluster)."""
    live = next((x for x in lives if x.cluster is not None and x.cluster == cluster.name), None)
    if live is None and count == 1:
        live = next((x for x in lives if x.cluster is None), None)
    if live is None:
        raise UsageError(
            f"--from-cluster read no Secret for {_name(cluster.name)}: with several clusters, "
            "each needs its kube context (clusters.NAME.context in .secretsmgr.yaml)",
            hints=("or name the key every cluster shares: secretsmgr init --cluster-key age1…",),
        )
    publics = [k for k in live.publics if is_age_recipient(k)]
    if len(publics) != 1:
        raise UsageError(
            f"the live Secret ({live.label}) holds {len(publics)} age keys",
            hints=("name the cluster key: secretsmgr init --cluster-key age1…",),
        )
    return ClusterKey(cluster.name, publics[0], f"cluster ({live.label})")


def _shared_recipient(inv: Inventory, cluster: str | None) -> tuple[tuple[str, ...], str | None]:
    """With no configuration naming a key: the one age key every SOPS file the cluster applies
    is encrypted to (Flux decrypts them all today, so it holds that key). Several such keys
    cannot be told apart (a cluster key and an admin key): the operator names one."""
    common: dict[str, None] | None = None
    for entry in inv.sops_files:
        sf = entry.sops_file
        if sf is None or cluster not in inv.layers.clusters_of(entry.path):
            continue
        keys = [k for k in sf.metadata.age_recipients if is_age_recipient(k)]
        common = dict.fromkeys(keys) if common is None else {k: None for k in common if k in keys}
    if not common:
        return (), None
    if len(common) > 1:
        raise UsageError(
            f"{_name(cluster)}'s SOPS files are all encrypted to {len(common)} keys "
            f"({', '.join(_short(k) for k in common)}), and nothing says which is the cluster's",
            hints=(
                "name it: secretsmgr init --cluster-key age1…",
                "or read it from the cluster: secretsmgr init --from-cluster",
            ),
        )
    return tuple(common), "the recipient every SOPS file of the cluster has"


# ----------------------------------------------------------------------------- files


def _layer_files(graph: LayerGraph) -> dict[tuple[str | None, str, str], frozenset[str]]:
    return {layer.key: layer.files for layer in graph.layers}


def _cluster_specs(inv: Inventory, settings: Settings) -> tuple[ClusterSpec, ...]:
    """One ``clusters:`` entry per discovered cluster, when there are several and each has a
    name and a root folder; none when writing them would change what the model finds."""
    clusters: Sequence[Cluster] = inv.layers.clusters
    if len(clusters) < 2 or any(c.name is None or c.path is None for c in clusters):
        return ()
    specs = tuple(ClusterSpec(c.name or "", c.path or "", None, c.context) for c in clusters)
    graph = find_layers(WorktreeSnapshot(inv.root), specs, dict(settings.sources))
    if _layer_files(graph) != _layer_files(inv.layers):
        return ()
    return specs


def _pins(settings: Settings, keys: Mapping[str | None, str], allowed: Sequence[str]) -> bool:
    """Whether ``settings`` already name each cluster's key and allow ``allowed``."""
    own: dict[str | None, str | None] = {c.name: c.cluster_key for c in settings.clusters}
    return (
        settings.next_cluster_key is None
        and set(allowed) <= set(settings.allowed_recipients)
        and all((own.get(c) or settings.cluster_key) == k for c, k in keys.items())
    )


def _settings_change(
    inv: Inventory, pinned: Settings, keys: Mapping[str | None, str], force: bool
) -> FileChange:
    existing = read_optional(inv.root / SETTINGS_NAME)
    if pinned.cluster_key is not None:
        what = "cluster_key"
    else:
        what = "clusters: " + ", ".join(c.name for c in pinned.clusters)
    if pinned.allowed_recipients:
        what += f", {len(pinned.allowed_recipients)} allowed_recipients"
    if existing is not None and _pins(parse_settings(existing), keys, pinned.allowed_recipients):
        return FileChange(SETTINGS_NAME, FileState.UP_TO_DATE, "pins the cluster key")
    text = render_settings(pinned)
    if existing is None:
        return FileChange(SETTINGS_NAME, FileState.CREATE, what, text)
    if force:
        return FileChange(
            SETTINGS_NAME, FileState.REPLACE, f"{what} (from its current values)", text
        )
    return FileChange(
        SETTINGS_NAME,
        FileState.KEPT,
        "exists and does not pin the cluster key (--force rewrites it from its current "
        "values; its comments are not kept)",
    )


def _check_rules(
    inv: Inventory, text: str, keys: Mapping[str | None, str], groups: Sequence[PathGroup]
) -> None:
    """Every file a cluster applies matches a rule naming that cluster's key (or init is wrong)."""
    config = parse_sops_config(text, inv.root / SOPS_CONFIG_NAME)
    for layer in inv.layers.layers:
        if layer.external is not None:
            continue
        for path in layer.files:
            rule = match_rule(config, inv.root / path)
            if rule is None or keys[layer.cluster] not in all_age_recipients(rule):
                raise AssertionError(f"init's .sops.yaml misses {path}")  # pragma: no cover
    assert len(config.rules) == len(groups)


def _sops_change(
    inv: Inventory,
    keys: Mapping[str | None, str],
    allowed: Sequence[str],
    force: bool,
) -> tuple[FileChange, list[str]]:
    groups = path_groups(inv.layers)
    text = sops_yaml_text(groups, keys, allowed)
    _check_rules(inv, text, keys, groups)
    count = len(groups)
    what = f"{count} creation rule{'s' if count != 1 else ''}: " + ", ".join(
        p for g in groups for p in g.paths
    )
    existing = read_optional(inv.root / SOPS_CONFIG_NAME)
    if existing is None:
        return FileChange(SOPS_CONFIG_NAME, FileState.CREATE, what, text), []
    if existing == text:
        return FileChange(SOPS_CONFIG_NAME, FileState.UP_TO_DATE, what), []
    if force:
        return FileChange(SOPS_CONFIG_NAME, FileState.REPLACE, what, text), []
    notes = []
    config = inv.sops_config
    named = {k for rule in (config.rules if config else ()) for k in all_age_recipients(rule)}
    for key in dict.fromkeys(keys.values()):
        if key not in named:
            notes.append(
                f"the kept {SOPS_CONFIG_NAME} names the cluster key {_short(key)} in no rule: "
                "files sops creates would not be encrypted to it (--force rewrites it)"
            )
    kept = FileChange(SOPS_CONFIG_NAME, FileState.KEPT, "exists (--force rewrites it)")
    return kept, notes


def _hook_entry_ok(text: str) -> bool:
    try:
        docs = safe_load_all(text)
    except Exception:  # a FormatError: our edit broke it; the caller keeps the file
        return False
    repos = docs[0].get("repos") if docs and isinstance(docs[0], dict) else None
    return isinstance(repos, list) and any(
        isinstance(r, dict)
        and any(isinstance(h, dict) and h.get("id") == HOOK_ID for h in r.get("hooks") or [])
        for r in repos
    )


def _precommit_change(root: Path, force: bool) -> FileChange:
    existing = read_optional(root / PRE_COMMIT_NAME)
    if existing is None:
        return FileChange(
            PRE_COMMIT_NAME, FileState.CREATE, f"the {HOOK_ID} hook", precommit_text()
        )
    if has_hook(existing):
        return FileChange(PRE_COMMIT_NAME, FileState.UP_TO_DATE, f"has the {HOOK_ID} hook")
    if not force:
        return FileChange(
            PRE_COMMIT_NAME, FileState.KEPT, f"exists without the {HOOK_ID} hook (--force adds it)"
        )
    added = with_hook(existing)
    if added is None or not _hook_entry_ok(added):
        return FileChange(
            PRE_COMMIT_NAME,
            FileState.KEPT,
            f"exists without the {HOOK_ID} hook, in a layout init cannot extend: add it by hand",
        )
    return FileChange(PRE_COMMIT_NAME, FileState.UPDATE, f"the {HOOK_ID} hook added", added)


# ----------------------------------------------------------------------------- the plan


def _state_notes(
    inv: Inventory, keys: Mapping[str | None, str], allowed: Sequence[str]
) -> list[str]:
    """What audit will say about the SOPS files as they are (init re-encrypts nothing)."""
    missing: list[str] = []
    strangers: list[str] = []
    expected = set(keys.values()) | set(allowed)
    for entry in inv.sops_files:
        sf = entry.sops_file
        if sf is None:
            continue
        recipients = set(sf.metadata.age_recipients)
        wanted = {keys[c] for c in inv.layers.clusters_of(entry.path) if c in keys}
        if wanted and not wanted <= recipients:
            missing.append(entry.path)
        if recipients - expected:
            strangers.append(entry.path)
    notes = []
    if missing:
        notes.append(
            f"{_files(missing, 'is', 'are')} not encrypted to the cluster's key, e.g. "
            f"{missing[0]} (SM004): "
            "rotate with an identity that opens them: secretsmgr rotate --all"
        )
    if strangers:
        notes.append(
            f"{_files(strangers, 'has', 'have')} other recipients than the cluster key and the "
            "allowed ones, "
            f"e.g. {strangers[0]} (SM005): list them under allowed_recipients, or rotate"
        )
    return notes


def _files(paths: Sequence[str], one: str, many: str) -> str:
    """``1 SOPS file is`` / ``3 SOPS files are``: the subject of a note."""
    return f"1 SOPS file {one}" if len(paths) == 1 else f"{len(paths)} SOPS files {many}"


def plan_init(
    inv: Inventory,
    options: InitOptions,
    identities: Sequence[Identity] = (),
    *,
    actor: str = "unknown",
) -> InitPlan:
    """Decide everything ``init`` would do in the repository ``inv`` describes."""
    root = inv.root
    if not inv.layers.clusters:
        raise ConfigError(
            f"no Flux cluster found in {root}: init sets up an existing Flux repository",
            hints=(
                "run it where the Flux bootstrap lives (clusters/<name>/flux-system): "
                "secretsmgr --repo PATH init",
            ),
        )
    cluster_keys, new_keys = decide_keys(inv, options)
    notes: list[str] = list(inv.key_notes)
    store = check_store(root, options.output) if new_keys else None
    if not new_keys and options.output is not None:
        notes.append(f"no new identity is made, so {options.output} is not written")
    keys = {c.cluster: c.public for c in cluster_keys}
    specs = _cluster_specs(inv, inv.settings)
    if len(set(keys.values())) > 1 and not specs:
        notes.append(
            "the clusters' keys differ, but clusters: could not be written for them: "
            f"{SOPS_CONFIG_NAME} names each cluster's key"
        )
    pinned = pinned_settings(inv, keys, specs)
    if pinned.cluster_key is None and not pinned.clusters:
        pinned = replace(pinned, cluster_key=cluster_keys[0].public)
    sops_change, sops_notes = _sops_change(inv, keys, pinned.allowed_recipients, options.force)
    notes += sops_notes
    notes += _state_notes(inv, keys, pinned.allowed_recipients)
    files = (
        sops_change,
        _settings_change(inv, pinned, keys, options.force),
        _precommit_change(root, options.force),
    )
    for change in files:
        if change.writes:
            check_write_target(root, change.path)  # refused before any key is made or stored
    adopt = plan_adopt(inv, ADOPT_REASON, identities, actor=actor)
    sops_paths = {e.path for e in inv.sops_files}
    undecrypted = tuple(
        layer.label
        for layer in inv.layers.layers
        if layer.files & sops_paths and not layer.decrypts_sops
    )
    return InitPlan(
        root=root,
        clusters=tuple(cluster_keys),
        new_keys=tuple(new_keys),
        store=store,
        files=files,
        adopt=adopt,
        layers=len(inv.layers.layers),
        sops_files=len(inv.sops_files),
        undecrypted=undecrypted,
        notes=tuple(dict.fromkeys(notes)),
    )


def apply_init(plan: InitPlan, output: Path | None) -> InitResult:
    """Store the new identities, then write every file and the changelog entry; all or none."""
    stored: Stored | None = store_new_keys(plan.new_keys, output) if plan.new_keys else None
    written: list[tuple[Path, str | None]] = []
    try:
        for change in plan.files:
            if change.writes:
                assert change.text is not None
                path = check_write_target(plan.root, change.path)  # never through a link
                written.append((path, read_optional(path)))
                write_atomic(path, change.text)
        seq = write_adopt(plan.root, plan.adopt)
    except BaseException:
        for path, old in reversed(written):
            if old is None:
                path.unlink(missing_ok=True)
            else:
                write_atomic(path, old)
        if stored is not None:
            stored.discard()
        raise
    return InitResult(plan, stored.where if stored is not None else None, seq)


def init(
    root: Path,
    options: InitOptions,
    identities: Sequence[Identity] = (),
    *,
    env: Mapping[str, str] = MappingProxyType({}),
    dry_run: bool = False,
) -> InitResult:
    """Plan, and unless ``dry_run`` apply, under the repository's write lock."""
    with repo_lock(root):
        inv = load_inventory(root, env=env)
        plan = plan_init(inv, options, identities, actor=actor_of(root))
        if dry_run:
            return InitResult(plan)
        return apply_init(plan, options.output)
