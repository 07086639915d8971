"""The repository read once: its files, its SOPS files, its Flux layers and its cluster keys.

``load_inventory`` is the one place that reads a repository for audit and rotation alike. It
reads every file in scope once, parses YAML/JSON/dotenv/INI only for SOPS candidates (named
``*.enc.*``/``*.sops.yaml``, or a top-level ``sops`` key in the bytes), and hands each file to
the detectors its caller passes in (the audit rules own their detectors; this module knows none
of them). Nothing is decrypted here.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from types import MappingProxyType

from secretsmgr.errors import UsageError
from secretsmgr.keys.bech32 import is_age_recipient
from secretsmgr.repo.clusterkeys import RuleId, RuleKeys, chosen_keys, key_notes, rule_keys
from secretsmgr.repo.flux import LayerGraph, UseKind, find_layers
from secretsmgr.repo.lost import LostFile, deleted_yet_listed, lost_since_head
from secretsmgr.repo.scan import Detector, InventoryCache, ScannedFile, detect_all, scan_file
from secretsmgr.repo.settings import (
    SETTINGS_NAME,
    Settings,
    resolve_cluster_key,
    settings_of,
)
from secretsmgr.repo.snapshot import Snapshot, WorktreeSnapshot
from secretsmgr.repo.sopsconfig import (
    SOPS_CONFIG_NAME,
    SopsConfig,
    SopsConfigs,
    all_age_recipients,
)
from secretsmgr.repo.sopsentry import SOPS_HINT, SopsEntry, is_named_sops, structured_format
from secretsmgr.sops import FileFormat
from secretsmgr.workers import ordered_map, worker_count

EMPTY_ENV: Mapping[str, str] = MappingProxyType({})
# Reading a file costs well under a millisecond: below this many files a fork costs more than
# the second core saves (measured: 1,000 files read 16 % faster on two cores, 90 no faster).
SCAN_FORK_MIN = 256
SCAN_PER_WORKER = 128


@dataclass(frozen=True, slots=True)
class SymlinkedFile:
    """A SOPS file that is a symbolic link: Flux never deploys it, writers refuse it."""

    path: str
    target: str | None  # repo-relative when inside the repository, None when it leaves it


@dataclass(frozen=True, slots=True)
class ExpectedKeys:
    """The keys one cluster decrypts a file with (any one of them suffices)."""

    cluster: str | None
    keys: tuple[str, ...]
    source: str | None


@dataclass(frozen=True, slots=True)
class LiveKeys:
    """The public keys the live cluster's ``sops-age`` Secret holds (read by the caller)."""

    label: str  # "context test: flux-system/sops-age"
    publics: tuple[str, ...]
    cluster: str | None = None  # the cluster whose context was read; None = every cluster
    note: str | None = None  # which cluster the context was taken for, when nothing said so


@dataclass(frozen=True, slots=True, eq=False)
class Inventory:
    """What a repository holds, as every rule and every writer reads it."""

    root: Path
    files: tuple[str, ...]
    all_files: tuple[str, ...]
    sops_files: tuple[SopsEntry, ...]
    layers: LayerGraph
    settings: Settings
    sops_configs: SopsConfigs = field(repr=False)
    cluster_keys: tuple[str, ...]
    cluster_key_source: str | None
    # The cluster key(s) the repository itself names (env, .secretsmgr.yaml or .sops.yaml),
    # whatever --cluster-key or --from-cluster say: what SM016 compares with the cluster.
    repo_cluster_keys: tuple[str, ...] = ()
    repo_cluster_key_source: str | None = None
    hits: Mapping[str, tuple[object, ...]] = field(default_factory=dict, repr=False)
    symlinks: tuple[SymlinkedFile, ...] = ()
    # the cluster key(s) each `.sops.yaml` creation rule names (clusterkeys.py)
    rule_keys: Mapping[RuleId, RuleKeys] = field(default_factory=dict, repr=False)
    live: tuple[LiveKeys, ...] = ()  # what live clusters' sops-age Secrets hold
    # rules whose files no live layer applies, beside rules whose files one does (a rule for
    # .github/secrets naming a CI key): they name no cluster key (see _flux_free)
    flux_free_rules: frozenset[RuleId] = frozenset()
    # each cluster's keys by the `.sops.yaml` rules whose files that cluster alone applies,
    # less those another cluster's own rules name too (see _own_rule_keys, _own_key_under)
    own_rule_keys: Mapping[str | None, tuple[str, ...]] = field(default_factory=dict, repr=False)
    # the rules whose SOPS files several clusters apply (a shared base's)
    shared_rules: frozenset[RuleId] = frozenset()
    # files a run over named ones (``check``) did not read that are named like SOPS files
    unread_sops_named: tuple[str, ...] = ()
    # files HEAD holds with SOPS metadata that this state (the index, the working tree) holds
    # without: decrypted in place (``sops -d -i``), or decrypted and renamed, and about to be
    # committed in clear
    lost_since_head: tuple[LostFile, ...] = ()
    # (path, layer, what it names: the file or a folder above it) of SOPS files this state
    # deletes that a live layer's build still names
    deleted_listed: tuple[tuple[str, str, str], ...] = ()

    def live_for(self, cluster: str | None) -> LiveKeys | None:
        """The live keys read for ``cluster``'s own context, if any."""
        return next((x for x in self.live if x.cluster is not None and x.cluster == cluster), None)

    @property
    def sops_config(self) -> SopsConfig | None:
        """The `.sops.yaml` for files with none of their own (root, or above the root)."""
        return self.sops_configs.fallback()

    @property
    def has_sops_config(self) -> bool:
        """Whether any `.sops.yaml` governs the repository."""
        return bool(self.sops_configs.all_loaded())

    @property
    def rotation_pending(self) -> tuple[str, str] | None:
        """(old, new) while a rotation of the repository-wide cluster key is under way, else
        None."""
        return next(((old, new) for name, old, new in self.rotations if name is None), None)

    @property
    def rotations(self) -> tuple[tuple[str | None, str, str], ...]:
        """(cluster name or None, old, new) of every cluster-key rotation under way."""
        return self.settings.pending_rotations

    def layers_of(self, path: str) -> tuple[str, ...]:
        """Names of the layers reaching ``path``, in dependsOn order."""
        return self.layers.layers_of(path)

    @property
    def settings_name_keys(self) -> bool:
        """Whether `.secretsmgr.yaml` names a cluster key (``cluster_key`` or ``clusters:``)."""
        s = self.settings
        return s.cluster_key is not None or any(c.cluster_key for c in s.clusters)

    @property
    def key_notes(self) -> tuple[str, ...]:
        """Which key was taken as the cluster key where a `.sops.yaml` rule names several, and
        how to pin it: for every rule while `.secretsmgr.yaml` names no key, else for the
        rules of files whose key still comes from `.sops.yaml`."""
        rules = [
            r for r in self.rule_keys.values() if (r.config, r.number) not in self.flux_free_rules
        ]
        if not self.cluster_keys:  # none found: say where a rule left it undecided
            clusters = self.layers.clusters
            if clusters and all(c.cluster_key for c in clusters):
                return ()  # clusters: pins every cluster's own key: nothing to choose
            return key_notes(r for r in rules if r.undecided)
        if self.cluster_key_source != SOPS_CONFIG_NAME:
            return ()
        if self.settings_name_keys:
            used = {
                (e.sops_config, e.creation_rule_number)
                for e in self.sops_files
                if any(g.source == SOPS_CONFIG_NAME for g in self.expected_keys(e))
            }
            rules = [r for r in rules if (r.config, r.number) in used]
            # a rule naming exactly keys clusters: pins (a base rule shared by every cluster)
            # leaves nothing to choose: pinning one of them as cluster_key would give every
            # file the other cluster's key (an operator's acceptance run)
            pinned = {c.cluster_key for c in self.settings.clusters if c.cluster_key}
            rules = [r for r in rules if not {*r.cluster_keys, *r.others} <= pinned]
        return key_notes(rules)

    def follows_own_rule(self, entry: SopsEntry) -> bool:
        """Whether ``entry`` is governed by a rule whose files no live layer applies (a docker
        host's, a CI runner's: ``flux_free_rules``) that names an age key: its recipients are
        that rule's, never the cluster key in their place (``rotate`` gives it those)."""
        if any(layer.unresolved for layer in self.layers.layers):
            # a layer whose path is not known here may apply it (the second review: a
            # `./apps/${CLUSTER_NAME}` layer's file lost its allowed key): not sure
            return False
        return self.under_own_rule(entry)

    def under_own_rule(self, entry: SopsEntry) -> bool:
        """``follows_own_rule`` as far as the layers known here tell: also where a layer with
        an unknown path might apply the file (then ``rotate`` keeps both the policy's and the
        rule's keys on it, so nobody who reads it now is locked out)."""
        rule = entry.creation_rule
        if rule is None or self.layers.layers_of(entry.path):
            return False
        rid = (entry.sops_config, entry.creation_rule_number)
        return rid in self.flux_free_rules and bool(all_age_recipients(rule))

    def rule_keys_of(self, entry: SopsEntry) -> RuleKeys | None:
        """The keys the creation rule governing ``entry`` names, or None without a rule."""
        if entry.sops_config is None or entry.creation_rule_number is None:
            return None
        return self.rule_keys.get((entry.sops_config, entry.creation_rule_number))

    def _repo_keys_for(self, entry: SopsEntry) -> tuple[str, ...]:
        if self.cluster_key_source == SOPS_CONFIG_NAME:
            rule = self.rule_keys_of(entry)
            return rule.cluster_keys if rule is not None else ()
        return self.cluster_keys

    def expected_keys(self, entry: SopsEntry) -> tuple[ExpectedKeys, ...]:
        """The cluster keys ``entry`` must be readable by, one group per cluster applying it.

        A cluster's own ``cluster_key`` (``clusters:`` in `.secretsmgr.yaml`) wins unless
        ``--cluster-key``, ``--from-cluster`` or the environment name a key for every file;
        otherwise the contract's chain decides (``cluster_key``, then the file's own `.sops.yaml`
        rule). A file no cluster applies gets one group from the chain.
        """
        overridden = self._overridden
        groups: list[ExpectedKeys] = []
        applying = self.layers.clusters_of(entry.path)
        shared = len(applying) > 1
        for name in applying:
            cluster = self.layers.cluster(name)
            live = self.live_for(name)
            if live is not None and not overridden:
                groups.append(ExpectedKeys(name, live.publics, f"cluster ({live.label})"))
                continue
            if cluster is not None and cluster.cluster_key and not overridden:
                keys: tuple[str, ...] = (cluster.cluster_key,)
                source: str | None = f"{SETTINGS_NAME} clusters.{name}"
            else:
                keys, source = self._repo_keys_for(entry), self.cluster_key_source
                config, number = entry.sops_config, entry.creation_rule_number
                rid = (config, number) if config is not None and number is not None else None
                if (
                    rid is not None
                    and source == SOPS_CONFIG_NAME
                    and (shared or rid in self.shared_rules)
                ):
                    keys = self._own_key_under(name, rid) or keys
            if keys:
                groups.append(ExpectedKeys(name, keys, source))
        if not groups:
            keys = self._repo_keys_for(entry)
            if keys:
                groups.append(ExpectedKeys(None, keys, self.cluster_key_source))
        return tuple(groups)

    def key_of_applied_files(self, cluster: str | None, keys: Sequence[str]) -> str | None:
        """The one age key every SOPS file ``cluster``'s layers apply carries, when none of
        them carries any of ``keys`` (a cluster key taken from `.sops.yaml`): likely the key
        Flux decrypts with, the rule being stale (sweep 20, yabo-san/home-cluster; sweep 22,
        FalkWinkler/home-ops: SM004's "rotate" would have moved the one live file to the
        rule's key, which Flux does not hold). None when the files say nothing that clear: also
        when one SOPS file alone carries that key (one file on a wrong key is SM004's plain
        case, not evidence against the rule)."""
        applied = [
            e.sops_file.metadata.age_recipients
            for e in self.sops_files
            if e.sops_file is not None and cluster in self.layers.clusters_of(e.path)
        ]
        if not applied or any(set(keys) & set(recipients) for recipients in applied):
            return None
        # only an age key can be a cluster key: never an ssh or age plugin recipient (the
        # review: "pin that key" named a YubiKey's, which cluster_key refuses)
        common = {k for k in set(applied[0]).intersection(*applied[1:]) if is_age_recipient(k)}
        if len(common) != 1:
            return None
        (other,) = common
        carriers = sum(
            1
            for e in self.sops_files
            if e.sops_file and other in e.sops_file.metadata.age_recipients
        )
        return other if carriers >= 2 else None

    def _own_key_under(self, cluster: str | None, rid: RuleId) -> tuple[str, ...]:
        """For a file several clusters apply, or under a rule whose files several clusters
        apply: the key ``cluster`` decrypts with, not the one the shared rule's choice fell on
        (sweep 75, angelnu/k8s-gitops: a file of apps/ on prod's key alone passed, and the
        test cluster applies it too). Its keys are those only its own rules name (an operator's
        or CI's key that other clusters' rules name too is none); of them, the ones the shared
        rule names, else the one key alone; () when that leaves a choice (the attack review:
        an operator's or a CI runner's key on a cluster's rule was taken for its key)."""
        distinct = self.own_rule_keys.get(cluster, ())
        rule = self.rule_keys.get(rid)
        named = set(rule.cluster_keys + rule.others) if rule is not None else set()
        fitting = tuple(k for k in distinct if k in named)
        if fitting:
            return fitting
        return distinct if len(distinct) == 1 else ()

    def cluster_keys_for(self, entry: SopsEntry) -> tuple[str, ...]:
        """Every cluster key expected on ``entry`` (all clusters that apply it)."""
        return tuple(dict.fromkeys(k for group in self.expected_keys(entry) for k in group.keys))

    def allowed_for(self, entry: SopsEntry) -> tuple[str, ...]:
        """Recipients ``entry`` may carry besides the cluster key(s): ``allowed_recipients``, and
        in a repository whose `.secretsmgr.yaml` names no cluster key (its key comes from
        `.sops.yaml`), every age recipient of the file's own creation rule (the repository's
        policy: an operator or admin key)."""
        allowed = self.settings.allowed_recipients
        rule = entry.creation_rule
        if (
            self.repo_cluster_key_source == SOPS_CONFIG_NAME
            and not self.settings_name_keys
            and rule is not None
        ):
            allowed += all_age_recipients(rule)
        return tuple(dict.fromkeys(allowed))

    def expected_recipients(self, entry: SopsEntry) -> frozenset[str]:
        """Recipients that raise no SM005: cluster key(s), the next one, allowed recipients.

        During a rotation of one cluster's own key, its next key is expected where its current
        key is (by the policy, or on the file)."""
        keys = set(self.cluster_keys_for(entry)) | set(self.allowed_for(entry))
        carried = set(entry.sops_file.metadata.age_recipients) if entry.sops_file else set()
        for name, old, new in self.rotations:
            if name is None or old in keys or old in carried:
                keys.add(new)
        return frozenset(keys)

    def keys_by_cluster(self) -> tuple[ExpectedKeys, ...]:
        """The cluster key(s) of each cluster: its own, or those of the files it applies.

        One group per cluster of the graph, in graph order (``keys`` empty when nothing names
        one); a repository without clusters gets one group with the repository's keys.
        """
        if not self.layers.clusters:
            return (ExpectedKeys(None, self.cluster_keys, self.cluster_key_source),)
        found: dict[str | None, dict[str, None]] = {c.name: {} for c in self.layers.clusters}
        sources: dict[str | None, str | None] = {}
        for entry in self.sops_files:
            for group in self.expected_keys(entry):
                if group.cluster in found:
                    found[group.cluster].update(dict.fromkeys(group.keys))
                    sources.setdefault(group.cluster, group.source)
        out = []
        for cluster in self.layers.clusters:
            keys = tuple(found[cluster.name])
            source: str | None
            if not keys and cluster.cluster_key and not self._overridden:
                keys, source = (cluster.cluster_key,), f"{SETTINGS_NAME} clusters.{cluster.name}"
            elif not keys and self.cluster_key_source != SOPS_CONFIG_NAME:
                keys, source = self.cluster_keys, self.cluster_key_source
            else:
                source = sources.get(cluster.name, self.cluster_key_source)
            out.append(ExpectedKeys(cluster.name, keys, source if keys else None))
        return tuple(out)

    @property
    def header_keys(self) -> tuple[tuple[str, ...], str | None]:
        """(the cluster keys, where they come from) as the audit's header names them: each
        cluster's own key when `.secretsmgr.yaml` pins them under ``clusters:`` (not the keys a
        `.sops.yaml` rule names), else the repository's cluster key(s)."""
        pinned = [c for c in self.settings.clusters if c.cluster_key]
        if pinned and not self._overridden and self.settings.cluster_key is None:
            keys = tuple(dict.fromkeys(c.cluster_key for c in pinned if c.cluster_key))
            return keys, f"{SETTINGS_NAME} clusters:"
        return self.cluster_keys, self.cluster_key_source

    @property
    def _overridden(self) -> bool:
        """Whether --cluster-key, --from-cluster or the environment name the key for all."""
        return self.cluster_key_source not in (SETTINGS_NAME, SOPS_CONFIG_NAME, None)

    def hits_of(self, detector: str) -> tuple[object, ...]:
        """What the detector registered as ``detector`` found, in file order."""
        return self.hits.get(detector, ())


def scoped_files(root: Path, files: Sequence[str], all_files: Sequence[str]) -> tuple[str, ...]:
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


# --------------------------------------------------------------------------------- building


def _rule_keys(
    configs: SopsConfigs, settings: Settings, entries: Sequence[SopsEntry], layers: LayerGraph
) -> dict[RuleId, RuleKeys]:
    """The cluster key(s) of every creation rule of every `.sops.yaml` in force."""
    recipients, live, clusters = _rule_files(entries, layers)
    return rule_keys(
        (
            (configs.label(config), number, rule)
            for config in configs.all_loaded()
            for number, rule in enumerate(config.rules, start=1)
        ),
        settings.allowed_recipients,
        recipients,
        live or None,
        clusters,
    )


def _own_rule_keys(
    entries: Sequence[SopsEntry],
    unread: Sequence[str],
    configs: SopsConfigs,
    layers: LayerGraph,
    rules: Mapping[RuleId, RuleKeys],
    free: frozenset[RuleId],
) -> tuple[dict[str | None, tuple[str, ...]], frozenset[RuleId]]:
    """Each cluster's key(s) by the `.sops.yaml` rules whose SOPS files that cluster alone
    applies (a ``clusters/test/.sops.yaml`` for test's own files; none for a cluster that
    applies only files others apply too), and the rules whose files several clusters apply.
    The files a run over named ones did not read count by their names (``check``: the staged
    file is judged against the whole repository)."""
    placed: list[tuple[str, RuleId]] = [
        (e.path, (e.sops_config, e.creation_rule_number))
        for e in entries
        if e.sops_config is not None and e.creation_rule_number is not None
    ]
    for path in unread:
        label, _rule, number = configs.rule_for(path)
        if label is not None and number is not None:
            placed.append((path, (label, number)))
    applying: dict[RuleId, set[str | None]] = {}
    for path, rid in placed:
        found = layers.clusters_of(path)
        if found:
            applying.setdefault(rid, set()).update(found)
    own: dict[str | None, dict[str, None]] = {}
    for rid, clusters in applying.items():
        rule = rules.get(rid)
        if len(clusters) == 1 and rule is not None and rid not in free:
            (cluster,) = clusters
            own.setdefault(cluster, {}).update(dict.fromkeys(rule.cluster_keys + rule.others))
    shared = frozenset(rid for rid, clusters in applying.items() if len(clusters) > 1)
    # a key another cluster's own rules name too is an operator's, not this cluster's
    distinct = {
        cluster: tuple(
            k for k in keys if not any(k in other for c, other in own.items() if c != cluster)
        )
        for cluster, keys in own.items()
    }
    return {cluster: keys for cluster, keys in distinct.items() if keys}, shared


def _rule_files(
    entries: Sequence[SopsEntry], layers: LayerGraph
) -> tuple[
    dict[RuleId, list[frozenset[str]]], frozenset[RuleId], dict[RuleId, frozenset[str | None]]
]:
    """The age recipients of the SOPS files of each creation rule (of those a live layer
    applies, when it applies any of the rule's files, else of all of them), the rules with a
    file a live layer applies, and the clusters whose layers apply each rule's files."""
    applied: dict[RuleId, list[frozenset[str]]] = {}
    every: dict[RuleId, list[frozenset[str]]] = {}
    live: set[RuleId] = set()
    clusters: dict[RuleId, set[str | None]] = {}
    for entry in entries:
        if entry.sops_config is None or entry.creation_rule_number is None:
            continue
        rid = (entry.sops_config, entry.creation_rule_number)
        in_layer = bool(layers.layers_of(entry.path))
        if in_layer:
            live.add(rid)
        found = layers.clusters_of(entry.path)
        if found:
            clusters.setdefault(rid, set()).update(found)
        if entry.sops_file is None:
            continue
        keys = frozenset(entry.sops_file.metadata.age_recipients)
        every.setdefault(rid, []).append(keys)
        if in_layer:
            applied.setdefault(rid, []).append(keys)
    recipients = {rid: applied.get(rid, found) for rid, found in every.items()}
    return recipients, frozenset(live), {rid: frozenset(c) for rid, c in clusters.items()}


def _resolve_keys(
    rules: Mapping[RuleId, RuleKeys],
    settings: Settings,
    env: Mapping[str, str],
    cluster_key_cli: str | None,
    live_keys: LiveKeys | None,
) -> tuple[tuple[str, ...], str | None, tuple[str, ...], str | None]:
    # live_keys is the Secret read for every cluster (no per-cluster context)
    """(keys, source) in force, and (keys, source) the repository itself names."""
    candidates = chosen_keys(rules.values())
    repo_resolved = resolve_cluster_key(None, env, settings, candidates)
    repo_keys, repo_source = repo_resolved if repo_resolved is not None else ((), None)
    if cluster_key_cli is not None and cluster_key_cli.strip():
        resolved = resolve_cluster_key(cluster_key_cli, env, settings, candidates)
        keys, source = resolved if resolved is not None else ((), None)
    elif live_keys is not None:
        keys, source = live_keys.publics, f"cluster ({live_keys.label})"
    else:
        keys, source = repo_keys, repo_source
    return keys, source, repo_keys, repo_source


def load_inventory(
    root: Path,
    *,
    files: Sequence[str] | None = None,
    cluster_key_cli: str | None = None,
    env: Mapping[str, str] = EMPTY_ENV,
    live_keys: LiveKeys | Sequence[LiveKeys] | None = None,
    detectors: Mapping[str, Detector] = MappingProxyType({}),
    snapshot: Snapshot | None = None,
    cache: InventoryCache | None = None,
    everywhere: Mapping[str, Callable[[str], bool]] = MappingProxyType({}),
) -> Inventory:
    """Read the repository at ``root`` once.

    ``files`` (repo-relative or absolute paths, as pre-commit passes them) limits which files
    are scanned; layers and `.sops.yaml` rules always come from the whole repository, and so
    do the hits of a detector named in ``everywhere`` in the files its test accepts.
    """
    root = Path(root)
    snap = snapshot if snapshot is not None else WorktreeSnapshot(root)
    all_files = snap.paths
    if files is None:
        scope = all_files
    elif snapshot is not None and set(files) <= set(all_files):
        scope = tuple(sorted(set(files)))  # exact paths of the snapshot (the gate's scope)
    else:
        scope = scoped_files(root, files, all_files)
    settings = settings_of(snap)
    build = partial(find_layers, clusters=settings.clusters, sources=dict(settings.sources))
    layers = cache.layers(snap, build, scope) if cache is not None else build(snap)
    configs = SopsConfigs(snap)

    entries: list[SopsEntry] = []
    links: list[SymlinkedFile] = []
    hits: dict[str, list[object]] = {name: [] for name in detectors}
    readable: list[str] = []
    for rel in scope:
        if rel in snap.links:
            link = _symlinked(snap, rel)
            if link is not None:
                links.append(link)
            continue  # its target, when inside the repository, is judged as itself
        readable.append(rel)
    scan = partial(_scan_one, snap, configs, detectors, cache, _read_as(layers))
    # Files on disk with no cache to consult are read and parsed on every core; a git snapshot
    # reads through one cat-file process, which children cannot share.
    parallel = cache is None and isinstance(snap, WorktreeSnapshot)
    workers = (
        worker_count(len(readable), at_least=SCAN_FORK_MIN, per_worker=SCAN_PER_WORKER)
        if parallel
        else 1
    )
    plain: list[str] = []  # read, and no SOPS metadata now
    for rel, result in zip(readable, ordered_map(scan, readable, workers), strict=True):
        if result is None:
            continue
        entry, found = result
        if entry is not None:
            entries.append(entry)
        if entry is None or not (entry.has_metadata or entry.error is not None):
            plain.append(rel)
        for name, items in found.items():
            hits[name].extend(items)

    if scope is not all_files and everywhere:
        _detect_beyond(snap, set(readable), {n: detectors[n] for n in everywhere}, everywhere, hits)
    rules = _rule_keys(configs, settings, entries, layers)
    # a run over named files still tells a host's rule from the clusters' by every SOPS file
    # of the repository (the review: `rotate FILE` put the cluster key on a host's file that
    # `rotate --all` left alone)
    read = frozenset(scope) if scope is not all_files else None
    others = [p for p in all_files if p not in read and is_named_sops(p)] if read else []
    free = _flux_free(entries, layers, rules, configs=configs, unread=others, files=all_files)
    lives = _lives(live_keys)
    own_keys, shared_rules = _own_rule_keys(entries, others, configs, layers, rules, free)
    every = next((x for x in lives if x.cluster is None), None)
    keys, source, repo_keys, repo_source = _resolve_keys(
        {rid: r for rid, r in rules.items() if rid not in free},
        settings,
        env,
        cluster_key_cli,
        every,
    )
    return Inventory(
        root=root,
        files=scope,
        all_files=all_files,
        sops_files=tuple(entries),
        layers=layers,
        settings=settings,
        sops_configs=configs,
        cluster_keys=keys,
        cluster_key_source=source,
        repo_cluster_keys=repo_keys,
        repo_cluster_key_source=repo_source,
        hits=MappingProxyType({name: tuple(found) for name, found in hits.items()}),
        symlinks=tuple(links),
        rule_keys=MappingProxyType(rules),
        live=lives,
        flux_free_rules=free,
        own_rule_keys=own_keys,
        shared_rules=shared_rules,
        unread_sops_named=tuple(others),
        # a finding's fact: a run that judges nothing (rotate, encrypt, key) makes no git call
        lost_since_head=(
            lost_since_head(snap, plain, {e.path: e.sops_file for e in entries if e.sops_file})
            if detectors
            else ()
        ),
        deleted_listed=deleted_yet_listed(snap, _missing(layers)) if detectors else (),
    )


def _missing(layers: LayerGraph) -> dict[str, str]:
    """Each path a live layer's build names that the checkout lacks, with that layer's label."""
    out: dict[str, str] = {}
    several = len(layers.clusters) > 1  # one cluster: the name `layers` shows (sweep 39)
    for layer in layers.layers:
        if layer.external is None:
            for path in layer.missing:
                out.setdefault(path, layer.label if several else layer.name)
    return out


# what kustomize reads as YAML whatever its name: a resource, a patch file (db.patch)
_READ_AS_YAML = frozenset((UseKind.RESOURCE, UseKind.PATCH, UseKind.LEGACY_PATCH))


def _read_as(layers: LayerGraph) -> dict[str, FileFormat]:
    """The format a layer's build reads a file in where its name says another: a resource or a
    patch file is YAML whatever its name (a secret.yaml.j2, a `kubectl get -o json > x.bak`, a
    .env or .ini resource: the reviews of sweep 12), a secretGenerator's ``envs:`` file is
    ``KEY=value`` lines (app.properties, app.ini; only those: the review of sweep 13 timed
    every shell script read as one), a configMapGenerator's file of no known format is INI.
    YAML wins where both are asked."""
    out: dict[str, FileFormat] = {}
    for layer in layers.layers:
        for path, uses in layer.uses.items():
            kinds = {use.kind for use in uses}
            name = structured_format(path)
            if kinds & _READ_AS_YAML and name not in (FileFormat.YAML, FileFormat.JSON):
                out[path] = FileFormat.YAML
            elif UseKind.SECRET_ENV in kinds and name is not FileFormat.DOTENV:
                out.setdefault(path, FileFormat.DOTENV)
            elif UseKind.CONFIGMAP_SOURCE in kinds and name is None:
                # a configMapGenerator's file of any name (glances.conf, app.properties) goes
                # into a ConfigMap as it is: read as INI, ``key=value`` lines in sections
                # (sweep 23, GwynHannay/homesys: a token in glances.conf was read by nothing)
                out.setdefault(path, FileFormat.INI)
    return out


def _scan_one(
    snap: Snapshot,
    configs: SopsConfigs,
    detectors: Mapping[str, Detector],
    cache: InventoryCache | None,
    read_as: Mapping[str, FileFormat],
    rel: str,
) -> tuple[SopsEntry | None, Mapping[str, tuple[object, ...]]] | None:
    """One file read and parsed: its SOPS entry and its detector hits (None: unreadable).
    A file in ``read_as`` is read by the detectors in that format, as kustomize reads it."""
    try:
        data = snap.read(rel)
    except OSError:
        return None  # deleted, a folder, unreadable: nothing to audit
    scanned = scan_file(rel, data, configs.rule_for)
    if rel in read_as and scanned.sops is None:
        scanned = replace(scanned, format=read_as[rel])
    if not detectors:
        return scanned.sops, {}
    if cache is not None:
        return scanned.sops, cache.file_hits(snap, scanned, partial(detect_all, detectors, scanned))
    return scanned.sops, detect_all(detectors, scanned)


def _detect_beyond(
    snap: Snapshot,
    read: Collection[str],
    detectors: Mapping[str, Detector],
    wanted: Mapping[str, Callable[[str], bool]],
    hits: dict[str, list[object]],
) -> None:
    """The hits of ``detectors`` in the files a run over named files did not read, those their
    test wants only (the .tf files reading a named SOPS file: sweep 24, andrasmaroy/infra);
    read once, never cached (the cache holds every detector's hits of a file)."""
    for rel in snap.paths:
        if rel in read or rel in snap.links:
            continue
        names = [name for name, wants in wanted.items() if wants(rel)]
        if not names:
            continue
        try:
            data = snap.read(rel)
        except OSError:
            continue
        file = ScannedFile(rel, data, structured_format(rel), None)
        for name in names:
            hits[name].extend(detectors[name](file))


def _flux_free(
    entries: Sequence[SopsEntry],
    layers: LayerGraph,
    rules: Mapping[RuleId, RuleKeys] = MappingProxyType({}),
    *,
    configs: SopsConfigs | None = None,
    unread: Sequence[str] = (),
    files: Sequence[str] = (),
) -> frozenset[RuleId]:
    """Creation rules whose SOPS files no live layer applies, in a repository where other
    rules' files are applied: a rule for ``.github/secrets`` or ``docker/truenas`` whose extra
    key is a CI runner's or a host's, not the cluster's. Their keys are no cluster keys (the
    rule still governs its own files). Of ``rules`` (every rule in force), those of a nested
    `.sops.yaml` that govern no SOPS file, in a folder no layer reads, are no cluster's either
    (vaskozl: a docker host's `awry/.sops.yaml` beside a PGP-only cluster). A rule naming the
    very age keys of a rule whose files a layer applies is no host's: its keys are that rule's.
    A rule of any `.sops.yaml` that governs no path of the checkout at all (``files``) is no
    cluster's either (sweep 29, danmharris/homelab: a root rule for ``nixos/*/secrets.yml``,
    a folder the repository no longer has, named a host's key beside the cluster's, and the
    note advised pinning the host's key as the cluster key).
    ``unread``: SOPS-named paths a scoped run did not read, counted by their name and rule."""
    applied: dict[RuleId, bool] = {}
    for entry in entries:
        if entry.sops_config is None or entry.creation_rule_number is None:
            continue
        rid = (entry.sops_config, entry.creation_rule_number)
        applied[rid] = applied.get(rid, False) or bool(layers.layers_of(entry.path))
    for path in unread:  # named like SOPS files, not read
        if configs is None:
            break
        label, rule, number = configs.rule_for(path)
        if label is not None and rule is not None and number is not None:
            rid = (label, number)
            applied[rid] = applied.get(rid, False) or bool(layers.layers_of(path))
    paths = [x.path.strip("./") for x in layers.layers]
    if not paths:
        return frozenset()
    read = {used for x in layers.layers for used in x.uses}

    def apart(rid: RuleId) -> bool:
        # neither inside nor above a layer's folder, and no file of it read by a layer's
        # build (a kustomization that lists ../../kubernetes/apps: the review of sweep 13)
        folder = posixpath.dirname(rid[0])
        return _apart(folder, paths) and not any(p.startswith(folder + "/") for p in read)

    idle = {rid for rid in rules if rid not in applied and apart(rid)}
    if configs is not None and any(applied.values()):
        idle |= _governing_nothing(configs, files, {r for r in rules if r not in applied} - idle)
    if not any(applied.values()):
        # no rule's files applied (the secrets live in another repository): a nested
        # `.sops.yaml` whose folder no layer reads still names no cluster key (nkaz156's
        # secrets-demo/, "a demo key, Flux is not pointed at it")
        return frozenset({rid for rid in applied if apart(rid)} | idle)

    def keys(rid: RuleId) -> frozenset[str]:
        found = rules.get(rid)
        return frozenset((*found.cluster_keys, *found.others)) if found else frozenset()

    # sweep 24, skullcow/cluster: five rules name the same three keys; rule 3's only files are
    # archive/kubernetes/…/*.sops.toml, outside every layer, and it was taken for a host's rule
    # (the note named "rules 1, 2, 4 and 5"): a rule naming exactly the age keys of a rule
    # whose files a layer applies names no host's key
    shared = {keys(rid) for rid, live in applied.items() if live} - {frozenset()}
    unapplied = {rid for rid, live in applied.items() if not live} | idle
    return frozenset(rid for rid in unapplied if keys(rid) not in shared)


def _governing_nothing(
    configs: SopsConfigs, files: Sequence[str], candidates: set[RuleId]
) -> set[RuleId]:
    """The rules of ``candidates`` that govern none of ``files`` (the first rule matching a
    path governs it, as sops picks)."""
    left = set(candidates)
    for path in files:
        if not left:
            break
        if posixpath.basename(path) == SOPS_CONFIG_NAME:
            continue  # `.*\.sops\.ya?ml$` matches sops's own config (sweep 31, bjw-s/home-ops)
        label, rule, number = configs.rule_for(path)
        if rule is not None and number is not None:
            left.discard((label, number))
    return left


def _apart(folder: str, paths: Sequence[str]) -> bool:
    """Whether ``folder`` (not the root) is neither inside nor above any of ``paths``."""
    return bool(folder) and all(
        p and folder != p and not folder.startswith(p + "/") and not p.startswith(folder + "/")
        for p in paths
    )


def _lives(given: LiveKeys | Sequence[LiveKeys] | None) -> tuple[LiveKeys, ...]:
    if given is None:
        return ()
    if isinstance(given, LiveKeys):
        return (given,)
    return tuple(given)


def _symlinked(snap: Snapshot, rel: str) -> SymlinkedFile | None:
    """The link ``rel`` when it is a SOPS file (by name, or its target inside the repository
    carries SOPS metadata); a target outside the repository is never read."""
    target = snap.link_target(rel)
    if is_named_sops(rel):
        return SymlinkedFile(rel, target)
    if target is None:
        return None
    fmt = structured_format(target)
    try:
        data = snap.read(rel)
    except OSError:
        return None
    if fmt is not None and SOPS_HINT[fmt].search(data):
        return SymlinkedFile(rel, target)
    return None
